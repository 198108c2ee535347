// ClusterSet exchange benchmark (`npm run bench:exchange`).
//
// One real leader cluster (etcd + kube-apiserver on loopback) with the leader CRDs, N members admitted
// with `addMember` (each gets its own ServiceAccount-token kubeconfig), and `bin/mcgw.js leader` running
// as a child process. The members are simulated in this process by what a member does to the leader:
// each writes its ClusterExport (two Gateways, its own pod and service /24) with its own credentials,
// renews its heartbeat Lease, and keeps an informer over every ClusterImport in mcgw-clusterset.
// Starting N member control planes is not needed for that and would not fit on a small machine.
//
// Once every member sees all N imports, each trial picks a random member, replaces one of its
// Gateways (new Node name and gatewayIP) in its export, and times from just before that write until
// every member's informer has delivered the changed ClusterImport. The leader controller's memory is
// read from /proc/<pid>/status every 25 ms. The figures are printed as a table and written to the
// "ClusterSet exchange" section of docs/BENCHMARKS.md (full-size runs only, unless --write is given).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import {
  API_VERSION,
  CLUSTERSET_NAMESPACE,
  GROUP,
  HEARTBEAT_LABEL,
  HEARTBEAT_LEASE,
  VERSION,
} from '../src/api/group.ts';
import type { ClusterExport, ClusterImport, ClusterInfo } from '../src/api/types.ts';
import { makeClients } from '../src/kube/client.ts';
import type { Clients } from '../src/kube/client.ts';
import { ensureNamespace, installCRDs } from '../src/kube/crds.ts';
import { isConflict } from '../src/kube/errors.ts';
import { startInformer } from '../src/kube/informer.ts';
import type { ResilientInformer } from '../src/kube/informer.ts';
import { rawRequest } from '../src/kube/raw.ts';
import { findBinaries } from '../src/lab/binaries.ts';
import { ControlPlane } from '../src/lab/controlplane.ts';
import { freePort } from '../src/lab/ports.ts';
import { addMember } from '../src/leader/membership.ts';
import { LeaseRenewer } from '../src/lease/renewer.ts';
import { writeSection } from './report.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MCGW_BIN = join(ROOT, 'bin', 'mcgw.js');
const SECTION = 'ClusterSet exchange';
const FULL = { members: 100, trials: 30 };
/** Pod /24s come from 198.18.128.0/17 and service /24s from 198.19.128.0/17: 128 members at most. */
const MAX_MEMBERS = 128;
const TARGET_P99_MS = 3000;
const BASE = `/apis/${GROUP}/${VERSION}`;
const IMPORTS_PATH = `${BASE}/namespaces/${CLUSTERSET_NAMESPACE}/clusterimports`;

const HELP = `bench/exchange.ts: ClusterSet exchange propagation time with many members

Usage: npx tsx bench/exchange.ts [flags]      (npm run bench:exchange -- [flags])

  --members N           simulated member clusters (default ${FULL.members}; at most ${MAX_MEMBERS})
  --trials T            timed Gateway changes (default ${FULL.trials})
  --heartbeat-ms MS     each member's heartbeat Lease renewal period (default 5000, the
                        ClusterSetMember default; the Lease lasts 3 periods)
  --gap-ms MS           pause between trials, plus a random 0-50% (default 1000)
  --idle-ms MS          heartbeats-only window before the trials, for the leader's idle CPU (default 10000)
  --concurrency C       members admitted and started at a time (default 8)
  --election-lease-ms N the leader controller's election Lease (default 4000)
  --seed S              seed of the random member and Gateway choice (default: from the clock)
  --trial-timeout-ms MS give up on one trial after this long (default 30000)
  --timeout-ms MS       give up on start-up or the initial sync after this long (default 300000)
  --profile-leader DIR  run the leader controller under node --cpu-prof, writing its profile to DIR
                        (profiled runs are never written to docs/BENCHMARKS.md)
  --write / --no-write  write docs/BENCHMARKS.md (default: only for a full-size run)
`;

interface Options {
  members: number;
  trials: number;
  heartbeatMs: number;
  gapMs: number;
  idleMs: number;
  concurrency: number;
  electionLeaseMs: number;
  seed: number;
  trialTimeoutMs: number;
  timeoutMs: number;
  profileDir: string | undefined;
  write: boolean | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      members: { type: 'string' },
      trials: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'gap-ms': { type: 'string' },
      'idle-ms': { type: 'string' },
      concurrency: { type: 'string' },
      'election-lease-ms': { type: 'string' },
      seed: { type: 'string' },
      'trial-timeout-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'profile-leader': { type: 'string' },
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
  return {
    members: int('members', values.members, FULL.members, 2, MAX_MEMBERS),
    trials: int('trials', values.trials, FULL.trials, 1, 10_000),
    heartbeatMs: int('heartbeat-ms', values['heartbeat-ms'], 5000, 1000, 300_000),
    gapMs: int('gap-ms', values['gap-ms'], 1000, 0, 600_000),
    idleMs: int('idle-ms', values['idle-ms'], 10_000, 0, 3_600_000),
    concurrency: int('concurrency', values.concurrency, 8, 1, 128),
    electionLeaseMs: int('election-lease-ms', values['election-lease-ms'], 4000, 500, 600_000),
    seed: int('seed', values.seed, Date.now() % 2 ** 31, 0, 2 ** 31 - 1),
    trialTimeoutMs: int('trial-timeout-ms', values['trial-timeout-ms'], 30_000, 1000, 3_600_000),
    timeoutMs: int('timeout-ms', values['timeout-ms'], 300_000, 1000, 3_600_000),
    profileDir: values['profile-leader'] === undefined ? undefined : resolve(values['profile-leader']),
    write: values['no-write'] ? false : values.write ? true : undefined,
  };
}

const progress = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

/** mulberry32: a small seeded generator, so a run's choice of members can be repeated. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// --- Processes: memory, CPU, the leader child ---------------------------------------------------------

/** VmHWM and VmRSS of a process, in KiB, or undefined once it is gone. */
function memoryOf(pid: number | undefined): { hwm: number; rss: number } | undefined {
  if (pid === undefined) return undefined;
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

/** User plus system CPU time of a process in ms (clock ticks of 10 ms, as on every common Linux). */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime, stime: fields 14 and 15 of the whole line
  } catch {
    return undefined;
  }
}

/** CPU use of a process over a window, as a percentage of one core. */
class CpuWindow {
  private readonly cpu0: number | undefined;
  private readonly t0 = performance.now();
  constructor(private readonly pid: number | undefined) {
    this.cpu0 = cpuMsOf(pid);
  }
  percent(): number | undefined {
    const cpu = cpuMsOf(this.pid);
    if (cpu === undefined || this.cpu0 === undefined) return undefined;
    return (100 * (cpu - this.cpu0)) / (performance.now() - this.t0);
  }
}

// The leader child must not outlive us. Normal paths stop it in a finally; signals and exits are
// handled below; if we are SIGKILLed, a watchdog shell kills it when our end of its stdin closes.
let leaderChild: ChildProcess | undefined;
const running = (c: ChildProcess | undefined): c is ChildProcess =>
  c !== undefined && c.exitCode === null && c.signalCode === null;

function killLeaderNow(): void {
  if (running(leaderChild)) leaderChild.kill('SIGKILL');
}

function installExitHandlers(): void {
  process.on('exit', killLeaderNow);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping the leader controller and the control plane`);
      killLeaderNow();
      process.exit(code); // the control plane's own exit handler kills etcd and the apiserver
    });
  }
}

function spawnWatchdog(pid: number): void {
  const dog = spawn(
    'sh',
    ['-c', 'read -r _line; kill -KILL "$1" 2>/dev/null', 'mcgw-bench-watchdog', `${pid}`],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  dog.on('error', () => {});
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
}

async function stopChild(child: ChildProcess): Promise<string> {
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

async function readyzOK(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Runs `fn` over `items`, `concurrency` at a time; the first failure stops the others. */
async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

// --- The simulated members ----------------------------------------------------------------------------

type Obj<T> = T & KubernetesObject;

interface SimMember {
  index: number;
  id: string;
  namespace: string;
  clients: Clients;
  /** What this member last exported. */
  info: ClusterInfo;
  imports?: ResilientInformer<Obj<ClusterImport>>;
  heartbeat?: LeaseRenewer;
  heartbeatStart?: NodeJS.Timeout;
}

const memberID = (i: number): string => `m-${String(i).padStart(3, '0')}`;

/** Gateway `slot` (0 or 1) of member i; `gen` 0 is the initial one, trial k makes generation k. */
function gateway(i: number, slot: number, gen: number): ClusterInfo['gateways'][number] {
  const id = memberID(i);
  const host = gen === 0 ? 1 + slot : 10 + ((gen - 1) % 240);
  return {
    node: gen === 0 ? `${id}-gw${slot}` : `${id}-gw${slot}-t${gen}`,
    gatewayIP: `198.18.${i}.${host}`,
    internalIP: `198.19.${i}.${host}`,
    priority: slot === 0 ? 100 : 90,
    ready: true,
  };
}

function initialInfo(i: number): ClusterInfo {
  return {
    clusterID: memberID(i),
    mode: 'ActiveStandby',
    gateways: [gateway(i, 0, 0), gateway(i, 1, 0)],
    podCIDRs: [`198.18.${128 + i}.0/24`],
    serviceCIDRs: [`198.19.${128 + i}.0/24`],
    tunnel: { port: 4789, vni: 4242 },
  };
}

/** The trial in flight: which import, how to recognise its new version, and when each member saw it. */
interface Probe {
  name: string;
  node: string;
  gatewayIP: string;
  arrivals: Float64Array;
  seen: number;
  exportSeen: number;
  done: () => void;
}
let probe: Probe | undefined;

function carriesProbe(obj: KubernetesObject, p: Probe): boolean {
  const spec = (obj as Obj<ClusterImport | ClusterExport>).spec;
  return !!spec?.gateways?.some((g) => g.node === p.node && g.gatewayIP === p.gatewayIP);
}

const watchErrors = { members: 0, heartbeats: 0 };

function startMember(m: SimMember, o: Options, random: () => number): void {
  const kc = m.clients.kc;
  m.imports = startInformer<Obj<ClusterImport>>(
    kc,
    IMPORTS_PATH,
    () => rawRequest<KubernetesListObject<Obj<ClusterImport>>>(kc, 'GET', IMPORTS_PATH),
    {
      onChange: (kind, obj) => {
        const p = probe;
        if (!p || kind === 'delete' || obj.metadata?.name !== p.name) return;
        if (!Number.isNaN(p.arrivals[m.index]!) || !carriesProbe(obj, p)) return;
        p.arrivals[m.index] = performance.now();
        if (++p.seen === p.arrivals.length) p.done();
      },
      onError: () => void watchErrors.members++,
      maxBackoffMs: 1000,
    },
  );
  m.heartbeat = new LeaseRenewer({
    api: m.clients.coordination,
    node: m.id,
    namespace: m.namespace,
    leaseName: HEARTBEAT_LEASE,
    labels: { [HEARTBEAT_LABEL]: m.id },
    renewIntervalMs: o.heartbeatMs,
    leaseDurationMs: o.heartbeatMs * 3,
    onError: () => void watchErrors.heartbeats++,
  });
  // Spread the renewals over the period, as independent clusters would.
  m.heartbeatStart = setTimeout(() => m.heartbeat!.start(), Math.floor(random() * o.heartbeatMs));
}

async function stopMember(m: SimMember): Promise<void> {
  if (m.heartbeatStart) clearTimeout(m.heartbeatStart);
  m.heartbeat?.stop();
  await m.imports?.stop();
}

/** Writes a member's export with its own credentials: read it, then replace it. Returns timings. */
async function writeExport(
  m: SimMember,
  info: ClusterInfo,
  beforeWrite?: () => void,
): Promise<{ conflicts: number }> {
  const path = `${BASE}/namespaces/${m.namespace}/clusterexports/${m.id}`;
  let conflicts = 0;
  for (;;) {
    const cur = await rawRequest<Obj<ClusterExport>>(m.clients.kc, 'GET', path);
    if (conflicts === 0) beforeWrite?.();
    try {
      await rawRequest(m.clients.kc, 'PUT', path, {
        apiVersion: API_VERSION,
        kind: 'ClusterExport',
        metadata: { name: m.id, namespace: m.namespace, resourceVersion: cur.metadata.resourceVersion },
        spec: info,
      });
      m.info = info;
      return { conflicts };
    } catch (err) {
      // The leader writes the export's status; a write of it between our read and our replace wins.
      if (!isConflict(err) || conflicts >= 5) throw err;
      conflicts++;
    }
  }
}

// --- The run -------------------------------------------------------------------------------------------

interface Trial {
  member: string;
  slot: number;
  /** All times in ms from just before the export write (t0). */
  putMs: number;
  exportSeenMs: number;
  publishedMs: number;
  firstMs: number;
  allMs: number;
  meanMs: number;
  /** Members that had not seen it when the trial gave up (0 when complete). */
  missing: number;
  conflicts: number;
  /** Every member's delivery time. */
  arrivals: number[];
}

interface Figures {
  admitMs: number;
  leaderReadyMs: number | undefined;
  syncMs: number;
  trials: Trial[];
  peakRssKiB: number;
  endRssKiB: number;
  idleCpu: number | undefined;
  trialCpu: number | undefined;
  apiserver: { hwm: number; rss: number } | undefined;
  etcd: { hwm: number; rss: number } | undefined;
  leaderWarnings: number;
  leaderExit: string;
}

async function run(o: Options): Promise<Figures> {
  let cp: ControlPlane | undefined;
  const members: SimMember[] = [];
  let exportsInformer: ResilientInformer<Obj<ClusterExport>> | undefined;
  const tail: string[] = [];
  const random = rng(o.seed);
  try {
    progress('starting the leader cluster (etcd + kube-apiserver)');
    cp = await ControlPlane.start({ name: 'bench-exchange' });
    progress(`control plane up in ${cp.startupMs} ms (${cp.dir})`);
    const admin = makeClients(cp.kubeConfig());
    await installCRDs(admin, 'leader');
    await ensureNamespace(admin, CLUSTERSET_NAMESPACE);

    // Admission: a namespace, a ServiceAccount, roles and a token per member.
    progress(`admitting ${o.members} members, ${o.concurrency} at a time`);
    const admit0 = performance.now();
    const step = Math.max(1, Math.round(o.members / 10));
    let admitted = 0;
    // The first admission creates the shared ClusterRole; the others only replace it.
    const order = Array.from({ length: o.members }, (_, i) => i);
    const admit = async (i: number) => {
      const creds = await addMember(admin, memberID(i));
      const kc = new KubeConfig();
      kc.loadFromString(creds.kubeconfig);
      members[i] = {
        index: i,
        id: creds.clusterID,
        namespace: creds.namespace,
        clients: makeClients(kc),
        info: initialInfo(i),
      };
      admitted++;
      if (admitted % step === 0 || admitted === o.members)
        progress(`  ${admitted}/${o.members} members admitted (${fmtS(performance.now() - admit0)} s)`);
    };
    await admit(0);
    await pool(order.slice(1), o.concurrency, admit);
    const admitMs = performance.now() - admit0;

    // The leader-side controller, as a process of its own.
    const port = await freePort();
    const args = [
      MCGW_BIN,
      'leader',
      '--kubeconfig',
      cp.kubeconfigPath,
      '--install-crds',
      '--election-lease-ms',
      String(o.electionLeaseMs),
      '--health-addr',
      `127.0.0.1:${port}`,
    ];
    const nodeFlags = o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : [];
    progress(`starting: node ${[...nodeFlags, ...args].map((a) => a.replace(ROOT + '/', '')).join(' ')}`);
    const spawn0 = performance.now();
    const child = spawn(process.execPath, [...nodeFlags, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    leaderChild = child;
    if (child.pid === undefined) throw new Error('could not start the leader controller');
    const pid = child.pid;
    spawnWatchdog(pid);
    child.on('error', () => {});

    // Its log records the publication of each import, with a wall-clock timestamp.
    const published: { at: number; cluster: string }[] = [];
    let leaderWarnings = 0;
    let becameLeader = false;
    let partial = '';
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        try {
          const rec = JSON.parse(line) as { ts?: string; msg?: string; level?: string; cluster?: string };
          if (rec.msg === 'published import' && rec.ts && rec.cluster)
            published.push({ at: Date.parse(rec.ts), cluster: rec.cluster });
          else if (rec.msg === 'became leader') becameLeader = true;
          if (rec.level === 'warn' || rec.level === 'error') leaderWarnings++;
        } catch {
          // not a log record
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);

    let hwm = 0;
    const sampler = setInterval(() => {
      hwm = Math.max(hwm, memoryOf(pid)?.hwm ?? 0);
    }, 25);
    const died = new Promise<never>((_, reject) =>
      child.once('exit', (code, sig) =>
        reject(new Error(`the leader controller exited early (${sig ?? `code ${code}`})`)),
      ),
    );
    died.catch(() => {});
    const within = async <T>(what: string, p: Promise<T>, ms = o.timeoutMs): Promise<T> => {
      const ac = new AbortController();
      try {
        return await Promise.race([
          p,
          died,
          sleep(ms, undefined, { signal: ac.signal }).then(() => {
            throw new Error(`${what}: not done within ${ms} ms`);
          }),
        ]);
      } finally {
        ac.abort();
      }
    };
    const poll = async (check: () => boolean | Promise<boolean>, everyMs: number): Promise<void> => {
      while (!(await check())) await sleep(everyMs);
    };

    await within(
      'leader /readyz and election',
      poll(async () => becameLeader && (await readyzOK(port)), 20),
    );
    const leaderReadyMs = performance.now() - spawn0;
    progress(`leader controller ready and elected after ${fmtMs(leaderReadyMs)} ms`);

    // Seen by the leader-side apiserver's watchers: when a trial's export change is on the watch.
    exportsInformer = startInformer<Obj<ClusterExport>>(
      admin.kc,
      `${BASE}/clusterexports`,
      () => rawRequest<KubernetesListObject<Obj<ClusterExport>>>(admin.kc, 'GET', `${BASE}/clusterexports`),
      {
        onChange: (kind, obj) => {
          const p = probe;
          if (p && kind !== 'delete' && obj.metadata?.name === p.name && Number.isNaN(p.exportSeen))
            if (carriesProbe(obj, p)) p.exportSeen = performance.now();
        },
        maxBackoffMs: 1000,
      },
    );
    await within('admin export informer', exportsInformer.synced);

    // The members: export, informer, heartbeat.
    progress(
      `starting ${o.members} simulated members (export, import informer, heartbeat every ${o.heartbeatMs} ms)`,
    );
    const sync0 = performance.now();
    await within(
      'member start',
      pool(members, o.concurrency, async (m) => {
        await rawRequest(m.clients.kc, 'POST', `${BASE}/namespaces/${m.namespace}/clusterexports`, {
          apiVersion: API_VERSION,
          kind: 'ClusterExport',
          metadata: { name: m.id, namespace: m.namespace },
          spec: m.info,
        });
        startMember(m, o, random);
      }),
    );
    progress(
      `all exports written after ${fmtS(performance.now() - sync0)} s; waiting for every member to import all`,
    );
    const complete = (m: SimMember): boolean => {
      const l = m.imports?.isSynced() ? m.imports.list() : [];
      if (l.length !== o.members) return false;
      return l.every((imp) => {
        const want = members[Number(imp.spec?.clusterID?.slice(2))]?.info;
        return !!want && want.gateways.every((g, k) => imp.spec.gateways[k]?.node === g.node);
      });
    };
    let lastReport = performance.now();
    await within(
      'initial sync',
      poll(() => {
        const done = members.filter(complete).length;
        if (performance.now() - lastReport > 2000) {
          lastReport = performance.now();
          const imported = members.reduce(
            (s, m) => s + (m.imports?.isSynced() ? m.imports.list().length : 0),
            0,
          );
          progress(
            `  ${done}/${o.members} members complete, ${imported}/${o.members * o.members} imports seen (${fmtS(performance.now() - sync0)} s)`,
          );
        }
        return done === o.members;
      }, 10),
    );
    const syncMs = performance.now() - sync0;
    progress(`every member sees all ${o.members} imports after ${fmtS(syncMs)} s from the first export`);

    // Idle: heartbeats only. Then the trials.
    let idleCpu: number | undefined;
    if (o.idleMs > 0) {
      progress(`idle for ${o.idleMs} ms (heartbeats only) to read the leader controller's idle CPU`);
      const w = new CpuWindow(pid);
      await within('idle', sleep(o.idleMs), o.idleMs + 60_000);
      idleCpu = w.percent();
    }

    progress(`running ${o.trials} trials (seed ${o.seed})`);
    const trialWindow = new CpuWindow(pid);
    const trials: Trial[] = [];
    for (let k = 1; k <= o.trials; k++) {
      const m = members[Math.floor(random() * o.members)]!;
      const slot = random() < 0.5 ? 0 : 1;
      const gw = gateway(m.index, slot, k);
      const info: ClusterInfo = {
        ...m.info,
        gateways: m.info.gateways.map((g, s) => (s === slot ? gw : g)),
      };
      let resolveDone!: () => void;
      const allSeen = new Promise<void>((r) => (resolveDone = r));
      const p: Probe = {
        name: m.id,
        node: gw.node,
        gatewayIP: gw.gatewayIP,
        arrivals: new Float64Array(o.members).fill(NaN),
        seen: 0,
        exportSeen: NaN,
        done: resolveDone,
      };
      probe = p;
      let t0 = 0;
      let wall0 = 0;
      const { conflicts } = await within(
        `trial ${k}: export write`,
        writeExport(m, info, () => {
          wall0 = Date.now();
          t0 = performance.now();
        }),
      );
      const putMs = performance.now() - t0;
      const ac = new AbortController();
      const timedOut = await within(
        `trial ${k}`,
        Promise.race([
          allSeen.then(() => false),
          sleep(o.trialTimeoutMs, true, { signal: ac.signal }).catch(() => false),
        ]),
        o.trialTimeoutMs + 60_000,
      );
      ac.abort();
      probe = undefined;
      const arrivals = [...p.arrivals].filter((a) => !Number.isNaN(a)).map((a) => a - t0);
      const t: Trial = {
        member: m.id,
        slot,
        putMs,
        exportSeenMs: p.exportSeen - t0,
        publishedMs: NaN, // from the leader's log, read after the gap below
        firstMs: arrivals.length ? Math.min(...arrivals) : NaN,
        allMs: timedOut || !arrivals.length ? NaN : Math.max(...arrivals),
        meanMs: arrivals.reduce((s, a) => s + a, 0) / arrivals.length,
        missing: o.members - arrivals.length,
        conflicts,
        arrivals,
      };
      trials.push(t);
      await within('gap', sleep(o.gapMs + Math.floor(random() * o.gapMs * 0.5)), o.gapMs * 2 + 60_000);
      // Its log line may reach us after the members' watches did.
      const pub = published.find((x) => x.cluster === m.id && x.at >= wall0);
      if (pub) t.publishedMs = pub.at - wall0;
      progress(
        `  trial ${String(k).padStart(2)}: ${m.id} gw${slot} → ${gw.gatewayIP}: all ${o.members} saw it after ` +
          `${timedOut ? `- (timed out, ${t.missing} missing)` : `${fmtMs(t.allMs)} ms`} ` +
          `(write ${fmtMs(t.putMs)}, export on watch ${fmtMs(t.exportSeenMs)}, published ${fmtMs(t.publishedMs)}, ` +
          `first member ${fmtMs(t.firstMs)}, mean ${fmtMs(t.meanMs)})`,
      );
    }
    const trialCpu = trialWindow.percent();

    const end = memoryOf(pid);
    if (!end) throw new Error('the leader controller is gone');
    clearInterval(sampler);
    const pids = cp.pids();
    const apiserver = memoryOf(pids.apiserver);
    const etcd = memoryOf(pids.etcd);
    const leaderExit = await stopChild(child);
    progress(`leader controller stopped (${leaderExit})`);
    return {
      admitMs,
      leaderReadyMs,
      syncMs,
      trials,
      peakRssKiB: Math.max(hwm, end.hwm),
      endRssKiB: end.rss,
      idleCpu,
      trialCpu,
      apiserver,
      etcd,
      leaderWarnings,
      leaderExit,
    };
  } catch (err) {
    if (tail.length > 0) progress(`last leader controller output:\n${tail.join('\n')}`);
    throw err;
  } finally {
    probe = undefined;
    await Promise.all(members.filter(Boolean).map((m) => stopMember(m)));
    await exportsInformer?.stop();
    if (leaderChild) await stopChild(leaderChild);
    if (cp) {
      progress('stopping the control plane');
      await cp.stop();
    }
  }
}

// --- Report ---------------------------------------------------------------------------------------------

const fmtMs = (ms: number | undefined): string =>
  ms === undefined || Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(1) : ms.toFixed(0);
const fmtS = (ms: number): string => (ms / 1000).toFixed(1);
const mib = (kib: number | undefined): string => (kib === undefined ? '-' : (kib / 1024).toFixed(0));
const pct = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(1)} %`);
const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Stat {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  n: number;
}

function stat(values: readonly number[]): Stat {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return {
    p50: percentile(v, 50),
    p99: percentile(v, 99),
    max: v.length ? v[v.length - 1]! : NaN,
    mean: v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN,
    n: v.length,
  };
}

/** One generated sentence: how much of the propagation time the leader controller itself takes. */
function leaderShare(t: readonly Trial[]): string {
  const ok = t.filter((x) => !Number.isNaN(x.allMs + x.publishedMs + x.exportSeenMs));
  if (ok.length === 0) return 'No complete trial had all its timestamps; no breakdown.';
  const mean = (f: (x: Trial) => number) => ok.reduce((s, x) => s + f(x), 0) / ok.length;
  const total = mean((x) => x.allMs);
  const inLeader = mean((x) => x.publishedMs - x.exportSeenMs);
  const before = mean((x) => x.exportSeenMs);
  const after = mean((x) => x.allMs - x.publishedMs);
  return (
    `Of the mean ${fmtMs(total)} ms until all members have the change, ${fmtMs(inLeader)} ms ` +
    `(${((100 * inLeader) / total).toFixed(0)} %) pass between the export change reaching the watches and the ` +
    `leader controller's publication (its work queue, reconcile and import write); ${fmtMs(before)} ms go to ` +
    `the member's export write and its watch delivery, and ${fmtMs(after)} ms from the publication to the last ` +
    'member (negative when the watches beat the log line).'
  );
}

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
    // reported without versions
  }
  return (
    `nproc ${availableParallelism()} (${model}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
    `Linux ${release()}, Node ${process.version}${k8s}`
  );
}

function render(o: Options, command: string, when: string, host: string, f: Figures): string {
  const t = f.trials;
  const all = stat(t.map((x) => x.allMs));
  const perMember = stat(t.flatMap((x) => x.arrivals));
  const meanPerTrial = stat(t.map((x) => x.meanMs));
  const incomplete = t.filter((x) => x.missing > 0).length;
  const conflicts = t.reduce((s, x) => s + x.conflicts, 0);
  const row = (name: string, s: Stat, target: string, meaning: string): string[] => [
    name,
    fmtMs(s.p50),
    fmtMs(s.p99),
    fmtMs(s.max),
    fmtMs(s.mean),
    target,
    meaning,
  ];
  const n = o.members;
  const out = [
    `Command: \`${command}\``,
    '',
    `Run: ${when}; machine: ${host}.`,
    '',
    `Scenario: one leader cluster (a fresh etcd + kube-apiserver on loopback) with the leader CRDs and ${n} members admitted by \`addMember\` (${fmtS(f.admitMs)} s, ${o.concurrency} at a time), each with its own ServiceAccount-token kubeconfig; \`bin/mcgw.js leader --install-crds --election-lease-ms ${o.electionLeaseMs}\` runs as a child process (ready and elected ${fmtMs(f.leaderReadyMs)} ms after spawning). The members are simulated in the benchmark process by what a member does to the leader, each with its own credentials: a ClusterExport with 2 Gateways, a pod /24 from 198.18.128.0/17 and a service /24 from 198.19.128.0/17; its heartbeat Lease renewed every ${fmtS(o.heartbeatMs)} s (spread over the period); an informer (list + watch) over all ClusterImports in \`${CLUSTERSET_NAMESPACE}\`. From the first export write until all ${n} members held all ${n} imports took ${fmtS(f.syncMs)} s. After ${fmtS(o.idleMs)} s of heartbeats only, each of ${t.length} trials (${fmtS(o.gapMs)}-${fmtS(o.gapMs * 1.5)} s apart, seed ${o.seed}) picks a random member and replaces one of its 2 Gateways (new Node name and gatewayIP) in its export: it reads the export, takes t0, replaces it, and waits until every one of the ${n} members' informers has delivered the changed ClusterImport (the changing member's own included). Times in ms from t0; with ${t.length} trials the nearest-rank p99 is the slowest trial.`,
    '',
    '### Propagation of one Gateway change',
    '',
    table(
      ['Figure', 'p50', 'p99', 'max', 'mean', 'Target', 'Meaning'],
      [
        row(
          `export write → all ${n} members have it`,
          all,
          `p99 < ${TARGET_P99_MS / 1000} s: ${verdict(incomplete === 0 && all.p99 < TARGET_P99_MS)}`,
          `Per trial, until the last member's informer delivered the new import: the ClusterSet has converged.${incomplete ? ` ${incomplete} trial(s) did not complete within ${fmtS(o.trialTimeoutMs)} s.` : ''}`,
        ),
        row(
          'per-member delivery',
          perMember,
          '',
          `Every member in every trial (${perMember.n} deliveries): t0 until that member's informer delivered the import.`,
        ),
        row(
          'mean per-member delivery, per trial',
          meanPerTrial,
          '',
          `The mean over the ${n} members of one trial, summarised over the trials.`,
        ),
      ],
    ),
    '',
    'Where the time goes, per trial (same t0):',
    '',
    table(
      ['Step', 'p50', 'p99', 'max', 'mean', 'Meaning'],
      [
        [
          'export write returned',
          ...[stat(t.map((x) => x.putMs))].flatMap((s) => [
            fmtMs(s.p50),
            fmtMs(s.p99),
            fmtMs(s.max),
            fmtMs(s.mean),
          ]),
          `The member's PUT of its ClusterExport (new TLS connection, authentication, CEL validation, etcd write).${conflicts ? ` ${conflicts} write(s) hit a conflict with the leader's status write and were retried.` : ''}`,
        ],
        [
          'export change on a watch',
          ...[stat(t.map((x) => x.exportSeenMs))].flatMap((s) => [
            fmtMs(s.p50),
            fmtMs(s.p99),
            fmtMs(s.max),
            fmtMs(s.mean),
          ]),
          "An admin informer over all ClusterExports in the benchmark process delivered it: about when the leader controller's own informer gets it.",
        ],
        [
          'leader published the import',
          ...[stat(t.map((x) => x.publishedMs))].flatMap((s) => [
            fmtMs(s.p50),
            fmtMs(s.p99),
            fmtMs(s.max),
            fmtMs(s.mean),
          ]),
          'The leader controller logged "published import" (its PUT returned); from its log timestamp, 1 ms resolution. Includes its work queue and reconcile.',
        ],
        [
          'first member has it',
          ...[stat(t.map((x) => x.firstMs))].flatMap((s) => [
            fmtMs(s.p50),
            fmtMs(s.p99),
            fmtMs(s.max),
            fmtMs(s.mean),
          ]),
          'The first of the member informers delivered the new import.',
        ],
        [
          'fan-out (last − first member)',
          ...[stat(t.map((x) => x.allMs - x.firstMs))].flatMap((s) => [
            fmtMs(s.p50),
            fmtMs(s.p99),
            fmtMs(s.max),
            fmtMs(s.mean),
          ]),
          `Spread of the ${n} watch deliveries of one import event.`,
        ],
      ],
    ),
    '',
    leaderShare(t),
    '',
    '### Cost',
    '',
    table(
      ['Figure', 'Value', 'Meaning'],
      [
        [
          'leader controller peak RSS (VmHWM)',
          `${mib(f.peakRssKiB)} MiB`,
          `Resident-memory high-water mark of the \`mcgw leader\` process over the whole run (read every 25 ms), initial sync of ${n} members included.`,
        ],
        [
          'leader controller RSS at the end',
          `${mib(f.endRssKiB)} MiB`,
          'Resident memory after the trials: the steady cost of its caches (exports, imports, member namespaces, heartbeat Leases).',
        ],
        [
          'leader controller CPU, idle',
          pct(f.idleCpu),
          `Share of one core over ${fmtS(o.idleMs)} s with heartbeats only (${(n / (o.heartbeatMs / 1000)).toFixed(0)} renewals/s; a renewal triggers a reconcile only for a member marked Stale).`,
        ],
        ['leader controller CPU, trials', pct(f.trialCpu), 'Share of one core over the trial phase.'],
        [
          'leader apiserver RSS at the end (peak)',
          `${mib(f.apiserver?.rss)} MiB (${mib(f.apiserver?.hwm)} MiB)`,
          `For reference: kube-apiserver serving ${n + 1} watches of the imports (${n} members, the leader controller) and ${n} member identities.`,
        ],
        [
          'leader etcd RSS at the end (peak)',
          `${mib(f.etcd?.rss)} MiB (${mib(f.etcd?.hwm)} MiB)`,
          'For reference.',
        ],
      ],
    ),
    '',
    `Member watch errors: ${watchErrors.members}; heartbeat renewal errors: ${watchErrors.heartbeats}; leader controller warnings: ${f.leaderWarnings}; leader controller ${f.leaderExit} on SIGTERM.`,
    '',
    '<details><summary>Per trial</summary>',
    '',
    table(
      ['#', 'Member', 'Gateway', 'all members', 'first', 'mean', 'published', 'write'],
      t.map((x, i) => [
        String(i + 1),
        x.member,
        `gw${x.slot}`,
        x.missing ? `- (${x.missing} missing)` : fmtMs(x.allMs),
        fmtMs(x.firstMs),
        fmtMs(x.meanMs),
        fmtMs(x.publishedMs),
        fmtMs(x.putMs),
      ]),
    ),
    '',
    '</details>',
  ];
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
    argv.length === 0 ? 'npm run bench:exchange' : `npx tsx bench/exchange.ts ${argv.join(' ')}`;

  const figures = await run(o);
  const host = await machine();
  const body = render(o, command, `${when} (1-minute load average ${load} at start)`, host, figures);
  process.stdout.write(`\n## ${SECTION}\n\n${body}\n\n`);

  // A profiled leader is slower; its figures are not the product's.
  const full = o.members === FULL.members && o.trials === FULL.trials && !o.profileDir;
  if (!o.profileDir && (o.write ?? full)) {
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
      `bench/exchange: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
