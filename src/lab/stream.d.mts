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
}
export class Pacer {
  constructor(startMs: number, gapMs: number);
  readonly gapMs: number;
  readonly thresholdMs: number;
  /** The next number to send. */
  readonly next: number;
  readonly stalls: number;
  readonly stalledMs: number;
  readonly log: readonly Stall[];
  tick(nowMs: number): {
    from: number;
    to: number;
    stall: Stall | null;
    stamp: Omit<Packet, 'seq'>;
  };
  mark(): PacerMark;
  since(mark: PacerMark): { sent: number; stalls: number; stalledMs: number; latest: Stall[] };
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
