// The member-cluster controller against a real kube-apiserver: placement, failure replacement,
// steady state and bad input.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SYSTEM_NAMESPACE, gatewayLeaseName } from '../../src/api/group.ts';
import { GatewayController } from '../../src/controller/controller.ts';
import { getCondition } from '../../src/model/conditions.ts';
import type { Clients } from '../../src/kube/client.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { createSimNode, setSimNodeStatus } from '../../src/lab/simnodes.ts';
import { createLogger, silentLogger } from '../../src/util/log.ts';
import { useControlPlanes } from './harness.ts';
import {
  createFiveNodes,
  createPolicy,
  events,
  getPolicy,
  listGateways,
  patchPolicySpec,
  setupCluster,
  waitFor,
} from './util.ts';

const FAST = { leaseDurationMs: 1500, renewIntervalMs: 500 };

describe('controller on a real apiserver', () => {
  const cps = useControlPlanes(1, { name: 'ctl' });
  let c: Clients;
  let ctl: GatewayController;
  const renewers = new Map<string, LeaseRenewer>();
  let firstVictim = '';
  const startRenewer = (node: string) => {
    const r = new LeaseRenewer({
      api: c.coordination,
      node,
      renewIntervalMs: FAST.renewIntervalMs,
      leaseDurationMs: FAST.leaseDurationMs,
    });
    renewers.set(node, r);
    r.start();
    return r;
  };

  // Registered in the describe body: a hook registered inside a test would run when that test ends.
  after(async () => {
    for (const r of renewers.values()) r.stop();
    await ctl?.stop();
  });

  test('setup: CRDs, five candidates in three zones, controller leading', async () => {
    c = await setupCluster(cps[0]!);
    await createFiveNodes(c);
    ctl = new GatewayController({
      clients: c,
      identity: 'test-ctl',
      log: process.env.MCGW_TEST_LOG ? createLogger('debug') : silentLogger,
      election: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 },
    });
    await ctl.start();
    await waitFor('controller to lead with synced caches', () => ctl.isLeader() && ctl.isReady());
  });

  test('desired 2 over 5 candidates in 3 zones: two Gateways in different zones within 1 s', async () => {
    const t0 = Date.now();
    await createPolicy(c, 'default', { desiredInstances: 2, failureDetection: FAST, holdDownSeconds: 60 });
    const gws = await waitFor(
      'two ClusterGateways',
      async () => {
        const l = await listGateways(c);
        return l.length === 2 ? l : undefined;
      },
      5000,
      10,
    );
    const took = Date.now() - t0;
    assert.ok(took < 1000, `placement took ${took} ms`);
    assert.equal(new Set(gws.map((g) => g.spec.zone)).size, 2, 'different zones');
    for (const g of gws) assert.match(g.spec.internalIP, /^198\.18\.0\.1[1-5]$/);
    const placed = await waitFor('Placed events', async () => {
      const e = (await events(c)).filter((x) => x.reason === 'Placed');
      return e.length >= 2 ? e : undefined;
    });
    assert.ok(
      placed.every(
        (e) =>
          e.involvedObject.kind === 'GatewayPolicy' && /Placed Gateway instance on node n\d/.test(e.message!),
      ),
    );
  });

  test('instances become Ready once their Lease is renewed; the highest priority one is Active', async () => {
    for (const g of await listGateways(c)) startRenewer(g.spec.nodeName);
    const gws = await waitFor('both Ready', async () => {
      const l = await listGateways(c);
      return l.every((g) => getCondition(g.status?.conditions, 'Ready')?.status === 'True') ? l : undefined;
    });
    const top = [...gws].sort((a, b) => b.spec.priority - a.spec.priority)[0]!;
    assert.equal(top.status?.role, 'Active');
    const p = await waitFor('policy Ready', async () => {
      const x = await getPolicy(c, 'default');
      return getCondition(x.status?.conditions, 'Ready')?.status === 'True' ? x : undefined;
    });
    assert.equal(p.status?.readyInstances, 2);
    assert.equal(p.status?.gateways?.length, 2);
  });

  test('steady state: no object written by the controller for 30 s', async () => {
    const snapshot = async () => {
      const gws = (await listGateways(c))
        .map((g) => `${g.metadata.name}@${g.metadata.resourceVersion}`)
        .sort();
      const p = await getPolicy(c, 'default');
      return { gws, policy: p.metadata.resourceVersion, events: (await events(c)).length };
    };
    await sleep(1000); // let any write already in flight land
    const before = await snapshot();
    const writes = ctl.stats.writes;
    const reconciles = ctl.stats.reconciles;
    await sleep(30_000);
    assert.deepEqual(await snapshot(), before);
    assert.equal(ctl.stats.writes, writes);
    assert.ok(
      ctl.stats.reconciles > reconciles,
      'the controller kept reconciling (Lease renewals), it just had nothing to write',
    );
  });

  test('a Gateway whose Lease stops and whose Node goes NotReady is replaced within 5 s of expiry; the survivor is not rewritten', async () => {
    const before = await listGateways(c);
    const [victim, survivor] = [...before].sort((a, b) => b.spec.priority - a.spec.priority) as [
      (typeof before)[0],
      (typeof before)[0],
    ];
    firstVictim = victim.spec.nodeName;
    renewers.get(victim.spec.nodeName)!.stop();
    const lastRenew = Date.now();
    await setSimNodeStatus(c.core, victim.spec.nodeName, false);
    const expiry = lastRenew + FAST.leaseDurationMs;
    const after = await waitFor(
      'a replacement',
      async () => {
        const l = await listGateways(c);
        return l.length === 2 && !l.some((g) => g.spec.nodeName === victim.spec.nodeName) ? l : undefined;
      },
      10_000,
      10,
    );
    const replacedAt = Date.now();
    assert.ok(replacedAt - expiry < 5000, `replacement ${replacedAt - expiry} ms after Lease expiry`);
    const s2 = after.find((g) => g.metadata.name === survivor.metadata.name)!;
    assert.equal(s2.metadata.uid, survivor.metadata.uid, 'survivor not recreated');
    assert.equal(s2.metadata.generation, survivor.metadata.generation, 'survivor spec not rewritten');
    assert.deepEqual(s2.spec, survivor.spec);
    const repl = after.find((g) => g.metadata.name !== survivor.metadata.name)!;
    assert.ok(repl.spec.priority < survivor.spec.priority, 'replacement ranks below the survivor');
    const ev = await waitFor('removal event', async () =>
      (await events(c)).find((e) => e.reason === 'RemovedLeaseExpired' || e.reason === 'RemovedNodeNotReady'),
    );
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message!, new RegExp(victim.spec.nodeName));
    startRenewer(repl.spec.nodeName);
    await waitFor(
      'survivor Active',
      async () =>
        (await listGateways(c)).find((g) => g.metadata.name === survivor.metadata.name)?.status?.role ===
        'Active',
    );
    // The failed Node comes back but is held down: it is not chosen again while the policy is full.
    await setSimNodeStatus(c.core, victim.spec.nodeName, true);
  });

  test('a Lease that stops while its Node still looks Ready: replaced after expiry, not before, and not onto the held-down Node', async () => {
    const before = await listGateways(c);
    const victim = [...before].sort((a, b) => a.spec.priority - b.spec.priority)[0]!;
    renewers.get(victim.spec.nodeName)!.stop();
    const lastRenew = Date.now();
    // No false detection: still there shortly before the Lease expires.
    await sleep(FAST.leaseDurationMs - 300);
    assert.ok(
      (await listGateways(c)).some((g) => g.spec.nodeName === victim.spec.nodeName),
      'removed before its Lease expired',
    );
    const after = await waitFor(
      'a replacement',
      async () => {
        const l = await listGateways(c);
        return l.length === 2 && !l.some((g) => g.spec.nodeName === victim.spec.nodeName) ? l : undefined;
      },
      10_000,
      10,
    );
    const sinceExpiry = Date.now() - (lastRenew + FAST.leaseDurationMs);
    assert.ok(sinceExpiry < 5000, `replacement ${sinceExpiry} ms after Lease expiry`);
    const repl = after.find((g) => !before.some((b) => b.metadata.name === g.metadata.name))!;
    assert.notEqual(repl.spec.nodeName, firstVictim, 'the Node that failed earlier is held down');
    assert.notEqual(repl.spec.nodeName, victim.spec.nodeName);
    const ev = await waitFor('LeaseExpired event', async () =>
      (await events(c)).find(
        (e) => e.reason === 'RemovedLeaseExpired' && e.message!.includes(victim.spec.nodeName),
      ),
    );
    assert.equal(ev.type, 'Warning');
    startRenewer(repl.spec.nodeName);
  });

  test('a candidate without addresses is skipped with a Warning Event naming it', async () => {
    await createSimNode(c.core, { name: 'noaddr', zone: 'zone-d' });
    const ev = await waitFor('CandidateNoInternalIP event', async () =>
      (await events(c)).find((e) => e.involvedObject.name === 'noaddr' && e.reason?.startsWith('Candidate')),
    );
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.involvedObject.kind, 'Node');
  });

  test('a second policy is a Conflict condition, not a fight', async () => {
    const gwsBefore = (await listGateways(c)).map((g) => g.metadata.uid).sort();
    await createPolicy(c, 'second', { desiredInstances: 4 });
    const p = await waitFor('conflict condition', async () => {
      const x = await getPolicy(c, 'second');
      return getCondition(x.status?.conditions, 'Degraded')?.reason === 'Conflict' ? x : undefined;
    });
    assert.match(getCondition(p.status?.conditions, 'Degraded')!.message, /"default" is already in effect/);
    await sleep(500);
    assert.deepEqual((await listGateways(c)).map((g) => g.metadata.uid).sort(), gwsBefore);
    await c.custom.deleteClusterCustomObject({
      group: 'mcgw.io',
      version: 'v1alpha1',
      plural: 'gatewaypolicies',
      name: 'second',
    });
  });

  test('a policy the schema accepts but that cannot work is Degraded with what to fix, and nothing is removed', async () => {
    const gwsBefore = (await listGateways(c)).map((g) => g.metadata.uid).sort();
    await patchPolicySpec(c, 'default', {
      desiredInstances: 2,
      failureDetection: FAST,
      candidateSelector: { matchLabels: { 'bad key with spaces': 'x' } },
    });
    const p = await waitFor('InvalidSpec', async () => {
      const x = await getPolicy(c, 'default');
      return getCondition(x.status?.conditions, 'Degraded')?.reason === 'InvalidSpec' ? x : undefined;
    });
    assert.match(getCondition(p.status?.conditions, 'Degraded')!.message, /candidateSelector\.matchLabels/);
    assert.deepEqual((await listGateways(c)).map((g) => g.metadata.uid).sort(), gwsBefore);
  });

  test('the apiserver down for longer than the Lease duration: no Gateway is failed when it returns', async () => {
    const before = (await listGateways(c)).map((g) => g.metadata.uid).sort();
    // The agents cannot renew while the apiserver is away, and come back a little after it does.
    const running = [...renewers.entries()].filter(([node]) => before.length && node);
    for (const [, r] of running) r.stop();
    await cps[0]!.killApiserver();
    try {
      // Long enough for the informers' retry backoff to grow to seconds: the controller is elected
      // again and plans before its Lease watch is back, and must not judge Leases it cannot see.
      await sleep(FAST.leaseDurationMs * 6);
    } finally {
      await cps[0]!.startApiserver();
    }
    // Make the controller reconcile at once, before any agent has renewed: touch the policy.
    const pol = await getPolicy(c, 'default');
    await c.custom.replaceClusterCustomObject({
      group: 'mcgw.io',
      version: 'v1alpha1',
      plural: 'gatewaypolicies',
      name: 'default',
      body: { ...pol, metadata: { ...pol.metadata, annotations: { touched: String(Date.now()) } } },
    });
    await sleep(FAST.leaseDurationMs / 2);
    for (const [, r] of running) r.start();
    // The controller must not take the outage for silence of the agents.
    await sleep(FAST.leaseDurationMs * 2);
    assert.deepEqual((await listGateways(c)).map((g) => g.metadata.uid).sort(), before);
    assert.ok(
      !(await events(c)).some(
        (e) =>
          e.reason === 'RemovedLeaseExpired' && Date.parse(String(e.lastTimestamp)) > Date.now() - 10_000,
      ),
    );
  });

  test('desired 0 removes every instance', async () => {
    await patchPolicySpec(c, 'default', { desiredInstances: 0, failureDetection: FAST });
    await waitFor('no gateways', async () => (await listGateways(c)).length === 0);
    const lease = await c.coordination
      .readNamespacedLease({ namespace: SYSTEM_NAMESPACE, name: gatewayLeaseName('n1') })
      .catch(() => undefined);
    assert.ok(lease === undefined || lease.metadata?.name, "leases are the agents' and may stay");
  });
});
