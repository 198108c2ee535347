// A kubelet Node of the lab: a network namespace the lab made, plus its own mount and PID namespaces
// in which containerd (with runc and the Debian CNI plugins) and a real kubelet run. Nothing is shared
// with other Nodes: each has its own containerd socket and state, kubelet root, CNI leases, pod
// network namespaces and cgroup parent. Power-off kills the Node's PID namespace, which takes every
// process of the Node with it, pods included.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exited, isRunning, killNowSync, spawnLogged, tail } from '../childproc.ts';
import { type BuiltImage, importImages } from '../images.ts';
import { createCgroups, removeCgroups } from './cgroups.ts';
import {
  cniTemplate,
  containerdConfig,
  containerdSocket,
  initScript,
  type KubeNodeFiles,
  kubeletConfig,
  kubeletKubeconfig,
  kubeProxyConfig,
  kubeProxyKubeconfig,
} from './config.ts';

/** The pids whose parent is `ppid` (this kernel has no /proc/PID/task/TID/children). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = stat(Number(d));
    if (st?.ppid === ppid) out.push(Number(d));
  }
  return out;
}

/** State and parent pid from /proc/PID/stat, or undefined for a pid that is gone. */
function stat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** A pid that still runs (a zombie has finished: it only waits to be reaped). */
const alive = (pid: number): boolean => {
  const st = stat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
};

export class KubeNodeError extends Error {
  override name = 'KubeNodeError';
}

/** What the Node's apiserver says of it; see KubeNode.waitRegistered. */
export interface NodeReadiness {
  registered: boolean;
  ready: boolean;
  podCIDR?: string;
}

export class KubeNode {
  private init: ChildProcess | undefined;

  constructor(
    readonly files: KubeNodeFiles,
    /** The network namespace (under /run/netns) the Node lives in. */
    readonly netns: string,
  ) {}

  get name(): string {
    return this.files.name;
  }

  get running(): boolean {
    return isRunning(this.init);
  }

  /** The Node's top-level cgroup (kubelet's cgroupRoot without its slash). */
  get cgroupName(): string {
    return this.files.cgroupRoot.replace(/^\//, '');
  }

  get logDir(): string {
    return this.files.dir;
  }

  /** Writes the Node's files and starts its init; resolves once containerd answers. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) return;
    const f = this.files;
    await mkdir(f.dir, { recursive: true, mode: 0o700 });
    await Promise.all([
      writeFile(join(f.dir, 'containerd.toml'), containerdConfig(f)),
      writeFile(join(f.dir, 'cni.template'), cniTemplate()),
      writeFile(join(f.dir, 'kubelet.yaml'), kubeletConfig(f)),
      writeFile(join(f.dir, 'kubelet.kubeconfig'), kubeletKubeconfig(f), { mode: 0o600 }),
      writeFile(join(f.dir, 'init.sh'), initScript(f), { mode: 0o700 }),
      ...(f.kubeProxy
        ? [
            writeFile(join(f.dir, 'kube-proxy.yaml'), kubeProxyConfig(f)!),
            writeFile(join(f.dir, 'kube-proxy.kubeconfig'), kubeProxyKubeconfig(f)!, { mode: 0o600 }),
          ]
        : []),
    ]);
    createCgroups(this.cgroupName, f.cpuShares);
    // nsenter, not `ip netns exec`: that one remounts /sys, and kubelet then finds no cgroup mounts.
    // unshare --kill-child: if unshare dies (we are killed), the Node's PID 1 and so the Node die too.
    this.init = spawnLogged(
      'nsenter',
      [
        `--net=/run/netns/${this.netns}`,
        '--',
        'unshare',
        '--mount',
        '--propagation=private',
        '--pid',
        '--fork',
        '--kill-child',
        '--mount-proc',
        '--',
        'bash',
        join(f.dir, 'init.sh'),
      ],
      join(f.dir, 'init.log'),
    );
    const deadline = Date.now() + timeoutMs;
    while (!(await this.containerdAnswers())) {
      if (!this.running) throw await this.failure('its init exited', 'init.log');
      if (Date.now() > deadline)
        throw await this.failure(`containerd did not answer in ${timeoutMs} ms`, 'containerd.log');
      await sleep(200);
    }
  }

  private containerdAnswers(): Promise<boolean> {
    if (!existsSync(containerdSocket(this.files))) return Promise.resolve(false);
    return new Promise((resolve) => {
      const c = spawn('ctr', ['--address', containerdSocket(this.files), 'version'], { stdio: 'ignore' });
      c.on('error', () => resolve(false));
      c.on('exit', (code) => resolve(code === 0));
    });
  }

  /**
   * Imports images into the Node's containerd, in the namespace kubelet's pods use. Pods then find
   * them without pulling (imagePullPolicy IfNotPresent or Never).
   */
  importImages(images: readonly BuiltImage[]): Promise<void> {
    return importImages(images, { node: this.name, address: containerdSocket(this.files) });
  }

  /** Kills every process of the Node at once (PID 1 of its PID namespace), as pulling its power. */
  async powerOff(): Promise<void> {
    const init = this.init;
    if (!isRunning(init)) return;
    // unshare's child is the Node's PID 1. It dies of unshare's death signal, after unshare has
    // exited, and only once the kernel has killed every other process of its PID namespace: until it
    // is gone, the Node is not.
    const pid1 = childrenOf(init.pid!);
    const done = exited(init);
    killNowSync(init);
    await done;
    for (let i = 0; i < 100 && pid1.some(alive); i++) await sleep(50);
    const left = pid1.filter(alive);
    if (left.length > 0)
      throw new KubeNodeError(`Node ${this.name}: its init (pid ${left.join(', ')}) outlived its power-off`);
    // The kernel kills the PID namespace's other processes as its PID 1 dies; give it a moment
    // before the cgroups, which must be empty to go, are removed.
    for (let i = 0; i < 50 && removeCgroups(this.cgroupName).length > 0; i++) await sleep(100);
  }

  /** Powers off and removes the Node's cgroups; its files stay (logs). */
  async remove(): Promise<void> {
    await this.powerOff();
    const left = removeCgroups(this.cgroupName);
    if (left.length > 0)
      throw new KubeNodeError(`Node ${this.name}: cgroups still in use: ${left.join(', ')}`);
  }

  async failure(what: string, log: 'init.log' | 'containerd.log' | 'kubelet.log'): Promise<KubeNodeError> {
    const path = join(this.files.dir, log);
    return new KubeNodeError(
      `Node ${this.name}: ${what}\n--- last lines of ${path} ---\n${await tail(path, 30)}`,
    );
  }
}
