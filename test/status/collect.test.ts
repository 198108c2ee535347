// The status collector against a scripted HTTP apiserver on loopback: the messages for an
// unreachable apiserver, refused credentials, missing CRDs and forbidden lists. The real thing is
// tested in test/integration/status.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { StatusError, collectStatus } from '../../src/status/collect.ts';
import type { MemberStatusReport } from '../../src/status/types.ts';
import { freePort } from '../../src/lab/ports.ts';

type Route = (req: IncomingMessage, res: ServerResponse) => void;

const json =
  (code: number, body: unknown): Route =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
const status = (code: number, message: string) =>
  json(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });
const list = (items: unknown[] = []) => json(200, { kind: 'List', items });
const discovery = (names: string[]) =>
  json(200, {
    kind: 'APIResourceList',
    groupVersion: 'mcgw.io/v1alpha1',
    resources: names.map((name) => ({ name })),
  });
const MEMBER = ['gatewaypolicies', 'clustergateways', 'clustersetmembers', 'remoteclusters'];

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

describe('status collector against a scripted apiserver', () => {
  let routes: Record<string, Route> = {};
  let server: string;
  const srv = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const r = routes[`${req.method} ${path}`];
    if (r) return r(req, res);
    status(404, 'the server could not find the requested resource')(req, res);
  });
  before(async () => {
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    server = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  after(() => srv.close());

  const collect = (leader = false, timeoutMs = 2000) =>
    collectStatus({
      kc: kubeConfig(server),
      leader,
      timeoutMs,
      now: () => Date.parse('2026-03-01T12:00:00Z'),
    });

  test('no mcgw API group: the CRDs are not installed, and the message says how to install them', async () => {
    routes = {};
    await assert.rejects(collect(), (err: Error) => {
      assert.ok(err instanceof StatusError);
      assert.equal(err.message, 'mcgw CRDs are not installed in this cluster: run mcgw crds --apply');
      return true;
    });
    await assert.rejects(
      collect(true),
      /^StatusError: mcgw CRDs are not installed in this cluster: run mcgw leader --install-crds$/,
    );
  });

  test('some CRDs missing, or the other role’s CRDs: named, with what to run', async () => {
    routes = {
      'GET /apis/mcgw.io/v1alpha1': discovery(['gatewaypolicies', 'clustergateways', 'clustersetmembers']),
    };
    await assert.rejects(
      collect(),
      /some mcgw CRDs are not installed in this cluster \(missing: remoteclusters\.mcgw\.io\): run mcgw crds --apply/,
    );
    routes = { 'GET /apis/mcgw.io/v1alpha1': discovery(['clusterexports', 'clusterimports']) };
    await assert.rejects(
      collect(),
      /looks like the ClusterSet's leader cluster, so run mcgw status --leader/,
    );
    routes = { 'GET /apis/mcgw.io/v1alpha1': discovery(MEMBER) };
    await assert.rejects(collect(true), /looks like a member cluster, so run mcgw status without --leader/);
  });

  test('refused credentials', async () => {
    routes = { 'GET /apis/mcgw.io/v1alpha1': status(401, 'Unauthorized') };
    await assert.rejects(
      collect(),
      /the apiserver at http:\/\/127\.0\.0\.1:\d+ refused the kubeconfig's credentials \(HTTP 401\)/,
    );
  });

  test('a forbidden list is a problem naming the identity and what to grant; the rest is shown', async () => {
    routes = {
      'GET /apis/mcgw.io/v1alpha1': discovery(MEMBER),
      'GET /apis/mcgw.io/v1alpha1/clustersetmembers': list(),
      'GET /apis/mcgw.io/v1alpha1/gatewaypolicies': list(),
      'GET /apis/mcgw.io/v1alpha1/clustergateways': list([
        {
          metadata: { name: 'n1' },
          spec: { nodeName: 'n1', gatewayIP: '198.18.0.1', internalIP: '198.18.0.1', priority: 5 },
        },
      ]),
      'GET /apis/mcgw.io/v1alpha1/remoteclusters': status(
        403,
        'remoteclusters.mcgw.io is forbidden: User "jane" cannot list resource "remoteclusters" in API group "mcgw.io" at the cluster scope',
      ),
      'GET /apis/coordination.k8s.io/v1/namespaces/mcgw-system/leases': list(),
      'GET /api/v1/namespaces/default/events': status(403, 'events is forbidden: User "jane" cannot list'),
      'POST /apis/authentication.k8s.io/v1/selfsubjectreviews': json(201, {
        kind: 'SelfSubjectReview',
        status: { userInfo: { username: 'jane@example' } },
      }),
    };
    const r = (await collect()) as MemberStatusReport;
    assert.equal(r.gateways?.length, 1);
    assert.equal(r.remoteClusters, null);
    assert.equal(r.failovers, null);
    assert.deepEqual(r.problems.sort(), [
      'your identity "jane@example" may not list events in namespace default; grant it list on events in the core API group in namespace default (a Role and RoleBinding), or use another --kubeconfig or --context',
      'your identity "jane@example" may not list remoteclusters.mcgw.io (cluster-wide); grant it list on remoteclusters in API group mcgw.io (a ClusterRole and ClusterRoleBinding), or use another --kubeconfig or --context',
    ]);
  });

  test('without SelfSubjectReview the identity comes from the apiserver message', async () => {
    routes = {
      'GET /apis/mcgw.io/v1alpha1': discovery(['clusterexports', 'clusterimports']),
      'GET /apis/mcgw.io/v1alpha1/clusterexports': list(),
      'GET /apis/mcgw.io/v1alpha1/namespaces/mcgw-clusterset/clusterimports': list(),
      'GET /apis/coordination.k8s.io/v1/leases': status(
        403,
        'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:x:y" cannot list resource "leases"',
      ),
    };
    const r = await collect(true);
    assert.equal(r.mode, 'leader');
    assert.match(
      r.problems[0]!,
      /^your identity "system:serviceaccount:x:y" may not list leases\.coordination\.k8s\.io \(cluster-wide\)/,
    );
  });

  test('an apiserver that does not answer in time is unreachable', async () => {
    routes = { 'GET /apis/mcgw.io/v1alpha1': () => {} }; // never answers
    await assert.rejects(
      collect(false, 300),
      /cannot reach the apiserver at http:\/\/127\.0\.0\.1:\d+ \(.*no answer within 300 ms\)/,
    );
  });
});

test('a closed port is unreachable, and mcgw status says so with exit status 1', async () => {
  const port = await freePort();
  const server = `https://127.0.0.1:${port}`;
  await assert.rejects(collectStatus({ kc: kubeConfig(server) }), (err: Error) => {
    assert.ok(err instanceof StatusError);
    assert.match(
      err.message,
      new RegExp(
        `^cannot reach the apiserver at ${server} \\(.*ECONNREFUSED.*\\): check that the cluster is up`,
      ),
    );
    return true;
  });
  const dir = mkdtempSync(join(tmpdir(), 'mcgw-status-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, kubeConfig(server).exportConfig());
  const bin = new URL('../../bin/mcgw.js', import.meta.url).pathname;
  const r = await promisify(execFile)(process.execPath, [bin, 'status', '--kubeconfig', path]).then(
    () => assert.fail('mcgw status succeeded'),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    /^mcgw status: cannot reach the apiserver at https:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/,
  );
});
