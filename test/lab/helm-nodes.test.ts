// mcgw installed the user's way on kubelet Nodes: the image built from the repository's Dockerfile,
// `helm install` of the leader and member charts (this cluster is its ClusterSet's leader and a
// member, which the charts allow), the agent as the DaemonSet's pods and the controllers as
// Deployments placed by kube-scheduler. Then a Gateway Node is powered off and mcgw replaces its
// Gateway through the short Lease, long before Kubernetes would mark the Node NotReady.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { GROUP, SYSTEM_NAMESPACE, VERSION } from '../../src/api/group.ts';
import type { ClusterGateway, GatewayPolicy } from '../../src/api/types.ts';
import { makeClients } from '../../src/kube/client.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { addMember, storeLeaderSecret } from '../../src/leader/membership.ts';
import { findBinaries } from '../../src/lab/binaries.ts';
import { ControlPlane } from '../../src/lab/controlplane.ts';
import { chartDir, helm } from '../../src/lab/helm.ts';
import { findImages, imageBaseName } from '../../src/lab/images.ts';
import { KubeCluster } from '../../src/lab/kubenode/cluster.ts';
import { buildUnderlay } from '../../src/lab/underlay.ts';
import { removeNamespaceSync } from '../../src/testing/netns.ts';

const root = process.getuid?.() === 0;
const API = `/apis/${GROUP}/${VERSION}`;

describe('the member chart on kubelet Nodes', { skip: !root && 'needs root' }, () => {
  const prefix = `mcgwt-h${randomBytes(2).toString('hex')}-`;
  const nodes = [
    { name: 'gw1', ip: '198.18.1.10', zone: 'z1', candidate: true },
    { name: 'gw2', ip: '198.18.1.11', zone: 'z2', candidate: true },
    { name: 'w1', ip: '198.18.1.12', zone: 'z1', candidate: false },
  ];
  let dir: string;
  let cp: ControlPlane | undefined;
  let cluster: KubeCluster | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcgw-helm-nodes-'));
    buildUnderlay(`${prefix}sw`, [
      { ns: `${prefix}api`, port: 'p-api', cidr: '198.18.1.2/20' },
      ...nodes.map((n) => ({ ns: `${prefix}${n.name}`, port: `p-${n.name}`, cidr: `${n.ip}/20` })),
    ]);
    const [bins, images] = await Promise.all([findBinaries(), findImages()]);
    const nodesOpts = {
      clusterCIDR: '198.18.64.0/21',
      serviceCIDR: '198.19.16.0/24',
      advertiseAddress: '198.18.1.2',
      egressProxySocket: join(dir, 'egress.sock'),
    };
    cp = await ControlPlane.start({ name: 'helmnodes', dir: join(dir, 'cp'), nodes: nodesOpts });
    core = cp.kubeConfig().makeApiClient(CoreV1Api);
    apps = cp.kubeConfig().makeApiClient(AppsV1Api);
    cluster = await KubeCluster.start({
      dir,
      cp,
      apiNetns: `${prefix}api`,
      advertiseAddress: nodesOpts.advertiseAddress,
      serviceCIDR: nodesOpts.serviceCIDR,
      egressProxySocket: nodesOpts.egressProxySocket,
      kubeProxy: { bin: bins.kubeProxy!, clusterCIDR: nodesOpts.clusterCIDR },
      nodes: nodes.map((n) => ({
        name: n.name,
        netns: `${prefix}${n.name}`,
        ip: n.ip,
        labels: {
          'topology.kubernetes.io/zone': n.zone,
          ...(n.candidate ? { 'mcgw.io/gateway-candidate': 'true' } : {}),
        },
      })),
      kubelet: bins.kubelet!,
      sandboxImage: images.pause.ref,
      images: [images.pause, images.mcgw],
    });
    const [, tag] = images.mcgw.ref.split(/:(?=[^:]+$)/);
    const image = { repository: imageBaseName(images.mcgw.ref), tag, pullPolicy: 'Never' };
    const kubeconfig = ['--kubeconfig', cp.kubeconfigPath];
    writeFileSync(join(dir, 'leader.json'), JSON.stringify({ image }));
    await helm(
      ['install', 'mcgw-leader', chartDir('mcgw-leader'), ...kubeconfig, '-f', join(dir, 'leader.json')],
      {
        timeoutMs: 120_000,
      },
    );
    // The member's credentials for the leader, as `mcgw clusterset add-member` makes them; pods
    // reach this apiserver at its advertise address, not at the loopback address the lab uses.
    const clients = makeClients(cp.kubeConfig());
    const creds = await addMember(clients, 'a');
    await storeLeaderSecret(
      clients,
      'mcgw-leader',
      creds.kubeconfig.replace(cp.server, `https://198.18.1.2:${new URL(cp.server).port}`),
    );
    const values = {
      image,
      // The leader Secret above made mcgw-system already (docs/install.md: create it first, then this).
      namespace: { create: false },
      clusterSetMember: {
        enabled: true,
        clusterID: 'a',
        podCIDRs: [nodesOpts.clusterCIDR],
        serviceCIDRs: [nodesOpts.serviceCIDR],
        heartbeatSeconds: 1,
      },
      gatewayPolicy: {
        create: true,
        spec: { desiredInstances: 1, failureDetection: { leaseDurationMs: 2000, renewIntervalMs: 500 } },
      },
    };
    writeFileSync(join(dir, 'values.json'), JSON.stringify(values));
    await helm(
      [
        'install',
        'mcgw',
        chartDir('mcgw-member'),
        '--kubeconfig',
        cp.kubeconfigPath,
        '-f',
        join(dir, 'values.json'),
      ],
      { timeoutMs: 120_000 },
    );
  });

  after(async () => {
    await cluster?.stop();
    await cp?.stop();
    for (const n of ['sw', 'api', ...nodes.map((x) => x.name)]) removeNamespaceSync(`${prefix}${n}`);
    rmSync(dir, { recursive: true, force: true });
  });

  const gateways = async () =>
    (await rawRequest<{ items: ClusterGateway[] }>(cp!.kubeConfig(), 'GET', `${API}/clustergateways`)).items;
  const policy = () => rawRequest<GatewayPolicy>(cp!.kubeConfig(), 'GET', `${API}/gatewaypolicies/default`);

  async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await f();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      assert.ok(Date.now() < deadline, `${what} within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
      await sleep(500);
    }
  }

  test('agents run as the DaemonSet on every Node, controllers as a Deployment, and a Gateway is Ready', async () => {
    await until('agent pods Running on every Node', 180_000, async () => {
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
    });
    await until('both controller replicas available', 120_000, async () => {
      const d = await apps.readNamespacedDeployment({ name: 'mcgw-controller', namespace: SYSTEM_NAMESPACE });
      return (d.status?.availableReplicas ?? 0) >= 2 ? d : undefined;
    });
    const p = await until('a ready Gateway', 120_000, async () => {
      const p = await policy();
      return (p.status?.readyInstances ?? 0) >= 1 ? p : undefined;
    });
    assert.equal(p.status?.readyInstances, 1);
  });

  test('a Gateway Node powered off: its Gateway moves to the other candidate by Lease, before NotReady', async () => {
    const [gw] = (await gateways()).filter((g) =>
      g.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    assert.ok(gw, 'a ready Gateway');
    const victim = gw.spec.nodeName;
    const began = Date.now();
    await cluster!.node(victim).powerOff();
    const replaced = await until('a ready Gateway on another Node', 60_000, async () => {
      const ready = (await gateways()).filter(
        (g) =>
          g.spec.nodeName !== victim &&
          g.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length > 0 ? Date.now() - began : undefined;
    });
    const node = await core.readNode({ name: victim });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    process.stderr.write(
      `# Gateway on ${victim} replaced ${replaced} ms after power-off; Node Ready=${ready?.status}\n`,
    );
    assert.equal(ready?.status, 'True', 'Kubernetes had not yet noticed the dead Node');
  });
});
