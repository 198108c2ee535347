// The agent's small Kubernetes client (src/kube/lite) against real kube-apiservers: kubeconfigs with
// client certificates and with ServiceAccount tokens, the in-cluster configuration with a rotating
// token, list+watch through adds, updates and deletes, an apiserver restart (the cache kept, then
// resynced), 410 Gone after an etcd compaction, Leases (create, renew, conflict), and KubeSource, the
// agent's inputs, on top of it.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1ConfigMap, V1Lease } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { KubeSource } from '../../src/agent/kubesource.ts';
import type { AgentInputs } from '../../src/agent/inputs.ts';
import { GROUP, SYSTEM_NAMESPACE, VERSION, gatewayLeaseName } from '../../src/api/group.ts';
import type { Clients } from '../../src/kube/client.ts';
import { apiMessage, isConflict, isForbidden, isNotFound, statusCode } from '../../src/kube/errors.ts';
import { KubeClient } from '../../src/kube/lite/client.ts';
import { inClusterConfig } from '../../src/kube/lite/config.ts';
import { startListWatch } from '../../src/kube/lite/informer.ts';
import type { ListWatch } from '../../src/kube/lite/informer.ts';
import { liteLeaseApi } from '../../src/kube/lite/lease.ts';
import { ADMIN_USER } from '../../src/lab/certs.ts';
import { createSimNode } from '../../src/lab/simnodes.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { createLogger, silentLogger } from '../../src/util/log.ts';
import { useControlPlanes } from './harness.ts';
import { setupCluster, waitFor } from './util.ts';

const log = process.env.MCGW_TEST_LOG ? createLogger('debug') : silentLogger;
const NS = 'lite';
const cms = `/api/v1/namespaces/${NS}/configmaps`;
type CM = V1ConfigMap & { metadata: { name: string } };

const whoAmI = async (c: KubeClient) =>
  (
    await c.request<{ status: { userInfo: { username: string } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    )
  ).status.userInfo.username;

const names = (inf: ListWatch<CM>) =>
  inf
    .list()
    .map((o) => o.metadata.name)
    .sort();

describe('the small Kubernetes client on a real apiserver', () => {
  const cps = useControlPlanes(1, { name: 'lite' });
  let admin: KubeClient;
  const closers: (() => unknown)[] = [];

  before(async () => {
    admin = await KubeClient.load(cps[0]!.kubeconfigPath);
    closers.push(() => admin.close());
    await admin.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NS } } });
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  test('admin kubeconfig with client certificates (inline, then as files): requests and typed errors', async (t) => {
    const cp = cps[0]!;
    const version = await admin.request<{ gitVersion: string }>('GET', '/version');
    t.diagnostic(`apiserver ${version.gitVersion}`);
    assert.equal(await whoAmI(admin), ADMIN_USER);
    const body = { metadata: { name: 'dup' }, data: { k: 'v' } };
    const created = await admin.request<CM>('POST', cms, { body });
    assert.equal(created.data?.k, 'v');
    await assert.rejects(admin.request('POST', cms, { body }), (err) => {
      assert.ok(isConflict(err), String(err));
      assert.equal(statusCode(err), 409);
      assert.match(apiMessage(err), /configmaps "dup" already exists/);
      return true;
    });
    await assert.rejects(admin.request('GET', `${cms}/nope`), (err) => isNotFound(err));
    // A merge patch, then a delete.
    const patched = await admin.request<CM>('PATCH', `${cms}/dup`, { body: { data: { k: 'w' } } });
    assert.equal(patched.data?.k, 'w');
    await admin.request('DELETE', `${cms}/dup`);
    await assert.rejects(admin.request('GET', `${cms}/dup`), (err) => isNotFound(err));

    // The same identity from certificate files named relative to the kubeconfig.
    const dir = join(cp.dir, 'lite-files');
    await mkdir(dir, { recursive: true });
    for (const [from, to] of [
      [cp.certs.caCert, 'ca.crt'],
      [cp.certs.adminCert, 'admin.crt'],
      [cp.certs.adminKey, 'admin.key'],
    ] as const)
      await writeFile(join(dir, to), await readFile(from));
    const path = join(dir, 'kubeconfig');
    await writeFile(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'files',
        clusters: [{ name: 'k', cluster: { server: cp.server, 'certificate-authority': 'ca.crt' } }],
        users: [{ name: 'a', user: { 'client-certificate': 'admin.crt', 'client-key': 'admin.key' } }],
        contexts: [{ name: 'files', context: { cluster: 'k', user: 'a' } }],
      }),
    );
    const fromFiles = await KubeClient.load(path);
    closers.push(() => fromFiles.close());
    assert.equal(await whoAmI(fromFiles), ADMIN_USER);
    // The server's certificate is checked: without the CA the handshake fails.
    const noCA = new KubeClient({ ...fromFiles.config, ca: undefined, source: 'no CA' });
    closers.push(() => noCA.close());
    await assert.rejects(noCA.request('GET', '/version'), /certificate/);
  });

  test('ServiceAccount token kubeconfig, and the in-cluster configuration with a rotating token', async () => {
    const cp = cps[0]!;
    const sa = await cp.createServiceAccountKubeconfig(NS, 'agent');
    const viaToken = await KubeClient.load(sa.kubeconfigPath);
    closers.push(() => viaToken.close());
    assert.equal(await whoAmI(viaToken), `system:serviceaccount:${NS}:agent`);
    // No RBAC bindings: denied, with the apiserver's reason.
    await assert.rejects(viaToken.request('GET', '/api/v1/nodes'), (err) => {
      assert.ok(isForbidden(err), String(err));
      assert.match(apiMessage(err), /cannot list resource "nodes"/);
      return true;
    });

    // In a Pod: the mounted token and CA, the service host and port.
    const dir = join(cp.dir, 'serviceaccount');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ca.crt'), await readFile(cp.certs.caCert));
    await writeFile(join(dir, 'token'), 'not-a-valid-token');
    const url = new URL(cp.server);
    const cfg = inClusterConfig({
      env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
      dir,
      tokenRefreshMs: 3_600_000,
    });
    const inCluster = new KubeClient(cfg);
    closers.push(() => inCluster.close());
    await assert.rejects(inCluster.request('GET', '/version'), (err) => statusCode(err) === 401);
    // The kubelet rotates the token; the 401 made the client read it again.
    await writeFile(join(dir, 'token'), sa.token);
    assert.equal(await whoAmI(inCluster), `system:serviceaccount:${NS}:agent`);
    // A fresh token for another account: read again after the next 401 only, as the old one works.
    const other = await cp.createServiceAccountKubeconfig(NS, 'other');
    await writeFile(join(dir, 'token'), other.token);
    assert.equal(await whoAmI(inCluster), `system:serviceaccount:${NS}:agent`);
    cfg.onUnauthorized?.();
    assert.equal(await whoAmI(inCluster), `system:serviceaccount:${NS}:other`);
  });

  test('list+watch: adds, updates and deletes, with label and field selectors', async () => {
    const seen: string[] = [];
    const seenSelected: string[] = [];
    const inf = startListWatch<CM>(admin, cms, {
      onChange: (k, o) => seen.push(`${k} ${o.metadata.name}`),
    });
    const selected = startListWatch<CM>(admin, cms, {
      labelSelector: 'pick=yes',
      onChange: (k, o) => seenSelected.push(`${k} ${o.metadata.name}`),
    });
    const byName = startListWatch<CM>(admin, cms, { fieldSelector: 'metadata.name=two' });
    closers.push(
      () => inf.stop(),
      () => selected.stop(),
      () => byName.stop(),
    );
    await admin.request('POST', cms, { body: { metadata: { name: 'one' }, data: { v: '1' } } });
    await Promise.all([inf.synced, selected.synced, byName.synced]);
    await admin.request('POST', cms, {
      body: { metadata: { name: 'two', labels: { pick: 'yes' } }, data: { v: '1' } },
    });
    await admin.request('PATCH', `${cms}/one`, { body: { data: { v: '2' } } });
    await admin.request('PATCH', `${cms}/two`, { body: { data: { v: '2' } } });
    await admin.request('DELETE', `${cms}/one`);
    await waitFor('the delete seen', () => seen.includes('delete one'));
    await waitFor('two updated', () => inf.get('two', NS)?.data?.v === '2');
    const ones = seen.filter((s) => s.endsWith(' one'));
    assert.equal(ones[0], 'add one');
    assert.ok(ones.includes('update one'));
    assert.equal(ones.at(-1), 'delete one');
    assert.deepEqual(names(inf), ['two']);
    assert.equal(inf.get('one', NS), undefined);
    assert.equal(inf.get('two', NS)?.data?.v, '2');
    assert.equal(inf.get('two', NS)?.metadata.managedFields, undefined, 'managedFields are not kept');
    await waitFor('selected two updated', () => selected.get('two', NS)?.data?.v === '2');
    assert.deepEqual(names(selected), ['two']);
    assert.ok(!seenSelected.some((s) => s.endsWith(' one')), 'the label selector filters');
    await waitFor('field-selected two', () => byName.get('two', NS)?.data?.v === '2');
    assert.deepEqual(names(byName), ['two']);
    assert.deepEqual(inf.stats(), { lists: 1, watches: 1, gone: 0, errors: 0 });
  });

  test('a watch ended by its timeout resumes from its resourceVersion without listing again', async () => {
    const inf = startListWatch<CM>(admin, cms, { watchTimeoutSeconds: 1 });
    closers.push(() => inf.stop());
    await inf.synced;
    await waitFor('three watches', () => inf.stats().watches >= 3, 10_000);
    await admin.request('POST', cms, { body: { metadata: { name: 'late' } } });
    await waitFor('late seen', () => inf.get('late', NS));
    const s = inf.stats();
    assert.equal(s.lists, 1, JSON.stringify(s));
    assert.equal(s.errors, 0, JSON.stringify(s));
  });

  test('the apiserver killed and restarted: the cache is kept while it is away, then resynced', async (t) => {
    const cp = cps[0]!;
    for (const n of ['keep', 'gone', 'change'])
      await admin.request('POST', cms, { body: { metadata: { name: `r-${n}` }, data: { v: '1' } } });
    const seen: string[] = [];
    const errors: unknown[] = [];
    let recovered = 0;
    // A long backoff: the changes below land while the cache is still waiting to list again.
    const inf = startListWatch<CM>(admin, cms, {
      onChange: (k, o) => seen.push(`${k} ${o.metadata.name}`),
      onError: (err) => errors.push(err),
      onRecover: () => recovered++,
      minBackoffMs: 8000,
      maxBackoffMs: 8000,
    });
    closers.push(() => inf.stop());
    await inf.synced;
    const before = names(inf);
    assert.ok(before.includes('r-gone'));
    await cp.killApiserver();
    await waitFor('the watch error', () => errors.length > 0);
    t.diagnostic(`watch error: ${apiMessage(errors[0])}`);
    await sleep(500);
    assert.deepEqual(names(inf), before, 'the cache is kept while the apiserver is away');
    assert.ok(inf.isSynced());
    assert.equal(inf.isCurrent(), false, 'kept, but no longer following the apiserver');
    const t0 = Date.now();
    await cp.startApiserver();
    t.diagnostic(`apiserver back after ${Date.now() - t0} ms`);
    const listsBefore = inf.stats().lists;
    await admin.request('DELETE', `${cms}/r-gone`);
    await admin.request('PATCH', `${cms}/r-change`, { body: { data: { v: '2' } } });
    await admin.request('POST', cms, { body: { metadata: { name: 'r-new' } } });
    assert.equal(inf.isCurrent(), false, 'not current before the relist, apiserver or not');
    await waitFor('recovered', () => recovered > 0, 30_000);
    assert.equal(inf.isCurrent(), true);
    await waitFor('resynced', () => inf.get('r-change', NS)?.data?.v === '2' && !inf.get('r-gone', NS));
    assert.equal(recovered, 1);
    t.diagnostic(
      listsBefore === 1 ? 'changes made before the relist: seen by it' : 'relisted before the changes',
    );
    for (const e of ['delete r-gone', 'update r-change', 'add r-new']) assert.ok(seen.includes(e), e);
    assert.ok(inf.get('r-keep', NS) && inf.get('r-new', NS));
    // And it keeps watching.
    await admin.request('DELETE', `${cms}/r-new`);
    await waitFor('r-new deleted', () => !inf.get('r-new', NS));
  });

  test('Leases through LeaseRenewer: create, renew with annotations, a conflicting writer, typed errors', async () => {
    await admin.request('POST', '/api/v1/namespaces', { body: { metadata: { name: SYSTEM_NAMESPACE } } });
    const api = liteLeaseApi(admin);
    let n = 0;
    const r = new LeaseRenewer({
      api,
      node: 'n1',
      leaseDurationMs: 3000,
      annotations: () => ({ 'mcgw.io/test': String(++n) }),
    });
    await r.renewOnce();
    const name = gatewayLeaseName('n1');
    const created = await api.readNamespacedLease({ name, namespace: SYSTEM_NAMESPACE });
    assert.equal(created.spec?.holderIdentity, 'n1');
    assert.equal(created.spec?.leaseDurationSeconds, 3);
    assert.equal(created.metadata?.labels?.['mcgw.io/node'], 'n1');
    assert.equal(created.metadata?.annotations?.['mcgw.io/test'], '1');
    // MicroTime as the apiserver wants it, six fractional digits, kept a string.
    assert.match(String(created.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await sleep(5);
    await r.renewOnce();
    const renewed = await api.readNamespacedLease({ name, namespace: SYSTEM_NAMESPACE });
    assert.notEqual(renewed.spec?.renewTime, created.spec?.renewTime);
    assert.equal(renewed.metadata?.annotations?.['mcgw.io/test'], '2');
    // Someone else writes it: the renewer's cached copy is stale, its replace conflicts, it re-reads.
    const other: V1Lease = {
      ...renewed,
      metadata: { ...renewed.metadata, annotations: { ...renewed.metadata?.annotations, other: 'x' } },
    };
    await api.replaceNamespacedLease({ name, namespace: SYSTEM_NAMESPACE, body: other });
    await assert.rejects(
      api.replaceNamespacedLease({ name, namespace: SYSTEM_NAMESPACE, body: renewed }),
      (err) => isConflict(err),
    );
    await r.renewOnce();
    const after = await api.readNamespacedLease({ name, namespace: SYSTEM_NAMESPACE });
    assert.equal(after.metadata?.annotations?.other, 'x', "another writer's annotation is kept");
    assert.equal(after.metadata?.annotations?.['mcgw.io/test'], '4', 'conflict, re-read, renewed');
    await assert.rejects(api.readNamespacedLease({ name: 'nope', namespace: SYSTEM_NAMESPACE }), (err) =>
      isNotFound(err),
    );
    await assert.rejects(
      api.createNamespacedLease({ namespace: SYSTEM_NAMESPACE, body: { metadata: { name } } }),
      (err) => isConflict(err),
    );
    // Started: renews on its own.
    const timed = new LeaseRenewer({ api, node: 'n2', renewIntervalMs: 100 });
    timed.start();
    closers.push(() => timed.stop());
    await waitFor('three renewals', () => timed.renewals >= 3);
    assert.equal(timed.failures, 0);
  });
});

describe('410 Gone on a real apiserver (watch cache off, etcd compacted)', () => {
  const cps = useControlPlanes(1, { name: 'litegone', apiserverArgs: ['--watch-cache=false'] });

  test('a watch resumed from a compacted resourceVersion lists again, without an error', async () => {
    const cp = cps[0]!;
    const c = await KubeClient.load(cp.kubeconfigPath);
    try {
      for (const ns of [NS, 'busy'])
        await c.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
      const seen: string[] = [];
      const errors: unknown[] = [];
      const inf = startListWatch<CM>(c, cms, {
        onChange: (k, o) => seen.push(`${k} ${o.metadata.name}`),
        onError: (err) => errors.push(err),
        watchTimeoutSeconds: 2,
      });
      try {
        await inf.synced;
        await c.request('POST', cms, { body: { metadata: { name: 'a' } } });
        await waitFor('a', () => inf.get('a', NS));
        // Writes elsewhere move etcd on; this watch's resourceVersion stays where it was.
        for (let i = 0; i < 5; i++)
          await c.request('POST', '/api/v1/namespaces/busy/configmaps', {
            body: { metadata: { name: `x${i}` } },
          });
        const etcd = async (path: string, body: unknown) =>
          (await (
            await fetch(`${cp.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) })
          ).json()) as {
            header: { revision: string };
          };
        const { header } = await etcd('/v3/kv/range', { key: Buffer.from('x').toString('base64') });
        await etcd('/v3/kv/compaction', { revision: header.revision, physical: true });
        // The next watch (at most 2 s on) starts from a compacted revision: 410, list again.
        await waitFor('410 Gone handled', () => inf.stats().gone > 0, 10_000);
        await c.request('POST', cms, { body: { metadata: { name: 'b' } } });
        await waitFor('b', () => inf.get('b', NS));
        assert.deepEqual(errors, []);
        assert.ok(inf.stats().lists >= 2, JSON.stringify(inf.stats()));
        assert.deepEqual(
          seen.filter((s) => !s.includes('kube-root-ca')),
          ['add a', 'add b'],
        );
      } finally {
        await inf.stop();
      }
    } finally {
      c.close();
    }
  });
});

describe("KubeSource on the small client: the agent's inputs from a real apiserver", () => {
  const cps = useControlPlanes(1, { name: 'litesrc' });

  test('inputs arrive, follow a new RemoteCluster, are kept while the apiserver is away, then follow again', async (t) => {
    const cp = cps[0]!;
    const c: Clients = await setupCluster(cp);
    await createSimNode(c.core, { name: 'w1', internalIP: '198.18.0.21' });
    await createSimNode(c.core, { name: 'w2', internalIP: '198.18.0.22' });
    const base = `/apis/${GROUP}/${VERSION}`;
    const admin = await KubeClient.load(cp.kubeconfigPath);
    const create = (plural: string, kind: string, name: string, spec: object) =>
      admin.request('POST', `${base}/${plural}`, {
        body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name }, spec },
      });
    const remote = (id: string, octet: number) => ({
      clusterID: id,
      mode: 'ActiveStandby',
      gateways: [
        {
          node: `${id}-gw`,
          gatewayIP: `198.18.1.${octet}`,
          internalIP: `198.18.1.${octet}`,
          priority: 100,
          ready: true,
        },
      ],
      podCIDRs: [`198.19.${octet}.0/24`],
      serviceCIDRs: [],
      tunnel: {},
    });
    await create('clustersetmembers', 'ClusterSetMember', 'a', {
      clusterID: 'a',
      leader: { secretName: 'mcgw-leader', namespace: 'member-a' },
      podCIDRs: ['198.18.64.0/20'],
    });
    await create('clustergateways', 'ClusterGateway', 'w1', {
      nodeName: 'w1',
      gatewayIP: '198.18.0.21',
      internalIP: '198.18.0.21',
      priority: 100,
    });
    await create('remoteclusters', 'RemoteCluster', 'b', remote('b', 1));

    const inputs: AgentInputs[] = [];
    let objects = 0;
    const src = new KubeSource({
      client: admin,
      node: 'w2',
      log,
      onInputs: (i) => inputs.push(i),
      onObjects: () => objects++,
    });
    src.start();
    try {
      await waitFor('first inputs', () => inputs.length > 0);
      assert.ok(src.isSynced());
      const first = inputs[0]!;
      assert.equal(first.node, 'w2');
      assert.equal(first.cluster, 'a');
      assert.equal(first.internalIP, '198.18.0.22');
      assert.deepEqual(
        first.local.gateways.map((g) => g.node),
        ['w1'],
      );
      assert.deepEqual(
        first.remotes.map((r) => r.clusterID),
        ['b'],
      );
      assert.ok(objects > 0);

      await create('remoteclusters', 'RemoteCluster', 'c', remote('c', 2));
      await waitFor('c in the inputs', () => inputs.at(-1)!.remotes.length === 2);

      const n = inputs.length;
      await cp.killApiserver();
      await sleep(2500);
      assert.equal(inputs.length, n, 'no new inputs while the apiserver is away');
      assert.ok(src.isSynced(), 'still synced: it keeps what it has');
      const t0 = Date.now();
      await cp.startApiserver();
      t.diagnostic(`apiserver back after ${Date.now() - t0} ms`);
      await admin.request('DELETE', `${base}/remoteclusters/b`);
      await waitFor('b gone from the inputs', () => inputs.at(-1)!.remotes.every((r) => r.clusterID !== 'b'));
      assert.deepEqual(
        inputs.at(-1)!.remotes.map((r) => r.clusterID),
        ['c'],
      );
    } finally {
      await src.stop();
      admin.close();
    }
  });
});
