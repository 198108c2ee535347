// Reads what the scheduler needs from a Node object: readiness, schedulability, zone, addresses.
import type { V1Node } from '@kubernetes/client-node';
import { DRAINING_LABEL } from '../api/group.ts';
import { nodeAddresses, nodeReady } from '../model/node.ts';
import type { Candidate } from '../scheduler/types.ts';

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
