// What a Node object says to mcgw, the same for every part: whether it is Ready, and which of its
// addresses are its gatewayIP and internalIP (the controller publishes them on ClusterGateways, the
// agent finds its own by the same rule).
import type { V1Node } from '@kubernetes/client-node';
import { GATEWAY_IP_ANNOTATION } from '../api/group.ts';

export function nodeReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** gatewayIP: annotation, else ExternalIP, else InternalIP. internalIP: InternalIP. */
export function nodeAddresses(node: V1Node): { gatewayIP?: string; internalIP?: string } {
  const addrs = node.status?.addresses ?? [];
  const first = (t: string) => addrs.find((a) => a.type === t)?.address;
  const internalIP = first('InternalIP');
  const gatewayIP = node.metadata?.annotations?.[GATEWAY_IP_ANNOTATION] ?? first('ExternalIP') ?? internalIP;
  return {
    ...(gatewayIP !== undefined && { gatewayIP }),
    ...(internalIP !== undefined && { internalIP }),
  };
}
