import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { schedule } from '../../src/scheduler/index.ts';
import type { Candidate, Instance, ScheduleInput, ScheduleResult } from '../../src/scheduler/index.ts';
import { isUsableUnicast } from '../../src/util/ip.ts';

const NOW = 1_700_000_000_000;
// A small name pool, so that current instances, failures and candidates collide often.
const NAMES = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10', 'n11'];

const mostly = (p: number): fc.Arbitrary<boolean> =>
  fc.oneof({ weight: p, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const mostlyValid = (valid: string[], invalid: (string | undefined)[]): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: fc.constantFrom(...invalid) },
  );

const candidateArb: fc.Arbitrary<Candidate> = fc.record({
  name: fc.constantFrom(...NAMES),
  zone: fc.constantFrom('a', 'b', 'c', undefined),
  ready: mostly(6),
  schedulable: mostly(8),
  draining: mostly(8).map((x) => !x),
  gatewayIP: mostlyValid(['192.0.2.1', '2001:db8::1'], [undefined, '', '127.0.0.1', 'nope', 'fe80::1']),
  internalIP: mostlyValid(['10.0.0.1', 'fd00::1'], [undefined, '0.0.0.0', '255.255.255.255', '224.0.0.1']),
});

const HOLD_DOWN = 30_000;

const inputArb: fc.Arbitrary<ScheduleInput> = fc
  .record({
    candidates: fc.uniqueArray(candidateArb, { selector: (c) => c.name, maxLength: NAMES.length }),
    current: fc.uniqueArray(
      fc.record({ node: fc.constantFrom(...NAMES), priority: fc.integer({ min: 1, max: 1000 }) }),
      { selector: (i) => i.node, maxLength: 6 },
    ),
    desired: fc.integer({ min: 0, max: 7 }),
    holdDownMs: fc.constantFrom(0, HOLD_DOWN),
    failures: fc.dictionary(fc.constantFrom(...NAMES), fc.integer({ min: 0, max: 2 * HOLD_DOWN }), {
      maxKeys: 4,
    }),
    failedNow: fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 2 }),
    ready: fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: NAMES.length }),
    drainSettled: fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 3 }),
  })
  .map((r) => ({
    candidates: r.candidates,
    // Plain objects: fc.record builds null-prototype ones, which deepEqual tells apart.
    current: r.current.map((i) => ({ node: i.node, priority: i.priority })),
    policy: { desired: r.desired, holdDownMs: r.holdDownMs },
    now: NOW,
    lastFailure: new Map(Object.entries(r.failures).map(([n, ago]) => [n, NOW - ago])),
    failedNow: new Set(r.failedNow),
    ready: new Set(r.ready),
    drainSettled: new Set(r.drainSettled),
  }));

// The eligibility rules restated independently of the implementation.
function healthy(c: Candidate, input: ScheduleInput): boolean {
  return (
    c.ready &&
    c.schedulable &&
    !c.draining &&
    c.gatewayIP !== undefined &&
    c.internalIP !== undefined &&
    isUsableUnicast(c.gatewayIP) &&
    isUsableUnicast(c.internalIP) &&
    !input.failedNow.has(c.name)
  );
}
function heldDown(name: string, input: ScheduleInput): boolean {
  const t = input.lastFailure.get(name);
  return t !== undefined && input.now - t < input.policy.holdDownMs;
}
function eligible(c: Candidate, input: ScheduleInput): boolean {
  return healthy(c, input) && !heldDown(c.name, input);
}
/** A current instance whose Node is drained (labelled or cordoned) and otherwise healthy. */
function drained(node: string, input: ScheduleInput): boolean {
  const c = input.candidates.find((x) => x.name === node);
  return (
    c !== undefined &&
    (c.draining || !c.schedulable) &&
    healthy({ ...c, draining: false, schedulable: true }, input)
  );
}
const zoneOf = (input: ScheduleInput, node: string): string =>
  input.candidates.find((c) => c.name === node)?.zone ?? '';

/** A setup where every current instance is healthy and their count is exactly the desired one. */
const steadyArb: fc.Arbitrary<ScheduleInput> = fc
  .tuple(
    inputArb,
    fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: NAMES.length, maxLength: NAMES.length }),
  )
  .map(([input, priorities]) => {
    const current = input.candidates
      .filter((c) => healthy(c, input))
      .map((c, i) => ({ node: c.name, priority: priorities[i]! }));
    return { ...input, current, policy: { ...input.policy, desired: current.length } };
  });

const sortedCurrent = (current: readonly Instance[]): Instance[] =>
  [...current].sort((a, b) => b.priority - a.priority || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));

const CHEAP = { numRuns: 2000 };

/** The instances of a result that were current before, i.e. not added. */
const keptOf = (r: ScheduleResult): Instance[] =>
  r.assignment.filter((i) => !r.added.some((a) => a.node === i.node));

void describe('schedule properties', () => {
  void it('never assigns more than desired, and fills as far as eligible nodes allow', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = schedule(input);
        assert.ok(r.assignment.length <= input.policy.desired);
        const kept = r.assignment.length - r.added.length;
        const spare = input.candidates.filter(
          (c) => eligible(c, input) && !input.current.some((i) => i.node === c.name),
        ).length;
        assert.equal(r.added.length, Math.min(spare, Math.max(0, input.policy.desired - kept)));
      }),
      CHEAP,
    );
  });

  void it('never adds an ineligible or already-current node', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const a of schedule(input).added) {
          const c = input.candidates.find((x) => x.name === a.node);
          assert.ok(c, `${a.node} is not a candidate`);
          assert.ok(eligible(c, input), `${a.node} is not eligible`);
          assert.ok(!input.current.some((i) => i.node === a.node));
        }
      }),
      CHEAP,
    );
  });

  void it('has no duplicate nodes, and accounts for every current instance exactly once', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = schedule(input);
        const nodes = r.assignment.map((i) => i.node);
        assert.equal(new Set(nodes).size, nodes.length);
        const keptNodes = keptOf(r).map((i) => i.node);
        assert.deepEqual(
          [...keptNodes, ...r.draining.map((d) => d.node), ...r.removed.map((x) => x.node)].sort(),
          input.current.map((i) => i.node).sort(),
        );
        const skippedNodes = r.skipped.map((s) => s.node);
        assert.equal(new Set(skippedNodes).size, skippedNodes.length);
      }),
      CHEAP,
    );
  });

  void it('keeps priorities in 1..1000, keeps survivors exact and ranks newcomers below them', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = schedule(input);
        const kept = keptOf(r);
        for (const i of kept)
          assert.deepEqual(
            i,
            input.current.find((c) => c.node === i.node),
          );
        for (const i of r.assignment)
          assert.ok(Number.isInteger(i.priority) && i.priority >= 1 && i.priority <= 1000);
        for (const d of r.draining)
          assert.equal(d.priority, input.current.find((c) => c.node === d.node)!.priority);
        // Below the draining ones too, which still forward and hold their inner address slots.
        const lowestKept = Math.min(...kept.map((i) => i.priority), ...r.draining.map((d) => d.priority));
        for (const a of r.added) assert.ok(a.priority < lowestKept || a.priority === 1);
        assert.deepEqual(r.assignment, sortedCurrent(r.assignment));
      }),
      CHEAP,
    );
  });

  void it('skips exactly the ineligible non-current candidates', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = schedule(input);
        const expected = input.candidates
          .filter((c) => !eligible(c, input) && !input.current.some((i) => i.node === c.name))
          .map((c) => c.name)
          .sort();
        assert.deepEqual(
          r.skipped.map((s) => s.node),
          expected,
        );
        for (const s of r.skipped) assert.ok(s.detail.length > 0);
      }),
      CHEAP,
    );
  });

  void it('gives the same output for the same input, whatever the order of the arrays', () => {
    const withShuffles = inputArb.chain((input) =>
      fc.tuple(
        fc.constant(input),
        fc.shuffledSubarray([...input.candidates], {
          minLength: input.candidates.length,
          maxLength: input.candidates.length,
        }),
        fc.shuffledSubarray([...input.current], {
          minLength: input.current.length,
          maxLength: input.current.length,
        }),
      ),
    );
    fc.assert(
      fc.property(withShuffles, ([input, candidates, current]) => {
        const r = schedule(input);
        assert.deepEqual(schedule(input), r);
        assert.deepEqual(schedule({ ...input, candidates, current }), r);
      }),
      CHEAP,
    );
  });

  void it('changes nothing when all current instances are healthy and the count is desired', () => {
    fc.assert(
      fc.property(steadyArb, (input) => {
        const r = schedule(input);
        assert.deepEqual(r.assignment, sortedCurrent(input.current));
        assert.deepEqual(r.added, []);
        assert.deepEqual(r.removed, []);
        assert.equal(r.degraded, undefined);
        assert.equal(r.nextWakeMs, undefined);
      }),
      CHEAP,
    );
  });

  void it('when one instance fails, keeps all others exactly and adds at most one', () => {
    const oneFails = steadyArb
      .filter((input) => input.current.length > 0)
      .chain((input) => fc.tuple(fc.constant(input), fc.nat({ max: input.current.length - 1 })));
    fc.assert(
      fc.property(oneFails, ([input, k]) => {
        const failed = input.current[k]!;
        const r = schedule({ ...input, failedNow: new Set([...input.failedNow, failed.node]) });
        assert.deepEqual(r.removed, [{ node: failed.node, reason: 'LeaseExpired' }]);
        assert.ok(r.added.length <= 1);
        const others = input.current.filter((i) => i !== failed);
        assert.deepEqual(keptOf(r), sortedCurrent(others));
        assert.ok(r.added.every((a) => a.node !== failed.node));
      }),
      CHEAP,
    );
  });

  void it('sets degraded iff fewer than desired, and only wakes up for a hold-down that could help', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = schedule(input);
        const short = r.assignment.length < input.policy.desired;
        assert.equal(r.degraded !== undefined, short);
        if (short)
          assert.match(r.degraded!, new RegExp(`^${r.assignment.length} of ${input.policy.desired} `));
        if (r.nextWakeMs === undefined) {
          assert.ok(!short || !r.skipped.some((s) => s.reason === 'HeldDown'));
        } else {
          assert.ok(short);
          assert.ok(r.nextWakeMs > input.now);
          // Waking then must release a node that would otherwise be eligible.
          const released = r.skipped.filter(
            (s) =>
              s.reason === 'HeldDown' &&
              input.lastFailure.get(s.node)! + input.policy.holdDownMs === r.nextWakeMs,
          );
          assert.ok(released.length > 0);
          const later = schedule({ ...input, now: r.nextWakeMs });
          assert.ok(released.some((s) => later.added.some((a) => a.node === s.node)));
        }
      }),
      CHEAP,
    );
  });

  void it('spreads over zones: no zone gets another new instance while a less-used zone had a spare node', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = schedule(input);
        const count = new Map<string, number>();
        for (const i of r.assignment)
          count.set(zoneOf(input, i.node), (count.get(zoneOf(input, i.node)) ?? 0) + 1);
        const passedOver = input.candidates.filter(
          (c) =>
            eligible(c, input) &&
            !input.current.some((i) => i.node === c.name) &&
            !r.assignment.some((i) => i.node === c.name),
        );
        // The last pick into zone z happened when z held count(z) - 1 instances; a passed-over
        // node's zone held at most its final count then, and the pick took the least-used zone.
        for (const a of r.added) {
          const z = zoneOf(input, a.node);
          for (const p of passedOver) {
            const pz = p.zone ?? '';
            assert.ok(
              count.get(z)! - 1 <= (count.get(pz) ?? 0),
              `${a.node} (zone ${z}) was added while ${p.name} (zone ${pz}) was passed over`,
            );
          }
        }
      }),
      CHEAP,
    );
  });

  void it('scales down only above desired, leaving zones within one instance of each other', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = schedule(input);
        const scaled = r.removed.filter((x) => x.reason === 'ScaledDown');
        if (scaled.length === 0) return;
        if (input.policy.desired > 0) {
          assert.equal(r.assignment.length, input.policy.desired);
          assert.deepEqual(r.added, []);
        }
        const count = new Map<string, number>();
        for (const i of r.assignment)
          count.set(zoneOf(input, i.node), (count.get(zoneOf(input, i.node)) ?? 0) + 1);
        // The last removal from zone z left it at count(z) while it was (one of) the fullest.
        for (const x of scaled) {
          const z = zoneOf(input, x.node);
          for (const n of count.values()) assert.ok(n <= (count.get(z) ?? 0) + 1);
        }
      }),
      CHEAP,
    );
  });

  void it('drains make before break: a drained instance goes only when covered and settled, or with everything', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = schedule(input);
        const desired = input.policy.desired;
        // Newcomers never count: they cannot have renewed a Lease yet, whatever `ready` says.
        const readyStaying = keptOf(r).filter((i) => input.ready!.has(i.node)).length;
        assert.equal(r.drainCovered, desired > 0 && readyStaying >= desired);
        for (const i of input.current) {
          const inDrain = r.draining.find((d) => d.node === i.node);
          const removal = r.removed.find((x) => x.node === i.node);
          if (!drained(i.node, input)) {
            assert.equal(inDrain, undefined, `${i.node} is not drained`);
            if (removal) assert.ok(removal.reason !== 'Draining' && removal.reason !== 'Unschedulable');
            continue;
          }
          const c = input.candidates.find((x) => x.name === i.node)!;
          const reason = c.draining ? 'Draining' : 'Unschedulable';
          if (desired === 0) assert.deepEqual(removal, { node: i.node, reason: 'ScaledDown' });
          else if (r.drainCovered && input.drainSettled!.has(i.node))
            assert.deepEqual(removal, { node: i.node, reason });
          else assert.deepEqual(inDrain, { node: i.node, priority: i.priority, reason });
        }
        assert.ok(!r.assignment.some((i) => r.draining.some((d) => d.node === i.node)));
      }),
      CHEAP,
    );
  });

  void it('a drain from steady state: one replacement at once, then the drained one goes and nothing else moves', () => {
    const oneDrains = steadyArb
      .filter((input) => input.current.length > 0)
      .chain((input) =>
        fc.tuple(fc.constant(input), fc.nat({ max: input.current.length - 1 }), fc.boolean()),
      );
    fc.assert(
      fc.property(oneDrains, ([input, k, cordon]) => {
        const victim = input.current[k]!;
        const candidates = input.candidates.map((c) =>
          c.name === victim.node ? { ...c, ...(cordon ? { schedulable: false } : { draining: true }) } : c,
        );
        const all = new Set(input.current.map((i) => i.node));
        const start = schedule({ ...input, candidates, ready: all, drainSettled: new Set([victim.node]) });
        // Not covered in the pass that notices, even if told it settled: the replacement is not Ready.
        assert.deepEqual(start.removed, []);
        assert.deepEqual(
          start.draining.map((d) => d.node),
          [victim.node],
        );
        assert.ok(start.added.length <= 1);
        const others = input.current.filter((i) => i !== victim);
        assert.deepEqual(keptOf(start), sortedCurrent(others));
        // The replacement Ready and the drain settled: exactly the victim goes.
        const current = [...input.current, ...start.added];
        const end = schedule({
          ...input,
          candidates,
          current,
          ready: new Set(current.map((i) => i.node)),
          drainSettled: new Set([victim.node]),
        });
        if (start.added.length === 0) {
          // No spare candidate: kept, whatever the caller says.
          assert.deepEqual(end.removed, []);
          assert.equal(end.draining.length, 1);
          assert.ok(end.degraded);
        } else {
          assert.deepEqual(end.removed, [
            { node: victim.node, reason: cordon ? 'Unschedulable' : 'Draining' },
          ]);
          assert.deepEqual(end.assignment, sortedCurrent([...others, ...start.added]));
          assert.deepEqual(end.added, []);
          assert.equal(end.degraded, undefined);
        }
      }),
      CHEAP,
    );
  });

  void it('throws a TypeError for a negative or fractional desired count', () => {
    fc.assert(
      fc.property(
        inputArb,
        fc.oneof(fc.integer({ max: -1 }), fc.double({ noInteger: true })),
        (input, desired) => {
          assert.throws(() => schedule({ ...input, policy: { ...input.policy, desired } }), TypeError);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
