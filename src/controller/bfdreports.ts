// BFD Down reports from agents (src/api/bfdreport.ts), and how they shorten failure detection.
//
// A report is a hint, not proof: the Node that sent it may have lost its own path to the Gateway.
// So a report alone fails nothing. It makes the controller judge that Gateway's Lease by a shorter
// rule while it stands: silent for 2 x renewIntervalMs (two renewals missed in a row) instead of
// leaseDurationMs. The Lease still has to be silent, and it has to stay silent after the report:
// a renewal later than the one the reporter read lifts the suspicion for good. A Gateway that is
// alive renews every renewIntervalMs, so a false report costs nothing but a log line.
//
// Everything below is pure; the controller feeds it what its informers saw, on its own clock.
import type { BfdDownReport } from '../api/bfdreport.ts';
import type { LeaseState } from './plan.ts';

/** A report the controller holds against the current placement of a Gateway. */
export interface Suspicion extends BfdDownReport {
  /** When this controller saw the report, by its own clock. */
  seenAt: number;
}

/** One report per Gateway Node: the latest one about its current placement. */
export class BfdReports {
  private readonly byNode = new Map<string, Suspicion>();

  /** Holds a report, replacing an older one about the same Node. */
  add(s: Suspicion): void {
    this.byNode.set(s.gateway, s);
  }

  /** The report held against this placement (its ClusterGateway uid), if any. */
  get(node: string, uid: string | undefined): Suspicion | undefined {
    const s = this.byNode.get(node);
    return s && uid !== undefined && s.uid === uid ? s : undefined;
  }

  /** Any report held about this Node, whatever the placement. */
  peek(node: string): Suspicion | undefined {
    return this.byNode.get(node);
  }

  delete(node: string): boolean {
    return this.byNode.delete(node);
  }

  get size(): number {
    return this.byNode.size;
  }
}

/**
 * Whether the renewal `seen` (the latest the controller observed) is later than `reported` (the one
 * the reporter read). Both are renewalVersion() values: the renewer's renewTime in ms, comparable
 * with each other since one clock wrote both; other forms can only be told apart, not ordered.
 */
export function renewedSince(seen: string | undefined, reported: string): boolean {
  if (seen === undefined) return false;
  const num = /^\d+$/;
  if (num.test(seen) && num.test(reported)) return Number(seen) > Number(reported);
  return seen !== reported;
}

export interface LeaseFacts {
  /** When this controller last saw a renewal (or a placement window began); undefined: never. */
  seenAt: number | undefined;
  /** The last sign of life is a placement window, not a renewal. */
  placedOnly: boolean;
  /** The renewal last seen (renewalVersion()). */
  version: string | undefined;
  /** While the Lease watch was broken no renewal could be seen: silence counts from here. */
  graceFrom: number;
  /**
   * The Lease watch follows the apiserver now (ResilientInformer.isCurrent). While it does not,
   * silence counts from `now`: nothing is judged expired, by its duration or by a report.
   */
  watchCurrent: boolean;
  durationMs: number;
  renewIntervalMs: number;
  /** A report held against the current placement, if any. */
  report?: Suspicion;
  now: number;
}

export interface LeaseJudgement {
  state: LeaseState;
  expiresAt?: number;
  /** Set when the Lease is judged by a BFD report rather than by its duration. */
  bfd?: { reporter: string; silentMs: number };
}

/**
 * The Lease's state by the controller's clock. Without a report: expired once nothing was seen for
 * durationMs (after graceFrom, and never while the watch is not current). With a report nothing newer has answered: expired once nothing was
 * seen for 2 x renewIntervalMs, if that comes first; until then `expiresAt` is that earlier time, so
 * the controller wakes up for it. A placement still waiting for its first renewal is not judged by
 * reports: its Lease proves nothing yet either way.
 */
export function judgeLease(f: LeaseFacts): LeaseJudgement {
  if (f.seenAt === undefined) return { state: 'absent' };
  const since = Math.max(f.seenAt, f.watchCurrent ? f.graceFrom : f.now);
  const expiresAt = since + f.durationMs;
  if (f.now >= expiresAt) return { state: 'expired', expiresAt };
  if (f.placedOnly) return { state: 'pending', expiresAt };
  if (f.report && !renewedSince(f.version, f.report.renewal)) {
    const early = since + 2 * f.renewIntervalMs;
    if (early < expiresAt) {
      if (f.now >= early)
        return {
          state: 'expired',
          expiresAt: early,
          bfd: { reporter: f.report.reporter, silentMs: f.now - since },
        };
      return { state: 'fresh', expiresAt: early };
    }
  }
  return { state: 'fresh', expiresAt };
}
