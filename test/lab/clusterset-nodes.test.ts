// mcgw installed the user's way on kubelet Nodes: a ClusterSet of two clusters of kubelet Nodes, the
// image built from the repository's Dockerfile, `helm install` of the leader chart (in member a,
// which the charts allow) and of the member chart. The agents run as the DaemonSet's pods and the
// controllers as Deployments placed by kube-scheduler; the members place their Gateways, exchange
// them through the leader, and a pod in one cluster reaches a pod in the other through the
// Gateways' tunnel, by pod IP. Then a Gateway Node is powered off and mcgw replaces its Gateway
// through the short Lease, long before Kubernetes marks the Node NotReady.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { GROUP, SYSTEM_NAMESPACE, VERSION } from '../../src/api/group.ts';
import type { ClusterGateway, GatewayPolicy, RemoteCluster } from '../../src/api/types.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { findImages } from '../../src/lab/images.ts';
import { KubeClusterSet } from '../../src/lab/kubenode/clusterset.ts';
import { cidrsOverlap } from '../../src/util/ip.ts';

import { waitFor } from '../integration/util.ts';

const root = process.getuid?.() === 0;
const API = `/apis/${GROUP}/${VERSION}`;

describe('a ClusterSet of kubelet-Node clusters', { skip: !root && 'needs root' }, () => {
  let dir: string;
  let set: KubeClusterSet | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcgw-clusterset-nodes-'));
    set = await KubeClusterSet.start({
      dir,
      prefix: `mcgwt-c${randomBytes(2).toString('hex')}-`,
      members: 2,
      candidates: 2,
      workers: 1,
      policy: { desiredInstances: 1, failureDetection: { leaseDurationMs: 2000, renewIntervalMs: 500 } },
      progress: (m) => process.stderr.write(`# ${m}\n`),
    });
  });

  after(async () => {
    await set?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each member has a ready Gateway and imports the other one', async () => {
    for (const m of set!.members) {
      const kc = m.cp.kubeConfig();
      await waitFor(
        `${m.id}: a ready Gateway`,
        async () => {
          const p = await rawRequest<GatewayPolicy>(kc, 'GET', `${API}/gatewaypolicies/default`);
          return (p.status?.readyInstances ?? 0) >= 1 ? p : undefined;
        },
        240_000,
        1000,
      );
      const other = set!.members.find((o) => o !== m)!.id;
      await waitFor(
        `${m.id}: RemoteCluster ${other} with a ready Gateway`,
        async () => {
          const rs = (await rawRequest<{ items: RemoteCluster[] }>(kc, 'GET', `${API}/remoteclusters`)).items;
          const r = rs.find((x) => x.metadata.name === other);
          return r && (r.spec.gateways ?? []).some((g) => g.ready) ? r : undefined;
        },
        120_000,
        1000,
      );
      const core = kc.makeApiClient(CoreV1Api);
      await waitFor(
        `${m.id}: agents ready on every Node`,
        async () => {
          const pods = (
            await core.listNamespacedPod({
              namespace: SYSTEM_NAMESPACE,
              labelSelector: 'app.kubernetes.io/component=agent',
            })
          ).items;
          return pods.length === 3 && pods.every((p) => p.status?.containerStatuses?.[0]?.ready)
            ? pods
            : undefined;
        },
        120_000,
        1000,
      );
    }
  });

  test('the controllers run as Deployments placed by kube-scheduler, the leader controller in a', async () => {
    for (const [m, name, ns, replicas] of [
      ['a', 'mcgw-leader', 'mcgw-clusterset', 1],
      ['a', 'mcgw-controller', SYSTEM_NAMESPACE, 2],
      ['b', 'mcgw-controller', SYSTEM_NAMESPACE, 2],
    ] as const) {
      const apps = set!.member(m).cp.kubeConfig().makeApiClient(AppsV1Api);
      await waitFor(
        `${m}: ${name} with ${replicas} available replicas`,
        async () => {
          const d = await apps.readNamespacedDeployment({ name, namespace: ns });
          return (d.status?.availableReplicas ?? 0) >= replicas ? d : undefined;
        },
        120_000,
        1000,
      );
    }
  });

  test("a pod in a reaches a pod in b by pod IP, through the Gateways' tunnel", async () => {
    const images = await findImages();
    const [a, b] = [set!.member('a'), set!.member('b')];
    const core = (m: typeof a) => m.cp.kubeConfig().makeApiClient(CoreV1Api);
    const pod = (name: string, node: string, command: string[], restartPolicy = 'Always') => ({
      namespace: 'default',
      body: {
        metadata: { name },
        spec: {
          nodeName: node,
          restartPolicy,
          containers: [{ name, image: images.mcgw.ref, imagePullPolicy: 'Never', command }],
        },
      },
    });
    await core(b).createNamespacedPod(pod('echo', 'b-w1', ['node', '-e', ECHO]));
    const echoIP = await waitFor(
      'the echo pod in b Running',
      async () => {
        const p = await core(b).readNamespacedPod({ name: 'echo', namespace: 'default' });
        return p.status?.phase === 'Running' ? p.status.podIP : undefined;
      },
      120_000,
      1000,
    );
    await core(a).createNamespacedPod(pod('ask', 'a-w1', ['node', '-e', ASK, echoIP], 'Never'));
    const asker = await waitFor(
      'the asking pod in a finished',
      async () => {
        const p = await core(a).readNamespacedPod({ name: 'ask', namespace: 'default' });
        return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p.status : undefined;
      },
      120_000,
      1000,
    );
    const log = await core(a).readNamespacedPodLog({ name: 'ask', namespace: 'default' });
    assert.equal(asker.phase, 'Succeeded', log);
    // The echo in b saw the asking pod's own address: nothing on the way masqueraded it.
    assert.ok(asker.podIP && cidrsOverlap(`${asker.podIP}/32`, a.podCIDR), `${asker.podIP} in ${a.podCIDR}`);
    assert.equal(log.trim(), `echo:ping from ${asker.podIP}`);
  });

  test('a Gateway Node powered off: its Gateway moves to the other candidate by Lease, before NotReady', async () => {
    const a = set!.member('a');
    const kc = a.cp.kubeConfig();
    const ready = async () =>
      (await rawRequest<{ items: ClusterGateway[] }>(kc, 'GET', `${API}/clustergateways`)).items.filter((g) =>
        g.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
    const [gw] = await ready();
    assert.ok(gw, 'a ready Gateway in a');
    const victim = gw.spec.nodeName;
    const began = Date.now();
    await a.cluster.node(victim).powerOff();
    const replacedMs = await waitFor(
      'a ready Gateway on another Node',
      async () => ((await ready()).some((g) => g.spec.nodeName !== victim) ? Date.now() - began : undefined),
      60_000,
      250,
    );
    const node = await kc.makeApiClient(CoreV1Api).readNode({ name: victim });
    const nodeReady = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    process.stderr.write(
      `# Gateway on ${victim} replaced ${replacedMs} ms after power-off; Node Ready=${nodeReady}\n`,
    );
    assert.equal(nodeReady, 'True', 'Kubernetes had not yet noticed the dead Node');
  });
});

// A UDP echo server that names the sender it saw (a pod address of cluster a, not a masqueraded
// one), and a client that asks until it gets an answer (paths converge) or gives up after 60 s.
const ECHO = `require('dgram').createSocket('udp4').on('message', function (m, r) { this.send('echo:' + m + ' from ' + r.address, r.port, r.address); }).bind(9200);`;
const ASK = `const s = require('dgram').createSocket('udp4'); const t = setInterval(() => s.send('ping', 9200, process.argv[1]), 250); s.on('message', (m) => { console.log(String(m)); clearInterval(t); s.close(); }); setTimeout(() => { console.log('no answer'); process.exit(1); }, 60000).unref();`;
