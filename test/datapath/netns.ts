// Throwaway network namespaces for the kernel tests: run iproute2 in them, apply change lists,
// and read their state back the way an agent would (`ip -j`, `bridge -j`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { diffState } from '../../src/datapath/diff.ts';
import { renderBatches } from '../../src/datapath/render.ts';
import type {
  Address,
  Change,
  DesiredState,
  FdbEntry,
  Neighbor,
  ObservedLink,
  ObservedRoute,
  ObservedState,
} from '../../src/datapath/types.ts';

export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${String(r.status)}): ${r.stderr}\n${input ?? ''}`);
  }
  return r.stdout;
}

/** Why these tests cannot run here (not root, no namespaces, no VXLAN), or false if they can. */
export function netnsUnavailable(): string | false {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'needs root on Linux';
  const ns = `mcgwt-probe-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `cannot create a network namespace: ${r.error?.message ?? r.stderr}`;
  const v = spawnSync('ip', [
    '-n',
    ns,
    'link',
    'add',
    'probe0',
    'type',
    'vxlan',
    'id',
    '1',
    'dstport',
    '4789',
  ]);
  spawnSync('ip', ['netns', 'del', ns]);
  return v.status === 0 ? false : 'no VXLAN support';
}

export function addNetns(name: string): void {
  spawnSync('ip', ['netns', 'del', name]); // a leftover of a killed run
  run('ip', ['netns', 'add', name]);
  run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

export function delNetns(name: string): void {
  spawnSync('ip', ['netns', 'del', name]);
}

const json = <T>(ns: string, tool: string, args: string[]): T =>
  JSON.parse(run(tool, ['-n', ns, '-j', ...args]) || '[]') as T;

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

/** Reads a namespace's links, addresses, FDB, neighbors and IPv4 routes. */
export function observe(ns: string): ObservedState {
  const links: ObservedLink[] = json<IpLink[]>(ns, 'ip', ['-d', 'link', 'show']).map((l) => {
    const d = l.linkinfo?.info_data ?? {};
    return {
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? 'device',
      vni: d.id ?? 0,
      port: d.port ?? 0,
      local: d.local ?? '',
      learning: d.learning ?? true,
      ...(l.address !== undefined ? { mac: l.address } : {}),
      mtu: l.mtu,
      up: l.flags.includes('UP'),
    };
  });
  const addresses: Address[] = json<IpAddr[]>(ns, 'ip', ['addr', 'show']).flatMap((l) =>
    l.addr_info.map((a) => ({ dev: l.ifname, address: `${a.local}/${a.prefixlen}` })),
  );
  type BridgeFdb = { mac: string; ifname?: string; dst?: string; port?: number; vni?: number };
  const fdb: FdbEntry[] = json<BridgeFdb[]>(ns, 'bridge', ['fdb', 'show'])
    .filter((f) => f.dst !== undefined && f.ifname !== undefined)
    .map((f) => ({
      dev: f.ifname!,
      mac: f.mac,
      dst: f.dst!,
      ...(f.port !== undefined ? { port: f.port } : {}),
      ...(f.vni !== undefined ? { vni: f.vni } : {}),
    }));
  const neighbors: Neighbor[] = json<{ dst: string; dev: string; lladdr?: string }[]>(ns, 'ip', [
    'neigh',
    'show',
  ])
    .filter((n) => n.lladdr !== undefined)
    .map((n) => ({ dev: n.dev, address: n.dst, mac: n.lladdr! }));
  const routes: ObservedRoute[] = json<IpRoute[]>(ns, 'ip', ['route', 'show', 'table', 'all']).map((r) => {
    const hops = r.nexthops ?? (r.gateway !== undefined ? [r] : []);
    const table =
      r.table === undefined || r.table === 'main' ? 254 : r.table === 'local' ? 255 : Number(r.table);
    const dst = r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`;
    return {
      dst,
      table,
      protocol: PROTOCOLS[r.protocol ?? 'boot'] ?? Number(r.protocol),
      ...(r.metric !== undefined ? { metric: r.metric } : {}),
      type: r.type ?? 'unicast',
      nexthops: hops.map((n) => ({ via: n.gateway ?? '', dev: n.dev, weight: n.weight ?? 1 })),
    };
  });
  return { links, addresses, fdb, neighbors, routes };
}

/** Diffs the namespace against `d`, applies the batches, and checks the kernel now agrees. */
export function converge(ns: string, d: DesiredState): Change[] {
  const changes = diffState(observe(ns), d);
  for (const b of renderBatches(changes)) run(b.tool, ['-n', ns, '-batch', '-'], b.script);
  assert.deepEqual(diffState(observe(ns), d), [], 'kernel state differs from the plan after applying');
  return changes;
}
