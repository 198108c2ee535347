import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { plan } from '../../src/controller/plan.ts';
import { getCondition } from '../../src/model/conditions.ts';
import { World, node, policy } from './fixtures.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const zones = ['a', 'b', 'c'];
const five = () => [0, 1, 2, 3, 4].map((i) => node(`n${i + 1}`, { zone: zones[i % 3]! }));

test('5 candidates in 3 zones, desired 2: two instances in different zones, with Events and status', () => {
  const w = new World(five(), [policy('p', { desiredInstances: 2 })]);
  const p = plan(w.input(NOW));
  assert.equal(p.create.length, 2);
  const zs = new Set(p.create.map((g) => g.spec.zone));
  assert.equal(zs.size, 2);
  assert.deepEqual(
    p.create.map((g) => g.spec.priority),
    [100, 99],
  );
  assert.equal(p.events.filter((e) => e.reason === 'Placed').length, 2);
  const st = p.policyStatus[0]!.status;
  assert.equal(getCondition(st.conditions, 'Degraded')?.status, 'False');
  assert.equal(getCondition(st.conditions, 'Ready')?.reason, 'InstancesNotReady', 'no Lease renewed yet');
  assert.equal(p.create[0]!.metadata.ownerReferences?.[0]?.name, 'p');
});

test('converges to a fixed point: a second pass over the written state writes nothing', () => {
  const w = new World(five(), [policy('p', { desiredInstances: 2 })]);
  w.apply(plan(w.input(NOW)));
  w.apply(plan(w.input(NOW + 10)));
  for (const g of w.gateways) w.fresh.add(g.spec.nodeName);
  w.apply(plan(w.input(NOW + 20)));
  const again = plan(w.input(NOW + 30));
  assert.equal(w.apply(again), 0);
  assert.equal(getCondition(w.policies[0]!.status?.conditions, 'Ready')?.status, 'True');
  const roles = w.gateways.map((g) => g.status?.role).sort();
  assert.deepEqual(roles, ['Active', 'Standby']);
});

test('an expired Lease replaces only that instance; the survivor keeps its spec and the new one ranks below it', () => {
  const w = new World(five(), [policy('p', { desiredInstances: 2 })]);
  w.apply(plan(w.input(NOW)));
  for (const g of w.gateways) w.fresh.add(g.spec.nodeName);
  w.apply(plan(w.input(NOW + 1)));
  const [first, second] = [...w.gateways].sort((a, b) => b.spec.priority - a.spec.priority);
  const survivorSpec = structuredClone(second!.spec);
  w.fresh.delete(first!.spec.nodeName);
  w.expired.add(first!.spec.nodeName);
  const p = plan(w.input(NOW + 5000));
  assert.deepEqual(
    p.remove.map((r) => [r.name, r.reason]),
    [[first!.spec.nodeName, 'LeaseExpired']],
  );
  assert.deepEqual(p.failed, [first!.spec.nodeName]);
  assert.equal(p.create.length, 1);
  assert.notEqual(p.create[0]!.spec.nodeName, first!.spec.nodeName);
  assert.ok(p.create[0]!.spec.priority < survivorSpec.priority);
  assert.equal(p.update.length, 0, 'no spec rewrite');
  assert.ok(p.events.some((e) => e.type === 'Warning' && e.reason === 'RemovedLeaseExpired'));
  w.apply(p);
  assert.deepEqual(w.gateways.find((g) => g.metadata.name === second!.metadata.name)!.spec, survivorSpec);
  // The survivor is now the Active one.
  assert.equal(w.gateways.find((g) => g.metadata.name === second!.metadata.name)!.status?.role, 'Active');
});

test('a second policy gets a Conflict condition naming the one in effect, and changes nothing else', () => {
  const w = new World(five(), [
    policy('old', { desiredInstances: 1 }),
    policy('new', { desiredInstances: 3 }, '2026-02-01T00:00:00Z'),
  ]);
  const p = plan(w.input(NOW));
  assert.equal(p.policy, 'old');
  assert.equal(p.create.length, 1);
  const st = p.policyStatus.find((s) => s.name === 'new')!.status;
  const c = getCondition(st.conditions, 'Degraded')!;
  assert.equal(c.reason, 'Conflict');
  assert.match(c.message, /"old" is already in effect/);
});

test('an invalid spec is reported with what to fix and keeps every instance', () => {
  const w = new World(five(), [policy('p', { desiredInstances: 2 })]);
  w.apply(plan(w.input(NOW)));
  w.policies[0]!.spec = { desiredInstances: 2, zoneTopologyKey: 'bad key!' };
  const p = plan(w.input(NOW + 1));
  assert.equal(p.remove.length + p.create.length + p.update.length, 0);
  const c = getCondition(p.policyStatus[0]!.status.conditions, 'Degraded')!;
  assert.equal(c.reason, 'InvalidSpec');
  assert.match(c.message, /spec\.zoneTopologyKey/);
});

test('a candidate without an address is skipped with a reason, and fewer candidates than desired is Degraded', () => {
  const w = new World(
    [node('n1', { zone: 'a' }), node('n2', { zone: 'b', ip: null })],
    [policy('p', { desiredInstances: 2 })],
  );
  const p = plan(w.input(NOW));
  assert.deepEqual(
    p.create.map((g) => g.spec.nodeName),
    ['n1'],
  );
  assert.ok(p.skipped.some((s) => s.node === 'n2' && /IP/.test(s.reason)));
  const st = p.policyStatus[0]!.status;
  assert.equal(getCondition(st.conditions, 'Degraded')?.status, 'True');
  assert.equal(getCondition(st.conditions, 'Degraded')?.reason, 'InsufficientCandidates');
});

test('desired 0 removes every instance, and so does deleting the policy', () => {
  const w = new World(five(), [policy('p', { desiredInstances: 2 })]);
  w.apply(plan(w.input(NOW)));
  w.policies[0]!.spec = { desiredInstances: 0 };
  const p = plan(w.input(NOW + 1));
  assert.equal(p.remove.length, 2);
  assert.ok(p.remove.every((r) => r.reason === 'ScaledDown'));
  const w2 = new World(five(), [policy('p', { desiredInstances: 2 })]);
  w2.apply(plan(w2.input(NOW)));
  w2.policies = [];
  const p2 = plan(w2.input(NOW + 1));
  assert.deepEqual(
    p2.remove.map((r) => r.reason),
    ['NoPolicy', 'NoPolicy'],
  );
});

test('a Node that stops matching the selector loses its instance with reason NotCandidate', () => {
  const w = new World(five(), [policy('p', { desiredInstances: 1 })]);
  w.apply(plan(w.input(NOW)));
  const name = w.gateways[0]!.spec.nodeName;
  // Replace the object, as an informer does, rather than mutating the cached one.
  w.nodes = w.nodes.map((x) => {
    if (x.metadata?.name !== name) return x;
    const n = structuredClone(x);
    delete n.metadata!.labels!['mcgw.io/gateway-candidate'];
    return n;
  });
  const p = plan(w.input(NOW + 1));
  assert.deepEqual(
    p.remove.map((r) => [r.name, r.reason]),
    [[name, 'NotCandidate']],
  );
});

test('property: from any state, repeated planning reaches a state where a pass writes nothing', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          zone: fc.constantFrom('a', 'b', 'c', undefined),
          ready: fc.boolean(),
          hasIP: fc.boolean(),
          leased: fc.boolean(),
        }),
        { minLength: 0, maxLength: 8 },
      ),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom('ActiveStandby' as const, 'ActiveActive' as const),
      (specs, desired, mode) => {
        const nodes = specs.map((s, i) =>
          node(`n${i + 1}`, {
            ...(s.zone && { zone: s.zone }),
            ready: s.ready,
            ip: s.hasIP ? undefined : null,
          }),
        );
        const w = new World(nodes, [policy('p', { desiredInstances: desired, mode })]);
        specs.forEach((s, i) => s.leased && w.fresh.add(`n${i + 1}`));
        let t = NOW;
        for (let i = 0; i < 3; i++) w.apply(plan(w.input((t += 10))));
        const final = plan(w.input((t += 10)));
        assert.equal(w.apply(final), 0);
        assert.ok(w.gateways.length <= desired);
        for (const g of w.gateways) {
          const n = nodes.find((x) => x.metadata?.name === g.spec.nodeName)!;
          assert.equal(n.status?.conditions?.[0]?.status, 'True', 'only Ready nodes keep instances');
        }
        const active = w.gateways.filter((g) => g.status?.role === 'Active').length;
        const ready = w.gateways.filter((g) => w.fresh.has(g.spec.nodeName)).length;
        assert.equal(active, mode === 'ActiveActive' ? ready : Math.min(ready, 1));
      },
    ),
    { numRuns: 300 },
  );
});
