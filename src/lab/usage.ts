// What a running lab costs the machine: the memory and CPU of all its processes, for the benchmark
// report. A lab's processes are those whose arguments name its directory (control planes, relays,
// the supervisor, containerd and kubelet of each Node) plus those in cgroups named with its prefix
// (a kubelet Node's pods, mcgw's agents and controllers among them), read from /proc.
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Kernel clock ticks per second for /proc/PID/stat times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface LabUsage {
  processes: number;
  /** Sum of resident set sizes at the end of the sample. */
  rssBytes: number;
  /** CPU time used over the sample per second of it (1 = one core busy). */
  cpuCores: number;
  sampleMs: number;
}

function belongs(pid: string, dir: string, prefix: string): boolean {
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) return true;
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .some((l) => l.split(':')[2]?.startsWith(`/${prefix}`));
  } catch {
    return false; // exited
  }
}

/** utime + stime in ticks, or undefined for a process that is gone. */
function cpuTicks(pid: string): number | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

function rssBytes(pid: string): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function labPids(dir: string, prefix: string): string[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d) && belongs(d, dir, prefix));
}

/** Samples the lab's processes over `sampleMs`; CPU counts only processes alive at both ends. */
export async function labUsage(dir: string, prefix: string, sampleMs = 30_000): Promise<LabUsage> {
  const before = new Map(labPids(dir, prefix).map((p) => [p, cpuTicks(p)]));
  const began = Date.now();
  await sleep(sampleMs);
  const elapsed = Date.now() - began;
  const pids = labPids(dir, prefix);
  let ticks = 0;
  let rss = 0;
  for (const p of pids) {
    rss += rssBytes(p);
    const a = before.get(p);
    const b = cpuTicks(p);
    if (a !== undefined && b !== undefined) ticks += b - a;
  }
  return {
    processes: pids.length,
    rssBytes: rss,
    cpuCores: ticks / TICKS_PER_SECOND / (elapsed / 1000),
    sampleMs: elapsed,
  };
}
