// TypeScript types of the mcgw objects, inferred from the schemas (see schema.ts).
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ClusterGatewaySpec, ClusterGatewayStatus } from './clustergateway.ts';
import type { GatewayPolicySpec, GatewayPolicyStatus } from './gatewaypolicy.ts';

export interface KubeObject<Spec, Status> {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
}

export type GatewayPolicy = KubeObject<GatewayPolicySpec, GatewayPolicyStatus>;
export type ClusterGateway = KubeObject<ClusterGatewaySpec, ClusterGatewayStatus>;

export type { ClusterGatewaySpec, ClusterGatewayStatus, Role } from './clustergateway.ts';
export type { GatewayPolicySpec, GatewayPolicyStatus, Mode } from './gatewaypolicy.ts';
export type { Condition, LabelSelector } from './meta.ts';
