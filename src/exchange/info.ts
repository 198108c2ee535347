// Pure helpers of the member side of the exchange: what this cluster exports, and which
// RemoteClusters mirror the leader's imports.
import type {
  ClusterGateway,
  ClusterImport,
  ClusterInfo,
  ClusterSetMember,
  ImportStatus,
  Mode,
  RemoteCluster,
} from '../api/types.ts';
import { getCondition } from '../model/conditions.ts';
import { jsonEqual } from '../util/json.ts';

/** The export of this cluster: its Gateways (highest priority first) and CIDRs. */
export function buildClusterInfo(
  member: ClusterSetMember,
  gateways: readonly ClusterGateway[],
  mode: Mode,
): ClusterInfo {
  const gws = [...gateways]
    .sort((a, b) => b.spec.priority - a.spec.priority || a.spec.nodeName.localeCompare(b.spec.nodeName))
    .map((g) => ({
      node: g.spec.nodeName,
      gatewayIP: g.spec.gatewayIP,
      internalIP: g.spec.internalIP,
      priority: g.spec.priority,
      ready: getCondition(g.status?.conditions, 'Ready')?.status === 'True',
      // Only when set, so exports of clusters that drain nothing stay as they were.
      ...(g.spec.draining === true && { draining: true }),
    }));
  return {
    clusterID: member.spec.clusterID,
    mode,
    gateways: gws,
    podCIDRs: [...member.spec.podCIDRs],
    serviceCIDRs: [...(member.spec.serviceCIDRs ?? [])],
    tunnel: { port: member.spec.tunnel?.port ?? 4789, vni: member.spec.tunnel?.vni ?? 4242 },
  };
}

export interface RemotesPlan {
  upsert: { name: string; spec: ClusterInfo; status: ImportStatus; existing?: RemoteCluster }[];
  remove: string[];
}

/** RemoteClusters to write so that they mirror every other member's import. */
export function planRemotes(
  ownID: string,
  imports: readonly ClusterImport[],
  remotes: readonly RemoteCluster[],
): RemotesPlan {
  const out: RemotesPlan = { upsert: [], remove: [] };
  const have = new Map(remotes.map((r) => [r.metadata.name!, r]));
  const want = new Set<string>();
  for (const i of imports) {
    const name = i.metadata.name!;
    if (name === ownID) continue;
    want.add(name);
    const status: ImportStatus = {
      state: i.status?.state ?? 'Active',
      ...(i.status?.lastSeen && { lastSeen: i.status.lastSeen }),
    };
    const cur = have.get(name);
    if (!cur || !jsonEqual(cur.spec, i.spec) || cur.status?.state !== status.state)
      out.upsert.push({ name, spec: i.spec, status, ...(cur && { existing: cur }) });
  }
  for (const name of have.keys()) if (!want.has(name)) out.remove.push(name);
  return out;
}
