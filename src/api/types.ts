// TypeScript types of the mcgw objects, inferred from the schemas (see schema.ts).
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ClusterGatewaySpec, ClusterGatewayStatus } from './clustergateway.ts';
import type { GatewayPolicySpec, GatewayPolicyStatus } from './gatewaypolicy.ts';
import type { ClusterInfo, ClusterSetMemberSpec } from './clusterset.ts';
import type { Condition } from './meta.ts';

export interface KubeObject<Spec, Status> {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
}

export type GatewayPolicy = KubeObject<GatewayPolicySpec, GatewayPolicyStatus>;
export type ClusterGateway = KubeObject<ClusterGatewaySpec, ClusterGatewayStatus>;

export interface ExportStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}
export interface ImportStatus {
  state?: 'Active' | 'Stale';
  lastSeen?: string;
  conditions?: Condition[];
}
export interface ClusterSetMemberStatus {
  lastExportTime?: string;
  importedClusters?: number;
  conditions?: Condition[];
}
export type ClusterSetMember = KubeObject<ClusterSetMemberSpec, ClusterSetMemberStatus>;
export type ClusterExport = KubeObject<ClusterInfo, ExportStatus>;
export type ClusterImport = KubeObject<ClusterInfo, ImportStatus>;
export type RemoteCluster = KubeObject<ClusterInfo, ImportStatus>;
export type { ClusterInfo, ClusterSetMemberSpec } from './clusterset.ts';

export type { ClusterGatewaySpec, ClusterGatewayStatus, Role } from './clustergateway.ts';
export type { GatewayPolicySpec, GatewayPolicyStatus, Mode } from './gatewaypolicy.ts';
export type { Condition, LabelSelector } from './meta.ts';
