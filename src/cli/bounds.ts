// Ranges and defaults of the numeric flags the Helm charts pass to `mcgw controller` and
// `mcgw leader`. The commands check their flags against these, and the charts' values.schema.json
// is generated from them (src/api/chartvalues.ts), so a value the chart accepts is one the command
// accepts too.

export interface IntBounds {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/** `mcgw controller --election-{lease,renew,retry}-ms`. */
export const CONTROLLER_ELECTION = {
  leaseMs: { min: 500, max: 600_000, default: 4000 },
  renewMs: { min: 200, max: 600_000, default: 3000 },
  retryMs: { min: 50, max: 60_000, default: 1000 },
} as const satisfies Record<string, IntBounds>;

/** `mcgw leader --stale-after-seconds`, `--remove-after-seconds`, `--election-lease-ms`. */
export const LEADER_FLAGS = {
  staleAfterSeconds: { min: 1, max: 86_400, default: 30 },
  removeAfterSeconds: { min: 1, max: 864_000, default: 300 },
  electionLeaseMs: { min: 500, max: 600_000, default: 4000 },
} as const satisfies Record<string, IntBounds>;
