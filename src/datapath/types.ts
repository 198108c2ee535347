// Data-plane domain types: what clusters export to each other, what the planner is given, and the
// kernel objects (links, addresses, FDB entries, neighbors, routes) it asks for. Plain data, so the
// planner and the diff stay pure and the agent alone talks to the kernel.
import type { Mode } from '../api/types.ts';

export type { Mode };

/** One Gateway instance as its cluster exports it (see ClusterGateway.spec). */
export interface ExportedGateway {
  node: string;
  /** Underlay address remote clusters tunnel to. */
  gatewayIP: string;
  /** Address Nodes in the gateway's own cluster tunnel to. */
  internalIP: string;
  /** 1..1000, higher preferred; also picks the gateway's inner address (see inner.ts). */
  priority: number;
  /**
   * Being drained (ClusterGateway spec.draining): used only while no living gateway of its cluster
   * that is not draining is left, so traffic moves off it before it is removed.
   */
  draining?: boolean;
}

/** What every member cluster publishes to the others. */
export interface ClusterExport {
  clusterID: string;
  gateways: readonly ExportedGateway[];
  podCIDRs: readonly string[];
  serviceCIDRs: readonly string[];
  /** The UDP port and VNI of the exporting cluster's cross-cluster VXLAN device. */
  tunnel: { port: number; vni: number };
  /**
   * How the exporting cluster serves traffic, which decides how others route to it. Absent means
   * ActiveStandby, the GatewayPolicy default.
   */
  mode?: Mode;
}

export interface SelfInfo {
  node: string;
  cluster: string;
  /** Whether this Node runs a Gateway instance (it must then be in local.gateways). */
  isGateway: boolean;
  /** This Node's underlay address for the cross-cluster tunnel; defaults to its exported one. */
  gatewayIP?: string;
  internalIP: string;
}

export interface LocalCluster {
  gateways: readonly ExportedGateway[];
  mode: Mode;
  /** This cluster's own CIDRs: a remote CIDR overlapping one of them is never routed away. */
  podCIDRs: readonly string[];
  serviceCIDRs: readonly string[];
}

export interface PlanOptions {
  /** UDP port of this cluster's cross-cluster device (also used in-cluster). */
  vxlanPort: number;
  /** VNI of this cluster's cross-cluster device. */
  vni: number;
  /**
   * VNI of the in-cluster device. It must differ from `vni`: the kernel refuses two VXLAN devices
   * with the same VNI and port. Default: vni + 1 (vni - 1 at the top of the range).
   */
  internalVni?: number;
  /** ClusterSet-wide IPv4 CIDR the inner addresses come from, e.g. 198.19.128.0/17. */
  innerCIDR: string;
  /** MTU for both devices; absent leaves the kernel's choice. */
  mtu?: number;
  /** CIDRs of the host routing table that must never be overridden (see planDatapath). */
  rootRoutes?: readonly string[];
}

/** BFD verdicts keyed by gatewayKey(cluster, node); a missing key means not known to be up. */
export type Liveness = ReadonlyMap<string, boolean>;

export interface PlanInput {
  self: SelfInfo;
  local: LocalCluster;
  remotes: readonly ClusterExport[];
  liveness: Liveness;
  /**
   * Gateways that are up but should carry traffic only when no better one is up, keyed like
   * `liveness`: flapping (damped), on a lossy path, or a local Gateway that says its own path to
   * a remote cluster is lossy. Absent: none.
   */
  demoted?: ReadonlySet<string>;
  options: PlanOptions;
}

// ---- Kernel objects ----------------------------------------------------------------------------

export interface VxlanLink {
  name: string;
  kind: 'vxlan';
  vni: number;
  /** UDP destination port (and the port the device listens on). */
  port: number;
  /** Underlay source address. */
  local: string;
  /** Underlay device to bind to, if any. */
  dev?: string;
  /** Always false for mcgw devices: peers come from exports, never from snooped traffic. */
  learning: boolean;
  /** Device MAC; absent means any (the kernel picks one and the diff does not care). */
  mac?: string;
  mtu?: number;
  up: boolean;
}

/** An address assigned to a device, as "ip/prefix". */
export interface Address {
  dev: string;
  address: string;
}

/** A VXLAN forwarding entry: frames for `mac` go to `dst` (all-zero MAC: flood to every such dst). */
export interface FdbEntry {
  dev: string;
  mac: string;
  dst: string;
  /** Destination UDP port and VNI; absent means the device's own. */
  port?: number;
  vni?: number;
}

/** A permanent neighbor entry, so no ARP ever crosses a tunnel. */
export interface Neighbor {
  dev: string;
  address: string;
  mac: string;
}

export interface Nexthop {
  via: string;
  dev: string;
  weight: number;
}

/**
 * 'unicast' routes go through `nexthops`; 'unreachable' ones (no nexthops) make the kernel answer
 * at once with an ICMP unreachable, so traffic fails fast instead of leaking to a default route.
 */
export type RouteType = 'unicast' | 'unreachable';

export interface Route {
  dst: string;
  /** Routing table id; absent means main (254). */
  table?: number;
  /** Route protocol; mcgw owns exactly the routes with MCGW_ROUTE_PROTOCOL. */
  protocol: number;
  /** Absent means the kernel default (0 for IPv4, 1024 for IPv6). */
  metric?: number;
  type: RouteType;
  nexthops: readonly Nexthop[];
}

export interface DesiredState {
  links: readonly VxlanLink[];
  addresses: readonly Address[];
  fdb: readonly FdbEntry[];
  neighbors: readonly Neighbor[];
  routes: readonly Route[];
}

/** A link as observed; any kind, so the agent can hand over the whole table. */
export interface ObservedLink extends Omit<VxlanLink, 'kind'> {
  kind: string;
}

/** A route as observed; any type (blackhole, local, ...) and any protocol. */
export interface ObservedRoute extends Omit<Route, 'type'> {
  type: string;
}

/**
 * The kernel state as the agent read it. It may hold objects mcgw does not own (other links,
 * other protocols' routes); the diff never touches those.
 */
export interface ObservedState {
  links: readonly ObservedLink[];
  addresses: readonly Address[];
  fdb: readonly FdbEntry[];
  neighbors: readonly Neighbor[];
  routes: readonly ObservedRoute[];
}

export interface Skipped {
  /** What was left out, e.g. `cluster "b" podCIDR "198.18.64.0/20"`. */
  what: string;
  /** Why, in words a human can act on. */
  reason: string;
}

export interface PlanResult {
  desired: DesiredState;
  skipped: Skipped[];
}

// ---- Changes -----------------------------------------------------------------------------------

export type Change =
  | { op: 'link-add'; link: VxlanLink }
  /**
   * Changes what differs of up state, MAC and MTU in place. Beware the kernel's side effects: a
   * MAC change flushes the link's neighbors and taking it down flushes its routes too; the diff
   * re-adds them after.
   */
  | { op: 'link-set'; name: string; up?: boolean; mac?: string; mtu?: number }
  | { op: 'link-del'; name: string }
  | { op: 'addr-add'; address: Address }
  | { op: 'addr-del'; address: Address }
  | { op: 'fdb-add'; entry: FdbEntry }
  | { op: 'fdb-del'; entry: FdbEntry }
  | { op: 'neigh-replace'; neighbor: Neighbor }
  | { op: 'neigh-del'; neighbor: Neighbor }
  | { op: 'route-replace'; route: Route }
  | { op: 'route-del'; route: ObservedRoute };
