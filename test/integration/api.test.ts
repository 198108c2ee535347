// The CRDs on a real apiserver: bad objects are rejected with messages that say what is wrong, and
// `kubectl get` shows the documented columns.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { describe, test } from 'node:test';
import type { Clients } from '../../src/kube/client.ts';
import { apiMessage, statusCode } from '../../src/kube/errors.ts';
import type { ControlPlane } from '../../src/lab/controlplane.ts';
import { useControlPlanes } from './harness.ts';
import { setupCluster } from './util.ts';

const G = { group: 'mcgw.io', version: 'v1alpha1' };

async function rejected(p: Promise<unknown>, pattern: RegExp, code = 422): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(statusCode(err), code, `expected HTTP ${code}, got ${apiMessage(err)}`);
    assert.match(apiMessage(err), pattern);
    return true;
  });
}

/** GET as kubectl does for `kubectl get`: the server renders a Table with the printer columns. */
function getTable(
  cp: ControlPlane,
  path: string,
): Promise<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(new URL(cp.server).port),
        path,
        ca: readFileSync(cp.certs.caCert),
        cert: readFileSync(cp.certs.adminCert),
        key: readFileSync(cp.certs.adminKey),
        headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode} ${body}`)),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('CRD schemas on a real apiserver', () => {
  const cps = useControlPlanes(1, { name: 'api' });
  let c: Clients;
  // Strict field validation, as kubectl asks for by default, so a misspelt field is an error.
  const policy = (name: string, spec: unknown) =>
    c.custom.createClusterCustomObject({
      ...G,
      fieldValidation: 'Strict',
      plural: 'gatewaypolicies',
      body: { apiVersion: 'mcgw.io/v1alpha1', kind: 'GatewayPolicy', metadata: { name }, spec },
    });
  const gateway = (name: string, spec: unknown) =>
    c.custom.createClusterCustomObject({
      ...G,
      plural: 'clustergateways',
      body: { apiVersion: 'mcgw.io/v1alpha1', kind: 'ClusterGateway', metadata: { name }, spec },
    });

  test('setup', async () => {
    c = await setupCluster(cps[0]!);
  });

  test('malformed GatewayPolicies are rejected with the field and the rule', async () => {
    await rejected(policy('neg', { desiredInstances: -1 }), /desiredInstances.*greater than or equal to 0/);
    await rejected(policy('big', { desiredInstances: 17 }), /desiredInstances.*less than or equal to 16/);
    await rejected(policy('mode', { mode: 'Primary' }), /mode.*Unsupported value: "Primary"/);
    await rejected(
      policy('timers', { failureDetection: { leaseDurationMs: 1000, renewIntervalMs: 900 } }),
      /renewIntervalMs must be at most half of leaseDurationMs/,
    );
    await rejected(
      policy('sel', { candidateSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }),
      /In and NotIn need at least one value/,
    );
    await rejected(policy('typo', { desiredInstance: 2 }), /unknown field "spec.desiredInstance"/, 400);
  });

  test('an empty GatewayPolicy is accepted and defaulted by the apiserver', async () => {
    const p = (await policy('defaults', {})) as { spec: Record<string, unknown> };
    assert.equal(p.spec.desiredInstances, 2);
    assert.equal(p.spec.mode, 'ActiveStandby');
    assert.deepEqual(p.spec.candidateSelector, { matchLabels: { 'mcgw.io/gateway-candidate': 'true' } });
    assert.deepEqual(p.spec.failureDetection, { leaseDurationMs: 3000, renewIntervalMs: 1000 });
  });

  test('malformed ClusterGateways are rejected', async () => {
    const ok = { nodeName: 'n1', gatewayIP: '198.18.0.1', internalIP: '198.18.0.1', priority: 100 };
    await rejected(
      gateway('n1', { ...ok, gatewayIP: '198.18.0.300' }),
      /gatewayIP.*must be an IPv4 or IPv6 address/,
    );
    await rejected(gateway('n1', { ...ok, priority: 0 }), /priority/);
    await rejected(gateway('other', ok), /metadata.name must equal spec.nodeName/);
    await rejected(gateway('n1', { nodeName: 'n1', gatewayIP: '198.18.0.1' }), /internalIP: Required value/);
  });

  test('kubectl get shows node, IPs, role, readiness and age', async () => {
    await gateway('n1', {
      nodeName: 'n1',
      gatewayIP: '198.18.0.1',
      internalIP: '198.18.1.1',
      priority: 100,
      zone: 'z',
    });
    const t = await getTable(cps[0]!, '/apis/mcgw.io/v1alpha1/clustergateways');
    const cols = t.columnDefinitions.map((d) => d.name);
    for (const want of ['Name', 'Node', 'Gateway IP', 'Internal IP', 'Role', 'Priority', 'Ready', 'Age'])
      assert.ok(cols.includes(want), `${want} in ${cols.join(',')}`);
    const row = t.rows[0]!.cells;
    assert.equal(row[cols.indexOf('Node')], 'n1');
    assert.equal(row[cols.indexOf('Gateway IP')], '198.18.0.1');
    assert.equal(row[cols.indexOf('Internal IP')], '198.18.1.1');
    const pt = await getTable(cps[0]!, '/apis/mcgw.io/v1alpha1/gatewaypolicies');
    const pcols = pt.columnDefinitions.map((d) => d.name);
    for (const want of ['Mode', 'Desired', 'Ready', 'Status', 'Age']) assert.ok(pcols.includes(want), want);
  });

  test('the status subresource ignores status in spec writes', async () => {
    const cur = (await c.custom.getClusterCustomObject({
      ...G,
      plural: 'clustergateways',
      name: 'n1',
    })) as Record<string, unknown>;
    const upd = (await c.custom.replaceClusterCustomObject({
      ...G,
      plural: 'clustergateways',
      name: 'n1',
      body: { ...cur, status: { role: 'Active' } },
    })) as { status?: unknown };
    assert.equal(upd.status, undefined);
  });
});
