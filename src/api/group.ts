// The API group, version and the well-known names users put on their objects.
export const GROUP = 'mcgw.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Nodes carrying this label (value "true") are gateway candidates unless a policy selects otherwise. */
export const CANDIDATE_LABEL = 'mcgw.io/gateway-candidate';
/** Optional Node annotation: the address remote clusters tunnel to, when it is not the Node's ExternalIP. */
export const GATEWAY_IP_ANNOTATION = 'mcgw.io/gateway-ip';
/** Set on Nodes being drained for maintenance, so the scheduler moves a Gateway away first. */
export const DRAINING_LABEL = 'mcgw.io/draining';
/** Namespace holding gateway Leases, the controller's election Lease and namespaced Events. */
export const SYSTEM_NAMESPACE = 'mcgw-system';
/** Label on gateway Leases and ClusterGateways naming the Node they belong to. */
export const NODE_LABEL = 'mcgw.io/node';
export const DEFAULT_ZONE_KEY = 'topology.kubernetes.io/zone';

/** The Lease a Gateway instance renews to prove it is alive. */
export function gatewayLeaseName(node: string): string {
  return `gateway-${node}`;
}

/** Leader cluster: the namespace where accepted members' ClusterImports are published. */
export const CLUSTERSET_NAMESPACE = 'mcgw-clusterset';
/** Leader cluster: label on a member's namespace naming the cluster ID it may export. */
export const MEMBER_LABEL = 'mcgw.io/member';
/** Leader cluster: the Lease a member renews in its namespace to show it is still exporting. */
export const HEARTBEAT_LEASE = 'mcgw-heartbeat';
/** Leader cluster: label on heartbeat Leases. */
export const HEARTBEAT_LABEL = 'mcgw.io/heartbeat';
