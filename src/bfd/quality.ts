// How lossy a BFD session's path is, from the gaps between the Control packets it receives. No
// probe of its own: the peer already transmits at a known rate. Each interval is the negotiated
// one reduced by a random 0-25 % (RFC 5880 6.8.7), so consecutive packets arrive 0.75-1.0 x I
// apart, and a packet lost on the way leaves a gap of 1.5-2.0 x I. Those two bands do not touch,
// so a gap over LOSS_GAP x I is counted as lost packets, as many as fit in it.
//
// A receiver that was itself busy reads its queued packets late and in a burst: one long gap, then
// gaps of almost nothing. That is not loss, so a long gap is judged only by the gap after it: a
// burst (the next gap under BURST_GAP x I) cancels it. A single packet read d late makes a long gap
// only if d > 0.4 x I (the interval is at most I), and then the gap after it is under 0.6 x I;
// after a real loss the next gap is a whole interval, 0.75 x I or more. Counted over a sliding window, the losses
// make a ratio; the path is degraded above one threshold and whole again only once the ratio has
// stayed under a lower one for a whole window (hysteresis: a lossy path does not flap in and out).
// Pure: the caller passes every arrival time and the current interval.

/** A gap longer than this many intervals held at least one lost packet. */
export const LOSS_GAP = 1.4;
/** A following gap shorter than this many intervals means the long one was the receiver's stall. */
export const BURST_GAP = 0.6;
/** Mean jittered interval as a fraction of the negotiated one (75-100 % uniformly). */
const MEAN_JITTER = 0.875;

export interface QualityConfig {
  /** The sliding window the ratio is taken over. */
  windowMs: number;
  /** Degraded once the lost share in the window exceeds this (0.02: 2 %)... */
  degradeAbove: number;
  /** ...and at least this many packets were lost in it, so one unlucky gap is never enough. */
  minLost: number;
  /** Whole again once the lost share has stayed at or under this for a whole window. */
  restoreBelow: number;
}

export const DEFAULT_QUALITY: QualityConfig = {
  windowMs: 5_000,
  degradeAbove: 0.02,
  minLost: 3,
  restoreBelow: 0.005,
};

export interface QualityReading {
  received: number;
  lost: number;
  /** lost / (received + lost) over the window; 0 with nothing counted. */
  ratio: number;
  degraded: boolean;
}

interface Lost {
  at: number;
  n: number;
}

export class PathQuality {
  private arrivals: number[] = [];
  private losses: Lost[] = [];
  private last: number | undefined;
  /** A long gap waiting for the next gap to tell loss from a burst. */
  private pending: { at: number; gapMs: number; intervalMs: number } | undefined;
  /** Since when the window has been filling (a reset starts it again). */
  private since: number | undefined;
  private isDegraded = false;
  /** Since when the ratio has been at or under restoreBelow, while degraded. */
  private calmSince: number | undefined;

  constructor(private readonly cfg: QualityConfig = DEFAULT_QUALITY) {
    if (!(cfg.windowMs > 0)) throw new RangeError(`quality window ${cfg.windowMs} ms must be positive`);
    if (!(cfg.restoreBelow >= 0 && cfg.restoreBelow <= cfg.degradeAbove && cfg.degradeAbove < 1))
      throw new RangeError(
        `quality thresholds must satisfy 0 <= restoreBelow (${cfg.restoreBelow}) <= degradeAbove (${cfg.degradeAbove}) < 1`,
      );
  }

  /** A Control packet arrived at `atMs`; the peer transmits every `intervalMs` before jitter. */
  onPacket(atMs: number, intervalMs: number): void {
    this.since ??= atMs;
    const prev = this.last;
    this.last = atMs;
    this.arrivals.push(atMs);
    if (prev === undefined || !(intervalMs > 0)) return;
    const gap = atMs - prev;
    if (this.pending) {
      const p = this.pending;
      this.pending = undefined;
      if (gap >= BURST_GAP * p.intervalMs) {
        const n = Math.max(1, Math.round(p.gapMs / (MEAN_JITTER * p.intervalMs)) - 1);
        this.losses.push({ at: p.at, n });
      }
    }
    if (gap > LOSS_GAP * intervalMs) this.pending = { at: atMs, gapMs: gap, intervalMs };
  }

  /** Forgets everything: the session went down or came up again (BFD itself judges those). */
  reset(): void {
    this.arrivals = [];
    this.losses = [];
    this.last = undefined;
    this.pending = undefined;
    this.since = undefined;
    this.isDegraded = false;
    this.calmSince = undefined;
  }

  /** Takes the window up to `nowMs` and updates the verdict. */
  read(nowMs: number): QualityReading {
    const from = nowMs - this.cfg.windowMs;
    let i = 0;
    while (i < this.arrivals.length && this.arrivals[i]! < from) i++;
    if (i) this.arrivals.splice(0, i);
    let j = 0;
    while (j < this.losses.length && this.losses[j]!.at < from) j++;
    if (j) this.losses.splice(0, j);
    const received = this.arrivals.length;
    const lost = this.losses.reduce((s, l) => s + l.n, 0);
    const ratio = received + lost === 0 ? 0 : lost / (received + lost);
    const full = this.since !== undefined && nowMs - this.since >= this.cfg.windowMs;
    if (!this.isDegraded) {
      if (lost >= this.cfg.minLost && ratio > this.cfg.degradeAbove) {
        this.isDegraded = true;
        this.calmSince = undefined;
      }
    } else if (ratio <= this.cfg.restoreBelow) {
      this.calmSince ??= nowMs;
      if (full && nowMs - this.calmSince >= this.cfg.windowMs) {
        this.isDegraded = false;
        this.calmSince = undefined;
      }
    } else this.calmSince = undefined;
    return { received, lost, ratio, degraded: this.isDegraded };
  }

  get degraded(): boolean {
    return this.isDegraded;
  }
}
