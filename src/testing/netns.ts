// Network namespaces and veth pairs for tests and benchmarks that need real sockets, TTLs and
// packet filters without touching the host: every namespace, link and address is created here,
// addresses come only from 198.18.0.0/15 (RFC 2544 benchmarking space), and the root namespace is
// never given an address, a route or a rule. Everything is removed again: on cleanup(), from the
// test's after hook, at process exit, on SIGINT/SIGTERM, and (for runs that were SIGKILLed) by a
// sweep of namespaces whose creating process is gone.
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cidrsOverlap, parseCIDR, parseIP } from '../util/ip.ts';

/** The only addresses a lab may use: RFC 2544's benchmarking block, never routed on the internet. */
export const LAB_CIDR = '198.18.0.0/15';
export const NETNS_PREFIX = 'mcgwt-';
/** `mcgwt-<pid base 36>-<6 hex>-<label>`: what NetLab names; other users of the prefix differ. */
const LAB_NAME = /^mcgwt-([0-9a-z]+)-[0-9a-f]{6}-[a-z0-9]+$/;

/** Repository root, so children can resolve `tsx` and the sources whatever the cwd. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The part of node:test's TestContext (or a suite) that registers cleanup. */
export interface AfterHook {
  after(fn: () => Promise<void> | void): unknown;
}

export class NetnsError extends Error {
  override readonly name = 'NetnsError';
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; rejects with its stderr on a non-zero exit. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      cmd,
      [...args],
      { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new NetnsError(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
        else resolvePromise({ stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

function checkLabAddress(cidr: string): void {
  const c = parseCIDR(cidr);
  if (!c || c.family !== 4 || c.prefix < 15 || !cidrsOverlap(c, LAB_CIDR)) {
    throw new NetnsError(`lab addresses must be IPv4 CIDRs inside ${LAB_CIDR}, got "${cidr}"`);
  }
}

function checkLabHost(address: string): void {
  if (parseIP(address)?.family !== 4) throw new NetnsError(`not an IPv4 address: "${address}"`);
  checkLabAddress(`${address}/32`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((res) => {
    const timer = setTimeout(() => res(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      res(true);
    });
  });
}

/** One network namespace of a lab. */
export class Netns {
  constructor(
    readonly lab: NetLab,
    readonly name: string,
  ) {}

  /** Runs `cmd` inside the namespace to completion. */
  exec(cmd: string, args: readonly string[] = [], input?: string): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], input);
  }

  /**
   * Starts `cmd` inside the namespace. `ip netns exec` execs the command, so the child's pid is the
   * command's own. The lab stops it on cleanup.
   */
  spawn(cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { cwd: REPO_ROOT, ...options });
    this.lab.track(child);
    return child;
  }

  /** Starts a Node process with tsx inside the namespace: `args` are node arguments after tsx. */
  spawnNode(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return this.spawn(process.execPath, ['--import', 'tsx', ...args], options);
  }

  /** `ip -n <ns> ...` */
  ip(args: readonly string[]): Promise<ExecResult> {
    return run('ip', ['-n', this.name, ...args]);
  }

  /** Adds many addresses at once (one `ip -batch`), e.g. hundreds of peers for a benchmark. */
  async addAddresses(dev: string, cidrs: readonly string[]): Promise<void> {
    cidrs.forEach(checkLabAddress);
    if (cidrs.length === 0) return;
    await run(
      'ip',
      ['-n', this.name, '-batch', '-'],
      cidrs.map((c) => `addr add ${c} dev ${dev}\n`).join(''),
    );
  }

  /** A route inside this namespace only; both ends must be lab addresses. */
  async addRoute(destination: string, via: string): Promise<void> {
    checkLabAddress(destination);
    checkLabHost(via);
    await this.ip(['route', 'add', destination, 'via', via]);
  }

  /** Lets this namespace route between its links (for multihop topologies). */
  async enableForwarding(): Promise<void> {
    await this.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  }

  /** Loads an nftables script into this namespace's ruleset. */
  async nft(script: string): Promise<void> {
    await this.exec('nft', ['-f', '-'], script);
  }

  /** Pids of every process whose network namespace is this one. */
  async pids(): Promise<number[]> {
    const { stdout } = await run('ip', ['netns', 'pids', this.name]);
    return stdout.split(/\s+/).filter(Boolean).map(Number);
  }
}

export interface VethPair {
  readonly a: { readonly ns: Netns; readonly dev: string; readonly address: string };
  readonly b: { readonly ns: Netns; readonly dev: string; readonly address: string };
}

const liveLabs = new Set<NetLab>();
let hooksInstalled = false;

function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const lab of liveLabs) lab.cleanupSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      for (const lab of liveLabs) lab.cleanupSync();
      process.off(signal, handler);
      // Die of the same signal, as if no handler had been there.
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

/**
 * Namespaces whose name says they were made by a process that no longer runs (a SIGKILLed test);
 * kills what still runs inside and deletes them. Only names of this helper's pattern are touched.
 */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  const removed: string[] = [];
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = LAB_NAME.exec(name);
    if (!m) continue;
    const pid = parseInt(m[1]!, 36);
    if (pid === process.pid || alive(pid)) continue;
    removeNamespaceSync(name);
    removed.push(name);
  }
  return removed;
}

/** Kills what runs inside a namespace, then deletes it; quiet when it is already gone. */
export function removeNamespaceSync(name: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 5_000 })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  } catch {
    // no such namespace
  }
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 5_000 });
  } catch {
    // already gone
  }
}

/**
 * A set of namespaces and links for one test (or benchmark). Names are `mcgwt-<pid>-<random>-<label>`,
 * unique per run and recognisable by sweepStaleNamespaces().
 */
export class NetLab {
  readonly id: string;
  private readonly namespaces: Netns[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly cleanups: Array<{ run: () => Promise<void> | void; sync?: () => void }> = [];
  private vethCount = 0;
  private done = false;

  private constructor() {
    this.id = `${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;
  }

  /** Creates a lab; with `hooks` (a TestContext or suite), cleanup runs in its after hook. */
  static async create(hooks?: AfterHook): Promise<NetLab> {
    if (process.getuid?.() !== 0) throw new NetnsError('network namespaces need root');
    const lab = new NetLab();
    liveLabs.add(lab);
    installProcessHooks();
    hooks?.after(() => lab.cleanup());
    await sweepStaleNamespaces();
    return lab;
  }

  /** Whether this machine can run labs at all (root, `ip netns`); for skipping tests elsewhere. */
  static async available(): Promise<string | undefined> {
    if (process.getuid?.() !== 0) return 'needs root';
    try {
      await run('ip', ['netns', 'list']);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  get names(): readonly string[] {
    return this.namespaces.map((n) => n.name);
  }

  /** A new namespace with loopback up. */
  async namespace(label: string): Promise<Netns> {
    if (!/^[a-z0-9]{1,12}$/.test(label))
      throw new NetnsError(`namespace label must be [a-z0-9]{1,12}: ${label}`);
    const name = `${NETNS_PREFIX}${this.id}-${label}`;
    await run('ip', ['netns', 'add', name]);
    const ns = new Netns(this, name);
    this.namespaces.push(ns);
    await ns.ip(['link', 'set', 'lo', 'up']);
    return ns;
  }

  /**
   * A veth pair straight between two namespaces (created in them, never in the root namespace),
   * with an address on each end, both up.
   */
  async veth(a: Netns, aCidr: string, b: Netns, bCidr: string): Promise<VethPair> {
    checkLabAddress(aCidr);
    checkLabAddress(bCidr);
    // Interface names are at most 15 bytes; these are unique per lab and namespace.
    const base = `mv${this.id.slice(-6)}${++this.vethCount}`;
    const devA = `${base}a`;
    const devB = `${base}b`;
    await run('ip', [
      'link',
      'add',
      devA,
      'netns',
      a.name,
      'type',
      'veth',
      'peer',
      'name',
      devB,
      'netns',
      b.name,
    ]);
    await a.ip(['addr', 'add', aCidr, 'dev', devA]);
    await b.ip(['addr', 'add', bCidr, 'dev', devB]);
    await a.ip(['link', 'set', devA, 'up']);
    await b.ip(['link', 'set', devB, 'up']);
    return {
      a: { ns: a, dev: devA, address: aCidr.split('/')[0]! },
      b: { ns: b, dev: devB, address: bCidr.split('/')[0]! },
    };
  }

  /**
   * Registers extra cleanup (e.g. a daemon and its temp dir), run before namespaces are deleted.
   * `sync` is what to do instead at process exit or on a signal, where nothing can be awaited.
   */
  onCleanup(run: () => Promise<void> | void, sync?: () => void): void {
    this.cleanups.push(sync ? { run, sync } : { run });
  }

  /** @internal Children started through Netns.spawn, stopped on cleanup. */
  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** Stops every process, deletes links and namespaces. Safe to call more than once. */
  async cleanup(): Promise<void> {
    if (this.done) return;
    this.done = true;
    liveLabs.delete(this);
    for (const c of this.cleanups.splice(0).reverse()) {
      try {
        await c.run();
      } catch {
        // keep going: the namespaces must go whatever failed before
      }
    }
    const children = [...this.children];
    for (const c of children) if (!exited(c)) c.kill('SIGTERM');
    await Promise.all(
      children.map(async (c) => {
        if (!(await waitExit(c, 3_000))) c.kill('SIGKILL');
        await waitExit(c, 2_000);
      }),
    );
    for (const ns of this.namespaces) {
      // Anything else still inside (a daemon that forked, a grandchild) would keep the namespace
      // and its links alive after `ip netns del`.
      const pids = await ns.pids().catch(() => []);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      for (let i = 0; i < 20 && (await ns.pids().catch(() => [])).length > 0; i++) await sleep(50);
      await run('ip', ['netns', 'del', ns.name]).catch(() => undefined);
    }
  }

  /** Synchronous last resort for process exit and signals. */
  cleanupSync(): void {
    if (this.done) return;
    this.done = true;
    liveLabs.delete(this);
    for (const c of this.children) if (!exited(c)) c.kill('SIGKILL');
    for (const c of this.cleanups.splice(0).reverse()) {
      try {
        if (c.sync) c.sync();
        else {
          const r = c.run();
          if (r instanceof Promise) r.catch(() => undefined);
        }
      } catch {
        // keep going
      }
    }
    for (const ns of this.namespaces) removeNamespaceSync(ns.name);
  }
}

/** Names of namespaces made by this helper that exist now (for leak checks). */
export async function listLabNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => LAB_NAME.test(n));
}

/**
 * Collects the lines of a child's stream, parsing JSON lines, so tests can wait for output.
 * Lines that are not JSON are kept as strings.
 */
export class LineCollector {
  readonly lines: unknown[] = [];
  private waiters: Array<() => void> = [];
  private ended = false;

  constructor(stream: Readable | null | undefined) {
    if (!stream) {
      this.ended = true;
      return;
    }
    const rl = createInterface({ input: stream });
    rl.on('line', (line) => {
      let value: unknown = line;
      try {
        value = JSON.parse(line);
      } catch {
        // plain text
      }
      this.lines.push(value);
      this.wake();
    });
    rl.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Resolves with the first line (from index `from` on) that matches; rejects after `timeoutMs`. */
  async waitFor<T = unknown>(
    match: (line: unknown) => boolean,
    timeoutMs: number,
    from = 0,
    what = 'a matching line',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) if (match(this.lines[i])) return this.lines[i] as T;
      from = this.lines.length;
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) {
        throw new NetnsError(
          `timed out after ${timeoutMs} ms waiting for ${what}; last lines:\n${this.lines
            .slice(-15)
            .map((l) => (typeof l === 'string' ? l : JSON.stringify(l)))
            .join('\n')}`,
        );
      }
      await new Promise<void>((res) => {
        const timer = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          res();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
