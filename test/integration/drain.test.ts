// Draining a Gateway Node against a real apiserver: make before break. The instance on a Node
// labelled mcgw.io/draining=true is kept (marked draining) until its replacement has been Ready for
// drainSettleSeconds; with no replacement possible it stays; removing the label first cancels.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DRAINING_LABEL } from '../../src/api/group.ts';
import type { ClusterGateway } from '../../src/api/types.ts';
import { getCondition } from '../../src/model/conditions.ts';
import { GatewayController } from '../../src/controller/controller.ts';
import { REPLACEMENT_READY } from '../../src/controller/drain.ts';
import type { Clients } from '../../src/kube/client.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
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
const SETTLE_S = 2;

const isReady = (g: ClusterGateway) => getCondition(g.status?.conditions, 'Ready')?.status === 'True';
const nodesOf = (gws: readonly ClusterGateway[]) => gws.map((g) => g.spec.nodeName).sort();

/** Sets or removes the draining label by JSON patch (what `kubectl label` does). */
async function setDraining(c: Clients, node: string, on: boolean): Promise<void> {
  const path = `/metadata/labels/${DRAINING_LABEL.replace('/', '~1')}`;
  await c.core.patchNode({
    name: node,
    body: [on ? { op: 'add', path, value: 'true' } : { op: 'remove', path }],
  });
}

describe('drain on a real apiserver', () => {
  const cps = useControlPlanes(1, { name: 'drain' });
  let c: Clients;
  let ctl: GatewayController;
  // The simulated agents: each Gateway's Lease is renewed while its ClusterGateway exists.
  const renewers = new Map<string, LeaseRenewer>();
  let agents: NodeJS.Timeout | undefined;
  const syncAgents = async () => {
    const have = new Set(nodesOf(await listGateways(c)));
    for (const n of have)
      if (!renewers.has(n)) {
        const r = new LeaseRenewer({ api: c.coordination, node: n, ...FAST });
        renewers.set(n, r);
        r.start();
      }
    for (const [n, r] of renewers)
      if (!have.has(n)) {
        r.stop();
        renewers.delete(n);
      }
  };

  after(async () => {
    if (agents) clearInterval(agents);
    for (const r of renewers.values()) r.stop();
    await ctl?.stop();
  });

  const steady = (desired: number) =>
    waitFor(
      `${desired} Ready Gateways, none draining`,
      async () => {
        const l = await listGateways(c);
        return l.length === desired && l.every((g) => isReady(g) && !g.spec.draining) ? l : undefined;
      },
      15_000,
    );

  test('setup: five candidates, the controller, agents, desired 2', async () => {
    c = await setupCluster(cps[0]!);
    await createFiveNodes(c);
    ctl = new GatewayController({
      clients: c,
      identity: 'drain-ctl',
      log: process.env.MCGW_TEST_LOG ? createLogger('debug') : silentLogger,
      election: false,
    });
    await ctl.start();
    agents = setInterval(() => void syncAgents().catch(() => {}), 100);
    await createPolicy(c, 'default', {
      desiredInstances: 2,
      failureDetection: FAST,
      holdDownSeconds: 60,
      drainSettleSeconds: SETTLE_S,
    });
    await steady(2);
  });

  test('labelled draining: replaced first, kept and marked until the replacement has been Ready for the settle time', async (t) => {
    const before = await steady(2);
    const victim = before.find((g) => g.status?.role === 'Active')!;
    const survivor = before.find((g) => g !== victim)!;
    const t0 = Date.now();
    await setDraining(c, victim.spec.nodeName, true);

    // Watch the whole drain: at no moment may fewer than 2 Ready instances exist (make before break).
    let replacement: string | undefined;
    let coveredAt: number | undefined;
    let sawDraining = false;
    let sawStandby = false;
    let minReady = Infinity;
    const removedAt = await waitFor(
      'the drained instance to go',
      async () => {
        const l = await listGateways(c);
        minReady = Math.min(minReady, l.filter(isReady).length);
        const v = l.find((g) => g.spec.nodeName === victim.spec.nodeName);
        if (!v) return Date.now();
        if (v.spec.draining) sawDraining = true;
        if (v.status?.role === 'Standby') sawStandby = true;
        replacement ??= l.find(
          (g) =>
            g.spec.nodeName !== victim.spec.nodeName &&
            g !== survivor &&
            !before.some((b) => b.spec.nodeName === g.spec.nodeName),
        )?.spec.nodeName;
        const cond = getCondition(v.status?.conditions, REPLACEMENT_READY);
        if (cond?.status === 'True') coveredAt ??= Date.parse(cond.lastTransitionTime);
        return undefined;
      },
      20_000,
      20,
    );
    assert.ok(sawDraining, 'the instance was marked spec.draining while it stayed');
    assert.ok(sawStandby, 'and was no longer Active: the survivor carries the traffic');
    assert.ok(replacement, 'a replacement was placed while it stayed');
    assert.ok(coveredAt !== undefined, 'its ReplacementReady condition turned True');
    assert.ok(
      removedAt - coveredAt >= SETTLE_S * 1000,
      `removed ${removedAt - coveredAt} ms after the replacement was Ready (settle ${SETTLE_S} s)`,
    );
    assert.ok(minReady >= 2, `only ${minReady} Ready instances at some point`);
    t.diagnostic(
      `label to replacement Ready ${coveredAt - t0} ms, to removal ${removedAt - t0} ms (settle ${SETTLE_S} s)`,
    );
    const afterDrain = await steady(2);
    assert.deepEqual(nodesOf(afterDrain), [replacement, survivor.spec.nodeName].sort());
    const s2 = afterDrain.find((g) => g.spec.nodeName === survivor.spec.nodeName)!;
    assert.equal(s2.metadata.uid, survivor.metadata.uid, 'the survivor was not touched');
    assert.deepEqual(s2.spec, survivor.spec);
    const evs = await events(c);
    const started = evs.find((e) => e.reason === 'DrainStarted')!;
    assert.match(
      started.message!,
      new RegExp(`node ${victim.spec.nodeName} .*replacement placed on ${replacement}`),
    );
    const done = evs.find((e) => e.reason === 'RemovedDraining')!;
    assert.equal(done.type, 'Normal');
    assert.match(done.message!, /drain completed/);
    // The policy's status is written after the removal, by the next reconcile: wait for it.
    await waitFor('the policy status without the drained Gateway', async () => {
      const p = await getPolicy(c, 'default');
      return !p.status?.gateways?.some((g) => g.node === victim.spec.nodeName) || undefined;
    });
    assert.ok(Date.now() - t0 < 20_000);
  });

  test('the label removed before the drain completes: cancelled, the instance stays and the extra one goes', async () => {
    await patchPolicySpec(c, 'default', {
      desiredInstances: 2,
      failureDetection: FAST,
      holdDownSeconds: 60,
      drainSettleSeconds: 300,
    });
    const before = await steady(2);
    const victim = before.find((g) => g.status?.role === 'Active')!;
    await setDraining(c, victim.spec.nodeName, true);
    const covered = await waitFor(
      'the replacement Ready, the drain covered',
      async () => {
        const l = await listGateways(c);
        const v = l.find((g) => g.spec.nodeName === victim.spec.nodeName);
        return l.length === 3 && getCondition(v?.status?.conditions, REPLACEMENT_READY)?.status === 'True'
          ? l
          : undefined;
      },
      15_000,
    );
    const extra = covered.find((g) => !before.some((b) => b.spec.nodeName === g.spec.nodeName))!;
    await setDraining(c, victim.spec.nodeName, false);
    // spec.draining and the ReplacementReady condition go in two writes (spec, then status): wait
    // for both, or a read between them sees a cancelled drain that still says it is covered.
    const l = await waitFor('the drain cancelled', async () => {
      const x = await listGateways(c);
      const done = !x.some((g) => g.spec.draining || getCondition(g.status?.conditions, REPLACEMENT_READY));
      return x.length === 2 && done ? x : undefined;
    });
    assert.deepEqual(nodesOf(l), nodesOf(before), 'back to the instances before the drain');
    const v = l.find((g) => g.spec.nodeName === victim.spec.nodeName)!;
    assert.equal(v.metadata.uid, victim.metadata.uid, 'the same instance, never removed');
    assert.equal(getCondition(v.status?.conditions, REPLACEMENT_READY), undefined);
    assert.ok(!l.some((g) => g.spec.nodeName === extra.spec.nodeName));
    const evs = await events(c);
    assert.ok(evs.some((e) => e.reason === 'DrainCancelled' && e.message!.includes(victim.spec.nodeName)));
    assert.ok(evs.some((e) => e.reason === 'RemovedScaledDown' && e.message!.includes(extra.spec.nodeName)));
    await waitFor('the victim Active again', async () =>
      (await listGateways(c)).some(
        (g) => g.spec.nodeName === victim.spec.nodeName && g.status?.role === 'Active',
      ),
    );
  });

  test('no replacement possible: the draining instance is kept, says why, and goes once one can be placed', async () => {
    // The Node drained in the first test is still labelled: 4 usable candidates, all in use.
    await patchPolicySpec(c, 'default', {
      desiredInstances: 4,
      failureDetection: FAST,
      holdDownSeconds: 60,
      drainSettleSeconds: SETTLE_S,
    });
    const before = await steady(4);
    const drainedEarlier = ['n1', 'n2', 'n3', 'n4', 'n5'].find((n) => !nodesOf(before).includes(n))!;
    const victim = before.find((g) => g.status?.role === 'Active')!;
    await setDraining(c, victim.spec.nodeName, true);
    const v = await waitFor('NoReplacement', async () => {
      const x = (await listGateways(c)).find((g) => g.spec.nodeName === victim.spec.nodeName);
      return getCondition(x?.status?.conditions, REPLACEMENT_READY)?.reason === 'NoReplacement'
        ? x
        : undefined;
    });
    assert.equal(v.spec.draining, true);
    assert.match(getCondition(v.status?.conditions, REPLACEMENT_READY)!.message, /kept/);
    const started = await waitFor('a Warning DrainStarted', async () =>
      (await events(c)).find(
        (e) =>
          e.reason === 'DrainStarted' &&
          e.type === 'Warning' &&
          e.message!.includes(`node ${victim.spec.nodeName}`),
      ),
    );
    assert.match(started.message!, /no other candidate can take over/);
    // The Event and the policy's status are separate writes: wait for the condition too.
    await waitFor('the policy Degraded', async () => {
      const p = await getPolicy(c, 'default');
      return getCondition(p.status?.conditions, 'Degraded')?.status === 'True' || undefined;
    });
    // Well past the settle time, it is still there.
    await sleep(SETTLE_S * 1000 * 2);
    const still = await listGateways(c);
    assert.ok(
      still.some((g) => g.spec.nodeName === victim.spec.nodeName && g.metadata.uid === victim.metadata.uid),
    );
    assert.equal(still.length, 4);
    // A candidate comes back (the Node drained earlier is done with): the drain completes.
    await setDraining(c, drainedEarlier, false);
    await waitFor(
      'the draining instance replaced and removed',
      async () => {
        const x = await listGateways(c);
        return x.length === 4 && !x.some((g) => g.spec.nodeName === victim.spec.nodeName) && x.every(isReady);
      },
      15_000,
    );
    await setDraining(c, victim.spec.nodeName, false);
  });
});
