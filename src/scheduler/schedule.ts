// The scheduler: a pure, deterministic function from the cluster's state to the wanted set of
// Gateway instances. No I/O and no clock of its own, so a controller can call it on every
// reconcile and tests can replay any situation exactly.

import { GATEWAY_SLOTS } from '../datapath/inner.ts';
import { unusableReason } from '../util/ip.ts';
import { FIRST_PRIORITY, MAX_INSTANCES, MAX_PRIORITY, MIN_PRIORITY } from './types.ts';
import type {
  Candidate,
  DrainingInstance,
  DrainReason,
  Instance,
  Removal,
  RemovalReason,
  ScheduleInput,
  ScheduleResult,
  Skip,
  SkipReason,
} from './types.ts';

/** At most this many nodes are named in a degraded message, to keep status conditions short. */
const MAX_DEGRADED_NOTES = 5;

interface Blocker {
  reason: Exclude<SkipReason, 'HeldDown'>;
  detail: string;
}

const REMOVAL_FOR: Record<Exclude<SkipReason, 'HeldDown'>, RemovalReason> = {
  FailedNow: 'LeaseExpired',
  NotReady: 'NodeNotReady',
  Unschedulable: 'Unschedulable',
  Draining: 'Draining',
  NoGatewayIP: 'AddressUnusable',
  NoInternalIP: 'AddressUnusable',
  AddressUnusable: 'AddressUnusable',
};

function zoneOf(c: Candidate): string {
  return c.zone ?? '';
}

function byName(a: { node: string }, b: { node: string }): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

function byPriorityThenName(a: Instance, b: Instance): number {
  return b.priority - a.priority || byName(a, b);
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString();
}

/**
 * What keeps a candidate from hosting an instance, hold-down aside. failedNow is checked first:
 * it is the fastest signal (a Lease expires before the Node's Ready condition flips), so it names
 * the actual cause.
 */
function blockerOf(c: Candidate, failedNow: ReadonlySet<string>): Blocker | undefined {
  if (failedNow.has(c.name)) {
    return {
      reason: 'FailedNow',
      detail: 'the Gateway instance on this Node failed just now (e.g. its Lease expired)',
    };
  }
  if (!c.ready) return { reason: 'NotReady', detail: 'Node is not Ready' };
  if (!c.schedulable) return { reason: 'Unschedulable', detail: 'Node is unschedulable (cordoned)' };
  if (c.draining) return { reason: 'Draining', detail: 'Node is being drained' };
  if (!c.gatewayIP) return { reason: 'NoGatewayIP', detail: 'Node has no gateway IP' };
  if (!c.internalIP) return { reason: 'NoInternalIP', detail: 'Node has no internal IP' };
  for (const [what, ip] of [
    ['gateway IP', c.gatewayIP],
    ['internal IP', c.internalIP],
  ] as const) {
    const why = unusableReason(ip);
    if (why)
      return { reason: 'AddressUnusable', detail: `${what} ${JSON.stringify(ip)} is unusable: ${why}` };
  }
  return undefined;
}

/**
 * What a current instance's Node says about it: a blocker other than a drain removes it at once (a
 * failed, NotReady or unaddressable instance has no traffic worth keeping); a drain (labelled
 * draining, or cordoned: `kubectl drain` cordons first) keeps it until replaced; else it stays.
 */
function currentState(
  c: Candidate,
  failedNow: ReadonlySet<string>,
): { removal: RemovalReason } | { drain: DrainReason } | undefined {
  const hard = blockerOf({ ...c, draining: false, schedulable: true }, failedNow);
  if (hard) return { removal: REMOVAL_FOR[hard.reason] };
  if (c.draining) return { drain: 'Draining' };
  if (!c.schedulable) return { drain: 'Unschedulable' };
  return undefined;
}

function validate(input: ScheduleInput): void {
  const { desired, holdDownMs } = input.policy;
  if (!Number.isInteger(desired) || desired < 0) {
    throw new TypeError(`policy.desired must be a non-negative integer, got ${String(desired)}`);
  }
  if (!Number.isFinite(holdDownMs) || holdDownMs < 0) {
    throw new TypeError(`policy.holdDownMs must be a non-negative finite number, got ${String(holdDownMs)}`);
  }
  if (!Number.isFinite(input.now))
    throw new TypeError(`now must be a finite number, got ${String(input.now)}`);
  const seen = new Set<string>();
  for (const c of input.candidates) {
    if (seen.has(c.name)) throw new TypeError(`duplicate candidate ${JSON.stringify(c.name)}`);
    seen.add(c.name);
  }
  seen.clear();
  for (const i of input.current) {
    // Duplicates would make `removed` ambiguous: the controller removes instances by node.
    if (seen.has(i.node)) throw new TypeError(`duplicate current instance on node ${JSON.stringify(i.node)}`);
    seen.add(i.node);
    if (!Number.isInteger(i.priority) || i.priority < MIN_PRIORITY || i.priority > MAX_PRIORITY) {
      throw new TypeError(
        `current instance on node ${JSON.stringify(i.node)} has priority ${String(i.priority)}, outside ${MIN_PRIORITY}..${MAX_PRIORITY}`,
      );
    }
  }
}

function countZones(
  instances: readonly Instance[],
  zoneOfNode: ReadonlyMap<string, string>,
): Map<string, number> {
  const perZone = new Map<string, number>();
  for (const i of instances) {
    const z = zoneOfNode.get(i.node)!;
    perZone.set(z, (perZone.get(z) ?? 0) + 1);
  }
  return perZone;
}

/**
 * Scales down to `desired`: repeatedly removes from the zone holding the most instances, within it
 * the lowest priority, so the survivors stay spread and the active (highest-priority) instance
 * stays put. Ties go to the later node name, mirroring the fill's preference for earlier names.
 */
function scaleDown(
  instances: readonly Instance[],
  zoneOfNode: ReadonlyMap<string, string>,
  desired: number,
): { kept: Instance[]; dropped: Instance[] } {
  const perZone = countZones(instances, zoneOfNode);
  const load = (i: Instance): number => perZone.get(zoneOfNode.get(i.node)!)!;
  const kept = [...instances];
  const dropped: Instance[] = [];
  while (kept.length > desired) {
    let worst = 0;
    for (let k = 1; k < kept.length; k++) {
      const a = kept[k]!;
      const b = kept[worst]!;
      const more = load(a) - load(b) || b.priority - a.priority || (a.node > b.node ? 1 : -1);
      if (more > 0) worst = k;
    }
    const victim = kept.splice(worst, 1)[0]!;
    const z = zoneOfNode.get(victim.node)!;
    perZone.set(z, perZone.get(z)! - 1);
    dropped.push(victim);
  }
  return { kept, dropped };
}

/**
 * Picks nodes for new instances one at a time: the zone with the fewest instances so far first,
 * then the earliest node name. Each zone's candidates are pre-sorted, so a pick costs O(zones).
 */
function fill(
  eligible: readonly Candidate[],
  assigned: readonly Instance[],
  zoneOfNode: ReadonlyMap<string, string>,
  want: number,
): string[] {
  const perZone = countZones(assigned, zoneOfNode);
  const queues = new Map<string, string[]>();
  for (const c of eligible) {
    const z = zoneOf(c);
    let q = queues.get(z);
    if (!q) queues.set(z, (q = []));
    q.push(c.name);
  }
  // Reversed so the earliest name is popped first.
  for (const q of queues.values()) q.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const picks: string[] = [];
  while (picks.length < want) {
    let bestZone: string | undefined;
    let bestCount = Infinity;
    let bestName = '';
    for (const [z, q] of queues) {
      const head = q[q.length - 1];
      if (head === undefined) continue;
      const n = perZone.get(z) ?? 0;
      if (n < bestCount || (n === bestCount && head < bestName)) {
        bestZone = z;
        bestCount = n;
        bestName = head;
      }
    }
    if (bestZone === undefined) break;
    queues.get(bestZone)!.pop();
    perZone.set(bestZone, bestCount + 1);
    picks.push(bestName);
  }
  return picks;
}

/**
 * Computes the wanted set of Gateway instances. Healthy current instances are kept with their
 * priority; failed ones are removed with the most specific reason; the count is then trimmed to or
 * filled up to `policy.desired`, spreading over zones. Healthy instances on draining or cordoned
 * Nodes are kept apart in `draining` and replaced; each is removed only once the caller says its
 * drain has settled and `desired` other instances are Ready. The output does not depend on the order of
 * the input arrays. Throws a TypeError for inputs the controller must have validated: a negative or
 * fractional desired count, a negative hold-down, a non-finite clock, duplicate candidate names,
 * duplicate current nodes, or a current priority outside 1..1000.
 */
export function schedule(input: ScheduleInput): ScheduleResult {
  validate(input);
  const { desired, holdDownMs } = input.policy;
  const { now, lastFailure, failedNow } = input;

  const byNode = new Map<string, Candidate>();
  const zoneOfNode = new Map<string, string>();
  for (const c of input.candidates) {
    byNode.set(c.name, c);
    zoneOfNode.set(c.name, zoneOf(c));
  }
  const currentNodes = new Set(input.current.map((i) => i.node));

  // Current instances: keep the healthy ones regardless of hold-down, since an old failure says
  // nothing about an instance that is running fine now and moving it would be needless churn.
  // A healthy one on a draining or cordoned Node is kept too, apart: it still carries traffic, so
  // it goes only once others can carry it (make before break), and it does not count as placed.
  let kept: Instance[] = [];
  let draining: DrainingInstance[] = [];
  const removed: Removal[] = [];
  for (const i of input.current) {
    const c = byNode.get(i.node);
    const state = c ? currentState(c, failedNow) : { removal: 'NodeGone' as const };
    if (!state) kept.push({ node: i.node, priority: i.priority });
    else if ('removal' in state) removed.push({ node: i.node, reason: state.removal });
    else draining.push({ node: i.node, priority: i.priority, reason: state.drain });
  }
  if (desired === 0) {
    // With nothing wanted, scaling down is the cause of every removal; a failure reason would
    // make the controller record hold-downs for nodes whose health did not matter.
    for (const r of removed) r.reason = 'ScaledDown';
    for (const i of [...kept, ...draining]) removed.push({ node: i.node, reason: 'ScaledDown' });
    kept = [];
    draining = [];
  } else if (kept.length > desired) {
    const split = scaleDown(kept, zoneOfNode, desired);
    kept = split.kept;
    for (const i of split.dropped) removed.push({ node: i.node, reason: 'ScaledDown' });
  }

  // Non-current candidates: eligible ones may be picked; the rest are reported.
  const eligible: Candidate[] = [];
  const skipped: Skip[] = [];
  let firstHoldDownEnd = Infinity;
  for (const c of input.candidates) {
    if (currentNodes.has(c.name)) continue;
    const blocker = blockerOf(c, failedNow);
    if (blocker) {
      skipped.push({ node: c.name, ...blocker });
      continue;
    }
    const failedAt = lastFailure.get(c.name);
    if (failedAt !== undefined && now - failedAt < holdDownMs) {
      const until = failedAt + holdDownMs;
      firstHoldDownEnd = Math.min(firstHoldDownEnd, until);
      skipped.push({
        node: c.name,
        reason: 'HeldDown',
        detail: `held down until ${iso(until)} after a failure at ${iso(failedAt)} (hold-down ${holdDownMs} ms)`,
      });
      continue;
    }
    eligible.push(c);
  }

  // Newcomers rank below every survivor so they never preempt the active instance. Draining
  // instances count here: a newcomer sharing one's priority could take its inner address slot
  // (src/datapath/inner.ts) while it still forwards.
  const room = Math.min(desired - kept.length, MAX_INSTANCES - kept.length - draining.length);
  const picks = fill(eligible, kept, zoneOfNode, room);
  const ranked = [...kept, ...draining];
  let next =
    ranked.length === 0 ? FIRST_PRIORITY : ranked.reduce((m, i) => Math.min(m, i.priority), Infinity) - 1;
  // Nor does a newcomer take the inner address slot of an instance that stays or that this plan
  // removes: the peers of a dead Gateway still hold its sessions, neighbour and FDB entries for a
  // while, and a newcomer at its address and MAC churns them (false failovers, seen in the lab
  // when the lowest-priority Gateway died and its replacement got its priority). Skipping at most
  // a slot's worth of priorities keeps it just below the survivors; with every slot taken the
  // planner's probing decides, as before.
  const removedNodes = new Set(removed.map((r) => r.node));
  const taken = new Set(
    [...ranked, ...input.current.filter((i) => removedNodes.has(i.node))].map(
      (i) => i.priority % GATEWAY_SLOTS,
    ),
  );
  const added: Instance[] = [];
  for (const node of picks) {
    let p = next;
    while (p > MIN_PRIORITY && taken.has(p % GATEWAY_SLOTS) && next - p < GATEWAY_SLOTS) p--;
    if (taken.has(p % GATEWAY_SLOTS)) p = next;
    const priority = Math.max(MIN_PRIORITY, p);
    added.push({ node, priority });
    taken.add(priority % GATEWAY_SLOTS);
    next = priority - 1;
  }

  const assignment = [...kept, ...added].sort(byPriorityThenName);
  added.sort(byPriorityThenName);

  // A drain is covered once `desired` instances that are not draining are Ready: newcomers are
  // not (they have not renewed a Lease yet), so a drain always outlives its replacement's start.
  const ready = input.ready ?? new Set<string>();
  const drainCovered = desired > 0 && kept.filter((i) => ready.has(i.node)).length >= desired;
  const settled = input.drainSettled ?? new Set<string>();
  if (drainCovered) {
    for (const d of draining) if (settled.has(d.node)) removed.push({ node: d.node, reason: d.reason });
    draining = draining.filter((d) => !settled.has(d.node));
  }
  draining.sort(byPriorityThenName);
  removed.sort(byName);
  skipped.sort(byName);

  const result: ScheduleResult = { assignment, draining, drainCovered, added, removed, skipped };
  if (assignment.length < desired) {
    result.degraded = degradedMessage(
      assignment.length,
      desired,
      input.candidates.length,
      skipped,
      removed,
      draining,
      picks.length < eligible.length,
      lastFailure,
      holdDownMs,
    );
    // Only a hold-down ending can widen the choice without some other event (a Node or Lease
    // change) that would trigger a reconcile anyway.
    if (firstHoldDownEnd !== Infinity) result.nextWakeMs = firstHoldDownEnd;
  }
  return result;
}

function degradedMessage(
  have: number,
  desired: number,
  candidateCount: number,
  skipped: readonly Skip[],
  removed: readonly Removal[],
  draining: readonly DrainingInstance[],
  atLimit: boolean,
  lastFailure: ReadonlyMap<string, number>,
  holdDownMs: number,
): string {
  const notes = [
    ...skipped.map((s) =>
      s.reason === 'HeldDown'
        ? `${s.node}: HeldDown until ${iso(lastFailure.get(s.node)! + holdDownMs)}`
        : `${s.node}: ${s.reason}`,
    ),
    ...removed.map((r) => `${r.node}: ${r.reason}`),
    ...draining.map((d) => `${d.node}: ${d.reason}, kept until replaced`),
  ].sort();
  const shown = notes.slice(0, MAX_DEGRADED_NOTES);
  if (notes.length > shown.length) shown.push(`and ${notes.length - shown.length} more`);
  const why =
    candidateCount === 0
      ? 'no candidate Nodes match the selector'
      : atLimit
        ? `draining instances hold the rest of the ${MAX_INSTANCES} instances a cluster may have; lower desiredInstances to let them go`
        : `only ${have} eligible candidate${have === 1 ? '' : 's'}`;
  return `${have} of ${desired} desired instances: ${why}${shown.length > 0 ? ` (${shown.join(', ')})` : ''}`;
}
