// Helpers shared by the integration tests: polling, CRD setup, simple object access.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Event } from '@kubernetes/client-node';
import { GROUP, SYSTEM_NAMESPACE, VERSION } from '../../src/api/group.ts';
import type { ClusterGateway, GatewayPolicy, GatewayPolicySpec } from '../../src/api/types.ts';
import { GatewayController } from '../../src/controller/controller.ts';
import type { ControllerOptions } from '../../src/controller/controller.ts';
import { MemberExchange } from '../../src/exchange/member.ts';
import { makeClients } from '../../src/kube/client.ts';
import type { Clients } from '../../src/kube/client.ts';
import { ensureNamespace, installCRDs } from '../../src/kube/crds.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import type { ControlPlane } from '../../src/lab/controlplane.ts';
import { createSimNode } from '../../src/lab/simnodes.ts';
import { addMember, memberNamespace, storeLeaderSecret } from '../../src/leader/membership.ts';
import { silentLogger } from '../../src/util/log.ts';

/** Polls fn until it returns a value other than undefined/false, or fails with the message. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await sleep(everyMs);
  }
}

export async function setupCluster(cp: ControlPlane): Promise<Clients> {
  const c = makeClients(cp.kubeConfig());
  await installCRDs(c);
  await ensureNamespace(c, SYSTEM_NAMESPACE);
  return c;
}

const crd = (plural: string) => ({ group: GROUP, version: VERSION, plural });

export async function listGateways(c: Clients): Promise<ClusterGateway[]> {
  const l = (await c.custom.listClusterCustomObject(crd('clustergateways'))) as { items: ClusterGateway[] };
  return l.items;
}

export async function getPolicy(c: Clients, name: string): Promise<GatewayPolicy> {
  return (await c.custom.getClusterCustomObject({ ...crd('gatewaypolicies'), name })) as GatewayPolicy;
}

export async function createPolicy(
  c: Clients,
  name: string,
  spec: GatewayPolicySpec,
): Promise<GatewayPolicy> {
  return (await c.custom.createClusterCustomObject({
    ...crd('gatewaypolicies'),
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'GatewayPolicy', metadata: { name }, spec },
  })) as GatewayPolicy;
}

export async function patchPolicySpec(c: Clients, name: string, spec: GatewayPolicySpec): Promise<void> {
  const cur = await getPolicy(c, name);
  await c.custom.replaceClusterCustomObject({ ...crd('gatewaypolicies'), name, body: { ...cur, spec } });
}

export async function events(c: Clients): Promise<CoreV1Event[]> {
  return (await c.core.listNamespacedEvent({ namespace: 'default' })).items;
}

/** Five candidates over three zones, n1..n5 at 198.18.0.11..15. */
export async function createFiveNodes(c: Clients): Promise<void> {
  const zones = ['zone-a', 'zone-b', 'zone-c'];
  await Promise.all(
    [1, 2, 3, 4, 5].map((i) =>
      createSimNode(c.core, { name: `n${i}`, zone: zones[(i - 1) % 3]!, internalIP: `198.18.0.${10 + i}` }),
    ),
  );
}

export interface JoinedMember {
  c: Clients;
  /** The member's credentials for the leader cluster. */
  kubeconfig: string;
  ctl: GatewayController;
  ex: MemberExchange;
}

/**
 * Member `id`, the i-th (from 0), joins the ClusterSet led by `leader`: its control plane gets the
 * CRDs, the leader's credentials, Nodes `<id>-n1..3` in zones z1..z3 at 198.18.(i+1).11-13 and its
 * ClusterSetMember (heartbeat every second). Its GatewayController and MemberExchange are wired as
 * `mcgw controller` wires them (the controller's export view only with `exportState`), not started.
 */
export async function joinMember(
  leader: Clients,
  cp: ControlPlane,
  id: string,
  i: number,
  o: {
    podCIDRs: string[];
    serviceCIDRs?: string[];
    election: ControllerOptions['election'];
    exportState?: boolean;
  },
): Promise<JoinedMember> {
  const c = await setupCluster(cp);
  const creds = await addMember(leader, id);
  await storeLeaderSecret(c, 'mcgw-leader', creds.kubeconfig);
  await Promise.all(
    [1, 2, 3].map((n) =>
      createSimNode(c.core, { name: `${id}-n${n}`, zone: `z${n}`, internalIP: `198.18.${i + 1}.${n + 10}` }),
    ),
  );
  await rawRequest(c.kc, 'POST', `/apis/${GROUP}/${VERSION}/clustersetmembers`, {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'ClusterSetMember',
    metadata: { name: 'local' },
    spec: {
      clusterID: id,
      leader: { secretName: 'mcgw-leader', namespace: memberNamespace(id) },
      podCIDRs: o.podCIDRs,
      ...(o.serviceCIDRs && { serviceCIDRs: o.serviceCIDRs }),
      heartbeatSeconds: 1,
    },
  });
  const holder: { ctl?: GatewayController } = {};
  const ex = new MemberExchange({ clients: c, log: silentLogger, isLeader: () => !!holder.ctl?.isLeader() });
  const ctl = new GatewayController({
    clients: c,
    identity: `ctl-${id}`,
    log: silentLogger,
    election: o.election,
    onLeadership: () => ex.leadershipChanged(),
    ...(o.exportState && { exportState: () => ex.exportState() }),
  });
  holder.ctl = ctl;
  return { c, kubeconfig: creds.kubeconfig, ctl, ex };
}
