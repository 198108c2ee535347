// `mcgw status` against real control planes: a member cluster with the controller, Gateways and a
// failover; a cluster without CRDs; an identity without rights; and the leader cluster.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { ClusterExport } from '../../src/api/types.ts';
import { getCondition } from '../../src/model/conditions.ts';
import { GatewayController } from '../../src/controller/controller.ts';
import type { Clients } from '../../src/kube/client.ts';
import { makeClients } from '../../src/kube/client.ts';
import { installCRDs } from '../../src/kube/crds.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { LeaderController } from '../../src/leader/controller.ts';
import { addMember, memberNamespace } from '../../src/leader/membership.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { collectStatus } from '../../src/status/collect.ts';
import { validate } from '../../src/status/schema-check.ts';
import type { JsonSchema } from '../../src/status/schema-check.ts';
import type { LeaderStatusReport, MemberStatusReport } from '../../src/status/types.ts';
import { silentLogger } from '../../src/util/log.ts';
import { useControlPlanes } from './harness.ts';
import { createFiveNodes, createPolicy, listGateways, setupCluster, waitFor } from './util.ts';

const FAST = { leaseDurationMs: 1500, renewIntervalMs: 500 };
const B = '/apis/mcgw.io/v1alpha1';
const BIN = new URL('../../bin/mcgw.js', import.meta.url).pathname;
const schema = JSON.parse(
  readFileSync(new URL('../../docs/status-schema.json', import.meta.url), 'utf8'),
) as JsonSchema;

/** Runs `mcgw status` with these flags; never throws on a non-zero exit. */
async function mcgwStatus(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, 'status', ...args], { timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('mcgw status on real control planes', () => {
  const cps = useControlPlanes(2, { name: 'status' });
  let c: Clients;
  let ctl: GatewayController;
  let lctl: LeaderController | undefined;
  const renewers = new Map<string, LeaseRenewer>();
  const renew = (node: string) => {
    const r = new LeaseRenewer({ api: c.coordination, node, ...FAST });
    renewers.set(node, r);
    r.start();
  };
  const member = async () => (await collectStatus({ kc: cps[0]!.kubeConfig() })) as MemberStatusReport;

  after(async () => {
    for (const r of renewers.values()) r.stop();
    await ctl?.stop();
    await lctl?.stop();
  });

  test('setup: a member cluster with the controller and two Ready Gateways', async () => {
    c = await setupCluster(cps[0]!);
    await createFiveNodes(c);
    ctl = new GatewayController({
      clients: c,
      identity: 'status-ctl',
      log: silentLogger,
      election: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 },
    });
    await ctl.start();
    await createPolicy(c, 'default', { desiredInstances: 2, failureDetection: FAST, holdDownSeconds: 60 });
    const gws = await waitFor('two gateways', async () => {
      const l = await listGateways(c);
      return l.length === 2 ? l : undefined;
    });
    for (const g of gws) renew(g.spec.nodeName);
    await waitFor('both Ready', async () =>
      (await listGateways(c)).every((g) => getCondition(g.status?.conditions, 'Ready')?.status === 'True'),
    );
  });

  test('status shows the policy and every Gateway, with role, priority, Ready and Lease age', async () => {
    const gws = await listGateways(c);
    const r = await waitFor('status with both ready', async () => {
      const x = await member();
      return x.policy?.ready === 2 ? x : undefined;
    });
    assert.deepEqual(r.problems, []);
    assert.equal(r.cluster, null);
    assert.equal(r.policy?.name, 'default');
    assert.equal(r.policy?.mode, 'ActiveStandby');
    assert.equal(r.policy?.desired, 2);
    assert.equal(r.policy?.conditions.find((x) => x.type === 'Ready')?.status, 'True');
    assert.deepEqual(r.gateways?.map((g) => g.node).sort(), gws.map((g) => g.spec.nodeName).sort());
    for (const g of r.gateways!) {
      assert.equal(g.ready, true);
      assert.ok(g.leaseAgeSeconds !== null && g.leaseAgeSeconds < 2, `Lease age ${g.leaseAgeSeconds}`);
      assert.match(g.internalIP, /^198\.18\.0\.1[1-5]$/);
    }
    assert.deepEqual(
      r.gateways!.map((g) => g.role),
      ['Active', 'Standby'],
    );
    assert.deepEqual(r.failovers, []);

    const out = await mcgwStatus('--kubeconfig', cps[0]!.kubeconfigPath);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /GatewayPolicy default: ActiveStandby, 2 desired, 2 ready/);
    for (const g of gws)
      assert.match(out.stdout, new RegExp(`^ {2}${g.spec.nodeName} .*${g.spec.priority} +True `, 'm'));
    assert.match(out.stdout, / Active /);
    assert.match(out.stdout, /not a ClusterSet member/);
  });

  test('after the Active Gateway stops renewing: the failover, its replacement and the timing', async () => {
    const before = await listGateways(c);
    const victim = before.find((g) => g.status?.role === 'Active')!;
    renewers.get(victim.spec.nodeName)!.stop();
    const stoppedAt = Date.now();
    const repl = await waitFor(
      'a replacement',
      async () =>
        (await listGateways(c)).find((g) => !before.some((b) => b.metadata.name === g.metadata.name)),
      10_000,
    );
    renew(repl.spec.nodeName);
    const r = await waitFor('the failover in status', async () => {
      const x = await member();
      return x.failovers?.length === 1 && x.gateways?.every((g) => g.ready) ? x : undefined;
    });
    const f = r.failovers![0]!;
    assert.equal(f.node, victim.spec.nodeName);
    assert.equal(f.reason, 'LeaseExpired');
    assert.equal(f.replacement, repl.spec.nodeName);
    const removedAt = Date.parse(f.removedAt);
    assert.ok(removedAt >= stoppedAt - 1000 && removedAt <= Date.now(), `removedAt ${f.removedAt}`);
    // Replaced in the same pass (make before break): no gap between removal and placement.
    assert.ok(
      f.replacementDelaySeconds !== null && f.replacementDelaySeconds <= 1,
      `${f.replacementDelaySeconds}`,
    );
    // The Lease was silent for about its duration (1.5 s) before the removal; Events round to 1 s.
    assert.ok(f.leaseLastRenewed, 'the last renewal is known');
    assert.ok(
      f.leaseSilentSeconds! >= 0.9 && f.leaseSilentSeconds! <= 3.5,
      `Lease silent ${f.leaseSilentSeconds} s before removal`,
    );
    assert.deepEqual(
      r.gateways!.map((g) => g.node).sort(),
      (await listGateways(c)).map((g) => g.spec.nodeName).sort(),
    );

    const out = await mcgwStatus('--kubeconfig', cps[0]!.kubeconfigPath);
    assert.equal(out.code, 0, out.stderr);
    const row = out.stdout.split('\n').find((l) => l.includes('LeaseExpired'));
    assert.ok(row, out.stdout);
    assert.match(
      row,
      new RegExp(
        `^ {2}\\d\\d:\\d\\d:\\d\\dZ \\(.+ ago\\) +${victim.spec.nodeName} +LeaseExpired +~[\\d.]+s +${repl.spec.nodeName} +\\d\\d:\\d\\d:\\d\\dZ +[01]s$`,
      ),
    );
  });

  test('--json prints one document that follows docs/status-schema.json, with every section filled', async () => {
    // A ClusterSetMember and a RemoteCluster, as the exchange would leave them.
    await rawRequest(c.kc, 'POST', `${B}/clustersetmembers`, {
      apiVersion: 'mcgw.io/v1alpha1',
      kind: 'ClusterSetMember',
      metadata: { name: 'local' },
      spec: {
        clusterID: 'a',
        leader: { secretName: 'mcgw-leader', namespace: memberNamespace('a') },
        podCIDRs: ['198.18.64.0/20'],
      },
    });
    await rawRequest(c.kc, 'POST', `${B}/remoteclusters`, {
      apiVersion: 'mcgw.io/v1alpha1',
      kind: 'RemoteCluster',
      metadata: { name: 'b' },
      spec: {
        clusterID: 'b',
        mode: 'ActiveActive',
        gateways: [
          { node: 'b-n1', gatewayIP: '198.18.2.11', internalIP: '198.18.2.11', priority: 5, ready: true },
        ],
        podCIDRs: ['198.18.80.0/20'],
        serviceCIDRs: ['198.19.11.0/24'],
        tunnel: {},
      },
    });
    const out = await mcgwStatus('--kubeconfig', cps[0]!.kubeconfigPath, '--json');
    assert.equal(out.code, 0, out.stderr);
    const doc = JSON.parse(out.stdout) as MemberStatusReport;
    assert.deepEqual(validate(schema, doc), []);
    assert.equal(doc.mode, 'member');
    assert.equal(doc.server, cps[0]!.server);
    assert.equal(doc.cluster?.clusterID, 'a');
    assert.equal(doc.cluster?.leaderReachable, null, 'no exchange runs here, so no condition yet');
    assert.equal(doc.remoteClusters?.[0]?.clusterID, 'b');
    assert.equal(doc.gateways?.length, 2);
    assert.equal(doc.failovers?.length, 1);
    const text = await mcgwStatus('--kubeconfig', cps[0]!.kubeconfigPath);
    assert.match(text.stdout, /member cluster a,/);
    assert.match(text.stdout, /^ {2}b +ActiveActive +1\/1 ready +198\.18\.2\.11 +198\.18\.80\.0\/20/m);
  });

  test('--watch refreshes every 2 s until interrupted', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'status', '--kubeconfig', cps[0]!.kubeconfigPath, '--json', '--watch'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('three documents', () => stdout.split('\n').filter(Boolean).length >= 3, 30_000, 100);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
    const docs = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as MemberStatusReport);
    for (const d of docs) assert.deepEqual(validate(schema, d), []);
    const gaps = docs.slice(1).map((d, i) => Date.parse(d.collectedAt) - Date.parse(docs[i]!.collectedAt));
    for (const g of gaps) assert.ok(g >= 1900 && g < 4000, `refreshed after ${g} ms`);
  });

  test('an identity that may not list: each section says who may not list what, exit status 1', async () => {
    const id = await cps[0]!.createServiceAccountKubeconfig('default', 'status-viewer');
    const out = await mcgwStatus('--kubeconfig', id.kubeconfigPath);
    assert.equal(out.code, 1);
    assert.match(
      out.stdout,
      /your identity "system:serviceaccount:default:status-viewer" may not list clustergateways\.mcgw\.io \(cluster-wide\); grant it list on clustergateways in API group mcgw\.io/,
    );
    assert.match(out.stdout, /may not list leases\.coordination\.k8s\.io in namespace mcgw-system/);
    assert.match(out.stdout, /Gateways\n {2}could not be read \(see Problems below\)/);
  });

  test('a cluster without the CRDs: a clear message and exit status 1', async () => {
    const out = await mcgwStatus('--kubeconfig', cps[1]!.kubeconfigPath);
    assert.equal(out.code, 1);
    assert.equal(out.stdout, '');
    assert.equal(
      out.stderr,
      'mcgw status: mcgw CRDs are not installed in this cluster: run mcgw crds --apply\n',
    );
    const json = await mcgwStatus('--kubeconfig', cps[1]!.kubeconfigPath, '--json', '--leader');
    assert.equal(json.code, 1);
    assert.equal(json.stdout, '');
    assert.match(json.stderr, /mcgw CRDs are not installed in this cluster: run mcgw leader --install-crds/);
  });

  test('--leader: exports with their Accepted condition and imports with their state', async () => {
    const leader = makeClients(cps[1]!.kubeConfig());
    await installCRDs(leader, 'leader');
    await addMember(leader, 'a');
    await addMember(leader, 'b');
    lctl = new LeaderController({
      clients: leader,
      identity: 'status-leader',
      log: silentLogger,
      election: false,
    });
    await lctl.start();
    const exp = (ns: string, id: string, pod: string) =>
      rawRequest(leader.kc, 'POST', `${B}/namespaces/${ns}/clusterexports`, {
        apiVersion: 'mcgw.io/v1alpha1',
        kind: 'ClusterExport',
        metadata: { name: id },
        spec: {
          clusterID: id,
          mode: 'ActiveStandby',
          gateways: [
            {
              node: `${id}-n1`,
              gatewayIP: '198.18.3.11',
              internalIP: '198.18.3.11',
              priority: 5,
              ready: true,
            },
          ],
          podCIDRs: [pod],
          serviceCIDRs: [],
          tunnel: {},
        },
      });
    await exp(memberNamespace('a'), 'a', '198.18.64.0/20');
    await exp(memberNamespace('b'), 'a', '198.18.96.0/20'); // b claims a's ID: refused
    await waitFor('both validated', async () => {
      const l = await rawRequest<{ items: ClusterExport[] }>(leader.kc, 'GET', `${B}/clusterexports`);
      return l.items.length === 2 && l.items.every((e) => getCondition(e.status?.conditions, 'Accepted'));
    });
    const out = await mcgwStatus('--kubeconfig', cps[1]!.kubeconfigPath, '--leader', '--json');
    assert.equal(out.code, 0, out.stderr);
    const doc = JSON.parse(out.stdout) as LeaderStatusReport;
    assert.deepEqual(validate(schema, doc), []);
    assert.deepEqual(
      doc.exports?.map((e) => [e.namespace, e.accepted?.status, e.accepted?.reason]),
      [
        [memberNamespace('a'), 'True', 'Accepted'],
        [memberNamespace('b'), 'False', 'WrongNamespace'],
      ],
    );
    assert.deepEqual(
      doc.imports?.map((i) => [i.clusterID, i.state, i.sourceNamespace]),
      [['a', 'Active', memberNamespace('a')]],
    );
    const text = await mcgwStatus('--kubeconfig', cps[1]!.kubeconfigPath, '--leader');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /mcgw-member-b\/a refused: namespace mcgw-member-b belongs to member b/);
    assert.match(text.stdout, /^ {2}a +mcgw-member-a +ActiveStandby +1\/1 ready +198\.18\.3\.11 .* Active /m);
    // And the member cluster is not the leader.
    const wrong = await mcgwStatus('--kubeconfig', cps[0]!.kubeconfigPath, '--leader');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /looks like a member cluster, so run mcgw status without --leader/);
  });
});
