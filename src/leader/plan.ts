// The leader-side controller's pure half: which member exports to accept, what to publish as
// ClusterImports, and which members are stale or gone. A bad export (overlapping CIDRs, a cluster ID
// claimed twice, an address nobody can tunnel to) is refused with a condition naming both members,
// and the member's earlier valid import stays published.
import { API_VERSION } from '../api/group.ts';
import type { ClusterExport, ClusterImport, ClusterInfo, ExportStatus, ImportStatus } from '../api/types.ts';
import { jsonEqual } from '../util/json.ts';
import { setCondition } from '../model/conditions.ts';
import { cidrsOverlap, isUsableUnicast, parseCIDR, unusableReason } from '../util/ip.ts';
import type { ParsedCIDR } from '../util/ip.ts';

export interface LeaderPlanInput {
  exports: readonly ClusterExport[];
  imports: readonly ClusterImport[];
  /** Cluster ID a namespace may export (its mcgw.io/member label), or undefined. */
  memberOf(namespace: string): string | undefined;
  /** Last sign of life of a member namespace (export change or heartbeat), by the leader's clock. */
  lastSeen(namespace: string): number | undefined;
  now: number;
  staleAfterMs: number;
  removeAfterMs: number;
}

export interface LeaderPlan {
  upsert: { name: string; spec: ClusterInfo; sourceNamespace: string }[];
  importStatus: { name: string; status: ImportStatus }[];
  remove: string[];
  exportStatus: { namespace: string; name: string; status: ExportStatus }[];
  requeueAfterMs?: number;
}

interface Verdict {
  ok: boolean;
  reason: string;
  message: string;
}

function createdAt(o: { metadata: { creationTimestamp?: Date | string } }): number {
  const t = o.metadata.creationTimestamp;
  return (t instanceof Date ? t.getTime() : Date.parse(t ?? '')) || 0;
}

/** Problems inside one export that make it unusable on its own. */
export function exportProblems(e: ClusterExport): string[] {
  const out: string[] = [];
  for (const g of e.spec.gateways ?? []) {
    if (!isUsableUnicast(g.gatewayIP))
      out.push(`gateway ${g.node}: gatewayIP ${g.gatewayIP} is unusable (${unusableReason(g.gatewayIP)})`);
  }
  const cidrs = [...(e.spec.podCIDRs ?? []), ...(e.spec.serviceCIDRs ?? [])];
  for (let i = 0; i < cidrs.length; i++)
    for (let j = i + 1; j < cidrs.length; j++)
      if (cidrsOverlap(cidrs[i]!, cidrs[j]!)) out.push(`its own CIDRs ${cidrs[i]} and ${cidrs[j]} overlap`);
  return out;
}

type CIDREntry = { kind: 'pod' | 'service'; text: string; cidr: ParsedCIDR };
// Objects from informer caches are immutable snapshots, so each spec's CIDRs are parsed once.
const parsed = new WeakMap<ClusterInfo, CIDREntry[]>();

function cidrEntries(x: ClusterInfo): CIDREntry[] {
  let list = parsed.get(x);
  if (!list) {
    list = [];
    for (const [kind, texts] of [
      ['pod', x.podCIDRs ?? []],
      ['service', x.serviceCIDRs ?? []],
    ] as const)
      for (const text of texts) {
        const cidr = parseCIDR(text);
        if (cidr) list.push({ kind, text, cidr });
      }
    parsed.set(x, list);
  }
  return list;
}

/** The first overlap between two members' CIDRs, worded for a condition message. */
function overlap(a: ClusterInfo, aName: string, b: ClusterInfo, bName: string): string | undefined {
  for (const x of cidrEntries(a))
    for (const y of cidrEntries(b))
      if (cidrsOverlap(x.cidr, y.cidr))
        return `${x.kind} CIDR ${x.text} of member ${aName} overlaps ${y.kind} CIDR ${y.text} of member ${bName}`;
  return undefined;
}

export function planLeader(input: LeaderPlanInput): LeaderPlan {
  const out: LeaderPlan = { upsert: [], importStatus: [], remove: [], exportStatus: [] };
  const nowIso = new Date(input.now).toISOString();
  const importsByName = new Map(input.imports.map((i) => [i.metadata.name!, i]));

  // What is accepted so far, per cluster ID: starts as what is already published, so a new export
  // must fit with everyone else's current import.
  const accepted = new Map<string, { spec: ClusterInfo; ns: string }>();
  for (const i of input.imports)
    accepted.set(i.metadata.name!, { spec: i.spec, ns: i.metadata.namespace ?? '' });

  const verdicts = new Map<ClusterExport, Verdict>();
  const owner = new Map<string, ClusterExport>(); // cluster ID -> export allowed to use it
  // Oldest export first: an established member keeps its place when a newcomer collides with it.
  const ordered = [...input.exports].sort(
    (a, b) =>
      createdAt(a) - createdAt(b) || (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? ''),
  );
  for (const e of ordered) {
    const ns = e.metadata.namespace ?? '';
    const id = e.spec.clusterID;
    const allowed = input.memberOf(ns);
    if (allowed !== id) {
      verdicts.set(e, {
        ok: false,
        reason: 'WrongNamespace',
        message: allowed
          ? `namespace ${ns} belongs to member ${allowed}; it cannot export cluster ID ${id}`
          : `namespace ${ns} is not a member namespace (no ${'mcgw.io/member'} label)`,
      });
      continue;
    }
    const first = owner.get(id);
    if (first) {
      verdicts.set(e, {
        ok: false,
        reason: 'DuplicateClusterID',
        message: `cluster ID ${id} is already exported from namespace ${first.metadata.namespace}; each member needs its own ID`,
      });
      continue;
    }
    owner.set(id, e);
    const problems = exportProblems(e);
    if (problems.length) {
      verdicts.set(e, {
        ok: false,
        reason: 'Invalid',
        message: `${problems.join('; ')}; the previous import is kept`,
      });
      continue;
    }
    let conflict: string | undefined;
    // In ID order, so the condition names the same member on every pass (no status churn).
    for (const [otherID, other] of [...accepted].sort(([x], [y]) => x.localeCompare(y))) {
      if (otherID === id) continue;
      conflict = overlap(e.spec, id, other.spec, otherID);
      if (conflict) break;
    }
    if (conflict) {
      verdicts.set(e, {
        ok: false,
        reason: 'Conflict',
        message: `${conflict}; the previous import of ${id} is kept`,
      });
      continue;
    }
    accepted.set(id, { spec: e.spec, ns });
    verdicts.set(e, { ok: true, reason: 'Accepted', message: `published as ClusterImport ${id}` });
  }

  // Name the conflicting member from the final accepted set, so every pass words it the same way.
  for (const [e, v] of verdicts) {
    if (v.reason !== 'Conflict') continue;
    for (const [otherID, other] of [...accepted].sort(([x], [y]) => x.localeCompare(y))) {
      const c =
        otherID === e.spec.clusterID ? undefined : overlap(e.spec, e.spec.clusterID, other.spec, otherID);
      if (c) {
        v.message = `${c}; the previous import of ${e.spec.clusterID} is kept`;
        break;
      }
    }
  }

  for (const e of input.exports) {
    const v = verdicts.get(e)!;
    const status: ExportStatus = {
      observedGeneration: e.metadata.generation ?? 0,
      conditions: setCondition(
        e.status?.conditions,
        { type: 'Accepted', status: v.ok ? 'True' : 'False', reason: v.reason, message: v.message },
        nowIso,
      ),
    };
    if (!jsonEqual(status, e.status ?? {}))
      out.exportStatus.push({ namespace: e.metadata.namespace ?? '', name: e.metadata.name!, status });
  }

  // Publish accepted exports; judge each member's freshness by its last sign of life.
  let wake: number | undefined;
  const live = new Set<string>();
  for (const e of input.exports) {
    const id = e.spec.clusterID;
    if (owner.get(id) !== e) continue;
    const acc = accepted.get(id);
    if (!acc) continue; // refused and never accepted before: nothing to publish
    const ns = e.metadata.namespace ?? '';
    const seen = input.lastSeen(ns) ?? input.now;
    const age = input.now - seen;
    if (age >= input.removeAfterMs) continue; // gone for good: dropped below
    live.add(id);
    const cur = importsByName.get(id);
    if (!cur || !jsonEqual(cur.spec, acc.spec))
      out.upsert.push({ name: id, spec: acc.spec, sourceNamespace: ns });
    const stale = age >= input.staleAfterMs;
    const status: ImportStatus = {
      state: stale ? 'Stale' : 'Active',
      lastSeen: new Date(seen).toISOString(),
      conditions: setCondition(
        cur?.status?.conditions,
        stale
          ? {
              type: 'Fresh',
              status: 'False',
              reason: 'MemberSilent',
              message: `member ${id} has not renewed its heartbeat for ${Math.round(age / 1000)} s; removed after ${Math.round(input.removeAfterMs / 1000)} s`,
            }
          : {
              type: 'Fresh',
              status: 'True',
              reason: 'HeartbeatRenewed',
              message: `member ${id} is exporting`,
            },
        nowIso,
      ),
    };
    // lastSeen moves with every heartbeat; write it only when the state changes, to keep writes rare.
    const prev = cur?.status;
    if (!prev || prev.state !== status.state || !jsonEqual(prev.conditions, status.conditions))
      out.importStatus.push({ name: id, status });
    const next = stale ? seen + input.removeAfterMs : seen + input.staleAfterMs;
    wake = wake === undefined ? next : Math.min(wake, next);
  }
  for (const i of input.imports) if (!live.has(i.metadata.name!)) out.remove.push(i.metadata.name!);
  if (wake !== undefined) out.requeueAfterMs = Math.max(0, wake - input.now) + 10;
  return out;
}

/** The ClusterImport object for a plan entry. */
export function importObject(
  name: string,
  namespace: string,
  spec: ClusterInfo,
  sourceNamespace: string,
): ClusterImport {
  return {
    apiVersion: API_VERSION,
    kind: 'ClusterImport',
    metadata: {
      name,
      namespace,
      labels: { 'mcgw.io/source-namespace': sourceNamespace, 'app.kubernetes.io/managed-by': 'mcgw' },
    },
    spec,
  };
}
