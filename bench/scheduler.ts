// Scheduler and controller benchmark (`npm run bench:scheduler`).
//
// Part 1 times the pure functions the controller runs on every reconcile: schedule() over the
// candidates, and plan() over every Node object, in a cluster of 5,000 Nodes with 500 candidates
// spread over several zones, desired 3, and the active instance's Lease just expired.
// Part 2 runs `bin/mcgw.js controller` as a child process against a real etcd + kube-apiserver
// holding 5,000 Nodes and one GatewayPolicy, and measures how long the controller takes from process
// start to /readyz and to the placement, and how much memory it needs for the full resync.
// The figures are printed as a table and written to the "Scheduler and controller" section of
// docs/BENCHMARKS.md (full-size runs only, unless --write is given).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { V1Node } from '@kubernetes/client-node';
import {
  API_VERSION,
  CANDIDATE_LABEL,
  DEFAULT_ZONE_KEY,
  DRAINING_LABEL,
  GROUP,
  SYSTEM_NAMESPACE,
  VERSION,
} from '../src/api/group.ts';
import type { ClusterGateway, GatewayPolicy } from '../src/api/types.ts';
import { plan } from '../src/controller/plan.ts';
import { effectiveSpec } from '../src/model/policy.ts';
import type { LeaseState, PlanInput } from '../src/controller/plan.ts';
import { toCandidate } from '../src/controller/nodeview.ts';
import { matchesSelector } from '../src/controller/selector.ts';
import { makeClients } from '../src/kube/client.ts';
import type { Clients } from '../src/kube/client.ts';
import { ensureNamespace, installCRDs } from '../src/kube/crds.ts';
import { apiMessage } from '../src/kube/errors.ts';
import { findBinaries } from '../src/lab/binaries.ts';
import { ControlPlane } from '../src/lab/controlplane.ts';
import { freePort } from '../src/lab/ports.ts';
import { createSimNode } from '../src/lab/simnodes.ts';
import { schedule } from '../src/scheduler/schedule.ts';
import type { ScheduleInput } from '../src/scheduler/types.ts';
import { writeSection } from './report.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MCGW_BIN = join(ROOT, 'bin', 'mcgw.js');
const SECTION = 'Scheduler and controller';
const FULL = { nodes: 5000, candidates: 500 };
const TARGET_P99_MS = 5;
const TARGET_PEAK_RSS_MIB = 250;
const POLICY_NAME = 'bench';
const HOLD_DOWN_MS = 60_000;

const HELP = `bench/scheduler.ts: scheduling decision time and controller resync cost

Usage: npx tsx bench/scheduler.ts [flags]      (npm run bench:scheduler -- [flags])

  --nodes N            Nodes in the cluster (default ${FULL.nodes}; at most 131070)
  --candidates M       of which gateway candidates (default ${FULL.candidates})
  --zones Z            zones the Nodes are spread over (default 4)
  --desired D          the policy's desiredInstances (default 3)
  --iterations N       timed calls of schedule() and of plan() each (default 2000, after a warm-up)
  --concurrency C      Node creations in flight against the apiserver (default 32)
  --settle-ms MS       how long the controller runs after placing before its RSS is read (default 10000)
  --timeout-ms MS      give up waiting for readiness or placement after this long (default 180000)
  --skip-cluster       only the in-process part (no control plane, no controller process)
  --write / --no-write write docs/BENCHMARKS.md (default: only for a full-size run of both parts)
`;

interface Options {
  nodes: number;
  candidates: number;
  zones: number;
  desired: number;
  iterations: number;
  concurrency: number;
  settleMs: number;
  timeoutMs: number;
  cluster: boolean;
  write: boolean | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nodes: { type: 'string' },
      candidates: { type: 'string' },
      zones: { type: 'string' },
      desired: { type: 'string' },
      iterations: { type: 'string' },
      concurrency: { type: 'string' },
      'settle-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'skip-cluster': { type: 'boolean', default: false },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const int = (name: string, v: string | undefined, def: number, min: number, max: number): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
    return n;
  };
  const nodes = int('nodes', values.nodes, FULL.nodes, 1, 131_070);
  const desired = int('desired', values.desired, 3, 1, 16);
  const o: Options = {
    nodes,
    candidates: int('candidates', values.candidates, Math.min(FULL.candidates, nodes), 1, nodes),
    zones: int('zones', values.zones, 4, 1, 26),
    desired,
    iterations: int('iterations', values.iterations, 2000, 10, 10_000_000),
    concurrency: int('concurrency', values.concurrency, 32, 1, 1024),
    settleMs: int('settle-ms', values['settle-ms'], 10_000, 0, 3_600_000),
    timeoutMs: int('timeout-ms', values['timeout-ms'], 180_000, 1000, 3_600_000),
    cluster: !values['skip-cluster'],
    write: values['no-write'] ? false : values.write ? true : undefined,
  };
  if (o.candidates < desired + 1)
    throw new Error(`--candidates must be more than --desired (${desired}), to have a replacement`);
  return o;
}

const progress = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

// --- The simulated cluster ----------------------------------------------------------------------------

interface NodeShape {
  name: string;
  zone: string;
  internalIP: string;
  candidate: boolean;
  ready: boolean;
  cordoned: boolean;
  draining: boolean;
}

/** Node i (0-based) gets 198.18.0.0/15 address i+1, so at most 131070 Nodes. */
function ipFor(i: number): string {
  const n = i + 1;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * Candidates are spread evenly through the Node list, their zones round-robin by candidate ordinal so
 * every zone gets its share. A few candidates are unusable, as in a real cluster: 2% NotReady,
 * 1% cordoned, 1% being drained. (The Nodes created on the apiserver are all Ready and usable.)
 */
function clusterShape(o: Options): NodeShape[] {
  const width = String(o.nodes - 1).length;
  const out: NodeShape[] = [];
  let k = 0;
  for (let i = 0; i < o.nodes; i++) {
    const candidate =
      Math.floor(((i + 1) * o.candidates) / o.nodes) > Math.floor((i * o.candidates) / o.nodes);
    const ord = candidate ? k++ : i;
    out.push({
      name: `node-${String(i).padStart(width, '0')}`,
      zone: `zone-${String.fromCharCode(97 + (ord % o.zones))}`,
      internalIP: ipFor(i),
      candidate,
      ready: !(candidate && ord % 50 === 7),
      cordoned: candidate && ord % 100 === 13,
      draining: candidate && ord % 100 === 29,
    });
  }
  return out;
}

/** A V1Node shaped like what a kubelet registers, with the fields an informer cache would hold. */
function toV1Node(s: NodeShape, i: number, created: Date): V1Node {
  const cond = (type: string, status: string, reason: string) => ({
    type,
    status,
    reason,
    message: `kubelet ${reason}`,
    lastHeartbeatTime: created,
    lastTransitionTime: created,
  });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: s.name,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(1000 + i),
      creationTimestamp: created,
      labels: {
        'kubernetes.io/hostname': s.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'bench.large',
        [DEFAULT_ZONE_KEY]: s.zone,
        ...(s.candidate && { [CANDIDATE_LABEL]: 'true' }),
        ...(s.draining && { [DRAINING_LABEL]: 'true' }),
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: { podCIDR: `10.${(i >> 8) & 255}.${i & 255}.0/24`, ...(s.cordoned && { unschedulable: true }) },
    status: {
      addresses: [
        { type: 'InternalIP', address: s.internalIP },
        { type: 'Hostname', address: s.name },
      ],
      capacity: { cpu: '8', memory: '32Gi', pods: '110' },
      allocatable: { cpu: '7800m', memory: '31Gi', pods: '110' },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
        s.ready ? cond('Ready', 'True', 'KubeletReady') : cond('Ready', 'Unknown', 'NodeStatusUnknown'),
      ],
    },
  };
}

interface Fixture {
  planInput: PlanInput;
  scheduleInput: ScheduleInput;
  failedNode: string;
  heldDown: number;
}

/**
 * The state one reconcile sees right after the active instance failed: a policy whose earlier
 * placement of `desired` instances (computed by plan() itself a minute ago) is current, every Lease
 * fresh except the active instance's, and a few candidates still held down after earlier failures.
 */
function buildFixture(o: Options): Fixture {
  const now = Date.now();
  const created = new Date(now - 86_400_000);
  const shapes = clusterShape(o);
  const nodes = shapes.map((s, i) => toV1Node(s, i, created));
  const policy: GatewayPolicy = {
    apiVersion: API_VERSION,
    kind: 'GatewayPolicy',
    metadata: {
      name: POLICY_NAME,
      uid: 'bench-policy-uid',
      generation: 1,
      resourceVersion: '900',
      creationTimestamp: created,
    },
    spec: { desiredInstances: o.desired, holdDownSeconds: HOLD_DOWN_MS / 1000 },
  };

  // The earlier placement, made by plan() itself.
  const earlier = now - 60_000;
  const first = plan({
    policies: [policy],
    nodes,
    gateways: [],
    lease: () => ({ state: 'absent' }),
    now: earlier,
    lastFailure: new Map(),
  });
  if (first.create.length !== o.desired)
    throw new Error(`bootstrap placed ${first.create.length} instances, expected ${o.desired}`);
  const gateways: ClusterGateway[] = first.create.map((gw, i) => ({
    ...gw,
    metadata: {
      ...gw.metadata,
      uid: `bench-gw-uid-${i}`,
      resourceVersion: String(950 + i),
      creationTimestamp: new Date(earlier),
    },
    status: first.gatewayStatus.find((s) => s.name === gw.metadata.name)?.status ?? {},
  }));
  policy.status = first.policyStatus.find((s) => s.name === POLICY_NAME)?.status ?? {};

  // The active (highest-priority) instance has just failed.
  const failedNode = [...gateways].sort((a, b) => b.spec.priority - a.spec.priority)[0]!.spec.nodeName;
  const placed = new Set(gateways.map((g) => g.spec.nodeName));
  const lease = (node: string): { state: LeaseState; expiresAt?: number } =>
    node === failedNode
      ? { state: 'expired', expiresAt: now - 500 }
      : placed.has(node)
        ? { state: 'fresh', expiresAt: now + 2_000 }
        : { state: 'absent' };

  // Candidates that failed recently and are still held down.
  const lastFailure = new Map<string, number>();
  shapes
    .filter((s) => s.candidate && !placed.has(s.name))
    .forEach((s, k) => {
      if (k % 97 === 5) lastFailure.set(s.name, now - 10_000 - k);
    });

  const spec = effectiveSpec(policy.spec);
  const scheduleInput: ScheduleInput = {
    candidates: nodes
      .filter((n) => matchesSelector(n.metadata?.labels, spec.candidateSelector))
      .map((n) => toCandidate(n, spec.zoneTopologyKey)),
    current: gateways.map((g) => ({ node: g.spec.nodeName, priority: g.spec.priority })),
    policy: { desired: o.desired, holdDownMs: HOLD_DOWN_MS },
    now,
    lastFailure,
    failedNow: new Set([failedNode]),
  };
  return {
    planInput: { policies: [policy], nodes, gateways, lease, now, lastFailure },
    scheduleInput,
    failedNode,
    heldDown: lastFailure.size,
  };
}

// --- Part 1: decision time ----------------------------------------------------------------------------

interface Latency {
  iterations: number;
  warmup: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function timeCalls(fn: () => { length: number }, iterations: number): Latency {
  const warmup = Math.max(200, Math.floor(iterations / 5));
  let sink = 0; // consumed below, so no call can be optimised away
  for (let i = 0; i < warmup; i++) sink += fn().length;
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    sink += fn().length;
    samples[i] = performance.now() - t;
  }
  if (sink < 0) throw new Error('unreachable');
  samples.sort();
  let sum = 0;
  for (const s of samples) sum += s;
  return {
    iterations,
    warmup,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples[samples.length - 1]!,
    mean: sum / iterations,
  };
}

interface DecisionFigures {
  schedule: Latency;
  plan: Latency;
  decision: string;
}

function benchDecisions(o: Options): DecisionFigures {
  progress(`part 1: building ${o.nodes} V1Nodes (${o.candidates} candidates over ${o.zones} zones)`);
  const f = buildFixture(o);

  // Check once that the benchmark exercises what it claims: the failed instance is replaced.
  const r = schedule(f.scheduleInput);
  const p = plan(f.planInput);
  const removed = r.removed.find((x) => x.node === f.failedNode);
  if (removed?.reason !== 'LeaseExpired' || r.added.length !== 1 || r.assignment.length !== o.desired)
    throw new Error(`unexpected decision: ${JSON.stringify({ ...r, skipped: r.skipped.length })}`);
  if (p.create.length !== 1 || p.remove.length !== 1 || p.remove[0]!.name !== f.failedNode)
    throw new Error(`unexpected plan: create ${p.create.length}, remove ${JSON.stringify(p.remove)}`);
  const zones = new Map(f.scheduleInput.candidates.map((c) => [c.name, c.zone]));
  const decision =
    `replace ${f.failedNode} (LeaseExpired) with ${r.added[0]!.node}; ` +
    `assignment ${r.assignment.map((a) => `${a.node}@${zones.get(a.node)}/${a.priority}`).join(', ')}; ` +
    `${r.skipped.length} candidates skipped (${f.heldDown} held down)`;
  progress(`decision: ${decision}`);

  progress(`timing schedule() over ${f.scheduleInput.candidates.length} candidates, ${o.iterations} calls`);
  const s = timeCalls(() => schedule(f.scheduleInput).assignment, o.iterations);
  progress(`timing plan() over ${o.nodes} Nodes, ${o.iterations} calls`);
  const pl = timeCalls(() => plan(f.planInput).create, o.iterations);
  return { schedule: s, plan: pl, decision };
}

// --- Part 2: controller resync on a real apiserver --------------------------------------------------

interface ClusterFigures {
  createMs: number;
  readyMs?: number;
  startingMs?: number;
  leaderMs?: number;
  gatewaysMs?: number;
  placedMs?: number;
  peakRssKiB: number;
  settledRssKiB: number;
  controllerExit: string;
}

/** VmHWM and VmRSS of a process, in KiB, or undefined once it is gone. */
function memoryOf(pid: number): { hwm: number; rss: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const hwm = kib('VmHWM');
  const rss = kib('VmRSS');
  return Number.isFinite(hwm) && Number.isFinite(rss) ? { hwm, rss } : undefined;
}

// The controller child must not outlive us. Normal paths stop it in a finally; signals and exits are
// handled below; if we are SIGKILLed, a watchdog shell kills it when our end of its stdin closes.
let controllerChild: ChildProcess | undefined;
const running = (c: ChildProcess | undefined): c is ChildProcess =>
  c !== undefined && c.exitCode === null && c.signalCode === null;

function killControllerNow(): void {
  if (running(controllerChild)) controllerChild.kill('SIGKILL');
}

function installExitHandlers(): void {
  process.on('exit', killControllerNow);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping the controller and the control plane`);
      killControllerNow();
      process.exit(code); // the control plane's own exit handler kills etcd and the apiserver
    });
  }
}

function spawnWatchdog(pid: number): void {
  const dog = spawn(
    'sh',
    ['-c', 'read -r _line; kill -KILL "$1" 2>/dev/null', 'mcgw-bench-watchdog', `${pid}`],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  dog.on('error', () => {});
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
}

async function stopController(child: ChildProcess): Promise<string> {
  if (running(child)) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const clean = await Promise.race([exited.then(() => true), sleep(10_000, false)]);
    if (!clean) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  return child.signalCode ? `killed by ${child.signalCode}` : `exit code ${child.exitCode}`;
}

async function createNodes(c: Clients, o: Options): Promise<number> {
  const shapes = clusterShape(o);
  const started = performance.now();
  const step = Math.max(1, Math.round(shapes.length / 10));
  let next = 0;
  let done = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < shapes.length) {
      const s = shapes[next++]!;
      try {
        await createSimNode(c.core, {
          name: s.name,
          zone: s.zone,
          internalIP: s.internalIP,
          candidate: s.candidate,
        });
      } catch (err) {
        failed = true;
        throw new Error(`creating Node ${s.name}: ${apiMessage(err)}`);
      }
      done++;
      if (done % step === 0 || done === shapes.length) {
        const secs = (performance.now() - started) / 1000;
        progress(`  ${done}/${shapes.length} Nodes (${secs.toFixed(1)} s, ${Math.round(done / secs)}/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, shapes.length) }, worker));
  return performance.now() - started;
}

async function readyzOK(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Calls check every `everyMs` until it is true; resolves with the ms since `t0` it first was. */
async function firstTime(
  t0: number,
  check: () => Promise<boolean>,
  everyMs: number,
  stop: { done: boolean },
): Promise<number | undefined> {
  while (!stop.done) {
    if (await check().catch(() => false)) return performance.now() - t0;
    await sleep(everyMs);
  }
  return undefined;
}

async function benchCluster(o: Options): Promise<ClusterFigures> {
  let cp: ControlPlane | undefined;
  const tail: string[] = [];
  try {
    progress('part 2: starting etcd + kube-apiserver');
    cp = await ControlPlane.start({ name: 'bench-scheduler' });
    progress(`control plane up in ${cp.startupMs} ms (${cp.dir})`);
    const c = makeClients(cp.kubeConfig());
    await installCRDs(c);
    await ensureNamespace(c, SYSTEM_NAMESPACE);

    progress(`creating ${o.nodes} Nodes, ${o.concurrency} at a time (create, then Ready status and address)`);
    const createMs = await createNodes(c, o);

    await c.custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'gatewaypolicies',
      body: {
        apiVersion: API_VERSION,
        kind: 'GatewayPolicy',
        metadata: { name: POLICY_NAME },
        spec: { desiredInstances: o.desired },
      },
    });

    const port = await freePort();
    const args = [
      MCGW_BIN,
      'controller',
      '--kubeconfig',
      cp.kubeconfigPath,
      '--install-crds',
      '--health-addr',
      `127.0.0.1:${port}`,
    ];
    progress(`starting: node ${args.map((a) => a.replace(ROOT + '/', '')).join(' ')}`);
    const wall0 = Date.now();
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    controllerChild = child;
    if (child.pid === undefined) throw new Error('could not start the controller');
    const pid = child.pid;
    spawnWatchdog(pid);
    child.on('error', () => {});

    // Its log lines carry their own timestamps, which split the startup into phases.
    const marks: Record<string, number> = {};
    let partial = '';
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        try {
          const rec = JSON.parse(line) as { ts?: string; msg?: string };
          if (rec.msg && rec.ts && marks[rec.msg] === undefined) marks[rec.msg] = Date.parse(rec.ts) - wall0;
        } catch {
          // not a log record
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);

    let hwm = 0;
    const sample = () => {
      hwm = Math.max(hwm, memoryOf(pid)?.hwm ?? 0);
    };
    const sampler = setInterval(sample, 25);

    const stop = { done: false };
    const died = new Promise<never>((_, reject) =>
      child.once('exit', (code, sig) =>
        reject(new Error(`the controller exited early (${sig ?? `code ${code}`})`)),
      ),
    );
    died.catch(() => {});
    const timeout = sleep(o.timeoutMs).then(() => {
      throw new Error(`no readiness and placement within ${o.timeoutMs} ms`);
    });
    timeout.catch(() => {});

    const crd = (plural: string) => ({ group: GROUP, version: VERSION, plural });
    const placedInStatus = async () => {
      const p = (await c.custom.getClusterCustomObject({
        ...crd('gatewaypolicies'),
        name: POLICY_NAME,
      })) as GatewayPolicy;
      return (p.status?.gateways?.length ?? 0) === o.desired;
    };
    const gatewaysExist = async () => {
      const l = (await c.custom.listClusterCustomObject(crd('clustergateways'))) as { items: unknown[] };
      return l.items.length === o.desired;
    };
    let readyMs: number | undefined;
    let gatewaysMs: number | undefined;
    let placedMs: number | undefined;
    try {
      await Promise.race([
        Promise.all([
          firstTime(t0, () => readyzOK(port), 10, stop).then((v) => (readyMs = v)),
          firstTime(t0, gatewaysExist, 25, stop).then((v) => (gatewaysMs = v)),
          firstTime(t0, placedInStatus, 25, stop).then((v) => (placedMs = v)),
        ]),
        died,
        timeout,
      ]);
    } finally {
      stop.done = true;
    }
    progress(
      `controller ready after ${fmt(readyMs)} ms, ClusterGateways after ${fmt(gatewaysMs)} ms, ` +
        `policy status after ${fmt(placedMs)} ms; peak RSS so far ${mib(hwm)} MiB`,
    );

    progress(`letting the controller run for ${o.settleMs} ms`);
    await Promise.race([sleep(o.settleMs), died]);
    sample();
    const settled = memoryOf(pid);
    if (!settled) throw new Error('the controller is gone');
    clearInterval(sampler);
    const controllerExit = await stopController(child);
    progress(`controller stopped (${controllerExit})`);
    return {
      createMs,
      readyMs,
      gatewaysMs,
      placedMs,
      startingMs: marks['controller starting'],
      leaderMs: marks['became leader'],
      peakRssKiB: Math.max(hwm, settled.hwm),
      settledRssKiB: settled.rss,
      controllerExit,
    };
  } catch (err) {
    if (tail.length > 0) progress(`last controller output:\n${tail.join('\n')}`);
    throw err;
  } finally {
    if (controllerChild) await stopController(controllerChild);
    if (cp) {
      progress('stopping the control plane');
      await cp.stop();
    }
  }
}

// --- Report ---------------------------------------------------------------------------------------------

const fmt = (ms: number | undefined, digits = 0): string => (ms === undefined ? '-' : ms.toFixed(digits));
const mib = (kib: number): string => (kib / 1024).toFixed(0);
const ms3 = (v: number): string => (v < 10 ? v.toFixed(3) : v.toFixed(1));
const n = (v: number): string => v.toLocaleString('en-US');
const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

async function machine(): Promise<string> {
  const model = cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  let k8s = '';
  try {
    // The binaries' cache directory is named like k8s-v1.34.4_etcd-v3.6.13_linux-amd64.
    const m = /k8s-(v[\d.]+)_etcd-(v[\d.]+)/.exec(basename((await findBinaries()).dir));
    if (m) k8s = `; kube-apiserver ${m[1]}, etcd ${m[2]}`;
  } catch {
    // the in-process part needs no binaries
  }
  return (
    `nproc ${availableParallelism()} (${model}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
    `Linux ${release()}, Node ${process.version}${k8s}`
  );
}

function render(
  o: Options,
  command: string,
  when: string,
  host: string,
  d: DecisionFigures,
  k?: ClusterFigures,
): string {
  const latencyRows = [
    [
      '`schedule()`',
      `${n(o.candidates)} candidates, ${o.zones} zones`,
      ms3(d.schedule.p50),
      ms3(d.schedule.p99),
      ms3(d.schedule.max),
      `p99 < ${TARGET_P99_MS} ms: ${verdict(d.schedule.p99 < TARGET_P99_MS)}`,
      'One placement decision: keep, remove, fill over zones, report skipped candidates.',
    ],
    [
      '`plan()`',
      `${n(o.nodes)} V1Nodes`,
      ms3(d.plan.p50),
      ms3(d.plan.p99),
      ms3(d.plan.max),
      `p99 < ${TARGET_P99_MS} ms: ${verdict(d.plan.p99 < TARGET_P99_MS)}`,
      "The controller's whole per-reconcile computation: selector over every Node, Node view, schedule(), objects, statuses, events.",
    ],
  ];
  const out = [
    `Command: \`${command}\``,
    '',
    `Run: ${when}; machine: ${host}.`,
    '',
    `Scenario: ${n(o.nodes)} Nodes, ${n(o.candidates)} of them candidates (label \`${CANDIDATE_LABEL}=true\`) round-robin over ${o.zones} zones, addresses from 198.18.0.0/15; one GatewayPolicy with desiredInstances ${o.desired}.`,
    '',
    '### Decision time',
    '',
    `The reconcile right after the active instance's Lease expired, with ${o.desired} current instances, 4% of the candidates NotReady, cordoned or draining and a few held down; decision: ${d.decision}. ${n(d.schedule.iterations)} timed calls each after ${n(d.schedule.warmup)} warm-up calls, in one process; times in ms, including any GC pause that fell into a call.`,
    '',
    table(['Function', 'Input', 'p50', 'p99', 'max', 'Target', 'Meaning'], latencyRows),
  ];
  out.push('', '### Controller resync on a real apiserver', '');
  if (!k) {
    out.push('Not measured in this run (`--skip-cluster`).');
    return out.join('\n');
  }
  out.push(
    `A fresh etcd + kube-apiserver on loopback holding ${n(o.nodes)} Ready Nodes (created ${o.concurrency} at a time: ${fmt(k.createMs / 1000, 1)} s, ${Math.round((o.nodes * 1000) / k.createMs)} Nodes/s) and the policy; then \`bin/mcgw.js controller --install-crds\` is started as a child process. Times are from spawning it (so they include Node and tsx start-up); readiness and objects are polled every 10-25 ms. Memory is read from /proc/<pid>/status every 25 ms.`,
    '',
    table(
      ['Figure', 'Value', 'Target', 'Meaning'],
      [
        [
          'start → health server up',
          `${fmt(k.startingMs)} ms`,
          '',
          'Process start, module loading, CRDs installed, /healthz listening (from its "controller starting" log line).',
        ],
        [
          'start → leader',
          `${fmt(k.leaderMs)} ms`,
          '',
          'Took the election Lease (its "became leader" log line); its first reconcile waits for the caches.',
        ],
        [
          'start → /readyz 200',
          `${fmt(k.readyMs)} ms`,
          '',
          `All four informers have listed and are watching, the Node cache holding ${n(o.nodes)} Nodes.`,
        ],
        [
          'start → ClusterGateways exist',
          `${fmt(k.gatewaysMs)} ms`,
          '',
          `All ${o.desired} ClusterGateway objects were created by the first reconcile.`,
        ],
        [
          'start → placement in policy status',
          `${fmt(k.placedMs)} ms`,
          '',
          `The policy's status.gateways lists the ${o.desired} placed instances: the resync is complete.`,
        ],
        [
          'peak RSS (VmHWM)',
          `${mib(k.peakRssKiB)} MiB`,
          `< ${TARGET_PEAK_RSS_MIB} MiB: ${verdict(k.peakRssKiB / 1024 < TARGET_PEAK_RSS_MIB)}`,
          "The controller process's resident-memory high-water mark over the whole run, list of all Nodes included.",
        ],
        [
          `RSS after settling ${fmt(o.settleMs / 1000)} s`,
          `${mib(k.settledRssKiB)} MiB`,
          '',
          'Resident memory once idle after the placement: the steady cost of the caches.',
        ],
      ],
    ),
  );
  return out.join('\n');
}

// --- Main -------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseOptions(argv);
  installExitHandlers();
  const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  // The machine may be shared; a busy one shows in the tail latencies.
  const load = loadavg()[0]!.toFixed(2);
  const command =
    argv.length === 0 ? 'npm run bench:scheduler' : `npx tsx bench/scheduler.ts ${argv.join(' ')}`;

  const decisions = benchDecisions(o);
  const cluster = o.cluster ? await benchCluster(o) : undefined;

  const host = await machine();
  const body = render(
    o,
    command,
    `${when} (1-minute load average ${load} at start)`,
    host,
    decisions,
    cluster,
  );
  process.stdout.write(`\n## ${SECTION}\n\n${body}\n\n`);

  const full = o.nodes === FULL.nodes && o.candidates === FULL.candidates && o.cluster;
  if (o.write ?? full) {
    await writeSection(SECTION, body);
    progress(`wrote section "${SECTION}" of docs/BENCHMARKS.md`);
  } else {
    progress('docs/BENCHMARKS.md left as it is (not a full-size run; pass --write to record it anyway)');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench/scheduler: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
