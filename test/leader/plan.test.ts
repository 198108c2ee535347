import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ClusterExport, ClusterImport, ClusterInfo } from '../../src/api/types.ts';
import { getCondition } from '../../src/model/conditions.ts';
import { planLeader } from '../../src/leader/plan.ts';
import type { LeaderPlanInput } from '../../src/leader/plan.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');

function info(id: string, pod: string, gw = '198.18.0.1'): ClusterInfo {
  return {
    clusterID: id,
    mode: 'ActiveStandby',
    gateways: [{ node: `${id}-n1`, gatewayIP: gw, internalIP: gw, priority: 100, ready: true }],
    podCIDRs: [pod],
    serviceCIDRs: [],
    tunnel: { port: 4789, vni: 4242 },
  };
}

function exp(id: string, pod: string, created: number, ns = `mcgw-member-${id}`, gw?: string): ClusterExport {
  return {
    apiVersion: 'mcgw.io/v1alpha1',
    kind: 'ClusterExport',
    metadata: { name: id, namespace: ns, generation: 1, creationTimestamp: new Date(created) },
    spec: info(id, pod, gw),
  };
}

function imp(spec: ClusterInfo): ClusterImport {
  return {
    apiVersion: 'mcgw.io/v1alpha1',
    kind: 'ClusterImport',
    metadata: { name: spec.clusterID, namespace: 'mcgw-clusterset' },
    spec,
  };
}

function input(
  exports: ClusterExport[],
  imports: ClusterImport[] = [],
  over: Partial<LeaderPlanInput> = {},
): LeaderPlanInput {
  return {
    exports,
    imports,
    memberOf: (ns) => ns.replace(/^mcgw-member-/, ''),
    lastSeen: () => NOW,
    now: NOW,
    staleAfterMs: 30_000,
    removeAfterMs: 300_000,
    ...over,
  };
}

test('valid exports are published as imports and marked Accepted', () => {
  const p = planLeader(input([exp('a', '198.18.64.0/20', 1), exp('b', '198.18.80.0/20', 2)]));
  assert.deepEqual(p.upsert.map((u) => u.name).sort(), ['a', 'b']);
  assert.ok(p.exportStatus.every((s) => getCondition(s.status.conditions, 'Accepted')?.status === 'True'));
  assert.ok(p.importStatus.every((s) => s.status.state === 'Active'));
});

test('an export overlapping an existing import is refused, naming both, and the earlier import is kept', () => {
  const old = imp(info('b', '198.18.80.0/20'));
  const p = planLeader(
    input(
      [exp('a', '198.18.64.0/20', 1), exp('b', '198.18.64.0/21', 2)],
      [imp(info('a', '198.18.64.0/20')), old],
    ),
  );
  const st = p.exportStatus.find((s) => s.name === 'b')!;
  const c = getCondition(st.status.conditions, 'Accepted')!;
  assert.equal(c.reason, 'Conflict');
  assert.match(c.message, /member b/);
  assert.match(c.message, /member a/);
  assert.ok(!p.upsert.some((u) => u.name === 'b'), 'b is not republished with the bad spec');
  assert.ok(!p.remove.includes('b'), 'b is not removed either');
});

test('a newcomer that overlaps gets nothing published; the established member is untouched', () => {
  const p = planLeader(
    input([exp('a', '198.18.64.0/20', 1), exp('z', '198.18.64.0/24', 5)], [imp(info('a', '198.18.64.0/20'))]),
  );
  assert.deepEqual(p.upsert, []);
  assert.equal(
    getCondition(p.exportStatus.find((s) => s.name === 'z')!.status.conditions, 'Accepted')?.reason,
    'Conflict',
  );
});

test('a cluster ID exported from a namespace that does not own it is refused', () => {
  const p = planLeader(input([exp('b', '198.18.80.0/20', 1, 'mcgw-member-a')]));
  assert.deepEqual(p.upsert, []);
  assert.equal(getCondition(p.exportStatus[0]!.status.conditions, 'Accepted')?.reason, 'WrongNamespace');
});

test('the same cluster ID from two member namespaces: the older wins, the other is DuplicateClusterID', () => {
  const p = planLeader(
    input([exp('a', '198.18.64.0/20', 1, 'ns1'), exp('a', '198.18.96.0/20', 2, 'ns2')], [], {
      memberOf: () => 'a',
    }),
  );
  assert.deepEqual(
    p.upsert.map((u) => u.sourceNamespace),
    ['ns1'],
  );
  assert.equal(
    getCondition(p.exportStatus.find((s) => s.namespace === 'ns2')!.status.conditions, 'Accepted')?.reason,
    'DuplicateClusterID',
  );
});

test('an unusable gateway address is Invalid', () => {
  const p = planLeader(input([exp('a', '198.18.64.0/20', 1, undefined, '127.0.0.1')]));
  assert.equal(getCondition(p.exportStatus[0]!.status.conditions, 'Accepted')?.reason, 'Invalid');
  assert.deepEqual(p.upsert, []);
});

test('silence: Stale after staleAfter, removed after removeAfter, with a wake-up for each', () => {
  const e = [exp('a', '198.18.64.0/20', 1)];
  const i = [imp(info('a', '198.18.64.0/20'))];
  const fresh = planLeader(input(e, i, { lastSeen: () => NOW - 10_000 }));
  assert.equal(fresh.importStatus[0]?.status.state, 'Active');
  assert.equal(fresh.requeueAfterMs, 20_010);
  const stale = planLeader(input(e, i, { lastSeen: () => NOW - 31_000 }));
  assert.equal(stale.importStatus[0]?.status.state, 'Stale');
  assert.deepEqual(stale.remove, []);
  const gone = planLeader(input(e, i, { lastSeen: () => NOW - 301_000 }));
  assert.deepEqual(gone.remove, ['a']);
});

test('a deleted export removes its import', () => {
  assert.deepEqual(planLeader(input([], [imp(info('a', '198.18.64.0/20'))])).remove, ['a']);
});

test('property: accepted imports never overlap, and a second pass over the result writes nothing', () => {
  const cidr = fc
    .integer({ min: 0, max: 15 })
    .chain((i) =>
      fc.constantFrom(`198.18.${i * 16}.0/20`, `198.18.${i * 16}.0/21`, `198.18.${i * 16 + 8}.0/22`),
    );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), cidr), { maxLength: 6 }),
      (pairs) => {
        const seen = new Set<string>();
        const exports = pairs
          .filter(([id]) => !seen.has(id) && seen.add(id))
          .map(([id, c], i) => exp(id, c, i));
        const p = planLeader(input(exports));
        const pub = p.upsert.map((u) => u.spec.podCIDRs[0]!);
        for (let x = 0; x < pub.length; x++)
          for (let y = x + 1; y < pub.length; y++) {
            const [a, b] = [pub[x]!, pub[y]!].map((s) => s.split('/')) as [string[], string[]];
            const base = (s: string[]) => Number(s[0]!.split('.')[2]);
            const end = (s: string[]) => base(s) + 2 ** (24 - Number(s[1]));
            assert.ok(end(a) <= base(b) || end(b) <= base(a), `${pub[x]} overlaps ${pub[y]}`);
          }
        // Apply and plan again: nothing more to write.
        const imports = p.upsert.map((u) => ({
          ...imp(u.spec),
          status: p.importStatus.find((s) => s.name === u.name)?.status,
        }));
        const exports2 = exports.map((e) => ({
          ...e,
          status: p.exportStatus.find((s) => s.name === e.metadata.name)?.status ?? e.status,
        }));
        const p2 = planLeader(input(exports2, imports));
        assert.deepEqual([p2.upsert, p2.importStatus, p2.exportStatus, p2.remove], [[], [], [], []]);
      },
    ),
    { numRuns: 500 },
  );
});
