// Scheduler domain types. Deliberately independent of Kubernetes object shapes, so the scheduler
// stays a pure function that can be tested and benchmarked without an API server.

/** A Node that matches the candidate selector, reduced to what scheduling needs. */
export interface Candidate {
  name: string;
  zone?: string;
  ready: boolean;
  schedulable: boolean;
  draining: boolean;
  gatewayIP?: string;
  internalIP?: string;
}

/** One current Gateway instance. */
export interface Instance {
  node: string;
  priority: number;
}

export interface SchedulePolicy {
  /** Number of instances wanted; a non-negative integer. */
  desired: number;
  /** How long a Node is not picked for a new instance after it failed. */
  holdDownMs: number;
}

export interface ScheduleInput {
  /** Nodes matching the candidate selector (names must be unique). */
  candidates: readonly Candidate[];
  /** Gateways that exist now (nodes must be unique, priorities integers in 1..1000). */
  current: readonly Instance[];
  policy: SchedulePolicy;
  /** The injected clock, in ms. */
  now: number;
  /** node -> ms time it last failed (hold-down memory). */
  lastFailure: ReadonlyMap<string, number>;
  /** Nodes whose current instance is failed now (e.g. gateway Lease expired) even if the Node looks Ready. */
  failedNow: ReadonlySet<string>;
  /**
   * Current instances that are Ready (their Lease is fresh). A drain waits for `desired` Ready
   * instances on other Nodes before its instance may go. Absent: none is Ready.
   */
  ready?: ReadonlySet<string>;
  /**
   * Draining Nodes whose drain the caller judges complete: their replacements have been Ready for
   * the settle time, long enough for every peer to have moved off. Removed only if still covered.
   */
  drainSettled?: ReadonlySet<string>;
}

/**
 * Why a current instance is being drained: its Node is labelled draining, or cordoned. Either way
 * it is healthy, so it keeps forwarding until it has been replaced (make before break).
 */
export type DrainReason = 'Draining' | 'Unschedulable';

/** A current instance kept while it is drained; it does not count towards `desired`. */
export interface DrainingInstance extends Instance {
  reason: DrainReason;
}

export type RemovalReason =
  | 'NodeGone'
  | 'NotCandidate'
  | 'NodeNotReady'
  | 'LeaseExpired'
  | 'Unschedulable'
  | 'Draining'
  | 'AddressUnusable'
  | 'ScaledDown';

export type SkipReason =
  | 'NotReady'
  | 'Unschedulable'
  | 'Draining'
  | 'NoGatewayIP'
  | 'NoInternalIP'
  | 'AddressUnusable'
  | 'HeldDown'
  | 'FailedNow';

export interface Removal {
  node: string;
  reason: RemovalReason;
}

export interface Skip {
  node: string;
  reason: SkipReason;
  /** A message a human can act on. */
  detail: string;
}

export interface ScheduleResult {
  /**
   * The new set, sorted by priority descending then node name. It holds no draining instance: it
   * is the set that meets `desired` once every drain is over.
   */
  assignment: Instance[];
  /**
   * Current instances kept while their Node is drained, sorted like `assignment`. Each stays until
   * its drain is covered and settled (see `drainCovered`, ScheduleInput.drainSettled).
   */
  draining: DrainingInstance[];
  /**
   * Whether the drains are covered: at least `desired` (and at least one) instances of `assignment`
   * are Ready, so traffic has somewhere to go without the draining ones.
   */
  drainCovered: boolean;
  /** Instances in assignment that are not current, in the same order. */
  added: Instance[];
  /** Current instances in neither assignment nor draining, sorted by node name. */
  removed: Removal[];
  /** Non-current candidates that are not eligible, sorted by node name. */
  skipped: Skip[];
  /** Set iff assignment.length < desired; says why. */
  degraded?: string;
  /** Earliest future time a hold-down ends, set only if that could change the result. */
  nextWakeMs?: number;
}

/** Priority of the first instance placed into an empty assignment. */
export const FIRST_PRIORITY = 100;
export const MIN_PRIORITY = 1;
export const MAX_PRIORITY = 1000;
/**
 * At most this many instances at once, draining ones included: a cluster exports at most 16
 * Gateways, and each needs one of its 16 inner address slots (src/datapath/inner.ts). So a drain
 * with `desired` at this limit gets no replacement; it waits until `desired` is lowered.
 */
export const MAX_INSTANCES = 16;
