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
