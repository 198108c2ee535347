// Whether a trial's loss figures can be trusted. Two things make one untrustworthy:
// - a window shorter than physically possible: where the break takes the carrying path away at
//   once, traffic can only move once BFD declares the path down, which is at least
//   (multiplier − 1) × interval after the break (the last packet before it arrived up to one
//   interval earlier, and detection is multiplier × interval after that packet). A shorter figure
//   means the stream did not probe the whole outage (its sender was silent through part of it);
// - a sender that stalled within the window: the window still brackets the outage, but it may be
//   longer than the outage by the stall, and the receiver cannot tell where in the window it was.
//   A stall of more than a tenth of the window counts: every stall is at least 20 ms (stream.mjs),
//   so in a window under 200 ms (every BFD failover) any stall does, while the baseline's
//   40-second windows are not thrown away for a GC pause.
// Such a trial is kept in the report with its reasons and left out of the summary's figures.
import type { DirectionLoss } from './loss.ts';

/** The shortest window the break allows, in the directions whose stream must wait for detection. */
export interface LossFloor {
  ms: number;
  directions: readonly string[];
  /** What the floor is, for the reason text. */
  what: string;
}

/** The earliest a BFD session can declare its peer down after the peer stops: (mult − 1) × tx. */
export function bfdDetectionFloorMs(bfd: { txMs: number; mult: number }): number {
  return Math.max(0, bfd.mult - 1) * bfd.txMs;
}

/** The share of a window a sender stall may take before the window is not trusted. */
export const STALL_SHARE = 0.1;

/** Why the trial's loss figures are not trusted; empty when they are. */
export function invalidReasons(
  loss: Readonly<Record<string, Pick<DirectionLoss, 'lossWindowMs' | 'windowSenderStalledMs'>>>,
  floor: LossFloor | null,
): string[] {
  const reasons: string[] = [];
  for (const dir of floor?.directions ?? []) {
    const l = loss[dir];
    if (!l) reasons.push(`${dir}: no report`);
    else if (l.lossWindowMs < floor!.ms)
      reasons.push(`${dir}: loss window ${l.lossWindowMs} ms is below ${floor!.what} (${floor!.ms} ms)`);
  }
  for (const dir of Object.keys(loss).sort()) {
    const l = loss[dir]!;
    if (l.windowSenderStalledMs !== null && l.windowSenderStalledMs > STALL_SHARE * l.lossWindowMs)
      reasons.push(
        `${dir}: the sender stalled ${l.windowSenderStalledMs} ms within the ${l.lossWindowMs} ms loss window`,
      );
  }
  return reasons;
}
