// What an agent needs to plan its Node's datapath, gathered from the Kubernetes objects it watches,
// and kept on disk so that a restart without any apiserver plans exactly what ran before.
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { V1Node } from '@kubernetes/client-node';
import type { ClusterGateway, ClusterSetMember, GatewayPolicy, RemoteCluster } from '../api/types.ts';
import { nodeAddresses } from '../model/node.ts';
import { effectiveSpec } from '../model/policy.ts';
import type { ClusterExport, LocalCluster } from '../datapath/types.ts';

export interface AgentInputs {
  node: string;
  cluster: string;
  internalIP: string;
  gatewayIP?: string;
  local: LocalCluster;
  remotes: ClusterExport[];
  tunnel: { port: number; vni: number };
}

export interface WatchedObjects {
  node?: V1Node;
  member?: ClusterSetMember;
  gateways: readonly ClusterGateway[];
  policies: readonly GatewayPolicy[];
  remotes: readonly RemoteCluster[];
}

/** Inputs from the watched objects, or why they are not complete yet. */
export function inputsFrom(nodeName: string, o: WatchedObjects): AgentInputs | { missing: string } {
  if (!o.node) return { missing: `Node ${nodeName}` };
  if (!o.member) return { missing: 'a ClusterSetMember (this cluster has not joined a ClusterSet)' };
  const addrs = nodeAddresses(o.node);
  if (!addrs.internalIP) return { missing: `an InternalIP on Node ${nodeName}` };
  const policy = [...o.policies].sort((a, b) =>
    String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)),
  )[0];
  return {
    node: nodeName,
    cluster: o.member.spec.clusterID,
    internalIP: addrs.internalIP,
    ...(addrs.gatewayIP && { gatewayIP: addrs.gatewayIP }),
    local: {
      gateways: o.gateways.map((g) => ({
        node: g.spec.nodeName,
        gatewayIP: g.spec.gatewayIP,
        internalIP: g.spec.internalIP,
        priority: g.spec.priority,
        // Set only when true: a state file (and its inputs) without drains stays as it was.
        ...(g.spec.draining === true && { draining: true }),
      })),
      mode: effectiveSpec(policy?.spec).mode,
      podCIDRs: [...o.member.spec.podCIDRs],
      serviceCIDRs: [...(o.member.spec.serviceCIDRs ?? [])],
    },
    remotes: o.remotes.map((r) => ({
      clusterID: r.spec.clusterID,
      gateways: r.spec.gateways.map((g) => ({
        node: g.node,
        gatewayIP: g.gatewayIP,
        internalIP: g.internalIP,
        priority: g.priority,
        ...(g.draining === true && { draining: true }),
      })),
      podCIDRs: [...r.spec.podCIDRs],
      serviceCIDRs: [...r.spec.serviceCIDRs],
      tunnel: { port: r.spec.tunnel.port ?? 4789, vni: r.spec.tunnel.vni ?? 4242 },
      mode: r.spec.mode,
    })),
    tunnel: { port: o.member.spec.tunnel?.port ?? 4789, vni: o.member.spec.tunnel?.vni ?? 4242 },
  };
}

const FORMAT = 1;

/** Writes atomically (temp file, then rename), so a crash never leaves half a file. */
export async function saveInputs(
  path: string,
  inputs: AgentInputs,
  liveness: Record<string, boolean> = {},
): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(
    tmp,
    JSON.stringify({ format: FORMAT, savedAt: new Date().toISOString(), inputs, liveness }, null, 1),
  );
  await rename(tmp, path);
}

/** The inputs saved by an earlier run, or undefined when there are none or they are unreadable. */
export async function loadInputs(
  path: string,
): Promise<
  { inputs: AgentInputs; savedAt: string; liveness: Record<string, boolean> } | { error: string } | undefined
> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const doc = JSON.parse(text) as {
      format?: number;
      savedAt?: string;
      inputs?: AgentInputs;
      liveness?: Record<string, boolean>;
    };
    if (doc.format !== FORMAT || !doc.inputs?.node)
      return { error: `${path} is not an mcgw agent state file of format ${FORMAT}` };
    return { inputs: doc.inputs, savedAt: doc.savedAt ?? '', liveness: doc.liveness ?? {} };
  } catch (err) {
    return { error: `${path} is not valid JSON: ${(err as Error).message}` };
  }
}
