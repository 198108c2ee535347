// Which trials' loss figures are trusted (src/lab/validity.ts), and how the traffic endpoints'
// answers are read into directions (src/lab/loss.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { TrafficReportError, lossByDirection } from '../../src/lab/loss.ts';
import { STALL_SHARE, bfdDetectionFloorMs, invalidReasons } from '../../src/lab/validity.ts';
import type { LossFloor } from '../../src/lab/validity.ts';

const floor: LossFloor = { ms: 100, directions: ['a>b'], what: 'the BFD detection minimum' };

describe('trial validity', () => {
  test('the BFD floor is (mult - 1) x tx: 100 ms at 50 ms x 3, 40 ms at 20 ms x 3', () => {
    assert.equal(bfdDetectionFloorMs({ txMs: 50, mult: 3 }), 100);
    assert.equal(bfdDetectionFloorMs({ txMs: 20, mult: 3 }), 40);
    assert.equal(bfdDetectionFloorMs({ txMs: 300, mult: 1 }), 0);
  });

  test("issue 12's figures: 10, 21 and 62 ms at 50 ms x 3 are invalid, 114 ms is not", () => {
    for (const w of [10, 21, 62]) {
      const r = invalidReasons(
        {
          'a>b': { lossWindowMs: w, windowSenderStalledMs: 0 },
          'b>a': { lossWindowMs: 0, windowSenderStalledMs: 0 },
        },
        floor,
      );
      assert.deepEqual(r, [`a>b: loss window ${w} ms is below the BFD detection minimum (100 ms)`]);
    }
    assert.deepEqual(invalidReasons({ 'a>b': { lossWindowMs: 114, windowSenderStalledMs: 0 } }, floor), []);
    // Only the carried direction must wait for detection; b>a may have used another Gateway.
    assert.deepEqual(
      invalidReasons(
        {
          'a>b': { lossWindowMs: 120, windowSenderStalledMs: 0 },
          'b>a': { lossWindowMs: 0, windowSenderStalledMs: 0 },
        },
        floor,
      ),
      [],
    );
    // A direction the floor applies to and that has no report at all is not a pass.
    assert.deepEqual(invalidReasons({}, floor), ['a>b: no report']);
  });

  test('a sender stall in a window makes it invalid; an open window (stall unknown) does not; no floor, no floor check', () => {
    assert.deepEqual(invalidReasons({ 'b>a': { lossWindowMs: 140, windowSenderStalledMs: 25 } }, null), [
      'b>a: the sender stalled 25 ms within the 140 ms loss window',
    ]);
    assert.deepEqual(
      invalidReasons({ 'a>b': { lossWindowMs: 3000, windowSenderStalledMs: null } }, floor),
      [],
    );
    assert.deepEqual(invalidReasons({ 'a>b': { lossWindowMs: 0, windowSenderStalledMs: 0 } }, null), []);
    // A baseline window of 40 s is not thrown away for a 30 ms pause.
    assert.deepEqual(
      invalidReasons({ 'a>b': { lossWindowMs: 40_000, windowSenderStalledMs: 30 } }, null),
      [],
    );
  });

  test('valid exactly when every floored direction reaches the floor and no stall takes over a tenth of its window', () => {
    const dir = fc.record({
      lossWindowMs: fc.integer({ min: 0, max: 5000 }),
      windowSenderStalledMs: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null }),
    });
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('a>b', 'b>a', 'a>c', 'c>a'), dir),
        fc.option(
          fc.record({
            ms: fc.integer({ min: 0, max: 300 }),
            directions: fc.subarray(['a>b', 'b>a', 'a>c']),
            what: fc.constant('floor'),
          }),
          { nil: null },
        ),
        (loss, f) => {
          const reasons = invalidReasons(loss, f);
          const below = (f?.directions ?? []).filter((d) => !loss[d] || loss[d].lossWindowMs < f!.ms);
          const stalled = Object.entries(loss).filter(
            ([, l]) =>
              l.windowSenderStalledMs !== null && l.windowSenderStalledMs > STALL_SHARE * l.lossWindowMs,
          );
          assert.equal(reasons.length, below.length + stalled.length, JSON.stringify({ loss, f, reasons }));
          for (const d of below) assert.ok(reasons.some((r) => r.startsWith(`${d}: `)));
          for (const [d] of stalled) assert.ok(reasons.some((r) => r.startsWith(`${d}: the sender stalled`)));
        },
      ),
    );
  });
});

describe('traffic reports by direction', () => {
  const source = {
    from: 10,
    to: 900,
    received: 770,
    lost: 120,
    windows: 1,
    lossWindowMs: 120.4,
    ongoingMs: 0,
    windowSenderStalledMs: 0,
    senderStalls: 2,
    senderStalledMs: 51.2,
  };
  const clusterOf = new Map([
    ['198.18.64.10', 'a'],
    ['198.18.65.10', 'b'],
  ]);

  test('each receiver names its sources by address; a direction is sender>receiver', () => {
    const loss = lossByDirection(
      new Map<string, unknown>([
        ['b', { id: 'm', sources: { '198.18.64.10': source } }],
        [
          'a',
          {
            id: 'm',
            sources: { '198.18.65.10': { ...source, lossWindowMs: 0, windowSenderStalledMs: null } },
          },
        ],
      ]),
      clusterOf,
    );
    assert.deepEqual(Object.keys(loss).sort(), ['a>b', 'b>a']);
    assert.equal(loss['a>b']!.lossWindowMs, 120.4);
    assert.equal(loss['a>b']!.senderStalledMs, 51.2);
    assert.equal(loss['b>a']!.windowSenderStalledMs, null);
  });

  test('an answer that is not a report is refused with what is wrong', () => {
    const bad = (sources: unknown) => () =>
      lossByDirection(new Map<string, unknown>([['b', { id: 'm', sources }]]), clusterOf);
    assert.throws(bad(undefined), TrafficReportError);
    assert.throws(
      bad({ '198.18.64.10': { ...source, lost: 'many' } }),
      /source 198.18.64.10: lost is not a number/,
    );
    // An endpoint from before send times were stamped has no stall fields.
    assert.throws(
      bad({ '198.18.64.10': { received: 1, lost: 0, lossWindowMs: 0 } }),
      /windowSenderStalledMs is neither a number nor null/,
    );
    assert.throws(bad({ '198.18.99.1': source }), /source 198.18.99.1 is no cluster's pod/);
  });
});
