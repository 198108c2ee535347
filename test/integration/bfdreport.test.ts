// BFD Down reports against a real kube-apiserver: agents' reporters write one Event per failure, and
// the controller re-places a reported Gateway as soon as its Lease has been silent for 2 renew
// intervals, well before the Lease duration, while a report about a Gateway that keeps renewing
// fails nothing.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Event } from '@kubernetes/client-node';
import { BfdDownReporter, kubeReporterApi } from '../../src/agent/reporter.ts';
import { BFD_DOWN_SELECTOR, bfdDownEvent } from '../../src/api/bfdreport.ts';
import { SYSTEM_NAMESPACE } from '../../src/api/group.ts';
import { getCondition } from '../../src/model/conditions.ts';
import { GatewayController } from '../../src/controller/controller.ts';
import type { Clients } from '../../src/kube/client.ts';
import { KubeClient } from '../../src/kube/lite/client.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { ControllerMetrics, createRegistry } from '../../src/metrics/index.ts';
import { createLogger, silentLogger } from '../../src/util/log.ts';
import { useControlPlanes } from './harness.ts';
import { createFiveNodes, createPolicy, events, listGateways, setupCluster, waitFor } from './util.ts';

// A long Lease next to a short renew interval: the gap a report closes.
const TIMING = { leaseDurationMs: 4000, renewIntervalMs: 500 };
const log = process.env.MCGW_TEST_LOG ? createLogger('debug') : silentLogger;

describe('BFD Down reports on a real apiserver', () => {
  const cps = useControlPlanes(1, { name: 'bfdrep' });
  let c: Clients;
  // The agent's own client (src/kube/lite), as `mcgw agent` makes its reports.
  let lite: KubeClient;
  let ctl: GatewayController;
  let metrics: ControllerMetrics;
  const renewers = new Map<string, { r: LeaseRenewer; lastRenewedAt: number }>();
  const startRenewer = (node: string) => {
    const rec = {
      lastRenewedAt: 0,
      r: new LeaseRenewer({
        api: c.coordination,
        node,
        ...TIMING,
        onRenew: () => (rec.lastRenewedAt = Date.now()),
      }),
    };
    renewers.set(node, rec);
    rec.r.start();
  };
  const reporter = (node: string) =>
    new BfdDownReporter({
      node,
      api: kubeReporterApi(lite),
      uidOf: (gw) => uids.get(gw),
      log,
    });
  const uids = new Map<string, string>();
  const refreshUids = async () => {
    uids.clear();
    for (const g of await listGateways(c)) uids.set(g.spec.nodeName, g.metadata.uid!);
  };
  const reports = async (): Promise<CoreV1Event[]> =>
    (await c.core.listNamespacedEvent({ namespace: SYSTEM_NAMESPACE, labelSelector: BFD_DOWN_SELECTOR }))
      .items;
  const counter = async (
    m: { get(): Promise<{ values: { value: number; labels: object }[] }> },
    labels = {},
  ) =>
    (await m.get()).values
      .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
      .reduce((s, v) => s + v.value, 0);

  after(async () => {
    for (const { r } of renewers.values()) r.stop();
    await ctl?.stop();
  });

  test('setup: two Gateways placed and renewing their Leases', async () => {
    c = await setupCluster(cps[0]!);
    lite = await KubeClient.load(cps[0]!.kubeconfigPath);
    await createFiveNodes(c);
    metrics = new ControllerMetrics(createRegistry());
    ctl = new GatewayController({ clients: c, identity: 'test-ctl', log, election: false, metrics });
    await ctl.start();
    await waitFor('controller ready', () => ctl.isLeader() && ctl.isReady());
    await createPolicy(c, 'default', { desiredInstances: 2, failureDetection: TIMING, holdDownSeconds: 60 });
    const gws = await waitFor('two ClusterGateways', async () => {
      const l = await listGateways(c);
      return l.length === 2 ? l : undefined;
    });
    for (const g of gws) startRenewer(g.spec.nodeName);
    await waitFor('both Ready', async () =>
      (await listGateways(c)).every((g) => getCondition(g.status?.conditions, 'Ready')?.status === 'True'),
    );
    await refreshUids();
  });

  test('two Nodes reporting one failure make one Event; a report while the Lease is renewed fails nothing', async (t) => {
    const gws = await listGateways(c);
    const target = gws[0]!;
    const [w1, w2] = [reporter('w1'), reporter('w2')];
    const results = await Promise.all([
      w1.report({ gateway: target.spec.nodeName, inner: '198.19.128.1', diag: 1 }),
      w2.report({ gateway: target.spec.nodeName, inner: '198.19.128.1', diag: 1 }),
    ]);
    assert.deepEqual([...results].sort(), ['duplicate', 'sent']);
    const evs = await reports();
    assert.equal(evs.length, 1, 'exactly one Event for one failure');
    const ev = evs[0]!;
    assert.equal(ev.metadata!.annotations!['mcgw.io/gateway-uid'], target.metadata.uid);
    assert.equal(ev.involvedObject.kind, 'Lease');
    assert.equal(ev.involvedObject.name, `gateway-${target.spec.nodeName}`);
    assert.ok(ev.involvedObject.uid, "the Lease's uid");
    assert.equal(ev.reason, 'GatewayBFDDown');
    assert.match(ev.message!, new RegExp(`to Gateway ${target.spec.nodeName} went Down`));
    t.diagnostic(`event ${ev.metadata!.name}, reported by ${ev.reportingInstance}`);

    // The controller takes the report as a suspicion and the next renewal lifts it; or, when the
    // report reaches it after that renewal (a loaded machine), it ignores the report at once.
    const seen = await waitFor('the report seen', async () => {
      const suspected = await counter(metrics.m.bfdReports, { result: 'suspected' });
      const ignored = await counter(metrics.m.bfdReports, { result: 'ignored' });
      return suspected + ignored === 1 && { suspected, ignored };
    });
    t.diagnostic(
      seen.suspected ? 'suspected, then lifted by a renewal' : 'ignored: renewed before it arrived',
    );
    if (seen.suspected)
      await waitFor(
        'the suspicion lifted by a renewal',
        async () => (await counter(metrics.m.bfdReportsCleared)) === 1,
      );
    // Longer than the early rule (2 x 500 ms) and than the Lease duration: nothing happens.
    await sleep(TIMING.leaseDurationMs + 500);
    const after = await listGateways(c);
    assert.deepEqual(after.map((g) => g.metadata.uid).sort(), gws.map((g) => g.metadata.uid).sort());
    assert.equal(await counter(metrics.m.bfdEarlyFailures), 0);
  });

  test('a report about a placement that no longer exists is ignored', async () => {
    const gw = (await listGateways(c))[0]!;
    const before = await counter(metrics.m.bfdReports, { result: 'ignored' });
    await c.core.createNamespacedEvent({
      namespace: SYSTEM_NAMESPACE,
      body: bfdDownEvent(
        { gateway: gw.spec.nodeName, uid: 'an-older-placement', renewal: '1', reporter: 'w9' },
        'test',
        Date.now(),
      ),
    });
    await waitFor(
      'ignored',
      async () => (await counter(metrics.m.bfdReports, { result: 'ignored' })) === before + 1,
    );
  });

  test('a Gateway whose agent dies: reported by BFD, re-placed well before its Lease duration', async (t) => {
    const before = await listGateways(c);
    const victim = [...before].sort((a, b) => b.spec.priority - a.spec.priority)[0]!;
    const node = victim.spec.nodeName;
    const rec = renewers.get(node)!;
    rec.r.stop();
    const stoppedAt = Date.now();
    // A renewal already under way may still land: wait until the Lease stops changing, so both
    // reporters read the same last renewal, and the last one is known.
    const renewTime = async () =>
      String(
        (await c.coordination.readNamespacedLease({ namespace: SYSTEM_NAMESPACE, name: `gateway-${node}` }))
          .spec?.renewTime,
      );
    for (let prev = await renewTime(); ; ) {
      await sleep(150);
      const cur = await renewTime();
      if (cur === prev) break;
      prev = cur;
    }
    const lastRenewal = rec.lastRenewedAt;
    // The Nodes' BFD sessions time out (3 x 50 ms); two of them report it at once.
    const results = await Promise.all(
      ['w3', 'w4'].map((w) => reporter(w).report({ gateway: node, diag: 1 })),
    );
    assert.deepEqual([...results].sort(), ['duplicate', 'sent']);
    const reportedAt = Date.now();
    await waitFor(
      'the reported Gateway removed and replaced',
      async () => {
        const l = await listGateways(c);
        return l.length === 2 && !l.some((g) => g.spec.nodeName === node);
      },
      15_000,
      10,
    );
    const removedAt = Date.now();
    const sinceRenewal = removedAt - lastRenewal;
    const msg =
      `removed ${sinceRenewal} ms after its last Lease renewal (${removedAt - stoppedAt} ms after the renewer ` +
      `stopped, ${removedAt - reportedAt} ms after the report); Lease duration ${TIMING.leaseDurationMs} ms, ` +
      `early rule 2 x ${TIMING.renewIntervalMs} ms`;
    t.diagnostic(msg);
    console.log(`[bfdreport.test] ${msg}`);
    // Generous for a loaded machine, and still well short of the Lease duration.
    assert.ok(sinceRenewal < TIMING.leaseDurationMs, msg);
    // The controller sees the last renewal a little before the renewer has its answer.
    assert.ok(sinceRenewal >= 2 * TIMING.renewIntervalMs - 250, `not before the early rule allows: ${msg}`);
    const ev = await waitFor('removal event', async () =>
      (await events(c)).find(
        (e) => e.reason === 'RemovedLeaseExpired' && e.message!.includes(`node ${node}:`),
      ),
    );
    assert.match(ev.message!, /reported it down by BFD and its gateway Lease was silent for \d+ ms/);
    assert.equal(ev.type, 'Warning');
    assert.equal(await counter(metrics.m.bfdEarlyFailures), 1);
    assert.equal(await counter(metrics.m.failovers, { reason: 'LeaseExpired' }), 1, 'counted as a failover');
    // The survivor was not touched.
    const survivor = before.find((g) => g.spec.nodeName !== node)!;
    const now = await listGateways(c);
    assert.equal(
      now.find((g) => g.spec.nodeName === survivor.spec.nodeName)?.metadata.uid,
      survivor.metadata.uid,
    );
  });
});
