// Reads what the scheduler needs from a Node object: readiness, schedulability, zone, addresses.
import type { V1Node } from '@kubernetes/client-node';
import { DRAINING_LABEL, GATEWAY_IP_ANNOTATION } from '../api/group.ts';
import type { Candidate } from '../scheduler/types.ts';

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

export function toCandidate(node: V1Node, zoneKey: string): Candidate {
  const labels = node.metadata?.labels ?? {};
  const zone = labels[zoneKey];
  return {
    name: node.metadata?.name ?? '',
    ...(zone !== undefined && { zone }),
    ready: nodeReady(node),
    schedulable: !node.spec?.unschedulable,
    draining: labels[DRAINING_LABEL] === 'true',
    ...nodeAddresses(node),
  };
}
