// The planner's drain, make before break: a Gateway on a draining (or cordoned) Node is kept,
// marked and replaced, and removed only once its replacement has been Ready for the settle time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ClusterGateway } from '../../src/api/types.ts';
import { REPLACEMENT_READY } from '../../src/controller/drain.ts';
import type { ExchangeView } from '../../src/controller/drain.ts';
import { plan } from '../../src/controller/plan.ts';
import { getCondition } from '../../src/model/conditions.ts';
import type { Plan } from '../../src/controller/plan.ts';
import { placementReason } from '../../src/metrics/controller.ts';
import { World, node, policy } from './fixtures.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const SETTLE = 10;
const zones = ['a', 'b', 'c'];
const nodes = (n: number, over: Record<string, Parameters<typeof node>[1]> = {}) =>
  Array.from({ length: n }, (_, i) => node(`n${i + 1}`, { zone: zones[i % 3]!, ...over[`n${i + 1}`] }));

const gw = (w: World, name: string): ClusterGateway | undefined =>
  w.gateways.find((g) => g.metadata.name === name);
const names = (w: World) => w.gateways.map((g) => g.metadata.name!).sort();

/** Desired instances placed and Ready (every agent renews), in a steady state. */
function steady(n: number, desired: number, mode: 'ActiveStandby' | 'ActiveActive' = 'ActiveStandby') {
  const w = new World(nodes(n), [
    policy('p', { desiredInstances: desired, mode, drainSettleSeconds: SETTLE }),
  ]);
  w.apply(plan(w.input(NOW)));
  for (const g of w.gateways) w.fresh.add(g.spec.nodeName);
  w.apply(plan(w.input(NOW + 10)));
  assert.equal(w.apply(plan(w.input(NOW + 20))), 0);
  const active = w.gateways.find((g) => g.status?.role === 'Active')!.metadata.name!;
  return { w, active };
}

function label(w: World, name: string, o: { draining?: boolean; unschedulable?: boolean }): void {
  const i = Number(name.slice(1)) - 1;
  // A new object, as an informer would hand out: the planner caches views per object.
  w.nodes = w.nodes.map((x) => (x.metadata?.name === name ? node(name, { zone: zones[i % 3]!, ...o }) : x));
}

const step = (w: World, t: number, exchange?: ExchangeView): Plan => {
  const p = plan({ ...w.input(t), ...(exchange && { exchange }) });
  w.apply(p);
  return p;
};

test('drain: kept and marked while a replacement is placed, removed after the settle time, with Events', () => {
  const { w, active } = steady(5, 2);
  const before = names(w);
  label(w, active, { draining: true });

  let t = NOW + 1000;
  const start = step(w, t);
  assert.deepEqual(start.remove, [], 'nothing removed in the pass that notices');
  assert.equal(start.create.length, 1, 'a replacement');
  const repl = start.create[0]!.metadata.name!;
  assert.ok(!before.includes(repl));
  assert.ok(
    start.create[0]!.spec.priority <
      Math.min(...w.gateways.map((g) => g.spec.priority).filter((p) => p !== start.create[0]!.spec.priority)),
  );
  assert.deepEqual(
    start.update.map((u) => [u.metadata.name, u.spec.draining]),
    [[active, true]],
  );
  assert.equal(placementReason(start), 'Replacement', 'counted as a replacement, not a fill');
  const ev = start.events.find((e) => e.reason === 'DrainStarted')!;
  assert.equal(ev.type, 'Normal');
  assert.match(ev.message, new RegExp(`node ${active} .*replacement placed on ${repl}`));
  const d = gw(w, active)!;
  assert.equal(d.spec.draining, true);
  // Traffic has the other Ready instance, so the draining one is no longer Active.
  assert.equal(d.status?.role, 'Standby');
  assert.equal(getCondition(d.status?.conditions, REPLACEMENT_READY)?.reason, 'AwaitingReplacement');
  const st = w.policies[0]!.status!;
  assert.equal(st.gateways?.length, 3);
  assert.deepEqual(
    st.gateways?.filter((g) => g.draining).map((g) => g.node),
    [active],
  );
  assert.equal(st.readyInstances, 1, 'draining ones are not counted');
  assert.equal(getCondition(st.conditions, 'Degraded')?.status, 'False');

  // The replacement's agent renews: the drain is covered, its clock starts.
  w.fresh.add(repl);
  t += 1500;
  const covered = step(w, t);
  assert.deepEqual(covered.remove, []);
  const cond = getCondition(gw(w, active)!.status?.conditions, REPLACEMENT_READY)!;
  assert.equal(cond.status, 'True');
  assert.equal(Date.parse(cond.lastTransitionTime), t);
  assert.ok(covered.requeueAfterMs !== undefined && covered.requeueAfterMs <= SETTLE * 1000 + 10);

  // Not a moment before the settle time.
  assert.deepEqual(step(w, t + SETTLE * 1000 - 1).remove, []);
  const done = step(w, t + SETTLE * 1000);
  assert.deepEqual(
    done.remove.map((r) => [r.name, r.reason]),
    [[active, 'Draining']],
  );
  assert.deepEqual(done.create, []);
  assert.deepEqual(done.failed, [], 'no hold-down: a drain is not a failure');
  const removed = done.events.find((e) => e.reason === 'RemovedDraining')!;
  assert.equal(removed.type, 'Normal');
  assert.match(removed.message, /drain completed/);
  assert.equal(names(w).length, 2);
  assert.ok(!names(w).includes(active));
  assert.equal(w.apply(plan(w.input(t + SETTLE * 1000 + 10))), 0, 'a fixed point afterwards');
  assert.ok(!w.policies[0]!.status!.gateways!.some((g) => g.draining));
});

test('drain with one instance: the draining one stays Active until its replacement is Ready', () => {
  const { w, active } = steady(3, 1);
  label(w, active, { draining: true });
  const p = step(w, NOW + 1000);
  const repl = p.create[0]!.metadata.name!;
  assert.equal(gw(w, active)!.status?.role, 'Active', 'nothing else can carry traffic yet');
  assert.equal(gw(w, repl)!.status?.role, 'Standby');
  w.fresh.add(repl);
  step(w, NOW + 2000);
  assert.equal(gw(w, active)!.status?.role, 'Standby');
  assert.equal(gw(w, repl)!.status?.role, 'Active');
  assert.deepEqual(
    step(w, NOW + 2000 + SETTLE * 1000).remove.map((r) => r.name),
    [active],
  );
});

test('a cordoned Gateway Node is drained the same way (kubectl drain cordons first)', () => {
  const { w, active } = steady(5, 2);
  label(w, active, { unschedulable: true });
  const p = step(w, NOW + 1000);
  assert.deepEqual(p.remove, []);
  assert.match(p.events.find((e) => e.reason === 'DrainStarted')!.message, /cordoned/);
  w.fresh.add(p.create[0]!.metadata.name!);
  step(w, NOW + 2000);
  const done = step(w, NOW + 2000 + SETTLE * 1000);
  assert.deepEqual(
    done.remove.map((r) => [r.name, r.reason]),
    [[active, 'Unschedulable']],
  );
});

test('no replacement possible: the draining instance is kept, with a Warning, NoReplacement and Degraded', () => {
  const { w, active } = steady(2, 2);
  label(w, active, { draining: true });
  const p = step(w, NOW + 1000);
  assert.deepEqual(p.create, []);
  assert.deepEqual(p.remove, []);
  assert.equal(p.events.find((e) => e.reason === 'DrainStarted')!.type, 'Warning');
  for (let t = NOW + 2000; t < NOW + 5 * SETTLE * 1000; t += 3000) assert.deepEqual(step(w, t).remove, []);
  const c = getCondition(gw(w, active)!.status?.conditions, REPLACEMENT_READY)!;
  assert.equal(c.reason, 'NoReplacement');
  assert.equal(c.status, 'False');
  const deg = getCondition(w.policies[0]!.status?.conditions, 'Degraded')!;
  assert.equal(deg.status, 'True');
  assert.match(deg.message, new RegExp(`${active}: Draining, kept until replaced`));
  // A new candidate turns up: replaced, then drained as usual.
  w.nodes = [...w.nodes, node('n3', { zone: 'c' })];
  const later = step(w, NOW + 60_000);
  assert.equal(later.create[0]?.metadata.name, 'n3');
  w.fresh.add('n3');
  step(w, NOW + 61_000);
  assert.deepEqual(
    step(w, NOW + 61_000 + SETTLE * 1000).remove.map((r) => r.name),
    [active],
  );
});

test('removing the label before the drain completes cancels it: the instance stays, the extra one goes', () => {
  const { w, active } = steady(5, 2);
  const before = names(w);
  label(w, active, { draining: true });
  const repl = step(w, NOW + 1000).create[0]!.metadata.name!;
  w.fresh.add(repl);
  step(w, NOW + 2000);
  label(w, active, {});
  const p = step(w, NOW + 3000);
  assert.deepEqual(
    p.update.map((u) => [u.metadata.name, u.spec.draining]),
    [[active, undefined]],
  );
  assert.deepEqual(
    p.remove.map((r) => [r.name, r.reason]),
    [[repl, 'ScaledDown']],
  );
  assert.ok(p.events.some((e) => e.reason === 'DrainCancelled' && e.about === active));
  assert.deepEqual(names(w), before);
  const d = gw(w, active)!;
  assert.equal(getCondition(d.status?.conditions, REPLACEMENT_READY), undefined);
  assert.equal(d.status?.role, 'Active');
  assert.equal(w.apply(plan(w.input(NOW + SETTLE * 1000 * 3))), 0);
});

test('in a ClusterSet the drain waits for the leader to hold the current export, and counts from it', () => {
  const { w, active } = steady(5, 2);
  label(w, active, { draining: true });
  const repl = step(w, NOW + 1000, { current: true, exportedAt: NOW }).create[0]!.metadata.name!;
  w.fresh.add(repl);
  const t1 = NOW + 2000;
  step(w, t1, { current: true, exportedAt: NOW });
  // The leader is away: the export with the replacement never lands.
  const away = { current: false, exportedAt: NOW };
  const waiting = step(w, t1 + 3 * SETTLE * 1000, away);
  assert.deepEqual(waiting.remove, []);
  assert.equal(waiting.requeueAfterMs, 1010, 'polls the exchange');
  assert.match(
    getCondition(gw(w, active)!.status?.conditions, REPLACEMENT_READY)!.message,
    /ClusterSet leader/,
  );
  // It lands at t2: the settle time counts from there.
  const t2 = t1 + 4 * SETTLE * 1000;
  const back = { current: true, exportedAt: t2 };
  assert.deepEqual(step(w, t2 + 10, back).remove, []);
  assert.deepEqual(step(w, t2 + SETTLE * 1000 - 1, back).remove, []);
  assert.deepEqual(
    step(w, t2 + SETTLE * 1000, back).remove.map((r) => r.name),
    [active],
  );
});

test('a drain loses coverage when the replacement fails: its clock starts over', () => {
  const { w, active } = steady(5, 2);
  label(w, active, { draining: true });
  const repl = step(w, NOW + 1000).create[0]!.metadata.name!;
  w.fresh.add(repl);
  step(w, NOW + 2000);
  w.fresh.delete(repl);
  w.expired.add(repl);
  const p = step(w, NOW + 5000);
  assert.deepEqual(
    p.remove.map((r) => [r.name, r.reason]),
    [[repl, 'LeaseExpired']],
  );
  assert.equal(getCondition(gw(w, active)!.status?.conditions, REPLACEMENT_READY)!.status, 'False');
  const repl2 = p.create[0]!.metadata.name!;
  w.fresh.add(repl2);
  step(w, NOW + 6000);
  assert.deepEqual(step(w, NOW + 2000 + SETTLE * 1000).remove, [], 'the old clock does not count');
  assert.deepEqual(
    step(w, NOW + 6000 + SETTLE * 1000).remove.map((r) => r.name),
    [active],
  );
});

test('property: a drained instance is removed only after desired others were Ready for the settle time', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 3 }),
      fc.constantFrom('ActiveStandby' as const, 'ActiveActive' as const),
      fc.array(
        fc.record({
          node: fc.integer({ min: 1, max: 6 }),
          flag: fc.constantFrom('draining', 'cordon', 'none'),
          dt: fc.integer({ min: 0, max: 8000 }),
          agents: fc.boolean(),
        }),
        { maxLength: 12 },
      ),
      (n, desired, mode, events) => {
        const w = new World(nodes(n), [
          policy('p', { desiredInstances: desired, mode, drainSettleSeconds: SETTLE }),
        ]);
        let t = NOW;
        // Ready since: when each instance's Lease became fresh (its agent renews from then on).
        const readySince = new Map<string, number>();
        const pass = () => {
          const p = plan(w.input(t));
          const drainedNow = (name: string) => {
            const l = w.nodes.find((x) => x.metadata?.name === name);
            return l?.metadata?.labels?.['mcgw.io/draining'] === 'true' || l?.spec?.unschedulable === true;
          };
          for (const r of p.remove) {
            if (r.reason !== 'Draining' && r.reason !== 'Unschedulable') continue;
            const stay = w.gateways.filter(
              (g) => !drainedNow(g.metadata.name!) && !p.remove.some((x) => x.name === g.metadata.name),
            );
            const longReady = stay.filter(
              (g) => t - (readySince.get(g.metadata.name!) ?? Infinity) >= SETTLE * 1000,
            );
            assert.ok(
              longReady.length >= desired,
              `${r.name} removed with ${longReady.length} settled others`,
            );
          }
          w.apply(p);
          // An agent renews only while its Node is a Gateway.
          for (const name of [...w.fresh])
            if (!w.gateways.some((g) => g.metadata.name === name)) {
              w.fresh.delete(name);
              readySince.delete(name);
            }
        };
        for (const e of events) {
          label(
            w,
            `n${e.node}`,
            e.flag === 'draining' ? { draining: true } : e.flag === 'cordon' ? { unschedulable: true } : {},
          );
          pass();
          // Agents on new instances start renewing.
          if (e.agents)
            for (const g of w.gateways)
              if (!w.fresh.has(g.spec.nodeName)) {
                w.fresh.add(g.spec.nodeName);
                readySince.set(g.spec.nodeName, t);
              }
          t += e.dt;
          pass();
        }
        // Left alone long enough, with every agent renewing, it settles and a pass writes nothing.
        for (let i = 0; i < 4; i++) {
          for (const g of w.gateways)
            if (!w.fresh.has(g.spec.nodeName)) {
              w.fresh.add(g.spec.nodeName);
              readySince.set(g.spec.nodeName, t);
            }
          t += SETTLE * 1000 + 100;
          pass();
        }
        assert.equal(w.apply(plan(w.input((t += 10)))), 0);
        const drained = w.gateways.filter((g) => g.spec.draining);
        const staying = w.gateways.length - drained.length;
        // Whatever is still draining is so only for want of a replacement.
        if (drained.length) assert.ok(staying < desired);
        assert.ok(staying <= desired);
      },
    ),
    { numRuns: 300 },
  );
});
