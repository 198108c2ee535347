// The document `mcgw status` builds, prints as tables, and prints as JSON with --json.
// docs/status-schema.json is its JSON Schema; keep the two in step (a test validates real output).

/** Bump when a field changes meaning or disappears; adding fields keeps the version. */
import type { BfdSummary } from '../agent/bfdsummary.ts';

export const STATUS_SCHEMA_VERSION = 1;

export interface ConditionView {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string | null;
}

/** This cluster's ClusterSetMember. */
export interface ClusterView {
  name: string;
  clusterID: string;
  leaderNamespace: string;
  leaderReachable: ConditionView | null;
  exported: ConditionView | null;
  importedClusters: number | null;
  lastExportTime: string | null;
  podCIDRs: string[];
  serviceCIDRs: string[];
}

export interface PolicyView {
  name: string;
  mode: 'ActiveStandby' | 'ActiveActive';
  /** The count acted on (status), else the spec's. */
  desired: number;
  /** Instances whose Lease is fresh, as the controller last wrote; null before it wrote any status. */
  ready: number | null;
  leaseDurationMs: number;
  lastPlacementTime: string | null;
  conditions: ConditionView[];
  /** Newer policies the controller ignores (only the oldest is honoured). */
  ignored: string[];
}

export interface GatewayView {
  node: string;
  zone: string | null;
  gatewayIP: string;
  internalIP: string;
  priority: number;
  role: 'Active' | 'Standby' | null;
  /** Being drained (spec.draining): kept, and forwarding, until its replacement has taken over. */
  draining: boolean;
  ready: boolean;
  readyReason: string | null;
  readyMessage: string | null;
  /** renewTime of the Lease mcgw-system/gateway-<node>, written by the agent's clock. */
  leaseRenewTime: string | null;
  /** Seconds from leaseRenewTime to collectedAt (by this machine's clock). */
  leaseAgeSeconds: number | null;
  createdAt: string | null;
  /**
   * The BFD sessions the Gateway's agent last published on its Lease (src/agent/bfdsummary.ts):
   * remote Gateways one by one, local Nodes counted by state. Null when the agent published none.
   */
  bfd: BfdSummary | null;
}

export interface GatewaySummary {
  node: string;
  gatewayIP: string;
  priority: number;
  ready: boolean;
}

export interface RemoteClusterView {
  clusterID: string;
  mode: string;
  gateways: GatewaySummary[];
  podCIDRs: string[];
  serviceCIDRs: string[];
  state: 'Active' | 'Stale' | null;
  lastSeen: string | null;
}

/** A failed instance removed (Event Removed<reason>) and the instance placed for it (Event Placed). */
export interface FailoverView {
  node: string;
  reason: 'LeaseExpired' | 'NodeNotReady';
  removedAt: string;
  message: string;
  /** The failed instance's last Lease renewal, if the Lease still shows it. */
  leaseLastRenewed: string | null;
  /** From that renewal to the removal, estimated to ±0.5 s: Event times have 1 s resolution. */
  leaseSilentSeconds: number | null;
  replacement: string | null;
  placedAt: string | null;
  /** From removal to placement; 0 when both happened in one pass (make before break). 1 s resolution. */
  replacementDelaySeconds: number | null;
}

export interface MemberStatusReport {
  schemaVersion: typeof STATUS_SCHEMA_VERSION;
  mode: 'member';
  collectedAt: string;
  server: string;
  /** null: this cluster has no ClusterSetMember (or it could not be read: see problems). */
  cluster: ClusterView | null;
  /** null: no GatewayPolicy (or it could not be read: see problems). */
  policy: PolicyView | null;
  /** null only when they could not be read (see problems). */
  gateways: GatewayView[] | null;
  remoteClusters: RemoteClusterView[] | null;
  /** Newest first. */
  failovers: FailoverView[] | null;
  problems: string[];
}

export interface ExportView {
  namespace: string;
  clusterID: string;
  mode: string;
  gateways: GatewaySummary[];
  podCIDRs: string[];
  serviceCIDRs: string[];
  accepted: ConditionView | null;
  /** renewTime of the member's heartbeat Lease in its namespace. */
  heartbeatRenewTime: string | null;
  heartbeatAgeSeconds: number | null;
}

export interface ImportView {
  clusterID: string;
  sourceNamespace: string | null;
  mode: string;
  gateways: GatewaySummary[];
  podCIDRs: string[];
  serviceCIDRs: string[];
  state: 'Active' | 'Stale' | null;
  lastSeen: string | null;
}

export interface LeaderStatusReport {
  schemaVersion: typeof STATUS_SCHEMA_VERSION;
  mode: 'leader';
  collectedAt: string;
  server: string;
  exports: ExportView[] | null;
  imports: ImportView[] | null;
  problems: string[];
}

export type StatusReport = MemberStatusReport | LeaderStatusReport;
