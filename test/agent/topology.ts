// A two-cluster test topology in network namespaces: one bridge namespace for the underlay, a
// namespace per Node, agents as real processes started from state files (no apiserver).
// Cluster a has one Gateway (ga); cluster b has the given ones, all answering for one "pod" address
// so a stream shows which Gateway carried it. With a `worker`, cluster b also has that non-gateway
// Node: it alone holds the pod address, and every b Gateway routes it to the worker's underlay
// address, as a CNI would; the worker's return traffic goes through its own agent's routes over
// mcgw-i. Addresses: 198.18.0.0/15 only.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { AgentInputs } from '../../src/agent/inputs.ts';
import type { Mode } from '../../src/api/types.ts';
import { buildUnderlay } from '../../src/lab/underlay.ts';

const MCGW = fileURLToPath(new URL('../../bin/mcgw.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./udp-probe.mjs', import.meta.url));
export const POD_A = '198.18.64.1';
export const POD_B = '198.18.80.1';

export interface Stream {
  sent: number;
  gapMs: number;
  answers: Record<string, string>;
}

/** The longest run of unanswered sequence numbers, in ms of stream time. */
export function lossWindowMs(s: Stream): number {
  let worst = 0;
  let run = 0;
  for (let i = 0; i < s.sent; i++) {
    if (s.answers[String(i)]) run = 0;
    else worst = Math.max(worst, ++run);
  }
  return worst * s.gapMs;
}

function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

export class Topology {
  readonly tag = randomBytes(2).toString('hex');
  readonly dir = mkdtempSync(join(tmpdir(), 'mcgw-agent-test-'));
  readonly agents = new Map<string, ChildProcess>();
  readonly logs = new Map<string, string[]>();
  private readonly others: ChildProcess[] = [];
  readonly underlay: Record<string, string> = {};
  readonly nodes: string[];

  constructor(
    readonly bGateways: string[],
    readonly bMode: Mode,
    readonly bfd = { tx: 50, mult: 3 },
    readonly opts: { worker?: string } = {},
  ) {
    this.nodes = ['ga', ...bGateways, ...(opts.worker ? [opts.worker] : [])];
    this.nodes.forEach((n, i) => (this.underlay[n] = `198.18.0.${11 + i}`));
  }

  ns(node: string): string {
    return `mcgwt-${node}-${this.tag}`;
  }

  inNs(node: string, cmd: string, ...args: string[]): string {
    const r = spawnSync('ip', ['netns', 'exec', this.ns(node), cmd, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${node}: ${r.stderr}`);
    return r.stdout;
  }

  private inputs(node: string): AgentInputs {
    const gw = (n: string, priority: number) => ({
      node: n,
      gatewayIP: this.underlay[n]!,
      internalIP: this.underlay[n]!,
      priority,
    });
    const tunnel = { port: 4789, vni: 4242 };
    const A = {
      clusterID: 'a',
      gateways: [gw('ga', 100)],
      podCIDRs: ['198.18.64.0/20'],
      serviceCIDRs: [],
      tunnel,
      mode: 'ActiveStandby' as Mode,
    };
    const B = {
      clusterID: 'b',
      gateways: this.bGateways.map((n, i) => gw(n, 100 - i)),
      podCIDRs: ['198.18.80.0/20'],
      serviceCIDRs: [],
      tunnel,
      mode: this.bMode,
    };
    const [mine, other] = node === 'ga' ? [A, B] : [B, A];
    return {
      node,
      cluster: mine.clusterID,
      internalIP: this.underlay[node]!,
      local: { gateways: mine.gateways, mode: mine.mode, podCIDRs: mine.podCIDRs, serviceCIDRs: [] },
      remotes: [other],
      tunnel,
    };
  }

  setUp(): void {
    buildUnderlay(
      this.ns('sw'),
      this.nodes.map((node, i) => ({
        ns: this.ns(node),
        port: `ms${this.tag}${i}`,
        cidr: `${this.underlay[node]}/24`,
      })),
    );
    this.nodes.forEach((node) => {
      const ns = this.ns(node);
      const worker = this.opts.worker;
      if (node === 'ga') ip('-n', ns, 'addr', 'add', `${POD_A}/32`, 'dev', 'lo');
      else if (!worker || node === worker) ip('-n', ns, 'addr', 'add', `${POD_B}/32`, 'dev', 'lo');
      else ip('-n', ns, 'route', 'add', `${POD_B}/32`, 'via', this.underlay[worker]!, 'dev', 'eth0');
      writeFileSync(
        join(this.dir, `${node}.json`),
        JSON.stringify({
          format: 1,
          savedAt: new Date().toISOString(),
          inputs: this.inputs(node),
          liveness: {},
        }),
      );
    });
  }

  startAgent(node: string): ChildProcess {
    const p = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns(node),
        process.execPath,
        MCGW,
        'agent',
        '--node',
        node,
        '--state-file',
        join(this.dir, `${node}.json`),
        '--bfd-tx-ms',
        String(this.bfd.tx),
        '--bfd-rx-ms',
        String(this.bfd.tx),
        '--bfd-mult',
        String(this.bfd.mult),
        '--health-addr',
        '127.0.0.1:9765',
        '--log-level',
        'info',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const l = this.logs.get(node) ?? [];
    this.logs.set(node, l);
    createInterface({ input: p.stderr! }).on('line', (x) => l.push(x));
    this.agents.set(node, p);
    process.once('exit', () => p.kill('SIGKILL'));
    return p;
  }

  route(
    node: string,
    dst: string,
  ): { gateway?: string; type?: string; nexthops?: { gateway: string }[] } | undefined {
    return (
      JSON.parse(this.inNs(node, 'ip', '-j', 'route', 'show', dst)) as {
        gateway?: string;
        nexthops?: { gateway: string }[];
      }[]
    )[0];
  }

  /** Starts every agent and the echo servers; resolves once ga routes b through a Gateway and b answers. */
  async start(want: (r: ReturnType<Topology['route']>) => boolean): Promise<void> {
    for (const n of this.nodes) this.startAgent(n);
    const echoes = this.opts.worker ? [this.opts.worker] : this.bGateways;
    const echo = echoes.map((n) => this.spawnIn(n, PROBE, 'echo', '9000', n));
    await Promise.all(echo.map((p) => new Promise((r) => p.stdout!.once('data', r))));
    const deadline = Date.now() + 20_000;
    while (!want(this.route('ga', '198.18.80.0/20'))) {
      if (Date.now() > deadline)
        throw new Error(
          `ga never routed b as expected: ${JSON.stringify(this.route('ga', '198.18.80.0/20'))}\n${(this.logs.get('ga') ?? []).slice(-10).join('\n')}`,
        );
      await sleep(100);
    }
    await sleep(1500); // b's return routes, once its sessions with ga are Up
  }

  private spawnIn(node: string, ...args: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', this.ns(node), process.execPath, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.others.push(p);
    return p;
  }

  /** A numbered UDP stream from ga's pod address to b's; `during` runs once it is going. */
  stream(rate: number, seconds: number, during?: () => Promise<void>): Promise<Stream> {
    return this.streams(rate, seconds, 1, during) as Promise<Stream>;
  }

  /** Several flows from one process (one source port each); resolves with one Stream per flow. */
  flows(rate: number, seconds: number, n: number, during?: () => Promise<void>): Promise<Stream[]> {
    return this.streams(rate, seconds, n, during).then((r) => (r as { flows: Stream[] }).flows);
  }

  private streams(rate: number, seconds: number, n: number, during?: () => Promise<void>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const p = this.spawnIn(
        'ga',
        PROBE,
        'send',
        POD_A,
        POD_B,
        '9000',
        String(rate),
        String(seconds),
        String(n),
      );
      createInterface({ input: p.stdout! }).on('line', (l) => {
        if (l === 'sending') void during?.().catch(reject);
        else resolve(JSON.parse(l));
      });
      p.on('exit', (code) => code && reject(new Error(`probe exited ${code}`)));
    });
  }

  /** The agent's /metrics text, fetched inside its namespace. */
  metrics(node: string): string {
    return this.inNs(
      node,
      process.execPath,
      '-e',
      "fetch('http://127.0.0.1:9765/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
    );
  }

  /** A metric's value in a /metrics text (the first sample whose name and labels match). */
  static metric(text: string, series: string): number {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? NaN : Number(line.slice(series.length + 1));
  }

  /** The Node's own tunnel-inner address (a Gateway's, on mcgw-x). */
  innerOf(node: string): string | undefined {
    const addrs = JSON.parse(this.inNs(node, 'ip', '-j', '-4', 'addr', 'show', 'dev', 'mcgw-x')) as {
      addr_info?: { local: string }[];
    }[];
    return addrs[0]?.addr_info?.[0]?.local;
  }

  /** A Gateway Node dies: its agent is killed and its links go down. */
  kill(node: string): void {
    this.agents.get(node)!.kill('SIGKILL');
    ip('-n', this.ns(node), 'link', 'set', 'eth0', 'down');
  }

  async tearDown(): Promise<void> {
    for (const p of [...this.agents.values(), ...this.others]) p.kill('SIGKILL');
    await sleep(100);
    for (const n of ['sw', ...this.nodes]) spawnSync('ip', ['netns', 'del', this.ns(n)]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export { MCGW };
