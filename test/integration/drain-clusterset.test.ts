// A drain seen from the other side of the ClusterSet, on real control planes (a leader and two
// members): the draining mark reaches the other member's RemoteCluster before the instance goes,
// and while the leader is unreachable the drain waits, since the other member could not learn where
// the traffic went.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DRAINING_LABEL } from '../../src/api/group.ts';
import type { ClusterGateway, RemoteCluster } from '../../src/api/types.ts';
import { getCondition } from '../../src/model/conditions.ts';
import { GatewayController } from '../../src/controller/controller.ts';
import { REPLACEMENT_READY } from '../../src/controller/drain.ts';
import { MemberExchange } from '../../src/exchange/member.ts';
import type { Clients } from '../../src/kube/client.ts';
import { makeClients } from '../../src/kube/client.ts';
import { installCRDs } from '../../src/kube/crds.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { LeaderController } from '../../src/leader/controller.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { silentLogger } from '../../src/util/log.ts';
import { useControlPlanes } from './harness.ts';
import { createPolicy, joinMember, listGateways, waitFor } from './util.ts';

const FAST = { leaseDurationMs: 1500, renewIntervalMs: 500 };
const ELECTION = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 };
const SETTLE_S = 3;
const B = '/apis/mcgw.io/v1alpha1';

interface Member {
  c: Clients;
  ctl: GatewayController;
  ex: MemberExchange;
}

const isReady = (g: ClusterGateway) => getCondition(g.status?.conditions, 'Ready')?.status === 'True';

async function setDraining(c: Clients, node: string, on: boolean): Promise<void> {
  const path = `/metadata/labels/${DRAINING_LABEL.replace('/', '~1')}`;
  await c.core.patchNode({
    name: node,
    body: [on ? { op: 'add', path, value: 'true' } : { op: 'remove', path }],
  });
}

describe('drain through the ClusterSet exchange', () => {
  const cps = useControlPlanes(3, { name: 'dcs' });
  let lctl: LeaderController;
  const members = new Map<string, Member>();
  const renewers = new Map<string, LeaseRenewer>();
  let agents: NodeJS.Timeout | undefined;

  after(async () => {
    if (agents) clearInterval(agents);
    for (const r of renewers.values()) r.stop();
    for (const m of members.values()) {
      await m.ex.stop();
      await m.ctl.stop();
    }
    await lctl?.stop();
  });

  const a = () => members.get('a')!;
  /** What member b imports of a's Gateways. */
  const seenByB = async () =>
    (await rawRequest<RemoteCluster>(members.get('b')!.c.kc, 'GET', `${B}/remoteclusters/a`)).spec.gateways;
  const steadyA = () =>
    waitFor(
      "a's 2 Gateways Ready, none draining, and b imports them",
      async () => {
        const l = await listGateways(a().c);
        if (l.length !== 2 || !l.every((g) => isReady(g) && !g.spec.draining)) return undefined;
        const imported = await seenByB().catch(() => []);
        const same =
          imported.length === 2 &&
          imported.every((g) => g.ready && !g.draining && l.some((x) => x.spec.nodeName === g.node));
        return same ? l : undefined;
      },
      20_000,
    );

  test('setup: a leader, members a (3 candidates) and b, agents renewing every placed Gateway', async () => {
    const leader = makeClients(cps[0]!.kubeConfig());
    await installCRDs(leader, 'leader');
    lctl = new LeaderController({
      clients: leader,
      identity: 'leader-1',
      log: silentLogger,
      election: ELECTION,
      staleAfterMs: 60_000,
      removeAfterMs: 300_000,
    });
    await lctl.start();
    await Promise.all(
      (['a', 'b'] as const).map(async (id, i) => {
        const { c, ctl, ex } = await joinMember(leader, cps[i + 1]!, id, i, {
          podCIDRs: [`198.18.${64 + 16 * i}.0/20`],
          election: ELECTION,
          exportState: true,
        });
        members.set(id, { c, ctl, ex });
        ex.start();
        await ctl.start();
        await createPolicy(c, 'default', {
          desiredInstances: 2,
          failureDetection: FAST,
          holdDownSeconds: 5,
          drainSettleSeconds: SETTLE_S,
        });
      }),
    );
    // The simulated agents: a Lease renewed for every placed Gateway, stopped once it is removed.
    const sync = async () => {
      for (const [id, m] of members) {
        const have = new Set((await listGateways(m.c)).map((g) => g.spec.nodeName));
        for (const n of have)
          if (!renewers.has(`${id}/${n}`)) {
            const r = new LeaseRenewer({ api: m.c.coordination, node: n, ...FAST });
            renewers.set(`${id}/${n}`, r);
            r.start();
          }
        for (const [k, r] of renewers)
          if (k.startsWith(`${id}/`) && !have.has(k.slice(id.length + 1))) {
            r.stop();
            renewers.delete(k);
          }
      }
    };
    agents = setInterval(() => void sync().catch(() => {}), 100);
    await steadyA();
  });

  test('the draining mark reaches the other member before the instance goes', async (t) => {
    const before = await steadyA();
    const victim = before.find((g) => g.status?.role === 'Active')!.spec.nodeName;
    const t0 = Date.now();
    await setDraining(a().c, victim, true);
    let markedAt: number | undefined;
    let goneLocally: number | undefined;
    await waitFor(
      'b to stop importing the drained Gateway',
      async () => {
        const imported = await seenByB();
        const local = await listGateways(a().c);
        if (imported.some((g) => g.node === victim && g.draining)) markedAt ??= Date.now();
        if (!local.some((g) => g.spec.nodeName === victim)) goneLocally ??= Date.now();
        return !imported.some((g) => g.node === victim);
      },
      30_000,
      20,
    );
    assert.ok(markedAt !== undefined, 'b imported the Gateway as draining');
    assert.ok(goneLocally !== undefined && markedAt < goneLocally, 'and did so before it was removed');
    t.diagnostic(
      `label to draining in b's RemoteCluster ${markedAt - t0} ms; to removal in a ${goneLocally - t0} ms (settle ${SETTLE_S} s)`,
    );
    await setDraining(a().c, victim, false);
  });

  test('with the leader unreachable the drain waits, and completes a settle time after its return', async () => {
    const before = await steadyA();
    const victim = before.find((g) => g.status?.role === 'Active')!.spec.nodeName;
    const killedAt = Date.now();
    await cps[0]!.killApiserver();
    try {
      await setDraining(a().c, victim, true);
      await waitFor(
        'the replacement Ready, the drain covered, waiting for the leader',
        async () => {
          const v = (await listGateways(a().c)).find((g) => g.spec.nodeName === victim);
          const c = getCondition(v?.status?.conditions, REPLACEMENT_READY);
          return c?.status === 'True' && /ClusterSet leader/.test(c.message);
        },
        15_000,
      );
      await sleep(SETTLE_S * 1000 * 2);
      assert.ok(
        (await listGateways(a().c)).some((g) => g.spec.nodeName === victim),
        'kept while the other member cannot learn of the drain',
      );
    } finally {
      await cps[0]!.startApiserver();
    }
    // The settle time counts from the export that reached the returned leader.
    let exportedAt: number | undefined;
    const gone = await waitFor(
      'the drain to complete',
      async () => {
        const at = a().ex.exportState()?.exportedAt;
        if (at !== undefined && at > killedAt) exportedAt ??= at;
        return !(await listGateways(a().c)).some((g) => g.spec.nodeName === victim) ? Date.now() : undefined;
      },
      30_000,
      20,
    );
    assert.ok(exportedAt !== undefined, 'an export reached the leader once it was back');
    assert.ok(gone - exportedAt >= SETTLE_S * 1000, `removed ${gone - exportedAt} ms after that export`);
    await waitFor('b to see it gone', async () => !(await seenByB()).some((g) => g.node === victim), 15_000);
    await setDraining(a().c, victim, false);
  });
});
