// What the failure scenarios and the lab's supervisor need of a running lab, whichever kind of
// Nodes it has: simulated ones (lab.ts: a network namespace per Node, mcgw's processes started by
// the lab) or kubelet Nodes (kubenode/lab.ts: mcgw installed with helm, its agents as DaemonSet pods).
// Each kind says here how it breaks and repairs a Node, reaches an agent, and talks to the traffic
// endpoints; the scenarios (scenarios.ts) are written once against this.
import type { ClusterGateway, GatewayPolicy, Mode, RemoteCluster } from '../api/types.ts';
import type { Clients } from '../kube/client.ts';
import type { ControlPlane } from './controlplane.ts';
import type { DirectionLoss } from './loss.ts';
import type { LabCluster, LabNode, LabPlan } from './plan.ts';

export class LabError extends Error {
  override name = 'LabError';
}

/** The settings the scenarios read; both kinds of lab have them. */
export interface TestbedConfig {
  mode: Mode;
  desired: number;
  bfdTxMs: number;
  bfdMult: number;
  rate: number;
  /** Kubernetes (or the simulation of it) marks a silent Node NotReady after this long. */
  nodeGraceMs: number;
  /** Control-plane-only failover: agents steer by Gateway objects, controllers ignore Leases. */
  baseline: boolean;
}

export interface TestbedMember {
  cluster: LabCluster;
  cp: ControlPlane;
  clients: Clients;
}

export interface TrafficAnswer {
  id: string;
  gapMs: number;
  sources?: Record<string, unknown>;
}

export interface Testbed {
  readonly cfg: TestbedConfig;
  readonly plan: LabPlan;
  /** The leader cluster's control plane (a member's own, when the leader is also a member). */
  readonly leader: ControlPlane;
  /** Every control plane, each once (the leader's among them). */
  controlPlanes(): ControlPlane[];
  readonly nodes: LabNode[];
  member(id: string): TestbedMember;

  gateways(clusterID: string): Promise<ClusterGateway[]>;
  policy(clusterID: string): Promise<GatewayPolicy>;
  remoteClusters(clusterID: string): Promise<RemoteCluster[]>;
  waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<number>;

  /** Loads an nftables script on the underlay switch (its ports are named `p-<node label>`). */
  nftSwitch(script: string): Promise<void>;
  /** The Node dies at once: link, forwarding, BFD, agent and kubelet (if any) all stop. */
  powerOff(n: LabNode): Promise<void>;
  /** The Node comes back: link, kubelet (if any) and agent. */
  powerOn(n: LabNode): Promise<void>;
  /** SIGKILLs the Node's agent only; `agentStart` brings it back (a kubelet restarts it anyway). */
  killAgent(n: LabNode): Promise<void>;
  agentStart(n: LabNode): Promise<void>;
  agentRunning(n: LabNode): boolean;
  /** The agent's JSON log lines so far (all of its runs on this Node). */
  agentLog(n: LabNode): string;
  agentMetrics(n: LabNode): Promise<string>;
  /** SIGKILLs the elected controller of a member; returns how to bring it back. */
  killElectedController(clusterID: string): Promise<() => Promise<void>>;
  setBaseline(on: boolean): Promise<void>;

  /** The Node of `from` whose Gateway carries the test flow to `to`, read from the kernel's choice. */
  carrier(from: LabCluster, to: LabCluster): Promise<LabNode>;
  /** One command to every traffic endpoint; each one's JSON answer by cluster ID. */
  trafficCommand(cmd: 'mark' | 'report', id: string): Promise<Map<string, TrafficAnswer>>;
  /** Loss per direction ("a>b") since the mark `id`. */
  lossSince(id: string): Promise<Record<string, DirectionLoss>>;
  /** Traffic flows in every direction without loss (over half a second). */
  trafficFlows(): Promise<boolean>;
  /** mcgw processes that exited unasked so far (restarted by the lab or a kubelet). */
  crashes(): Promise<number>;
  down(): Promise<void>;
}
