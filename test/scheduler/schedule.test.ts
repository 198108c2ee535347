import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { schedule } from '../../src/scheduler/index.ts';
import type { Candidate, Instance, ScheduleInput } from '../../src/scheduler/index.ts';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

let ipSeq = 0;
function node(name: string, zone: string | undefined, over: Partial<Candidate> = {}): Candidate {
  ipSeq++;
  return {
    name,
    zone,
    ready: true,
    schedulable: true,
    draining: false,
    gatewayIP: `192.0.2.${ipSeq % 250}`,
    internalIP: `10.0.0.${ipSeq % 250}`,
    ...over,
  };
}

function run(over: Partial<Omit<ScheduleInput, 'policy'>> & { desired: number; holdDownMs?: number }) {
  return schedule({
    candidates: over.candidates ?? [],
    current: over.current ?? [],
    policy: { desired: over.desired, holdDownMs: over.holdDownMs ?? 60_000 },
    now: over.now ?? NOW,
    lastFailure: over.lastFailure ?? new Map(),
    failedNow: over.failedNow ?? new Set(),
    ...(over.ready && { ready: over.ready }),
    ...(over.drainSettled && { drainSettled: over.drainSettled }),
  });
}

// a, b in z1; c, d in z2; e in z3.
const fiveInThreeZones = (): Candidate[] => [
  node('a', 'z1'),
  node('b', 'z1'),
  node('c', 'z2'),
  node('d', 'z2'),
  node('e', 'z3'),
];

void describe('schedule: initial placement', () => {
  void it('spreads 2 instances over 2 different zones out of 3, by zone then name', () => {
    const r = run({ candidates: fiveInThreeZones(), desired: 2 });
    assert.deepEqual(r.assignment, [
      { node: 'a', priority: 100 },
      { node: 'c', priority: 99 },
    ]);
    assert.deepEqual(r.added, r.assignment);
    assert.deepEqual(r.removed, []);
    assert.deepEqual(r.skipped, []);
    assert.equal(r.degraded, undefined);
    assert.equal(r.nextWakeMs, undefined);
  });

  void it('uses every zone before doubling up, then continues by name', () => {
    const r = run({ candidates: fiveInThreeZones(), desired: 4 });
    assert.deepEqual(
      r.assignment.map((i) => i.node),
      ['a', 'c', 'e', 'b'],
    );
    assert.deepEqual(
      r.assignment.map((i) => i.priority),
      [100, 99, 98, 97],
    );
  });

  void it('treats a missing zone as a zone of its own', () => {
    const r = run({ candidates: [node('a', 'z1'), node('b', 'z1'), node('x', undefined)], desired: 2 });
    assert.deepEqual(
      r.assignment.map((i) => i.node),
      ['a', 'x'],
    );
  });

  void it('does not depend on the order of the candidates', () => {
    const r1 = run({ candidates: fiveInThreeZones(), desired: 3 });
    const r2 = run({ candidates: fiveInThreeZones().reverse(), desired: 3 });
    assert.deepEqual(r1, r2);
  });
});

void describe('schedule: stability', () => {
  void it('changes nothing when all current instances are healthy and the count is right', () => {
    const current: Instance[] = [
      { node: 'd', priority: 7 },
      { node: 'b', priority: 300 },
    ];
    const r = run({ candidates: fiveInThreeZones(), current, desired: 2 });
    assert.deepEqual(r.assignment, [
      { node: 'b', priority: 300 },
      { node: 'd', priority: 7 },
    ]);
    assert.deepEqual(r.added, []);
    assert.deepEqual(r.removed, []);
  });

  void it('keeps a healthy instance on a node with a recent failure (hold-down only affects new picks)', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [{ node: 'a', priority: 100 }],
      lastFailure: new Map([['a', NOW - 1000]]),
      desired: 1,
    });
    assert.deepEqual(r.assignment, [{ node: 'a', priority: 100 }]);
    assert.deepEqual(r.removed, []);
    assert.deepEqual(r.skipped, []);
  });
});

void describe('schedule: replacement', () => {
  void it('replaces a failed instance below the survivors, in the least-used zone', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [
        { node: 'a', priority: 100 },
        { node: 'c', priority: 99 },
      ],
      failedNow: new Set(['a']),
      desired: 2,
    });
    // z1 and z3 both have 0 instances; b sorts before e. The survivor c becomes the active one.
    assert.deepEqual(r.assignment, [
      { node: 'c', priority: 99 },
      { node: 'b', priority: 98 },
    ]);
    assert.deepEqual(r.added, [{ node: 'b', priority: 98 }]);
    assert.deepEqual(r.removed, [{ node: 'a', reason: 'LeaseExpired' }]);
    // A removed current instance is reported in `removed`, not in `skipped`.
    assert.deepEqual(r.skipped, []);
  });

  void it('never preempts the active instance: newcomers rank below the lowest survivor', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [
        { node: 'a', priority: 500 },
        { node: 'c', priority: 40 },
        { node: 'e', priority: 900 },
      ],
      failedNow: new Set(['c']),
      desired: 4,
    });
    // d first: its zone z2 lost its instance; then b.
    assert.deepEqual(r.added, [
      { node: 'd', priority: 499 },
      { node: 'b', priority: 498 },
    ]);
    assert.equal(r.assignment[0]?.node, 'e');
  });

  void it('does not let priorities fall below 1', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [{ node: 'a', priority: 2 }],
      desired: 4,
    });
    assert.deepEqual(
      r.added.map((i) => i.priority),
      [1, 1, 1],
    );
  });

  void it('never gives a newcomer the inner address slot of the instance it replaces', () => {
    // The lowest-priority one dies: "just below the survivors" would be its own priority, and so
    // its inner address and MAC, which its peers still hold.
    const r = run({
      candidates: fiveInThreeZones(),
      current: [
        { node: 'a', priority: 100 },
        { node: 'c', priority: 99 },
      ],
      failedNow: new Set(['c']),
      desired: 2,
    });
    assert.deepEqual(r.removed, [{ node: 'c', reason: 'LeaseExpired' }]);
    assert.equal(r.added.length, 1);
    assert.equal(r.added[0]!.priority, 98);
  });

  void it('restarts near 100 when every current instance is gone, off the slots of the removed ones', () => {
    const r = run({
      candidates: [node('b', 'z1'), node('c', 'z2')],
      current: [
        { node: 'a', priority: 5 },
        { node: 'z', priority: 4 },
      ],
      desired: 2,
    });
    // 100 would share slot 4 (100 mod 16) with z.
    assert.deepEqual(r.assignment, [
      { node: 'b', priority: 99 },
      { node: 'c', priority: 98 },
    ]);
    assert.deepEqual(r.removed, [
      { node: 'a', reason: 'NodeGone' },
      { node: 'z', reason: 'NodeGone' },
    ]);
  });

  void it('removes with the most specific reason, the lease first; drains what is only drained', () => {
    const candidates = [
      node('lease', 'z1', { ready: false }),
      node('notready', 'z1', { ready: false, schedulable: false }),
      node('cordoned', 'z1', { schedulable: false }),
      node('draining', 'z1', { draining: true, schedulable: false }),
      node('noip', 'z1', { gatewayIP: undefined, draining: true }),
      node('loop', 'z1', { internalIP: '127.0.0.1', schedulable: false }),
      node('fresh', 'z2'),
    ];
    const current = ['lease', 'notready', 'cordoned', 'draining', 'noip', 'loop', 'gone'].map((n, i) => ({
      node: n,
      priority: 100 - i,
    }));
    const r = run({ candidates, current, failedNow: new Set(['lease']), desired: 1 });
    assert.deepEqual(r.removed, [
      { node: 'gone', reason: 'NodeGone' },
      { node: 'lease', reason: 'LeaseExpired' },
      { node: 'loop', reason: 'AddressUnusable' },
      { node: 'noip', reason: 'AddressUnusable' },
      { node: 'notready', reason: 'NodeNotReady' },
    ]);
    // Healthy but drained (cordoned, or labelled: the label names it): kept apart until replaced.
    assert.deepEqual(r.draining, [
      { node: 'cordoned', priority: 98, reason: 'Unschedulable' },
      { node: 'draining', priority: 97, reason: 'Draining' },
    ]);
    // The replacement ranks below the draining ones too: it must not take one's inner address slot,
    // nor one of the removed ones' (96, 95 and 94 are noip's, loop's and gone's).
    assert.deepEqual(r.assignment, [{ node: 'fresh', priority: 93 }]);
    assert.equal(r.drainCovered, false, 'the replacement is not Ready yet');
  });
});

void describe('schedule: drain (make before break)', () => {
  // a (z1, 100) and c (z2, 99) are the steady pair; b, d, e are spare.
  const steadyPair = [
    { node: 'a', priority: 100 },
    { node: 'c', priority: 99 },
  ];
  const withDrained = (name: string, over: Partial<Candidate> = { draining: true }) =>
    fiveInThreeZones().map((c) => (c.name === name ? { ...c, ...over } : c));

  void it('keeps the draining instance, out of the count, and places a replacement below every current one', () => {
    const r = run({
      candidates: withDrained('a'),
      current: steadyPair,
      desired: 2,
      ready: new Set(['a', 'c']),
    });
    assert.deepEqual(r.draining, [{ node: 'a', priority: 100, reason: 'Draining' }]);
    assert.deepEqual(r.removed, []);
    // The least-used zone without a: z1 has none now, z3 none; b (z1) sorts first.
    assert.deepEqual(r.added, [{ node: 'b', priority: 98 }]);
    assert.deepEqual(r.assignment, [
      { node: 'c', priority: 99 },
      { node: 'b', priority: 98 },
    ]);
    assert.equal(r.drainCovered, false);
    assert.equal(r.degraded, undefined);
  });

  void it('is not removed before its drain is both covered and settled', () => {
    const current = [...steadyPair, { node: 'b', priority: 98 }];
    const candidates = withDrained('a');
    // Settled but not covered (b not Ready yet): kept.
    let r = run({
      candidates,
      current,
      desired: 2,
      ready: new Set(['a', 'c']),
      drainSettled: new Set(['a']),
    });
    assert.equal(r.drainCovered, false);
    assert.deepEqual(
      r.draining.map((d) => d.node),
      ['a'],
    );
    // Covered but not settled: kept, and nothing else moves.
    r = run({ candidates, current, desired: 2, ready: new Set(['a', 'b', 'c']) });
    assert.equal(r.drainCovered, true);
    assert.deepEqual(
      r.draining.map((d) => d.node),
      ['a'],
    );
    assert.deepEqual(r.added, []);
    assert.deepEqual(r.removed, []);
    // Both: removed as Draining, the rest unchanged.
    r = run({ candidates, current, desired: 2, ready: new Set(['b', 'c']), drainSettled: new Set(['a']) });
    assert.deepEqual(r.removed, [{ node: 'a', reason: 'Draining' }]);
    assert.deepEqual(r.draining, []);
    assert.deepEqual(r.assignment, [
      { node: 'c', priority: 99 },
      { node: 'b', priority: 98 },
    ]);
    assert.deepEqual(r.added, []);
  });

  void it('drains a cordoned Node the same way, with reason Unschedulable', () => {
    const current = [...steadyPair, { node: 'b', priority: 98 }];
    const r = run({
      candidates: withDrained('c', { schedulable: false }),
      current,
      desired: 2,
      ready: new Set(['a', 'b']),
      drainSettled: new Set(['c']),
    });
    assert.deepEqual(r.removed, [{ node: 'c', reason: 'Unschedulable' }]);
  });

  void it('keeps it, Degraded, when no replacement can be placed', () => {
    const candidates = [node('a', 'z1', { draining: true }), node('c', 'z2')];
    const r = run({
      candidates,
      current: steadyPair,
      desired: 2,
      ready: new Set(['a', 'c']),
      drainSettled: new Set(['a']),
    });
    assert.deepEqual(r.draining, [{ node: 'a', priority: 100, reason: 'Draining' }]);
    assert.deepEqual(r.removed, []);
    assert.equal(r.drainCovered, false);
    assert.equal(
      r.degraded,
      '1 of 2 desired instances: only 1 eligible candidate (a: Draining, kept until replaced)',
    );
  });

  void it('places no 17th instance: at the limit a drain waits for desired to be lowered', () => {
    const candidates = Array.from({ length: 17 }, (_, i) =>
      node(`m${String(i).padStart(2, '0')}`, `z${i % 3}`),
    );
    const current = candidates.slice(0, 16).map((c, i) => ({ node: c.name, priority: 100 - i }));
    candidates[0] = { ...candidates[0]!, draining: true };
    const ready = new Set(current.map((i) => i.node));
    const r = run({ candidates, current, desired: 16, ready });
    assert.deepEqual(r.added, []);
    assert.deepEqual(
      r.draining.map((d) => d.node),
      ['m00'],
    );
    assert.match(
      r.degraded!,
      /^15 of 16 desired instances: draining instances hold the rest of the 16 instances/,
    );
    // Lowered to 15: covered by the 15 others, and it may go once settled.
    const lower = run({ candidates, current, desired: 15, ready, drainSettled: new Set(['m00']) });
    assert.deepEqual(lower.removed, [{ node: 'm00', reason: 'Draining' }]);
    assert.equal(lower.degraded, undefined);
  });

  void it('is cancelled when the label goes: the instance counts again and the newest one is scaled down', () => {
    const current = [...steadyPair, { node: 'b', priority: 98 }];
    const r = run({ candidates: fiveInThreeZones(), current, desired: 2, ready: new Set(['a', 'b', 'c']) });
    assert.deepEqual(r.draining, []);
    assert.deepEqual(r.removed, [{ node: 'b', reason: 'ScaledDown' }]);
    assert.deepEqual(r.assignment, steadyPair);
  });

  void it('still removes a draining instance at once when it fails, and everything when desired is 0', () => {
    const current = [...steadyPair, { node: 'b', priority: 98 }];
    let r = run({ candidates: withDrained('a'), current, desired: 2, failedNow: new Set(['a']) });
    assert.deepEqual(r.removed, [{ node: 'a', reason: 'LeaseExpired' }]);
    assert.deepEqual(r.draining, []);
    r = run({ candidates: withDrained('a'), current, desired: 0 });
    assert.deepEqual(
      r.removed.map((x) => [x.node, x.reason]),
      [
        ['a', 'ScaledDown'],
        ['b', 'ScaledDown'],
        ['c', 'ScaledDown'],
      ],
    );
    assert.deepEqual(r.draining, []);
  });
});

void describe('schedule: hold-down', () => {
  const holdDownMs = 30_000;

  void it('skips a recently failed node and says until when', () => {
    const r = run({
      candidates: [node('a', 'z1'), node('b', 'z2')],
      lastFailure: new Map([['a', NOW - 10_000]]),
      holdDownMs,
      desired: 1,
    });
    assert.deepEqual(r.assignment, [{ node: 'b', priority: 100 }]);
    assert.deepEqual(r.skipped, [
      {
        node: 'a',
        reason: 'HeldDown',
        detail:
          'held down until 2025-01-01T12:00:20.000Z after a failure at 2025-01-01T11:59:50.000Z (hold-down 30000 ms)',
      },
    ]);
    // Not degraded, so the end of the hold-down could not change anything.
    assert.equal(r.nextWakeMs, undefined);
  });

  void it('releases the node exactly when the hold-down has passed', () => {
    const input = {
      candidates: [node('a', 'z1')],
      lastFailure: new Map([['a', NOW - holdDownMs]]),
      holdDownMs,
      desired: 1,
    };
    assert.deepEqual(run(input).assignment, [{ node: 'a', priority: 100 }]);
    assert.deepEqual(run({ ...input, now: NOW - 1 }).assignment, []);
  });

  void it('reports degraded with the earliest hold-down end as the next wake-up', () => {
    const r = run({
      candidates: [node('a', 'z1'), node('b', 'z2'), node('c', 'z3'), node('d', 'z3')],
      lastFailure: new Map([
        ['c', NOW - 5_000],
        ['d', NOW - 1_000],
      ]),
      holdDownMs,
      desired: 3,
    });
    assert.deepEqual(
      r.assignment.map((i) => i.node),
      ['a', 'b'],
    );
    assert.equal(
      r.degraded,
      '2 of 3 desired instances: only 2 eligible candidates ' +
        '(c: HeldDown until 2025-01-01T12:00:25.000Z, d: HeldDown until 2025-01-01T12:00:29.000Z)',
    );
    assert.equal(r.nextWakeMs, NOW + 25_000);
  });

  void it('does not wake up for a held-down node that is also not ready', () => {
    const r = run({
      candidates: [node('a', 'z1', { ready: false })],
      lastFailure: new Map([['a', NOW - 1]]),
      holdDownMs,
      desired: 1,
    });
    assert.deepEqual(
      r.skipped.map((s) => s.reason),
      ['NotReady'],
    );
    assert.equal(r.nextWakeMs, undefined);
    assert.equal(r.degraded, '0 of 1 desired instances: only 0 eligible candidates (a: NotReady)');
  });
});

void describe('schedule: degraded', () => {
  void it('is unset when the desired count is met', () => {
    assert.equal(run({ candidates: fiveInThreeZones(), desired: 5 }).degraded, undefined);
  });

  void it('says when nothing matches the selector', () => {
    const r = run({ current: [{ node: 'old', priority: 100 }], desired: 2 });
    assert.equal(
      r.degraded,
      '0 of 2 desired instances: no candidate Nodes match the selector (old: NodeGone)',
    );
    assert.deepEqual(r.removed, [{ node: 'old', reason: 'NodeGone' }]);
  });

  void it('names one eligible candidate in the singular and caps the list of reasons', () => {
    const candidates = [
      node('ok', 'z1'),
      ...'abcdefg'.split('').map((n) => node(n, 'z2', { draining: true })),
    ];
    const r = run({ candidates, desired: 2 });
    assert.equal(
      r.degraded,
      '1 of 2 desired instances: only 1 eligible candidate ' +
        '(a: Draining, b: Draining, c: Draining, d: Draining, e: Draining, and 2 more)',
    );
  });
});

void describe('schedule: scale down', () => {
  void it('removes from the most crowded zone before a lower priority elsewhere', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [
        { node: 'a', priority: 100 },
        { node: 'b', priority: 99 },
        { node: 'c', priority: 97 },
        { node: 'e', priority: 98 },
      ],
      desired: 3,
    });
    assert.deepEqual(r.removed, [{ node: 'b', reason: 'ScaledDown' }]);
    assert.deepEqual(
      r.assignment.map((i) => i.node),
      ['a', 'e', 'c'],
    );
  });

  void it('removes from the most crowded zone first, then the lowest priority', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [
        { node: 'a', priority: 100 },
        { node: 'b', priority: 97 },
        { node: 'c', priority: 99 },
        { node: 'e', priority: 98 },
      ],
      desired: 2,
    });
    assert.deepEqual(r.assignment, [
      { node: 'a', priority: 100 },
      { node: 'c', priority: 99 },
    ]);
    assert.deepEqual(r.removed, [
      { node: 'b', reason: 'ScaledDown' },
      { node: 'e', reason: 'ScaledDown' },
    ]);
    assert.deepEqual(r.added, []);
  });

  void it('keeps the active instance even when its zone is crowded', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [
        { node: 'a', priority: 10 },
        { node: 'b', priority: 900 },
        { node: 'c', priority: 50 },
      ],
      desired: 2,
    });
    assert.deepEqual(r.assignment, [
      { node: 'b', priority: 900 },
      { node: 'c', priority: 50 },
    ]);
  });

  void it('removes failed instances for their own reason before scaling down the rest', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [
        { node: 'a', priority: 100 },
        { node: 'c', priority: 99 },
        { node: 'e', priority: 98 },
      ],
      failedNow: new Set(['e']),
      desired: 1,
    });
    assert.deepEqual(r.assignment, [{ node: 'a', priority: 100 }]);
    assert.deepEqual(r.removed, [
      { node: 'c', reason: 'ScaledDown' },
      { node: 'e', reason: 'LeaseExpired' },
    ]);
  });

  void it('removes everything, as ScaledDown, when desired is 0', () => {
    const r = run({
      candidates: fiveInThreeZones(),
      current: [
        { node: 'a', priority: 100 },
        { node: 'c', priority: 99 },
        { node: 'gone', priority: 98 },
      ],
      failedNow: new Set(['c']),
      desired: 0,
    });
    assert.deepEqual(r.assignment, []);
    assert.deepEqual(r.added, []);
    assert.deepEqual(r.removed, [
      { node: 'a', reason: 'ScaledDown' },
      { node: 'c', reason: 'ScaledDown' },
      { node: 'gone', reason: 'ScaledDown' },
    ]);
    assert.equal(r.degraded, undefined);
  });
});

void describe('schedule: unusable candidates', () => {
  void it('skips each with a reason and an actionable detail', () => {
    const candidates = [
      node('failed', 'z1', { ready: false }),
      node('notready', 'z1', { ready: false }),
      node('cordoned', 'z1', { schedulable: false }),
      node('draining', 'z1', { draining: true }),
      node('nogw', 'z1', { gatewayIP: undefined }),
      node('emptygw', 'z1', { gatewayIP: '' }),
      node('nointernal', 'z1', { internalIP: undefined }),
      node('loopback', 'z1', { gatewayIP: '127.0.0.1' }),
      node('linklocal', 'z1', { internalIP: 'fe80::1' }),
      node('garbage', 'z1', { gatewayIP: '10.0.0.01' }),
      node('v6ok', 'z2', { gatewayIP: '2001:db8::1', internalIP: 'fd00::1' }),
    ];
    const r = run({ candidates, failedNow: new Set(['failed']), desired: 1 });
    assert.deepEqual(r.assignment, [{ node: 'v6ok', priority: 100 }]);
    assert.deepEqual(r.skipped, [
      { node: 'cordoned', reason: 'Unschedulable', detail: 'Node is unschedulable (cordoned)' },
      { node: 'draining', reason: 'Draining', detail: 'Node is being drained' },
      { node: 'emptygw', reason: 'NoGatewayIP', detail: 'Node has no gateway IP' },
      {
        node: 'failed',
        reason: 'FailedNow',
        detail: 'the Gateway instance on this Node failed just now (e.g. its Lease expired)',
      },
      {
        node: 'garbage',
        reason: 'AddressUnusable',
        detail: 'gateway IP "10.0.0.01" is unusable: not an IP address',
      },
      {
        node: 'linklocal',
        reason: 'AddressUnusable',
        detail: 'internal IP "fe80::1" is unusable: link-local address',
      },
      {
        node: 'loopback',
        reason: 'AddressUnusable',
        detail: 'gateway IP "127.0.0.1" is unusable: loopback address',
      },
      { node: 'nogw', reason: 'NoGatewayIP', detail: 'Node has no gateway IP' },
      { node: 'nointernal', reason: 'NoInternalIP', detail: 'Node has no internal IP' },
      { node: 'notready', reason: 'NotReady', detail: 'Node is not Ready' },
    ]);
  });

  void it('removes a current instance whose address became unusable', () => {
    const r = run({
      candidates: [node('a', 'z1', { gatewayIP: '0.0.0.0' }), node('b', 'z2')],
      current: [{ node: 'a', priority: 100 }],
      desired: 1,
    });
    assert.deepEqual(r.removed, [{ node: 'a', reason: 'AddressUnusable' }]);
    // 100 would be a's slot, and a is removed in the same plan.
    assert.deepEqual(r.assignment, [{ node: 'b', priority: 99 }]);
  });
});

void describe('schedule: input validation', () => {
  void it('throws a TypeError for a negative or non-integer desired count', () => {
    for (const desired of [-1, 1.5, NaN, Infinity]) {
      assert.throws(() => run({ candidates: fiveInThreeZones(), desired }), TypeError, String(desired));
    }
  });

  void it('throws a TypeError for malformed inputs the controller must not produce', () => {
    assert.throws(() => run({ desired: 1, holdDownMs: -1 }), TypeError);
    assert.throws(() => run({ desired: 1, now: NaN }), TypeError);
    assert.throws(() => run({ candidates: [node('a', 'z1'), node('a', 'z2')], desired: 1 }), TypeError);
    const dup = [
      { node: 'a', priority: 1 },
      { node: 'a', priority: 2 },
    ];
    assert.throws(() => run({ candidates: [node('a', 'z1')], current: dup, desired: 1 }), TypeError);
    for (const priority of [0, 1001, 2.5]) {
      assert.throws(() => run({ current: [{ node: 'a', priority }], desired: 1 }), TypeError);
    }
  });
});
