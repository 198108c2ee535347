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
  /** The new set, sorted by priority descending then node name. */
  assignment: Instance[];
  /** Instances in assignment that are not current, in the same order. */
  added: Instance[];
  /** Current instances not in assignment, sorted by node name. */
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
