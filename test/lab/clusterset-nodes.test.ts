// A ClusterSet of two clusters of kubelet Nodes, installed with helm from the image built here:
// the members place their Gateways, exchange them through the leader, and a pod in one cluster
// reaches a pod in the other through the Gateways' tunnel, by pod IP.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { GROUP, SYSTEM_NAMESPACE, VERSION } from '../../src/api/group.ts';
import type { GatewayPolicy, RemoteCluster } from '../../src/api/types.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { findImages } from '../../src/lab/images.ts';
import { KubeClusterSet } from '../../src/lab/kubenode/clusterset.ts';

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
    const phase = await waitFor(
      'the asking pod in a finished',
      async () => {
        const p = await core(a).readNamespacedPod({ name: 'ask', namespace: 'default' });
        return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p.status.phase : undefined;
      },
      120_000,
      1000,
    );
    const log = await core(a).readNamespacedPodLog({ name: 'ask', namespace: 'default' });
    assert.equal(phase, 'Succeeded', log);
    assert.match(log, /^echo:ping from 198\.18\.64\.\d+$/m);
  });
});

// A UDP echo server that names the sender it saw (a pod address of cluster a, not a masqueraded
// one), and a client that asks until it gets an answer (paths converge) or gives up after 60 s.
const ECHO = `require('dgram').createSocket('udp4').on('message', function (m, r) { this.send('echo:' + m + ' from ' + r.address, r.port, r.address); }).bind(9200);`;
const ASK = `const s = require('dgram').createSocket('udp4'); const t = setInterval(() => s.send('ping', 9200, process.argv[1]), 250); s.on('message', (m) => { console.log(String(m)); clearInterval(t); s.close(); }); setTimeout(() => { console.log('no answer'); process.exit(1); }, 60000).unref();`;
