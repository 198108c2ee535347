// mcgw installed the user's way on kubelet Nodes: the image built from the repository's Dockerfile,
// `helm install` of the leader and member charts (this cluster is its ClusterSet's leader and a
// member, which the charts allow), the agent as the DaemonSet's pods and the controllers as
// Deployments placed by kube-scheduler. Then a Gateway Node is powered off and mcgw replaces its
// Gateway through the short Lease, long before Kubernetes would mark the Node NotReady.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { GROUP, SYSTEM_NAMESPACE, VERSION } from '../../src/api/group.ts';
import type { ClusterGateway, GatewayPolicy } from '../../src/api/types.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import type { ControlPlane } from '../../src/lab/controlplane.ts';
import type { KubeCluster } from '../../src/lab/kubenode/cluster.ts';
import { KubeClusterSet } from '../../src/lab/kubenode/clusterset.ts';

import { waitFor } from '../integration/util.ts';

const root = process.getuid?.() === 0;
const API = `/apis/${GROUP}/${VERSION}`;

describe('the member chart on kubelet Nodes', { skip: !root && 'needs root' }, () => {
  const nodes = ['a-gw1', 'a-gw2', 'a-w1'];
  let dir: string;
  let set: KubeClusterSet | undefined;
  let cp: ControlPlane;
  let cluster: KubeCluster;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcgw-helm-nodes-'));
    set = await KubeClusterSet.start({
      dir,
      prefix: `mcgwt-h${randomBytes(2).toString('hex')}-`,
      members: 1,
      candidates: 2,
      workers: 1,
      policy: { desiredInstances: 1, failureDetection: { leaseDurationMs: 2000, renewIntervalMs: 500 } },
    });
    ({ cp, cluster } = set.member('a'));
    core = cp.kubeConfig().makeApiClient(CoreV1Api);
    apps = cp.kubeConfig().makeApiClient(AppsV1Api);
  });

  after(async () => {
    await set?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const gateways = async () =>
    (await rawRequest<{ items: ClusterGateway[] }>(cp.kubeConfig(), 'GET', `${API}/clustergateways`)).items;
  const policy = () => rawRequest<GatewayPolicy>(cp.kubeConfig(), 'GET', `${API}/gatewaypolicies/default`);

  test('agents run as the DaemonSet on every Node, controllers as a Deployment, and a Gateway is Ready', async () => {
    await waitFor(
      'agent pods Running on every Node',
      async () => {
        const pods = (
          await core.listNamespacedPod({
            namespace: SYSTEM_NAMESPACE,
            labelSelector: 'app.kubernetes.io/component=agent',
          })
        ).items;
        const running = pods.filter(
          (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready,
        );
        return running.length === nodes.length ? running : undefined;
      },
      180_000,
      500,
    );
    await waitFor(
      'both controller replicas available',
      async () => {
        const d = await apps.readNamespacedDeployment({
          name: 'mcgw-controller',
          namespace: SYSTEM_NAMESPACE,
        });
        return (d.status?.availableReplicas ?? 0) >= 2 ? d : undefined;
      },
      120_000,
      500,
    );
    const p = await waitFor(
      'a ready Gateway',
      async () => {
        const p = await policy();
        return (p.status?.readyInstances ?? 0) >= 1 ? p : undefined;
      },
      120_000,
      500,
    );
    assert.equal(p.status?.readyInstances, 1);
  });

  test('a Gateway Node powered off: its Gateway moves to the other candidate by Lease, before NotReady', async () => {
    const [gw] = (await gateways()).filter((g) =>
      g.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    assert.ok(gw, 'a ready Gateway');
    const victim = gw.spec.nodeName;
    const began = Date.now();
    await cluster.node(victim).powerOff();
    const replaced = await waitFor(
      'a ready Gateway on another Node',
      async () => {
        const ready = (await gateways()).filter(
          (g) =>
            g.spec.nodeName !== victim &&
            g.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length > 0 ? Date.now() - began : undefined;
      },
      60_000,
      500,
    );
    const node = await core.readNode({ name: victim });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    process.stderr.write(
      `# Gateway on ${victim} replaced ${replaced} ms after power-off; Node Ready=${ready?.status}\n`,
    );
    assert.equal(ready?.status, 'True', 'Kubernetes had not yet noticed the dead Node');
  });
});
