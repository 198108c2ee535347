// Agent benchmark: how fast a BFD Down reaches the kernel route, and what the agent costs in memory
// with 100 remote Gateways.
//
//   npx tsx bench/agent.ts [--trials 50] [--clusters 50] [--settle-s 25] [--skip-failover] [--skip-rss]
//                          [--skip-kube] [--compare-with REV] [--nice N] [--no-write]
//
// A quick run: --trials 10 --settle-s 8 --no-write. --nice N runs the benchmark and every process it
// starts (agents, ip, nft, the sniffer) at that nice level, ahead of other load on a shared machine.
//
// 1. Failover: test/agent/topology.ts (cluster a: ga; cluster b: gb1 priority 100, gb2 99, agents as
//    processes from state files, BFD 50 ms x 3). Each trial adds an nftables rule in gb1's namespace
//    dropping its outgoing BFD (udp dport 3784, the inner packets before VXLAN encapsulation), waits
//    for ga to route b through gb2, removes the rule and waits for the route back. Collected per
//    trial: the agent's own `applied` bfdToKernelMs; the route change as `ip -ts monitor route` in
//    ga's namespace saw it; the rule insertion time; and the arrival time (kernel SO_TIMESTAMPNS on an
//    AF_PACKET socket on ga's mcgw-x) of the last BFD packet from gb1 before the route changed. The
//    BFD detection timer expires exactly 3 x 50 ms after that packet, so route change − (last packet
//    + 150 ms) is the whole overhead measured from outside the agent.
// 2. Memory: one namespace with only a dummy underlay, an agent whose state file lists --clusters
//    remote clusters x 2 Gateways (which do not exist: their sessions stay Down); VmHWM/VmRSS of the
//    agent's node process after --settle-s, and what it programmed. Run twice, one after the other:
//    compiled (dist/) and through tsx (MCGW_RUNTIME=tsx), for the ratio.
// 3. Memory fed by Kubernetes (unless --skip-kube; --skip-rss skips 2 and the module probes only):
//    the same 100 remote Gateways as RemoteCluster objects in a real control plane
//    (src/lab/controlplane.ts: etcd and kube-apiserver on loopback), with its Node, ClusterSetMember,
//    a GatewayPolicy and ClusterGateway (the agent is a Gateway and renews its Lease); the agent,
//    compiled, runs with --kubeconfig and no state, reaching the apiserver through the lab's relays
//    (src/lab/netns-relay.mjs); 3 s in, its Node is annotated (a change after start).
//    --compare-with REV runs the same agent from a clean export of REV (git archive, built there)
//    for a before/after. Each agent is then run once more with NODE_DEBUG=esm,module for the
//    packages it loads from node_modules. Agent logs: $TMPDIR/mcgw-bench-agent-*.log.
//
// The benchmark first builds dist/ (scripts/build.mjs) and runs every agent with MCGW_RUNTIME=dist
// (the compiled code, as the image does) unless told otherwise: an agent fails to start rather than
// silently running the sources if src/ changes during the run.
//
// Needs root, iproute2, nft and python3 (and for 3 the control plane binaries, which the integration
// tests build). Namespaces are mcgwt-*, addresses from 198.18.0.0/15.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, setPriority, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { AgentInputs } from '../src/agent/inputs.ts';
import { GROUP, SYSTEM_NAMESPACE, VERSION, gatewayLeaseName } from '../src/api/group.ts';
import { makeClients } from '../src/kube/client.ts';
import { ensureNamespace, installCRDs } from '../src/kube/crds.ts';
import { rawRequest } from '../src/kube/raw.ts';
import { ControlPlane } from '../src/lab/controlplane.ts';
import { relay } from '../src/lab/netns-relay.mjs';
import { createSimNode } from '../src/lab/simnodes.ts';
import { MCGW, Topology } from '../test/agent/topology.ts';
import { writeSection } from './report.ts';

const TX_MS = 50;
const MULT = 3;
const DETECT_MS = TX_MS * MULT;
const B_CIDR = '198.18.80.0/20';
const NFT_TABLE = 'mcgw_bench_agent';
const RAW = join(tmpdir(), 'mcgw-bench-agent-trials.json');

const { values: flags } = parseArgs({
  options: {
    trials: { type: 'string', default: '50' },
    clusters: { type: 'string', default: '50' },
    'settle-s': { type: 'string', default: '25' },
    'skip-failover': { type: 'boolean', default: false },
    'skip-rss': { type: 'boolean', default: false },
    'skip-kube': { type: 'boolean', default: false },
    'compare-with': { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    nice: { type: 'string' },
  },
});
const NICE = flags.nice === undefined ? undefined : Number(flags.nice);
if (NICE !== undefined && (!Number.isInteger(NICE) || NICE < -20 || NICE > 19))
  throw new Error(`--nice must be an integer from -20 to 19, got "${flags.nice}"`);
const TRIALS = Number(flags.trials);
const CLUSTERS = Math.min(64, Number(flags.clusters));
const SETTLE_S = Number(flags['settle-s']);

const now = () => performance.timeOrigin + performance.now();

// --- cleanup on every exit path ---

const namespaces = new Set<string>();
const procs = new Set<ChildProcess>();
function cleanupSync(): void {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
  namespaces.clear();
}
process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => {
    cleanupSync();
    process.exit(130);
  });
process.on('uncaughtException', (err) => {
  console.error(err);
  cleanupSync();
  process.exit(1);
});

function sh(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function track(p: ChildProcess): ChildProcess {
  procs.add(p);
  p.on('exit', () => procs.delete(p));
  return p;
}

// --- statistics ---

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return 'n/a';
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}
interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
  over10: number;
}
function summary(xs: number[]): Summary | undefined {
  if (!xs.length) return undefined;
  return {
    n: xs.length,
    p50: pct(xs, 50),
    p99: pct(xs, 99),
    max: Math.max(...xs),
    min: Math.min(...xs),
    over10: xs.filter((x) => x > 10).length,
  };
}

// --- /proc ---

/** The node process behind `ip netns exec ... node`: the pid itself when ip exec'd, else its child. */
function nodePid(pid: number): number {
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  if (comm !== 'ip') return pid;
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  for (const k of kids)
    if (readFileSync(`/proc/${k}/comm`, 'utf8').trim().startsWith('node')) return Number(k);
  throw new Error(`no node child under ip pid ${pid}`);
}
function memOf(pid: number): { hwmMiB: number; rssMiB: number; comm: string } {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? NaN);
  return {
    hwmMiB: kb('VmHWM') / 1024,
    rssMiB: kb('VmRSS') / 1024,
    comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(),
  };
}
/** utime + stime of a process, ms. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // CLK_TCK 100
}

// --- scenario 1: BFD Down -> kernel route ---

// Incoming inner BFD packets on one device, with kernel receive timestamps (CLOCK_REALTIME, ms).
const SNIFFER = `
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
s.bind((sys.argv[1], 0))
print("ready", flush=True)
while True:
    data, anc, _f, addr = s.recvmsg(2048, 64)
    if addr[2] == 4 or len(data) < 14 + 28 or data[12:14] != b"\\x08\\x00": continue  # outgoing / not IPv4
    ihl = (data[14] & 15) * 4
    if data[23] != 17: continue
    dport = struct.unpack("!H", data[14 + ihl + 2:14 + ihl + 4])[0]
    if dport != 3784: continue
    ts = None
    for lvl, typ, val in anc:
        if lvl == socket.SOL_SOCKET and typ == 35:
            sec, nsec = struct.unpack("qq", val[:16]); ts = sec * 1000 + nsec / 1e6
    print("%.3f %s" % (ts, socket.inet_ntoa(data[26:30])), flush=True)
`;

interface Trial {
  /** A route change away from gb1 came before the rule: a false BFD Down, not caused by the trial. */
  spurious: boolean;
  ruleBefore: number;
  ruleAt: number;
  routeAt?: number;
  lastPktAt?: number;
  bfdToKernelMs?: number;
  bfdAtMs?: number;
  restored: boolean;
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(2);
  }
  return true;
}

async function failover(): Promise<Record<string, unknown>> {
  const t = new Topology(['gb1', 'gb2'], 'ActiveStandby', { tx: TX_MS, mult: MULT });
  for (const n of ['sw', ...t.nodes]) namespaces.add(t.ns(n));
  try {
    t.setUp();
    await t.start((r) => !!r?.gateway);
    for (const p of t.agents.values()) track(p);
    const gb1Inner = t.route('ga', B_CIDR)!.gateway!;
    // Wait until both of ga's sessions are Up, so gb2 is a live alternative.
    const gaLog = t.logs.get('ga')!;
    const upPeers = () =>
      new Set(
        gaLog
          .map((l) => JSON.parse(l) as { msg?: string; peer?: string })
          .filter((j) => j.msg === 'peer up')
          .map((j) => j.peer),
      );
    if (!(await waitFor(() => upPeers().size >= 2, 10_000)))
      throw new Error('ga never saw both b Gateways up');
    const gb2Inner = (
      JSON.parse(t.inNs('ga', 'ip', '-j', 'route', 'show', 'proto', '250')) as { dst: string }[]
    )
      .map((r) => r.dst)
      .find((d) => d !== gb1Inner && d !== B_CIDR && d.startsWith('198.19.'));
    process.stderr.write(`# failover: ga routes b via gb1 inner ${gb1Inner} (other peer ${gb2Inner})\n`);

    // Route events in ga, timestamped by ip on receipt.
    const routeEvents: { at: number; via: string }[] = [];
    const mon = track(
      spawn('ip', ['-n', t.ns('ga'), '-ts', 'monitor', 'route'], {
        env: { ...process.env, TZ: 'UTC' },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    createInterface({ input: mon.stdout! }).on('line', (l) => {
      const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\]\s+(?:Deleted )?(\S+) via (\S+)/.exec(l);
      if (!m || m[3] !== B_CIDR || l.includes('Deleted')) return;
      routeEvents.push({ at: Date.parse(m[1]! + 'Z') + Number(m[2]) / 1000, via: m[4]! });
    });
    // BFD packets arriving at ga from gb1.
    const pkts: number[] = [];
    const sniff = track(
      spawn('ip', ['netns', 'exec', t.ns('ga'), 'python3', '-c', SNIFFER, 'mcgw-x'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    await new Promise<void>((resolve, reject) => {
      const rl = createInterface({ input: sniff.stdout! });
      rl.on('line', (l) => {
        if (l === 'ready') return resolve();
        const [ts, src] = l.split(' ');
        if (src === gb1Inner) pkts.push(Number(ts));
      });
      sniff.once('exit', (c) => reject(new Error(`sniffer exited ${c}`)));
    });
    await sleep(500);
    if (!pkts.length) throw new Error('sniffer sees no BFD from gb1');

    t.inNs('gb1', 'nft', `add table inet ${NFT_TABLE}`);
    t.inNs('gb1', 'nft', `add chain inet ${NFT_TABLE} out { type filter hook output priority 0 ; }`);
    const gaPid = t.agents.get('ga')!.pid!;
    const gaNode = nodePid(gaPid);
    const cpu0 = cpuMs(gaNode);
    const applied = () =>
      gaLog
        .map(
          (l) =>
            JSON.parse(l) as {
              ts?: string;
              msg?: string;
              reason?: string;
              bfdToKernelMs?: number;
              bfdAtMs?: number;
            },
        )
        .filter((j) => j.msg === 'applied' || j.msg === 'peer down');

    const trials: Trial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      await sleep(250 + Math.random() * 250);
      const seenApplied = applied().length;
      const seenRoutes = routeEvents.length;
      const ruleBefore = now();
      t.inNs('gb1', 'nft', `add rule inet ${NFT_TABLE} out udp dport 3784 drop`);
      const trial: Trial = { spurious: false, ruleBefore, ruleAt: now(), restored: false };
      trials.push(trial);
      const moved = await waitFor(
        () =>
          routeEvents.slice(seenRoutes).some((e) => e.via !== gb1Inner) &&
          applied()
            .slice(seenApplied)
            .some((j) => j.msg === 'applied' && j.reason === 'bfd-down'),
        3000,
      );
      trial.spurious = routeEvents.slice(seenRoutes).some((e) => e.via !== gb1Inner && e.at < ruleBefore);
      const ev = routeEvents.slice(seenRoutes).find((e) => e.via !== gb1Inner && e.at >= ruleBefore);
      // Log lines carry a ms timestamp: only what the agent logged after the rule belongs to the trial.
      const news = applied()
        .slice(seenApplied)
        .filter((j) => Date.parse(j.ts ?? '') >= Math.floor(ruleBefore));
      const down = news.find((j) => j.msg === 'applied' && j.reason === 'bfd-down');
      if (ev) {
        trial.routeAt = ev.at;
        trial.lastPktAt = pkts.filter((p) => p <= ev.at).at(-1);
      }
      if (down) trial.bfdToKernelMs = down.bfdToKernelMs;
      trial.bfdAtMs = news.find((j) => j.msg === 'peer down')?.bfdAtMs;
      t.inNs('gb1', 'nft', `flush chain inet ${NFT_TABLE} out`);
      if (!moved || trial.spurious)
        process.stderr.write(
          `# trial ${i}: ${trial.spurious ? 'route moved to gb2 before the rule (false BFD Down)' : 'route did not move within 3 s'}\n`,
        );
      const back = routeEvents.length;
      trial.restored = await waitFor(
        () =>
          routeEvents.slice(back).some((e) => e.via === gb1Inner) ||
          t.route('ga', B_CIDR)?.gateway === gb1Inner,
        5000,
      );
      if (!trial.restored) process.stderr.write(`# trial ${i}: route did not come back to gb1 within 5 s\n`);
      await waitFor(() => t.route('ga', B_CIDR)?.gateway === gb1Inner, 5000);
      if ((i + 1) % 10 === 0) process.stderr.write(`# failover: ${i + 1}/${TRIALS} trials\n`);
    }
    const cpu1 = cpuMs(gaNode);
    const mem = memOf(gaNode);
    const allApplied = applied().filter((j) => j.msg === 'applied' && j.reason === 'bfd-down');
    mon.kill('SIGKILL');
    sniff.kill('SIGKILL');

    writeFileSync(RAW, JSON.stringify({ trials, bfdDownApplies: allApplied, gaLog }, null, 1));
    const ok = trials.filter((x) => x.routeAt !== undefined && !x.spurious);
    const d = (f: (x: Trial) => number | undefined) =>
      summary(ok.map(f).filter((v): v is number => v !== undefined && !Number.isNaN(v)));
    return {
      trials: trials.length,
      moved: ok.length,
      spurious: trials.filter((x) => x.spurious).length,
      trialBfdToKernel: d((x) => x.bfdToKernelMs),
      restored: trials.filter((x) => x.restored).length,
      bfdDownApplies: allApplied.length,
      agentBfdToKernel: summary(allApplied.map((j) => j.bfdToKernelMs!).filter((v) => v !== undefined)),
      ruleToRoute: d((x) => x.routeAt! - x.ruleAt),
      ruleToRouteMinusDetect: d((x) => x.routeAt! - x.ruleAt - DETECT_MS),
      lastPktToRouteMinusDetect: d((x) =>
        x.lastPktAt === undefined ? undefined : x.routeAt! - x.lastPktAt - DETECT_MS,
      ),
      decisionToRouteEvent: d((x) => (x.bfdAtMs === undefined ? undefined : x.routeAt! - x.bfdAtMs)),
      lastPktToDecisionMinusDetect: d((x) =>
        x.bfdAtMs === undefined || x.lastPktAt === undefined
          ? undefined
          : x.bfdAtMs - x.lastPktAt - DETECT_MS,
      ),
      nftCallMs: d((x) => x.ruleAt - x.ruleBefore),
      gaMem: mem,
      gaCpuMsPerTrial: (cpu1 - cpu0) / trials.length,
      gbInner: [gb1Inner, gb2Inner],
    };
  } finally {
    await t.tearDown();
    for (const n of ['sw', ...t.nodes]) namespaces.delete(t.ns(n));
  }
}

// --- scenarios 2 and 3: memory with many remote Gateways, from a state file or from Kubernetes ---

type Runtime = 'dist' | 'tsx';

const TUNNEL = { port: 4789, vni: 4242 };
const RELAY = fileURLToPath(new URL('../src/lab/netns-relay.mjs', import.meta.url));

/** CLUSTERS remote clusters x 2 Gateways at underlay addresses that do not exist. */
function remoteClusters(): AgentInputs['remotes'] {
  return Array.from({ length: CLUSTERS }, (_, i) => ({
    clusterID: `r${i + 1}`,
    gateways: [0, 1].map((j) => ({
      node: `r${i + 1}-gw${j + 1}`,
      gatewayIP: `198.18.${1 + Math.floor((2 * i + j) / 250)}.${1 + ((2 * i + j) % 250)}`,
      internalIP: `198.18.${1 + Math.floor((2 * i + j) / 250)}.${1 + ((2 * i + j) % 250)}`,
      priority: 100 - j,
    })),
    podCIDRs: [`198.19.${i}.0/24`],
    serviceCIDRs: [`198.19.${64 + i}.0/24`],
    tunnel: TUNNEL,
    mode: (i % 2 ? 'ActiveActive' : 'ActiveStandby') as 'ActiveActive' | 'ActiveStandby',
  }));
}

/** A control plane with the state file's content: ga's Node, member, policy, ClusterGateway, RemoteClusters. */
interface KubeEnv {
  cp: ControlPlane;
  apiSocket: string;
  relay: { close(): Promise<void> };
}

async function kubeEnv(): Promise<KubeEnv> {
  const cp = await ControlPlane.start({ name: 'benchagent' });
  try {
    const c = makeClients(cp.kubeConfig());
    await installCRDs(c);
    await ensureNamespace(c, SYSTEM_NAMESPACE);
    await createSimNode(c.core, { name: 'ga', internalIP: '198.18.0.11' });
    const base = `/apis/${GROUP}/${VERSION}`;
    const create = (plural: string, kind: string, name: string, spec: object) =>
      rawRequest(c.kc, 'POST', `${base}/${plural}`, {
        apiVersion: `${GROUP}/${VERSION}`,
        kind,
        metadata: { name },
        spec,
      });
    await create('clustersetmembers', 'ClusterSetMember', 'a', {
      clusterID: 'a',
      leader: { secretName: 'mcgw-leader', namespace: 'member-a' },
      podCIDRs: ['198.18.64.0/20'],
    });
    // The default policy, as the member chart makes it.
    await create('gatewaypolicies', 'GatewayPolicy', 'default', {});
    await create('clustergateways', 'ClusterGateway', 'ga', {
      nodeName: 'ga',
      gatewayIP: '198.18.0.11',
      internalIP: '198.18.0.11',
      priority: 100,
    });
    const remotes = remoteClusters();
    for (const r of remotes)
      await create('remoteclusters', 'RemoteCluster', r.clusterID, {
        ...r,
        gateways: r.gateways.map((g) => ({ ...g, ready: true })),
      });
    const apiSocket = join(cp.dir, 'api.sock');
    const port = Number(new URL(cp.server).port);
    return {
      cp,
      apiSocket,
      relay: await relay([{ from: { path: apiSocket }, to: { host: '127.0.0.1', port } }]),
    };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

/** Starts the relay to the apiserver in a namespace: its 127.0.0.1:PORT is the apiserver's. */
async function relayIn(ns: string, k: KubeEnv): Promise<ChildProcess> {
  const p = track(
    spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        RELAY,
        `tcp:127.0.0.1:${new URL(k.cp.server).port}=unix:${k.apiSocket}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: p.stdout! }).on('line', (l) => l === 'ready' && resolve());
    p.once('exit', (c) => reject(new Error(`relay exited ${c}`)));
  });
  return p;
}

/** Packages a process loaded from node_modules, from its NODE_DEBUG=esm,module output. */
function packagesIn(lines: string[]): string[] {
  const pkgs = new Set<string>();
  for (const l of lines)
    for (const m of l.matchAll(/node_modules\/((?:@[^/\s]+\/)?[^/\s.][^/\s]*)\//g)) pkgs.add(m[1]!);
  return [...pkgs].filter((p) => p !== '.cache').sort();
}

interface RssOptions {
  /** Fed by this control plane (through a relay) instead of a state file. */
  kube?: KubeEnv;
  /** The checkout whose bin/mcgw.js runs (default: this one). */
  root?: string;
}

async function rss(runtime: Runtime, o: RssOptions = {}): Promise<Record<string, unknown>> {
  const tag = Math.random().toString(16).slice(2, 6);
  const ns = `mcgwt-rss-${tag}`;
  namespaces.add(ns);
  const dir = mkdtempSync(join(tmpdir(), 'mcgw-bench-agent-'));
  const mcgw = o.root ? join(o.root, 'bin', 'mcgw.js') : MCGW;
  let relay: ChildProcess | undefined;
  try {
    spawnSync('ip', ['netns', 'del', ns]);
    sh('ip', 'netns', 'add', ns);
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    // No dummy module on every kernel: a veth pair with both ends in the namespace does as well.
    sh('ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p');
    sh('ip', '-n', ns, 'link', 'set', 'eth0p', 'up');
    sh('ip', '-n', ns, 'addr', 'add', '198.18.0.11/16', 'dev', 'eth0');
    sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
    const stateFile = join(dir, 'ga.json');
    if (o.kube) relay = await relayIn(ns, o.kube);
    else {
      const inputs: AgentInputs = {
        node: 'ga',
        cluster: 'a',
        internalIP: '198.18.0.11',
        local: {
          gateways: [{ node: 'ga', gatewayIP: '198.18.0.11', internalIP: '198.18.0.11', priority: 100 }],
          mode: 'ActiveStandby',
          podCIDRs: ['198.18.64.0/20'],
          serviceCIDRs: [],
        },
        remotes: remoteClusters(),
        tunnel: TUNNEL,
      };
      writeFileSync(
        stateFile,
        JSON.stringify({ format: 1, savedAt: new Date().toISOString(), inputs, liveness: {} }),
      );
    }
    const agentArgs = [
      'netns',
      'exec',
      ns,
      process.execPath,
      mcgw,
      'agent',
      '--node',
      'ga',
      '--state-file',
      stateFile,
      ...(o.kube ? ['--kubeconfig', o.kube.cp.kubeconfigPath] : []),
      '--bfd-tx-ms',
      String(TX_MS),
      '--bfd-rx-ms',
      String(TX_MS),
      '--bfd-mult',
      String(MULT),
      '--log-level',
      'info',
    ];
    const started = now();
    const p = track(
      spawn('ip', agentArgs, {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, MCGW_RUNTIME: runtime },
      }),
    );
    const log: string[] = [];
    let firstApplied: number | undefined;
    createInterface({ input: p.stderr! }).on('line', (l) => {
      log.push(l);
      if (firstApplied === undefined && l.includes('"applied"')) firstApplied = now() - started;
    });
    await sleep(1000);
    if (p.exitCode !== null) throw new Error(`agent exited ${p.exitCode}: ${log.slice(-5).join('\n')}`);
    const pid = nodePid(p.pid!);
    const samples: number[] = [];
    const end = Date.now() + SETTLE_S * 1000;
    const cpuStart = cpuMs(pid);
    const tCpu = Date.now();
    // A change 3 s in, as a cluster is seldom quiet for long: the agent before src/kube/lite planned
    // only on a change after all its caches had synced, so without one it never planned at all.
    let touchedAtMs: number | undefined;
    while (Date.now() < end) {
      if (p.exitCode !== null) throw new Error(`agent exited ${p.exitCode}: ${log.slice(-5).join('\n')}`);
      samples.push(memOf(pid).rssMiB);
      if (o.kube && touchedAtMs === undefined && now() - started >= 3000) {
        touchedAtMs = now() - started;
        await rawRequest(
          o.kube.cp.kubeConfig(),
          'PATCH',
          '/api/v1/nodes/ga',
          { metadata: { annotations: { 'mcgw.io/bench-touch': new Date().toISOString() } } },
          { 'content-type': 'application/merge-patch+json' },
        );
      }
      await sleep(1000);
    }
    const cpuPct = ((cpuMs(pid) - cpuStart) / (Date.now() - tCpu)) * 100;
    const mem = memOf(pid);
    const routes = sh('ip', '-n', ns, 'route', 'show', 'proto', '250').trim().split('\n').filter(Boolean);
    const ecmp = routes.filter((r) => !r.includes(' via ')).length;
    const fdb = sh('bridge', '-n', ns, 'fdb', 'show')
      .split('\n')
      .filter((l) => / dev mcgw-/.test(l) && / dst /.test(l));
    const neigh = sh('ip', '-n', ns, 'neigh', 'show')
      .split('\n')
      .filter((l) => / dev mcgw-/.test(l));
    const links = sh('ip', '-n', ns, '-o', 'link', 'show')
      .split('\n')
      .filter((l) => /: mcgw-/.test(l))
      .map((l) => l.split(':')[1]!.trim().split('@')[0]);
    const parsed = log.map((l) => {
      try {
        return JSON.parse(l) as { msg?: string; level?: string };
      } catch {
        return {};
      }
    });
    // Its Gateway Lease, renewed through the apiserver, with the BFD summary riding on it.
    let lease: { ageMs: number; bfdSummary: boolean } | undefined;
    if (o.kube) {
      const l = await rawRequest<{ spec?: { renewTime?: string }; metadata?: { annotations?: object } }>(
        o.kube.cp.kubeConfig(),
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases/${gatewayLeaseName('ga')}`,
      );
      lease = {
        ageMs: Date.now() - Date.parse(l.spec?.renewTime ?? ''),
        bfdSummary: Object.keys(l.metadata?.annotations ?? {}).some((k) => k.includes('bfd')),
      };
    }
    p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    const logFile = join(
      tmpdir(),
      `mcgw-bench-agent-${o.kube ? 'kube' : 'state'}-${runtime}${o.root ? '-before' : ''}.log`,
    );
    writeFileSync(logFile, log.join('\n') + '\n');
    // Once more with module tracing, only for the packages it loads (tracing costs memory itself).
    let packages: string[] | undefined;
    if (o.kube) {
      const traced: string[] = [];
      const q = track(
        spawn('ip', agentArgs, {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, MCGW_RUNTIME: runtime, NODE_DEBUG: 'esm,module' },
        }),
      );
      createInterface({ input: q.stderr! }).on('line', (l) => traced.push(l));
      const until = Date.now() + 15_000;
      while (Date.now() < until && !traced.some((l) => l.includes('"renewing gateway lease"')))
        await sleep(100);
      await sleep(1000);
      q.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      packages = packagesIn(traced);
    }
    return {
      runtime,
      source: o.kube ? 'kube' : 'state',
      root: o.root,
      clusters: CLUSTERS,
      gateways: CLUSTERS * 2,
      settleS: SETTLE_S,
      mem,
      rssMaxSampled: Math.max(...samples),
      cpuPct,
      firstAppliedMs: firstApplied,
      routes: routes.length,
      ecmpRoutes: ecmp,
      fdb: fdb.length,
      fdbAllZero: fdb.filter((l) => l.startsWith('00:00:00:00:00:00')).length,
      fdbByDev: Object.fromEntries(
        ['mcgw-x', 'mcgw-i'].map((d) => [d, fdb.filter((l) => l.includes(` dev ${d} `)).length]),
      ),
      neigh: neigh.length,
      links,
      warnings: parsed.filter((j) => j.level === 'warn' || j.level === 'error').length,
      warnMsgs: [
        ...new Set(
          parsed
            .filter((j) => j.level === 'warn' || j.level === 'error')
            .map((j) => `${j.msg}: ${(j as { error?: string }).error ?? ''}`),
        ),
      ],
      fdbSample: fdb.slice(0, 3),
      skipped: parsed.filter((j) => j.msg === 'skipped').length,
      peerDown: parsed.filter((j) => j.msg === 'peer down').length,
      logFile,
      ...(touchedAtMs !== undefined && { touchedAtMs }),
      ...(lease && { lease }),
      ...(packages && { packages }),
    };
  } finally {
    if (relay?.exitCode === null) relay.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', ns]);
    namespaces.delete(ns);
    spawnSync('rm', ['-rf', dir]);
  }
}

/** A clean export of `rev` (git archive) with this checkout's node_modules, built; removed at exit. */
function exportRev(rev: string): string {
  const root = dirname(dirname(MCGW));
  const dir = mkdtempSync(join(tmpdir(), 'mcgw-bench-rev-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  sh('bash', '-c', `git -C '${root}' archive '${rev}' | tar -x -C '${dir}'`);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  sh(process.execPath, join(dir, 'scripts', 'build.mjs'));
  return dir;
}

// --- what loading the code costs, before any state ---

const PROBES: [string, string[]][] = [
  ['node, nothing loaded', ['--input-type=module', '-e', '']],
  [
    'node + tsx loader registered',
    ['--input-type=module', '-e', "import { register } from 'tsx/esm/api'; register();"],
  ],
  [
    'node + @kubernetes/client-node (no tsx)',
    ['--input-type=module', '-e', "await import('@kubernetes/client-node');"],
  ],
  [
    'node + tsx + src/cli/agent.ts imported (what the agent loads from a state file, nothing run)',
    [
      '--input-type=module',
      '-e',
      "import { register } from 'tsx/esm/api'; register(); await import('./src/cli/agent.ts');",
    ],
  ],
  [
    'node + dist/cli/agent.js imported (the same, compiled)',
    ['--input-type=module', '-e', "await import('./dist/cli/agent.js');"],
  ],
  [
    'node + dist/cli/agent.js + its kubeconfig-only modules (src/kube/lite, KubeSource, LeaseRenewer, the reporter, yaml): what the agent loads with a kubeconfig',
    [
      '--input-type=module',
      '-e',
      "await Promise.all(['./dist/cli/agent.js', './dist/kube/lite/client.js', './dist/kube/lite/lease.js', './dist/agent/kubesource.js', './dist/lease/renewer.js', './dist/agent/reporter.js', 'yaml'].map((m) => import(m)));",
    ],
  ],
  [
    "node + dist/cli/agent.js + client-node's clients (src/kube/client.ts): what the agent loaded with a kubeconfig before src/kube/lite",
    [
      '--input-type=module',
      '-e',
      "await Promise.all(['./dist/cli/agent.js', './dist/kube/client.js'].map((m) => import(m)));",
    ],
  ],
];

function moduleCost(): { what: string; hwmMiB: number; heapUsedMiB: number }[] {
  const tail =
    "\nconst st = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8'); console.log(JSON.stringify({ hwm: Number(/VmHWM:\\s+(\\d+)/.exec(st)[1]), heap: process.memoryUsage().heapUsed }));";
  return PROBES.map(([what, args]) => {
    const a = [...args];
    a[a.length - 1] += tail;
    const out = JSON.parse(
      sh(process.execPath, ...a)
        .trim()
        .split('\n')
        .at(-1)!,
    ) as { hwm: number; heap: number };
    return { what, hwmMiB: out.hwm / 1024, heapUsedMiB: out.heap / 2 ** 20 };
  });
}

// --- report ---

function kubeSection(
  k: Record<string, unknown>,
  b: Record<string, unknown> | undefined,
  rev: string | undefined,
): string[] {
  const mem = (x: Record<string, unknown>) => x.mem as { hwmMiB: number; rssMiB: number };
  const mb = (mib: number) => mib * 1.048576;
  const lease = (x: Record<string, unknown>) => {
    const l = x.lease as { ageMs: number; bfdSummary: boolean } | undefined;
    return l
      ? `renewed ${fmt(l.ageMs)} ms before the end${l.bfdSummary ? ', BFD summary on it' : ''}`
      : 'n/a';
  };
  const pkgs = (x: Record<string, unknown>) =>
    ((x.packages as string[] | undefined) ?? []).join(', ') || 'none';
  const warn = (x: Record<string, unknown>) => `${x.peerDown as number} / ${x.warnings as number}`;
  const row = (
    fig: string,
    f: (x: Record<string, unknown>) => string,
    ratio: string,
    target: string,
    meaning: string,
  ) => `| ${fig} | ${f(k)} | ${b ? f(b) : 'n/a'} | ${ratio} | ${target} | ${meaning} |`;
  const ratio = (f: (x: Record<string, unknown>) => number) =>
    b && f(b) > 0 ? (f(k) / f(b)).toFixed(2) : '';
  const hwm = mem(k).hwmMiB;
  const lines = ['### Memory with 100 remote Gateways fed by Kubernetes', ''];
  lines.push(
    `Scenario: as above, but the ${k.gateways as number} remote Gateways are ${k.clusters as number} RemoteCluster objects in a real control plane (etcd and kube-apiserver on loopback, src/lab/controlplane.ts), with ga's Node, the ClusterSetMember, a default GatewayPolicy and ga's ClusterGateway, so the agent is a Gateway and renews its Lease. The agent runs compiled with \`--kubeconfig\` (client certificates, as in the lab) and no state file, as the DaemonSet does (where it uses its ServiceAccount token instead), reaching the apiserver through the lab's relays (a Unix socket from its namespace); ${b ? `then the same agent from a clean export of ${rev} (\`git archive\`, built there), against the same control plane, for the figure before the agent had its own client (src/kube/lite) instead of @kubernetes/client-node` : 'no earlier revision to compare with (--compare-with REV)'}. Each agent was then started once more with NODE_DEBUG=esm,module, only to list the packages it loads from node_modules.`,
    '',
  );
  lines.push(
    `| Figure | Compiled, this tree | Compiled, ${rev ?? 'before'} | this / before | Target | Meaning |`,
  );
  lines.push('| --- | --- | --- | --- | --- | --- |');
  lines.push(
    row(
      'VmHWM (peak RSS)',
      (x) => `${mem(x).hwmMiB.toFixed(1)} MiB`,
      ratio((x) => mem(x).hwmMiB),
      `< 120 MB: ${mb(hwm) < 120 ? 'met' : '**missed**'} (${mb(hwm).toFixed(0)} MB${b ? `; before: ${mb(mem(b).hwmMiB).toFixed(0)} MB` : ''})`,
      'Peak resident memory of the agent over the run.',
    ),
  );
  lines.push(
    row(
      'VmRSS',
      (x) => `${mem(x).rssMiB.toFixed(1)} MiB`,
      ratio((x) => mem(x).rssMiB),
      '',
      `Resident memory at the end (max sampled each second: ${(k.rssMaxSampled as number).toFixed(1)}${b ? ` / ${(b.rssMaxSampled as number).toFixed(1)}` : ''} MiB).`,
    ),
  );
  lines.push(
    row(
      'CPU',
      (x) => `${fmt(x.cpuPct as number)} %`,
      ratio((x) => x.cpuPct as number),
      '',
      '% of one core, user+system over the settle period.',
    ),
  );
  lines.push(
    row(
      'start → first apply',
      (x) => `${fmt(x.firstAppliedMs as number)} ms`,
      ratio((x) => x.firstAppliedMs as number),
      '',
      `From spawning the agent to its first \`applied\` log line: module loading, the lists and watches of its five resources, plan, first batch. ${fmt(k.touchedAtMs as number)} ms in, the bench annotates ga's Node: the agent before src/kube/lite planned only on a change after all its caches had synced (a race it usually lost in a quiet cluster), so its figure ends at that change.`,
    ),
  );
  lines.push(
    row(
      'routes / FDB / neighbours',
      (x) => `${x.routes as number} / ${x.fdb as number} / ${x.neigh as number}`,
      '',
      '',
      'What it programmed: the same as from the state file.',
    ),
  );
  lines.push(
    row(
      'peer-down / warnings',
      warn,
      '',
      '',
      `"peer down" log lines / warn+error log lines (${[...new Set([...(k.warnMsgs as string[]), ...((b?.warnMsgs as string[] | undefined) ?? [])])].map((w) => `\`${w}\``).join('; ') || 'none'}).`,
    ),
  );
  lines.push(
    row(
      'Gateway Lease',
      lease,
      '',
      '',
      "ga's Lease in mcgw-system as the apiserver had it at the end of the run.",
    ),
  );
  lines.push(
    row(
      'packages loaded',
      pkgs,
      '',
      '',
      'Packages the agent loaded from node_modules (NODE_DEBUG=esm,module).',
    ),
  );
  lines.push('');
  return lines;
}

function machine(): string {
  return `nproc ${cpus().length} (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  // Children inherit it.
  if (NICE !== undefined) setPriority(NICE);
  const startedIso = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  // Built again before each compiled part, so an edit under src/ in the meantime (the agents would
  // refuse a stale dist/) costs only the build.
  const build = () => {
    const t0 = now();
    sh(process.execPath, 'scripts/build.mjs');
    return (now() - t0) / 1000;
  };
  const buildS = build();
  process.env.MCGW_RUNTIME ??= 'dist';
  const load = loadavg()[0]!.toFixed(2);
  const argv = process.argv.slice(2).join(' ');
  const f = flags['skip-failover'] ? undefined : await failover();
  if (f) console.error(JSON.stringify(f, null, 1));
  const loadMid = loadavg()[0]!.toFixed(2);
  if (!flags['skip-failover'] && !flags['skip-rss']) build();
  const r = flags['skip-rss'] ? undefined : await rss('dist');
  if (r) console.error(JSON.stringify(r, null, 1));
  const rt = flags['skip-rss'] ? undefined : await rss('tsx');
  if (rt) console.error(JSON.stringify(rt, null, 1));
  // Fed by Kubernetes: this tree and, with --compare-with, an earlier revision, back to back.
  let rk: Record<string, unknown> | undefined;
  let rkBefore: Record<string, unknown> | undefined;
  const rev = flags['compare-with'];
  if (!flags['skip-kube']) {
    build();
    const revRoot = rev ? exportRev(rev) : undefined;
    const env = await kubeEnv();
    try {
      rk = await rss('dist', { kube: env });
      console.error(JSON.stringify(rk, null, 1));
      if (revRoot) {
        rkBefore = await rss('dist', { kube: env, root: revRoot });
        console.error(JSON.stringify(rkBefore, null, 1));
      }
    } finally {
      await env.relay.close();
      await env.cp.stop();
    }
  }
  const mc = flags['skip-rss'] ? undefined : moduleCost();
  if (mc) console.error(JSON.stringify(mc, null, 1));

  const lines: string[] = [];
  lines.push(`Command: \`npm run bench:agent${argv ? ` -- ${argv}` : ''}\``, '');
  lines.push(
    `Run: ${startedIso} (1-minute load average ${load} at start, ${loadMid} after the failover part${NICE !== undefined ? `; the benchmark and every process it started ran at nice ${NICE}, ahead of the other load` : ''}); machine: ${machine()}.`,
    '',
  );
  if (f) {
    const s = (k: string) => f[k] as Summary | undefined;
    const row = (name: string, k: string, target: string, meaning: string) => {
      const x = s(k);
      return `| ${name} | ${x?.n ?? 0} | ${fmt(x?.p50)} | ${fmt(x?.p99)} | ${fmt(x?.max)} | ${fmt(x?.min)} | ${x?.over10 ?? 0} | ${target} | ${meaning} |`;
    };
    const agent = s('agentBfdToKernel');
    const ext = s('lastPktToRouteMinusDetect');
    const verdict = (x: Summary | undefined) =>
      x ? (x.p99 < 10 ? 'p99 < 10 ms: met' : 'p99 < 10 ms: **missed**') : '';
    lines.push('### BFD Down → kernel route', '');
    lines.push(
      `Scenario: test/agent/topology.ts in network namespaces: cluster a with one Gateway agent (ga), cluster b with gb1 (priority 100) and gb2 (99), ActiveStandby, one bridge namespace as underlay; the three agents run as \`ip netns exec NS node bin/mcgw.js agent\` from state files (${process.env.MCGW_RUNTIME === 'tsx' ? 'through tsx' : 'compiled: dist/'}), BFD ${TX_MS} ms x ${MULT} (detection time ${DETECT_MS} ms). ${f.trials} trials, 250-500 ms apart: an nftables rule in gb1's namespace drops its outgoing BFD (udp dport 3784, inner packets, before VXLAN encapsulation); once ga routes ${B_CIDR} via gb2 the rule is flushed and the route comes back to gb1 before the next trial. ${f.moved} of ${f.trials} trials moved the route cleanly and ${f.restored} came back; ${f.spurious} trial(s) found the route already moved to gb2 before the rule went in (a false BFD Down on the loaded host; excluded from the per-trial figures); ga logged ${f.bfdDownApplies} \`bfd-down\` applies in all. Raw per-trial data: ${RAW}. Times in ms; p99 is nearest-rank, so with fewer than 100 samples it is the slowest one; "> 10 ms" counts the samples above the target. Independent clocks: route changes from \`ip -ts monitor route\` in ga's namespace (stamped by ip on receipt of the netlink event); BFD packets from gb1 as received on ga's mcgw-x (kernel SO_TIMESTAMPNS on an AF_PACKET socket); all CLOCK_REALTIME on one host. The BFD detection timer expires ${DETECT_MS} ms after the last packet from gb1 that ga received, so "last packet + ${DETECT_MS} ms → route change" is the agent's whole overhead seen from outside; "rule → route − ${DETECT_MS}" is the figure as the brief asked for, but it also subtracts the 0-50 ms since gb1's last packet before the rule, so it is mostly negative and says little.`,
      '',
    );
    lines.push('| Figure | n | p50 | p99 | max | min | > 10 ms | Target | Meaning |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    lines.push(
      row(
        'agent `bfdToKernelMs`, trials',
        'trialBfdToKernel',
        verdict(s('trialBfdToKernel')),
        "ga's own `applied` log line (reason bfd-down) of each trial: from the BFD decision (detection timer expiry, per its runner) to the `ip -batch` completion.",
      ),
    );
    lines.push(
      row(
        'agent `bfdToKernelMs`, every bfd-down',
        'agentBfdToKernel',
        verdict(agent),
        'The same over every bfd-down apply ga logged during the trials, the false Downs (below) included.',
      ),
    );
    lines.push(
      row(
        'last packet + 150 ms → route change',
        'lastPktToRouteMinusDetect',
        verdict(ext),
        'Outside view of the same: kernel arrival of the last BFD packet from gb1, plus the detection time, to the route change seen by `ip monitor`. Includes timer lateness, event-loop delay, planning, diff, the batch and the netlink event delivery to ip monitor.',
      ),
    );
    lines.push(
      row(
        'decision → route event',
        'decisionToRouteEvent',
        '',
        "From the agent's logged `bfdAtMs` (peer down) to the route event's ip monitor timestamp: the kernel-side counterpart of bfdToKernelMs.",
      ),
    );
    lines.push(
      row(
        'last packet + 150 ms → decision',
        'lastPktToDecisionMinusDetect',
        '',
        "How late the agent's detection timer fired after the theoretical expiry, as its logged bfdAtMs says (mixes the agent's performance.timeOrigin-based clock with the kernel's realtime stamps).",
      ),
    );
    lines.push(
      row(
        'rule → route change',
        'ruleToRoute',
        '',
        'From the nft command returning (rule active) to the route change: 100-150 ms of detection plus overhead.',
      ),
    );
    lines.push(
      row(
        'rule → route change − 150 ms',
        'ruleToRouteMinusDetect',
        '',
        'The above minus the theoretical detection time.',
      ),
    );
    lines.push(
      row(
        'nft call',
        'nftCallMs',
        '',
        'Duration of the `ip netns exec … nft add rule` call itself: the uncertainty of the rule time.',
      ),
    );
    const m = f.gaMem as { hwmMiB: number; rssMiB: number };
    lines.push('');
    lines.push(
      `ga's node process after the trials: VmHWM ${m.hwmMiB.toFixed(1)} MiB, VmRSS ${m.rssMiB.toFixed(1)} MiB; CPU (user+system) ${fmt(f.gaCpuMsPerTrial as number)} ms per trial (each trial ≈ 0.6-1 s of two BFD sessions at 50 ms plus a down and an up reconcile).`,
      '',
    );
  }
  if (r && rt) {
    const m = r.mem as { hwmMiB: number; rssMiB: number };
    const mt = rt.mem as { hwmMiB: number; rssMiB: number };
    const ratio = (x: number, y: number) => (y > 0 ? (x / y).toFixed(2) : 'n/a');
    lines.push('### Memory with 100 remote Gateways', '');
    lines.push(
      `Scenario: one namespace whose only underlay is a veth pair with both ends inside it (198.18.0.11/16 on one end); the agent (node ga, cluster a) runs from a state file listing ${r.clusters} remote clusters x 2 Gateways (${r.gateways} Gateways, underlay addresses 198.18.1.x-198.18.2.x that do not exist, so every session stays Down; half the clusters ActiveStandby, half ActiveActive; one pod /24 and one service /24 each from 198.19.0.0/17), BFD ${TX_MS} ms x ${MULT}; no kubeconfig, so @kubernetes/client-node is never loaded. Read from /proc/<pid>/status of the agent's node process (\`ip netns exec\` execs it) after ${r.settleS} s. Run twice, one after the other in fresh namespaces: compiled (\`bin/mcgw.js\` running dist/ from \`npm run build\`, ${buildS.toFixed(1)} s at the start of this run; what the image and \`npm test\` run) and through tsx (\`MCGW_RUNTIME=tsx\`, what runs when dist/ is missing or stale).`,
      '',
    );
    lines.push('| Figure | Compiled | tsx | compiled / tsx | Target | Meaning |');
    lines.push('| --- | --- | --- | --- | --- | --- |');
    lines.push(
      `| VmHWM (peak RSS) | ${m.hwmMiB.toFixed(1)} MiB | ${mt.hwmMiB.toFixed(1)} MiB | ${ratio(m.hwmMiB, mt.hwmMiB)} | < 120 MB, compiled: ${m.hwmMiB * 1.048576 < 120 ? 'met' : '**missed**'} (${(m.hwmMiB * 1.048576).toFixed(0)} MB) | Peak resident memory of the agent over the run. |`,
    );
    lines.push(
      `| VmRSS | ${m.rssMiB.toFixed(1)} MiB | ${mt.rssMiB.toFixed(1)} MiB | ${ratio(m.rssMiB, mt.rssMiB)} | | Resident memory at the end (max sampled each second: ${(r.rssMaxSampled as number).toFixed(1)} / ${(rt.rssMaxSampled as number).toFixed(1)} MiB). |`,
    );
    lines.push(
      `| CPU | ${fmt(r.cpuPct as number)} % | ${fmt(rt.cpuPct as number)} % | ${ratio(r.cpuPct as number, rt.cpuPct as number)} | | % of one core, user+system over the settle period, with ${r.gateways} sessions Down (RFC 5880: ≥ 1 s between packets while not Up). |`,
    );
    lines.push(
      `| start → first apply | ${fmt(r.firstAppliedMs as number)} ms | ${fmt(rt.firstAppliedMs as number)} ms | ${ratio(r.firstAppliedMs as number, rt.firstAppliedMs as number)} | | From spawning the agent to its first \`applied\` log line (Node start-up, module loading, plan, kernel read, first batch). |`,
    );
    lines.push(
      `| routes (proto 250) | ${r.routes} | ${rt.routes} | | | Routes the agent owns: pod and service CIDRs of every remote cluster (${r.ecmpRoutes} of them ECMP) plus a /32 to each peer's inner address. |`,
    );
    const byDev = r.fdbByDev as Record<string, number>;
    lines.push(
      `| FDB entries | ${r.fdb} | ${rt.fdb} | | | VXLAN forwarding entries with a dst on the mcgw-* links (${Object.entries(
        byDev,
      )
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')}; ${r.fdbAllZero} of them all-zero MAC flooding entries). |`,
    );
    lines.push(
      `| neighbours | ${r.neigh} | ${rt.neigh} | | | Static neighbour entries on the mcgw-* links. |`,
    );
    lines.push(
      `| links | ${(r.links as string[]).join(', ')} | ${(rt.links as string[]).join(', ')} | | | mcgw-* devices. |`,
    );
    lines.push(
      `| peer-down / warnings | ${r.peerDown} / ${r.warnings} | ${rt.peerDown} / ${rt.warnings} | | | "peer down" log lines (the 5 s start-up grace marking never-Up peers down) / warn+error log lines (${[...new Set([...(r.warnMsgs as string[]), ...(rt.warnMsgs as string[])])].map((w) => `\`${w}\``).join('; ') || 'none'}). |`,
    );
    lines.push('');
  }
  if (rk) lines.push(...kubeSection(rk, rkBefore, rev));
  {
    if (mc) {
      lines.push(
        'What loading the code costs before any state: fresh `node` processes in the repository that load the given modules and then read their own /proc/self/status.',
        '',
      );
      lines.push('| Process | VmHWM | V8 heap used |');
      lines.push('| --- | --- | --- |');
      for (const x of mc)
        lines.push(`| ${x.what} | ${x.hwmMiB.toFixed(1)} MiB | ${x.heapUsedMiB.toFixed(1)} MiB |`);
      lines.push('');
    }
  }
  const body = lines.join('\n');
  console.log(body);
  if (!flags['no-write']) {
    await writeSection('Agent', body);
    console.error('# wrote ## Agent in docs/BENCHMARKS.md');
  }
}

main().then(
  () => {
    cleanupSync();
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    cleanupSync();
    process.exit(1);
  },
);
