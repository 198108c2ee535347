// A throwaway containerd for tests that import and run images: its own root, state, socket and
// config in a temp dir, without the CRI plugin (nothing here is kubelet's). It runs in a mount
// namespace of its own with a tmpfs on /run, so the snapshots it mounts for containers, its shims'
// sockets and runc's state never show on the host. Containers get a top-level cgroup named after
// this instance, which runc removes with the container. stop() removes everything and returns what
// it could not, so a test can assert that nothing is left.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmdirSync,
  statSync,
} from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CtrResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CGROUP_FS = '/sys/fs/cgroup';

/** Each v1 hierarchy's directory, or the v2 root. */
function cgroupHierarchies(): string[] {
  const entries = readdirSync(CGROUP_FS);
  if (entries.includes('cgroup.controllers')) return [CGROUP_FS];
  return entries.map((e) => join(CGROUP_FS, e)).filter((p) => statSync(p).isDirectory());
}

/** The processes whose mount namespace is `ns` (a readlink of /proc/PID/ns/mnt). */
function processesInMountNs(ns: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/mnt`) === ns) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export class ScratchContainerd {
  private stopped = false;

  private constructor(
    /** The temp dir holding everything of this containerd. */
    readonly dir: string,
    /** Its gRPC socket. */
    readonly address: string,
    private readonly child: ChildProcess,
    /** Its mount namespace, to find every process started in it. */
    private readonly mountNs: string,
    /** Prefix of the cgroups of its containers. */
    readonly cgroupPrefix: string,
  ) {}

  static async start(): Promise<ScratchContainerd> {
    const dir = await mkdtemp(join(tmpdir(), 'mcgw-ctrd-'));
    const address = join(dir, 'containerd.sock');
    const config = join(dir, 'containerd.toml');
    await mkdir(join(dir, 'fifo'));
    await writeFile(
      config,
      [
        'version = 2',
        `root = ${JSON.stringify(join(dir, 'root'))}`,
        `state = ${JSON.stringify(join(dir, 'state'))}`,
        // No CRI: this containerd serves ctr only. The other snapshotters would only probe the disk.
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", ' +
          '"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", ' +
          '"io.containerd.snapshotter.v1.aufs"]',
        '[grpc]',
        `  address = ${JSON.stringify(address)}`,
        '[ttrpc]',
        `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = ${JSON.stringify(join(dir, 'opt'))}`,
        '',
      ].join('\n'),
    );
    const pidFile = join(dir, 'containerd.pid');
    const log = openSync(join(dir, 'containerd.log'), 'a');
    // The shell stays as containerd's parent and stops it when its stdin closes: on stop(), or when
    // this process dies, however it dies.
    const script =
      'mount -t tmpfs -o mode=0755 mcgw-scratch /run || exit 97\n' +
      'containerd --config "$1" & echo $! > "$2"\n' +
      'read -r _\n' +
      'kill "$(cat "$2")"; wait\n';
    const child = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', config, pidFile],
      {
        stdio: ['pipe', log, log],
      },
    );
    closeSync(log);
    const logTail = async () =>
      (await readFile(join(dir, 'containerd.log'), 'utf8').catch(() => '')).slice(-2000);
    const fail = async (why: string): Promise<never> => {
      child.stdin?.end();
      child.kill('SIGKILL');
      const tail = await logTail();
      await rm(dir, { recursive: true, force: true });
      throw new Error(`scratch containerd: ${why}\n${tail}`);
    };
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        return fail(`exited (${child.exitCode ?? child.signalCode})`);
      if (existsSync(address) && existsSync(pidFile)) {
        const r = await ctrAt(address, ['version'], 5_000);
        if (r.code === 0) break;
      }
      if (Date.now() > deadline) return fail('not serving after 30 s');
      await sleep(100);
    }
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const mountNs = readlinkSync(`/proc/${pid}/ns/mnt`);
    if (mountNs === readlinkSync('/proc/self/ns/mnt')) return fail('runs in our own mount namespace');
    return new ScratchContainerd(
      dir,
      address,
      child,
      mountNs,
      `mcgwt-ctrd-${randomBytes(3).toString('hex')}-`,
    );
  }

  /** ctr against this containerd, in the namespace kubelet uses (k8s.io). */
  ctr(args: string[], timeoutMs = 60_000): Promise<CtrResult> {
    return ctrAt(this.address, ['-n', 'k8s.io', ...args], timeoutMs);
  }

  /** `ctr run --rm` of an image; args, if any, replace its whole command line (ctr 1.6 keeps no entrypoint then). Resolves when it exits. */
  run(image: string, id: string, args: string[] = [], timeoutMs = 60_000): Promise<CtrResult> {
    return this.ctr(['run', ...this.runFlags(id), image, id, ...args], timeoutMs);
  }

  private runFlags(id: string): string[] {
    // The FIFOs for the container's stdio must be where both ctr and the shim (in the private
    // mount namespace, whose /run is its own) see them.
    return ['--rm', '--fifo-dir', join(this.dir, 'fifo'), '--cgroup', `/${this.cgroupPrefix}${id}`];
  }

  /** The cgroups of this instance's containers still present, in any hierarchy. */
  cgroupsLeft(): string[] {
    const left: string[] = [];
    for (const h of cgroupHierarchies())
      for (const e of readdirSync(h)) if (e.startsWith(this.cgroupPrefix)) left.push(join(h, e));
    return left;
  }

  /**
   * Stops every container, containerd and anything else started in its mount namespace; removes
   * the temp dir. Returns what is left: processes, mounts on the host that name the dir, cgroups.
   */
  async stop(): Promise<string[]> {
    if (this.stopped) return [];
    this.stopped = true;
    const tasks = await this.ctr(['tasks', 'ls', '-q'], 10_000);
    for (const id of tasks.stdout.split('\n').filter(Boolean)) {
      await this.ctr(['tasks', 'kill', '-s', 'SIGKILL', id], 10_000);
      await this.ctr(['tasks', 'delete', '-f', id], 10_000);
    }
    const containers = await this.ctr(['containers', 'ls', '-q'], 10_000);
    for (const id of containers.stdout.split('\n').filter(Boolean))
      await this.ctr(['containers', 'rm', id], 10_000);

    const exited = new Promise<void>((r) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) r();
      else this.child.once('exit', () => r());
    });
    this.child.stdin?.end();
    const timedOut = await Promise.race([exited.then(() => false), sleep(15_000, true)]);
    // Whatever still runs in the namespace (containerd that would not stop, a shim) was started by
    // us; once the last of them is gone, the namespace and all its mounts are gone with it.
    for (let i = 0; i < 50; i++) {
      const pids = processesInMountNs(this.mountNs);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await sleep(100);
    }
    if (timedOut) this.child.kill('SIGKILL');
    await exited;
    const left: string[] = processesInMountNs(this.mountNs).map((p) => `process ${p}`);
    for (const cg of this.cgroupsLeft()) {
      try {
        rmdirSync(cg);
      } catch {
        left.push(`cgroup ${cg}`);
      }
    }
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n'))
      if (line.includes(this.dir)) left.push(`mount ${line}`);
    if (left.length === 0) await rm(this.dir, { recursive: true, force: true });
    else left.push(`(kept ${this.dir})`);
    return left;
  }
}

function ctrAt(address: string, args: string[], timeoutMs: number): Promise<CtrResult> {
  return new Promise((resolvePromise) => {
    execFile(
      'ctr',
      ['--address', address, ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolvePromise({ code, stdout, stderr: err && !stderr ? err.message : stderr });
      },
    );
  });
}
