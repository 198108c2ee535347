// The reconciler's pure half: from the cached cluster state and a clock, decide which ClusterGateways
// to create, update and delete, which statuses to write and which Events to emit. controller.ts
// carries the plan out. Nothing here does I/O, so every rule is tested without an apiserver.
import type { V1Node } from '@kubernetes/client-node';
import { API_VERSION, NODE_LABEL, gatewayLeaseName, SYSTEM_NAMESPACE } from '../api/group.ts';
import type {
  ClusterGateway,
  ClusterGatewayStatus,
  GatewayPolicy,
  GatewayPolicyStatus,
  Role,
} from '../api/types.ts';
import { schedule } from '../scheduler/schedule.ts';
import type { Candidate, Instance, ScheduleResult } from '../scheduler/types.ts';
import { setCondition } from '../model/conditions.ts';
import { effectiveSpec } from '../model/policy.ts';
import type { EffectiveSpec } from '../model/policy.ts';
import { jsonEqual } from '../util/json.ts';
import {
  EXPORT_POLL_MS,
  drainClocks,
  drainStartedMessage,
  replacementCondition,
  withoutDrainCondition,
} from './drain.ts';
import type { DrainView, ExchangeView } from './drain.ts';
import { toCandidate } from './nodeview.ts';
import { labelKeyProblem, matchesSelector, selectorProblems } from './selector.ts';

/** `pending`: placed on a Node whose Lease has not been renewed since; failed if it stays so. */
export type LeaseState = 'fresh' | 'expired' | 'absent' | 'pending';

/** Objects are immutable snapshots, as informer caches hand them out: a changed object is a new one. */
export interface PlanInput {
  policies: readonly GatewayPolicy[];
  nodes: readonly V1Node[];
  gateways: readonly ClusterGateway[];
  /**
   * The gateway Lease of a node, judged by the controller's clock (see LeaseTracker and
   * judgeLease() in bfdreports.ts). `bfd` is set when it expired early: an agent reported the
   * Gateway down by BFD and the Lease has been silent for 2 x renewIntervalMs since.
   */
  lease(
    node: string,
    durationMs: number,
    renewIntervalMs: number,
  ): { state: LeaseState; expiresAt?: number; bfd?: { reporter: string; silentMs: number } };
  now: number;
  lastFailure: ReadonlyMap<string, number>;
  /**
   * The ClusterSet exchange of this cluster, when it is a member; a drain settles only once the
   * leader holds the current export (see drain.ts). Absent: no ClusterSet, nothing to wait for.
   */
  exchange?: ExchangeView;
}

export interface PlannedEvent {
  kind: 'GatewayPolicy' | 'ClusterGateway' | 'Node';
  name: string;
  uid?: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** The Node whose instance the event is about, so it is recorded right after that write. */
  about?: string;
}

export interface Plan {
  /** The policy in effect, if any. */
  policy?: string;
  create: ClusterGateway[];
  update: ClusterGateway[];
  /** `bfdReportedBy`: a LeaseExpired removal that a BFD report brought forward, and who reported. */
  remove: { name: string; reason: string; message: string; bfdReportedBy?: string }[];
  gatewayStatus: { name: string; status: ClusterGatewayStatus }[];
  policyStatus: { name: string; status: GatewayPolicyStatus }[];
  events: PlannedEvent[];
  /** Candidates that could not be used; the controller reports each (node, reason) once. */
  skipped: { node: string; reason: string; detail: string }[];
  /** Nodes whose instance just failed: remembered for hold-down. */
  failed: string[];
  /** Reconcile again after this long even if nothing is observed (Lease expiry, hold-down end). */
  requeueAfterMs?: number;
}

/** Problems the schema cannot catch, worded so the user knows what to fix. */
export function specProblems(spec: EffectiveSpec): string[] {
  const out = selectorProblems(spec.candidateSelector);
  const zp = labelKeyProblem(spec.zoneTopologyKey);
  if (zp) out.push(`spec.zoneTopologyKey: ${zp}`);
  if (spec.renewIntervalMs * 2 > spec.leaseDurationMs)
    out.push('spec.failureDetection: renewIntervalMs must be at most half of leaseDurationMs');
  return out;
}

function byAge(a: GatewayPolicy, b: GatewayPolicy): number {
  const ta = Date.parse(String(a.metadata.creationTimestamp ?? '')) || 0;
  const tb = Date.parse(String(b.metadata.creationTimestamp ?? '')) || 0;
  return ta - tb || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

const FAILURE_REASONS = new Set(['LeaseExpired', 'NodeNotReady']);

// Informer caches hand out the same Node object until that Node changes, so its candidate view is
// computed once per version rather than on every reconcile (thousands of Nodes, most unchanged).
const views = new WeakMap<V1Node, { key: string; cand: Candidate | undefined }>();

function candidateView(n: V1Node, key: string, spec: EffectiveSpec): Candidate | undefined {
  const hit = views.get(n);
  key = `${n.metadata?.resourceVersion ?? ''}|${key}`;
  if (hit?.key === key) return hit.cand;
  const cand = matchesSelector(n.metadata?.labels, spec.candidateSelector)
    ? toCandidate(n, spec.zoneTopologyKey)
    : undefined;
  views.set(n, { key, cand });
  return cand;
}

export function plan(input: PlanInput): Plan {
  const out: Plan = {
    create: [],
    update: [],
    remove: [],
    gatewayStatus: [],
    policyStatus: [],
    events: [],
    skipped: [],
    failed: [],
  };
  const nowIso = new Date(input.now).toISOString();
  const policies = [...input.policies].sort(byAge);
  const effective = policies[0];

  // Two policies in one cluster: the oldest stays in effect, every other one says so and is ignored.
  for (const p of policies.slice(1)) {
    const msg = `GatewayPolicy "${effective!.metadata.name}" is already in effect in this cluster; only one policy is honoured. Delete this one or merge it into "${effective!.metadata.name}".`;
    pushPolicyStatus(out, p, {
      ...p.status,
      observedGeneration: p.metadata.generation ?? 0,
      conditions: setCondition(
        setCondition(
          p.status?.conditions,
          { type: 'Ready', status: 'False', reason: 'Conflict', message: msg },
          nowIso,
        ),
        { type: 'Degraded', status: 'True', reason: 'Conflict', message: msg },
        nowIso,
      ),
    });
  }

  const spec = effectiveSpec(effective?.spec);
  if (effective) {
    out.policy = effective.metadata.name!;
    const problems = specProblems(spec);
    if (problems.length) {
      // Keep every existing instance: a bad edit must not take traffic down.
      const msg = `Invalid spec, nothing changed until it is fixed: ${problems.join('; ')}`;
      pushPolicyStatus(out, effective, {
        ...effective.status,
        observedGeneration: effective.metadata.generation ?? 0,
        conditions: setCondition(
          setCondition(
            effective.status?.conditions,
            { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: msg },
            nowIso,
          ),
          { type: 'Degraded', status: 'True', reason: 'InvalidSpec', message: msg },
          nowIso,
        ),
      });
      return out;
    }
  }
  const desired = effective ? spec.desiredInstances : 0;

  const nodesByName = new Map(input.nodes.map((n) => [n.metadata?.name ?? '', n]));
  const viewKey = `${spec.zoneTopologyKey}|${JSON.stringify(spec.candidateSelector)}`;
  const candidates: Candidate[] = [];
  for (const n of input.nodes) {
    const cand = candidateView(n, viewKey, spec);
    if (cand) candidates.push(cand);
  }
  const gwByNode = new Map(input.gateways.map((g) => [g.spec.nodeName, g]));
  const current: Instance[] = input.gateways.map((g) => ({
    node: g.spec.nodeName,
    priority: g.spec.priority,
  }));
  const lease = (node: string) => input.lease(node, spec.leaseDurationMs, spec.renewIntervalMs);
  const failedNow = new Set(current.filter((c) => lease(c.node).state === 'expired').map((c) => c.node));

  // Drains: which ones have been covered for the settle time (and, in a ClusterSet, exported).
  const freshNow = new Set(current.filter((c) => lease(c.node).state === 'fresh').map((c) => c.node));
  const clocks = drainClocks(input.gateways, spec.drainSettleSeconds * 1000, input.exchange);
  const drainSettled = new Set(
    [...clocks].filter(([, c]) => c.removeAt !== undefined && c.removeAt <= input.now).map(([n]) => n),
  );

  const result: ScheduleResult = schedule({
    candidates,
    current,
    policy: { desired, holdDownMs: spec.holdDownSeconds * 1000 },
    now: input.now,
    lastFailure: input.lastFailure,
    failedNow,
    ready: freshNow,
    drainSettled,
  });

  const policyRef = effective
    ? { kind: 'GatewayPolicy' as const, name: effective.metadata.name!, uid: effective.metadata.uid }
    : undefined;
  const candByName = new Map(candidates.map((c) => [c.name, c]));

  for (const r of result.removed) {
    const reason =
      r.reason === 'NodeGone' && nodesByName.has(r.node) ? 'NotCandidate' : effective ? r.reason : 'NoPolicy';
    const why: Record<string, string> = {
      NodeGone: 'its Node no longer exists',
      NotCandidate: 'its Node no longer matches the candidate selector',
      NodeNotReady: 'its Node is NotReady',
      LeaseExpired: `its gateway Lease was not renewed for ${spec.leaseDurationMs} ms`,
      // Only a drain that has run its course removes for these reasons (see drain.ts).
      Unschedulable: `drain completed: its Node is cordoned, and ${desired} instance${desired === 1 ? '' : 's'} on other Nodes have been Ready for ${spec.drainSettleSeconds} s`,
      Draining: `drain completed: its Node is labelled draining, and ${desired} instance${desired === 1 ? '' : 's'} on other Nodes have been Ready for ${spec.drainSettleSeconds} s`,
      AddressUnusable: 'its Node has no usable gateway or internal address',
      ScaledDown: `the policy asks for ${desired} instances`,
      NoPolicy: 'no GatewayPolicy exists in this cluster',
    };
    // Still LeaseExpired (hold-down, failover counts and `mcgw status` treat it as one), but the
    // message says the Lease was judged by the shorter rule a BFD report brings.
    const early = reason === 'LeaseExpired' ? lease(r.node).bfd : undefined;
    const detail = early
      ? `node ${early.reporter} reported it down by BFD and its gateway Lease was silent for ${early.silentMs} ms (over 2 renew intervals of ${spec.renewIntervalMs} ms, before the ${spec.leaseDurationMs} ms Lease duration)`
      : (why[reason] ?? reason);
    const message = `Removed Gateway instance on node ${r.node}: ${detail}`;
    out.remove.push({ name: r.node, reason, message, ...(early && { bfdReportedBy: early.reporter }) });
    if (FAILURE_REASONS.has(r.reason)) out.failed.push(r.node);
    if (policyRef)
      out.events.push({
        ...policyRef,
        about: r.node,
        type: FAILURE_REASONS.has(r.reason) ? 'Warning' : 'Normal',
        reason: `Removed${reason}`,
        message,
      });
  }

  for (const a of result.added) {
    const c = candByName.get(a.node)!;
    const gw: ClusterGateway = {
      apiVersion: API_VERSION,
      kind: 'ClusterGateway',
      metadata: {
        name: a.node,
        labels: { [NODE_LABEL]: a.node, 'app.kubernetes.io/managed-by': 'mcgw' },
        ...(effective && {
          ownerReferences: [
            {
              apiVersion: API_VERSION,
              kind: 'GatewayPolicy',
              name: effective.metadata.name!,
              uid: effective.metadata.uid!,
              controller: true,
            },
          ],
        }),
      },
      spec: {
        nodeName: a.node,
        gatewayIP: c.gatewayIP!,
        internalIP: c.internalIP!,
        priority: a.priority,
        ...(c.zone !== undefined && { zone: c.zone }),
      },
    };
    out.create.push(gw);
    if (policyRef)
      out.events.push({
        ...policyRef,
        about: a.node,
        type: 'Normal',
        reason: 'Placed',
        message: `Placed Gateway instance on node ${a.node} (zone ${c.zone ?? 'none'}, gatewayIP ${c.gatewayIP}, priority ${a.priority})`,
      });
  }

  // Which instances renew their Lease, draining ones included.
  const ready = new Map(
    [...result.assignment, ...result.draining].map((i) => [i.node, lease(i.node).state === 'fresh']),
  );
  const drainingBy = new Map(result.draining.map((d) => [d.node, d]));
  const drainView = (reason: DrainView['reason']): DrainView => ({
    reason,
    staying: result.assignment.map((i) => ({ node: i.node, ready: ready.get(i.node)! })),
    desired,
    covered: result.drainCovered,
    settleSeconds: spec.drainSettleSeconds,
    awaitingExport: input.exchange?.current === false,
  });

  // A kept instance gets its spec updated when its Node changed address, and when its drain starts
  // or is cancelled; nothing else rewrites a spec. The update goes out with the replacement's
  // create, before any delete, so agents and the exchange see where traffic should go at once.
  const addedNodes = new Set(result.added.map((a) => a.node));
  for (const inst of [...result.assignment, ...result.draining]) {
    if (addedNodes.has(inst.node)) continue;
    const gw = gwByNode.get(inst.node);
    const c = candByName.get(inst.node);
    if (!gw || !c) continue;
    const drain = drainingBy.get(inst.node);
    const want = { ...gw.spec, gatewayIP: c.gatewayIP!, internalIP: c.internalIP! };
    if (c.zone !== undefined) want.zone = c.zone;
    else delete want.zone;
    if (drain) want.draining = true;
    else delete want.draining;
    if (!jsonEqual(want, gw.spec)) out.update.push({ ...gw, spec: want });
    if (!policyRef || !!drain === (gw.spec.draining === true)) continue;
    const view = drain && drainView(drain.reason);
    out.events.push({
      ...policyRef,
      about: inst.node,
      // Warning when it cannot go anywhere: someone has to act (add a candidate, or cancel).
      type: view && view.staying.length < desired ? 'Warning' : 'Normal',
      reason: view ? 'DrainStarted' : 'DrainCancelled',
      message: view
        ? drainStartedMessage(inst.node, view, [...addedNodes])
        : `Drain of the Gateway instance on node ${inst.node} cancelled: its Node is no longer labelled draining or cordoned, so the instance stays and counts towards desiredInstances again`,
    });
  }

  for (const s of result.skipped) out.skipped.push({ node: s.node, reason: s.reason, detail: s.detail });

  // Status of every instance kept, and the role the controller expects it to have. Roles follow
  // the agents' rule (src/datapath/plan.ts): draining instances carry traffic only while no other
  // instance is ready.
  const byRank = [...result.assignment].sort(
    (a, b) => b.priority - a.priority || a.node.localeCompare(b.node),
  );
  const carriers = byRank.some((i) => ready.get(i.node)) ? byRank : result.draining;
  const activeStandbyLeader = carriers.find((i) => ready.get(i.node))?.node;
  for (const inst of [...result.assignment, ...result.draining]) {
    const gw = gwByNode.get(inst.node);
    const isReady = ready.get(inst.node)!;
    const carries = carriers.some((i) => i.node === inst.node);
    const role: Role =
      isReady && carries && (spec.mode === 'ActiveActive' || inst.node === activeStandbyLeader)
        ? 'Active'
        : 'Standby';
    const leaseName = `${SYSTEM_NAMESPACE}/${gatewayLeaseName(inst.node)}`;
    const cond = isReady
      ? {
          type: 'Ready',
          status: 'True' as const,
          reason: 'LeaseRenewed',
          message: `Lease ${leaseName} is being renewed`,
        }
      : {
          type: 'Ready',
          status: 'False' as const,
          reason: 'AwaitingLease',
          message: `No renewal of Lease ${leaseName} seen yet; is the mcgw agent running on node ${inst.node}?`,
        };
    // A draining instance's ReplacementReady condition: its lastTransitionTime to True starts the
    // settle clock (drainClocks()). An instance no longer draining drops it.
    const drain = drainingBy.get(inst.node);
    const prev = gw?.status?.conditions;
    let conditions = setCondition(drain ? prev : withoutDrainCondition(prev), cond, nowIso);
    if (drain) conditions = setCondition(conditions, replacementCondition(drainView(drain.reason)), nowIso);
    const status: ClusterGatewayStatus = { role, conditions };
    if (!gw || !jsonEqual(status, gw.status ?? {})) out.gatewayStatus.push({ name: inst.node, status });
  }

  if (effective) {
    // Draining instances are listed but not counted: they are on their way out.
    const readyCount = result.assignment.filter((i) => ready.get(i.node)).length;
    const setChanged = result.added.length > 0 || result.removed.length > 0;
    const gateways = [...byRank, ...result.draining]
      .sort((a, b) => b.priority - a.priority || a.node.localeCompare(b.node))
      .map((i) => {
        const c = candByName.get(i.node);
        const gw = gwByNode.get(i.node);
        return {
          node: i.node,
          gatewayIP: c?.gatewayIP ?? gw?.spec.gatewayIP ?? '',
          internalIP: c?.internalIP ?? gw?.spec.internalIP ?? '',
          priority: i.priority,
          ready: ready.get(i.node)!,
          ...(drainingBy.has(i.node) && { draining: true }),
        };
      });
    const drainNote = result.draining.length
      ? `; draining, kept until replaced: ${result.draining.map((d) => d.node).join(', ')}`
      : '';
    let conds = effective.status?.conditions;
    conds = setCondition(
      conds,
      result.degraded
        ? { type: 'Degraded', status: 'True', reason: 'InsufficientCandidates', message: result.degraded }
        : {
            type: 'Degraded',
            status: 'False',
            reason: 'AsDesired',
            message: `${result.assignment.length} of ${desired} instances placed${drainNote}`,
          },
      nowIso,
    );
    const allReady = readyCount === result.assignment.length;
    conds = setCondition(
      conds,
      result.degraded
        ? { type: 'Ready', status: 'False', reason: 'InsufficientCandidates', message: result.degraded }
        : allReady
          ? {
              type: 'Ready',
              status: 'True',
              reason: 'AllInstancesReady',
              message: `${readyCount} of ${desired} instances ready${drainNote}`,
            }
          : {
              type: 'Ready',
              status: 'False',
              reason: 'InstancesNotReady',
              message: `${readyCount} of ${result.assignment.length} placed instances renew their Lease${drainNote}`,
            },
      nowIso,
    );
    pushPolicyStatus(out, effective, {
      observedGeneration: effective.metadata.generation ?? 0,
      desiredInstances: desired,
      readyInstances: readyCount,
      gateways,
      ...((setChanged ? nowIso : effective.status?.lastPlacementTime) !== undefined && {
        lastPlacementTime: setChanged ? nowIso : effective.status!.lastPlacementTime!,
      }),
      conditions: conds,
    });
  }

  // Wake up when the first fresh Lease would expire (early, under a BFD report), or a hold-down ends.
  let wake = result.nextWakeMs;
  const at = (t: number) => (wake = wake === undefined ? t : Math.min(wake, t));
  for (const inst of [...result.assignment, ...result.draining]) {
    const l = lease(inst.node);
    if ((l.state === 'fresh' || l.state === 'pending') && l.expiresAt !== undefined) at(l.expiresAt);
  }
  // And when a covered drain may settle: at its removal time, or soon while it waits for the
  // exchange (which tells the controller nothing when it has exported). A drain covered in this
  // very pass is recorded now and settles a full settle time later, at the earliest.
  if (result.drainCovered)
    for (const d of result.draining) {
      const c = clocks.get(d.node);
      if (input.exchange?.current === false) at(input.now + EXPORT_POLL_MS);
      else if (c?.removeAt !== undefined) at(c.removeAt);
      else at(input.now + spec.drainSettleSeconds * 1000);
    }
  if (wake !== undefined) out.requeueAfterMs = Math.max(0, wake - input.now) + 10;
  return out;
}

function pushPolicyStatus(out: Plan, p: GatewayPolicy, status: GatewayPolicyStatus): void {
  if (!jsonEqual(status, p.status ?? {})) out.policyStatus.push({ name: p.metadata.name!, status });
}
