// Flap damping of Gateways, as RFC 5882 (3.2) asks of a BFD client: a session that keeps going
// down and up must not pull traffic back each time it is Up, or every flap costs a full detection
// time of loss. Each time a peer's session leaves Up it earns a penalty; the penalty decays
// exponentially; above `suppressAbove` the peer is held out of use, and it is used again once the
// penalty has decayed below `reuseBelow` (the figure-of-merit scheme BGP route flap damping uses,
// RFC 2439). The penalty is capped so that a peer is never held out longer than `maxSuppressMs`
// after its last flap. Held out means demoted, not removed: the datapath planner still uses a
// damped Gateway when no other usable one exists. Pure, with the clock passed in.

/** Penalty for one flap (a session that was Up and is not any more). */
export const FLAP_PENALTY = 1000;

export interface DampingConfig {
  halfLifeMs: number;
  suppressAbove: number;
  reuseBelow: number;
  maxSuppressMs: number;
}

/**
 * One flap suppresses (1000 > 500) and the peer is used again after two half-lives (10 s); each
 * further flap adds a half-life or so, up to a minute after the flapping stops.
 */
export const DEFAULT_DAMPING: DampingConfig = {
  halfLifeMs: 5_000,
  suppressAbove: 500,
  reuseBelow: 250,
  maxSuppressMs: 60_000,
};

export interface DampingVerdict {
  penalty: number;
  suppressed: boolean;
}

interface Entry {
  penalty: number;
  at: number;
  suppressed: boolean;
}

export class FlapDamping {
  private readonly entries = new Map<string, Entry>();
  private readonly maxPenalty: number;

  constructor(private readonly cfg: DampingConfig = DEFAULT_DAMPING) {
    if (!(cfg.halfLifeMs > 0))
      throw new RangeError(`damping half-life ${cfg.halfLifeMs} ms must be positive`);
    if (!(cfg.reuseBelow > 0 && cfg.reuseBelow < cfg.suppressAbove))
      throw new RangeError(
        `damping thresholds must satisfy 0 < reuseBelow (${cfg.reuseBelow}) < suppressAbove (${cfg.suppressAbove})`,
      );
    if (!(cfg.maxSuppressMs > 0))
      throw new RangeError(`damping max suppress ${cfg.maxSuppressMs} ms must be positive`);
    // Decaying from the cap to reuseBelow takes exactly maxSuppressMs.
    this.maxPenalty = cfg.reuseBelow * 2 ** (cfg.maxSuppressMs / cfg.halfLifeMs);
  }

  private decayed(e: Entry, now: number): number {
    return e.penalty * 2 ** (-Math.max(0, now - e.at) / this.cfg.halfLifeMs);
  }

  /** The peer's session left Up at `now`. */
  flap(key: string, now: number): DampingVerdict {
    const e = this.entries.get(key);
    const penalty = Math.min(this.maxPenalty, (e ? this.decayed(e, now) : 0) + FLAP_PENALTY);
    const suppressed = (e?.suppressed ?? false) || penalty > this.cfg.suppressAbove;
    this.entries.set(key, { penalty, at: now, suppressed });
    return { penalty, suppressed };
  }

  /** The peer's penalty now and whether it is held out; peers that never flapped have 0. */
  verdict(key: string, now: number): DampingVerdict {
    const e = this.entries.get(key);
    if (!e) return { penalty: 0, suppressed: false };
    const penalty = this.decayed(e, now);
    if (e.suppressed && penalty < this.cfg.reuseBelow) {
      e.suppressed = false;
      e.penalty = penalty;
      e.at = now;
    }
    // Fully decayed entries are forgotten, so the table holds only peers that flapped lately.
    if (!e.suppressed && penalty < 1) {
      this.entries.delete(key);
      return { penalty: 0, suppressed: false };
    }
    return { penalty, suppressed: e.suppressed };
  }

  /** The held-out peers now, by key. */
  suppressed(now: number): Set<string> {
    const out = new Set<string>();
    for (const key of [...this.entries.keys()]) if (this.verdict(key, now).suppressed) out.add(key);
    return out;
  }

  /** Every peer with a penalty, for metrics and `mcgw status`. */
  penalties(now: number): Map<string, DampingVerdict> {
    const out = new Map<string, DampingVerdict>();
    for (const key of [...this.entries.keys()]) {
      const v = this.verdict(key, now);
      if (v.penalty > 0) out.set(key, v);
    }
    return out;
  }

  /** When the next held-out peer becomes usable again, or undefined if none is held out. */
  nextReuse(now: number): number | undefined {
    let next: number | undefined;
    for (const e of this.entries.values()) {
      if (!e.suppressed) continue;
      const at = e.at + this.cfg.halfLifeMs * Math.log2(e.penalty / this.cfg.reuseBelow);
      const t = Math.max(now, Math.ceil(at) + 1);
      next = next === undefined ? t : Math.min(next, t);
    }
    return next;
  }

  /** Drops a peer that is gone (no longer a Gateway). */
  forget(key: string): void {
    this.entries.delete(key);
  }
}
