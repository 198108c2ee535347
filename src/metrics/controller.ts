// Metrics of the member-cluster controller (src/controller/controller.ts). The controller calls the
// ControllerMetrics methods at the points where it already counts; the arithmetic lives here.
import type { Registry } from 'prom-client';
import type {
  ClusterGateway,
  ClusterGatewayStatus,
  GatewayPolicy,
  GatewayPolicyStatus,
} from '../api/types.ts';
import { getCondition } from '../model/conditions.ts';
import { defineMetrics } from './registry.ts';

/**
 * What these metrics read of one reconcile's decision. The controller's Plan (src/controller/plan.ts)
 * has this shape; it is spelled out here so that the metrics depend on the API, not on the controller.
 */
export interface PlanOutcome {
  policy?: string;
  create: readonly ClusterGateway[];
  remove: readonly { name: string; reason: string }[];
  gatewayStatus: readonly { name: string; status: ClusterGatewayStatus }[];
  policyStatus: readonly { name: string; status: GatewayPolicyStatus }[];
  events: readonly { reason: string }[];
}

export const controllerMetricSet = defineMetrics('controller', {
  reconcileDuration: {
    type: 'histogram',
    name: 'mcgw_controller_reconcile_duration_seconds',
    help: 'Time of one completed reconcile pass (plan and writes) of the elected controller.',
  },
  reconcileErrors: {
    type: 'counter',
    name: 'mcgw_controller_reconcile_errors_total',
    help: 'Reconcile passes that failed (an API write was refused or the apiserver did not answer) and were retried with backoff.',
  },
  writes: {
    type: 'counter',
    name: 'mcgw_controller_writes_total',
    help: 'Writes to the apiserver, by resource and verb. Zero rate in a steady cluster.',
    labels: ['resource', 'verb'],
  },
  gateways: {
    type: 'gauge',
    name: 'mcgw_controller_gateways',
    help: 'Gateway instances of the cluster: desired (policy), placed, ready (Lease fresh) and active (role Active). Reported by the elected replica only.',
    labels: ['cluster', 'state'],
  },
  placements: {
    type: 'counter',
    name: 'mcgw_controller_placements_total',
    help: 'Gateway instances placed. reason=Replacement: placed in a pass that removed another instance or started a drain; Fill: placed to reach the desired count.',
    labels: ['reason'],
  },
  removals: {
    type: 'counter',
    name: 'mcgw_controller_removals_total',
    help: 'Gateway instances removed, by reason (LeaseExpired, NodeNotReady, NodeGone, NotCandidate, Unschedulable, Draining, AddressUnusable, ScaledDown, NoPolicy).',
    labels: ['reason'],
  },
  failovers: {
    type: 'counter',
    name: 'mcgw_controller_failovers_total',
    help: 'Active Gateway instances that failed (reason LeaseExpired or NodeNotReady) and were removed, so traffic moved to another instance.',
    labels: ['reason'],
  },
  isLeader: {
    type: 'gauge',
    name: 'mcgw_controller_is_leader',
    help: '1 while this replica holds the controller election Lease and writes, 0 otherwise.',
  },
  bfdReports: {
    type: 'counter',
    name: 'mcgw_controller_bfd_reports_total',
    help: 'BFD Down reports from agents seen, by result: suspected (about a current Gateway whose Lease was not renewed since; judged by the shorter rule), ignored (about a Gateway gone or renewed since).',
    labels: ['result'],
  },
  bfdReportsCleared: {
    type: 'counter',
    name: 'mcgw_controller_bfd_reports_cleared_total',
    help: "BFD Down reports lifted by a Lease renewal later than the report: the Gateway was alive, the reporting Node's own path had failed.",
  },
  bfdEarlyFailures: {
    type: 'counter',
    name: 'mcgw_controller_bfd_early_failures_total',
    help: 'Gateway instances removed as LeaseExpired before the Lease duration, because a BFD Down report came with a Lease silent for 2 renew intervals.',
  },
});

export type GatewayState = 'desired' | 'placed' | 'ready' | 'active';

/** Reasons a removal means the instance failed, as opposed to being moved or scaled away. */
export const FAILURE_REASONS: ReadonlySet<string> = new Set(['LeaseExpired', 'NodeNotReady']);
/** Every removal reason the planner gives (src/controller/plan.ts). */
export const REMOVAL_REASONS: readonly string[] = [
  'LeaseExpired',
  'NodeNotReady',
  'NodeGone',
  'NotCandidate',
  'Unschedulable',
  'Draining',
  'AddressUnusable',
  'ScaledDown',
  'NoPolicy',
];

/** What the cluster looks like once `p` is carried out, from the caches `p` was planned from. */
export function gatewayCounts(
  p: PlanOutcome,
  gateways: readonly ClusterGateway[],
  policies: readonly GatewayPolicy[],
): Record<GatewayState, number> {
  const cached = new Map(gateways.map((g) => [g.metadata.name ?? g.spec.nodeName, g]));
  const statusOf = new Map(p.gatewayStatus.map((s) => [s.name, s.status]));
  const names = new Set([...cached.keys(), ...p.create.map((g) => g.metadata.name ?? g.spec.nodeName)]);
  for (const r of p.remove) names.delete(r.name);
  let ready = 0;
  let active = 0;
  for (const n of names) {
    const st = statusOf.get(n) ?? cached.get(n)?.status;
    if (getCondition(st?.conditions, 'Ready')?.status === 'True') ready++;
    if (st?.role === 'Active') active++;
  }
  const policy = p.policy;
  const desired =
    policy === undefined
      ? 0
      : (p.policyStatus.find((s) => s.name === policy)?.status.desiredInstances ??
        policies.find((x) => x.metadata.name === policy)?.status?.desiredInstances ??
        0);
  return { desired, placed: names.size, ready, active };
}

/**
 * Replacement when the same pass removes an instance for any reason but scaling, or starts a drain
 * (the drained instance goes later, once replaced); otherwise Fill.
 */
export function placementReason(p: PlanOutcome): 'Replacement' | 'Fill' {
  return p.remove.some((r) => r.reason !== 'ScaledDown' && r.reason !== 'NoPolicy') ||
    p.events.some((e) => e.reason === 'DrainStarted')
    ? 'Replacement'
    : 'Fill';
}

export class ControllerMetrics {
  readonly m: ReturnType<typeof controllerMetricSet>;

  /** `cluster` names the cluster in the gateways gauge (its ClusterSet ID once known). */
  constructor(
    reg: Registry,
    private readonly cluster: () => string = () => '',
  ) {
    this.m = controllerMetricSet(reg);
    this.m.isLeader.set(0);
    // Known label values start at 0, so rate() and increase() see the first event.
    for (const reason of ['Replacement', 'Fill']) this.m.placements.inc({ reason }, 0);
    for (const reason of REMOVAL_REASONS) this.m.removals.inc({ reason }, 0);
    for (const reason of FAILURE_REASONS) this.m.failovers.inc({ reason }, 0);
    for (const verb of ['create', 'update', 'delete', 'status'] as const)
      this.m.writes.inc({ resource: 'clustergateways', verb }, 0);
    this.m.writes.inc({ resource: 'gatewaypolicies', verb: 'status' }, 0);
    this.m.writes.inc({ resource: 'events', verb: 'create' }, 0);
    for (const result of ['suspected', 'ignored']) this.m.bfdReports.inc({ result }, 0);
    this.m.bfdReportsCleared.inc(0);
    this.m.bfdEarlyFailures.inc(0);
  }

  leading(on: boolean): void {
    this.m.isLeader.set(on ? 1 : 0);
    // Only the elected replica knows the current state; a standby reports none rather than stale.
    if (!on) this.m.gateways.reset();
  }

  reconciled(
    seconds: number,
    p: PlanOutcome,
    gateways: readonly ClusterGateway[],
    policies: readonly GatewayPolicy[],
  ): void {
    this.m.reconcileDuration.observe(seconds);
    const counts = gatewayCounts(p, gateways, policies);
    const cluster = this.cluster();
    this.m.gateways.reset();
    for (const [state, n] of Object.entries(counts)) this.m.gateways.set({ cluster, state }, n);
  }

  reconcileFailed(): void {
    this.m.reconcileErrors.inc();
  }

  wrote(resource: string, verb: 'create' | 'update' | 'delete' | 'status'): void {
    this.m.writes.inc({ resource, verb });
  }

  placed(p: PlanOutcome): void {
    this.m.placements.inc({ reason: placementReason(p) });
  }

  bfdReport(result: 'suspected' | 'ignored'): void {
    this.m.bfdReports.inc({ result });
  }

  bfdReportCleared(): void {
    this.m.bfdReportsCleared.inc();
  }

  bfdEarlyFailure(): void {
    this.m.bfdEarlyFailures.inc();
  }

  /** An instance was deleted; `before` is its cached object, whose role tells whether it was Active. */
  removed(reason: string, before: ClusterGateway | undefined): void {
    this.m.removals.inc({ reason });
    if (FAILURE_REASONS.has(reason) && before?.status?.role === 'Active') this.m.failovers.inc({ reason });
  }
}
