// The underlay every namespace-built ClusterSet shares (the lab, and the agent tests): one bridge
// namespace, and per Node a namespace joined to the bridge by a veth pair whose ends are created
// straight inside the two namespaces, so nothing appears in the root namespace.
import { spawnSync } from 'node:child_process';

export interface UnderlayNode {
  /** The Node's namespace; its end of the veth is `eth0`. */
  ns: string;
  /** The name of the veth's bridge end, in the bridge namespace (where tunnel cuts match it). */
  port: string;
  /** The Node's underlay address with its prefix, inside 198.18.0.0/15. */
  cidr: string;
}

export class UnderlayError extends Error {
  override readonly name = 'UnderlayError';
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new UnderlayError(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

/**
 * Creates (afresh: a namespace left by an earlier run is deleted first) the bridge namespace `sw`
 * with bridge br0, and each Node's namespace with eth0 on the bridge. Nodes forward, have no
 * reverse-path filter (replies may come back on another device) and hash ECMP on ports, so
 * separate flows may take separate Gateways.
 */
export function buildUnderlay(sw: string, nodes: readonly UnderlayNode[]): void {
  for (const ns of [sw, ...nodes.map((n) => n.ns)]) {
    spawnSync('ip', ['netns', 'del', ns]);
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', sw, 'link', 'set', 'br0', 'up');
  for (const n of nodes) {
    ip('link', 'add', 'eth0', 'netns', n.ns, 'type', 'veth', 'peer', 'name', n.port, 'netns', sw);
    ip('-n', n.ns, 'addr', 'add', n.cidr, 'dev', 'eth0');
    ip('-n', n.ns, 'link', 'set', 'eth0', 'up');
    ip('-n', sw, 'link', 'set', n.port, 'master', 'br0', 'up');
    ip(
      'netns',
      'exec',
      n.ns,
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      'net.ipv4.fib_multipath_hash_policy=1',
    );
  }
}
