// The lab's test stream, the parts that are plain arithmetic: the packet, the sender's pacing and
// the receiver's record of gaps, from which loss windows are read. traffic.mjs adds the socket, the
// timer and the clock; the tests drive these with times of their own.
//
// Every time here is in milliseconds of CLOCK_MONOTONIC (process.hrtime), which every process on
// the machine shares, whatever its network namespace: a receiver can compare the send times in its
// packets with its own "now". (performance.now() would not do: each process counts from its own
// start.)
//
// Why send times and not sequence numbers alone: a sender that stalls (a loaded machine, a GC pause)
// catches up afterwards with a burst of the numbers it owed. Numbers that fell due while the path
// was down but were only sent, in that burst, after it came back arrive, and a figure counted in
// lost numbers shrinks by them. The send-time span around the lost numbers does not.
//
// A packet's send time is its stamp, read before the packet is handed to the socket; the write
// itself comes later (dgram's send is asynchronous). A sender stopped between the two sends, after
// the stop, a packet stamped before it: a window that it closes would end at the early stamp and
// miss the stop. So the sender reads the clock again in the packet's send callback, which runs once
// the write is done: a packet written more than one interval after its stamp is sent again,
// stamped anew (Pacer.wrote), and a receiver closes a window with the copy stamped latest
// (GapTrack.add). The stop itself is a stall like any other (see Pacer).
import { Buffer } from 'node:buffer';

/** seq u32 | sender stalls so far u32 | send time ns u64 | sender stall time so far ns u64, big-endian. */
export const PACKET_BYTES = 24;

/**
 * A sender silence longer than this is a stall: 20 ms, or two packet intervals at rates where that
 * is longer. A silence is the time between two consecutive moments the sender is seen running (its
 * timer's ticks and its packets' send callbacks). Shorter silences are the timer's ordinary
 * lateness; each can widen a window by at most its own length, at either edge of the window.
 */
export function stallThresholdMs(gapMs) {
  return Math.max(20, 2 * gapMs);
}

const toNs = (ms) => BigInt(Math.round(ms * 1e6));
const fromNs = (ns) => Number(ns) / 1e6;

export function encodePacket(p) {
  const b = Buffer.alloc(PACKET_BYTES);
  b.writeUInt32BE(p.seq >>> 0, 0);
  b.writeUInt32BE(p.stalls >>> 0, 4);
  b.writeBigUInt64BE(toNs(p.sentMs), 8);
  b.writeBigUInt64BE(toNs(p.stalledMs), 16);
  return b;
}

/** The packet in `b`, or null when it is not one of ours (wrong length). */
export function decodePacket(b) {
  if (b.length !== PACKET_BYTES) return null;
  return {
    seq: b.readUInt32BE(0),
    stalls: b.readUInt32BE(4),
    sentMs: fromNs(b.readBigUInt64BE(8)),
    stalledMs: fromNs(b.readBigUInt64BE(16)),
  };
}

/** How many stalls the sender keeps with their times (the counters in the packets count them all). */
const STALL_LOG = 1000;

/**
 * The sender's schedule: number n falls due at start + n × gap. Each tick sends every number due by
 * then, catching up after the timer's ordinary lateness so the rate is the rate asked for. A silence
 * longer than the stall threshold (seen at a tick, a stamp or a send callback) records a stall and
 * restarts the schedule from the next number: the numbers owed for the stall are not sent, the next
 * tick sends only what fell due since. A burst of the owed numbers would say nothing about the path
 * (they are stamped after the stall either way) and could overflow the receiver's socket, a loss of
 * our own making. The stall counters go into every packet stamped from then on, so a receiver can
 * tell how long the sender was silent between any two packets it received, including silences
 * among the packets it lost, and a stop between a packet's stamp and its write, which the copy sent
 * again carries.
 */
export class Pacer {
  constructor(startMs, gapMs) {
    this.gapMs = gapMs;
    this.thresholdMs = stallThresholdMs(gapMs);
    this.next = 0;
    // Number originSeq + k falls due at originMs + k × gap (restarted after each stall).
    this.originSeq = 0;
    this.originMs = startMs;
    /** The latest moment the sender was seen running, null before the first. */
    this.seenMs = null;
    this.stalls = 0;
    this.stalledMs = 0;
    /** Packets sent again because they were written more than an interval after their stamp. */
    this.resent = 0;
    /** The latest stalls: { atMs (when the silence began), ms }. */
    this.log = [];
  }

  /** The sender runs at `nowMs`; returns the stall that ends here, if the silence was one. */
  seen(nowMs) {
    if (this.seenMs === null || nowMs - this.seenMs <= this.thresholdMs) {
      if (this.seenMs === null || nowMs > this.seenMs) this.seenMs = nowMs;
      return null;
    }
    const stall = { atMs: this.seenMs, ms: nowMs - this.seenMs };
    this.stalls++;
    this.stalledMs += stall.ms;
    this.log.push(stall);
    if (this.log.length > STALL_LOG) this.log.shift();
    this.originSeq = this.next;
    this.originMs = nowMs;
    this.seenMs = nowMs;
    return stall;
  }

  /** Numbers [from, to) are due at `nowMs`, to be stamped with `stamp`. */
  tick(nowMs) {
    const stall = this.seen(nowMs);
    const from = this.next;
    const due = this.originSeq + Math.floor((nowMs - this.originMs) / this.gapMs) + 1;
    this.next = Math.max(this.next, due);
    return { from, to: this.next, stall, stamp: this.stamp(nowMs) };
  }

  /** What a packet sent at `nowMs` carries besides its number. */
  stamp(nowMs) {
    this.seen(nowMs);
    return { sentMs: nowMs, stalls: this.stalls, stalledMs: this.stalledMs };
  }

  /**
   * A packet stamped at `stampMs` has been written by `nowMs` (its send callback runs). If that is
   * more than one interval after the stamp, the packet may have left that late with its early
   * stamp: returns the stamp to send the same number again with (null if there is no need). The
   * copy's stamp is at or after the write, and carries the stall if the delay was one. One interval
   * bounds how much a window can be narrowed by the packet that closes it being written after its
   * stamp. It costs copies on a loaded machine: 0-3% of packets went twice in most periods of
   * 0.5-2 s, and 13% in one, at loads of 8-11 on two cores, here; a tighter bound would cost more.
   */
  wrote(stampMs, nowMs) {
    this.seen(nowMs);
    if (nowMs - stampMs <= this.gapMs) return null;
    this.resent++;
    return this.stamp(nowMs);
  }

  /** What to remember at a mark, to report the stalls since. */
  mark() {
    return { stalls: this.stalls, stalledMs: this.stalledMs, sent: this.next, resent: this.resent };
  }

  /** The sender's own stalls since `mark` (the latest ones with their times). */
  since(mark) {
    const count = this.stalls - mark.stalls;
    const log = count > 0 ? this.log.slice(-Math.min(count, 20)) : [];
    return {
      sent: this.next - mark.sent,
      resent: this.resent - mark.resent,
      stalls: count,
      stalledMs: round(this.stalledMs - mark.stalledMs),
      latest: log.map((s) => ({ atMs: round(s.atMs), ms: round(s.ms) })),
    };
  }
}

const round = (ms) => Math.round(ms * 10) / 10;

/**
 * What one receiver has seen of one source: the highest-numbered packet, and for each run of
 * numbers still missing the packets on either side of it. A packet that arrives late (reordered)
 * fills its place in a run, splitting it. Memory grows with the number of gaps, not of packets.
 */
export class GapTrack {
  constructor() {
    /** The highest-numbered packet received, or null before the first. */
    this.last = null;
    /** { after, before }: the packets around a run of missing numbers, in order of number. */
    this.gaps = [];
  }

  /**
   * Records a packet; returns 'new', 'late' (filled a gap) or 'duplicate' (a number received
   * before). Of the copies of a number (the sender sends one again, stamped anew, when it may have
   * been written late), a gap's closing edge keeps the one stamped latest: that stamp is at or after
   * the write that got through, so the window does not end before the path was seen working. Its
   * opening edge, and the highest packet (the opening edge of a gap to come), keep the one stamped
   * earliest: a window can only start earlier for it, and the stall counters, which copies stamped
   * later carry, then count the silence in the window.
   */
  add(p) {
    if (this.last === null || p.seq > this.last.seq) {
      if (this.last !== null && p.seq > this.last.seq + 1) this.gaps.push({ after: this.last, before: p });
      this.last = p;
      return 'new';
    }
    if (p.seq === this.last.seq && p.sentMs < this.last.sentMs) this.last = p;
    // Late packets are rare and usually recent: look from the newest gap back.
    for (let i = this.gaps.length - 1; i >= 0; i--) {
      const g = this.gaps[i];
      if (g.before.seq < p.seq) break;
      if (g.after.seq > p.seq) continue;
      if (g.before.seq === p.seq) {
        if (p.sentMs > g.before.sentMs) g.before = p;
        // The packet may also open the gap before (a single packet between two runs of losses).
        continue;
      }
      if (g.after.seq === p.seq) {
        if (p.sentMs < g.after.sentMs) g.after = p;
        continue;
      }
      const parts = [];
      if (p.seq > g.after.seq + 1) parts.push({ after: g.after, before: p });
      if (g.before.seq > p.seq + 1) parts.push({ after: p, before: g.before });
      this.gaps.splice(i, 1, ...parts);
      return 'late';
    }
    return 'duplicate';
  }

  /** What to remember at a mark: the highest packet so far (its number and stall counters). */
  mark() {
    return this.last;
  }

  /**
   * Loss since `mark` (a mark() result, null for "since the start"), read at `nowMs`:
   * - received, lost: numbers after the mark up to the highest received (numbers the stream has
   *   not reached yet are not losses);
   * - each run of lost numbers is a window: the send-time span from the last packet received before
   *   it to the first received after it, less one packet interval (with a sender on schedule that is
   *   the lost numbers × the interval; it is never shorter than the outage less one interval, even
   *   if the sender stalled, and less the time from the stamp to the write of the packet closing
   *   it, under one more interval (Pacer.wrote); and longer than the outage by at most the sender's
   *   silences at its two edges, which, if longer than the stall threshold, are counted as stalls
   *   in the window);
   * - ongoingMs: a stream with no packet sent in the last max(100 ms, 5 intervals) that arrived is
   *   still cut (or its sender is stalled right now: the receiver cannot tell which until the next
   *   packet), and counts as a window open since the latest packet's send time;
   * - lossWindowMs: the longest window, open or closed; windowSenderStalledMs: the sender's stall
   *   time within that window (null for an open window: not known until the sender is heard again);
   * - windowSentMs: the send times of the packets around the longest closed window;
   * - senderStalls, senderStalledMs: the sender's stalls over the whole period, as the packets say.
   */
  report(mark, nowMs, gapMs) {
    const markSeq = mark ? mark.seq : -1;
    let lost = 0;
    let windows = 0;
    let longest = null;
    for (const g of this.gaps) {
      if (g.after.seq < markSeq) continue;
      windows++;
      lost += g.before.seq - g.after.seq - 1;
      const ms = Math.max(0, g.before.sentMs - g.after.sentMs - gapMs);
      if (!longest || ms > longest.ms) longest = { ms, gap: g };
    }
    const to = this.last ? this.last.seq : -1;
    const span = Math.max(0, to - markSeq);
    const silentMs = this.last ? nowMs - this.last.sentMs - gapMs : 0;
    const ongoingMs = silentMs > Math.max(100, 5 * gapMs) ? Math.round(silentMs) : 0;
    const closedMs = longest ? round(longest.ms) : 0;
    const closedStalledMs = longest ? round(longest.gap.before.stalledMs - longest.gap.after.stalledMs) : 0;
    const open = ongoingMs > closedMs;
    return {
      from: markSeq + 1,
      to,
      received: span - lost,
      lost,
      windows,
      lossWindowMs: open ? ongoingMs : closedMs,
      ongoingMs,
      windowSenderStalledMs: open ? null : closedStalledMs,
      // The send times around the longest closed window, to set beside the sender's stall log.
      windowSentMs: longest ? [longest.gap.after.sentMs, longest.gap.before.sentMs] : null,
      senderStalls: this.last ? this.last.stalls - (mark ? mark.stalls : 0) : 0,
      senderStalledMs: this.last ? round(this.last.stalledMs - (mark ? mark.stalledMs : 0)) : 0,
    };
  }
}
