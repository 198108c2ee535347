// Flap damping (src/agent/damping.ts): penalties that add up with flaps and decay, suppression
// with a lower reuse threshold, never held out longer than the maximum after the last flap.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_DAMPING, FLAP_PENALTY, FlapDamping } from '../../src/agent/damping.ts';

const H = DEFAULT_DAMPING.halfLifeMs;
const flapTimes = fc
  .array(fc.integer({ min: 0, max: 120_000 }), { minLength: 1, maxLength: 40 })
  .map((a) => [...a].sort((x, y) => x - y));

/** When the peer is first usable again after its flaps, found by stepping 1 ms at a time from the last. */
function reusedAt(d: FlapDamping, last: number): number {
  let t = last;
  while (d.verdict('p', t).suppressed) t += 1;
  return t;
}

describe('FlapDamping', () => {
  test('one flap holds a peer out for two half-lives (1000 decays below 250)', () => {
    const d = new FlapDamping();
    assert.deepEqual(d.flap('p', 0), { penalty: FLAP_PENALTY, suppressed: true });
    assert.equal(d.verdict('p', 2 * H - 2).suppressed, true);
    assert.equal(d.verdict('p', 2 * H + 1).suppressed, false);
    assert.equal(d.verdict('other', 0).suppressed, false);
  });

  test('each flap adds its penalty to what is left of the earlier ones; without flaps it only decays', () => {
    const cap = DEFAULT_DAMPING.reuseBelow * 2 ** (DEFAULT_DAMPING.maxSuppressMs / H);
    fc.assert(
      fc.property(flapTimes, fc.integer({ min: 1, max: 60_000 }), (times, later) => {
        const d = new FlapDamping();
        let want = 0;
        let prev = times[0]!;
        for (const t of times) {
          want = Math.min(cap, want * 2 ** (-(t - prev) / H) + FLAP_PENALTY);
          prev = t;
          if (Math.abs(d.flap('p', t).penalty - want) > 1e-6 * want) return false;
        }
        const a = d.verdict('p', prev + later).penalty;
        const b = d.verdict('p', prev + later + 1000).penalty;
        return b <= a && a <= want;
      }),
    );
  });

  test('never held out longer than maxSuppressMs after the last flap; more flaps never shorten it', () => {
    fc.assert(
      fc.property(flapTimes, (times) => {
        const d = new FlapDamping();
        for (const t of times) d.flap('p', t);
        const last = times.at(-1)!;
        const reuse = reusedAt(d, last);
        if (reuse - last > DEFAULT_DAMPING.maxSuppressMs + 1) return false;
        const d2 = new FlapDamping();
        for (const t of times) d2.flap('p', t);
        d2.flap('p', last);
        return reusedAt(d2, last) >= reuse;
      }),
      { numRuns: 60 },
    );
  });

  test('nextReuse is when the verdict turns', () => {
    fc.assert(
      fc.property(flapTimes, (times) => {
        const d = new FlapDamping();
        for (const t of times) d.flap('p', t);
        const last = times.at(-1)!;
        const at = d.nextReuse(last)!;
        const probe = new FlapDamping();
        for (const t of times) probe.flap('p', t);
        return (
          probe.verdict('p', at - 2).suppressed &&
          !d.verdict('p', at).suppressed &&
          d.nextReuse(at) === undefined
        );
      }),
      { numRuns: 60 },
    );
  });

  test('a peer that stopped flapping is forgotten once its penalty is gone; forget() drops it', () => {
    const d = new FlapDamping();
    d.flap('p', 0);
    d.flap('q', 0);
    assert.deepEqual([...d.suppressed(1)].sort(), ['p', 'q']);
    d.forget('q');
    assert.deepEqual([...d.penalties(1).keys()], ['p']);
    assert.deepEqual(d.penalties(20 * H).size, 0);
  });

  test('thresholds out of order are refused', () => {
    assert.throws(() => new FlapDamping({ ...DEFAULT_DAMPING, reuseBelow: 600 }), /reuseBelow/);
    assert.throws(() => new FlapDamping({ ...DEFAULT_DAMPING, halfLifeMs: 0 }), /half-life/);
  });
});
