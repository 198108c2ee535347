// The lab's traffic endpoints are its measuring instrument, and they run at a real-time priority.
// On a shared 2-core machine a normal process waits 15-60 ms for a CPU every few seconds (seen here:
// 12-17 such waits a minute per sender in the lab on kubelet Nodes, at the same instants in both
// senders, while a SCHED_FIFO probe beside them saw none over 60 s). A sender that waits is not a
// network that loses packets: such trials were flagged invalid (validity.ts), 7 of 10 in one run.
// mcgw's own processes get no such help; only the instrument does.
//
// With RT group scheduling (cgroup v1, CONFIG_RT_GROUP_SCHED, as here) a task may run SCHED_FIFO
// only if its cgroup and every ancestor have a real-time budget (cpu.rt_runtime_us); new cgroups
// have none. The budget also caps the task: past it the kernel throttles it until the next period.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LabError } from './testbed.ts';

const CPU_HIERARCHY = '/sys/fs/cgroup/cpu';
/** The instrument's SCHED_FIFO priority: above every normal process, below the kernel's own threads. */
export const INSTRUMENT_PRIORITY = 20;
/**
 * Real-time budget per second for an instrument's cgroup chain. A sender at 1,000 packets per second
 * each way uses about 15 % of a core here; 30 % leaves room for bursts before any throttling, and
 * three members' senders fit in the root's 95 %.
 */
export const INSTRUMENT_RT_RUNTIME_US = 300_000;

/** The cgroup of `pid` in the v1 cpu hierarchy ("/a/b"), or undefined without one. */
function cpuCgroup(pid: number): string | undefined {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers?.split(',').includes('cpu')) return path;
  }
  return undefined;
}

/** Below this much budget per period an instrument would be throttled at its normal load. */
export const INSTRUMENT_RT_MIN_US = 100_000;

const readUs = (file: string): number => Number(readFileSync(file, 'utf8'));

/**
 * The budget left under `dir`'s parent for `dir`: the parent's own minus what `dir`'s siblings hold
 * (the kernel refuses a write that would make the children hold more than their parent), and the
 * siblings that hold some, for the error that names them.
 */
function roomBeside(dir: string): { room: number; holders: string[] } {
  const parent = dirname(dir);
  let room = readUs(join(parent, 'cpu.rt_runtime_us'));
  const holders: string[] = [];
  for (const e of readdirSync(parent, { withFileTypes: true })) {
    const sib = join(parent, e.name);
    if (!e.isDirectory() || sib === dir) continue;
    const us = readUs(join(sib, 'cpu.rt_runtime_us'));
    if (us > 0) holders.push(`${e.name} (${us} us)`);
    room -= us;
  }
  return { room, holders };
}

/**
 * Gives the cgroup of `pid` and each of its ancestors below the root at least `runtimeUs` of
 * real-time budget per period, parents first (a child may never hold more than its parent). Where
 * other cgroups already hold most of a parent's budget (another lab on this machine, or one left
 * over), it takes what is left if that is at least INSTRUMENT_RT_MIN_US. Returns the budget given;
 * nothing to do where RT group scheduling is off (no cpu.rt_runtime_us).
 */
export function grantRealtimeBudget(pid: number, runtimeUs: number): number {
  const path = cpuCgroup(pid);
  if (path === undefined || !existsSync(join(CPU_HIERARCHY, 'cpu.rt_runtime_us'))) return runtimeUs;
  let want = runtimeUs;
  let dir = CPU_HIERARCHY;
  for (const part of path.split('/').filter(Boolean)) {
    dir = join(dir, part);
    const file = join(dir, 'cpu.rt_runtime_us');
    const fail = (why: string) =>
      new LabError(
        `cannot give cgroup ${dir} a real-time budget of ${want} us for the traffic endpoint (pid ${pid}): ${why}`,
      );
    try {
      const have = readUs(file);
      if (have >= want) continue;
      const { room, holders } = roomBeside(dir);
      if (room < want) {
        if (room < INSTRUMENT_RT_MIN_US)
          throw fail(
            `only ${Math.max(room, 0)} us are left beside ${holders.join(', ') || 'nothing'}` +
              ' (a lab left over? `mcgw lab down --name NAME` removes it)',
          );
        want = room;
      }
      writeFileSync(file, String(want));
    } catch (err) {
      if (err instanceof LabError) throw err;
      throw fail((err as Error).message);
    }
  }
  return want;
}

/** Runs every thread of `pid` SCHED_FIFO at `priority` (chrt from util-linux; no blocking call). */
export function setFifo(pid: number, priority = INSTRUMENT_PRIORITY): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('chrt', ['--fifo', '--all-tasks', '--pid', String(priority), String(pid)], (err, _o, stderr) => {
      if (err)
        reject(new LabError(`chrt could not make pid ${pid} real-time: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

/** Both of the above: the traffic endpoint `pid` becomes a real-time task. */
export async function prioritizeInstrument(pid: number): Promise<void> {
  grantRealtimeBudget(pid, INSTRUMENT_RT_RUNTIME_US);
  await setFifo(pid);
}
