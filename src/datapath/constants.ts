// Names and numbers that mark kernel objects as mcgw's. The diff touches nothing else, so the agent
// can share a host with a CNI, kube-proxy and routing daemons.

/** Every link mcgw creates starts with this; links, addresses, FDB and neighbors on them are ours. */
export const OWNED_LINK_PREFIX = 'mcgw-';

/** The cross-cluster VXLAN device, on Gateway Nodes only. */
export const CROSS_LINK = 'mcgw-x';

/** The in-cluster VXLAN device, on every Node. */
export const INTERNAL_LINK = 'mcgw-i';

/**
 * Route protocol of every mcgw route, so routes are ours by protocol, not by guesswork on their
 * destination. 250 is in neither iproute2's nor FRR's rt_protos list.
 */
export const MCGW_ROUTE_PROTOCOL = 250;

export const MAIN_TABLE = 254;

/** Kernel default metrics when none is given. */
export const DEFAULT_METRIC_V4 = 0;
export const DEFAULT_METRIC_V6 = 1024;

/** Flood ("default destination") entries of a VXLAN FDB use the all-zero MAC. */
export const ZERO_MAC = '00:00:00:00:00:00';

/** Gateway instances per cluster, as GatewayPolicy allows (spec.desiredInstances max 16). */
export const MAX_GATEWAYS_PER_CLUSTER = 16;

export const MAX_VNI = 0xffffff;
