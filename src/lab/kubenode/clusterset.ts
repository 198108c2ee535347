// A ClusterSet of kubelet-Node clusters installed the user's way: one whole control plane and one
// KubeCluster per member on a shared underlay, the images built here imported into every Node, and
// `helm install` of the charts. Member `a` is also the ClusterSet's leader (the charts allow a
// leader cluster to be a member), so no cluster runs without Nodes. Addresses follow the lab's plan:
// member i's API host at 198.18.(i+1).2, its Nodes at 198.18.(i+1).(10+j), pods in
// 198.18.(64+8i).0/21, Services in 198.19.(16+i).0/24.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeClients } from '../../kube/client.ts';
import { addMember, storeLeaderSecret } from '../../leader/membership.ts';
import { findBinaries } from '../binaries.ts';
import { ControlPlane } from '../controlplane.ts';
import { chartDir, helm } from '../helm.ts';
import { findImages, imageBaseName } from '../images.ts';
import { buildUnderlay } from '../underlay.ts';
import { removeNamespaceSync } from '../../testing/netns.ts';
import { KubeCluster } from './cluster.ts';

export interface KubeClusterSetOptions {
  /** Everything goes below this directory. */
  dir: string;
  /** Network namespace (and cgroup) names start with this. */
  prefix: string;
  members: number;
  /** Gateway candidates (zones z1, z2, ...) and other Nodes per member. */
  candidates: number;
  workers: number;
  /** The member chart's gatewayPolicy.spec. */
  policy: Record<string, unknown>;
  /** Extra values for the member chart (merged over the ones set here at the top level). */
  memberValues?: Record<string, unknown>;
  progress?: (msg: string) => void;
  /** Each Node's CPU weight (KubeNodeFiles.cpuShares). */
  cpuShares?: number;
}

export interface KubeMember {
  id: string;
  cp: ControlPlane;
  cluster: KubeCluster;
  apiNetns: string;
  podCIDR: string;
  serviceCIDR: string;
  /** Node name → its network namespace. */
  netns: Map<string, string>;
}

export class KubeClusterSet {
  readonly members: KubeMember[] = [];
  /** When the first `helm install` began (epoch ms), to time how long mcgw takes to be ready. */
  installStartedAt: number | undefined;
  private readonly namespaces: string[] = [];
  // What has started so far, so that a failure half way removes exactly that.
  private readonly started: { stop(): Promise<void> }[] = [];

  private constructor(readonly opts: KubeClusterSetOptions) {}

  member(id: string): KubeMember {
    const m = this.members.find((x) => x.id === id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  /** Builds it all; on failure removes what it made and rethrows. */
  static async start(opts: KubeClusterSetOptions): Promise<KubeClusterSet> {
    const set = new KubeClusterSet(opts);
    try {
      await set.build();
      return set;
    } catch (err) {
      await set.stop().catch(() => {});
      throw err;
    }
  }

  private async build(): Promise<void> {
    const o = this.opts;
    const say = (m: string) => o.progress?.(m);
    const ids = Array.from({ length: o.members }, (_, i) => String.fromCharCode(97 + i));
    const plan = ids.map((id, i) => ({
      id,
      apiNetns: `${o.prefix}${id}api`,
      api: `198.18.${i + 1}.2`,
      podCIDR: `198.18.${64 + 8 * i}.0/21`,
      serviceCIDR: `198.19.${16 + i}.0/24`,
      nodes: [
        ...Array.from({ length: o.candidates }, (_, j) => ({ name: `gw${j + 1}`, candidate: true })),
        ...Array.from({ length: o.workers }, (_, j) => ({ name: `w${j + 1}`, candidate: false })),
      ].map((n, j) => ({
        name: `${id}-${n.name}`,
        netns: `${o.prefix}${id}${n.name}`,
        ip: `198.18.${i + 1}.${10 + j}`,
        labels: {
          'topology.kubernetes.io/zone': `z${(j % Math.max(1, o.candidates)) + 1}`,
          ...(n.candidate ? { 'mcgw.io/gateway-candidate': 'true' } : {}),
        },
      })),
    }));
    const sw = `${o.prefix}sw`;
    this.namespaces.push(sw, ...plan.flatMap((p) => [p.apiNetns, ...p.nodes.map((n) => n.netns)]));
    say(`creating ${this.namespaces.length} namespaces on one underlay bridge`);
    buildUnderlay(sw, [
      ...plan.map((p) => ({ ns: p.apiNetns, port: `p-${p.id}api`, cidr: `${p.api}/20` })),
      ...plan.flatMap((p) =>
        p.nodes.map((n) => ({
          ns: n.netns,
          port: `p-${n.netns.slice(o.prefix.length)}`,
          cidr: `${n.ip}/20`,
        })),
      ),
    ]);
    const [bins, images] = await Promise.all([findBinaries(), findImages()]);
    if (!bins.kubelet || !bins.kubeProxy) throw new Error(`kubelet and kube-proxy are not in ${bins.dir}`);

    say(`starting ${plan.length} whole control planes`);
    const cps = await this.all(
      plan.map((p) =>
        ControlPlane.start({
          name: `kn-${p.id}`,
          dir: join(o.dir, `cp-${p.id}`),
          nodes: {
            clusterCIDR: p.podCIDR,
            serviceCIDR: p.serviceCIDR,
            advertiseAddress: p.api,
            egressProxySocket: join(o.dir, `egress-${p.id}.sock`),
          },
        }),
      ),
    );
    say(`starting ${plan.reduce((n, p) => n + p.nodes.length, 0)} kubelet Nodes`);
    const clusters = await this.all(
      plan.map((p, i) =>
        KubeCluster.start({
          dir: join(o.dir, `nodes-${p.id}`),
          cp: cps[i]!,
          apiNetns: p.apiNetns,
          advertiseAddress: p.api,
          serviceCIDR: p.serviceCIDR,
          egressProxySocket: join(o.dir, `egress-${p.id}.sock`),
          kubeProxy: { bin: bins.kubeProxy!, clusterCIDR: p.podCIDR },
          routeFrom: plan.filter((q) => q !== p).map((q) => ({ netns: q.apiNetns, ip: q.api })),
          nodes: p.nodes,
          kubelet: bins.kubelet!,
          sandboxImage: images.pause.ref,
          images: [images.pause, images.mcgw],
          ...(o.cpuShares ? { cpuShares: o.cpuShares } : {}),
        }),
      ),
    );
    plan.forEach((p, i) =>
      this.members.push({
        id: p.id,
        cp: cps[i]!,
        cluster: clusters[i]!,
        apiNetns: p.apiNetns,
        podCIDR: p.podCIDR,
        serviceCIDR: p.serviceCIDR,
        netns: new Map(p.nodes.map((n) => [n.name, n.netns])),
      }),
    );

    say('helm install: mcgw-leader in a, mcgw-member in every member');
    const [repository, tag] = [imageBaseName(images.mcgw.ref), images.mcgw.ref.split(/:(?=[^:]+$)/)[1]];
    const image = { repository, tag, pullPolicy: 'Never' };
    const leader = this.members[0]!;
    this.installStartedAt = Date.now();
    await this.install(leader, 'mcgw-leader', { image });
    const leaderClients = makeClients(leader.cp.kubeConfig());
    // Pods reach the leader's apiserver at its advertise address, not at the lab's loopback one.
    const leaderServer = `https://${plan[0]!.api}:${new URL(leader.cp.server).port}`;
    for (const m of this.members) {
      const creds = await addMember(leaderClients, m.id);
      await storeLeaderSecret(
        makeClients(m.cp.kubeConfig()),
        'mcgw-leader',
        creds.kubeconfig.replace(leader.cp.server, leaderServer),
      );
      await this.install(m, 'mcgw-member', {
        image,
        // storeLeaderSecret made mcgw-system (docs/install.md: the Secret first, then the chart).
        namespace: { create: false },
        clusterSetMember: {
          enabled: true,
          clusterID: m.id,
          podCIDRs: [m.podCIDR],
          serviceCIDRs: [m.serviceCIDR],
          heartbeatSeconds: 1,
        },
        gatewayPolicy: { create: true, spec: o.policy },
        ...o.memberValues,
      });
    }
  }

  /** Like Promise.all, but what did start is kept for stop() even when another one failed. */
  private async all<T extends { stop(): Promise<void> }>(starting: Promise<T>[]): Promise<T[]> {
    const settled = await Promise.allSettled(starting);
    for (const r of settled) if (r.status === 'fulfilled') this.started.push(r.value);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
  }

  private async install(m: KubeMember, chart: 'mcgw-leader' | 'mcgw-member', values: object): Promise<void> {
    const file = join(this.opts.dir, `values-${chart}-${m.id}.json`);
    await writeFile(file, JSON.stringify(values));
    await helm(['install', chart, chartDir(chart), '--kubeconfig', m.cp.kubeconfigPath, '-f', file], {
      timeoutMs: 120_000,
    });
  }

  /**
   * `helm upgrade` of a member's mcgw-member release with more values (over the ones it has), as an
   * operator changes a setting; the DaemonSet and Deployment then roll.
   */
  async upgradeMember(id: string, values: object): Promise<void> {
    const m = this.member(id);
    const file = join(this.opts.dir, `values-upgrade-${m.id}.json`);
    await writeFile(file, JSON.stringify(values));
    await helm(
      [
        'upgrade',
        'mcgw-member',
        chartDir('mcgw-member'),
        '--reuse-values',
        '--kubeconfig',
        m.cp.kubeconfigPath,
        '-f',
        file,
      ],
      { timeoutMs: 120_000 },
    );
  }

  /** Powers every Node off and stops the control planes; removes the namespaces. */
  async stop(): Promise<void> {
    const errors: unknown[] = [];
    // Clusters (their Nodes) first, then the control planes they talk to.
    const clusters = this.started.filter((x) => x instanceof KubeCluster);
    const rest = this.started.filter((x) => !(x instanceof KubeCluster));
    for (const group of [clusters, rest])
      await Promise.all(group.map((x) => x.stop().catch((e: unknown) => errors.push(e))));
    for (const ns of this.namespaces) removeNamespaceSync(ns);
    if (errors.length > 0) throw errors[0];
  }
}
