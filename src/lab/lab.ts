// A whole ClusterSet on one machine: a leader and N member control planes (real etcd and
// kube-apiserver), each member's Nodes as network namespaces on one underlay bridge, and mcgw's
// real processes: the leader-side controller, two controller replicas per member and one agent per
// Node, fed by Kubernetes through relays (netns-relay.mjs), plus a traffic endpoint per member.
// Kubernetes parts that do not run here are simulated and said so: a kubelet's Ready heartbeat and
// the node lifecycle controller's NotReady after its grace period (40 s by default), and the CNI's
// routes between a cluster's Nodes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { GROUP, SYSTEM_NAMESPACE, VERSION } from '../api/group.ts';
import { makeClients } from '../kube/client.ts';
import type { Clients } from '../kube/client.ts';
import { ensureNamespace, installCRDs } from '../kube/crds.ts';
import { rawRequest } from '../kube/raw.ts';
import { addMember, memberNamespace, storeLeaderSecret } from '../leader/membership.ts';
import { ControlPlane } from './controlplane.ts';
import { planLab, TRAFFIC_PORT } from './plan.ts';
import { grantRealtimeBudget, INSTRUMENT_PRIORITY, INSTRUMENT_RT_RUNTIME_US } from './realtime.ts';
import type { LabCluster, LabNode, LabOptions, LabPlan } from './plan.ts';
import { killLabProcesses, ProcessSet } from './procs.ts';
import type { LabProcess } from './procs.ts';
import { freePort } from './ports.ts';
import { relay } from './netns-relay.mjs';
import { buildUnderlay } from './underlay.ts';
import { removeNamespaceSync } from '../testing/netns.ts';
import { createSimNode, setSimNodeStatus } from './simnodes.ts';
import { lossByDirection } from './loss.ts';
import { cgroupsWithPrefix, removeCgroups } from './kubenode/cgroups.ts';
import type { DirectionLoss } from './loss.ts';
import { LabError } from './testbed.ts';
import type { Testbed, TestbedConfig, TrafficAnswer } from './testbed.ts';
import { converged, flowRouteArgs, LabReads, POLICY_NAME } from './observe.ts';
export { POLICY_NAME } from './observe.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MCGW = join(REPO, 'bin', 'mcgw.js');
const RELAY = fileURLToPath(new URL('./netns-relay.mjs', import.meta.url));
const TRAFFIC = fileURLToPath(new URL('./traffic.mjs', import.meta.url));
const AGENT_HEALTH = '127.0.0.1:9765';
const API = `/apis/${GROUP}/${VERSION}`;

export interface LabConfig extends LabOptions, TestbedConfig {
  /** Everything the lab writes goes here (control planes, logs, sockets, state files). */
  dir: string;
  /** Network namespace names start with this; `mcgw lab down` removes every one of them. */
  nsPrefix: string;
  /** Traffic rate per direction, packets per second. */
  rate: number;
  /** The simulated node lifecycle controller marks a silent Node NotReady after this long. */
  nodeGraceMs: number;
  /** Gateway Lease timing written into each member's GatewayPolicy. */
  leaseDurationMs: number;
  renewIntervalMs: number;
  /**
   * Control-plane-only failover, for comparison: agents steer by Gateway objects and ignore BFD,
   * and the controllers judge Nodes by their Ready condition alone (no Gateway Leases).
   */
  baseline: boolean;
  progress?: (msg: string) => void;
  /** Leave everything running when building fails, for a look at it (`mcgw lab down` removes it). */
  keepOnFailure?: boolean;
  /**
   * sim: Nodes are namespaces with mcgw's processes started by the lab and a simulated kubelet;
   * real: kubelet Nodes with mcgw installed by helm from its image (src/lab/kubenode/lab.ts).
   */
  nodes?: 'sim' | 'real';
}

export const DEFAULT_LAB_CONFIG = {
  rate: 1000,
  nodeGraceMs: 40_000,
  leaseDurationMs: 2000,
  renewIntervalMs: 500,
  baseline: false,
  nsPrefix: 'mcgwl-',
};

export { LabError } from './testbed.ts';

export interface LabMember {
  cluster: LabCluster;
  cp: ControlPlane;
  clients: Clients;
  /** The Unix socket the Nodes' relays reach this member's apiserver through. */
  apiSocket: string;
  relay: { close(): Promise<void> };
}

interface NodeLife {
  alive: boolean;
  ready: boolean;
  lastBeat: number;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new LabError(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** The apiserver's loopback port, from its URL. */
function portOf(cp: ControlPlane): number {
  return Number(new URL(cp.server).port);
}

export class Lab extends LabReads implements Testbed {
  readonly plan: LabPlan;
  readonly procs: ProcessSet;
  leader!: ControlPlane;
  leaderClients!: Clients;
  readonly members = new Map<string, LabMember>();
  private readonly life = new Map<string, NodeLife>();
  private readonly healthPorts = new Map<string, number>();
  private kubeletTimer: NodeJS.Timeout | undefined;
  private kubeletBusy = false;
  private closed = false;

  private constructor(readonly cfg: LabConfig) {
    super();
    this.plan = planLab(cfg);
    this.procs = new ProcessSet(cfg.dir);
  }

  private say(msg: string): void {
    this.cfg.progress?.(msg);
  }

  get nodes(): LabNode[] {
    return this.plan.clusters.flatMap((c) => c.nodes);
  }

  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new LabError(`no lab Node named ${name}`);
    return n;
  }

  member(id: string): LabMember {
    const m = this.members.get(id);
    if (!m) throw new LabError(`no member cluster ${id}`);
    return m;
  }

  ns(n: LabNode | 'sw'): string {
    return `${this.cfg.nsPrefix}${n === 'sw' ? 'sw' : n.label}`;
  }

  /** Builds and starts the whole lab; on failure, removes what it made and rethrows. */
  static async up(cfg: LabConfig): Promise<Lab> {
    const lab = new Lab(cfg);
    mkdirSync(cfg.dir, { recursive: true });
    writeFileSync(join(cfg.dir, 'lab.json'), JSON.stringify({ config: { ...cfg, progress: undefined } }));
    try {
      await lab.build();
      return lab;
    } catch (err) {
      if (!cfg.keepOnFailure) await lab.down().catch(() => {});
      throw err;
    }
  }

  private async build(): Promise<void> {
    const { clusters } = this.plan;
    const began = Date.now();
    const step = (i: number, msg: string) => this.say(`[${i}/7] ${msg}`);
    step(
      1,
      `starting ${clusters.length + 1} control planes (leader, ${clusters.map((c) => c.id).join(', ')})`,
    );
    const cps = await Promise.all(
      ['leader', ...clusters.map((c) => c.id)].map((name) =>
        ControlPlane.start({ name: `lab-${name}`, dir: join(this.cfg.dir, `cp-${name}`), keep: true }),
      ),
    );
    this.leader = cps[0]!;
    this.leaderClients = makeClients(this.leader.kubeConfig());
    await installCRDs(this.leaderClients, 'leader');
    for (const c of clusters) {
      const cp = cps[c.index + 1]!;
      const apiSocket = join(this.cfg.dir, `api-${c.id}.sock`);
      const r = await relay([{ from: { path: apiSocket }, to: { host: '127.0.0.1', port: portOf(cp) } }]);
      this.members.set(c.id, { cluster: c, cp, clients: makeClients(cp.kubeConfig()), apiSocket, relay: r });
    }

    step(2, `creating ${this.nodes.length} Node namespaces on one underlay bridge`);
    this.buildNetwork();

    step(3, 'admitting the members to the ClusterSet; creating Nodes, members and policies');
    await Promise.all(clusters.map((c) => this.setUpMember(this.member(c.id))));
    this.startKubelets();

    step(4, 'starting the leader-side controller and two controller replicas per member');
    await this.procs
      .add({
        name: 'leader',
        cmd: process.execPath,
        args: [
          MCGW,
          'leader',
          '--kubeconfig',
          this.leader.kubeconfigPath,
          '--identity',
          'leader-1',
          '--health-addr',
          `127.0.0.1:${await this.healthPort('leader')}`,
        ],
      })
      .start();
    for (const c of clusters)
      for (const r of [1, 2]) {
        await this.healthPort(`controller-${c.id}-${r}`);
        await this.controller(c, r).start();
      }

    step(5, 'starting a relay and an agent in every Node namespace');
    await Promise.all(this.nodes.map((n) => this.relayProc(n).start()));
    await Promise.all(this.nodes.map((n) => this.agent(n).start()));

    step(6, 'waiting for Gateways in every member and for every member to import the others');
    await this.waitFor('placement and exchange', 120_000, () => this.converged());

    step(7, `starting traffic between the pods of every pair of clusters (${this.cfg.rate} pps each way)`);
    await Promise.all(clusters.map((c) => this.traffic(c).start()));
    await this.waitFor('traffic in every direction', 60_000, () => this.trafficFlows());
    this.say(`built in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  }

  // --- network ------------------------------------------------------------------------------------

  private buildNetwork(): void {
    buildUnderlay(
      this.ns('sw'),
      this.nodes.map((n) => ({ ns: this.ns(n), port: `p-${n.label}`, cidr: `${n.underlay}/20` })),
    );
    for (const node of this.nodes) {
      const ns = this.ns(node);
      sh('ip', ['-n', ns, 'addr', 'add', `${node.podIP}/32`, 'dev', 'lo']);
      this.podRoutes(node);
    }
  }

  /** What a CNI would do: each Node reaches the other Nodes' pods of its cluster on the underlay. */
  private podRoutes(node: LabNode): void {
    for (const other of this.plan.clusters[node.cluster.charCodeAt(0) - 97]!.nodes) {
      if (other !== node)
        sh('ip', ['-n', this.ns(node), 'route', 'replace', other.podCIDR, 'via', other.underlay]);
    }
  }

  /** Sets a Node's underlay link up or down (a dead Node, or a repaired one). */
  setLink(node: LabNode, up: boolean): void {
    sh('ip', ['-n', this.ns(node), 'link', 'set', 'eth0', up ? 'up' : 'down']);
    // The kernel dropped the routes through the link when it went down; a rebooted Node's CNI
    // would put them back.
    if (up) this.podRoutes(node);
  }

  /** Loads an nftables script inside a Node's namespace. */
  nft(node: LabNode | 'sw', script: string): void {
    const r = spawnSync('ip', ['netns', 'exec', this.ns(node), 'nft', '-f', '-'], {
      input: script,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new LabError(`nft in ${this.ns(node)}: ${r.stderr}`);
  }

  /** Runs a command inside a Node's namespace and returns its output. */
  exec(node: LabNode, cmd: string, ...args: string[]): string {
    return sh('ip', ['netns', 'exec', this.ns(node), cmd, ...args]);
  }

  // --- Kubernetes objects ---------------------------------------------------------------------------

  private async setUpMember(m: LabMember): Promise<void> {
    const { cluster: c, clients } = m;
    await installCRDs(clients);
    await ensureNamespace(clients, SYSTEM_NAMESPACE);
    const creds = await addMember(this.leaderClients, c.id);
    await storeLeaderSecret(clients, 'mcgw-leader', creds.kubeconfig);
    await Promise.all(
      c.nodes.map((n) =>
        createSimNode(clients.core, {
          name: n.name,
          zone: n.zone,
          internalIP: n.underlay,
          candidate: n.candidate,
        }),
      ),
    );
    for (const n of c.nodes) this.life.set(n.name, { alive: true, ready: true, lastBeat: Date.now() });
    await rawRequest(clients.kc, 'POST', `${API}/clustersetmembers`, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'ClusterSetMember',
      metadata: { name: 'local' },
      spec: {
        clusterID: c.id,
        leader: { secretName: 'mcgw-leader', namespace: memberNamespace(c.id) },
        podCIDRs: [c.podCIDR],
        serviceCIDRs: [c.serviceCIDR],
        heartbeatSeconds: 1,
      },
    });
    await rawRequest(clients.kc, 'POST', `${API}/gatewaypolicies`, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'GatewayPolicy',
      metadata: { name: POLICY_NAME },
      spec: {
        desiredInstances: this.cfg.desired,
        mode: this.cfg.mode,
        failureDetection: {
          leaseDurationMs: this.cfg.leaseDurationMs,
          renewIntervalMs: this.cfg.renewIntervalMs,
        },
        // Short, so trial after trial the Node broken last is a candidate again soon.
        holdDownSeconds: 5,
      },
    });
  }

  /**
   * Stands in for each kubelet (a Ready heartbeat every few seconds while the Node lives) and for
   * the node lifecycle controller (Ready=False once a Node has been silent for nodeGraceMs).
   */
  private startKubelets(): void {
    const beatMs = 5_000;
    const tick = async () => {
      if (this.kubeletBusy || this.closed) return;
      this.kubeletBusy = true;
      try {
        const now = Date.now();
        await Promise.all(
          this.nodes.map(async (n) => {
            const l = this.life.get(n.name)!;
            const m = this.member(n.cluster);
            if (!m.cp.apiserverRunning) return;
            if (l.alive && (now - l.lastBeat >= beatMs || !l.ready)) {
              await setSimNodeStatus(m.clients.core, n.name, true);
              l.lastBeat = now;
              l.ready = true;
            } else if (!l.alive && l.ready && now - l.lastBeat >= this.cfg.nodeGraceMs) {
              await setSimNodeStatus(m.clients.core, n.name, false);
              l.ready = false;
            }
          }),
        );
      } catch {
        // An apiserver going away mid-write; the next tick retries.
      } finally {
        this.kubeletBusy = false;
      }
    };
    this.kubeletTimer = setInterval(() => void tick(), 500);
  }

  /** The Node's kubelet stops (dead Node) or starts again. */
  setKubelet(node: LabNode, alive: boolean): void {
    const l = this.life.get(node.name)!;
    l.alive = alive;
    if (alive) l.lastBeat = 0;
  }

  private converged(): Promise<boolean> {
    return converged(this);
  }

  // --- processes ------------------------------------------------------------------------------------

  controller(c: LabCluster, replica: number): LabProcess {
    const name = `controller-${c.id}-${replica}`;
    return (
      this.procs.procs.get(name) ??
      this.procs.add({ name, cmd: process.execPath, args: this.controllerArgs(c, name), restartOnExit: true })
    );
  }

  private controllerArgs(c: LabCluster, identity: string): string[] {
    const m = this.member(c.id);
    return [
      MCGW,
      'controller',
      '--kubeconfig',
      m.cp.kubeconfigPath,
      '--identity',
      identity,
      '--health-addr',
      `127.0.0.1:${this.healthPorts.get(identity) ?? 0}`,
      '--election-lease-ms',
      '2000',
      '--election-renew-ms',
      '1500',
      '--election-retry-ms',
      '250',
      ...(this.cfg.baseline ? ['--ignore-leases'] : []),
    ];
  }

  /**
   * Switches between mcgw and the control-plane-only baseline: agents and controllers restart with
   * the other flags (an agent restart keeps every route, so traffic does not notice).
   */
  async setBaseline(on: boolean): Promise<void> {
    if (this.cfg.baseline === on) return;
    this.cfg.baseline = on;
    for (const c of this.plan.clusters) {
      for (const r of [1, 2]) {
        const p = this.controller(c, r);
        p.spec.args = this.controllerArgs(c, p.spec.name);
        await p.restart();
      }
      for (const n of c.nodes) {
        const p = this.agent(n);
        p.spec.args = this.agentArgs(n);
        await p.restart();
      }
    }
  }

  private relayProc(n: LabNode): LabProcess {
    const m = this.member(n.cluster);
    return this.procs.add({
      name: `relay-${n.name}`,
      netns: this.ns(n),
      cmd: process.execPath,
      args: [
        RELAY,
        `tcp:127.0.0.1:${portOf(m.cp)}=unix:${m.apiSocket}`,
        `unix:${this.agentSocket(n)}=tcp:${AGENT_HEALTH}`,
      ],
      readyLine: /^ready$/,
    });
  }

  protected agentSocket(n: LabNode): string {
    return join(this.cfg.dir, `agent-${n.name}.sock`);
  }

  agent(n: LabNode): LabProcess {
    const name = `agent-${n.name}`;
    return (
      this.procs.procs.get(name) ??
      this.procs.add({ name, netns: this.ns(n), cmd: 'nice', args: this.agentArgs(n), restartOnExit: true })
    );
  }

  private agentArgs(n: LabNode): string[] {
    const m = this.member(n.cluster);
    // BFD at 50 ms is latency-critical; on a shared 2-core machine the agents get the CPU first (in
    // a cluster: a Guaranteed-QoS DaemonSet with a high PriorityClass does the same).
    return [
      '-n',
      '-10',
      process.execPath,
      MCGW,
      'agent',
      '--node',
      n.name,
      '--kubeconfig',
      m.cp.kubeconfigPath,
      '--state-file',
      join(this.cfg.dir, `agent-${n.name}.json`),
      '--bfd-tx-ms',
      String(this.cfg.bfdTxMs),
      '--bfd-rx-ms',
      String(this.cfg.bfdTxMs),
      '--bfd-mult',
      String(this.cfg.bfdMult),
      '--health-addr',
      AGENT_HEALTH,
      ...(this.cfg.baseline ? ['--steer-by', 'gateways'] : []),
    ];
  }

  traffic(c: LabCluster): LabProcess {
    const name = `traffic-${c.id}`;
    const have = this.procs.procs.get(name);
    if (have) return have;
    const peers = this.plan.clusters.filter((o) => o !== c).map((o) => o.podNode.podIP);
    // The endpoint is the lab's measuring instrument and runs real-time (realtime.ts), in the lab's
    // own cgroup, which gets the budget for it first.
    grantRealtimeBudget(process.pid, INSTRUMENT_RT_RUNTIME_US);
    return this.procs.add({
      name,
      netns: this.ns(c.podNode),
      cmd: 'chrt',
      args: [
        '--fifo',
        String(INSTRUMENT_PRIORITY),
        process.execPath,
        TRAFFIC,
        c.podNode.podIP,
        String(TRAFFIC_PORT),
        String(this.cfg.rate),
        ...peers,
      ],
      readyLine: /"ready":true/,
      stdin: true,
    });
  }

  /** Sends one command to every traffic endpoint; resolves with each one's JSON answer. */
  async trafficCommand(cmd: 'mark' | 'report', id: string): Promise<Map<string, TrafficAnswer>> {
    const out = new Map<string, TrafficAnswer>();
    await Promise.all(
      this.plan.clusters.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            const p = this.traffic(c);
            if (!p.running) return reject(new LabError(`traffic endpoint of ${c.id} is not running`));
            const timer = setTimeout(() => {
              p.offLine(onLine);
              reject(new LabError(`traffic endpoint of ${c.id} did not answer ${cmd}`));
            }, 5_000);
            const onLine = (l: string) => {
              const j = JSON.parse(l) as TrafficAnswer;
              if (j.id !== id) return;
              clearTimeout(timer);
              p.offLine(onLine);
              out.set(c.id, j);
              resolve();
            };
            p.onLine(onLine);
            p.child!.stdin!.write(`${cmd} ${id}\n`);
          }),
      ),
    );
    return out;
  }

  /** Loss windows per direction ("a>b") since the mark `id`. */
  async lossSince(id: string): Promise<Record<string, DirectionLoss>> {
    const clusterOf = new Map(this.plan.clusters.map((c) => [c.podNode.podIP, c.id]));
    return lossByDirection(await this.trafficCommand('report', id), clusterOf);
  }

  async trafficFlows(): Promise<boolean> {
    const id = `probe-${Date.now()}`;
    await this.trafficCommand('mark', id);
    await sleep(500);
    const loss = await this.lossSince(id);
    const dirs = Object.values(loss);
    return (
      dirs.length === this.plan.clusters.length * (this.plan.clusters.length - 1) &&
      dirs.every((d) => d.received > 0 && d.lost === 0)
    );
  }

  /** A fixed loopback port for a root-namespace process's /metrics, chosen once. */
  private async healthPort(name: string): Promise<number> {
    const have = this.healthPorts.get(name);
    if (have) return have;
    const port = await freePort();
    this.healthPorts.set(name, port);
    return port;
  }

  /**
   * Prometheus text of a lab process: an agent by Node name (through its relay), or `leader`, or
   * `controller-<cluster>-<replica>`.
   */
  async metrics(name: string): Promise<string> {
    const node = this.nodes.find((n) => n.name === name);
    if (node) return this.agentMetrics(node);
    const port = this.healthPorts.get(name);
    if (!port) throw new LabError(`no lab process named ${name} serves metrics`);
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return r.text();
  }

  /** Unasked exits of agents and controllers so far (each was restarted a second later). */
  crashes(): Promise<number> {
    let n = 0;
    for (const p of this.procs.procs.values()) n += p.crashes;
    return Promise.resolve(n);
  }

  /** The identity holding a member's controller election Lease. */
  async controllerLeader(clusterID: string): Promise<string | undefined> {
    const m = this.member(clusterID);
    const l = await m.clients.coordination.readNamespacedLease({
      name: 'mcgw-controller',
      namespace: SYSTEM_NAMESPACE,
    });
    return l.spec?.holderIdentity ?? undefined;
  }

  /** The agent's Prometheus text, read through the Node's relay. */

  // --- what the scenarios do to it (Testbed) -------------------------------------------------------

  controlPlanes(): ControlPlane[] {
    return [this.leader, ...[...this.members.values()].map((m) => m.cp)];
  }

  nftSwitch(script: string): Promise<void> {
    this.nft('sw', script);
    return Promise.resolve();
  }

  /**
   * The link goes first: that stops the Node's forwarding and its BFD packets at the same instant,
   * as a power loss would. Killing the agent first silenced BFD some milliseconds before the
   * datapath, so traffic lost less than the detection time and the trial read as below the minimum.
   */
  async powerOff(n: LabNode): Promise<void> {
    this.setLink(n, false);
    await this.agent(n).stop('SIGKILL');
    this.setKubelet(n, false);
  }

  async powerOn(n: LabNode): Promise<void> {
    this.setLink(n, true);
    this.setKubelet(n, true);
    await this.agent(n).start();
  }

  killAgent(n: LabNode): Promise<void> {
    return this.agent(n).stop('SIGKILL');
  }

  agentStart(n: LabNode): Promise<void> {
    return this.agent(n).start();
  }

  agentRunning(n: LabNode): boolean {
    return this.agent(n).running;
  }

  agentLog(n: LabNode): string {
    try {
      return readFileSync(this.agent(n).logPath, 'utf8');
    } catch {
      return '';
    }
  }

  async killElectedController(clusterID: string): Promise<() => Promise<void>> {
    const c = this.member(clusterID).cluster;
    const holder = await this.controllerLeader(c.id);
    const ctl = [1, 2].map((r) => this.controller(c, r)).find((p) => p.spec.name === holder);
    if (!ctl) throw new LabError(`no elected controller found in ${c.id} (holder ${holder})`);
    await ctl.stop('SIGKILL');
    return () => ctl.start();
  }

  async carrier(from: LabCluster, to: LabCluster): Promise<LabNode> {
    const pod = from.podNode;
    const route = JSON.parse(
      this.exec(pod, 'ip', ...flowRouteArgs(to.podNode.podIP, pod.podIP, TRAFFIC_PORT)),
    ) as { gateway?: string }[];
    const via = route[0]?.gateway;
    if (!via) throw new LabError(`${pod.name} has no tunnel route to ${to.podNode.podIP}`);
    return this.gatewayOwning(from, via);
  }

  /** The current Gateway of `c` whose Node holds the tunnel-inner address `inner`. */
  async gatewayOwning(c: LabCluster, inner: string): Promise<LabNode> {
    // Only current Gateways: a Node that just came back may still hold an old inner address.
    const gateways = new Set((await this.gateways(c.id)).map((g) => g.spec.nodeName));
    for (const n of c.nodes) {
      if (!gateways.has(n.name) || !this.agentRunning(n)) continue;
      const addrs = JSON.parse(this.exec(n, 'ip', '-j', 'addr', 'show')) as {
        addr_info: { local: string }[];
      }[];
      if (addrs.some((l) => l.addr_info.some((a) => a.local === inner))) return n;
    }
    throw new LabError(`no Gateway of ${c.id} owns the inner address ${inner}`);
  }

  // --- teardown -----------------------------------------------------------------------------------

  /** Stops every process, deletes every namespace and stops the control planes. */
  async down(): Promise<void> {
    this.closed = true;
    if (this.kubeletTimer) clearInterval(this.kubeletTimer);
    await this.procs.stopAll();
    removeNamespaces(this.cfg.nsPrefix);
    for (const m of this.members.values()) await m.relay.close();
    await Promise.all([this.leader, ...[...this.members.values()].map((m) => m.cp)].map((cp) => cp?.stop()));
  }
}

/** Deletes every namespace whose name starts with the prefix, killing what runs inside first. */
export function removeNamespaces(prefix: string): string[] {
  const names = sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
  for (const name of names) removeNamespaceSync(name);
  return names;
}

/**
 * Removes a lab that may have crashed: kills every process started for it (found by the lab
 * directory in their arguments), deletes its namespaces and, unless asked to keep them, its files.
 */
export function sweepLab(
  dir: string,
  nsPrefix: string,
  opts: { keepFiles?: boolean } = {},
): {
  processes: number;
  namespaces: string[];
  cgroups: string[];
} {
  const processes = killLabProcesses(dir);
  const namespaces = removeNamespaces(nsPrefix);
  // Kubelet Nodes' cgroups are named after their namespaces; empty once their processes are gone.
  const cgroups = cgroupsWithPrefix(nsPrefix);
  for (const c of cgroups) removeCgroups(c);
  if (!opts.keepFiles) rmSync(dir, { recursive: true, force: true });
  return { processes, namespaces, cgroups };
}
