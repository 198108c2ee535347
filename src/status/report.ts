// Builds the `mcgw status` document from the objects read from the apiserver. Pure: the collector
// (collect.ts) does the reading, format.ts the printing.
import { BFD_SUMMARY_ANNOTATION, parseBfdSummary } from '../agent/bfdsummary.ts';
import { HEARTBEAT_LEASE, NODE_LABEL } from '../api/group.ts';
import type {
  ClusterExport,
  ClusterGateway,
  ClusterImport,
  ClusterInfo,
  ClusterSetMember,
  Condition,
  GatewayPolicy,
  RemoteCluster,
} from '../api/types.ts';
import { getCondition } from '../model/conditions.ts';
import { effectiveSpec } from '../model/policy.ts';
import { STATUS_SCHEMA_VERSION } from './types.ts';
import type {
  ConditionView,
  ExportView,
  FailoverView,
  GatewaySummary,
  GatewayView,
  ImportView,
  LeaderStatusReport,
  MemberStatusReport,
  PolicyView,
  RemoteClusterView,
} from './types.ts';

/** The parts of a Lease the report reads, as JSON from the apiserver. */
export interface LeaseLike {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: { renewTime?: string | Date; holderIdentity?: string };
}

/** The parts of a core/v1 Event the report reads, as JSON from the apiserver. */
export interface EventLike {
  metadata?: { resourceVersion?: string; creationTimestamp?: string | Date };
  involvedObject?: { kind?: string; name?: string };
  reason?: string;
  message?: string;
  eventTime?: string | Date | null;
  firstTimestamp?: string | Date | null;
  lastTimestamp?: string | Date | null;
}

/** Undefined for a section that could not be read; the collector then adds a problem. */
export interface MemberInput {
  server: string;
  now: number;
  members?: readonly ClusterSetMember[];
  policies?: readonly GatewayPolicy[];
  gateways?: readonly ClusterGateway[];
  remotes?: readonly RemoteCluster[];
  /** Gateway Leases in mcgw-system; without them Lease ages are unknown. */
  leases?: readonly LeaseLike[];
  events?: readonly EventLike[];
  problems?: readonly string[];
}

export interface LeaderInput {
  server: string;
  now: number;
  exports?: readonly ClusterExport[];
  imports?: readonly ClusterImport[];
  heartbeats?: readonly LeaseLike[];
  problems?: readonly string[];
}

/** How many failovers the report keeps, newest first. */
export const MAX_FAILOVERS = 10;

export function toMs(v: string | Date | null | undefined): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const t = v instanceof Date ? v.getTime() : Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

function iso(v: string | Date | null | undefined): string | null {
  const t = toMs(v);
  return t === undefined ? null : new Date(t).toISOString();
}

/** Seconds, rounded to 0.1. */
function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function conditionView(c: Condition | undefined): ConditionView | null {
  if (!c) return null;
  return {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message,
    lastTransitionTime: iso(c.lastTransitionTime),
  };
}

function byAge<T extends { metadata: { creationTimestamp?: string | Date; name?: string } }>(
  a: T,
  b: T,
): number {
  return (
    (toMs(a.metadata.creationTimestamp) ?? 0) - (toMs(b.metadata.creationTimestamp) ?? 0) ||
    (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')
  );
}

function summaries(info: ClusterInfo): GatewaySummary[] {
  return (info.gateways ?? []).map((g) => ({
    node: g.node,
    gatewayIP: g.gatewayIP,
    priority: g.priority,
    ready: g.ready,
  }));
}

function leaseByNode(leases: readonly LeaseLike[] | undefined): Map<string, LeaseLike> {
  const out = new Map<string, LeaseLike>();
  for (const l of leases ?? []) {
    const node = l.metadata?.labels?.[NODE_LABEL];
    if (node) out.set(node, l);
  }
  // A Lease made by hand may lack the label; its name still says which Node it belongs to.
  for (const l of leases ?? []) {
    const m = /^gateway-(.+)$/.exec(l.metadata?.name ?? '');
    if (m && !out.has(m[1]!)) out.set(m[1]!, l);
  }
  return out;
}

export function buildMemberReport(input: MemberInput): MemberStatusReport {
  const leases = leaseByNode(input.leases);
  const member = input.members ? [...input.members].sort(byAge)[0] : undefined;
  const policies = input.policies ? [...input.policies].sort(byAge) : [];
  const effective = policies[0];

  let policy: PolicyView | null = null;
  if (effective) {
    const spec = effectiveSpec(effective.spec);
    policy = {
      name: effective.metadata.name ?? '',
      mode: spec.mode,
      desired: effective.status?.desiredInstances ?? spec.desiredInstances,
      ready: effective.status?.readyInstances ?? null,
      leaseDurationMs: spec.leaseDurationMs,
      lastPlacementTime: iso(effective.status?.lastPlacementTime),
      conditions: (effective.status?.conditions ?? []).map((c) => conditionView(c)!),
      ignored: policies.slice(1).map((p) => p.metadata.name ?? ''),
    };
  }

  const gateways: GatewayView[] | null = input.gateways
    ? [...input.gateways]
        .sort((a, b) => b.spec.priority - a.spec.priority || a.spec.nodeName.localeCompare(b.spec.nodeName))
        .map((g) => {
          const ready = getCondition(g.status?.conditions, 'Ready');
          const lease = leases.get(g.spec.nodeName);
          const renew = toMs(lease?.spec?.renewTime);
          const bfd = parseBfdSummary(lease?.metadata?.annotations?.[BFD_SUMMARY_ANNOTATION]);
          return {
            node: g.spec.nodeName,
            zone: g.spec.zone ?? null,
            gatewayIP: g.spec.gatewayIP,
            internalIP: g.spec.internalIP,
            priority: g.spec.priority,
            role: g.status?.role ?? null,
            draining: g.spec.draining === true,
            ready: ready?.status === 'True',
            readyReason: ready?.reason ?? null,
            readyMessage: ready?.message ?? null,
            leaseRenewTime: renew === undefined ? null : new Date(renew).toISOString(),
            leaseAgeSeconds: renew === undefined ? null : seconds(input.now - renew),
            createdAt: iso(g.metadata.creationTimestamp),
            bfd: bfd ?? null,
          };
        })
    : null;

  const remoteClusters: RemoteClusterView[] | null = input.remotes
    ? [...input.remotes]
        .sort((a, b) => a.spec.clusterID.localeCompare(b.spec.clusterID))
        .map((r) => ({
          clusterID: r.spec.clusterID,
          mode: r.spec.mode,
          gateways: summaries(r.spec),
          podCIDRs: [...(r.spec.podCIDRs ?? [])],
          serviceCIDRs: [...(r.spec.serviceCIDRs ?? [])],
          state: r.status?.state ?? null,
          lastSeen: iso(r.status?.lastSeen),
        }))
    : null;

  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    mode: 'member',
    collectedAt: new Date(input.now).toISOString(),
    server: input.server,
    cluster: member
      ? {
          name: member.metadata.name ?? '',
          clusterID: member.spec.clusterID,
          leaderNamespace: member.spec.leader.namespace,
          leaderReachable: conditionView(getCondition(member.status?.conditions, 'LeaderReachable')),
          exported: conditionView(getCondition(member.status?.conditions, 'Exported')),
          importedClusters: member.status?.importedClusters ?? null,
          lastExportTime: iso(member.status?.lastExportTime),
          podCIDRs: [...(member.spec.podCIDRs ?? [])],
          serviceCIDRs: [...(member.spec.serviceCIDRs ?? [])],
        }
      : null,
    policy,
    gateways,
    remoteClusters,
    failovers: input.events ? failovers(input.events, input.leases ?? []) : null,
    problems: [...(input.problems ?? [])],
  };
}

interface PlacementEvent {
  kind: 'Placed' | 'Removed';
  reason: string;
  node: string;
  t: number;
  rv: number;
  message: string;
}

const NODE_IN_MESSAGE = /on node ([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)/;
const FAILURES = new Set(['RemovedLeaseExpired', 'RemovedNodeNotReady']);
/** Removals that do not call for a replacement. */
const NO_REPLACEMENT = new Set(['RemovedScaledDown', 'RemovedNoPolicy']);

/**
 * Pairs each failure removal with the placement made for it. The controller places before it
 * removes (make before break), so a replacement made in the same pass is the Placed Event written
 * just before the pass's removals; otherwise it is the first later Placed Event not yet paired.
 * Event times have 1 s resolution, so Events are ordered by resourceVersion, which is their
 * creation order.
 */
export function failovers(
  events: readonly EventLike[],
  leases: readonly LeaseLike[],
  limit = MAX_FAILOVERS,
): FailoverView[] {
  const evs: PlacementEvent[] = [];
  for (const e of events) {
    if (e.involvedObject?.kind !== 'GatewayPolicy' || !e.reason) continue;
    const placed = e.reason === 'Placed';
    if (!placed && !e.reason.startsWith('Removed')) continue;
    const node = NODE_IN_MESSAGE.exec(e.message ?? '')?.[1];
    const t = toMs(e.eventTime) ?? toMs(e.firstTimestamp) ?? toMs(e.metadata?.creationTimestamp);
    if (!node || t === undefined) continue;
    const rv = Number(e.metadata?.resourceVersion);
    evs.push({
      kind: placed ? 'Placed' : 'Removed',
      reason: e.reason,
      node,
      t,
      rv: Number.isFinite(rv) ? rv : Number.MAX_SAFE_INTEGER,
      message: e.message ?? '',
    });
  }
  evs.sort((a, b) => a.rv - b.rv || a.t - b.t);

  const leaseOf = leaseByNode(leases);
  const claimed = new Set<number>();
  const out: FailoverView[] = [];
  for (let i = 0; i < evs.length; i++) {
    const r = evs[i]!;
    if (r.kind !== 'Removed' || NO_REPLACEMENT.has(r.reason)) continue;
    // The pass's removals are contiguous; the Placed Events right before them are the pass's creates.
    let j = i - 1;
    while (j >= 0 && evs[j]!.kind === 'Removed' && r.t - evs[j]!.t <= 1000) j--;
    const sameRun: number[] = [];
    while (j >= 0 && evs[j]!.kind === 'Placed' && r.t - evs[j]!.t <= 1000) sameRun.unshift(j--);
    let pick = sameRun.find((k) => !claimed.has(k));
    if (pick === undefined)
      for (let k = i + 1; k < evs.length; k++)
        if (evs[k]!.kind === 'Placed' && !claimed.has(k)) {
          pick = k;
          break;
        }
    if (pick !== undefined) claimed.add(pick);
    if (!FAILURES.has(r.reason)) continue;
    const p = pick === undefined ? undefined : evs[pick]!;
    const renew = toMs(leaseOf.get(r.node)?.spec?.renewTime);
    // A renewal after the removal (plus the Event's 1 s rounding) is a later life of the Node.
    const lastRenew = renew !== undefined && renew <= r.t + 1000 ? renew : undefined;
    out.push({
      node: r.node,
      reason: r.reason === 'RemovedLeaseExpired' ? 'LeaseExpired' : 'NodeNotReady',
      removedAt: new Date(r.t).toISOString(),
      message: r.message,
      leaseLastRenewed: lastRenew === undefined ? null : new Date(lastRenew).toISOString(),
      // The Event's time is rounded down to the second: take the middle of that second.
      leaseSilentSeconds: lastRenew === undefined ? null : seconds(Math.max(0, r.t + 500 - lastRenew)),
      replacement: p?.node ?? null,
      placedAt: p ? new Date(p.t).toISOString() : null,
      replacementDelaySeconds: p ? seconds(Math.max(0, p.t - r.t)) : null,
    });
  }
  return out.reverse().slice(0, limit);
}

export function buildLeaderReport(input: LeaderInput): LeaderStatusReport {
  const heartbeat = new Map<string, LeaseLike>();
  for (const l of input.heartbeats ?? [])
    if (l.metadata?.name === HEARTBEAT_LEASE && l.metadata.namespace) heartbeat.set(l.metadata.namespace, l);
  const exports: ExportView[] | null = input.exports
    ? [...input.exports]
        .sort(
          (a, b) =>
            a.spec.clusterID.localeCompare(b.spec.clusterID) ||
            (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? ''),
        )
        .map((e) => {
          const ns = e.metadata.namespace ?? '';
          const renew = toMs(heartbeat.get(ns)?.spec?.renewTime);
          return {
            namespace: ns,
            clusterID: e.spec.clusterID,
            mode: e.spec.mode,
            gateways: summaries(e.spec),
            podCIDRs: [...(e.spec.podCIDRs ?? [])],
            serviceCIDRs: [...(e.spec.serviceCIDRs ?? [])],
            accepted: conditionView(getCondition(e.status?.conditions, 'Accepted')),
            heartbeatRenewTime: renew === undefined ? null : new Date(renew).toISOString(),
            heartbeatAgeSeconds: renew === undefined ? null : seconds(input.now - renew),
          };
        })
    : null;
  const imports: ImportView[] | null = input.imports
    ? [...input.imports]
        .sort((a, b) => a.spec.clusterID.localeCompare(b.spec.clusterID))
        .map((i) => ({
          clusterID: i.spec.clusterID,
          sourceNamespace: i.metadata.labels?.['mcgw.io/source-namespace'] ?? null,
          mode: i.spec.mode,
          gateways: summaries(i.spec),
          podCIDRs: [...(i.spec.podCIDRs ?? [])],
          serviceCIDRs: [...(i.spec.serviceCIDRs ?? [])],
          state: i.status?.state ?? null,
          lastSeen: iso(i.status?.lastSeen),
        }))
    : null;
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    mode: 'leader',
    collectedAt: new Date(input.now).toISOString(),
    server: input.server,
    exports,
    imports,
    problems: [...(input.problems ?? [])],
  };
}
