// Draining a Gateway Node, make before break: the planner's pure helpers for it.
//
// A healthy instance on a Node labelled mcgw.io/draining=true (or cordoned) is not removed in the
// pass that notices. The scheduler keeps it apart (ScheduleResult.draining) and places a
// replacement; the planner marks it `spec.draining`, which agents here (by watch) and in the other
// clusters (through the exchange) read: they then prefer every living instance that is not
// draining, so traffic moves off it while it still forwards. It is removed only once:
//   1. `desired` instances on other Nodes are Ready (Lease fresh): the drain is covered;
//   2. that has lasted drainSettleSeconds, recorded as the lastTransitionTime of its
//      ReplacementReady=True condition, so a new controller leader resumes the same clock;
//   3. in a ClusterSet, the leader holds this cluster's current export, and the settle time counts
//      from when it was written if that is later: with the leader unreachable the remote clusters
//      cannot learn where to go, so the instance stays rather than break their traffic.
// With no replacement possible it stays (ReplacementReady=False/NoReplacement, policy Degraded).
import type { ClusterGateway, Condition } from '../api/types.ts';
import type { DrainReason } from '../scheduler/types.ts';
import { getCondition } from '../model/conditions.ts';
import type { ConditionInput } from '../model/conditions.ts';

export const REPLACEMENT_READY = 'ReplacementReady';

/** While a drain waits for the exchange, the planner looks again this often. */
export const EXPORT_POLL_MS = 1000;

/** What the planner knows of the ClusterSet exchange (absent: this cluster is in no ClusterSet). */
export interface ExchangeView {
  /** Whether the ClusterSet leader holds this cluster's current export, as far as the exchange knows. */
  current: boolean;
  /** When the export was last written to the leader (ms, this process's clock). */
  exportedAt?: number;
}

export interface DrainClock {
  /** When the drain was first seen covered (the recorded condition's lastTransitionTime). */
  coveredSince: number;
  /** When it may be removed; absent while it waits for an export to reach the ClusterSet leader. */
  removeAt?: number;
}

/** The clock of every draining instance whose drain was recorded as covered, by Node. */
export function drainClocks(
  gateways: readonly ClusterGateway[],
  settleMs: number,
  exchange: ExchangeView | undefined,
): Map<string, DrainClock> {
  const out = new Map<string, DrainClock>();
  for (const g of gateways) {
    if (g.spec.draining !== true) continue;
    const c = getCondition(g.status?.conditions, REPLACEMENT_READY);
    const since = c?.status === 'True' ? Date.parse(c.lastTransitionTime) : NaN;
    if (!Number.isFinite(since)) continue;
    if (exchange && !exchange.current) out.set(g.spec.nodeName, { coveredSince: since });
    else {
      const from = Math.max(since, exchange?.exportedAt ?? since);
      out.set(g.spec.nodeName, { coveredSince: since, removeAt: from + settleMs });
    }
  }
  return out;
}

const how = (reason: DrainReason): string =>
  reason === 'Draining' ? 'its Node is labelled mcgw.io/draining=true' : 'its Node is cordoned';

export interface DrainView {
  reason: DrainReason;
  /** The instances that will stay, by Node, and which of them are Ready. */
  staying: readonly { node: string; ready: boolean }[];
  desired: number;
  covered: boolean;
  settleSeconds: number;
  /** Covered, but the ClusterSet leader does not have this cluster's current export yet. */
  awaitingExport: boolean;
}

/** The ReplacementReady condition of a draining instance: how far its drain has got. */
export function replacementCondition(v: DrainView): ConditionInput {
  const ready = v.staying.filter((s) => s.ready).map((s) => s.node);
  if (v.covered) {
    // No timestamp in the message: it would change, and be rewritten, when an export lands.
    const when = v.awaitingExport
      ? `it is removed ${v.settleSeconds} s after the ClusterSet leader has this cluster's current export (waiting for it), so remote clusters move off it first`
      : `it is removed after ${v.settleSeconds} s (drainSettleSeconds), once every agent has moved off it`;
    return {
      type: REPLACEMENT_READY,
      status: 'True',
      reason: 'ReplacementReady',
      message: `${ready.length} instance${ready.length === 1 ? '' : 's'} on other Nodes ${ready.length === 1 ? 'is' : 'are'} Ready (${ready.join(', ')}); ${how(v.reason)}; ${when}`,
    };
  }
  if (v.staying.length < v.desired) {
    return {
      type: REPLACEMENT_READY,
      status: 'False',
      reason: 'NoReplacement',
      message: `${how(v.reason)}, but no replacement can be placed (the GatewayPolicy's Degraded condition says why); the instance is kept and keeps forwarding until one can, or until the drain is cancelled`,
    };
  }
  const waiting = v.staying.filter((s) => !s.ready).map((s) => s.node);
  return {
    type: REPLACEMENT_READY,
    status: 'False',
    reason: 'AwaitingReplacement',
    message: `${how(v.reason)}; waiting for ${waiting.join(', ')} to renew ${waiting.length === 1 ? 'its' : 'their'} gateway Lease (${ready.length} of ${v.desired} Ready); the instance keeps forwarding meanwhile`,
  };
}

/** The message of the Event recorded when a drain starts. */
export function drainStartedMessage(node: string, v: DrainView, placed: readonly string[]): string {
  const next =
    v.staying.length < v.desired
      ? 'no other candidate can take over, so it is kept until one can'
      : placed.length > 0
        ? `replacement placed on ${placed.join(', ')}`
        : 'the other instances take over';
  return `Draining Gateway instance on node ${node} (${how(v.reason)}): ${next}; it keeps forwarding until ${v.desired} instance${v.desired === 1 ? '' : 's'} on other Nodes ${v.desired === 1 ? 'has' : 'have'} been Ready for ${v.settleSeconds} s`;
}

/** Conditions without the drain's own, for an instance that is no longer draining. */
export function withoutDrainCondition(conds: readonly Condition[] | undefined): Condition[] | undefined {
  if (!conds?.some((c) => c.type === REPLACEMENT_READY)) return conds ? [...conds] : undefined;
  return conds.filter((c) => c.type !== REPLACEMENT_READY);
}
