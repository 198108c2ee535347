// The lab's long-running processes (controllers, agents, relays, traffic endpoints): each one named,
// logging to its own file, restartable with the same arguments, and findable by their arguments so
// `mcgw lab down` can stop them even after the lab process itself crashed (see killLabProcesses).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcSpec {
  name: string;
  cmd: string;
  args: string[];
  /** Network namespace to run in (through `ip netns exec`, which execs: the pid is the command's). */
  netns?: string;
  env?: Record<string, string>;
  /** Resolve start() once a stdout line matches this (e.g. "ready"); else at once. */
  readyLine?: RegExp;
  /** Keep stdin open as a pipe (for processes driven by commands). */
  stdin?: boolean;
  /** Start it again a second after it exits unasked, as a kubelet restarts a crashed container. */
  restartOnExit?: boolean;
}

export class LabProcessError extends Error {
  override name = 'LabProcessError';
}

export class LabProcess {
  child: ChildProcess | undefined;
  /** Exits nobody asked for (crashes), counted over the process's life. */
  crashes = 0;
  private stopping = false;
  private lineListeners: ((line: string) => void)[] = [];

  constructor(
    /** Arguments may be replaced before a restart (e.g. to switch a mode). */
    readonly spec: ProcSpec,
    private readonly dir: string,
  ) {}

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    const c = this.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  get logPath(): string {
    return join(this.dir, `${this.spec.name}.log`);
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) return;
    const s = this.spec;
    const [cmd, args] = s.netns ? ['ip', ['netns', 'exec', s.netns, s.cmd, ...s.args]] : [s.cmd, s.args];
    const log = openSync(this.logPath, 'a');
    const child = spawn(cmd, args, {
      stdio: [s.stdin ? 'pipe' : 'ignore', 'pipe', log],
      env: { ...process.env, ...s.env },
    });
    closeSync(log);
    this.child = child;
    this.stopping = false;
    child.once('exit', () => {
      if (this.stopping || this.child !== child) return;
      this.crashes++;
      if (s.restartOnExit) setTimeout(() => void this.start().catch(() => {}), 1000).unref();
    });
    createInterface({ input: child.stdout! }).on('line', (l) => {
      for (const f of this.lineListeners) f(l);
    });
    if (!s.readyLine) return;
    const re = s.readyLine;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new LabProcessError(`${s.name} not ready after ${timeoutMs} ms; see ${this.logPath}`));
      }, timeoutMs);
      const onExit = (code: number | null) => {
        done();
        reject(new LabProcessError(`${s.name} exited (${code}) before it was ready; see ${this.logPath}`));
      };
      const onLine = (l: string) => {
        if (!re.test(l)) return;
        done();
        resolve();
      };
      const done = () => {
        clearTimeout(timer);
        child.off('exit', onExit);
        this.offLine(onLine);
      };
      child.once('exit', onExit);
      this.onLine(onLine);
    });
  }

  onLine(f: (line: string) => void): void {
    this.lineListeners.push(f);
  }

  offLine(f: (line: string) => void): void {
    this.lineListeners = this.lineListeners.filter((x) => x !== f);
  }

  /** Sends a signal and waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    this.stopping = true;
    c.kill(signal);
    const t = await Promise.race([exited.then(() => 'exited'), sleep(graceMs).then(() => 'timeout')]);
    if (t === 'timeout') {
      c.kill('SIGKILL');
      await exited;
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** All processes of one lab, with the pid manifest kept current. */
export class ProcessSet {
  readonly procs = new Map<string, LabProcess>();

  constructor(private readonly dir: string) {
    // Whoever owns the set going away takes its processes along (a crash is `mcgw lab down`'s job).
    process.once('exit', () => {
      for (const p of this.procs.values()) if (p.running) p.child!.kill('SIGKILL');
    });
  }

  add(spec: ProcSpec): LabProcess {
    if (this.procs.has(spec.name)) throw new LabProcessError(`duplicate lab process ${spec.name}`);
    const p = new LabProcess(spec, this.dir);
    this.procs.set(spec.name, p);
    return p;
  }

  get(name: string): LabProcess {
    const p = this.procs.get(name);
    if (!p) throw new LabProcessError(`no lab process named ${name}`);
    return p;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.procs.values()].map((p) => p.stop('SIGTERM', 3_000)));
  }
}

/**
 * Kills every process a crashed lab left running: anything whose command line names the lab's
 * directory (controllers, agents, relays, etcd and kube-apiserver all get paths inside it).
 */
export function killLabProcesses(dir: string): number {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmdline.some((a) => a === dir || a.startsWith(`${dir}/`))) continue;
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return n;
}
