// Simulated Nodes for the local demo and the integration tests: real Node objects in a real
// apiserver, whose Ready condition we set ourselves, since no kubelet runs.
import type { CoreV1Api, V1Node } from '@kubernetes/client-node';
import { CANDIDATE_LABEL, DEFAULT_ZONE_KEY } from '../api/group.ts';
import { isConflict } from '../kube/errors.ts';

export interface SimNodeSpec {
  name: string;
  zone?: string;
  /** InternalIP; omit for a Node without addresses. Use 198.18.0.0/15 only. */
  internalIP?: string;
  externalIP?: string;
  candidate?: boolean;
  labels?: Record<string, string>;
}

function readyCondition(ready: boolean, now = new Date()) {
  return {
    type: 'Ready',
    status: ready ? 'True' : 'False',
    reason: ready ? 'KubeletReady' : 'NodeStatusUnknown',
    message: ready ? 'simulated node is ready' : 'simulated node stopped posting status',
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  };
}

export async function createSimNode(core: CoreV1Api, s: SimNodeSpec): Promise<V1Node> {
  const node = await core.createNode({
    body: {
      metadata: {
        name: s.name,
        labels: {
          ...(s.candidate !== false && { [CANDIDATE_LABEL]: 'true' }),
          ...(s.zone && { [DEFAULT_ZONE_KEY]: s.zone }),
          ...s.labels,
        },
      },
    },
  });
  return setSimNodeStatus(core, s.name, true, s).then(() => node);
}

/** Sets the Ready condition (and addresses) through the status subresource, retrying on conflict. */
export async function setSimNodeStatus(
  core: CoreV1Api,
  name: string,
  ready: boolean,
  addrs?: Pick<SimNodeSpec, 'internalIP' | 'externalIP'>,
): Promise<void> {
  for (;;) {
    const cur = await core.readNode({ name });
    const addresses = addrs
      ? [
          ...(addrs.internalIP ? [{ type: 'InternalIP', address: addrs.internalIP }] : []),
          ...(addrs.externalIP ? [{ type: 'ExternalIP', address: addrs.externalIP }] : []),
        ]
      : (cur.status?.addresses ?? []);
    try {
      await core.replaceNodeStatus({
        name,
        body: { ...cur, status: { ...cur.status, addresses, conditions: [readyCondition(ready)] } },
      });
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
}
