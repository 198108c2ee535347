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
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Gives the cgroup of `pid` and each of its ancestors below the root at least `runtimeUs` of
 * real-time budget per period, parents first (a child may never hold more than its parent).
 * Nothing to do where RT group scheduling is off (no cpu.rt_runtime_us).
 */
export function grantRealtimeBudget(pid: number, runtimeUs: number): void {
  const path = cpuCgroup(pid);
  if (path === undefined || !existsSync(join(CPU_HIERARCHY, 'cpu.rt_runtime_us'))) return;
  let dir = CPU_HIERARCHY;
  for (const part of path.split('/').filter(Boolean)) {
    dir = join(dir, part);
    const file = join(dir, 'cpu.rt_runtime_us');
    try {
      if (Number(readFileSync(file, 'utf8')) < runtimeUs) writeFileSync(file, String(runtimeUs));
    } catch (err) {
      throw new LabError(
        `cannot give cgroup ${dir} a real-time budget of ${runtimeUs} us for the traffic endpoint ` +
          `(pid ${pid}): ${(err as Error).message}`,
      );
    }
  }
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
