// Metrics of the member side of the ClusterSet exchange (src/exchange/member.ts).
import type { Registry } from 'prom-client';
import { defineMetrics } from './registry.ts';

export const exchangeMetricSet = defineMetrics('exchange', {
  exportWrites: {
    type: 'counter',
    name: 'mcgw_exchange_export_writes_total',
    help: "Writes of this cluster's ClusterExport to the leader cluster (only when the export changed).",
  },
  exportLatency: {
    type: 'histogram',
    name: 'mcgw_exchange_export_latency_seconds',
    help: 'From a change seen in this cluster (ClusterGateway, GatewayPolicy, ClusterSetMember) to the export written to the leader, including retries while the leader is unreachable.',
  },
  errors: {
    type: 'counter',
    name: 'mcgw_exchange_errors_total',
    help: 'Exchange steps that failed and were retried, by step (export, import, status).',
    labels: ['step'],
  },
  leaderReachable: {
    type: 'gauge',
    name: 'mcgw_exchange_leader_reachable',
    help: "1 if the leader cluster answers, 0 if not (the ClusterSetMember's LeaderReachable condition). Reported by the elected replica only, once a ClusterSetMember exists.",
    labels: ['cluster'],
  },
  remoteClusters: {
    type: 'gauge',
    name: 'mcgw_exchange_remote_clusters',
    help: 'RemoteClusters mirrored into this cluster (the other members). Reported by the elected replica only.',
    labels: ['cluster'],
  },
});

export class ExchangeMetrics {
  readonly m: ReturnType<typeof exchangeMetricSet>;
  /** This member's cluster ID, once a ClusterSetMember names it; other components label with it. */
  clusterID: string | undefined;

  constructor(reg: Registry) {
    this.m = exchangeMetricSet(reg);
    for (const step of ['export', 'import', 'status']) this.m.errors.inc({ step }, 0);
  }

  /** An export was written; `changeSeenAt` (performance.now()) is when the change was first seen. */
  exported(changeSeenAt: number | undefined): void {
    this.m.exportWrites.inc();
    if (changeSeenAt !== undefined) this.m.exportLatency.observe((performance.now() - changeSeenAt) / 1000);
  }

  failed(step: string): void {
    this.m.errors.inc({ step });
  }

  /** The state written to the ClusterSetMember status. */
  status(clusterID: string, leaderReachable: boolean, remoteClusters: number): void {
    if (this.clusterID !== clusterID) {
      this.m.leaderReachable.reset();
      this.m.remoteClusters.reset();
    }
    this.clusterID = clusterID;
    this.m.leaderReachable.set({ cluster: clusterID }, leaderReachable ? 1 : 0);
    this.m.remoteClusters.set({ cluster: clusterID }, remoteClusters);
  }

  /** This replica stopped leading: it no longer knows the exchange state. */
  standby(): void {
    this.m.leaderReachable.reset();
    this.m.remoteClusters.reset();
  }
}
