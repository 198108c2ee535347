// Decides whether a gateway Lease has expired by the controller's own clock: it records when it saw
// each renewal, rather than trusting the renewer's timestamp, so clock skew between Nodes cannot
// fail a healthy instance or keep a dead one alive. A new controller leader starts by trusting every
// Lease for one full duration.

export class LeaseTracker {
  private readonly seen = new Map<string, { version: string; at: number; placed?: boolean }>();

  /** Records the Lease's current version (resourceVersion or renewTime); returns true if it changed. */
  observe(node: string, version: string, now: number): boolean {
    const prev = this.seen.get(node);
    if (prev?.version === version) return false;
    this.seen.set(node, { version, at: now });
    return true;
  }

  /**
   * Starts a window of one Lease duration for an instance just placed on a Node that already has a
   * (possibly stale) Lease: it is not failed during the window, nor counted as renewing until a
   * real renewal arrives.
   */
  placed(node: string, now: number): void {
    const prev = this.seen.get(node);
    this.seen.set(node, { version: prev?.version ?? '', at: now, placed: true });
  }

  /** Whether the last sign of life is a placement window rather than a renewal. */
  isPlacedOnly(node: string): boolean {
    return this.seen.get(node)?.placed === true;
  }

  forget(node: string): void {
    this.seen.delete(node);
  }

  has(node: string): boolean {
    return this.seen.has(node);
  }

  /** The renewal last seen (renewalVersion()), or undefined if the Lease was never seen. */
  version(node: string): string | undefined {
    const v = this.seen.get(node)?.version;
    return v === '' ? undefined : v;
  }

  /** When a renewal was last seen, by the observer's clock. */
  lastSeen(key: string): number | undefined {
    return this.seen.get(key)?.at;
  }

  /** When the Lease expires unless renewed, or undefined if it was never seen. */
  expiresAt(node: string, durationMs: number): number | undefined {
    const s = this.seen.get(node);
    return s ? s.at + durationMs : undefined;
  }

  expired(node: string, durationMs: number, now: number): boolean {
    const at = this.expiresAt(node, durationMs);
    return at !== undefined && now >= at;
  }
}

/**
 * A Lease's renewal as a comparable value. The typed list returns renewTime as a Date and the watch
 * as a MicroTime string; both are reduced to milliseconds, so a relist of an unrenewed Lease is not
 * mistaken for a renewal.
 */
export function renewalVersion(lease: {
  spec?: { renewTime?: Date | string };
  metadata?: { resourceVersion?: string };
}): string {
  const t = lease.spec?.renewTime;
  const ms = t instanceof Date ? t.getTime() : t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? `rv:${lease.metadata?.resourceVersion ?? ''}` : String(ms);
}
