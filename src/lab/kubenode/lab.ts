// The lab on kubelet Nodes (`mcgw lab up --nodes real`): the same ClusterSet shape and scenarios as
// the simulated lab (lab.ts), but every member is a whole control plane with kubelet Nodes
// (KubeClusterSet), mcgw is installed with helm from the image built here, its agents run as the
// DaemonSet's pods and its controllers as Deployments, and the test traffic runs between two pods of
// a Deployment per member. Nothing of Kubernetes is simulated: a dead Node is powered off (its
// kubelet, containerd and pods die with its PID namespace) and the real kube-controller-manager marks
// it NotReady after its own grace period.
//
// The lab reaches into the Nodes only from outside, as an operator with a console would: through
// relays in the Nodes' network namespaces (an agent's /metrics, a traffic pod's control port), the
// Nodes' log directories (pod logs), and /proc (to SIGKILL an agent or a controller).
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { SYSTEM_NAMESPACE } from '../../api/group.ts';
import { makeClients } from '../../kube/client.ts';
import type { ControlPlane } from '../controlplane.ts';
import { findImages } from '../images.ts';
import type { LabConfig } from '../lab.ts';
import { sweepLab } from '../lab.ts';
import { LabError } from '../testbed.ts';
import { converged, flowRouteArgs, LabReads } from '../observe.ts';
import { lossByDirection } from '../loss.ts';
import type { DirectionLoss } from '../loss.ts';
import { planLab, TRAFFIC_PORT } from '../plan.ts';
import type { LabCluster, LabNode, LabPlan } from '../plan.ts';
import { ProcessSet } from '../procs.ts';
import { prioritizeInstrument } from '../realtime.ts';
import type { Testbed, TestbedMember, TrafficAnswer } from '../testbed.ts';
import { KubeClusterSet } from './clusterset.ts';

const RELAY = fileURLToPath(new URL('../netns-relay.mjs', import.meta.url));
/** The traffic endpoints' TCP control port (traffic.mjs --control) inside their pods. */
export const TRAFFIC_CONTROL_PORT = 9101;
const TRAFFIC_NAMESPACE = 'mcgw-lab';
const AGENT_HEALTH_PORT = 9765;
/** The progress line that gives readyAfterInstallMs (bench:lab reads it). */
export const READY_AFTER_INSTALL = 'from helm install to every Gateway Ready and exchanged:';
/**
 * kube-controller-manager's default --node-monitor-grace-period in Kubernetes 1.34: a Node whose
 * kubelet is silent this long turns NotReady (the baseline's failover starts there).
 */
export const KUBE_NODE_GRACE_MS = 50_000;

/** Runs a command without blocking this process (it carries the Nodes' apiserver relays). */
function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, out, stderr) => {
        if (err) reject(new LabError(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
        else resolve(out);
      },
    );
    // A child that exits before reading its input (a failed command) must not crash the lab.
    child.stdin?.on('error', () => {});
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** A line-protocol client of one traffic endpoint's control port (through a Unix socket relay). */
class TrafficControl {
  private sock: Socket | undefined;
  private waiting: ((line: string) => void)[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly cluster: string,
    private readonly path: string,
  ) {}

  private async open(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return this.sock;
    const s = connect({ path: this.path });
    // A reset or a write into a closed connection (the pod restarting, the relay's target not yet
    // listening) closes it; the next command opens a new one.
    s.on('error', () => s.destroy());
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('close', () => reject(new LabError(`traffic endpoint of ${this.cluster}: connection refused`)));
    });
    s.on('close', () => {
      // Whoever waits for an answer on a closed connection gets an error line.
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: 'connection closed' }));
    });
    const lines = createInterface({ input: s });
    lines.on('error', () => s.destroy());
    lines.on('line', (l) => this.waiting.shift()?.(l));
    this.sock = s;
    return s;
  }

  /** Sends one command and resolves with its JSON answer; commands go one at a time. */
  ask(line: string, timeoutMs = 5_000): Promise<Record<string, unknown>> {
    const next = this.queue.then(async () => {
      const s = await this.open();
      return new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => {
          s.destroy();
          reject(new LabError(`traffic endpoint of ${this.cluster} did not answer "${line}"`));
        }, timeoutMs);
        this.waiting.push((l) => {
          clearTimeout(timer);
          let j: Record<string, unknown>;
          try {
            j = JSON.parse(l) as Record<string, unknown>;
          } catch {
            return reject(new LabError(`traffic endpoint of ${this.cluster} answered "${l}"`));
          }
          if (typeof j.error === 'string')
            reject(new LabError(`traffic endpoint of ${this.cluster}: ${j.error}`));
          else resolve(j);
        });
        s.write(`${line}\n`);
      });
    });
    this.queue = next.catch(() => {});
    return next;
  }

  close(): void {
    this.sock?.destroy();
  }
}

interface ProcEntry {
  pid: number;
  args: string[];
}

/** Every process whose network namespace is `netns` (inode compared) and whose argv matches. */
function processesIn(netns: string | null, match: (args: string[], pid: number) => boolean): ProcEntry[] {
  const want = netns === null ? null : `net:[${statSync(`/run/netns/${netns}`).ino}]`;
  const out: ProcEntry[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (want !== null && readlinkSync(`/proc/${d}/ns/net`) !== want) continue;
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (match(args, Number(d))) out.push({ pid: Number(d), args });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const isMcgw = (args: string[], sub: string): boolean =>
  args.some((a) => a.endsWith('bin/mcgw.js')) && args.includes(sub);

export class NodeLab extends LabReads implements Testbed {
  readonly procs: ProcessSet;
  plan: LabPlan;
  set!: KubeClusterSet;
  private readonly traffic = new Map<string, TrafficControl>();
  /** Traffic pod IP → its cluster. */
  private readonly podIPs = new Map<string, string>();
  private readonly members = new Map<string, TestbedMember>();
  private crashCount = 0;
  /** From the first `helm install` until every member had its Gateways Ready and imported. */
  readyAfterInstallMs: number | undefined;
  private readonly restarts = new Map<string, number>();

  private constructor(readonly cfg: LabConfig) {
    super();
    this.plan = planLab(cfg);
    this.procs = new ProcessSet(cfg.dir);
  }

  private say(msg: string): void {
    this.cfg.progress?.(msg);
  }

  get leader(): ControlPlane {
    return this.set.members[0]!.cp;
  }

  get nodes(): LabNode[] {
    return this.plan.clusters.flatMap((c) => c.nodes);
  }

  controlPlanes(): ControlPlane[] {
    return this.set.members.map((m) => m.cp);
  }

  member(id: string): TestbedMember {
    const m = this.members.get(id);
    if (!m) throw new LabError(`no member cluster ${id}`);
    return m;
  }

  static async up(cfg: LabConfig): Promise<NodeLab> {
    const lab = new NodeLab({ ...cfg, nodeGraceMs: KUBE_NODE_GRACE_MS });
    await mkdir(cfg.dir, { recursive: true });
    try {
      await lab.build();
      return lab;
    } catch (err) {
      if (!cfg.keepOnFailure) await lab.down().catch(() => {});
      throw err;
    }
  }

  /** The agents' and controllers' chart values for mcgw or for the control-plane-only baseline. */
  private memberValues(baseline: boolean): Record<string, unknown> {
    const c = this.cfg;
    return {
      agent: {
        extraArgs: [
          `--bfd-tx-ms=${c.bfdTxMs}`,
          `--bfd-rx-ms=${c.bfdTxMs}`,
          `--bfd-mult=${c.bfdMult}`,
          ...(baseline ? ['--steer-by=gateways'] : []),
        ],
        // BFD at 50 ms is latency-critical and this machine is shared by every Node: a large CPU
        // request gives the agents' cgroups the weight that `nice -10` gives them in the simulated lab.
        resources: { requests: { cpu: '500m', memory: '128Mi' } },
      },
      controller: {
        election: { leaseMs: 2000, renewMs: 1500, retryMs: 250 },
        extraArgs: baseline ? ['--ignore-leases'] : [],
      },
    };
  }

  private async build(): Promise<void> {
    const c = this.cfg;
    const began = Date.now();
    const step = (i: number, msg: string) => this.say(`[${i}/5] ${msg}`);
    step(1, `building ${c.members} clusters of kubelet Nodes and installing mcgw with helm`);
    this.set = await KubeClusterSet.start({
      dir: c.dir,
      prefix: c.nsPrefix,
      members: c.members,
      candidates: c.candidates,
      workers: c.workers,
      policy: {
        desiredInstances: c.desired,
        mode: c.mode,
        failureDetection: { leaseDurationMs: c.leaseDurationMs, renewIntervalMs: c.renewIntervalMs },
        // Short, so trial after trial the Node broken last is a candidate again soon.
        holdDownSeconds: 5,
      },
      memberValues: this.memberValues(c.baseline),
      // Eight Nodes and two control planes share 2 cores here. At the default weight (1024, as one
      // busy process in the root cgroup), a Node with a traffic pod, an agent and a controller got
      // a small slice of the machine when it was busy: its BFD and the traffic sender stalled for
      // hundreds of ms, and trials read as invalid. A real Node has its cores to itself.
      cpuShares: 8192,
      progress: (m) => this.say(`      ${m}`),
    });
    for (const cl of this.plan.clusters) {
      const m = this.set.member(cl.id);
      this.members.set(cl.id, { cluster: cl, cp: m.cp, clients: makeClients(m.cp.kubeConfig()) });
    }

    step(2, 'starting a relay to every agent');
    await Promise.all(this.nodes.map((n) => this.agentRelay(n)));

    step(3, 'waiting for Gateways in every member and for every member to import the others');
    await this.waitFor('placement and exchange', 300_000, () => this.converged());
    this.readyAfterInstallMs = Date.now() - (this.set.installStartedAt ?? began);
    this.say(`${READY_AFTER_INSTALL} ${(this.readyAfterInstallMs / 1000).toFixed(1)} s`);

    step(4, `starting a traffic Deployment in every member (${c.rate} pps to each other member)`);
    await this.startTraffic();

    step(5, 'waiting for traffic in every direction');
    await this.waitFor('traffic in every direction', 120_000, () => this.trafficFlows());
    this.say(`built in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  }

  private ns(n: LabNode): string {
    return `${this.cfg.nsPrefix}${n.label}`;
  }

  protected agentSocket(n: LabNode): string {
    return join(this.cfg.dir, `agent-${n.name}.sock`);
  }

  private async agentRelay(n: LabNode): Promise<void> {
    await this.procs
      .add({
        name: `relay-${n.name}`,
        netns: this.ns(n),
        cmd: process.execPath,
        args: [RELAY, `unix:${this.agentSocket(n)}=tcp:${n.underlay}:${AGENT_HEALTH_PORT}`],
        readyLine: /^ready$/,
      })
      .start();
  }

  // --- traffic --------------------------------------------------------------------------------------

  private async startTraffic(): Promise<void> {
    const images = await findImages();
    await Promise.all(
      this.plan.clusters.map(async (cl) => {
        const { clients } = this.member(cl.id);
        await clients.core
          .createNamespace({ body: { metadata: { name: TRAFFIC_NAMESPACE } } })
          .catch((e: { code?: number }) => {
            if (e.code !== 409) throw e;
          });
        const labels = { app: 'mcgw-lab-traffic' };
        await clients.kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
          namespace: TRAFFIC_NAMESPACE,
          body: {
            metadata: { name: 'traffic', labels },
            spec: {
              replicas: 1,
              selector: { matchLabels: labels },
              template: {
                metadata: { labels },
                spec: {
                  nodeSelector: { 'kubernetes.io/hostname': cl.podNode.name },
                  containers: [
                    {
                      name: 'traffic',
                      image: images.mcgw.ref,
                      imagePullPolicy: 'Never',
                      command: [
                        'node',
                        'dist/lab/traffic.mjs',
                        '--control',
                        String(TRAFFIC_CONTROL_PORT),
                        '$(POD_IP)',
                        String(TRAFFIC_PORT),
                        String(this.cfg.rate),
                      ],
                      env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
                      // Without a request the pod is BestEffort, with the smallest CPU weight there
                      // is: on a busy machine its sender stalls, and the trials read as invalid.
                      resources: { requests: { cpu: '500m', memory: '64Mi' } },
                    },
                  ],
                },
              },
            },
          },
        });
      }),
    );
    const ips = new Map<string, string>();
    for (const cl of this.plan.clusters) {
      const core = this.member(cl.id).clients.kc.makeApiClient(CoreV1Api);
      await this.waitFor(`the traffic pod of ${cl.id} to run`, 180_000, async () => {
        const pods = await core.listNamespacedPod({
          namespace: TRAFFIC_NAMESPACE,
          labelSelector: 'app=mcgw-lab-traffic',
        });
        const p = pods.items.find((x) => x.status?.phase === 'Running' && x.status.podIP);
        if (p) ips.set(cl.id, p.status!.podIP!);
        return !!p;
      });
    }
    await Promise.all(this.plan.clusters.map((cl) => this.prioritizeTraffic(cl)));
    // The scenarios' plan names each member's test pod by the Node it runs on and its address.
    this.plan = {
      ...this.plan,
      clusters: this.plan.clusters.map((cl) => {
        const podIP = ips.get(cl.id)!;
        const nodes = cl.nodes.map((n) => (n === cl.podNode ? { ...n, podIP } : n));
        return { ...cl, nodes, podNode: nodes[cl.nodes.indexOf(cl.podNode)]! };
      }),
    };
    for (const cl of this.plan.clusters) {
      this.members.set(cl.id, { ...this.member(cl.id), cluster: cl });
      this.podIPs.set(cl.podNode.podIP, cl.id);
      const sock = join(this.cfg.dir, `traffic-${cl.id}.sock`);
      await this.procs
        .add({
          name: `traffic-relay-${cl.id}`,
          netns: this.ns(cl.podNode),
          cmd: process.execPath,
          args: [RELAY, `unix:${sock}=tcp:${cl.podNode.podIP}:${TRAFFIC_CONTROL_PORT}`],
          readyLine: /^ready$/,
        })
        .start();
      this.traffic.set(cl.id, new TrafficControl(cl.id, sock));
    }
    for (const cl of this.plan.clusters) {
      const peers = this.plan.clusters.filter((o) => o !== cl).map((o) => o.podNode.podIP);
      await this.waitFor(`the traffic endpoint of ${cl.id} to take its peers`, 60_000, async () => {
        await this.traffic.get(cl.id)!.ask(`peers ${peers.join(' ')}`);
        return true;
      });
    }
  }

  /**
   * The traffic pod's endpoint is the lab's measuring instrument: it runs real-time (realtime.ts), as
   * an operator would renice a probe from the Node's console. Its pod is found by its Node's cgroup.
   */
  private async prioritizeTraffic(cl: LabCluster): Promise<void> {
    const under = `/${this.ns(cl.podNode)}/`;
    const ps = processesIn(null, (args, pid) => {
      if (!args.includes('dist/lab/traffic.mjs')) return false;
      return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`:${under}`);
    });
    if (ps.length !== 1)
      throw new LabError(
        `${cl.id}: found ${ps.length} traffic endpoint processes on ${cl.podNode.name}, want 1`,
      );
    await prioritizeInstrument(ps[0]!.pid);
  }

  async trafficCommand(cmd: 'mark' | 'report', id: string): Promise<Map<string, TrafficAnswer>> {
    const out = new Map<string, TrafficAnswer>();
    await Promise.all(
      [...this.traffic].map(async ([cluster, t]) => {
        out.set(cluster, (await t.ask(`${cmd} ${id}`)) as unknown as TrafficAnswer);
      }),
    );
    return out;
  }

  async lossSince(id: string): Promise<Record<string, DirectionLoss>> {
    return lossByDirection(await this.trafficCommand('report', id), this.podIPs);
  }

  async trafficFlows(): Promise<boolean> {
    const id = `probe-${Date.now()}`;
    await this.trafficCommand('mark', id);
    await sleep(500);
    const dirs = Object.values(await this.lossSince(id));
    const n = this.plan.clusters.length;
    return dirs.length === n * (n - 1) && dirs.every((d) => d.received > 0 && d.lost === 0);
  }

  // --- Kubernetes objects ---------------------------------------------------------------------------

  private converged(): Promise<boolean> {
    return converged(this);
  }

  // --- breaking and repairing -----------------------------------------------------------------------

  async nftSwitch(script: string): Promise<void> {
    await run('ip', ['netns', 'exec', `${this.cfg.nsPrefix}sw`, 'nft', '-f', '-'], script);
  }

  /**
   * The link goes down first, then the Node's PID namespace is killed (kubelet, containerd, shims,
   * pods): forwarding and BFD stop at the same instant, as when the power goes.
   */
  async powerOff(n: LabNode): Promise<void> {
    await run('ip', ['-n', this.ns(n), 'link', 'set', 'eth0', 'down']);
    await this.set.member(n.cluster).cluster.node(n.name).powerOff();
  }

  async powerOn(n: LabNode): Promise<void> {
    await run('ip', ['-n', this.ns(n), 'link', 'set', 'eth0', 'up']);
    await this.set.member(n.cluster).cluster.powerOn(n.name);
    await this.waitFor(`the agent on ${n.name} to run again`, 120_000, () => this.agentRunning(n));
  }

  private agentProcesses(n: LabNode): ProcEntry[] {
    return processesIn(this.ns(n), (args) => isMcgw(args, 'agent'));
  }

  async killAgent(n: LabNode): Promise<void> {
    const ps = this.agentProcesses(n);
    if (ps.length === 0) throw new LabError(`no agent process runs on ${n.name}`);
    for (const p of ps) process.kill(p.pid, 'SIGKILL');
    await this.waitFor(`the agent on ${n.name} to die`, 10_000, () => this.agentProcesses(n).length === 0);
  }

  /** kubelet restarts the agent's container (after its back-off); this waits for that. */
  async agentStart(n: LabNode): Promise<void> {
    await this.waitFor(`kubelet to restart the agent on ${n.name}`, 120_000, () => this.agentRunning(n));
  }

  agentRunning(n: LabNode): boolean {
    try {
      return this.agentProcesses(n).length > 0;
    } catch {
      return false; // its namespace is gone
    }
  }

  /** The agent's log lines from the Node's pod logs (CRI format: time, stream, tag, then the line). */
  agentLog(n: LabNode): string {
    const dir = join(this.set.member(n.cluster).cluster.node(n.name).logDir, 'fs', 'var', 'log', 'pods');
    const lines: string[] = [];
    try {
      for (const pod of readdirSync(dir).filter((d) => d.startsWith(`${SYSTEM_NAMESPACE}_mcgw-agent-`)))
        for (const f of readdirSync(join(dir, pod, 'agent')).sort())
          for (const l of readFileSync(join(dir, pod, 'agent', f), 'utf8').split('\n'))
            lines.push(l.split(' ').slice(3).join(' '));
    } catch {
      // no logs yet
    }
    return lines.join('\n');
  }

  async killElectedController(clusterID: string): Promise<() => Promise<void>> {
    const { clients } = this.member(clusterID);
    const lease = await clients.coordination.readNamespacedLease({
      name: 'mcgw-controller',
      namespace: SYSTEM_NAMESPACE,
    });
    const holder = lease.spec?.holderIdentity;
    const mine = () =>
      processesIn(null, (args) => isMcgw(args, 'controller') && args.includes(`--identity=${holder}`));
    const ps = holder ? mine() : [];
    if (ps.length === 0) {
      // The controllers' identities are their pod names. One whose Node is powered off (the victim,
      // in controller-leader-killed) died with it: there is nothing left to kill, and its Node's
      // power-on brings the pod back.
      const pod = holder
        ? await clients.core
            .readNamespacedPod({ name: holder, namespace: SYSTEM_NAMESPACE })
            .catch(() => undefined)
        : undefined;
      const node = pod?.spec?.nodeName;
      if (node && !this.set.member(clusterID).cluster.node(node).running) return async () => {};
      throw new LabError(`no elected controller process found in ${clusterID} (${holder})`);
    }
    for (const p of ps) process.kill(p.pid, 'SIGKILL');
    return async () => {
      await this.waitFor(`kubelet to restart controller ${holder}`, 120_000, () => mine().length > 0);
    };
  }

  /**
   * Switches between mcgw and the control-plane-only baseline with `helm upgrade`, as an operator
   * would; waits until the DaemonSet and the controllers' Deployment have rolled.
   */
  async setBaseline(on: boolean): Promise<void> {
    if (this.cfg.baseline === on) return;
    this.cfg.baseline = on;
    for (const cl of this.plan.clusters) await this.set.upgradeMember(cl.id, this.memberValues(on));
    for (const cl of this.plan.clusters) {
      const apps = this.member(cl.id).clients.kc.makeApiClient(AppsV1Api);
      await this.waitFor(`${cl.id}: the agents and controllers to roll`, 300_000, async () => {
        const ds = await apps.readNamespacedDaemonSet({ name: 'mcgw-agent', namespace: SYSTEM_NAMESPACE });
        const d = await apps.readNamespacedDeployment({
          name: 'mcgw-controller',
          namespace: SYSTEM_NAMESPACE,
        });
        const want = ds.status?.desiredNumberScheduled ?? -1;
        return (
          (ds.status?.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 1) &&
          ds.status?.updatedNumberScheduled === want &&
          ds.status?.numberAvailable === want &&
          (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
          d.status?.updatedReplicas === d.spec?.replicas &&
          d.status?.availableReplicas === d.spec?.replicas &&
          (d.status?.replicas ?? 0) === d.spec?.replicas
        );
      });
    }
  }

  async carrier(from: LabCluster, to: LabCluster): Promise<LabNode> {
    // Right after a repair the kernel and the Gateway objects can disagree for a moment (a Node
    // powered on again still holds its old inner address until its agent has its inputs): asked
    // again for a few seconds before it counts as a failure, which then says who holds what.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = await this.carrierOnce(from, to);
      if (typeof found !== 'string') return found;
      if (Date.now() > deadline) throw new LabError(found);
      await sleep(500);
    }
  }

  private async carrierOnce(from: LabCluster, to: LabCluster): Promise<LabNode | string> {
    // The pod's packets enter its Node through the CNI bridge; the Node's routes choose the Gateway.
    const route = JSON.parse(
      await run('ip', [
        '-n',
        this.ns(from.podNode),
        ...flowRouteArgs(to.podNode.podIP, from.podNode.podIP, TRAFFIC_PORT, 'cni0'),
      ]),
    ) as { gateway?: string }[];
    const via = route[0]?.gateway;
    if (!via) return `${from.podNode.name} has no tunnel route to ${to.podNode.podIP}`;
    const gateways = new Set((await this.gateways(from.id)).map((g) => g.spec.nodeName));
    const holders: string[] = [];
    for (const n of from.nodes) {
      const addrs = JSON.parse(await run('ip', ['-n', this.ns(n), '-j', 'addr', 'show'])) as {
        addr_info: { local: string }[];
      }[];
      if (!addrs.some((l) => l.addr_info.some((a) => a.local === via))) continue;
      const gateway = gateways.has(n.name);
      const running = this.agentRunning(n);
      if (gateway && running) return n;
      holders.push(
        `${n.name} (${gateway ? 'a Gateway' : 'not a Gateway'}, agent ${running ? 'running' : 'not running'})`,
      );
    }
    return (
      `no Gateway of ${from.id} with a running agent owns the inner address ${via} that ` +
      `${from.podNode.name} routes through; held by ${holders.join(', ') || 'no Node'}; Gateways: ${[...gateways].join(', ')}`
    );
  }

  /**
   * Containers of mcgw that exited with an error and were restarted by their kubelet, counted from
   * the pods' restart counts. A container killed on purpose (a power-off, a SIGKILL) ends as
   * Unknown or with code 137 and is not counted.
   */
  async crashes(): Promise<number> {
    for (const cl of this.plan.clusters) {
      const pods = await this.member(cl.id).clients.core.listNamespacedPod({ namespace: SYSTEM_NAMESPACE });
      for (const p of pods.items)
        for (const s of p.status?.containerStatuses ?? []) {
          const key = `${cl.id}/${p.metadata?.uid}/${s.name}`;
          const before = this.restarts.get(key) ?? 0;
          this.restarts.set(key, s.restartCount);
          const t = s.lastState?.terminated;
          if (s.restartCount > before && t && t.exitCode !== 137 && t.reason !== 'Unknown')
            this.crashCount += s.restartCount - before;
        }
    }
    return this.crashCount;
  }

  // --- teardown -----------------------------------------------------------------------------------

  async down(): Promise<void> {
    for (const t of this.traffic.values()) t.close();
    await this.procs.stopAll();
    await this.set?.stop().catch(() => {});
    // What a failed build left before the ClusterSet could track it.
    sweepLab(this.cfg.dir, this.cfg.nsPrefix, { keepFiles: true });
  }
}
