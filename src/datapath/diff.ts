// From observed to desired kernel state: the ordered changes that turn one into the other,
// touching only what mcgw owns (links named mcgw-*, whatever sits on them, and routes of protocol
// MCGW_ROUTE_PROTOCOL). Order is make-before-break:
//   1. links that must be re-created (VNI, port, local address cannot change in place) go first,
//      their routes before them;
//   2. then links, addresses, FDB entries, neighbors and routes are added or replaced, in that
//      order, so every object finds what it depends on;
//   3. then what is no longer wanted is deleted in the reverse order, routes before links.
// A route whose nexthops move (a failover) is one `route replace`, which the kernel applies
// atomically, so there is never a moment without a route.
import { parseIP } from '../util/ip.ts';
import { canonicalKey } from './addr.ts';
import {
  DEFAULT_METRIC_V4,
  DEFAULT_METRIC_V6,
  MAIN_TABLE,
  MCGW_ROUTE_PROTOCOL,
  OWNED_LINK_PREFIX,
} from './constants.ts';
import type {
  Address,
  Change,
  DesiredState,
  FdbEntry,
  Neighbor,
  Nexthop,
  ObservedLink,
  ObservedRoute,
  ObservedState,
  Route,
  VxlanLink,
} from './types.ts';

export { renderBatches, renderBridgeBatch, renderIpBatch } from './render.ts';
export type { Batch } from './render.ts';

export const isOwnedLinkName = (name: string): boolean => name.startsWith(OWNED_LINK_PREFIX);

export const isOwnedRoute = (r: { protocol: number }): boolean => r.protocol === MCGW_ROUTE_PROTOCOL;

function isLinkLocalV6(address: string): boolean {
  const ip = parseIP(address.split('/')[0] ?? '');
  return ip !== undefined && ip.family === 6 && ip.bytes[0] === 0xfe && (ip.bytes[1]! & 0xc0) === 0x80;
}

/** Addresses on mcgw links are ours, except IPv6 link-local ones, which the kernel manages. */
export const isOwnedAddress = (a: Address): boolean => isOwnedLinkName(a.dev) && !isLinkLocalV6(a.address);

// ---- Identity and equality ---------------------------------------------------------------------

export function routeKey(r: { dst: string; table?: number; metric?: number }): string {
  const dst = canonicalKey(r.dst);
  const metric = r.metric ?? (dst.includes(':') ? DEFAULT_METRIC_V6 : DEFAULT_METRIC_V4);
  return `${r.table ?? MAIN_TABLE}|${dst}|${metric}`;
}

const nexthopKey = (n: Nexthop): string => `${n.dev}|${canonicalKey(n.via)}|${n.weight}`;

function sameRoute(a: ObservedRoute, b: Route): boolean {
  if (a.type !== b.type) return false;
  if (b.type !== 'unicast') return true;
  const x = a.nexthops.map(nexthopKey).sort();
  const y = b.nexthops.map(nexthopKey).sort();
  return x.length === y.length && x.every((k, i) => k === y[i]);
}

const addrKey = (a: Address): string => `${a.dev}|${canonicalKey(a.address)}`;
const neighKey = (n: Neighbor): string => `${n.dev}|${canonicalKey(n.address)}`;

/** FDB identity includes port and VNI: the kernel keeps remotes differing in either apart. */
function fdbKey(f: FdbEntry, links: ReadonlyMap<string, { port?: number; vni?: number }>): string {
  const link = links.get(f.dev);
  const port = f.port ?? link?.port ?? '';
  const vni = f.vni ?? link?.vni ?? '';
  return `${f.dev}|${f.mac.toLowerCase()}|${canonicalKey(f.dst)}|${port}|${vni}`;
}

/** Whether the link's kernel identity differs, so it can only be deleted and added again. */
function mustRecreate(cur: ObservedLink, want: VxlanLink): boolean {
  return (
    cur.kind !== want.kind ||
    cur.vni !== want.vni ||
    cur.port !== want.port ||
    canonicalKey(cur.local) !== canonicalKey(want.local) ||
    cur.learning !== want.learning ||
    (cur.dev ?? '') !== (want.dev ?? '')
  );
}

/**
 * The in-place link change needed, only with the attributes that differ (an absent desired MAC or
 * MTU means any): setting even an unchanged MAC makes the kernel flush the link's neighbors.
 */
function linkSet(cur: ObservedLink, want: VxlanLink): Extract<Change, { op: 'link-set' }> | undefined {
  const set: Extract<Change, { op: 'link-set' }> = { op: 'link-set', name: want.name };
  if (want.mac !== undefined && cur.mac?.toLowerCase() !== want.mac.toLowerCase()) set.mac = want.mac;
  if (want.mtu !== undefined && cur.mtu !== want.mtu) set.mtu = want.mtu;
  if (cur.up !== want.up) set.up = want.up;
  return set.mac !== undefined || set.mtu !== undefined || set.up !== undefined ? set : undefined;
}

const byKey =
  <T>(key: (x: T) => string) =>
  (a: T, b: T): number => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

// ---- Diff --------------------------------------------------------------------------------------

export interface RouteConflict {
  desired: Route;
  /** A route of another protocol holding the same table, destination and metric. */
  foreign: ObservedRoute;
}

/**
 * Desired routes with the same table, destination and metric as another owner's route, which a
 * `route replace` would silently take over. diffState leaves them out; the agent should report
 * them. (A foreign route that ours would merely shadow is the planner's business: rootRoutes.)
 */
export function routeConflicts(current: ObservedState, desired: DesiredState): RouteConflict[] {
  const foreign = new Map<string, ObservedRoute>();
  for (const r of current.routes) if (!isOwnedRoute(r)) foreign.set(routeKey(r), r);
  const out: RouteConflict[] = [];
  for (const d of desired.routes) {
    const f = foreign.get(routeKey(d));
    if (f) out.push({ desired: d, foreign: f });
  }
  return out;
}

/**
 * The changes that turn `current` into `desired`, in an order safe to apply one by one. Objects
 * mcgw does not own are neither changed nor deleted; desired routes that would override a foreign
 * route are left out (see routeConflicts). diffState(desired, desired) is empty.
 */
export function diffState(current: ObservedState, desired: DesiredState): Change[] {
  const changes: Change[] = [];
  const curLinks = new Map<string, ObservedLink>();
  for (const l of current.links) if (isOwnedLinkName(l.name)) curLinks.set(l.name, l);
  const wantLinks = new Map<string, VxlanLink>();
  for (const l of desired.links) wantLinks.set(l.name, l);

  const recreate = new Set<string>();
  for (const [name, want] of wantLinks) {
    const cur = curLinks.get(name);
    if (cur && mustRecreate(cur, want)) recreate.add(name);
  }
  // Objects on links that exist now and are not re-created; everything else is gone or will be.
  const survives = (dev: string): boolean => curLinks.has(dev) && !recreate.has(dev);
  const sets = new Map<string, Extract<Change, { op: 'link-set' }>>();
  for (const [name, want] of wantLinks) {
    const cur = curLinks.get(name);
    const set = cur && !recreate.has(name) ? linkSet(cur, want) : undefined;
    if (set) sets.set(name, set);
  }
  // The kernel keeps no neighbors across a MAC change and no routes through a down link (it
  // flushes them and refuses new ones), so those count as absent and are added after the link-set.
  const noNeighbors = (dev: string): boolean => sets.get(dev)?.mac !== undefined;
  const noRoutes = (r: ObservedRoute): boolean => r.nexthops.some((n) => curLinks.get(n.dev)?.up === false);

  // 1. Re-created links: their routes, then the links themselves.
  const ownedRoutes = current.routes.filter(isOwnedRoute);
  const routesGoneEarly = new Set<ObservedRoute>();
  for (const r of [...ownedRoutes].sort(byKey(routeKey))) {
    if (r.nexthops.some((n) => recreate.has(n.dev))) {
      changes.push({ op: 'route-del', route: r });
      routesGoneEarly.add(r);
    }
  }
  for (const name of [...recreate].sort()) changes.push({ op: 'link-del', name });

  // 2. Make.
  for (const want of [...wantLinks.values()].sort(byKey((l) => l.name))) {
    const set = sets.get(want.name);
    if (!curLinks.has(want.name) || recreate.has(want.name)) changes.push({ op: 'link-add', link: want });
    else if (set) changes.push(set);
  }

  const curAddrs = new Map<string, Address>();
  for (const a of current.addresses) {
    if (isOwnedAddress(a) && survives(a.dev)) curAddrs.set(addrKey(a), a);
  }
  const wantAddrs = new Map(desired.addresses.map((a) => [addrKey(a), a] as const));
  for (const [k, a] of [...wantAddrs].sort(byKey(([k]) => k))) {
    if (!curAddrs.has(k)) changes.push({ op: 'addr-add', address: a });
  }

  const curFdb = new Map<string, FdbEntry>();
  for (const f of current.fdb) {
    if (isOwnedLinkName(f.dev) && survives(f.dev)) curFdb.set(fdbKey(f, curLinks), f);
  }
  const wantFdb = new Map(desired.fdb.map((f) => [fdbKey(f, wantLinks), f] as const));
  for (const [k, f] of [...wantFdb].sort(byKey(([k]) => k))) {
    if (!curFdb.has(k)) changes.push({ op: 'fdb-add', entry: f });
  }

  const curNeigh = new Map<string, Neighbor>();
  for (const n of current.neighbors) {
    if (isOwnedLinkName(n.dev) && survives(n.dev) && !noNeighbors(n.dev)) curNeigh.set(neighKey(n), n);
  }
  const wantNeigh = new Map(desired.neighbors.map((n) => [neighKey(n), n] as const));
  for (const [k, n] of [...wantNeigh].sort(byKey(([k]) => k))) {
    const cur = curNeigh.get(k);
    if (!cur || cur.mac.toLowerCase() !== n.mac.toLowerCase()) {
      changes.push({ op: 'neigh-replace', neighbor: n });
    }
  }

  const curRoutes = new Map<string, ObservedRoute>();
  for (const r of ownedRoutes) {
    if (!routesGoneEarly.has(r) && !noRoutes(r)) curRoutes.set(routeKey(r), r);
  }
  const foreign = new Set(current.routes.filter((r) => !isOwnedRoute(r)).map(routeKey));
  const wantRoutes = new Map(desired.routes.map((r) => [routeKey(r), r] as const));
  for (const [k, r] of [...wantRoutes].sort(byKey(([k]) => k))) {
    if (foreign.has(k)) continue;
    const cur = curRoutes.get(k);
    if (!cur || !sameRoute(cur, r)) changes.push({ op: 'route-replace', route: r });
  }

  // 3. Break, in reverse dependency order.
  for (const [k, r] of [...curRoutes].sort(byKey(([k]) => k))) {
    if (!wantRoutes.has(k)) changes.push({ op: 'route-del', route: r });
  }
  // Objects on links about to be deleted go with them; only survivors need explicit deletes.
  const staysAfter = (dev: string): boolean => wantLinks.has(dev);
  for (const [k, n] of [...curNeigh].sort(byKey(([k]) => k))) {
    if (!wantNeigh.has(k) && staysAfter(n.dev)) changes.push({ op: 'neigh-del', neighbor: n });
  }
  for (const [k, f] of [...curFdb].sort(byKey(([k]) => k))) {
    if (!wantFdb.has(k) && staysAfter(f.dev)) changes.push({ op: 'fdb-del', entry: f });
  }
  for (const [k, a] of [...curAddrs].sort(byKey(([k]) => k))) {
    if (!wantAddrs.has(k) && staysAfter(a.dev)) changes.push({ op: 'addr-del', address: a });
  }
  for (const name of [...curLinks.keys()].sort()) {
    if (!wantLinks.has(name)) changes.push({ op: 'link-del', name });
  }
  return changes;
}
