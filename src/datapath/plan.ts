// The data-plane planner: from this Node's identity, the local Gateways, the other clusters'
// exports and BFD liveness, decide which mcgw links, addresses, FDB entries, neighbors and routes
// the Node should have. Pure and deterministic: the same input (in any array order) gives the same
// output, so the agent can re-plan on every event and let the diff decide whether anything changed.
//
// Routing rules:
// - A Gateway Node routes each remote cluster's CIDRs over mcgw-x to that cluster's living
//   gateways (by BFD): the highest priority one in ActiveStandby (ties: lowest node name), all of
//   them with equal weights in ActiveActive. Other Nodes route every remote CIDR over mcgw-i to the
//   living local gateways, chosen the same way by the local mode.
// - With no living gateway the route becomes 'unreachable' rather than disappearing: a missing
//   route would send the traffic after the default route, out of the Node untunnelled, while an
//   unreachable route fails the connection at once with an ICMP error. The switch either way is
//   one `route replace`, so it is atomic too.
// - Liveness counts only when it is `true`; a gateway BFD knows nothing about yet is not used.
// - A demoted gateway (flapping, or on a lossy path) is used only when no living gateway of its
//   cluster is sound, and then before a draining demoted one (see tier()).
// - A draining gateway is used only when no living gateway of its cluster is not draining: the
//   controller removes it once its replacement has been Ready for a while, and by then every
//   agent has moved off it, so the removal loses nothing (make before break). It stays a peer, with
//   its BFD session, until it is removed, so it is still there to fall back on.
import { cidrsOverlap, parseCIDR, parseIP, unusableReason } from '../util/ip.ts';
import type { ParsedCIDR } from '../util/ip.ts';
import { canonicalIP, formatCIDR, hostCIDR } from './addr.ts';
import { CROSS_LINK, INTERNAL_LINK, MAX_VNI, MCGW_ROUTE_PROTOCOL, ZERO_MAC } from './constants.ts';
import {
  clusterSlots,
  gatewayKey,
  gatewaySlots,
  innerAddress,
  innerLayout,
  innerMAC,
  nodeMAC,
  nameProblem,
} from './inner.ts';
import type { InnerLayout } from './inner.ts';
import type {
  Address,
  ClusterExport,
  ExportedGateway,
  FdbEntry,
  Mode,
  Neighbor,
  Nexthop,
  PlanInput,
  PlanOptions,
  PlanResult,
  Route,
  SelfInfo,
  Skipped,
  VxlanLink,
} from './types.ts';

const MODES: readonly Mode[] = ['ActiveStandby', 'ActiveActive'];

/** A gateway the plan may tunnel to: usable addresses, an inner address. */
export interface Peer {
  /** gatewayKey(cluster, node): the key its BFD verdict is expected under in `liveness`. */
  key: string;
  cluster: string;
  node: string;
  priority: number;
  /** Being drained: chosen only when no living peer of its cluster is not draining. */
  draining: boolean;
  /** Its tunnel-inner address and the MAC its mcgw devices carry. */
  inner: string;
  mac: string;
  /** The underlay address this Node tunnels to (its gatewayIP, or its internalIP in-cluster). */
  underlay: string;
  /** The device this Node reaches it through. */
  dev: string;
}

export interface DatapathPlan extends PlanResult {
  /**
   * The gateways this Node tunnels to, highest priority first per cluster: the ones the agent
   * should run BFD sessions with. Remote gateways on a Gateway Node, local ones elsewhere.
   */
  peers: Peer[];
  /** This Node's own inner address when it acts as a Gateway. */
  selfInner?: string;
}

interface Options {
  port: number;
  vni: number;
  internalVni: number;
  layout: InnerLayout;
  inner: ParsedCIDR;
  mtu?: number;
}

const isIntIn = (x: unknown, lo: number, hi: number): x is number =>
  typeof x === 'number' && Number.isInteger(x) && x >= lo && x <= hi;

const q = (s: unknown): string => JSON.stringify(s) ?? String(s);

// Bad options or a bad self are the agent's own configuration: throwing makes that loud instead of
// planning an empty state, which the diff would turn into tearing everything down.
function checkOptions(o: PlanOptions): Options {
  if (!isIntIn(o.vxlanPort, 1, 65535)) throw new TypeError(`vxlanPort ${q(o.vxlanPort)} is not in 1..65535`);
  if (!isIntIn(o.vni, 0, MAX_VNI)) throw new TypeError(`vni ${q(o.vni)} is not in 0..${MAX_VNI}`);
  const internalVni = o.internalVni ?? (o.vni < MAX_VNI ? o.vni + 1 : o.vni - 1);
  if (!isIntIn(internalVni, 0, MAX_VNI) || internalVni === o.vni) {
    throw new TypeError(`internalVni ${q(internalVni)} must be in 0..${MAX_VNI} and differ from vni`);
  }
  if (o.mtu !== undefined && !isIntIn(o.mtu, 68, 65535))
    throw new TypeError(`mtu ${q(o.mtu)} is not in 68..65535`);
  const layout = innerLayout(o.innerCIDR);
  const inner = parseCIDR(o.innerCIDR)!;
  return {
    port: o.vxlanPort,
    vni: o.vni,
    internalVni,
    layout,
    inner,
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
  };
}

function checkSelf(self: SelfInfo): void {
  const n = nameProblem(self.node);
  if (n) throw new TypeError(`self.node ${q(self.node)} is ${n}`);
  const c = nameProblem(self.cluster);
  if (c) throw new TypeError(`self.cluster ${q(self.cluster)} is ${c}`);
  const r = unusableReason(self.internalIP);
  if (r) throw new TypeError(`self.internalIP ${q(self.internalIP)}: ${r}`);
}

/** A CIDR already spoken for, and by whom, for overlap checks. */
interface Claim {
  cidr: ParsedCIDR;
  what: string;
}

/**
 * How good a living peer is, best first: 0 sound and staying, 1 sound but draining, 2 demoted
 * (flapping or lossy) and staying, 3 demoted and draining. Only the best tier that has a peer is
 * used: a demoted or draining Gateway carries traffic only while nothing better is up.
 */
function tier(p: Peer, demoted: ReadonlySet<string> | undefined): number {
  return (demoted?.has(p.key) ? 2 : 0) + (p.draining ? 1 : 0);
}

function pick(
  peers: readonly Peer[],
  mode: Mode,
  liveness: PlanInput['liveness'],
  demoted: PlanInput['demoted'],
): Nexthop[] {
  // peers arrive highest priority first (ties: node name), so the first living one of the best
  // tier is the active one.
  const alive = peers.filter((p) => liveness.get(p.key) === true);
  const best = Math.min(...alive.map((p) => tier(p, demoted)));
  const usable = alive.filter((p) => tier(p, demoted) === best);
  const chosen = mode === 'ActiveActive' ? usable : usable.slice(0, 1);
  return chosen
    .map((p) => ({ via: p.inner, dev: p.dev, weight: 1 }))
    .sort((a, b) => cmp(a.dev, b.dev) || cmp(a.via, b.via));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function modeOf(mode: unknown, what: string, skip: (what: string, reason: string) => void): Mode {
  if (mode === undefined) return 'ActiveStandby';
  if (MODES.includes(mode as Mode)) return mode as Mode;
  skip(what, `unknown mode ${q(mode)}; ActiveStandby is used`);
  return 'ActiveStandby';
}

/**
 * Plans this Node's mcgw kernel state. Bad exported data is left out and reported in `skipped`:
 * unusable or duplicate gateway addresses, and remote CIDRs that are not IPv4 networks or that
 * overlap a local CIDR, a root route (any overlap, so never pass a default route as a root route),
 * the inner CIDR, a tunnel endpoint, or a CIDR of another cluster whose ID sorts first. Bad
 * options or a bad `self` throw a TypeError.
 */
export function planDatapath(input: PlanInput): DatapathPlan {
  const { self, local, remotes, liveness, demoted } = input;
  const opts = checkOptions(input.options);
  checkSelf(self);
  const skipped: Skipped[] = [];
  const skip = (what: string, reason: string): void => {
    skipped.push({ what, reason });
  };

  // --- Which remote exports can be read at all --------------------------------------------------
  const idCount = new Map<string, number>();
  for (const r of remotes) idCount.set(r.clusterID, (idCount.get(r.clusterID) ?? 0) + 1);
  const named: ClusterExport[] = [];
  for (const r of remotes) {
    const what = `export of cluster ${q(r.clusterID)}`;
    const problem = nameProblem(r.clusterID);
    if (problem) skip(what, `cluster ID is ${problem}`);
    else if (r.clusterID === self.cluster) skip(what, 'it claims the local cluster ID');
    else if ((idCount.get(r.clusterID) ?? 0) > 1)
      skip(what, 'cluster ID exported more than once; none is used');
    else named.push(r);
  }
  named.sort((a, b) => cmp(a.clusterID, b.clusterID));

  // Slots go to every well-formed ID, used or not, so that what this Node rejects for its own
  // reasons cannot shift the inner addresses other agents compute.
  const slots = clusterSlots(
    [self.cluster, ...remotes.map((r) => r.clusterID).filter((id) => nameProblem(id) === undefined)],
    opts.layout,
  );
  const innerOf = (cluster: string, gatewaySlot: number): string | undefined => {
    const cs = slots.get(cluster);
    return cs === undefined ? undefined : innerAddress(opts.layout, cs, gatewaySlot);
  };

  // --- Local gateways ---------------------------------------------------------------------------
  const localMode = modeOf(local.mode, 'local mode', skip);
  if (slots.get(self.cluster) === undefined) {
    skip(
      `cluster ${q(self.cluster)}`,
      'no free inner address slot: the inner CIDR is too small for the ClusterSet',
    );
  }
  const localSlotting = gatewaySlots(local.gateways);
  for (const { gateway, reason } of localSlotting.rejected) skip(`local gateway ${q(gateway.node)}`, reason);

  // Self as a Gateway needs its own slotted record (for its inner address) and a usable underlay.
  let selfGw: { inner: string; mac: string; underlay: string } | undefined;
  if (self.isGateway) {
    const rec = localSlotting.slotted.find((s) => s.gateway.node === self.node);
    const inner = rec && innerOf(self.cluster, rec.slot);
    const underlay = self.gatewayIP ?? rec?.gateway.gatewayIP;
    const what = `gateway role of node ${q(self.node)}`;
    if (!rec || inner === undefined) {
      skip(
        what,
        'the node has no inner address among the local gateways; it is planned as a non-gateway node',
      );
    } else if (underlay === undefined || unusableReason(underlay) !== undefined) {
      const why = underlay === undefined ? 'missing' : unusableReason(underlay)!;
      skip(what, `gateway IP ${q(underlay)}: ${why}; it is planned as a non-gateway node`);
    } else {
      selfGw = { inner, mac: innerMAC(inner), underlay: canonicalIP(underlay)! };
    }
  }
  const selfFamily = parseIP(self.internalIP)!.family;
  const underlayFamily = selfGw ? parseIP(selfGw.underlay)!.family : undefined;

  // Tunnel endpoints of this cluster, in order of precedence, for duplicate and loop checks.
  const endpoints: { ip: string; what: string }[] = [
    { ip: canonicalIP(self.internalIP)!, what: `the internal IP of this node ${q(self.node)}` },
  ];
  if (selfGw) endpoints.push({ ip: selfGw.underlay, what: `the gateway IP of this node ${q(self.node)}` });

  const localPeers: Peer[] = [];
  const seenInternal = new Set<string>();
  for (const { gateway: g, slot } of localSlotting.slotted) {
    const what = `local gateway ${q(g.node)}`;
    const gwReason = unusableReason(g.gatewayIP);
    const inReason = unusableReason(g.internalIP);
    if (gwReason) skip(what, `gateway IP ${q(g.gatewayIP)}: ${gwReason}`);
    else if (inReason) skip(what, `internal IP ${q(g.internalIP)}: ${inReason}`);
    if (gwReason || inReason) continue;
    const gIP = canonicalIP(g.gatewayIP)!;
    const iIP = canonicalIP(g.internalIP)!;
    endpoints.push({ ip: gIP, what: `the gateway IP of local gateway ${q(g.node)}` });
    endpoints.push({ ip: iIP, what: `the internal IP of local gateway ${q(g.node)}` });
    const inner = innerOf(self.cluster, slot);
    // This Node never routes through itself; as a Gateway it does not use mcgw-i at all.
    if (inner === undefined || g.node === self.node || selfGw) continue;
    if (parseIP(iIP)!.family !== selfFamily) {
      skip(what, `internal IP ${iIP} is not in the address family of this node's ${self.internalIP}`);
      continue;
    }
    if (seenInternal.has(iIP) || iIP === endpoints[0]!.ip) {
      const owner = seenInternal.has(iIP) ? 'another local gateway' : 'this node';
      skip(what, `internal IP ${iIP} is already used by ${owner}`);
      continue;
    }
    seenInternal.add(iIP);
    localPeers.push({
      key: gatewayKey(self.cluster, g.node),
      cluster: self.cluster,
      node: g.node,
      priority: g.priority,
      draining: g.draining === true,
      inner,
      mac: innerMAC(inner),
      underlay: iIP,
      dev: INTERNAL_LINK,
    });
  }

  // --- Remote gateways --------------------------------------------------------------------------
  const localEndpoint = new Map<string, string>();
  for (const e of endpoints) if (!localEndpoint.has(e.ip)) localEndpoint.set(e.ip, e.what);
  const remoteEndpoint = new Map<string, string>();
  interface Remote {
    exp: ClusterExport;
    mode: Mode;
    peers: Peer[];
  }
  const usable: Remote[] = [];
  for (const r of named) {
    const id = r.clusterID;
    // Exports are decoded JSON: guard even fields the type calls required.
    const tunnel = r.tunnel as Partial<ClusterExport['tunnel']> | undefined;
    const port = tunnel?.port;
    const vni = tunnel?.vni;
    if (!isIntIn(port, 1, 65535) || !isIntIn(vni, 0, MAX_VNI)) {
      skip(`export of cluster ${q(id)}`, `tunnel port ${q(port)} or VNI ${q(vni)} is out of range`);
      continue;
    }
    if (slots.get(id) === undefined) {
      skip(
        `export of cluster ${q(id)}`,
        'no free inner address slot: the inner CIDR is too small for the ClusterSet',
      );
      continue;
    }
    const mode = modeOf(r.mode, `mode of cluster ${q(id)}`, skip);
    const slotting = gatewaySlots(r.gateways ?? []);
    for (const { gateway, reason } of slotting.rejected) {
      skip(`gateway ${q(gateway.node)} of cluster ${q(id)}`, reason);
    }
    const peers: Peer[] = [];
    for (const { gateway: g, slot } of slotting.slotted) {
      const what = `gateway ${q(g.node)} of cluster ${q(id)}`;
      const reason = remoteGatewayProblem(g, underlayFamily, localEndpoint, remoteEndpoint);
      if (reason) {
        skip(what, reason);
        continue;
      }
      const gIP = canonicalIP(g.gatewayIP)!;
      remoteEndpoint.set(gIP, `gateway ${q(g.node)} of cluster ${q(id)}`);
      const inner = innerOf(id, slot)!;
      peers.push({
        key: gatewayKey(id, g.node),
        cluster: id,
        node: g.node,
        priority: g.priority,
        draining: g.draining === true,
        inner,
        mac: innerMAC(inner),
        underlay: gIP,
        dev: CROSS_LINK,
      });
    }
    usable.push({ exp: r, mode, peers });
  }

  // --- Which remote CIDRs may be routed --------------------------------------------------------
  const protectedCIDRs: Claim[] = [];
  const claimLocal = (list: readonly string[], kind: string): void => {
    for (const s of list) {
      const c = parseCIDR(s);
      if (c) protectedCIDRs.push({ cidr: c, what: `local ${kind} ${formatCIDR(c)}` });
      else skip(`local ${kind} ${q(s)}`, 'not a CIDR; it cannot be protected from overlapping remote CIDRs');
    }
  };
  claimLocal(local.podCIDRs, 'podCIDR');
  claimLocal(local.serviceCIDRs, 'serviceCIDR');
  for (const s of input.options.rootRoutes ?? []) {
    const c = parseCIDR(s);
    if (c)
      protectedCIDRs.push({ cidr: c, what: `host route ${formatCIDR(c)}, which mcgw must not override` });
    else skip(`root route ${q(s)}`, 'not a CIDR; ignored');
  }
  for (const p of protectedCIDRs) {
    if (cidrsOverlap(p.cidr, opts.inner)) skip(`innerCIDR ${formatCIDR(opts.inner)}`, `overlaps ${p.what}`);
  }
  protectedCIDRs.push({ cidr: opts.inner, what: `the inner CIDR ${formatCIDR(opts.inner)}` });
  const tunnelEnds: Claim[] = [];
  for (const [ip, what] of [...localEndpoint, ...remoteEndpoint]) {
    tunnelEnds.push({ cidr: hostCIDR(parseIP(ip)!), what: `tunnel endpoint ${ip} (${what})` });
  }

  const won: (Claim & { cluster: string })[] = [];
  const routes: Route[] = [];
  for (const r of usable) {
    const id = r.exp.clusterID;
    const mine = new Set<string>();
    const peers = selfGw ? r.peers : localPeers;
    const nexthops = pick(peers, selfGw ? r.mode : localMode, liveness, demoted);
    const lists: [string, readonly string[]][] = [
      ['podCIDR', r.exp.podCIDRs ?? []],
      ['serviceCIDR', r.exp.serviceCIDRs ?? []],
    ];
    for (const [kind, list] of lists) {
      for (const s of list) {
        const what = `${kind} ${q(s)} of cluster ${q(id)}`;
        const c = parseCIDR(s);
        if (!c) {
          skip(what, 'not a CIDR');
          continue;
        }
        const text = formatCIDR(c);
        if (mine.has(text)) continue; // the same network listed twice routes the same way
        const reason = cidrProblem(c, protectedCIDRs, tunnelEnds, won, id);
        if (reason) {
          skip(what, reason);
          continue;
        }
        mine.add(text);
        won.push({ cidr: c, what: `${kind} ${text} of cluster ${q(id)}`, cluster: id });
        routes.push(
          nexthops.length > 0
            ? {
                dst: text,
                protocol: MCGW_ROUTE_PROTOCOL,
                type: 'unicast',
                nexthops: nexthops.map((n) => ({ ...n })),
              }
            : { dst: text, protocol: MCGW_ROUTE_PROTOCOL, type: 'unreachable', nexthops: [] },
        );
      }
    }
  }

  // --- Kernel objects ---------------------------------------------------------------------------
  const mtu = opts.mtu !== undefined ? { mtu: opts.mtu } : {};
  const links: VxlanLink[] = [
    {
      name: INTERNAL_LINK,
      kind: 'vxlan',
      vni: opts.internalVni,
      port: opts.port,
      local: canonicalIP(self.internalIP)!,
      learning: false,
      // A Gateway's mcgw-i must accept frames local Nodes address to its inner MAC; any other
      // Node's must not wear one (see nodeMAC).
      mac: selfGw ? selfGw.mac : nodeMAC(self.internalIP),
      ...mtu,
      up: true,
    },
  ];
  const addresses: Address[] = [];
  const fdb: FdbEntry[] = [];
  const neighbors: Neighbor[] = [];
  const peers: Peer[] = [];
  const tunnelTo = (p: Peer, port: number, vni: number): void => {
    // The all-zero entry floods what has no better entry (head-end replication); the MAC entry
    // sends unicast to exactly one gateway.
    fdb.push({ dev: p.dev, mac: ZERO_MAC, dst: p.underlay, port, vni });
    fdb.push({ dev: p.dev, mac: p.mac, dst: p.underlay, port, vni });
    neighbors.push({ dev: p.dev, address: p.inner, mac: p.mac });
    peers.push(p);
  };
  if (selfGw) {
    links.push({
      name: CROSS_LINK,
      kind: 'vxlan',
      vni: opts.vni,
      port: opts.port,
      local: selfGw.underlay,
      learning: false,
      mac: selfGw.mac,
      ...mtu,
      up: true,
    });
    addresses.push({ dev: CROSS_LINK, address: `${selfGw.inner}/32` });
    // Each remote gets its own port and VNI in the FDB, so clusters need not agree on them.
    for (const r of usable) for (const p of r.peers) tunnelTo(p, r.exp.tunnel.port, r.exp.tunnel.vni);
  } else {
    for (const p of localPeers) tunnelTo(p, opts.port, opts.internalVni);
  }

  // Canonical order, so equal plans are equal arrays. NUL separates fields no value contains.
  const sortBy = <T>(xs: T[], key: (x: T) => string): void => {
    xs.sort((x, y) => cmp(key(x), key(y)));
  };
  sortBy(links, (l) => l.name);
  sortBy(addresses, (a) => `${a.dev}\0${a.address}`);
  sortBy(fdb, (f) => `${f.dev}\0${f.mac}\0${f.dst}`);
  sortBy(neighbors, (n) => `${n.dev}\0${n.address}`);
  sortBy(routes, (r) => r.dst);
  sortBy(skipped, (x) => `${x.what}\0${x.reason}`);

  return {
    desired: { links, addresses, fdb, neighbors, routes },
    skipped,
    peers,
    ...(selfGw ? { selfInner: selfGw.inner } : {}),
  };
}

function remoteGatewayProblem(
  g: ExportedGateway,
  underlayFamily: 4 | 6 | undefined,
  localEndpoint: ReadonlyMap<string, string>,
  remoteEndpoint: ReadonlyMap<string, string>,
): string | undefined {
  const r = unusableReason(g.gatewayIP);
  if (r) return `gateway IP ${q(g.gatewayIP)}: ${r}`;
  const ip = canonicalIP(g.gatewayIP)!;
  // One VXLAN device speaks one underlay family.
  if (underlayFamily !== undefined && parseIP(ip)!.family !== underlayFamily) {
    return `gateway IP ${ip} is not in the address family of this gateway's underlay`;
  }
  const mine = localEndpoint.get(ip);
  if (mine) return `gateway IP ${ip} is ${mine}`;
  const theirs = remoteEndpoint.get(ip);
  if (theirs) return `gateway IP ${ip} is already used by ${theirs}`;
  return undefined;
}

function cidrProblem(
  c: ParsedCIDR,
  protectedCIDRs: readonly Claim[],
  tunnelEnds: readonly Claim[],
  won: readonly (Claim & { cluster: string })[],
  cluster: string,
): string | undefined {
  if (c.family !== 4) {
    // The kernel cannot route IPv6 through the IPv4 inner nexthops ("IPv6 does not support RTA_VIA").
    return 'IPv6 CIDRs are not routed: tunnel inner addresses are IPv4';
  }
  if (c.prefix === 0) return 'a default route is never taken from an export';
  for (const p of protectedCIDRs) if (cidrsOverlap(c, p.cidr)) return `overlaps ${p.what}`;
  for (const t of tunnelEnds) {
    if (cidrsOverlap(c, t.cidr)) return `contains ${t.what}; routing it into the tunnel would loop`;
  }
  for (const w of won) {
    if (w.cluster !== cluster && cidrsOverlap(c, w.cidr)) {
      return `overlaps ${w.what}, whose cluster ID sorts first and wins`;
    }
  }
  return undefined;
}
