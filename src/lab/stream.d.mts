// Types for stream.mjs (plain JavaScript, so that the traffic endpoint starts quickly in a namespace).
import type { Buffer } from 'node:buffer';

export const PACKET_BYTES: number;
export function stallThresholdMs(gapMs: number): number;

/** One packet of the stream; times in ms of CLOCK_MONOTONIC. */
export interface Packet {
  seq: number;
  sentMs: number;
  /** The sender's stalls, and their total length, up to this packet's sending. */
  stalls: number;
  stalledMs: number;
}
export function encodePacket(p: Packet): Buffer;
export function decodePacket(b: Buffer): Packet | null;

export interface Stall {
  /** When the silence began. */
  atMs: number;
  ms: number;
}
export interface PacerMark {
  stalls: number;
  stalledMs: number;
  sent: number;
  resent: number;
}
export class Pacer {
  constructor(startMs: number, gapMs: number);
  readonly gapMs: number;
  readonly thresholdMs: number;
  /** The next number to send. */
  readonly next: number;
  readonly stalls: number;
  readonly stalledMs: number;
  /** Packets sent again because their write came more than an interval after their stamp. */
  readonly resent: number;
  readonly log: readonly Stall[];
  /** The sender runs at `nowMs`: the stall that ends here, if the silence since was one. */
  seen(nowMs: number): Stall | null;
  tick(nowMs: number): {
    from: number;
    to: number;
    stall: Stall | null;
    stamp: Omit<Packet, 'seq'>;
  };
  stamp(nowMs: number): Omit<Packet, 'seq'>;
  /** A packet stamped at `stampMs` was written by `nowMs`: the stamp to send it again with, or null. */
  wrote(stampMs: number, nowMs: number): Omit<Packet, 'seq'> | null;
  mark(): PacerMark;
  since(mark: PacerMark): SendingReport;
}
/** The sender's own figures since a mark, as a report answers them. */
export interface SendingReport {
  sent: number;
  resent: number;
  stalls: number;
  stalledMs: number;
  latest: Stall[];
}

export interface SourceReport {
  from: number;
  to: number;
  received: number;
  lost: number;
  windows: number;
  lossWindowMs: number;
  ongoingMs: number;
  windowSenderStalledMs: number | null;
  windowSentMs: [number, number] | null;
  senderStalls: number;
  senderStalledMs: number;
}
export class GapTrack {
  readonly last: Packet | null;
  readonly gaps: readonly { after: Packet; before: Packet }[];
  add(p: Packet): 'new' | 'late' | 'duplicate';
  mark(): Packet | null;
  report(mark: Packet | null, nowMs: number, gapMs: number): SourceReport;
}
