// Shared fixtures for the data-plane tests: a small ClusterSet, a validator for planner output and
// an in-memory kernel that applies Changes with the kernel's own rules (and is stricter about order).
import assert from 'node:assert/strict';
import { cidrsOverlap, parseCIDR } from '../../src/util/ip.ts';
import { canonicalKey } from '../../src/datapath/addr.ts';
import { MCGW_ROUTE_PROTOCOL, OWNED_LINK_PREFIX } from '../../src/datapath/constants.ts';
import { isOwnedAddress, isOwnedRoute, routeKey } from '../../src/datapath/diff.ts';
import type { DatapathPlan } from '../../src/datapath/plan.ts';
import type {
  Change,
  ClusterExport,
  DesiredState,
  ExportedGateway,
  FdbEntry,
  ObservedLink,
  ObservedRoute,
  ObservedState,
  PlanInput,
  PlanOptions,
} from '../../src/datapath/types.ts';

// Every address here is in 198.18.0.0/15 (RFC 2544), the only range lab and test hosts may use:
//   198.18.0.0/20    underlay: gateway IPs, a /24 per cluster (alpha .0, beta .1, gamma .2)
//   198.18.32.0/24   the Node network inside each cluster (internal IPs)
//   198.18.48.0/20, 198.18.64.0/20, 198.18.80.0/20   podCIDRs of alpha, beta and gamma
//   198.19.1.0/24 .. 198.19.3.0/24   serviceCIDRs of alpha, beta and gamma (in 198.19.0.0/18)
//   198.19.128.0/17  the inner CIDR
export const INNER = '198.19.128.0/17';

export const OPTIONS: PlanOptions = { vxlanPort: 4789, vni: 4242, innerCIDR: INNER };

const gw = (node: string, priority: number, gatewayIP: string, internalIP: string): ExportedGateway => ({
  node,
  priority,
  gatewayIP,
  internalIP,
});

export const LOCAL_GATEWAYS: ExportedGateway[] = [
  gw('a-gw1', 100, '198.18.0.2', '198.18.32.2'),
  gw('a-gw2', 99, '198.18.0.3', '198.18.32.3'),
];

export const BETA: ClusterExport = {
  clusterID: 'beta',
  gateways: [gw('b-gw1', 100, '198.18.1.2', '198.18.32.2'), gw('b-gw2', 99, '198.18.1.3', '198.18.32.3')],
  podCIDRs: ['198.18.64.0/20'],
  serviceCIDRs: ['198.19.2.0/24'],
  tunnel: { port: 4789, vni: 4242 },
  mode: 'ActiveStandby',
};

export const GAMMA: ClusterExport = {
  clusterID: 'gamma',
  gateways: [
    gw('c-gw1', 100, '198.18.2.2', '198.18.32.2'),
    gw('c-gw2', 99, '198.18.2.3', '198.18.32.3'),
    gw('c-gw3', 98, '198.18.2.4', '198.18.32.4'),
  ],
  podCIDRs: ['198.18.80.0/20'],
  serviceCIDRs: ['198.19.3.0/24'],
  // A different port and VNI than ours: they go into the FDB entries towards gamma.
  tunnel: { port: 4790, vni: 77 },
  mode: 'ActiveActive',
};

export const ALL_REMOTE_GATEWAYS = ['beta/b-gw1', 'beta/b-gw2', 'gamma/c-gw1', 'gamma/c-gw2', 'gamma/c-gw3'];
export const ALL_LOCAL_GATEWAYS = ['alpha/a-gw1', 'alpha/a-gw2'];

export const alive = (...keys: string[]): Map<string, boolean> => new Map(keys.map((k) => [k, true]));

/** Gateway Node a-gw1 of cluster alpha, with beta and gamma as remotes, everyone alive. */
export function gatewayInput(over: Partial<PlanInput> = {}): PlanInput {
  return {
    self: {
      node: 'a-gw1',
      cluster: 'alpha',
      isGateway: true,
      gatewayIP: '198.18.0.2',
      internalIP: '198.18.32.2',
    },
    local: {
      gateways: LOCAL_GATEWAYS,
      mode: 'ActiveStandby',
      podCIDRs: ['198.18.48.0/20'],
      serviceCIDRs: ['198.19.1.0/24'],
    },
    remotes: [BETA, GAMMA],
    liveness: alive(...ALL_REMOTE_GATEWAYS),
    options: OPTIONS,
    ...over,
  };
}

/** Worker Node w1 of cluster alpha. */
export function workerInput(over: Partial<PlanInput> = {}): PlanInput {
  return gatewayInput({
    self: { node: 'a-w1', cluster: 'alpha', isGateway: false, internalIP: '198.18.32.10' },
    liveness: alive(...ALL_LOCAL_GATEWAYS),
    ...over,
  });
}

export const EMPTY: ObservedState = { links: [], addresses: [], fdb: [], neighbors: [], routes: [] };

// ---- Validator ---------------------------------------------------------------------------------

/** Invariants every plan must satisfy, whatever the input. */
export function validatePlan(input: PlanInput, plan: DatapathPlan): void {
  const d = plan.desired;
  const names = d.links.map((l) => l.name);
  assert.equal(new Set(names).size, names.length, 'duplicate link names');
  const links = new Set(names);
  for (const l of d.links) {
    assert.ok(l.name.startsWith(OWNED_LINK_PREFIX), `link ${l.name} not owned`);
    assert.equal(l.learning, false);
    assert.equal(l.up, true);
  }
  const inner = parseCIDR(input.options.innerCIDR)!;
  for (const a of d.addresses) {
    assert.ok(links.has(a.dev), `address on unknown link ${a.dev}`);
    const c = parseCIDR(a.address);
    assert.ok(c, `address ${a.address} is not ip/prefix`);
    assert.ok(
      cidrsOverlap(c, '198.18.0.0/15') || cidrsOverlap(c, inner),
      `address ${a.address} outside 198.18.0.0/15 and the inner CIDR`,
    );
    assert.ok(cidrsOverlap(c, inner) && c.prefix === 32, `address ${a.address} is not an inner /32`);
  }
  for (const f of d.fdb) assert.ok(links.has(f.dev), `fdb on unknown link ${f.dev}`);
  const neigh = new Set(d.neighbors.map((n) => `${n.dev}|${n.address}`));
  for (const n of d.neighbors) assert.ok(links.has(n.dev), `neighbor on unknown link ${n.dev}`);
  const macs = new Map(d.neighbors.map((n) => [`${n.dev}|${n.address}`, n.mac]));
  const fdbMacs = new Set(d.fdb.map((f) => `${f.dev}|${f.mac}`));
  const dsts = d.routes.map((r) => r.dst);
  assert.equal(new Set(dsts).size, dsts.length, 'duplicate route destinations');
  const protectedCIDRs = [
    ...input.local.podCIDRs,
    ...input.local.serviceCIDRs,
    ...(input.options.rootRoutes ?? []),
    input.options.innerCIDR,
  ].filter((s) => parseCIDR(s) !== undefined);
  for (const r of d.routes) {
    assert.equal(r.protocol, MCGW_ROUTE_PROTOCOL);
    assert.equal(canonicalKey(r.dst), r.dst, 'route dst not canonical');
    for (const p of protectedCIDRs) assert.ok(!cidrsOverlap(r.dst, p), `route ${r.dst} overlaps ${p}`);
    if (r.type === 'unreachable') assert.equal(r.nexthops.length, 0);
    else assert.ok(r.nexthops.length > 0, `unicast route ${r.dst} without nexthops`);
    const vias = r.nexthops.map((n) => n.via);
    assert.equal(new Set(vias).size, vias.length, 'duplicate nexthop');
    for (const n of r.nexthops) {
      assert.ok(links.has(n.dev), `route ${r.dst} via unknown link ${n.dev}`);
      assert.ok(cidrsOverlap(`${n.via}/32`, inner), `nexthop ${n.via} outside the inner CIDR`);
      assert.ok(neigh.has(`${n.dev}|${n.via}`), `nexthop ${n.via} has no neighbor entry`);
      assert.ok(
        fdbMacs.has(`${n.dev}|${macs.get(`${n.dev}|${n.via}`)}`),
        `nexthop ${n.via} MAC has no FDB entry`,
      );
      assert.ok(n.weight >= 1);
    }
  }
  // Remote routes never overlap each other across clusters.
  for (let i = 0; i < dsts.length; i++) {
    for (let j = i + 1; j < dsts.length; j++) {
      const a = d.routes[i]!;
      const b = d.routes[j]!;
      if (cidrsOverlap(a.dst, b.dst)) {
        assert.deepEqual(a.nexthops, b.nexthops, `overlapping ${a.dst} and ${b.dst} route differently`);
      }
    }
  }
  for (const p of plan.peers) assert.ok(links.has(p.dev));
}

// ---- In-memory kernel --------------------------------------------------------------------------

export interface Kernel {
  links: ObservedLink[];
  addresses: ObservedState['addresses'][number][];
  fdb: FdbEntry[];
  neighbors: ObservedState['neighbors'][number][];
  routes: ObservedRoute[];
}

export const toKernel = (s: ObservedState): Kernel =>
  structuredClone({
    links: [...s.links],
    addresses: [...s.addresses],
    fdb: [...s.fdb],
    neighbors: [...s.neighbors],
    routes: [...s.routes],
  });

const fdbSame = (a: FdbEntry, b: FdbEntry, k: Kernel): boolean => {
  const link = k.links.find((l) => l.name === a.dev);
  return (
    a.dev === b.dev &&
    a.mac === b.mac &&
    canonicalKey(a.dst) === canonicalKey(b.dst) &&
    (a.port ?? link?.port) === (b.port ?? link?.port) &&
    (a.vni ?? link?.vni) === (b.vni ?? link?.vni)
  );
};

/** Applies one change the way the kernel would, throwing where the kernel would fail. */
export function applyChange(k: Kernel, c: Change): void {
  const hasLink = (name: string): boolean => k.links.some((l) => l.name === name);
  const need = (name: string): void => assert.ok(hasLink(name), `${c.op}: no link ${name}`);
  switch (c.op) {
    case 'link-add':
      assert.ok(!hasLink(c.link.name), `link-add: ${c.link.name} exists`);
      // The kernel refuses a second VXLAN device with the same VNI and port.
      assert.ok(
        !k.links.some((l) => l.kind === 'vxlan' && l.vni === c.link.vni && l.port === c.link.port),
        'link-add: VNI in use',
      );
      k.links.push({ ...c.link });
      return;
    case 'link-set': {
      const l = k.links.find((x) => x.name === c.name);
      assert.ok(l, `link-set: no link ${c.name}`);
      // As the kernel does: a MAC change flushes neighbors, going down flushes routes too.
      if (c.mac !== undefined || c.up === false) k.neighbors = k.neighbors.filter((n) => n.dev !== c.name);
      if (c.up === false) k.routes = k.routes.filter((r) => !r.nexthops.some((n) => n.dev === c.name));
      if (c.up !== undefined) l.up = c.up;
      if (c.mac !== undefined) l.mac = c.mac;
      if (c.mtu !== undefined) l.mtu = c.mtu;
      return;
    }
    case 'link-del': {
      need(c.name);
      // Stricter than the kernel, which would flush them: mcgw must delete its routes first.
      const users = k.routes.filter((r) => isOwnedRoute(r) && r.nexthops.some((n) => n.dev === c.name));
      assert.equal(users.length, 0, `link-del ${c.name} while routes use it`);
      k.links = k.links.filter((l) => l.name !== c.name);
      k.addresses = k.addresses.filter((a) => a.dev !== c.name);
      k.fdb = k.fdb.filter((f) => f.dev !== c.name);
      k.neighbors = k.neighbors.filter((n) => n.dev !== c.name);
      k.routes = k.routes.filter((r) => !r.nexthops.some((n) => n.dev === c.name));
      return;
    }
    case 'addr-add':
      need(c.address.dev);
      if (!k.addresses.some((a) => a.dev === c.address.dev && a.address === c.address.address)) {
        k.addresses.push({ ...c.address });
      }
      return;
    case 'addr-del': {
      const before = k.addresses.length;
      k.addresses = k.addresses.filter((a) => !(a.dev === c.address.dev && a.address === c.address.address));
      assert.equal(k.addresses.length, before - 1, 'addr-del: no such address');
      return;
    }
    case 'fdb-add':
      need(c.entry.dev);
      assert.ok(!k.fdb.some((f) => fdbSame(f, c.entry, k)), 'fdb-add: entry exists');
      k.fdb.push({ ...c.entry });
      return;
    case 'fdb-del': {
      const before = k.fdb.length;
      k.fdb = k.fdb.filter((f) => !fdbSame(f, c.entry, k));
      assert.equal(k.fdb.length, before - 1, 'fdb-del: no such entry');
      return;
    }
    case 'neigh-replace':
      need(c.neighbor.dev);
      k.neighbors = k.neighbors.filter(
        (n) => !(n.dev === c.neighbor.dev && n.address === c.neighbor.address),
      );
      k.neighbors.push({ ...c.neighbor });
      return;
    case 'neigh-del': {
      const before = k.neighbors.length;
      k.neighbors = k.neighbors.filter(
        (n) => !(n.dev === c.neighbor.dev && n.address === c.neighbor.address),
      );
      assert.equal(k.neighbors.length, before - 1, 'neigh-del: no such neighbor');
      return;
    }
    case 'route-replace': {
      for (const n of c.route.nexthops) {
        need(n.dev);
        assert.ok(k.links.find((l) => l.name === n.dev)?.up, `route-replace via ${n.dev}, which is down`);
      }
      const key = routeKey(c.route);
      const old = k.routes.find((r) => routeKey(r) === key);
      assert.ok(!old || isOwnedRoute(old), `route-replace would take over foreign route ${key}`);
      k.routes = k.routes.filter((r) => routeKey(r) !== key);
      k.routes.push(structuredClone(c.route) as ObservedRoute);
      return;
    }
    case 'route-del': {
      const key = routeKey(c.route);
      assert.ok(isOwnedRoute(c.route), 'route-del of a foreign route');
      const before = k.routes.length;
      k.routes = k.routes.filter((r) => routeKey(r) !== key);
      assert.equal(k.routes.length, before - 1, `route-del: no route ${key}`);
      return;
    }
  }
}

export function applyAll(s: ObservedState, changes: readonly Change[]): Kernel {
  const k = toKernel(s);
  for (const c of changes) applyChange(k, c);
  return k;
}

/** A canonical form of state, for comparing regardless of order and spelling. */
export function normalize(s: ObservedState | DesiredState, which: 'owned' | 'foreign'): unknown {
  const own = which === 'owned';
  const link = (l: ObservedLink): unknown =>
    l.mac === undefined ? { ...l } : { ...l, mac: l.mac.toLowerCase() };
  const sortBy = <T>(xs: T[], f: (x: T) => string): T[] =>
    xs.sort((a, b) => (f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0));
  return {
    links: sortBy(s.links.filter((l) => l.name.startsWith(OWNED_LINK_PREFIX) === own).map(link), (l) =>
      JSON.stringify(l),
    ),
    addresses: sortBy(
      s.addresses
        // Kernel-managed addresses on mcgw links are neither: they come and go with the link.
        .filter((a) => (own ? isOwnedAddress(a) : !a.dev.startsWith(OWNED_LINK_PREFIX)))
        .map((a) => `${a.dev}|${canonicalKey(a.address)}`),
      (x) => x,
    ),
    fdb: sortBy(
      s.fdb
        .filter((f) => f.dev.startsWith(OWNED_LINK_PREFIX) === own)
        .map((f) => `${f.dev}|${f.mac}|${f.dst}|${f.port}|${f.vni}`),
      (x) => x,
    ),
    neighbors: sortBy(
      s.neighbors
        .filter((n) => n.dev.startsWith(OWNED_LINK_PREFIX) === own)
        .map((n) => `${n.dev}|${n.address}|${n.mac}`),
      (x) => x,
    ),
    routes: sortBy(
      s.routes
        .filter((r) => isOwnedRoute(r) === own)
        .map((r) => ({
          key: routeKey(r),
          type: r.type,
          nexthops: [...r.nexthops].map((n) => `${n.dev}|${n.via}|${n.weight}`).sort(),
        })),
      (r) => r.key,
    ),
  };
}

/**
 * Asserts the owned part of `k` is what `desired` asks for. A desired link without a MAC or MTU
 * accepts any, so those are compared only where desired sets them.
 */
export function assertMatches(k: ObservedState, desired: DesiredState): void {
  const want = new Map(desired.links.map((l) => [l.name, l]));
  const links = k.links.map((l) => {
    const w = want.get(l.name);
    const out: ObservedLink = { ...l };
    if (w && w.mac === undefined) delete out.mac;
    if (w && w.mtu === undefined) delete out.mtu;
    return out;
  });
  assert.deepEqual(normalize({ ...k, links }, 'owned'), normalize(desired, 'owned'));
}
