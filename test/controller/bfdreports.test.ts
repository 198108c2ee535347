// BFD Down reports on the controller side: the pure Lease judgement with and without a report, and
// how the planner turns an early expiry into a removal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BfdReports, judgeLease, renewedSince } from '../../src/controller/bfdreports.ts';
import type { LeaseFacts, Suspicion } from '../../src/controller/bfdreports.ts';
import { plan } from '../../src/controller/plan.ts';
import type { PlanInput } from '../../src/controller/plan.ts';
import { World, node, policy } from './fixtures.ts';

const T = 1_000_000;
const report = (over: Partial<Suspicion> = {}): Suspicion => ({
  gateway: 'g',
  uid: 'u1',
  renewal: String(T),
  reporter: 'w1',
  seenAt: T + 200,
  ...over,
});
const facts = (over: Partial<LeaseFacts> = {}): LeaseFacts => ({
  seenAt: T,
  placedOnly: false,
  version: String(T),
  graceFrom: 0,
  watchCurrent: true,
  durationMs: 4000,
  renewIntervalMs: 500,
  now: T + 100,
  ...over,
});

test('renewedSince orders renewal times, and only tells other versions apart', () => {
  assert.equal(renewedSince('1001', '1000'), true);
  assert.equal(renewedSince('1000', '1000'), false);
  assert.equal(renewedSince('999', '1000'), false, 'the controller lags behind the reporter');
  assert.equal(renewedSince(undefined, '1000'), false);
  assert.equal(renewedSince('rv:5', 'rv:4'), true);
  assert.equal(renewedSince('rv:4', 'rv:4'), false);
});

test('without a report: the Lease duration rule, unchanged', () => {
  assert.deepEqual(judgeLease(facts({ seenAt: undefined })), { state: 'absent' });
  assert.deepEqual(judgeLease(facts()), { state: 'fresh', expiresAt: T + 4000 });
  assert.deepEqual(judgeLease(facts({ now: T + 4000 })), { state: 'expired', expiresAt: T + 4000 });
  assert.deepEqual(judgeLease(facts({ placedOnly: true })), { state: 'pending', expiresAt: T + 4000 });
  // The watch recovered at T + 3000: silence counts from there.
  assert.deepEqual(judgeLease(facts({ graceFrom: T + 3000, now: T + 5000 })), {
    state: 'fresh',
    expiresAt: T + 7000,
  });
});

test('a report with a silent Lease: expired 2 renew intervals after the last renewal seen, not the Lease duration', () => {
  const r = report();
  assert.deepEqual(judgeLease(facts({ report: r, now: T + 999 })), { state: 'fresh', expiresAt: T + 1000 });
  assert.deepEqual(judgeLease(facts({ report: r, now: T + 1000 })), {
    state: 'expired',
    expiresAt: T + 1000,
    bfd: { reporter: 'w1', silentMs: 1000 },
  });
  // A report that comes after the Lease has been silent that long already fails it at once.
  assert.equal(judgeLease(facts({ report: report({ seenAt: T + 3000 }), now: T + 3000 })).state, 'expired');
});

test('a renewal later than the reported one lifts the suspicion; the reported one itself does not', () => {
  const r = report();
  // The controller saw a renewal after the one the reporter read: the Gateway is alive.
  assert.deepEqual(
    judgeLease(facts({ report: r, version: String(T + 500), seenAt: T + 500, now: T + 1600 })),
    {
      state: 'fresh',
      expiresAt: T + 4500,
    },
  );
  // The controller lagged and saw the reported renewal after the report: still under suspicion.
  assert.equal(judgeLease(facts({ report: r, seenAt: T + 300, now: T + 1300 })).state, 'expired');
});

test('no early rule for a placement still waiting for its first renewal, nor when 2 intervals exceed the duration', () => {
  assert.equal(judgeLease(facts({ report: report(), placedOnly: true, now: T + 3000 })).state, 'pending');
  assert.deepEqual(judgeLease(facts({ report: report(), renewIntervalMs: 2500, now: T + 3999 })), {
    state: 'fresh',
    expiresAt: T + 4000,
  });
});

test('property: a report never makes a Lease last longer, and never fails one renewed after it', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10_000 }),
      fc.integer({ min: 0, max: 10_000 }),
      fc.integer({ min: 100, max: 2000 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: -2000, max: 2000 }),
      fc.boolean(),
      (silent, grace, renew, k, skew, placedOnly) => {
        const durationMs = renew * (k + 1);
        const base = facts({
          now: T + silent,
          graceFrom: T - 5000 + grace,
          durationMs,
          renewIntervalMs: renew,
          placedOnly,
        });
        const without = judgeLease(base);
        const r = report({ renewal: String(T + skew) });
        const withR = judgeLease({ ...base, report: r });
        if (without.state === 'expired') assert.equal(withR.state, 'expired');
        if (without.expiresAt !== undefined) assert.ok(withR.expiresAt! <= without.expiresAt);
        if (skew < 0) assert.deepEqual(withR, without, 'renewed after the reported renewal');
        if (withR.state === 'expired' && without.state !== 'expired') {
          assert.ok(withR.bfd);
          assert.ok(T + silent - Math.max(T, base.graceFrom) >= 2 * renew);
        }
      },
    ),
  );
});

test('BfdReports keeps the latest report per Node, and hands it out only for the same placement', () => {
  const s = new BfdReports();
  s.add(report());
  s.add(report({ renewal: String(T + 1), reporter: 'w2' }));
  assert.equal(s.size, 1);
  assert.equal(s.get('g', 'u1')?.reporter, 'w2');
  assert.equal(s.get('g', 'u2'), undefined, 'another placement of the same Node');
  assert.equal(s.get('g', undefined), undefined);
  assert.equal(s.delete('g'), true);
  assert.equal(s.peek('g'), undefined);
});

test('plan: an instance expired early by a BFD report is removed as LeaseExpired, saying who reported it', () => {
  const w = new World(
    [0, 1, 2].map((i) => node(`n${i + 1}`, { zone: ['a', 'b', 'c'][i]! })),
    [policy('p', { desiredInstances: 2, failureDetection: { leaseDurationMs: 4000, renewIntervalMs: 500 } })],
  );
  w.apply(plan(w.input(T)));
  for (const g of w.gateways) w.fresh.add(g.spec.nodeName);
  w.apply(plan(w.input(T + 1)));
  const victim = [...w.gateways].sort((a, b) => b.spec.priority - a.spec.priority)[0]!.spec.nodeName;
  const calls: [string, number, number][] = [];
  const input: PlanInput = {
    ...w.input(T + 2000),
    lease: (n, d, r) => {
      calls.push([n, d, r]);
      return n === victim
        ? { state: 'expired', expiresAt: T + 1000, bfd: { reporter: 'w7', silentMs: 1100 } }
        : { state: 'fresh', expiresAt: T + 4000 };
    },
  };
  const p = plan(input);
  assert.ok(
    calls.every(([, d, r]) => d === 4000 && r === 500),
    'the policy timings reach lease()',
  );
  assert.equal(p.remove.length, 1);
  const rm = p.remove[0]!;
  assert.equal(rm.name, victim);
  assert.equal(rm.reason, 'LeaseExpired');
  assert.equal(rm.bfdReportedBy, 'w7');
  assert.match(
    rm.message,
    new RegExp(`^Removed Gateway instance on node ${victim}: node w7 reported it down by BFD`),
  );
  assert.match(rm.message, /silent for 1100 ms/);
  assert.deepEqual(p.failed, [victim]);
  assert.ok(p.events.some((e) => e.reason === 'RemovedLeaseExpired' && e.message === rm.message));
  assert.equal(p.create.length, 1);
});

test('plan: the wake-up comes at the early expiry a report brings', () => {
  const w = new World([node('n1', { zone: 'a' })], [policy('p', { desiredInstances: 1 })]);
  w.apply(plan(w.input(T)));
  const p = plan({ ...w.input(T + 100), lease: () => ({ state: 'fresh', expiresAt: T + 1000 }) });
  assert.equal(p.requeueAfterMs, 900 + 10);
  assert.equal(p.remove.length, 0);
});

test('while the Lease watch is not current nothing expires, by duration or by report; it counts from now', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 600_000 }),
      fc.boolean(),
      fc.boolean(),
      (silent, withReport, placed) => {
        const j = judgeLease(
          facts({
            watchCurrent: false,
            placedOnly: placed,
            now: T + silent,
            ...(withReport && { report: report() }),
          }),
        );
        assert.notEqual(j.state, 'expired');
        assert.ok(j.expiresAt! > T + silent, 'the next look is after now');
      },
    ),
  );
  // The same silence with a current watch expires.
  assert.equal(judgeLease(facts({ now: T + 5000 })).state, 'expired');
});
