// One cluster of kubelet Nodes on the lab's underlay: the apiserver made reachable at its advertise
// address (an "API host" namespace on the underlay relays it to the apiserver's loopback port, so no
// route or link is added to the root namespace), a kubelet Node per namespace, and the routes between
// their podCIDRs once kube-controller-manager has allocated them.
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import type { V1Node } from '@kubernetes/client-node';
import { killNowSync, spawnLogged } from '../childproc.ts';
import type { ControlPlane } from '../controlplane.ts';
import { issueClientCert } from '../certs.ts';
import { relay } from '../netns-relay.mjs';
import type { KubeNodeFiles } from './config.ts';
import type { BuiltImage } from '../images.ts';
import { KubeNode, KubeNodeError } from './node.ts';
import { podRoutes } from './routes.ts';

const RELAY = fileURLToPath(new URL('../netns-relay.mjs', import.meta.url));
const CONNECT_PROXY = fileURLToPath(new URL('../connect-proxy.mjs', import.meta.url));

export interface KubeClusterNode {
  name: string;
  /** The Node's network namespace, already on the underlay with `ip` on its eth0. */
  netns: string;
  ip: string;
  labels: Record<string, string>;
}

export interface KubeClusterSpec {
  /** Directory for the relay socket and the Nodes' directories. */
  dir: string;
  cp: ControlPlane;
  /** The API host namespace, already on the underlay with the control plane's advertise address. */
  apiNetns: string;
  advertiseAddress: string;
  /** The cluster's Service range: Nodes route it to the API host, where kube-proxy's DNAT applies. */
  serviceCIDR: string;
  /**
   * Where the control plane's egress selector expects its CONNECT proxy (NodesOptions
   * .egressProxySocket); the proxy runs in the API host namespace, so it reaches the Nodes.
   */
  egressProxySocket?: string;
  nodes: readonly KubeClusterNode[];
  kubelet: string;
  sandboxImage: string;
  images: readonly BuiltImage[];
  /** kube-proxy, to serve ClusterIPs on every Node; the cluster's pod range goes with it. */
  kubeProxy?: { bin: string; clusterCIDR: string };
  /**
   * Other hosts on the underlay that must reach this cluster's pods, such as the API hosts of the
   * other clusters of a ClusterSet (a member's controller pods talk to the leader's apiserver, whose
   * answers come back through the leader's API host).
   */
  routeFrom?: readonly { netns: string; ip: string }[];
  /** Cgroup names are this prefix + the Node's namespace name: unique per lab, found by `lab down`. */
  cgroupPrefix?: string;
  cniBinDir?: string;
  /** Each Node's CPU weight (KubeNodeFiles.cpuShares). */
  cpuShares?: number;
}

/**
 * Runs `ip` without blocking: this process also carries the relays between the Nodes and their
 * apiserver, and a synchronous child would stall every request through them while it runs.
 */
function ip(args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { timeout: 30_000 }, (err, _out, stderr) => {
      if (err) reject(new KubeNodeError(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve();
    });
    // A child that exits before reading its input (a failed command) must not crash the lab.
    child.stdin?.on('error', () => {});
    if (input !== undefined) child.stdin?.end(input);
  });
}

export class KubeCluster {
  readonly nodes = new Map<string, KubeNode>();
  private apiRelay: ChildProcess | undefined;
  private egressProxy: ChildProcess | undefined;
  private rootRelay: { close(): Promise<void> } | undefined;
  private routeTimer: NodeJS.Timeout | undefined;
  private readonly core: CoreV1Api;

  private constructor(readonly spec: KubeClusterSpec) {
    this.core = spec.cp.kubeConfig().makeApiClient(CoreV1Api);
  }

  /** Starts the relay and every Node, imports the images, and waits until all Nodes are Ready. */
  static async start(spec: KubeClusterSpec, readyTimeoutMs = 180_000): Promise<KubeCluster> {
    const c = new KubeCluster(spec);
    try {
      await mkdir(spec.dir, { recursive: true, mode: 0o700 });
      await c.startRelay();
      await Promise.all(spec.nodes.map((n) => c.startNode(n)));
      c.routeTimer = setInterval(() => void c.syncRoutes().catch(() => {}), 2_000);
      await c.waitNodes(readyTimeoutMs);
      await c.syncRoutes();
      return c;
    } catch (err) {
      await c.stop();
      throw err;
    }
  }

  private get port(): number {
    return Number(new URL(this.spec.cp.server).port);
  }

  private async startRelay(): Promise<void> {
    const sock = join(this.spec.dir, `api-${this.spec.cp.name}.sock`);
    this.rootRelay = await relay([{ from: { path: sock }, to: { host: '127.0.0.1', port: this.port } }]);
    const child = spawnLogged(
      'ip',
      [
        'netns',
        'exec',
        this.spec.apiNetns,
        process.execPath,
        RELAY,
        `tcp:${this.spec.advertiseAddress}:${this.port}=unix:${sock}`,
      ],
      join(this.spec.dir, `api-relay-${this.spec.cp.name}.log`),
    );
    this.apiRelay = child;
    const proxy = this.spec.egressProxySocket;
    if (proxy) {
      this.egressProxy = spawnLogged(
        'ip',
        ['netns', 'exec', this.spec.apiNetns, process.execPath, CONNECT_PROXY, proxy],
        join(this.spec.dir, `egress-proxy-${this.spec.cp.name}.log`),
      );
    }
  }

  private proxyCert: Promise<{ cert: string; key: string }> | undefined;

  private async startNode(n: KubeClusterNode): Promise<void> {
    const { cp, kubeProxy } = this.spec;
    this.proxyCert ??= kubeProxy && issueClientCert(cp.dir, cp.certs, 'kube-proxy', 'system:kube-proxy');
    const proxy = kubeProxy && (await this.proxyCert)!;
    const cert = await issueClientCert(cp.dir, cp.certs, `node-${n.name}`, `system:node:${n.name}`, [
      'system:nodes',
    ]);
    const files: KubeNodeFiles = {
      dir: join(this.spec.dir, 'nodes', n.name),
      name: n.name,
      ip: n.ip,
      server: `https://${this.spec.advertiseAddress}:${this.port}`,
      caCert: cp.certs.caCert,
      clientCert: cert.cert,
      clientKey: cert.key,
      cgroupRoot: `/${this.spec.cgroupPrefix ?? ''}${n.netns}`,
      ...(this.spec.cpuShares ? { cpuShares: this.spec.cpuShares } : {}),
      sandboxImage: this.spec.sandboxImage,
      labels: n.labels,
      kubelet: this.spec.kubelet,
      cniBinDir: this.spec.cniBinDir ?? '/usr/lib/cni',
      ...(kubeProxy && proxy
        ? { kubeProxy: { ...kubeProxy, clientCert: proxy.cert, clientKey: proxy.key } }
        : {}),
    };
    const node = new KubeNode(files, n.netns);
    this.nodes.set(n.name, node);
    await node.start();
    // A Node's host network reaches ClusterIPs only if they are routed somewhere: before kube-proxy's
    // DNAT, the kernel must find a route. The API host stands in for the cluster's router.
    await ip(['-n', n.netns, 'route', 'replace', this.spec.serviceCIDR, 'via', this.spec.advertiseAddress]);
    await node.importImages(this.spec.images);
  }

  /**
   * Starts a powered-off Node again (its containerd keeps the images and its kubelet the pods it
   * had), with the routes its link lost when it went down.
   */
  async powerOn(name: string): Promise<void> {
    const n = this.spec.nodes.find((x) => x.name === name);
    if (!n) throw new KubeNodeError(`no kubelet Node ${name}`);
    await this.node(name).start();
    await ip(['-n', n.netns, 'route', 'replace', this.spec.serviceCIDR, 'via', this.spec.advertiseAddress]);
    await this.syncRoutes();
  }

  node(name: string): KubeNode {
    const n = this.nodes.get(name);
    if (!n) throw new KubeNodeError(`no kubelet Node ${name}`);
    return n;
  }

  async listNodes(): Promise<V1Node[]> {
    return (await this.core.listNode()).items;
  }

  private async waitNodes(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = new Map((await this.listNodes().catch(() => [])).map((n) => [n.metadata?.name, n]));
      const waiting = this.spec.nodes.filter((n) => {
        const o = seen.get(n.name);
        return !o?.spec?.podCIDR || o.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True';
      });
      if (waiting.length === 0) return;
      for (const n of waiting) {
        if (!this.node(n.name).running) throw await this.node(n.name).failure('its init exited', 'init.log');
      }
      if (Date.now() > deadline) {
        const first = waiting[0]!;
        const why = seen.has(first.name) ? 'is not Ready with a podCIDR' : 'never registered';
        throw await this.node(first.name).failure(
          `${why} after ${timeoutMs} ms (waiting for ${waiting.map((n) => n.name).join(', ')})`,
          'kubelet.log',
        );
      }
      await sleep(500);
    }
  }

  /** Programs every host's routes to the other Nodes' podCIDRs (idempotent: `ip route replace`). */
  async syncRoutes(): Promise<void> {
    const ranges = (await this.listNodes()).map((o) => ({
      name: o.metadata?.name ?? '',
      ip: o.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
      ...(o.spec?.podCIDR ? { podCIDR: o.spec.podCIDR } : {}),
    }));
    const hosts = [
      { netns: this.spec.apiNetns, ip: this.spec.advertiseAddress },
      ...(this.spec.routeFrom ?? []),
      ...this.spec.nodes.filter((n) => this.nodes.get(n.name)?.running),
    ];
    for (const h of hosts) {
      const batch = podRoutes(ranges, h.ip)
        .map((r) => `route replace ${r.dst} via ${r.via}`)
        .join('\n');
      if (batch) await ip(['-n', h.netns, '-batch', '-'], batch + '\n');
    }
  }

  /** Stops every Node (powering it off), the relays and the route loop. */
  async stop(): Promise<void> {
    if (this.routeTimer) clearInterval(this.routeTimer);
    const errors: string[] = [];
    await Promise.all(
      [...this.nodes.values()].map((n) => n.remove().catch((e: Error) => void errors.push(e.message))),
    );
    for (const c of [this.apiRelay, this.egressProxy]) if (c) killNowSync(c);
    await this.rootRelay?.close();
    if (errors.length > 0) throw new KubeNodeError(errors.join('\n'));
  }
}
