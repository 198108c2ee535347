// The path-quality estimator (src/bfd/quality.ts): lost packets from the gaps between BFD Control
// packets, told apart from a busy receiver's bursts, and a degraded verdict with hysteresis.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_QUALITY, PathQuality } from '../../src/bfd/quality.ts';

const I = 50; // ms, the negotiated interval

/** A small deterministic PRNG (mulberry32), so statistical runs are the same every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Send times of a jittered sender (75-100 % of I per interval) over `ms`. */
function sends(rand: () => number, ms: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < ms; t += I * (0.75 + 0.25 * rand())) out.push(t);
  return out;
}

describe('PathQuality', () => {
  test('a clean path with receive delays up to 0.35 intervals counts nothing lost', () => {
    fc.assert(
      fc.property(fc.integer(), fc.double({ min: 0, max: 0.35, noNaN: true }), (seed, maxDelay) => {
        const rand = prng(seed);
        const q = new PathQuality();
        let last = -Infinity;
        for (const s of sends(rand, 20_000)) {
          const at = Math.max(last, s + maxDelay * I * rand());
          last = at;
          q.onPacket(at, I);
          const r = q.read(at);
          if (r.lost !== 0 || r.degraded) return false;
        }
        return true;
      }),
    );
  });

  test("a receiver's stalls (queued packets read late in a burst) are not loss", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.array(
          fc.record({ at: fc.integer({ min: 0, max: 19_000 }), len: fc.integer({ min: 5, max: 400 }) }),
          {
            maxLength: 30,
          },
        ),
        (seed, stalls) => {
          const rand = prng(seed);
          const q = new PathQuality();
          // Overlapping stalls are one longer stall.
          const merged: { at: number; len: number }[] = [];
          for (const x of [...stalls].sort((a, b) => a.at - b.at)) {
            const m = merged.at(-1);
            if (m && x.at <= m.at + m.len) m.len = Math.max(m.len, x.at + x.len - m.at);
            else merged.push({ ...x });
          }
          let last = -Infinity;
          for (const s of sends(rand, 20_000)) {
            // A packet that arrives during a stall is read when the stall ends, right after the
            // ones queued before it.
            const stall = merged.find((x) => s >= x.at && s < x.at + x.len);
            const at = Math.max(last + 0.01, stall ? stall.at + stall.len : s);
            last = at;
            q.onPacket(at, I);
          }
          const r = q.read(last);
          return r.lost === 0 && !r.degraded;
        },
      ),
    );
  });

  test('every 20th packet lost (5 %): degraded once three losses are in the window', () => {
    const q = new PathQuality();
    let degradedAt: number | undefined;
    let n = 0;
    for (let t = 0; t < 20_000; t += I * 0.875) {
      if (++n % 20 === 0) continue;
      q.onPacket(t, I);
      if (q.read(t).degraded) degradedAt ??= t;
      else assert.equal(degradedAt, undefined, `restored at ${t} while still lossy`);
    }
    assert.ok(degradedAt !== undefined && degradedAt < 3_000, `degraded at ${degradedAt} ms`);
  });

  test('5 % random loss: degraded within 5 s in most runs (3.5 s on average), within 15 s in all, no flapping', () => {
    // With three losses needed, P(at least 3 of about 114 packets lost in the first 5 s) is 0.92.
    let within5 = 0;
    let sum = 0;
    const runs = 200;
    for (let seed = 1; seed <= runs; seed++) {
      const rand = prng(seed);
      const q = new PathQuality();
      let degradedAt: number | undefined;
      let flips = 0;
      let was = false;
      for (const s of sends(rand, 60_000)) {
        if (rand() < 0.05) continue;
        q.onPacket(s, I);
        const d = q.read(s).degraded;
        if (d !== was) flips++;
        was = d;
        if (d) degradedAt ??= s;
      }
      assert.ok(degradedAt !== undefined && degradedAt < 15_000, `seed ${seed}: degraded at ${degradedAt}`);
      assert.equal(flips, 1, `seed ${seed}: the verdict changed ${flips} times`);
      if (degradedAt < 5_000) within5++;
      sum += degradedAt;
    }
    assert.ok(within5 >= 0.85 * runs, `${within5} of ${runs} runs degraded within 5 s`);
    assert.ok(sum / runs < 4_000, `degraded after ${Math.round(sum / runs)} ms on average`);
  });

  test('whole again only after a whole calm window; a reset forgets', () => {
    const q = new PathQuality();
    let t = 0;
    let n = 0;
    let lastDrop = 0;
    for (; t < 5_000; t += I * 0.875) {
      if (++n % 10 !== 0) q.onPacket(t, I);
      else lastDrop = t;
    }
    assert.equal(q.read(t).degraded, true);
    let restoredAt: number | undefined;
    for (; t < 20_000; t += I * 0.875) {
      q.onPacket(t, I);
      if (!q.read(t).degraded) restoredAt ??= t;
    }
    // The last loss leaves the window after windowMs, and the calm must then last a window more.
    const W = DEFAULT_QUALITY.windowMs;
    assert.ok(restoredAt !== undefined, 'restored');
    const after = restoredAt - lastDrop;
    assert.ok(after >= 2 * W - I && after <= 2 * W + 4 * I, `restored ${after} ms after the last loss`);
    q.reset();
    assert.deepEqual(q.read(t), { received: 0, lost: 0, ratio: 0, degraded: false });
  });

  test('thresholds out of order are refused', () => {
    assert.throws(() => new PathQuality({ ...DEFAULT_QUALITY, restoreBelow: 0.05 }), /restoreBelow/);
    assert.throws(() => new PathQuality({ ...DEFAULT_QUALITY, windowMs: 0 }), /window/);
  });
});
