// Changes as iproute2 batch scripts. `ip` has no FDB object (VXLAN FDB entries are `bridge fdb`),
// so a change list becomes alternating `ip -batch -` and `bridge -batch -` scripts, run in order.
// Every value is checked to be one plain token, so no input can smuggle in a second command.
import { MCGW_ROUTE_PROTOCOL } from './constants.ts';
import type { Change, FdbEntry, ObservedRoute, Route, VxlanLink } from './types.ts';

export interface Batch {
  tool: 'ip' | 'bridge';
  /** Newline-terminated lines for `<tool> -batch -`. */
  script: string;
}

const TOKEN = /^[0-9A-Za-z._:/-]+$/;
// IFNAMSIZ is 16 including the terminating NUL.
const IFNAME = /^[0-9A-Za-z._-]{1,15}$/;

function tok(v: string | number): string {
  const s = String(v);
  if (!TOKEN.test(s)) throw new TypeError(`refusing to render ${JSON.stringify(s)}: not a plain token`);
  return s;
}

function ifname(v: string): string {
  if (!IFNAME.test(v)) throw new TypeError(`refusing to render interface name ${JSON.stringify(v)}`);
  return v;
}

function routeHead(verb: string, r: Route | ObservedRoute): string {
  const type = r.type === 'unicast' ? '' : `${tok(r.type)} `;
  const table = r.table !== undefined ? ` table ${tok(r.table)}` : '';
  const metric = r.metric !== undefined ? ` metric ${tok(r.metric)}` : '';
  return `route ${verb} ${type}${tok(r.dst)}${table} proto ${tok(r.protocol)}${metric}`;
}

function renderRouteReplace(r: Route): string {
  if (r.protocol !== MCGW_ROUTE_PROTOCOL)
    throw new TypeError(`refusing to install a route of protocol ${r.protocol}`);
  const head = routeHead('replace', r);
  if (r.type !== 'unicast') return head;
  if (r.nexthops.length === 0) throw new TypeError(`unicast route ${r.dst} has no nexthops`);
  // onlink: the inner nexthops are in no connected subnet; a /32 is all a gateway has.
  const [only] = r.nexthops;
  if (r.nexthops.length === 1 && only) return `${head} via ${tok(only.via)} dev ${ifname(only.dev)} onlink`;
  const hops = r.nexthops.map(
    (n) => `nexthop via ${tok(n.via)} dev ${ifname(n.dev)} weight ${tok(n.weight)} onlink`,
  );
  return `${head} ${hops.join(' ')}`;
}

function renderLinkAdd(l: VxlanLink): string[] {
  const name = ifname(l.name);
  const mac = l.mac !== undefined ? ` address ${tok(l.mac)}` : '';
  const mtu = l.mtu !== undefined ? ` mtu ${tok(l.mtu)}` : '';
  const dev = l.dev !== undefined ? ` dev ${ifname(l.dev)}` : '';
  return [
    `link add ${name}${mac}${mtu} type vxlan id ${tok(l.vni)} dstport ${tok(l.port)} local ${tok(l.local)}${dev} ${l.learning ? 'learning' : 'nolearning'}`,
    // No IPv6 link-local address: nothing needs one, and it would be an address mcgw did not plan.
    `link set dev ${name} addrgenmode none`,
    ...(l.up ? [`link set dev ${name} up`] : []),
  ];
}

function renderLinkSet(c: Extract<Change, { op: 'link-set' }>): string {
  const mac = c.mac !== undefined ? ` address ${tok(c.mac)}` : '';
  const mtu = c.mtu !== undefined ? ` mtu ${tok(c.mtu)}` : '';
  const up = c.up === undefined ? '' : c.up ? ' up' : ' down';
  return `link set dev ${ifname(c.name)}${mac}${mtu}${up}`;
}

function fdbTail(f: FdbEntry): string {
  const port = f.port !== undefined ? ` port ${tok(f.port)}` : '';
  const vni = f.vni !== undefined ? ` vni ${tok(f.vni)}` : '';
  return `${tok(f.mac)} dev ${ifname(f.dev)} dst ${tok(f.dst)}${port}${vni} self`;
}

const isFdb = (c: Change): boolean => c.op === 'fdb-add' || c.op === 'fdb-del';

function renderOne(c: Change): string[] {
  switch (c.op) {
    case 'link-add':
      return renderLinkAdd(c.link);
    case 'link-set':
      return [renderLinkSet(c)];
    case 'link-del':
      return [`link del dev ${ifname(c.name)}`];
    case 'addr-add':
      // replace: re-running a half-applied batch must not fail on what is already there.
      return [`address replace ${tok(c.address.address)} dev ${ifname(c.address.dev)}`];
    case 'addr-del':
      return [`address del ${tok(c.address.address)} dev ${ifname(c.address.dev)}`];
    case 'neigh-replace':
      return [
        `neigh replace ${tok(c.neighbor.address)} lladdr ${tok(c.neighbor.mac)} dev ${ifname(c.neighbor.dev)} nud permanent`,
      ];
    case 'neigh-del':
      return [`neigh del ${tok(c.neighbor.address)} dev ${ifname(c.neighbor.dev)}`];
    case 'route-replace':
      return [renderRouteReplace(c.route)];
    case 'route-del':
      return [routeHead('del', c.route)];
    case 'fdb-add':
      // append, not add: the all-zero MAC carries one entry per remote (head-end replication).
      return [`fdb append ${fdbTail(c.entry)} permanent`];
    case 'fdb-del':
      return [`fdb del ${fdbTail(c.entry)}`];
  }
}

const script = (changes: readonly Change[]): string =>
  changes
    .flatMap(renderOne)
    .map((l) => `${l}\n`)
    .join('');

/** Lines for `ip -batch -`. Throws on FDB changes, which only `bridge` can make (see renderBatches). */
export function renderIpBatch(changes: readonly Change[]): string {
  const fdb = changes.find(isFdb);
  if (fdb) throw new TypeError(`${fdb.op} is not an ip command; use renderBatches or renderBridgeBatch`);
  return script(changes);
}

/** Lines for `bridge -batch -`. Throws on anything but FDB changes. */
export function renderBridgeBatch(changes: readonly Change[]): string {
  const other = changes.find((c) => !isFdb(c));
  if (other) throw new TypeError(`${other.op} is not a bridge command; use renderBatches or renderIpBatch`);
  return script(changes);
}

/** The whole change list as consecutive ip and bridge scripts, to be run in the order given. */
export function renderBatches(changes: readonly Change[]): Batch[] {
  const out: Batch[] = [];
  let run: Change[] = [];
  let tool: Batch['tool'] | undefined;
  const flush = (): void => {
    if (tool && run.length > 0) out.push({ tool, script: script(run) });
    run = [];
  };
  for (const c of changes) {
    const t = isFdb(c) ? 'bridge' : 'ip';
    if (t !== tool) {
      flush();
      tool = t;
    }
    run.push(c);
  }
  flush();
  return out;
}
