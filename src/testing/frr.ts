// FRR's bfdd as an interop peer inside a lab namespace: its own temp dir for the config, pid file,
// vty and control sockets and log, configured through its config file at start and vtysh after.
// bfdd runs without zebra: peers with an explicit local address need no interface information.
// Note that FRR 8.4's bfdd implements no BFD authentication: vtysh offers no auth command, it sends
// unsigned packets, and it ignores the A bit and auth section of received ones (no verification;
// the binary has no auth code at all; later releases drop authenticated packets instead).
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './netns.ts';
import type { Netns } from './netns.ts';

export const BFDD_PATH = '/usr/lib/frr/bfdd';
export const VTYSH_PATH = 'vtysh';

export interface FrrPeer {
  readonly peer: string;
  /** FRR keys peers by (peer, local address, multihop); multihop requires a local address. */
  readonly local: string;
  readonly multihop?: boolean;
  readonly txMs?: number;
  readonly rxMs?: number;
  readonly mult?: number;
  /** Multihop only: FRR drops packets below this TTL (its default is 254). */
  readonly minTtl?: number;
  readonly passive?: boolean;
  readonly shutdown?: boolean;
}

/** One entry of `show bfd peers json` (the fields the tests use). */
export interface FrrPeerStatus {
  readonly multihop: boolean;
  readonly peer: string;
  readonly local?: string;
  readonly id: number;
  readonly 'remote-id': number;
  readonly status: 'up' | 'down' | 'init' | 'shutdown' | string;
  readonly diagnostic: string;
  readonly 'remote-diagnostic': string;
  readonly 'receive-interval': number;
  readonly 'transmit-interval': number;
  readonly 'detect-multiplier': number;
  readonly 'remote-receive-interval': number;
  readonly 'remote-transmit-interval': number;
  readonly 'remote-detect-multiplier': number;
}

export interface FrrBfddOptions {
  readonly ns: Netns;
  readonly peers?: readonly FrrPeer[];
  /** Pin bfdd to this CPU (taskset), e.g. to keep it off the core under test. */
  readonly cpu?: number;
  /** Run bfdd at this nice level (negative: ahead of other work), e.g. for benchmarks. */
  readonly nice?: number;
  /** Log packet-level debugging to the log file. */
  readonly debug?: boolean;
  /** Keep the temp dir after stop(), for debugging. Default: MCGW_KEEP_FRR=1. */
  readonly keep?: boolean;
  readonly startTimeoutMs?: number;
}

export class FrrError extends Error {
  override readonly name = 'FrrError';
}

function peerHeader(p: Pick<FrrPeer, 'peer' | 'local' | 'multihop'>): string {
  return `peer ${p.peer}${p.multihop ? ' multihop' : ''} local-address ${p.local}`;
}

function peerBody(p: FrrPeer): string[] {
  const lines: string[] = [];
  if (p.mult !== undefined) lines.push(`detect-multiplier ${p.mult}`);
  if (p.rxMs !== undefined) lines.push(`receive-interval ${p.rxMs}`);
  if (p.txMs !== undefined) lines.push(`transmit-interval ${p.txMs}`);
  if (p.minTtl !== undefined) lines.push(`minimum-ttl ${p.minTtl}`);
  if (p.passive) lines.push('passive-mode');
  if (p.shutdown !== undefined) lines.push(p.shutdown ? 'shutdown' : 'no shutdown');
  return lines;
}

function frrIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Temp dirs not yet removed, removed at exit if a test dies first. */
const liveDirs = new Set<string>();
let exitHook = false;

export class FrrBfdd {
  private stopped = false;

  private constructor(
    readonly ns: Netns,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly keep: boolean,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get logFile(): string {
    return join(this.dir, 'bfdd.log');
  }

  static async start(options: FrrBfddOptions): Promise<FrrBfdd> {
    if (!existsSync(BFDD_PATH)) throw new FrrError(`${BFDD_PATH} not found (apt-get install frr)`);
    const dir = await mkdtemp(join(tmpdir(), 'mcgwt-frr-'));
    liveDirs.add(dir);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
      });
    }
    // bfdd drops to user frr and creates its sockets and pid file in here.
    const { uid, gid } = frrIds();
    await chown(dir, uid, gid);
    const conf = [
      ...(options.debug ? ['debug bfd network', 'debug bfd peer', '!'] : []),
      'bfd',
      ...(options.peers ?? []).flatMap((p) => [
        ` ${peerHeader(p)}`,
        ...peerBody(p).map((l) => `  ${l}`),
        ' !',
      ]),
      '!',
      '',
    ].join('\n');
    await writeFile(join(dir, 'bfdd.conf'), conf);
    const out = openSync(join(dir, 'stdout.log'), 'a');
    const args = [
      ...(options.nice !== undefined ? ['nice', '-n', String(options.nice)] : []),
      ...(options.cpu !== undefined ? ['taskset', '-c', String(options.cpu)] : []),
      BFDD_PATH,
      '-f',
      join(dir, 'bfdd.conf'),
      '-i',
      join(dir, 'bfdd.pid'),
      '--vty_socket',
      dir,
      '--bfdctl',
      join(dir, 'bfdd.sock'),
      // No zebra runs; a private path keeps bfdd from talking to a host zebra, should one exist.
      '-z',
      join(dir, 'zserv.api'),
      '-A',
      '127.0.0.1',
      '-P',
      '0',
      '--log',
      `file:${join(dir, 'bfdd.log')}`,
      '--log-level',
      options.debug ? 'debug' : 'informational',
    ];
    const [cmd, ...rest] = args;
    const child = options.ns.spawn(cmd!, rest, { stdio: ['ignore', out, out] });
    closeSync(out);
    const frr = new FrrBfdd(options.ns, dir, child, options.keep ?? process.env.MCGW_KEEP_FRR === '1');
    options.ns.lab.onCleanup(
      () => frr.stop(),
      () => frr.stopSync(),
    );
    try {
      await frr.waitReady(options.startTimeoutMs ?? 10_000);
    } catch (err) {
      await frr.stop();
      throw err;
    }
    return frr;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new FrrError(`bfdd exited during startup: ${await this.tail()}`);
      }
      if (existsSync(join(this.dir, 'bfdd.vty'))) {
        try {
          await this.vtysh(['show bfd peers brief']);
          return;
        } catch (err) {
          last = err;
        }
      }
      await sleep(50);
    }
    throw new FrrError(`bfdd not ready after ${timeoutMs} ms: ${String(last)} ${await this.tail()}`);
  }

  private async tail(): Promise<string> {
    const read = (f: string) => readFile(join(this.dir, f), 'utf8').catch(() => '');
    const text = `${await read('stdout.log')}\n${await read('bfdd.log')}`;
    return text.split('\n').slice(-20).join('\n');
  }

  /** Runs vtysh commands against this bfdd only; rejects if one of them fails. */
  async vtysh(commands: readonly string[]): Promise<string> {
    const args = ['--vty_socket', this.dir, '-d', 'bfdd', ...commands.flatMap((c) => ['-c', c])];
    const { stdout, stderr } = await run(VTYSH_PATH, args);
    // vtysh reports a rejected command as a line starting with '%' and may still exit 0.
    const bad = `${stdout}\n${stderr}`.split('\n').find((l) => l.trimStart().startsWith('%'));
    if (bad) throw new FrrError(`vtysh ${commands.join(' | ')}: ${bad.trim()}`);
    return stdout;
  }

  /** Applies configuration lines inside `bfd` (e.g. a peer block). */
  async configure(lines: readonly string[]): Promise<void> {
    await this.vtysh(['configure terminal', 'bfd', ...lines]);
  }

  /** Creates or changes a peer; only the settings given change. */
  async setPeer(peer: FrrPeer): Promise<void> {
    await this.configure([peerHeader(peer), ...peerBody(peer)]);
  }

  async removePeer(peer: Pick<FrrPeer, 'peer' | 'local' | 'multihop'>): Promise<void> {
    await this.configure([`no ${peerHeader(peer)}`]);
  }

  /** `shutdown` under the peer: FRR sends AdminDown (RFC 5880 6.8.16); `false` undoes it. */
  async shutdownPeer(peer: Pick<FrrPeer, 'peer' | 'local' | 'multihop'>, down = true): Promise<void> {
    await this.configure([peerHeader(peer), down ? 'shutdown' : 'no shutdown']);
  }

  async peers(): Promise<FrrPeerStatus[]> {
    const out = await this.vtysh(['show bfd peers json']);
    return JSON.parse(out) as FrrPeerStatus[];
  }

  async peer(p: Pick<FrrPeer, 'peer' | 'local' | 'multihop'>): Promise<FrrPeerStatus | undefined> {
    return (await this.peers()).find(
      (s) => s.peer === p.peer && (s.local ?? p.local) === p.local && s.multihop === (p.multihop ?? false),
    );
  }

  /** Polls `show bfd peers json` until `match` holds. */
  async waitFor(
    match: (peers: FrrPeerStatus[]) => boolean,
    timeoutMs: number,
    what = 'FRR peers to match',
  ): Promise<FrrPeerStatus[]> {
    const deadline = Date.now() + timeoutMs;
    let peers: FrrPeerStatus[] = [];
    while (Date.now() < deadline) {
      peers = await this.peers();
      if (match(peers)) return peers;
      await sleep(100);
    }
    throw new FrrError(`timed out waiting for ${what}: ${JSON.stringify(peers).slice(0, 2000)}`);
  }

  /** For process exit and signals: SIGKILL and remove the temp dir, nothing awaited. */
  stopSync(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.stopped = true;
    if (!this.keep) {
      rmSync(this.dir, { recursive: true, force: true });
      liveDirs.delete(this.dir);
    }
  }

  /** CPU time bfdd has used so far, in ms (utime + stime from /proc/<pid>/stat). */
  cpuTimeMs(): number {
    return procCpuTimeMs(this.pid);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((res) => child.once('exit', () => res()));
      child.kill('SIGTERM');
      const ok = await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]);
      if (!ok) {
        child.kill('SIGKILL');
        await Promise.race([exited, sleep(2_000)]);
      }
    }
    if (!this.keep) {
      rmSync(this.dir, { recursive: true, force: true });
      liveDirs.delete(this.dir);
    }
  }
}

/** utime + stime of a process in ms, from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
export function procCpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicksPerSecond();
}

let ticks: number | undefined;
function clockTicksPerSecond(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}
