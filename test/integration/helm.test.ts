// The Helm charts in deploy/helm on real kube-apiservers: both charts render with a helm built from
// its Go module, every object they make is accepted with strict field validation, and the RBAC is
// what the components need and no more: checked with SubjectAccessReviews, by acting as the agent
// with its own tokens, and by running the controller, the leader controller and Lease renewers as
// their ServiceAccounts until the ClusterSet works. Also checks the chart CRDs against deploy/crds
// and the Dockerfile's paths and image layout (dist/ built as in the image, run without tsx).
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { HEARTBEAT_LABEL, HEARTBEAT_LEASE } from '../../src/api/group.ts';
import { makeClients } from '../../src/kube/client.ts';
import { apiMessage, statusCode } from '../../src/kube/errors.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { KubeClient } from '../../src/kube/lite/client.ts';
import { kubeReporterApi } from '../../src/agent/reporter.ts';
import { bfdDownEvent } from '../../src/api/bfdreport.ts';
import { addMember, storeLeaderSecret } from '../../src/leader/membership.ts';
import { findBinaries, repoRoot } from '../../src/lab/binaries.ts';
import type { ControlPlane } from '../../src/lab/controlplane.ts';
import { type Manifest, chartDir, findHelm, helm, renderChartObjects } from '../../src/lab/helm.ts';
import { createSimNode } from '../../src/lab/simnodes.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { leaderFullValues, leaderValues, memberFullValues, memberValues } from './helm-fixtures.ts';
import { useControlPlanes } from './harness.ts';
import { waitFor } from './util.ts';

const MEMBER_NS = 'mcgw-system';
const CLUSTERSET_NS = 'mcgw-clusterset';
const B = '/apis/mcgw.io/v1alpha1';
const MEMBER_CRDS = ['gatewaypolicies', 'clustergateways', 'clustersetmembers', 'remoteclusters'];
const LEADER_CRDS = ['clusterexports', 'clusterimports'];

// --- Applying objects ------------------------------------------------------------------------------------

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** Maps apiVersion+kind to REST paths through discovery, as kubectl does. */
class Discovery {
  private cache = new Map<string, ApiResource[]>();
  constructor(private readonly kc: KubeConfig) {}

  async resource(apiVersion: string, kind: string): Promise<ApiResource & { base: string }> {
    const base = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
    for (let fresh = false; ; fresh = true) {
      let list = this.cache.get(apiVersion);
      if (!list || fresh) {
        try {
          list = (await rawRequest<{ resources: ApiResource[] }>(this.kc, 'GET', base)).resources;
        } catch (err) {
          if (statusCode(err) !== 404 || fresh) throw err;
          list = [];
        }
        this.cache.set(apiVersion, list);
      }
      const r = list.find((x) => x.kind === kind && !x.name.includes('/'));
      if (r) return { ...r, base };
      if (fresh) throw new Error(`the apiserver serves no ${kind} in ${apiVersion}`);
    }
  }

  async path(obj: Manifest): Promise<string> {
    const r = await this.resource(obj.apiVersion, obj.kind);
    const where = `${obj.kind} ${obj.metadata.name}`;
    if (r.namespaced) {
      // The charts must name the namespace: mcgw's code uses fixed ones, not the release namespace.
      assert.ok(obj.metadata.namespace, `${where} is namespaced but the chart sets no namespace`);
      return `${r.base}/namespaces/${obj.metadata.namespace}/${r.name}`;
    }
    assert.equal(obj.metadata.namespace, undefined, `${where} is cluster-scoped but has a namespace`);
    return `${r.base}/${r.name}`;
  }
}

// Helm's install order for the kinds the charts use; other kinds (custom resources, admission
// policies) go last.
const ORDER = [
  'Namespace',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'DaemonSet',
  'Pod',
  'Deployment',
];
const rank = (o: Manifest) => (ORDER.includes(o.kind) ? ORDER.indexOf(o.kind) : ORDER.length);
const byInstallOrder = (objs: Manifest[]) => [...objs].sort((a, b) => rank(a) - rank(b));
const describeObj = (o: Manifest) =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/**
 * Creates each object (or only dry-runs it) with strict field validation, so an unknown or
 * duplicated field is an error rather than silently dropped.
 */
async function createAll(kc: KubeConfig, disc: Discovery, objs: Manifest[], dryRun = false): Promise<void> {
  const q = `?fieldValidation=Strict${dryRun ? '&dryRun=All' : ''}`;
  for (const o of byInstallOrder(objs)) {
    try {
      await rawRequest(kc, 'POST', (await disc.path(o)) + q, o);
    } catch (err) {
      throw new Error(`${dryRun ? 'dry-run ' : ''}create of ${describeObj(o)} failed: ${apiMessage(err)}`, {
        cause: err,
      });
    }
  }
}

/** Creates the CRDs and waits until they are Established and served. */
async function createCRDs(kc: KubeConfig, disc: Discovery, crds: Manifest[]): Promise<void> {
  await createAll(kc, disc, crds);
  for (const crd of crds) {
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`;
    await waitFor(`CRD ${crd.metadata.name} Established`, async () => {
      const cur = await rawRequest<{ status?: { conditions?: { type: string; status: string }[] } }>(
        kc,
        'GET',
        path,
      );
      return cur.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
    const spec = crd.spec as {
      group: string;
      names: { kind: string; plural: string };
      versions: { name: string }[];
    };
    const gv = `${spec.group}/${spec.versions[0]!.name}`;
    // Served: in discovery, and its storage initialised (until then lists get HTTP 429), as a
    // controller Pod started by `helm install` a little later would find it.
    await waitFor(`${spec.names.kind} served`, async () => {
      await disc.resource(gv, spec.names.kind);
      await rawRequest(kc, 'GET', `/apis/${gv}/${spec.names.plural}?limit=1`);
      return true;
    });
  }
}

// --- RBAC checks -----------------------------------------------------------------------------------------

interface Access {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

const saUser = (ns: string, name: string) => ({
  user: `system:serviceaccount:${ns}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
});

async function allowed(kc: KubeConfig, ns: string, sa: string, a: Access): Promise<boolean> {
  const r = await rawRequest<{ status: { allowed: boolean } }>(
    kc,
    'POST',
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { ...saUser(ns, sa), resourceAttributes: { group: '', ...a } },
    },
  );
  return r.status.allowed;
}

const fmt = (a: Access) =>
  `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.subresource ? `/${a.subresource}` : ''}` +
  `${a.name ? ` ${a.name}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;

/** Asserts every `yes` access is allowed and every `no` access denied; reports all mistakes at once. */
async function assertAccess(
  kc: KubeConfig,
  ns: string,
  sa: string,
  yes: Access[],
  no: Access[],
): Promise<void> {
  const wrong: string[] = [];
  for (const a of yes) if (!(await allowed(kc, ns, sa, a))) wrong.push(`denied but needed: ${fmt(a)}`);
  for (const a of no) if (await allowed(kc, ns, sa, a)) wrong.push(`allowed but must not be: ${fmt(a)}`);
  assert.deepEqual(wrong, [], `${ns}/${sa}`);
}

const each = (verbs: string[], a: Omit<Access, 'verb'>): Access[] => verbs.map((verb) => ({ ...a, verb }));
const mcgw = (resource: string, extra: Partial<Access> = {}) => ({ group: 'mcgw.io', resource, ...extra });
const leases = (extra: Partial<Access> = {}) => ({
  group: 'coordination.k8s.io',
  resource: 'leases',
  ...extra,
});
const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'update', 'patch', 'delete'];

async function forbidden(p: Promise<unknown>, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(statusCode(err), 403, `expected HTTP 403, got ${apiMessage(err)}`);
    if (pattern) assert.match(apiMessage(err), pattern);
    return true;
  });
}

// --- Processes ---------------------------------------------------------------------------------------------

interface Proc {
  name: string;
  child: ChildProcess;
  output: string[];
}

const procs: Proc[] = [];

/** Runs `node bin/mcgw.js <args>` in the background, keeping its output for the checks. */
function startMcgw(name: string, args: string[]): Proc {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'mcgw.js'), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Proc = { name, child, output: [] };
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d: string) => p.output.push(...d.split('\n').filter((l) => l.trim() !== '')));
  }
  procs.push(p);
  return p;
}

async function stopAll(): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      const exited = new Promise((r) => p.child.once('exit', r));
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }),
  );
}

/** Why the processes are not well: one exited, or one was refused by the apiserver. */
function procProblem(): string | undefined {
  for (const p of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      return `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.output.slice(-20).join('\n')}`;
    const refused = p.output.filter((l) => /forbidden|HTTP 403/i.test(l));
    if (refused.length > 0) return `${p.name} was refused:\n${refused.slice(0, 3).join('\n')}`;
  }
  return undefined;
}

/** The args of a rendered workload's container, with $(VAR) references expanded. */
function containerArgs(obj: Manifest | undefined, env: Record<string, string>): string[] {
  assert.ok(obj, 'workload not rendered');
  const spec = obj.spec as { template: { spec: { containers: { args: string[] }[] } } };
  return spec.template.spec.containers[0]!.args.map((a) =>
    a.replace(/\$\(([A-Z_]+)\)/g, (_, v: string) => {
      assert.ok(env[v] !== undefined, `no value for $(${v}) in ${a}`);
      return env[v]!;
    }),
  );
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, HOME: cwd, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

// --- Tests ---------------------------------------------------------------------------------------------------

const find = (objs: Manifest[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);

type PodSpec = {
  hostNetwork?: boolean;
  serviceAccountName: string;
  securityContext?: Record<string, unknown>;
  tolerations?: unknown[];
  containers: {
    args: string[];
    env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    livenessProbe?: { httpGet: { path: string; port: string } };
    readinessProbe?: { httpGet: { path: string; port: string } };
    ports?: { name: string; containerPort: number }[];
    resources?: { requests?: unknown; limits?: unknown };
    securityContext?: { capabilities?: { add?: string[]; drop?: string[] }; [k: string]: unknown };
  }[];
};
const podSpec = (o: Manifest | undefined): PodSpec => {
  assert.ok(o, 'workload not rendered');
  return (o.spec as { template: { spec: PodSpec } }).template.spec;
};

describe('chart CRDs and the Dockerfile', () => {
  test('the charts carry exactly the generated CRDs of deploy/crds', () => {
    const fix = (chart: string, names: string[]) =>
      `cp ${names.map((n) => `deploy/crds/${n}.yaml`).join(' ')} deploy/helm/${chart}/crds/`;
    for (const [chart, names] of [
      ['mcgw-member', MEMBER_CRDS],
      ['mcgw-leader', LEADER_CRDS],
    ] as const) {
      const dir = join(chartDir(chart), 'crds');
      assert.deepEqual(
        readdirSync(dir).sort(),
        names.map((n) => `${n}.yaml`).sort(),
        `${dir} holds other files than the ${chart} CRDs`,
      );
      for (const n of names) {
        const want = readFileSync(join(repoRoot, 'deploy', 'crds', `${n}.yaml`), 'utf8');
        const got = readFileSync(join(dir, `${n}.yaml`), 'utf8');
        assert.ok(
          got === want,
          `deploy/helm/${chart}/crds/${n}.yaml differs from deploy/crds; run: ${fix(chart, names)}`,
        );
      }
    }
  });

  test('the Dockerfile copies paths that exist and that .dockerignore lets through', () => {
    const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const lines = text
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    // Base image, tools and entry point.
    assert.ok(lines.includes('ARG NODE_IMAGE=node:20-bookworm-slim'), 'base image node:20-bookworm-slim');
    // The build stages have a base of their own (they need npm), by default the same image.
    assert.ok(lines.includes('ARG NODE_BUILD_IMAGE=${NODE_IMAGE}'), 'the build stages default to NODE_IMAGE');
    const froms = lines.filter((l) => l.startsWith('FROM '));
    assert.deepEqual(froms, [
      'FROM ${NODE_BUILD_IMAGE} AS deps',
      'FROM ${NODE_BUILD_IMAGE} AS build',
      'FROM ${NODE_IMAGE}',
    ]);
    const apt = lines.find((l) => l.includes('apt-get install'));
    assert.ok(apt && /\biproute2\b/.test(apt) && /\bnftables\b/.test(apt), 'installs iproute2 and nftables');
    assert.ok(lines.includes('ENTRYPOINT ["node", "bin/mcgw.js"]'));
    // The build context: the allow-list of .dockerignore (directories or single files).
    const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', '.dockerignore starts by excluding everything');
    const allowed = ignore.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, ''));
    const copies = lines.filter((l) => l.startsWith('COPY '));
    const fromContext = copies.filter((l) => !l.includes('--from='));
    const sources = fromContext.flatMap((l) => l.split(/\s+/).slice(1, -1));
    assert.ok(sources.length >= 5, `COPY sources: ${sources.join(' ')}`);
    for (const src of sources) {
      assert.ok(existsSync(join(repoRoot, src)), `COPY source ${src} does not exist`);
      assert.ok(
        allowed.some((a) => src === a || src.startsWith(`${a}/`)),
        `COPY source ${src} is excluded by .dockerignore`,
      );
    }
    // The build stage gets what scripts/build.mjs reads, and runs it.
    for (const need of ['bin', 'src', 'scripts/build.mjs', 'tsconfig.json', 'tsconfig.build.json'])
      assert.ok(sources.includes(need), `the build stage lacks ${need}`);
    assert.ok(lines.includes('RUN node scripts/build.mjs'), 'the build stage runs scripts/build.mjs');
    // The final stage: runtime dependencies, the entry point and dist/ only, and no fallback to tsx.
    const final = lines.slice(lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true));
    const finalCopies = final
      .filter((l) => l.startsWith('COPY '))
      .map((l) => l.split(/\s+/).slice(1).join(' '));
    assert.deepEqual(finalCopies.sort(), [
      '--from=build /app/dist ./dist',
      '--from=deps /app/node_modules ./node_modules',
      'bin ./bin',
      'package.json ./',
    ]);
    assert.ok(
      final.some((l) => l.startsWith('ENV ') && /\bMCGW_RUNTIME=dist\b/.test(l)),
      'MCGW_RUNTIME=dist in the image',
    );
  });

  test('the image layout (runtime deps + bin + dist) runs every command the charts use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcgw-image-'));
    try {
      // The build stage: the build inputs (package.json makes the output ES modules), the full
      // node_modules, then scripts/build.mjs.
      const build = join(dir, 'build');
      await mkdir(join(build, 'scripts'), { recursive: true });
      const inputs = [
        'package.json',
        'tsconfig.json',
        'tsconfig.build.json',
        'bin',
        'src',
        'scripts/build.mjs',
      ];
      for (const p of inputs) await cp(join(repoRoot, p), join(build, p), { recursive: true });
      await symlink(join(repoRoot, 'node_modules'), join(build, 'node_modules'));
      const built = await run(process.execPath, ['scripts/build.mjs'], build);
      assert.equal(built.code, 0, `scripts/build.mjs: ${built.out}`);
      // The final stage: what `npm ci --omit=dev` installs, taken from node_modules, and no tsx.
      const image = join(dir, 'image');
      await mkdir(join(image, 'node_modules'), { recursive: true });
      for (const p of prodPackages()) {
        const from = join(repoRoot, 'node_modules', p);
        assert.ok(existsSync(from), `node_modules/${p} is not installed here`);
        await cp(from, join(image, 'node_modules', p), { recursive: true, verbatimSymlinks: true });
      }
      assert.ok(!existsSync(join(image, 'node_modules', 'tsx')), 'tsx would be in the image');
      for (const p of ['package.json', 'bin'])
        await cp(join(repoRoot, p), join(image, p), { recursive: true });
      await cp(join(build, 'dist'), join(image, 'dist'), { recursive: true });
      // --help loads each command's static module graph, so a module missing from the image fails.
      // The Lease renewer is in the graph of lease renew.
      const cmds = [['controller'], ['leader'], ['agent'], ['lease', 'renew'], ['clusterset']];
      const results = await Promise.all(
        cmds.map((cmd) =>
          run(process.execPath, ['bin/mcgw.js', ...cmd, '--help'], image, { MCGW_RUNTIME: 'dist' }),
        ),
      );
      results.forEach((r, i) => {
        assert.equal(r.code, 0, `mcgw ${cmds[i]!.join(' ')} --help in the image layout: ${r.out}`);
        assert.match(r.out, /Usage: mcgw/);
      });
      // What the agent imports only with a kubeconfig (src/cli/agent.ts), loaded here by hand.
      const agentKube = [
        'kube/lite/client.js',
        'kube/lite/config.js',
        'kube/lite/lease.js',
        'agent/kubesource.js',
        'lease/renewer.js',
        'agent/reporter.js',
      ];
      const loaded = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `for (const m of ${JSON.stringify(agentKube)}) await import('./dist/' + m); await import('yaml');`,
        ],
        image,
      );
      assert.equal(loaded.code, 0, `the agent's kubeconfig-only modules in the image layout: ${loaded.out}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The top-level node_modules entries `npm ci --omit=dev` installs, from package-lock.json. */
function prodPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([k, v]) => k.startsWith('node_modules/') && !v.dev && !k.slice(13).includes('node_modules/'))
    .map(([k]) => k.replace(/^node_modules\//, ''));
}

describe('helm charts on real apiservers', () => {
  let helmBin: string;
  // [0]: a member cluster, [1]: the leader cluster.
  const cps = useControlPlanes(2, { name: 'helm' });
  let member: ControlPlane;
  let leader: ControlPlane;
  let memberKc: KubeConfig;
  let leaderKc: KubeConfig;
  let mObjs: Manifest[];
  let lObjs: Manifest[];
  let work: string;

  before(async () => {
    const t0 = performance.now();
    // Builds helm from its Go module the first time (minutes; progress on stderr), then cached.
    helmBin = await findHelm();
    console.error(`[helm.test] helm: ${helmBin} (${Math.round(performance.now() - t0)} ms)`);
    work = await mkdtemp(join(tmpdir(), 'mcgw-helm-test-'));
  });

  after(async () => {
    await stopAll();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('helm lint passes and invalid values fail with a message', async () => {
    assert.match(await helm(['version', '--short'], { helm: helmBin }), /^v3\./);
    for (const chart of ['mcgw-member', 'mcgw-leader'] as const) {
      await helm(['lint', '--strict', chartDir(chart), '--namespace', 'default'], { helm: helmBin });
    }
    await assert.rejects(
      renderChartObjects(chartDir('mcgw-member'), {
        helm: helmBin,
        values: { clusterSetMember: { enabled: true, podCIDRs: ['198.18.64.0/20'] } },
      }),
      /clusterSetMember.clusterID must be set/,
    );
    await assert.rejects(
      renderChartObjects(chartDir('mcgw-member'), { helm: helmBin, namespace: MEMBER_NS }),
      /cannot be stored in it/,
    );
    await assert.rejects(
      renderChartObjects(chartDir('mcgw-leader'), { helm: helmBin, namespace: CLUSTERSET_NS }),
      /cannot be stored in it/,
    );
  });

  test('rendered: 2 controller replicas, agent DaemonSet on the host network, probes, security', async () => {
    member = cps[0]!;
    leader = cps[1]!;
    memberKc = member.kubeConfig();
    leaderKc = leader.kubeConfig();
    const kubeVersion = await apiserverVersion(member);
    mObjs = await renderChartObjects(chartDir('mcgw-member'), {
      helm: helmBin,
      kubeVersion,
      values: memberValues,
    });
    lObjs = await renderChartObjects(chartDir('mcgw-leader'), {
      helm: helmBin,
      kubeVersion,
      values: leaderValues,
    });

    const ctl = find(mObjs, 'Deployment', 'mcgw-controller');
    assert.equal((ctl?.spec as { replicas: number }).replicas, 2);
    const cs = podSpec(ctl);
    const c = cs.containers[0]!;
    assert.deepEqual(c.args.slice(0, 1), ['controller']);
    assert.equal(c.livenessProbe?.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe?.httpGet.path, '/readyz');
    const port = c.ports?.find((p) => p.name === c.livenessProbe?.httpGet.port)?.containerPort;
    assert.ok(c.args.includes(`--health-addr=0.0.0.0:${port}`), 'health endpoint on the probed port');
    assert.ok(c.resources?.requests && c.resources.limits, 'controller resources');
    assert.equal(cs.securityContext?.runAsNonRoot, true);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);

    const as = podSpec(find(mObjs, 'DaemonSet', 'mcgw-agent'));
    const a = as.containers[0]!;
    assert.equal(as.hostNetwork, true);
    assert.deepEqual(a.args.slice(0, 2), ['agent', '--node=$(NODE_NAME)']);
    assert.equal(a.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
    assert.deepEqual(a.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_ADMIN'] });
    assert.deepEqual(as.tolerations, [{ operator: 'Exists' }]);

    const lead = find(lObjs, 'Deployment', 'mcgw-leader');
    assert.equal((lead?.spec as { replicas: number }).replicas, 2);
    assert.deepEqual(podSpec(lead).containers[0]!.args.slice(0, 1), ['leader']);
    assert.ok(find(lObjs, 'ClusterRole', 'mcgw-import-reader'));

    // The agent needs the privileged Pod Security level; the leader passes restricted.
    const level = (objs: Manifest[]) =>
      objs.find((o) => o.kind === 'Namespace')?.metadata.labels?.['pod-security.kubernetes.io/enforce'];
    assert.equal(level(mObjs), 'privileged');
    assert.equal(level(lObjs), 'restricted');

    // Namespaced objects live where mcgw's code looks: mcgw-system, mcgw-clusterset (events: default).
    for (const o of mObjs)
      if (o.metadata.namespace)
        assert.ok([MEMBER_NS, 'default'].includes(o.metadata.namespace), describeObj(o));
    for (const o of lObjs)
      if (o.metadata.namespace) assert.equal(o.metadata.namespace, CLUSTERSET_NS, describeObj(o));
  });

  test('every flag the charts pass is one the mcgw command accepts', async () => {
    const full = await renderChartObjects(chartDir('mcgw-member'), {
      helm: helmBin,
      values: memberFullValues,
    });
    const fullLeader = await renderChartObjects(chartDir('mcgw-leader'), {
      helm: helmBin,
      values: leaderFullValues,
    });
    const sets: [string, string[]][] = [];
    for (const objs of [mObjs, full]) {
      sets.push(['controller', podSpec(find(objs, 'Deployment', 'mcgw-controller')).containers[0]!.args]);
      sets.push(['agent', podSpec(find(objs, 'DaemonSet', 'mcgw-agent')).containers[0]!.args]);
    }
    for (const objs of [lObjs, fullLeader])
      sets.push(['leader', podSpec(find(objs, 'Deployment', 'mcgw-leader')).containers[0]!.args]);
    const helps = new Map<string, string>();
    await Promise.all(
      ['controller', 'agent', 'leader'].map(async (cmd) => {
        const r = await run(process.execPath, [join(repoRoot, 'bin', 'mcgw.js'), cmd, '--help'], repoRoot);
        assert.equal(r.code, 0, r.out);
        helps.set(cmd, r.out);
      }),
    );
    for (const [cmd, args] of sets) {
      assert.equal(args[0], cmd);
      for (const arg of args.slice(1)) {
        const flag = arg.split('=')[0]!;
        assert.ok(
          helps.get(cmd)!.includes(`${flag} `),
          `mcgw ${cmd} has no flag ${flag} (chart passes ${arg})`,
        );
      }
    }
  });

  test('every object of both charts is accepted by a real apiserver (CRDs first, strict fields)', async () => {
    for (const [kc, objs, fullValues, chart] of [
      [memberKc, mObjs, memberFullValues, 'mcgw-member'],
      [leaderKc, lObjs, leaderFullValues, 'mcgw-leader'],
    ] as const) {
      const disc = new Discovery(kc);
      await createCRDs(
        kc,
        disc,
        objs.filter((o) => o.kind === 'CustomResourceDefinition'),
      );
      await createAll(
        kc,
        disc,
        objs.filter((o) => o.kind === 'Namespace'),
      );
      // Every optional branch, as a server-side dry run (nothing is stored).
      const full = await renderChartObjects(chartDir(chart), { helm: helmBin, values: fullValues });
      await createAll(
        kc,
        disc,
        full.filter((o) => o.kind !== 'CustomResourceDefinition' && o.kind !== 'Namespace'),
        true,
      );
      await createAll(
        kc,
        disc,
        objs.filter((o) => o.kind !== 'CustomResourceDefinition' && o.kind !== 'Namespace'),
      );
    }
    // The admission policy's CEL compiled (the apiserver refuses one that does not); its type check
    // is reported by kube-controller-manager, which does not run here, so the agent tests below run
    // every expression against real requests instead.
  });

  test('SubjectAccessReviews: the controller may do what it needs and nothing more', async () => {
    const ns = MEMBER_NS;
    await assertAccess(
      memberKc,
      ns,
      'mcgw-controller',
      [
        ...each(READ, { resource: 'nodes' }),
        { verb: 'get', resource: 'namespaces', name: ns },
        ...each(READ, mcgw('gatewaypolicies')),
        ...each(READ, mcgw('clustersetmembers')),
        ...each([...READ, 'create', 'update', 'delete'], mcgw('clustergateways')),
        ...each([...READ, 'create', 'update', 'delete'], mcgw('remoteclusters')),
        ...['gatewaypolicies', 'clustergateways', 'clustersetmembers', 'remoteclusters'].map((r) => ({
          verb: 'update',
          ...mcgw(r, { subresource: 'status' }),
        })),
        ...each([...READ, 'create'], leases({ namespace: ns })),
        { verb: 'update', ...leases({ namespace: ns, name: 'mcgw-controller' }) },
        { verb: 'get', resource: 'secrets', namespace: ns, name: 'mcgw-leader' },
        { verb: 'create', resource: 'events', namespace: 'default' },
        // The agents' BFD Down reports.
        ...each(['list', 'watch'], { resource: 'events', namespace: ns }),
      ],
      [
        ...each(WRITE, { resource: 'nodes' }),
        ...each(WRITE, mcgw('gatewaypolicies')),
        ...each(WRITE, mcgw('clustersetmembers')),
        { verb: 'update', ...leases({ namespace: ns, name: 'gateway-n1' }) },
        { verb: 'delete', ...leases({ namespace: ns, name: 'gateway-n1' }) },
        ...each(['get', 'create', 'update'], leases({ namespace: 'kube-system' })),
        ...each(['list', 'watch'], { resource: 'secrets', namespace: ns }),
        { verb: 'get', resource: 'secrets', namespace: ns, name: 'other' },
        { verb: 'get', resource: 'secrets', namespace: 'kube-system', name: 'mcgw-leader' },
        { verb: 'create', resource: 'events', namespace: 'kube-system' },
        // It reads the agents' reports; it may not make or remove one.
        ...each(['create', 'update', 'delete'], { resource: 'events', namespace: ns }),
        { verb: 'get', resource: 'namespaces', name: 'kube-system' },
        { verb: 'create', resource: 'namespaces' },
        { verb: 'list', resource: 'pods', namespace: ns },
      ],
    );
  });

  test('SubjectAccessReviews: the agent only reads, and writes only Leases and BFD reports in mcgw-system', async () => {
    const ns = MEMBER_NS;
    const kinds = ['clustergateways', 'remoteclusters', 'gatewaypolicies', 'clustersetmembers'];
    await assertAccess(
      memberKc,
      ns,
      'mcgw-agent',
      [
        ...each(READ, { resource: 'nodes' }),
        ...kinds.flatMap((k) => each(READ, mcgw(k))),
        ...each(['get', 'create', 'update'], leases({ namespace: ns, name: 'gateway-n1' })),
        // BFD Down reports (src/agent/reporter.ts).
        { verb: 'create', resource: 'events', namespace: ns },
      ],
      [
        ...kinds.flatMap((k) => each(WRITE, mcgw(k))),
        ...kinds.map((k) => ({ verb: 'update', ...mcgw(k, { subresource: 'status' }) })),
        ...each(WRITE, { resource: 'nodes' }),
        ...each(['delete', 'patch', 'list', 'watch'], leases({ namespace: ns })),
        ...each(['get', 'create', 'update'], leases({ namespace: 'kube-system' })),
        ...each(['get', 'list'], { resource: 'secrets', namespace: ns }),
        { verb: 'create', resource: 'events', namespace: 'default' },
        // It adds reports; it may not read, change or remove anyone's.
        ...each(['get', 'list', 'watch', 'update', 'patch', 'delete'], { resource: 'events', namespace: ns }),
      ],
    );
  });

  test('SubjectAccessReviews: the leader controller and the import reader', async () => {
    const ns = CLUSTERSET_NS;
    const memberNs = 'mcgw-member-x';
    await assertAccess(
      leaderKc,
      ns,
      'mcgw-leader',
      [
        ...each(READ, mcgw('clusterexports')),
        ...each(READ, mcgw('clusterexports', { namespace: memberNs })),
        { verb: 'update', ...mcgw('clusterexports', { subresource: 'status', namespace: memberNs }) },
        ...each([...READ, ...WRITE], mcgw('clusterimports', { namespace: ns })),
        { verb: 'update', ...mcgw('clusterimports', { subresource: 'status', namespace: ns }) },
        ...each(['list', 'watch'], { resource: 'namespaces' }),
        { verb: 'get', resource: 'namespaces', name: ns },
        ...each(['list', 'watch'], leases()),
        ...each(['get', 'create'], leases({ namespace: ns })),
        { verb: 'update', ...leases({ namespace: ns, name: 'mcgw-leader-controller' }) },
      ],
      [
        ...each(WRITE, mcgw('clusterexports', { namespace: memberNs })),
        ...each(['create', 'update', 'delete'], mcgw('clusterimports', { namespace: memberNs })),
        { verb: 'update', ...leases({ namespace: memberNs, name: HEARTBEAT_LEASE }) },
        { verb: 'update', ...leases({ namespace: ns, name: 'other' }) },
        ...each(['create', 'update', 'delete'], { resource: 'namespaces' }),
        ...each(['get', 'list'], { resource: 'secrets', namespace: ns }),
      ],
    );
    // The reader role, as add-member binds it for a member in mcgw-clusterset.
    const rb = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'probe-reader', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mcgw-import-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'probe', namespace: 'mcgw-member-probe' }],
    };
    await rawRequest(
      leaderKc,
      'POST',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
      rb,
    );
    await assertAccess(
      leaderKc,
      'mcgw-member-probe',
      'probe',
      each(READ, mcgw('clusterimports', { namespace: ns })),
      [
        ...each(WRITE, mcgw('clusterimports', { namespace: ns })),
        ...each(READ, mcgw('clusterimports', { namespace: 'default' })),
      ],
    );
    await rawRequest(
      leaderKc,
      'DELETE',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/probe-reader`,
    );
  });

  // Agent identities: one token as createServiceAccountKubeconfig mints it (not bound to a Pod), and
  // per Node one bound to a Pod made from the DaemonSet's template, as the kubelet would mount it.
  let agentPlain: KubeConfig;
  const agentOn = new Map<string, { kc: KubeConfig; path: string }>();

  test('setup: Nodes, agent Pods and their tokens, the leader Secret', async () => {
    const core = makeClients(memberKc).core;
    await Promise.all(
      ['n1', 'n2', 'n3'].map((name, i) =>
        createSimNode(core, { name, zone: `zone-${i}`, internalIP: `198.18.0.${11 + i}` }),
      ),
    );
    agentPlain = (await member.createServiceAccountKubeconfig(MEMBER_NS, 'mcgw-agent')).kubeConfig();
    const template = (find(mObjs, 'DaemonSet', 'mcgw-agent')!.spec as { template: { spec: object } })
      .template;
    for (const node of ['n1', 'n2']) {
      const pod = await rawRequest<{ metadata: { name: string; uid: string } }>(
        memberKc,
        'POST',
        `/api/v1/namespaces/${MEMBER_NS}/pods?fieldValidation=Strict`,
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `mcgw-agent-${node}`, namespace: MEMBER_NS },
          spec: { ...template.spec, nodeName: node },
        },
      );
      const tr = await rawRequest<{ status: { token: string } }>(
        memberKc,
        'POST',
        `/api/v1/namespaces/${MEMBER_NS}/serviceaccounts/mcgw-agent/token`,
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            audiences: [],
            expirationSeconds: 3600,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
          },
        },
      );
      const path = join(work, `agent-${node}.kubeconfig`);
      await writeFile(path, tokenKubeconfig(memberKc, tr.status.token), { mode: 0o600 });
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      agentOn.set(node, { kc, path });
      // The apiserver puts the Pod's Node into the token's identity; the admission policy relies on it.
      const who = await rawRequest<{
        status: { userInfo: { username: string; extra?: Record<string, string[]> } };
      }>(kc, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'SelfSubjectReview',
      });
      assert.equal(who.status.userInfo.username, `system:serviceaccount:${MEMBER_NS}:mcgw-agent`);
      assert.deepEqual(who.status.userInfo.extra?.['authentication.kubernetes.io/node-name'], [node]);
    }
    // What `mcgw clusterset add-member --member-kubeconfig` does, with the leader cluster's admin.
    const creds = await addMember(makeClients(leaderKc), 'alpha');
    await storeLeaderSecret(makeClients(memberKc), 'mcgw-leader', creds.kubeconfig);
  });

  test("acting as the agent: denied ClusterGateways and GatewayPolicies, and other Nodes' Leases", async () => {
    const gw = {
      apiVersion: 'mcgw.io/v1alpha1',
      kind: 'ClusterGateway',
      metadata: { name: 'n3' },
      spec: { nodeName: 'n3', gatewayIP: '198.18.0.13', internalIP: '198.18.0.13', priority: 100 },
    };
    const n1 = agentOn.get('n1')!.kc;
    for (const kc of [agentPlain, n1]) {
      await forbidden(
        rawRequest(kc, 'POST', `${B}/clustergateways`, gw),
        /cannot create resource "clustergateways"/,
      );
      const policy = await rawRequest<Manifest>(kc, 'GET', `${B}/gatewaypolicies/default`);
      await forbidden(rawRequest(kc, 'PUT', `${B}/gatewaypolicies/default`, policy), /cannot update/);
      await forbidden(rawRequest(kc, 'PUT', `${B}/gatewaypolicies/default/status`, policy), /cannot update/);
      await forbidden(
        rawRequest(kc, 'POST', `${B}/gatewaypolicies`, { ...policy, metadata: { name: 'mine' } }),
        /cannot create/,
      );
      await forbidden(rawRequest(kc, 'DELETE', `${B}/gatewaypolicies/default`), /cannot delete/);
      await forbidden(rawRequest(kc, 'GET', `/api/v1/namespaces/${MEMBER_NS}/secrets/mcgw-leader`));
    }
    // Leases: RBAC lets the agent write Leases in mcgw-system; the admission policy narrows that to
    // gateway-<its Node>. It takes effect a moment after it is created, so wait for a dry run to fail.
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${MEMBER_NS}/leases`;
    const lease = (name: string, node?: string) => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: MEMBER_NS, ...(node && { labels: { 'mcgw.io/node': node } }) },
      spec: { holderIdentity: 'test', leaseDurationSeconds: 3 },
    });
    await waitFor('the lease admission policy is in force', async () => {
      try {
        await rawRequest(n1, 'POST', `${leasePath}?dryRun=All`, lease('gateway-n2'));
        return false;
      } catch (err) {
        return statusCode(err) === 403;
      }
    });
    await forbidden(
      rawRequest(n1, 'POST', leasePath, lease('gateway-n2', 'n2')),
      /on Node n1 may write only the Lease gateway-n1/,
    );
    await forbidden(
      rawRequest(n1, 'POST', leasePath, lease('mcgw-controller')),
      /may write only Gateway Leases/,
    );
    await forbidden(rawRequest(n1, 'POST', leasePath, lease('gateway-n1', 'n2')), /mcgw.io\/node label/);
    await forbidden(
      rawRequest(agentPlain, 'POST', leasePath, lease('gateway-n1', 'n1')),
      /not bound to a Pod/,
    );
    // Its own Lease: create, then update.
    const own = await rawRequest<Manifest>(n1, 'POST', leasePath, lease('gateway-n1', 'n1'));
    await rawRequest(n1, 'PUT', `${leasePath}/gateway-n1`, {
      ...own,
      spec: { holderIdentity: 'test', leaseDurationSeconds: 4 },
    });
    // Not anyone else's, even one that exists.
    const other = await rawRequest<Manifest>(memberKc, 'POST', leasePath, lease('gateway-n3', 'n3'));
    await forbidden(
      rawRequest(n1, 'PUT', `${leasePath}/gateway-n3`, other),
      /may write only the Lease gateway-n1/,
    );
    await forbidden(rawRequest(n1, 'DELETE', `${leasePath}/gateway-n3`), /cannot delete/);
    await rawRequest(memberKc, 'DELETE', `${leasePath}/gateway-n3`);
    await rawRequest(memberKc, 'DELETE', `${leasePath}/gateway-n1`);
  });

  test('acting as the agents: a BFD Down report is written by the first Node, refused as a duplicate to the second', async () => {
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${MEMBER_NS}/leases`;
    await rawRequest(memberKc, 'POST', leasePath, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'gateway-n3', namespace: MEMBER_NS, labels: { 'mcgw.io/node': 'n3' } },
      spec: { holderIdentity: 'n3', leaseDurationSeconds: 3, renewTime: '2026-01-01T00:00:00.000000Z' },
    });
    try {
      const results: boolean[] = [];
      for (const node of ['n1', 'n2']) {
        const api = kubeReporterApi(await KubeClient.load(agentOn.get(node)!.path));
        const lease = await api.lease('n3');
        assert.equal(lease?.renewal, String(Date.parse('2026-01-01T00:00:00Z')));
        assert.ok(lease.uid);
        const ev = bfdDownEvent(
          { gateway: 'n3', uid: 'uid-n3', renewal: lease.renewal, reporter: node, leaseUid: lease.uid },
          'test',
          Date.now(),
        );
        results.push(await api.createEvent(ev));
      }
      assert.deepEqual(results, [true, false]);
      const evs = await rawRequest<{ items: Manifest[] }>(
        memberKc,
        'GET',
        `/api/v1/namespaces/${MEMBER_NS}/events?labelSelector=mcgw.io%2Freport%3Dbfd-down`,
      );
      assert.equal(evs.items.length, 1);
      // Not elsewhere.
      await forbidden(
        rawRequest(agentOn.get('n1')!.kc, 'POST', '/api/v1/namespaces/default/events', {
          ...bfdDownEvent({ gateway: 'n3', uid: 'u', renewal: '1', reporter: 'n1' }, 'test', Date.now()),
          metadata: { name: 'x', namespace: 'default' },
        }),
      );
      await rawRequest(
        memberKc,
        'DELETE',
        `/api/v1/namespaces/${MEMBER_NS}/events/${evs.items[0]!.metadata.name}`,
      );
    } finally {
      await rawRequest(memberKc, 'DELETE', `${leasePath}/gateway-n3`);
    }
  });

  test('running as their ServiceAccounts, controller, leader controller and agents make the ClusterSet work', async (t) => {
    const ctlId = await member.createServiceAccountKubeconfig(MEMBER_NS, 'mcgw-controller');
    const leadId = await leader.createServiceAccountKubeconfig(CLUSTERSET_NS, 'mcgw-leader');
    const t0 = performance.now();
    // The chart's own command lines, with a free health port and the test kubeconfigs.
    const local = (args: string[], kubeconfig: string) => [
      ...args.map((a) => (a.startsWith('--health-addr=') ? '--health-addr=127.0.0.1:0' : a)),
      `--kubeconfig=${kubeconfig}`,
    ];
    startMcgw(
      'leader',
      local(
        containerArgs(find(lObjs, 'Deployment', 'mcgw-leader'), { POD_NAME: 'mcgw-leader-0' }),
        leadId.kubeconfigPath,
      ),
    );
    startMcgw(
      'controller',
      local(
        containerArgs(find(mObjs, 'Deployment', 'mcgw-controller'), { POD_NAME: 'mcgw-controller-0' }),
        ctlId.kubeconfigPath,
      ),
    );
    // The agent's datapath needs root and the host network, which a test cannot lend it; its Lease
    // renewal, with the agent's Pod-bound identity, is what the controller needs from it here.
    for (const [node, { path }] of agentOn)
      startMcgw(`agent-${node}`, ['lease', 'renew', `--node=${node}`, `--kubeconfig=${path}`]);

    // Another member, beta, admitted and exporting with its own leader credentials.
    const beta = await addMember(makeClients(leaderKc), 'beta');
    const betaKc = new KubeConfig();
    betaKc.loadFromString(beta.kubeconfig);
    await rawRequest(betaKc, 'POST', `${B}/namespaces/${beta.namespace}/clusterexports`, {
      apiVersion: 'mcgw.io/v1alpha1',
      kind: 'ClusterExport',
      metadata: { name: 'beta', namespace: beta.namespace },
      spec: {
        clusterID: 'beta',
        mode: 'ActiveStandby',
        gateways: [
          { node: 'b1', gatewayIP: '198.18.2.11', internalIP: '198.18.2.11', priority: 100, ready: true },
        ],
        podCIDRs: ['198.18.80.0/20'],
        serviceCIDRs: ['198.19.80.0/24'],
        tunnel: { port: 4789, vni: 4242 },
      },
    });
    const hb = new LeaseRenewer({
      api: makeClients(betaKc).coordination,
      node: 'beta',
      namespace: beta.namespace,
      leaseName: HEARTBEAT_LEASE,
      labels: { [HEARTBEAT_LABEL]: 'beta' },
      renewIntervalMs: 1000,
      leaseDurationMs: 3000,
    });
    hb.start();
    try {
      type Cond = { type: string; status: string };
      type Obj = { metadata: { name: string }; status?: { conditions?: Cond[] } };
      const cond = (o: Obj | undefined, t: string) =>
        o?.status?.conditions?.find((c) => c.type === t)?.status;
      const list = async (kc: KubeConfig, path: string) =>
        (await rawRequest<{ items: Obj[] }>(kc, 'GET', path)).items;

      // Waits for `ok`, but stops at once when a process was refused something or exited.
      const until = async (what: string, ok: () => Promise<boolean>) => {
        let r: string;
        try {
          r = await waitFor(
            what,
            async () => procProblem() ?? ((await ok()) ? 'ok' : undefined),
            30_000,
            100,
          );
        } catch (err) {
          const logs = procs.map((p) => `--- ${p.name} (last lines) ---\n${p.output.slice(-15).join('\n')}`);
          throw new Error(`${(err as Error).message}\n${logs.join('\n')}`, { cause: err });
        }
        assert.equal(r, 'ok', `while waiting for ${what}: ${r}`);
      };

      // The controller placed two Gateways, and sees their agents' Leases renewed.
      await until('two Ready ClusterGateways on n1 and n2', async () => {
        const l = await list(memberKc, `${B}/clustergateways`);
        const names = l.map((g) => g.metadata.name).sort();
        return names.join() === 'n1,n2' && l.every((g) => cond(g, 'Ready') === 'True');
      });
      await until('the GatewayPolicy reports Ready', async () => {
        const p = await rawRequest<Obj>(memberKc, 'GET', `${B}/gatewaypolicies/default`);
        return cond(p, 'Ready') === 'True';
      });
      await until('the controller records Events in default', async () => {
        const events = await makeClients(memberKc).core.listNamespacedEvent({ namespace: 'default' });
        return events.items.some((e) => e.source?.component === 'mcgw-controller');
      });
      // The exchange: alpha exported to the leader, the leader accepted both, alpha mirrors beta.
      await until('alpha exported and accepted, beta mirrored as a RemoteCluster', async () => {
        const m = await rawRequest<Obj>(memberKc, 'GET', `${B}/clustersetmembers/alpha`);
        const exp = await rawRequest<Obj>(
          leaderKc,
          'GET',
          `${B}/namespaces/mcgw-member-alpha/clusterexports/alpha`,
        );
        const imports = await list(leaderKc, `${B}/namespaces/${CLUSTERSET_NS}/clusterimports`);
        const remotes = await list(memberKc, `${B}/remoteclusters`);
        return (
          cond(m, 'LeaderReachable') === 'True' &&
          cond(m, 'Exported') === 'True' &&
          cond(exp, 'Accepted') === 'True' &&
          imports
            .map((i) => i.metadata.name)
            .sort()
            .join() === 'alpha,beta' &&
          remotes.map((r) => r.metadata.name).join() === 'beta'
        );
      });
      t.diagnostic(`ClusterSet working ${Math.round(performance.now() - t0)} ms after the processes started`);
      assert.equal(procProblem(), undefined);
    } finally {
      hb.stop();
      await stopAll();
    }
  });
});

/**
 * The apiserver's Kubernetes version, for helm's kubeVersion check. Built from Go modules it reports
 * v0.0.0-master; then the version is the one scripts/build-control-plane.sh pinned.
 */
async function apiserverVersion(cp: ControlPlane): Promise<string> {
  const v = (JSON.parse((await cp.adminGet('/version')).body) as { gitVersion: string }).gitVersion;
  if (/^v1\.\d+\.\d+/.test(v)) return v;
  const fromDir = /k8s-(v1\.\d+\.\d+)/.exec((await findBinaries()).dir)?.[1];
  if (fromDir) return fromDir;
  const script = readFileSync(join(repoRoot, 'scripts', 'build-control-plane.sh'), 'utf8');
  const pinned = /K8S_VERSION:-(v1\.\d+\.\d+)/.exec(script)?.[1];
  assert.ok(pinned, `cannot tell the apiserver's Kubernetes version (it says ${v})`);
  return pinned;
}

/** A kubeconfig for the same apiserver as `admin`, authenticating with a bearer token. */
function tokenKubeconfig(admin: KubeConfig, token: string): string {
  const cluster = admin.getCurrentCluster()!;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'c', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
    ],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'c',
  });
}
