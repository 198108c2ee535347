// Locates the etcd and kube-apiserver binaries that test control planes run, building them on demand.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ControlPlaneBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
}

export class ControlPlaneBinariesError extends Error {
  constructor(
    message: string,
    readonly dir?: string,
  ) {
    super(message);
    this.name = 'ControlPlaneBinariesError';
  }
}

/** The repository root: this file lives in <root>/src/lab/. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const buildScript = join(repoRoot, 'scripts', 'build-control-plane.sh');

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function check(dir: string, how: string): Promise<ControlPlaneBinaries> {
  const bins = { dir, etcd: join(dir, 'etcd'), kubeApiserver: join(dir, 'kube-apiserver') };
  const missing = [];
  for (const path of [bins.etcd, bins.kubeApiserver]) if (!(await isExecutable(path))) missing.push(path);
  if (missing.length > 0) {
    throw new ControlPlaneBinariesError(`${how}: missing or not executable: ${missing.join(', ')}`, dir);
  }
  return bins;
}

// Test files run in parallel processes; the build script has no lock of its own, and two builds into
// the same output directory would race. flock(1) serialises them; later ones find the cache.
const buildLock = join(tmpdir(), 'mcgw-build-control-plane.lock');

function runBuildScript(useFlock = true): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const [cmd, args] = useFlock ? ['flock', [buildLock, 'bash', buildScript]] : ['bash', [buildScript]];
    // Progress goes to our stderr so a first, long build visibly moves; stdout carries the result.
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (useFlock && err.code === 'ENOENT') resolvePromise(runBuildScript(false));
      else reject(new ControlPlaneBinariesError(`could not run ${buildScript}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      if (code !== 0) {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new ControlPlaneBinariesError(`${buildScript} ${why}; its progress log is on stderr above`));
        return;
      }
      const last = stdout.trimEnd().split('\n').pop()?.trim() ?? '';
      if (last === '') reject(new ControlPlaneBinariesError(`${buildScript} printed no output directory`));
      else resolvePromise(last);
    });
  });
}

// One lookup per process: concurrent control planes must not start concurrent builds.
let cached: Promise<ControlPlaneBinaries> | undefined;

/**
 * The binaries in `binDir`, else in env MCGW_BIN_DIR, else in the directory
 * scripts/build-control-plane.sh prints (it builds them first if they are not cached).
 */
export function findBinaries(binDir?: string): Promise<ControlPlaneBinaries> {
  if (binDir !== undefined) return check(resolve(binDir), 'binDir');
  const fromEnv = process.env.MCGW_BIN_DIR;
  if (fromEnv) return check(resolve(fromEnv), 'MCGW_BIN_DIR');
  if (cached === undefined) {
    const lookup = runBuildScript().then((dir) => check(dir, buildScript));
    // A failed build may be fixable (e.g. the toolchain gets installed); let a later call retry.
    lookup.catch(() => {
      if (cached === lookup) cached = undefined;
    });
    cached = lookup;
  }
  return cached;
}
