// The cgroups a lab Node's kubelet makes under its cgroupRoot, in every hierarchy this machine mounts
// (cgroup v1 here, v2 elsewhere). Once the Node is powered off they are empty and must be removed,
// deepest first, or they stay behind for as long as the machine runs.
import { mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_FS = '/sys/fs/cgroup';

/** The directories that hold cgroups: each v1 hierarchy's mount, or the v2 root itself. */
function hierarchies(): string[] {
  try {
    const entries = readdirSync(CGROUP_FS);
    if (entries.includes('cgroup.controllers')) return [CGROUP_FS];
    return entries.map((e) => join(CGROUP_FS, e)).filter((p) => statSync(p).isDirectory());
  } catch {
    return [];
  }
}

function removeTree(dir: string): string[] {
  const left: string[] = [];
  let children: string[] = [];
  try {
    children = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dir, d.name));
  } catch {
    return left; // gone already
  }
  for (const c of children) left.push(...removeTree(c));
  try {
    rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
  }
  return left;
}

/**
 * Removes the cgroup `name` (a top-level cgroup such as "mcgwl-agw1") and everything below it, in
 * every hierarchy. Returns the cgroups that could not be removed (still holding a process).
 */
export function removeCgroups(name: string): string[] {
  return hierarchies().flatMap((h) => removeTree(join(h, name)));
}

/** The top-level cgroups whose names start with `prefix`, in any hierarchy (for `lab down`). */
export function cgroupsWithPrefix(prefix: string): string[] {
  const names = new Set<string>();
  for (const h of hierarchies()) {
    try {
      for (const d of readdirSync(h, { withFileTypes: true }))
        if (d.isDirectory() && d.name.startsWith(prefix)) names.add(d.name);
    } catch {
      // a hierarchy we cannot read holds nothing of ours
    }
  }
  return [...names];
}

/**
 * Creates the cgroup `name` in every hierarchy: kubelet refuses a cgroupRoot that is missing in any
 * of them. A new v1 cpuset starts with no CPUs and no memory nodes, where no task may run, so it
 * gets its parent's. `cpuShares` (v1 cpu.shares; cpu.weight on v2, converted as systemd and runc
 * do) sets the whole Node's CPU weight against the machine's other processes.
 */
export function createCgroups(name: string, cpuShares?: number): void {
  for (const h of hierarchies()) {
    const dir = join(h, name);
    mkdirSync(dir, { recursive: true });
    if (cpuShares !== undefined) {
      const v2 = h === CGROUP_FS;
      const [file, value] = v2
        ? ['cpu.weight', Math.round(1 + ((cpuShares - 2) * 9999) / 262142)]
        : ['cpu.shares', cpuShares];
      try {
        writeFileSync(join(dir, file), String(value));
      } catch {
        // not the cpu hierarchy
      }
    }
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      try {
        if (readFileSync(join(dir, f), 'utf8').trim() === '')
          writeFileSync(join(dir, f), readFileSync(join(h, f)));
      } catch {
        // not a cpuset hierarchy
      }
    }
  }
}
