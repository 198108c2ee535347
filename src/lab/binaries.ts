// Locates the Kubernetes binaries the tests and the lab run, building them on demand: etcd and
// kube-apiserver always; kube-controller-manager, kube-scheduler, kubelet and kube-proxy for clusters of kubelet
// Nodes (a directory given by hand may lack them; they are then undefined).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isExecutable, runBuildScript } from './buildscript.ts';

export interface ControlPlaneBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager?: string;
  kubeScheduler?: string;
  kubelet?: string;
  kubeProxy?: string;
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

async function check(dir: string, how: string): Promise<ControlPlaneBinaries> {
  const bins = { dir, etcd: join(dir, 'etcd'), kubeApiserver: join(dir, 'kube-apiserver') };
  const missing = [];
  for (const path of [bins.etcd, bins.kubeApiserver]) if (!(await isExecutable(path))) missing.push(path);
  if (missing.length > 0) {
    throw new ControlPlaneBinariesError(`${how}: missing or not executable: ${missing.join(', ')}`, dir);
  }
  const optional = async (name: string) => {
    const path = join(dir, name);
    return (await isExecutable(path)) ? path : undefined;
  };
  const [kubeControllerManager, kubeScheduler, kubelet, kubeProxy] = await Promise.all(
    ['kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'].map(optional),
  );
  return {
    ...bins,
    ...(kubeControllerManager ? { kubeControllerManager } : {}),
    ...(kubeScheduler ? { kubeScheduler } : {}),
    ...(kubelet ? { kubelet } : {}),
    ...(kubeProxy ? { kubeProxy } : {}),
  };
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
    const lookup = runBuildScript(
      buildScript,
      repoRoot,
      (m) => new ControlPlaneBinariesError(m),
      'output directory',
    ).then((dir) => check(dir, buildScript));
    // A failed build may be fixable (e.g. the toolchain gets installed); let a later call retry.
    lookup.catch(() => {
      if (cached === lookup) cached = undefined;
    });
    cached = lookup;
  }
  return cached;
}
