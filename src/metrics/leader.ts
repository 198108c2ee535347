// Metrics of the leader-side controller (src/leader/controller.ts), run in the leader cluster.
import type { Registry } from 'prom-client';
import type { ClusterExport, ClusterImport } from '../api/types.ts';
import { getCondition } from '../model/conditions.ts';
import type { LeaderPlan } from '../leader/plan.ts';
import { defineMetrics } from './registry.ts';

export const leaderMetricSet = defineMetrics('leader', {
  reconcileDuration: {
    type: 'histogram',
    name: 'mcgw_leader_reconcile_duration_seconds',
    help: 'Time of one completed pass of the elected leader-side controller (validate exports, publish imports).',
  },
  reconcileErrors: {
    type: 'counter',
    name: 'mcgw_leader_reconcile_errors_total',
    help: 'Leader-side passes that failed and were retried with backoff.',
  },
  imports: {
    type: 'gauge',
    name: 'mcgw_leader_imports',
    help: 'Published ClusterImports by state: Active (member heartbeating) or Stale (member silent for staleAfter).',
    labels: ['state'],
  },
  exports: {
    type: 'gauge',
    name: 'mcgw_leader_exports',
    help: 'ClusterExports by their Accepted condition: Accepted or Refused.',
    labels: ['state'],
  },
  refusedExports: {
    type: 'counter',
    name: 'mcgw_leader_refused_exports_total',
    help: 'Exports refused, by reason (WrongNamespace, DuplicateClusterID, Invalid, Conflict); counted when the refusal is written, not again while it stands.',
    labels: ['reason'],
  },
  isLeader: {
    type: 'gauge',
    name: 'mcgw_leader_is_leader',
    help: '1 while this replica holds the leader-side election Lease and writes, 0 otherwise.',
  },
});

/** Why the leader-side planner refuses an export (src/leader/plan.ts). */
export const REFUSAL_REASONS: readonly string[] = [
  'WrongNamespace',
  'DuplicateClusterID',
  'Invalid',
  'Conflict',
];

/** Imports by state and exports by acceptance once `p` is carried out. */
export function leaderCounts(
  p: LeaderPlan,
  imports: readonly ClusterImport[],
  exports: readonly ClusterExport[],
): { imports: Record<'Active' | 'Stale', number>; exports: Record<'Accepted' | 'Refused', number> } {
  const importState = new Map<string, string | undefined>(
    imports.map((i) => [i.metadata.name ?? '', i.status?.state]),
  );
  for (const u of p.upsert) if (!importState.has(u.name)) importState.set(u.name, undefined);
  for (const s of p.importStatus) importState.set(s.name, s.status.state);
  for (const r of p.remove) importState.delete(r);
  const im = { Active: 0, Stale: 0 };
  for (const st of importState.values()) im[st === 'Stale' ? 'Stale' : 'Active']++;

  const exportStatus = new Map(p.exportStatus.map((s) => [`${s.namespace}/${s.name}`, s.status]));
  const ex = { Accepted: 0, Refused: 0 };
  for (const e of exports) {
    const st = exportStatus.get(`${e.metadata.namespace}/${e.metadata.name}`) ?? e.status;
    const acc = getCondition(st?.conditions, 'Accepted');
    if (acc?.status === 'True') ex.Accepted++;
    else if (acc?.status === 'False') ex.Refused++;
  }
  return { imports: im, exports: ex };
}

export class LeaderMetrics {
  readonly m: ReturnType<typeof leaderMetricSet>;

  constructor(reg: Registry) {
    this.m = leaderMetricSet(reg);
    this.m.isLeader.set(0);
    for (const reason of REFUSAL_REASONS) this.m.refusedExports.inc({ reason }, 0);
  }

  leading(on: boolean): void {
    this.m.isLeader.set(on ? 1 : 0);
    if (!on) {
      this.m.imports.reset();
      this.m.exports.reset();
    }
  }

  reconciled(
    seconds: number,
    p: LeaderPlan,
    imports: readonly ClusterImport[],
    exports: readonly ClusterExport[],
  ): void {
    this.m.reconcileDuration.observe(seconds);
    const c = leaderCounts(p, imports, exports);
    for (const [state, n] of Object.entries(c.imports)) this.m.imports.set({ state }, n);
    for (const [state, n] of Object.entries(c.exports)) this.m.exports.set({ state }, n);
  }

  reconcileFailed(): void {
    this.m.reconcileErrors.inc();
  }

  refused(reason: string): void {
    this.m.refusedExports.inc({ reason });
  }
}
