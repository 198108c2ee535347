// Long-running children of the lab and the test control planes: spawned with their output in a log
// file, stopped with SIGTERM then SIGKILL, and never outliving us. For a SIGKILLed Node process, each
// child has a watchdog `sh` that kills it once its stdin pipe from us reaches EOF, i.e. once we are gone.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export const isRunning = (child: ChildProcess | undefined): child is ChildProcess =>
  child !== undefined && child.exitCode === null && child.signalCode === null;

export function exited(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolvePromise) => child.once('exit', () => resolvePromise()));
}

export function describeExit(child: ChildProcess): string {
  return child.signalCode ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
}

/** SIGTERM, then SIGKILL if the process is still there after `timeoutMs`. */
export async function terminate(child: ChildProcess | undefined, timeoutMs: number): Promise<void> {
  if (!isRunning(child)) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const ac = new AbortController();
  const timedOut = await Promise.race([
    done.then(() => false),
    sleep(timeoutMs, true, { signal: ac.signal }).catch(() => false),
  ]);
  ac.abort();
  if (timedOut) {
    child.kill('SIGKILL');
    await done;
  }
}

// The apiserver logs every etcd dial its client libraries cancel on purpose; that noise would crowd
// the lines that explain a failure out of the tail.
const LOG_NOISE = /addrConn\.createTransport failed/;

/** The last `lines` lines of a log file (reads at most the last 64 KiB), without known noise. */
export async function tail(path: string, lines = 40): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      const text = buf.toString('utf8').trimEnd().split('\n');
      return text
        .filter((l) => !LOG_NOISE.test(l))
        .slice(-lines)
        .join('\n');
    } finally {
      await fh.close();
    }
  } catch (err) {
    return `(could not read ${path}: ${(err as Error).message})`;
  }
}

function spawnWatchdog(pid: number): ChildProcess {
  const watchdog = spawn(
    'sh',
    ['-c', 'read -r _line; kill -KILL "$1" 2>/dev/null', 'mcgw-watchdog', String(pid)],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  // Neither the watchdog nor its pipe may keep our event loop alive.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  watchdog.on('error', () => {}); // best effort: without sh we still have the exit handlers
  return watchdog;
}

const watchdogs = new WeakMap<ChildProcess, ChildProcess>();

/**
 * Spawns `bin` with stdout and stderr appended to `logPath`, and a watchdog that kills it once this
 * process is gone (even SIGKILLed).
 */
export function spawnLogged(bin: string, args: string[], logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`could not start ${bin}`);
  child.on('error', () => {}); // reported through exit codes and logs instead
  const watchdog = spawnWatchdog(child.pid);
  watchdogs.set(child, watchdog);
  child.once('exit', () => {
    if (isRunning(watchdog)) watchdog.kill('SIGKILL');
  });
  return child;
}

/** SIGKILLs a child and its watchdog without waiting; for exit handlers, which cannot wait. */
export function killNowSync(child: ChildProcess): void {
  if (!isRunning(child)) return;
  child.kill('SIGKILL');
  // Its watchdog would otherwise kill the pid again after we are gone, when it may be reused.
  const watchdog = watchdogs.get(child);
  if (isRunning(watchdog)) watchdog.kill('SIGKILL');
}
