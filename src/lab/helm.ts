// Finds the helm CLI (built from its pinned Go module by scripts/build-helm.sh, then cached) and
// renders the charts in deploy/helm to Kubernetes objects with `helm template`.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './binaries.ts';
import { isExecutable, runBuildScript } from './buildscript.ts';

export class HelmError extends Error {
  override name = 'HelmError';
  /** What helm printed on stdout before failing: helm lint reports its findings there. */
  constructor(
    message: string,
    readonly stdout = '',
  ) {
    super(message);
  }
}

/** The charts shipped in this repository: deploy/helm/<name>. */
export const chartsDir = join(repoRoot, 'deploy', 'helm');
export const chartDir = (name: 'mcgw-member' | 'mcgw-leader'): string => join(chartsDir, name);

const buildScript = join(repoRoot, 'scripts', 'build-helm.sh');

let cached: Promise<string> | undefined;

/**
 * The helm binary: env MCGW_HELM if set, else the one scripts/build-helm.sh prints (it builds it
 * first when it is not cached; the first build takes a few minutes).
 */
export function findHelm(): Promise<string> {
  const fromEnv = process.env.MCGW_HELM;
  if (fromEnv) {
    const path = resolve(fromEnv);
    return isExecutable(path).then((ok) => {
      if (!ok) throw new HelmError(`MCGW_HELM=${fromEnv}: missing or not executable`);
      return path;
    });
  }
  if (cached === undefined) {
    const lookup = runBuildScript(buildScript, repoRoot, (m) => new HelmError(m), 'helm path').then(
      async (path) => {
        if (!(await isExecutable(path)))
          throw new HelmError(`${buildScript} printed ${path}, not executable`);
        return path;
      },
    );
    // A failed build may be fixable (e.g. Go gets installed); let a later call retry.
    lookup.catch(() => {
      if (cached === lookup) cached = undefined;
    });
    cached = lookup;
  }
  return cached;
}

/** Runs helm with the arguments; resolves with its stdout, rejects with its stderr (and stdout). */
export async function helm(
  args: string[],
  opts: { helm?: string; timeoutMs?: number } = {},
): Promise<string> {
  const bin = opts.helm ?? (await findHelm());
  return new Promise((resolvePromise, reject) => {
    execFile(
      bin,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new HelmError(`helm ${args.join(' ')}: ${stderr.trim() || err.message}`, stdout));
        else resolvePromise(stdout);
      },
    );
  });
}

export interface RenderOptions {
  /** Release name; default mcgw. */
  release?: string;
  /** Release namespace (where helm would store the release); default default. */
  namespace?: string;
  /** Values, merged over the chart's values.yaml. */
  values?: Record<string, unknown>;
  /** Include the chart's crds/ directory; default true. */
  includeCRDs?: boolean;
  /** Kubernetes version for .Capabilities.KubeVersion and the chart's kubeVersion check. */
  kubeVersion?: string;
  /** Path to a helm binary; default findHelm(). */
  helm?: string;
}

/** `helm template` of a chart directory: the rendered manifests as one multi-document YAML text. */
export async function renderChart(chart: string, opts: RenderOptions = {}): Promise<string> {
  const args = ['template', opts.release ?? 'mcgw', chart, '--namespace', opts.namespace ?? 'default'];
  if (opts.includeCRDs ?? true) args.push('--include-crds');
  if (opts.kubeVersion) args.push('--kube-version', opts.kubeVersion);
  let dir: string | undefined;
  try {
    if (opts.values) {
      dir = await mkdtemp(join(tmpdir(), 'mcgw-helm-'));
      const file = join(dir, 'values.json'); // JSON is YAML, and needs no quoting rules
      await writeFile(file, JSON.stringify(opts.values));
      args.push('--values', file);
    }
    return await helm(args, opts.helm ? { helm: opts.helm } : {});
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** A rendered Kubernetes object. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Splits multi-document YAML into objects; empty documents are skipped, invalid YAML throws. */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      throw new HelmError(`invalid YAML in rendered output: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    const obj = doc.toJS() as Manifest | null;
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== 'object' || !obj.apiVersion || !obj.kind || !obj.metadata?.name) {
      throw new HelmError(
        `rendered document is not a Kubernetes object: ${JSON.stringify(obj).slice(0, 200)}`,
      );
    }
    out.push(obj);
  }
  return out;
}

/** renderChart() parsed into objects. */
export async function renderChartObjects(chart: string, opts: RenderOptions = {}): Promise<Manifest[]> {
  return parseManifests(await renderChart(chart, opts));
}
