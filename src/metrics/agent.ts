// Metrics of the per-Node agent (src/agent): BFD sessions and what their changes cost the kernel.
import type { Registry } from 'prom-client';
import { BFD_STATE_NAMES, BfdDiag } from '../bfd/constants.ts';
import type { BfdState } from '../bfd/constants.ts';
import { defineMetrics } from './registry.ts';

/** Milliseconds matter here: a failover's kernel work is meant to take a few of them. */
const FAST_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1] as const;

export const agentMetricSet = defineMetrics('agent', {
  sessions: {
    type: 'gauge',
    name: 'mcgw_agent_bfd_sessions',
    help: 'BFD sessions of this agent by state (AdminDown, Down, Init, Up).',
    labels: ['state'],
  },
  transitions: {
    type: 'counter',
    name: 'mcgw_agent_bfd_transitions_total',
    help: 'BFD session state changes, by new state and diagnostic (e.g. Down with "Control Detection Time Expired").',
    labels: ['state', 'diag'],
  },
  detectionLateness: {
    type: 'histogram',
    name: 'mcgw_agent_bfd_detection_lateness_seconds',
    help: 'How long after the Detection Time expired the agent noticed a BFD timeout (timer and event-loop lateness).',
    buckets: FAST_BUCKETS,
  },
  failovers: {
    type: 'counter',
    name: 'mcgw_agent_failovers_total',
    help: 'Peers (remote or local Gateways) this agent stopped using because BFD declared them down.',
  },
  routeProgramming: {
    type: 'histogram',
    name: 'mcgw_agent_route_programming_seconds',
    help: 'From a BFD decision to the changed routes being in the kernel.',
    buckets: FAST_BUCKETS,
  },
  kernelChanges: {
    type: 'counter',
    name: 'mcgw_agent_kernel_changes_total',
    help: 'Kernel objects (links, addresses, FDB entries, neighbours, routes) added, changed or removed, by the reason of the pass.',
    labels: ['reason'],
  },
  dropped: {
    type: 'gauge',
    name: 'mcgw_agent_bfd_dropped_packets',
    help: 'BFD packets dropped since the agent started, by reason (malformed, failed authentication, unknown session, wrong TTL...).',
    labels: ['reason'],
  },
  skipped: {
    type: 'gauge',
    name: 'mcgw_agent_skipped_inputs',
    help: 'Inputs the datapath planner left out (unusable address, overlapping CIDR...); the agent logs each with its reason.',
  },
  bfdDownReports: {
    type: 'counter',
    name: 'mcgw_agent_bfd_down_reports_total',
    help: 'Local Gateways seen going Down by BFD and reported to the controller, by result (sent; duplicate: another Node reported that failure first; skipped: no-gateway, no-lease, busy, backoff; error).',
    labels: ['result'],
  },
});

/** What became of one BFD Down report (src/agent/reporter.ts). */
export type ReportResult = 'sent' | 'duplicate' | 'no-gateway' | 'no-lease' | 'busy' | 'backoff' | 'error';
export const REPORT_RESULTS: readonly ReportResult[] = [
  'sent',
  'duplicate',
  'no-gateway',
  'no-lease',
  'busy',
  'backoff',
  'error',
];

export class AgentMetrics {
  readonly m: ReturnType<typeof agentMetricSet>;

  constructor(reg: Registry) {
    this.m = agentMetricSet(reg);
    this.m.failovers.inc(0);
    for (const result of REPORT_RESULTS) this.m.bfdDownReports.inc({ result }, 0);
  }

  reported(result: ReportResult): void {
    this.m.bfdDownReports.inc({ result });
  }

  transition(state: BfdState, diag: number, lateMs: number | undefined): void {
    this.m.transitions.inc({ state: BFD_STATE_NAMES[state], diag: diagLabel(diag) });
    if (lateMs !== undefined && diag === BfdDiag.ControlDetectionTimeExpired)
      this.m.detectionLateness.observe(Math.max(0, lateMs) / 1000);
  }

  sessions(byState: Record<string, number>): void {
    for (const name of Object.values(BFD_STATE_NAMES))
      this.m.sessions.set({ state: name }, byState[name] ?? 0);
  }
}

function diagLabel(diag: number): string {
  const names: Record<number, string> = Object.fromEntries(Object.entries(BfdDiag).map(([k, v]) => [v, k]));
  return names[diag] ?? String(diag);
}
