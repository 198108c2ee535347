// Reads the kernel's networking state the way the datapath diff wants it, with iproute2's JSON
// output. Runs in the agent's own network namespace, or in `netns` when given (tests, the lab).
import { execFile } from 'node:child_process';
import type {
  Address,
  FdbEntry,
  Neighbor,
  ObservedLink,
  ObservedRoute,
  ObservedState,
} from '../datapath/types.ts';

const PROTOCOLS: Record<string, number> = { redirect: 1, kernel: 2, boot: 3, static: 4 };

interface IpLink {
  ifname: string;
  flags: string[];
  mtu: number;
  address?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; port?: number; local?: string; learning?: boolean };
  };
}
interface IpAddr {
  ifname: string;
  addr_info: { local: string; prefixlen: number }[];
}
interface IpNexthop {
  gateway?: string;
  dev: string;
  weight?: number;
}
interface IpRoute extends IpNexthop {
  type?: string;
  dst: string;
  table?: string;
  protocol?: string;
  metric?: number;
  nexthops?: IpNexthop[];
}

function json<T>(tool: 'ip' | 'bridge', args: string[], netns?: string): Promise<T> {
  const full = [...(netns ? ['-n', netns] : []), '-j', ...args];
  return new Promise((resolve, reject) => {
    execFile(tool, full, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${tool} ${full.join(' ')}: ${stderr.trim() || err.message}`));
      try {
        resolve(JSON.parse(stdout.trim() || '[]') as T);
      } catch (e) {
        reject(new Error(`${tool} ${full.join(' ')}: unreadable JSON: ${(e as Error).message}`));
      }
    });
  });
}

/** Links, addresses, FDB entries, neighbours and IPv4 routes of every table. */
export async function readState(netns?: string): Promise<ObservedState> {
  const [links, addrs, fdbs, neighs, routes] = await Promise.all([
    json<IpLink[]>('ip', ['-d', 'link', 'show'], netns),
    json<IpAddr[]>('ip', ['addr', 'show'], netns),
    json<{ mac: string; ifname?: string; dst?: string; port?: number; vni?: number }[]>(
      'bridge',
      ['fdb', 'show'],
      netns,
    ),
    json<{ dst: string; dev: string; lladdr?: string }[]>('ip', ['neigh', 'show'], netns),
    json<IpRoute[]>('ip', ['route', 'show', 'table', 'all'], netns),
  ]);
  return {
    links: links.map((l): ObservedLink => {
      const d = l.linkinfo?.info_data ?? {};
      return {
        name: l.ifname,
        kind: l.linkinfo?.info_kind ?? 'device',
        vni: d.id ?? 0,
        port: d.port ?? 0,
        local: d.local ?? '',
        learning: d.learning ?? true,
        ...(l.address !== undefined && { mac: l.address }),
        mtu: l.mtu,
        up: l.flags.includes('UP'),
      };
    }),
    addresses: addrs.flatMap((l) =>
      l.addr_info.map((a): Address => ({ dev: l.ifname, address: `${a.local}/${a.prefixlen}` })),
    ),
    fdb: fdbs
      .filter((f) => f.dst !== undefined && f.ifname !== undefined)
      .map(
        (f): FdbEntry => ({
          dev: f.ifname!,
          mac: f.mac,
          dst: f.dst!,
          ...(f.port !== undefined && { port: f.port }),
          ...(f.vni !== undefined && { vni: f.vni }),
        }),
      ),
    neighbors: neighs
      .filter((n) => n.lladdr !== undefined)
      .map((n): Neighbor => ({ dev: n.dev, address: n.dst, mac: n.lladdr! })),
    routes: routes.map((r): ObservedRoute => {
      const hops = r.nexthops ?? (r.gateway !== undefined ? [r] : []);
      const table =
        r.table === undefined || r.table === 'main' ? 254 : r.table === 'local' ? 255 : Number(r.table);
      const dst = r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`;
      return {
        dst,
        table,
        protocol: PROTOCOLS[r.protocol ?? 'boot'] ?? Number(r.protocol),
        ...(r.metric !== undefined && { metric: r.metric }),
        type: r.type ?? 'unicast',
        nexthops: hops.map((n) => ({ via: n.gateway ?? '', dev: n.dev, weight: n.weight ?? 1 })),
      };
    }),
  };
}

/** The host's own routes (not mcgw's), which the planner must never override. */
export function rootRouteCIDRs(s: ObservedState, ownProtocol: number): string[] {
  return s.routes
    .filter(
      (r) =>
        r.protocol !== ownProtocol &&
        (r.table ?? 254) === 254 &&
        r.dst !== '0.0.0.0/0' &&
        r.type === 'unicast',
    )
    .map((r) => r.dst);
}
