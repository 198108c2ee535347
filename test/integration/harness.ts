// Test helpers around ControlPlane: start real control planes and always stop them afterwards.
// Set MCGW_KEEP_CONTROL_PLANES=1 to keep their directories (logs, certs, kubeconfigs) for debugging.
import { after, before } from 'node:test';
import { ControlPlane, type ControlPlaneOptions } from '../../src/lab/controlplane.ts';

export { ControlPlane };

/** The part of a node:test TestContext the helpers need. */
export interface TestHooks {
  after(fn: () => Promise<void>): unknown;
  diagnostic?(message: string): void;
}

type Options = Partial<ControlPlaneOptions>;

const keepForDebugging = process.env.MCGW_KEEP_CONTROL_PLANES === '1';
let counter = 0;

function optionsFor(opts: Options, base: string, index: number, n: number): ControlPlaneOptions {
  return {
    ...opts,
    name: n === 1 ? base : `${base}-${index}`,
    ...(keepForDebugging ? { keep: true } : {}),
  };
}

async function stopAll(cps: ControlPlane[]): Promise<void> {
  await Promise.all(cps.map((cp) => cp.stop()));
  if (keepForDebugging) for (const cp of cps) console.error(`[harness] kept control plane dir: ${cp.dir}`);
}

/** Starts `n` control planes concurrently; if one fails, the others are stopped before rethrowing. */
export async function startMany(n: number, opts: Options = {}): Promise<ControlPlane[]> {
  // Names only label directories and contexts, but unique ones make logs easier to tell apart.
  const base = opts.name ?? `cp${++counter}`;
  const all = Array.from({ length: n }, (_, i) => optionsFor(opts, base, i, n));
  const results = await Promise.allSettled(all.map((o) => ControlPlane.start(o)));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopAll(started);
    throw failed.reason;
  }
  return started;
}

function report(t: TestHooks, cps: ControlPlane[]): void {
  t.diagnostic?.(cps.map((cp) => `control plane ${cp.name} started in ${cp.startupMs} ms`).join('; '));
}

/** Starts `n` control planes for one test (pass its TestContext); they stop when the test ends. */
export async function startControlPlanes(
  t: TestHooks,
  n: number,
  opts: Options = {},
): Promise<ControlPlane[]> {
  const cps = await startMany(n, opts);
  t.after(() => stopAll(cps));
  report(t, cps);
  return cps;
}

/** Starts one control plane for one test; it stops when the test ends. */
export async function startControlPlane(t: TestHooks, opts: Options = {}): Promise<ControlPlane> {
  const [cp] = await startControlPlanes(t, 1, opts);
  return cp as ControlPlane;
}

/**
 * Call inside a describe(): starts `n` control planes in a before() hook, stops them in after().
 * The returned array is empty until the hook has run, so read it inside tests.
 */
export function useControlPlanes(n: number, opts: Options = {}): ControlPlane[] {
  const cps: ControlPlane[] = [];
  before(async () => {
    cps.push(...(await startMany(n, opts)));
  });
  after(() => stopAll(cps));
  return cps;
}

/** Runs `fn` with `n` fresh control planes and stops them afterwards, whether `fn` succeeds or not. */
export async function withControlPlanes<T>(
  n: number,
  fn: (cps: ControlPlane[]) => Promise<T>,
  opts: Options = {},
): Promise<T> {
  const cps = await startMany(n, opts);
  try {
    return await fn(cps);
  } finally {
    await stopAll(cps);
  }
}
