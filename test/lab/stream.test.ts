// The stream's arithmetic (src/lab/stream.mjs), driven with made-up times: the packet, the pacing
// and the loss windows, above all that a window read from send times is never shorter than the
// outage (less one interval) however the sender stalls, which the count of lost numbers was not.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  GapTrack,
  PACKET_BYTES,
  Pacer,
  decodePacket,
  encodePacket,
  stallThresholdMs,
} from '../../src/lab/stream.mjs';
import type { Packet } from '../../src/lab/stream.mjs';

interface Tick {
  at: number;
  stall: { atMs: number; ms: number } | null;
  packets: Packet[];
}

/** A sender whose ticks come `steps` (each at least one interval) apart, from time 1000. */
function send(gapMs: number, steps: readonly number[]): { pacer: Pacer; ticks: Tick[]; packets: Packet[] } {
  let at = 1000;
  const pacer = new Pacer(at, gapMs);
  const ticks: Tick[] = [];
  for (const step of [0, ...steps]) {
    at += step;
    const { from, to, stall, stamp } = pacer.tick(at);
    const packets: Packet[] = [];
    for (let seq = from; seq < to; seq++) packets.push({ seq, ...stamp });
    ticks.push({ at, stall, packets });
  }
  return { pacer, ticks, packets: ticks.flatMap((t) => t.packets) };
}

interface Write {
  p: Packet;
  /** When the packet was written, and its send callback ran. */
  at: number;
  copy: boolean;
}

/**
 * Like send(), but each tick's packets are written, and their send callbacks run, at a point
 * `late[k]` of the way from that tick to the next (1: the sender was stopped between the stamps and
 * the writes until the next tick). What traffic.mjs does in the callback: a packet written more than
 * an interval after its stamp goes again, stamped then (Pacer.wrote).
 */
function sendWritten(gapMs: number, steps: readonly number[], late: readonly number[]) {
  let at = 1000;
  const times = [0, ...steps].map((s) => (at += s));
  const pacer = new Pacer(times[0]!, gapMs);
  const writes: Write[] = [];
  times.forEach((t, k) => {
    const { from, to, stamp } = pacer.tick(t);
    const w = t + (late[k % late.length] ?? 0) * ((times[k + 1] ?? t) - t);
    for (let seq = from; seq < to; seq++) writes.push({ p: { seq, ...stamp }, at: w, copy: false });
    for (let seq = from; seq < to; seq++) {
      const again = pacer.wrote(stamp.sentMs, w);
      if (again) writes.push({ p: { seq, ...again }, at: w, copy: true });
    }
  });
  return { pacer, writes };
}

/** Tick spacing: mostly on time or a little late, one time in `oneIn` a stall of up to 400 ms. */
const steps = (gapMs: number, oneIn = 9) =>
  fc.array(
    fc.oneof(
      {
        weight: oneIn - 1,
        arbitrary: fc.integer({ min: gapMs * 10, max: gapMs * 10 + 150 }).map((k) => k / 10),
      },
      { weight: 1, arbitrary: fc.integer({ min: 10, max: 4000 }).map((k) => k / 10 + gapMs) },
    ),
    { minLength: 20, maxLength: 400, size: 'max' },
  );

const near = (a: number, b: number, eps = 0.051) => Math.abs(a - b) <= eps;

describe('stream packet', () => {
  test('decodes what was encoded; anything but 24 bytes is not a packet', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        // Up to ~115 days of uptime, in whole microseconds.
        fc.integer({ min: 0, max: 10 ** 13 }),
        fc.integer({ min: 0, max: 10 ** 12 }),
        (seq, stalls, sentUs, stalledUs) => {
          const p = { seq, stalls, sentMs: sentUs / 1000, stalledMs: stalledUs / 1000 };
          const b = encodePacket(p);
          assert.equal(b.length, PACKET_BYTES);
          const d = decodePacket(b)!;
          assert.equal(d.seq, seq);
          assert.equal(d.stalls, stalls);
          assert.ok(
            near(d.sentMs, p.sentMs, 1e-6) && near(d.stalledMs, p.stalledMs, 1e-6),
            JSON.stringify(d),
          );
        },
      ),
    );
    assert.equal(decodePacket(Buffer.alloc(16)), null);
    assert.equal(decodePacket(Buffer.alloc(25)), null);
  });
});

describe('Pacer', () => {
  test('sends every number once, all due ones at each tick, and after a stall starts the schedule afresh', () => {
    // Whole milliseconds, so that "due" has no rounding to argue about.
    const wholeSteps = (g: number) => steps(g).map((s) => s.map((x) => Math.max(g, Math.round(x))));
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 10).chain((g) => wholeSteps(g).map((s) => [g, s] as const)),
        ([gapMs, s]) => {
          const { pacer, ticks, packets } = send(gapMs, s);
          assert.deepEqual(
            packets.map((p) => p.seq),
            packets.map((_, i) => i),
          );
          const threshold = stallThresholdMs(gapMs);
          let stalled = 0;
          // The schedule: from `since` on, number `first` + k falls due at since + k × gap.
          let since = 1000;
          let first = 0;
          for (let i = 0; i < ticks.length; i++) {
            const t = ticks[i]!;
            const silence = i ? t.at - ticks[i - 1]!.at : 0;
            assert.equal(t.stall !== null, silence > threshold, `silence ${silence}`);
            if (t.stall) {
              assert.deepEqual(t.stall, { atMs: ticks[i - 1]!.at, ms: silence });
              stalled += silence;
              // The numbers owed for the stall are not sent in a burst: one now, then on schedule.
              assert.equal(t.packets.length, 1);
              since = t.at;
              first = t.packets[0]!.seq;
            }
            // Ticks are at least an interval apart, so each sends something, and all that is due.
            assert.ok(t.packets.length > 0);
            assert.equal(t.packets.at(-1)!.seq, first + Math.floor((t.at - since) / gapMs), `tick ${i}`);
            // Every packet carries the stalls up to its own tick.
            for (const p of t.packets) assert.ok(near(p.stalledMs, stalled, 1e-6));
          }
          assert.ok(near(pacer.stalledMs, stalled, 1e-6));
        },
      ),
    );
  });

  test('reports its own stalls since a mark, with their times', () => {
    const p = new Pacer(0, 1);
    p.tick(0);
    p.tick(1);
    const m = p.mark();
    p.tick(2);
    p.tick(302); // SIGSTOPped for 300 ms
    p.tick(303);
    p.tick(330); // a 27 ms GC pause
    assert.deepEqual(p.since(m), {
      sent: 4,
      resent: 0,
      stalls: 2,
      stalledMs: 327,
      latest: [
        { atMs: 2, ms: 300 },
        { atMs: 303, ms: 27 },
      ],
    });
  });
});

/** The loss windows of a received set, the slow obvious way: sort, and look at each neighbour. */
function reference(received: readonly Packet[], gapMs: number) {
  const seen = [...new Map(received.map((p) => [p.seq, p])).values()].sort((a, b) => a.seq - b.seq);
  let lost = 0;
  let longest = { ms: 0, stalledMs: 0 };
  let windows = 0;
  for (let k = 1; k < seen.length; k++) {
    const [i, j] = [seen[k - 1]!, seen[k]!];
    if (j.seq === i.seq + 1) continue;
    windows++;
    lost += j.seq - i.seq - 1;
    const ms = Math.max(0, j.sentMs - i.sentMs - gapMs);
    if (ms > longest.ms || windows === 1) longest = { ms, stalledMs: j.stalledMs - i.stalledMs };
  }
  return { lost, windows, longest, received: seen.length };
}

describe('Pacer: a packet written late', () => {
  test('goes again stamped at its write; a stop before the write is one stall, and no burst follows', () => {
    const p = new Pacer(0, 1);
    for (let t = 0; t <= 10; t++) p.tick(t);
    const m = p.mark();
    const on = p.tick(11);
    // Its callback at once: no copy.
    assert.equal(p.wrote(on.stamp.sentMs, 11.05), null);
    // Stamped at 12, then SIGSTOPped until 312: the write and its callback come after.
    const stopped = p.tick(12);
    assert.deepEqual(p.wrote(stopped.stamp.sentMs, 312), { sentMs: 312, stalls: 1, stalledMs: 300 });
    assert.deepEqual(p.log.at(-1), { atMs: 12, ms: 300 });
    // The next tick records no second stall and sends what fell due since 312, not the 300 owed.
    const next = p.tick(313);
    assert.equal(next.stall, null);
    assert.deepEqual([next.from, next.to], [stopped.to, stopped.to + 2]);
    // Written 5 ms late (more than an interval, less than a stall): a copy, and no stall.
    const slow = p.tick(314);
    assert.deepEqual(p.wrote(slow.stamp.sentMs, 319), { sentMs: 319, stalls: 1, stalledMs: 300 });
    assert.equal(p.wrote(319, 320), null);
    assert.deepEqual(p.since(m), {
      sent: slow.to - on.from,
      resent: 2,
      stalls: 1,
      stalledMs: 300,
      latest: [{ atMs: 12, ms: 300 }],
    });
  });
});

describe('GapTrack', () => {
  test('whatever the order of arrival and duplicates, the windows are those of the set received', () => {
    fc.assert(
      fc.property(
        steps(1),
        fc.func(fc.boolean()),
        fc.array(fc.nat(), { maxLength: 50 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (s, drop, swaps, dups) => {
          const { packets } = send(1, s);
          const got = packets.filter((p) => !drop(p.seq));
          // Reordering: neighbours swapped; duplicates: packets delivered twice.
          for (const k of swaps)
            if (got.length > 1) {
              const i = k % (got.length - 1);
              [got[i], got[i + 1]] = [got[i + 1]!, got[i]!];
            }
          for (const k of dups) if (got.length) got.splice(k % got.length, 0, got[k % got.length]!);
          const t = new GapTrack();
          for (const p of got) t.add(p);
          // Numbers below the first arrival are from before this receiver's stream began: late
          // ones among them are ignored, as the stream's start is.
          const ref = reference(got.length ? got.filter((p) => p.seq >= got[0]!.seq) : [], 1);
          const r = t.report(null, got.length ? Math.max(...got.map((p) => p.sentMs)) : 0, 1);
          assert.equal(r.lost, ref.lost, JSON.stringify({ r, ref }));
          assert.equal(r.windows, ref.windows);
          assert.ok(near(r.lossWindowMs, ref.longest.ms), JSON.stringify({ r, ref }));
          assert.ok(near(r.windowSenderStalledMs!, ref.longest.stalledMs), JSON.stringify({ r, ref }));
          assert.equal(r.ongoingMs, 0);
        },
      ),
    );
  });

  test('a path down from A to B: the window is never shorter than B - A less one interval, however the sender stalls', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2).chain((g) => steps(g, 60).map((s) => [g, s] as const)),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 2000 }),
        ([gapMs, s], startPerMille, lengthTenths) => {
          const { ticks, packets } = send(gapMs, s);
          const A = 1000 + (packets.at(-1)!.sentMs - 1000) * (startPerMille / 1000);
          const B = A + lengthTenths / 10;
          const t = new GapTrack();
          const lost = packets.filter((p) => p.sentMs >= A && p.sentMs < B);
          for (const p of packets) if (p.sentMs < A || p.sentMs >= B) t.add(p);
          const last = packets.at(-1)!;
          const r = t.report(null, last.sentMs, gapMs);
          const closed = packets.some((p) => p.sentMs < A) && last.sentMs >= B;
          if (!lost.length || !closed) {
            // Nothing was sent while the path was down (a stall covered it), or nothing after it:
            // no closed window; this is what the validity floor is for.
            assert.equal(r.windows, 0);
            return;
          }
          assert.equal(r.windows, 1);
          assert.equal(r.lost, lost.length);
          assert.ok(r.lossWindowMs > B - A - gapMs - 0.051, `window ${r.lossWindowMs} < ${B - A} - ${gapMs}`);
          // Longer only by the sender's silences at the window's edges; any longer than the stall
          // threshold is reported as a stall in the window.
          if (r.windowSenderStalledMs === 0)
            assert.ok(
              r.lossWindowMs <= B - A + 2 * stallThresholdMs(gapMs) - gapMs + 0.051,
              `window ${r.lossWindowMs} for an outage of ${B - A} without a stall`,
            );
          // The stall the receiver sees is the sender's own, to the tenth of a millisecond.
          const i = packets.filter((p) => p.sentMs < A).at(-1)!;
          const j = packets.find((p) => p.sentMs >= B)!;
          const truth = ticks
            .filter((k) => k.stall && k.at > i.sentMs && k.at <= j.sentMs)
            .reduce((n, k) => n + k.stall!.ms, 0);
          assert.ok(near(r.windowSenderStalledMs!, truth), `${r.windowSenderStalledMs} vs ${truth}`);
        },
      ),
    );
  });

  test('a sender stalled through a cut: lost numbers say 20 ms, send times say 320 ms and name the stall', () => {
    // 1,000 pps. The path is down from 1000 to 1200; the sender's last tick before it stops is at
    // 1019, and it resumes at 1320, when the path is back. (Before send times, the sender caught up
    // with a burst of the 300 numbers it owed, which arrived: the count said 20 ms then too.)
    const pacer = new Pacer(0, 1);
    const t = new GapTrack();
    const at = [...Array.from({ length: 1020 }, (_, k) => k), 1320, 1321, 1322];
    let lost = 0;
    for (const now of at) {
      const { from, to, stamp } = pacer.tick(now);
      for (let seq = from; seq < to; seq++) {
        if (now >= 1000 && now < 1200) lost++;
        else t.add({ seq, ...stamp });
      }
    }
    const r = t.report(null, 1322, 1);
    assert.equal(lost, 20);
    assert.equal(r.lost, 20);
    assert.equal(r.lossWindowMs, 320);
    assert.equal(r.windowSenderStalledMs, 301);
    assert.equal(r.senderStalls, 1);
  });

  test('copies of a number: a window ends at the one stamped latest and begins at the one stamped earliest, in any order', () => {
    const pk = (seq: number, sentMs: number, stalledMs = 0): Packet => ({
      seq,
      sentMs,
      stalls: stalledMs ? 1 : 0,
      stalledMs,
    });
    // 0-9 arrive; 10-19 are lost; 20, stamped at 20, is written after a 300 ms stop and arrives
    // with its copy stamped at 320; 9 has a copy too (stamped 15, a slow write, no stall).
    const before = Array.from({ length: 10 }, (_, k) => pk(k, k));
    const extra = [pk(9, 15), pk(20, 20), pk(20, 320, 300), pk(21, 321, 300)];
    const orders = [
      extra,
      [extra[2]!, extra[0]!, extra[1]!, extra[3]!],
      [extra[1]!, extra[3]!, extra[2]!, extra[0]!],
    ];
    for (const order of orders) {
      const t = new GapTrack();
      for (const p of before) t.add(p);
      const kinds = order.map((p) => t.add(p));
      // The copies and the reordered originals are duplicates; the rest is new.
      assert.equal(kinds.filter((k) => k === 'duplicate').length, 2, JSON.stringify(order));
      const r = t.report(null, 321, 1);
      assert.deepEqual(
        [r.windows, r.lost, r.lossWindowMs, r.windowSenderStalledMs, r.windowSentMs],
        [1, 10, 310, 300, [9, 320]],
        JSON.stringify(order),
      );
      // A network duplicate (the same stamp) changes nothing.
      assert.equal(t.add(pk(20, 320, 300)), 'duplicate');
      assert.equal(t.report(null, 321, 1).lossWindowMs, 310);
    }
  });

  test('a copy of a packet alone between two runs of losses: the window before ends late, the one after begins early', () => {
    const t = new GapTrack();
    for (let k = 0; k <= 5; k++) t.add({ seq: k, sentMs: k, stalls: 0, stalledMs: 0 });
    // 6-9 lost; 10 written after a 30 ms stop; 11-14 lost; 15 on time after the stop.
    t.add({ seq: 10, sentMs: 10, stalls: 0, stalledMs: 0 });
    t.add({ seq: 15, sentMs: 45, stalls: 1, stalledMs: 30 });
    t.add({ seq: 10, sentMs: 40, stalls: 1, stalledMs: 30 });
    assert.deepEqual(
      t.gaps.map((g) => [g.after.sentMs, g.before.sentMs]),
      [
        [5, 40],
        [10, 45],
      ],
    );
    const r = t.report(null, 45, 1);
    assert.deepEqual([r.windows, r.lost, r.lossWindowMs, r.windowSenderStalledMs], [2, 8, 34, 30]);
  });

  test('a sender stopped between a stamp and its write, through a cut: the copy makes the window span the cut and name the stop', () => {
    // 1,000 pps. The path is down from 1000 to 1200 (by write time). The packet stamped at 1050 is
    // written only at 1350, after a 300 ms stop; the sender then ticks on. Without the copy the
    // window ended at that packet's stamp: 50 ms, no stall (seen in a CI run: 52.5 ms for a cut of
    // about 170 ms).
    const pacer = new Pacer(0, 1);
    const withCopies = new GapTrack();
    const originalsOnly = new GapTrack();
    const down = (w: number) => w >= 1000 && w < 1200;
    for (const t of [...Array.from({ length: 1051 }, (_, k) => k), 1351, 1352]) {
      const { from, to, stamp } = pacer.tick(t);
      const w = t === 1050 ? 1350 : t;
      for (let seq = from; seq < to; seq++) {
        if (down(w)) continue;
        withCopies.add({ seq, ...stamp });
        originalsOnly.add({ seq, ...stamp });
        const again = pacer.wrote(stamp.sentMs, w);
        if (again) withCopies.add({ seq, ...again });
      }
    }
    const old = originalsOnly.report(null, 1352, 1);
    assert.deepEqual([old.lossWindowMs, old.windowSenderStalledMs], [50, 0]);
    const r = withCopies.report(null, 1352, 1);
    assert.deepEqual(
      [r.windows, r.lost, r.lossWindowMs, r.windowSenderStalledMs, r.windowSentMs],
      [1, 50, 350, 300, [999, 1350]],
    );
    assert.deepEqual(pacer.log, [{ atMs: 1050, ms: 300 }]);
  });

  test('a path down from A to B, packets written late: the window still spans it and names a stop before the write that closes it', () => {
    // How late each tick's writes come, as a share of the time to the next tick.
    const late = fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constant(0) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 100 }).map((k) => k / 100) },
        { weight: 2, arbitrary: fc.constant(1) },
      ),
      { minLength: 1, maxLength: 50 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2).chain((g) => steps(g, 20).map((s) => [g, s] as const)),
        late,
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 2000 }),
        ([gapMs, s], lateness, startPerMille, lengthTenths) => {
          const { writes } = sendWritten(gapMs, s, lateness);
          const A = 1000 + (writes.at(-1)!.at - 1000) * (startPerMille / 1000);
          const B = A + lengthTenths / 10;
          const t = new GapTrack();
          const lost = new Set<number>();
          for (const w of writes) {
            if (w.at >= A && w.at < B) lost.add(w.p.seq);
            else t.add(w.p);
          }
          const r = t.report(null, writes.at(-1)!.p.sentMs, gapMs);
          const closed = writes.some((w) => w.at < A) && writes.at(-1)!.at >= B;
          if (!lost.size || !closed) {
            assert.equal(r.windows, 0);
            return;
          }
          assert.equal(r.windows, 1);
          assert.equal(r.lost, lost.size);
          // The number that closes the window: its first write is at or after B. Unless it went
          // again, its stamp may be up to one interval before its write.
          const ys = writes.filter((w) => w.p.seq === Math.max(...lost) + 1);
          const delay = ys.some((w) => w.copy) ? 0 : ys[0]!.at - ys[0]!.p.sentMs;
          assert.ok(delay <= gapMs, `a write ${delay} ms after its stamp went once only`);
          assert.ok(
            r.lossWindowMs > B - A - gapMs - delay - 0.051,
            `window ${r.lossWindowMs} < ${B - A} - ${gapMs} - ${delay}`,
          );
          // A stop between that number's stamp and its write is a stall within the window.
          const stop = ys[0]!.at - ys[0]!.p.sentMs;
          if (stop > stallThresholdMs(gapMs))
            assert.ok(r.windowSenderStalledMs! >= stop - 0.051, `stall ${r.windowSenderStalledMs} < ${stop}`);
        },
      ),
    );
  });

  test('a stream still cut is a window open since the latest packet was sent', () => {
    const { packets } = send(
      1,
      Array.from({ length: 500 }, () => 1),
    );
    const t = new GapTrack();
    for (const p of packets.slice(0, 300)) t.add(p);
    const last = packets[299]!.sentMs;
    // Within max(100 ms, 5 intervals) it is not yet called a window.
    assert.equal(t.report(null, last + 90, 1).ongoingMs, 0);
    const r = t.report(null, last + 401, 1);
    assert.equal(r.ongoingMs, 400);
    assert.equal(r.lossWindowMs, 400);
    assert.equal(r.windowSenderStalledMs, null, 'an open window says nothing of the sender yet');
  });

  test('a report covers only what came after its mark', () => {
    const { packets } = send(
      1,
      Array.from({ length: 999 }, () => 1),
    );
    const t = new GapTrack();
    const drop = (n: number) => (n >= 100 && n < 150) || (n >= 600 && n < 610);
    for (const p of packets.slice(0, 400)) if (!drop(p.seq)) t.add(p);
    const m = t.mark();
    for (const p of packets.slice(400)) if (!drop(p.seq)) t.add(p);
    const all = t.report(null, 2000, 1);
    assert.deepEqual([all.lost, all.windows, all.lossWindowMs], [60, 2, 50]);
    const since = t.report(m, 2000, 1);
    assert.deepEqual(
      [since.from, since.to, since.lost, since.windows, since.lossWindowMs],
      [400, 999, 10, 1, 10],
    );
    assert.equal(since.received, 600 - 10);
  });
});
