// The ClusterSet exchange on four real control planes: one leader and three members, each member
// running its controller and exchange, the leader running the leader-side controller.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { getCondition } from '../../src/model/conditions.ts';
import { GatewayController } from '../../src/controller/controller.ts';
import { MemberExchange } from '../../src/exchange/member.ts';
import type { ClusterExport, ClusterSetMember, RemoteCluster } from '../../src/api/types.ts';
import type { Clients } from '../../src/kube/client.ts';
import { makeClients } from '../../src/kube/client.ts';
import { installCRDs } from '../../src/kube/crds.ts';
import { statusCode } from '../../src/kube/errors.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { LeaderController } from '../../src/leader/controller.ts';
import { memberNamespace } from '../../src/leader/membership.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { silentLogger } from '../../src/util/log.ts';
import { useControlPlanes } from './harness.ts';
import { createPolicy, joinMember, listGateways, waitFor } from './util.ts';

const FAST = { leaseDurationMs: 1500, renewIntervalMs: 500 };
const ELECTION = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 };
const IDS = ['a', 'b', 'c'] as const;
const POD: Record<string, string> = { a: '198.18.64.0/20', b: '198.18.80.0/20', c: '198.18.96.0/20' };
const B = '/apis/mcgw.io/v1alpha1';

interface Member {
  id: string;
  c: Clients;
  ctl: GatewayController;
  ex: MemberExchange;
  renewers: Map<string, LeaseRenewer>;
  leaderKc: KubeConfig;
}

describe('ClusterSet exchange: 1 leader + 3 members', () => {
  const cps = useControlPlanes(4, { name: 'cs' });
  let leader: Clients;
  let lctl: LeaderController;
  let lctl2: LeaderController;
  const members = new Map<string, Member>();
  const remotes = async (m: Member) =>
    (await rawRequest<{ items: RemoteCluster[] }>(m.c.kc, 'GET', `${B}/remoteclusters`)).items;
  const remote = async (m: Member, id: string) => (await remotes(m)).find((r) => r.metadata.name === id);
  const renewAll = async (m: Member) => {
    for (const g of await listGateways(m.c)) {
      // A Node chosen again after its agent was stopped gets its agent back.
      if (m.renewers.has(g.spec.nodeName)) {
        m.renewers.get(g.spec.nodeName)!.start();
        continue;
      }
      const r = new LeaseRenewer({ api: m.c.coordination, node: g.spec.nodeName, ...FAST });
      m.renewers.set(g.spec.nodeName, r);
      r.start();
    }
  };

  after(async () => {
    for (const m of members.values()) {
      for (const r of m.renewers.values()) r.stop();
      await m.ex.stop();
      await m.ctl.stop();
    }
    await lctl?.stop();
    await lctl2?.stop();
  });

  test('setup: leader controller, three members admitted, each with two Gateways', async () => {
    leader = makeClients(cps[0]!.kubeConfig());
    await installCRDs(leader, 'leader');
    lctl = new LeaderController({
      clients: leader,
      identity: 'leader-1',
      log: silentLogger,
      election: ELECTION,
      staleAfterMs: 4000,
      removeAfterMs: 8000,
    });
    await lctl.start();
    // A second replica: a warm standby that writes nothing while the first leads.
    lctl2 = new LeaderController({
      clients: makeClients(cps[0]!.kubeConfig()),
      identity: 'leader-2',
      log: silentLogger,
      election: ELECTION,
      staleAfterMs: 4000,
      removeAfterMs: 8000,
    });
    await lctl2.start();
    await Promise.all(
      IDS.map(async (id, i) => {
        const { c, ctl, ex, kubeconfig } = await joinMember(leader, cps[i + 1]!, id, i, {
          podCIDRs: [POD[id]!],
          serviceCIDRs: [`198.19.${10 + i}.0/24`],
          election: ELECTION,
        });
        const leaderKc = new KubeConfig();
        leaderKc.loadFromString(kubeconfig);
        const m: Member = { id, c, ctl, ex, renewers: new Map(), leaderKc };
        members.set(id, m);
        ex.start();
        await ctl.start();
        await createPolicy(c, 'default', { desiredInstances: 2, failureDetection: FAST, holdDownSeconds: 5 });
        await waitFor(`${id}: two gateways`, async () => (await listGateways(c)).length === 2);
        await renewAll(m);
      }),
    );
  });

  test('every member imports the other two, with their Gateways and CIDRs', async () => {
    for (const m of members.values()) {
      const others = IDS.filter((x) => x !== m.id);
      const rs = await waitFor(
        `${m.id} imports ${others.join(',')}`,
        async () => {
          const l = await remotes(m);
          const ok = others.every((o) => {
            const r = l.find((x) => x.metadata.name === o);
            return r?.spec.gateways.length === 2 && r.status?.state === 'Active'; // spec and status are separate writes
          });
          return ok && l.length === 2 ? l : undefined;
        },
        15_000,
      );
      for (const r of rs) {
        assert.deepEqual(r.spec.podCIDRs, [POD[r.metadata.name!]]);
        assert.equal(r.status?.state, 'Active');
      }
      const cm = await rawRequest<ClusterSetMember>(m.c.kc, 'GET', `${B}/clustersetmembers/local`);
      assert.equal(getCondition(cm.status?.conditions, 'LeaderReachable')?.status, 'True');
    }
  });

  test("a Gateway replaced in A appears in B's and C's imports within 2 s", async () => {
    const a = members.get('a')!;
    const before = await listGateways(a.c);
    const victim = before.find((g) => g.status?.role === 'Active') ?? before[0]!;
    a.renewers.get(victim.spec.nodeName)!.stop();
    const repl = await waitFor(
      'replacement in A',
      async () => {
        const l = await listGateways(a.c);
        return l.find((g) => !before.some((b) => b.metadata.name === g.metadata.name));
      },
      10_000,
      10,
    );
    const t0 = Date.now();
    await renewAll(a);
    for (const id of ['b', 'c']) {
      await waitFor(
        `${id} sees ${repl.spec.nodeName}`,
        async () => {
          const r = await remote(members.get(id)!, 'a');
          return (
            r?.spec.gateways.some((g) => g.node === repl.spec.nodeName) &&
            !r.spec.gateways.some((g) => g.node === victim.spec.nodeName)
          );
        },
        5000,
        10,
      );
    }
    const took = Date.now() - t0;
    assert.ok(took < 2000, `propagation took ${took} ms`);
  });

  test("member A's credentials cannot change or delete member B's export", async () => {
    const a = members.get('a')!;
    const path = `/apis/mcgw.io/v1alpha1/namespaces/${memberNamespace('b')}/clusterexports/b`;
    await assert.rejects(rawRequest(a.leaderKc, 'GET', path), (e: unknown) => statusCode(e) === 403);
    await assert.rejects(rawRequest(a.leaderKc, 'DELETE', path), (e: unknown) => statusCode(e) === 403);
    await assert.rejects(
      rawRequest(a.leaderKc, 'PUT', path, {
        apiVersion: 'mcgw.io/v1alpha1',
        kind: 'ClusterExport',
        metadata: { name: 'b', namespace: memberNamespace('b') },
        spec: {},
      }),
      (e: unknown) => statusCode(e) === 403,
    );
    // Nor can it fake the leader's verdict on its own export.
    const own = await rawRequest<ClusterExport>(
      a.leaderKc,
      'GET',
      `/apis/mcgw.io/v1alpha1/namespaces/${memberNamespace('a')}/clusterexports/a`,
    );
    await assert.rejects(
      rawRequest(
        a.leaderKc,
        'PUT',
        `/apis/mcgw.io/v1alpha1/namespaces/${memberNamespace('a')}/clusterexports/a/status`,
        own,
      ),
      (e: unknown) => statusCode(e) === 403,
    );
    // Claiming B's cluster ID from its own namespace is refused by the leader, and B's import stays.
    await rawRequest(
      a.leaderKc,
      'POST',
      `/apis/mcgw.io/v1alpha1/namespaces/${memberNamespace('a')}/clusterexports`,
      {
        apiVersion: 'mcgw.io/v1alpha1',
        kind: 'ClusterExport',
        metadata: { name: 'b' },
        spec: {
          clusterID: 'b',
          mode: 'ActiveStandby',
          gateways: [],
          podCIDRs: ['198.18.200.0/24'],
          serviceCIDRs: [],
          tunnel: {},
        },
      },
    );
    const fake = await waitFor('fake export refused', async () => {
      const e = await rawRequest<ClusterExport>(
        leader.kc,
        'GET',
        `/apis/mcgw.io/v1alpha1/namespaces/${memberNamespace('a')}/clusterexports/b`,
      );
      return getCondition(e.status?.conditions, 'Accepted')?.status === 'False' ? e : undefined;
    });
    assert.equal(getCondition(fake.status?.conditions, 'Accepted')?.reason, 'WrongNamespace');
    const rb = await remote(members.get('c')!, 'b');
    assert.deepEqual(rb?.spec.podCIDRs, [POD.b]);
    await rawRequest(
      a.leaderKc,
      'DELETE',
      `/apis/mcgw.io/v1alpha1/namespaces/${memberNamespace('a')}/clusterexports/b`,
    );
  });

  test('overlapping pod CIDRs: a Conflict condition names both members and the valid import is kept', async () => {
    const c = members.get('c')!;
    const cm = await rawRequest<ClusterSetMember>(c.c.kc, 'GET', `${B}/clustersetmembers/local`);
    await rawRequest(c.c.kc, 'PUT', `${B}/clustersetmembers/local`, {
      ...cm,
      spec: { ...cm.spec, podCIDRs: ['198.18.72.0/21'] },
    });
    const exp = await waitFor('conflict on c', async () => {
      const e = await rawRequest<ClusterExport>(
        leader.kc,
        'GET',
        `/apis/mcgw.io/v1alpha1/namespaces/${memberNamespace('c')}/clusterexports/c`,
      );
      return getCondition(e.status?.conditions, 'Accepted')?.reason === 'Conflict' ? e : undefined;
    });
    const msg = getCondition(exp.status?.conditions, 'Accepted')!.message;
    assert.match(msg, /member c/);
    assert.match(msg, /member a/);
    await sleep(500);
    assert.deepEqual(
      (await remote(members.get('b')!, 'c'))?.spec.podCIDRs,
      [POD.c],
      'the earlier valid import of c is kept',
    );
    // Fixing it is accepted again.
    const cm2 = await rawRequest<ClusterSetMember>(c.c.kc, 'GET', `${B}/clustersetmembers/local`);
    await rawRequest(c.c.kc, 'PUT', `${B}/clustersetmembers/local`, {
      ...cm2,
      spec: { ...cm2.spec, podCIDRs: [POD.c] },
    });
    await waitFor('c accepted again', async () => {
      const e = await rawRequest<ClusterExport>(
        leader.kc,
        'GET',
        `/apis/mcgw.io/v1alpha1/namespaces/${memberNamespace('c')}/clusterexports/c`,
      );
      return getCondition(e.status?.conditions, 'Accepted')?.status === 'True';
    });
  });

  test('leader apiserver down for 30 s: imports unchanged; a change made meanwhile converges within 5 s of its return', async () => {
    const b = members.get('b')!;
    const snapshot = async () =>
      (await remotes(b)).map((r) => `${r.metadata.name}@${r.metadata.resourceVersion}`).sort();
    const before = await snapshot();
    await cps[0]!.killApiserver();
    let repl: Awaited<ReturnType<typeof listGateways>>[number] | undefined;
    try {
      await waitFor(
        'b says LeaderUnreachable',
        async () => {
          const cm = await rawRequest<ClusterSetMember>(b.c.kc, 'GET', `${B}/clustersetmembers/local`);
          return getCondition(cm.status?.conditions, 'LeaderReachable')?.reason === 'LeaderUnreachable';
        },
        15_000,
      );
      // A Gateway dies in A while the leader is away.
      const a = members.get('a')!;
      const gws = await listGateways(a.c);
      const victim = gws[gws.length - 1]!;
      a.renewers.get(victim.spec.nodeName)!.stop();
      repl = await waitFor(
        'replacement in A',
        async () =>
          (await listGateways(a.c)).find((g) => !gws.some((x) => x.metadata.name === g.metadata.name)),
        10_000,
      );
      await renewAll(a);
      await sleep(30_000 - 3000);
      assert.deepEqual(await snapshot(), before, 'nothing imported changed or vanished during the outage');
    } finally {
      await cps[0]!.startApiserver();
    }
    const t0 = Date.now();
    await waitFor(
      'b sees the new Gateway of a',
      async () => (await remote(b, 'a'))?.spec.gateways.some((g) => g.node === repl.spec.nodeName),
      10_000,
      20,
    );
    const took = Date.now() - t0;
    assert.ok(took < 5000, `converged ${took} ms after the leader returned`);
    await waitFor('b says LeaderReachable again', async () => {
      const cm = await rawRequest<ClusterSetMember>(b.c.kc, 'GET', `${B}/clustersetmembers/local`);
      return getCondition(cm.status?.conditions, 'LeaderReachable')?.status === 'True';
    });
    assert.equal((await remotes(b)).length, 2, 'no member was dropped because the leader was away');
  });

  test('leader-side controller HA: one replica writes; when it goes, the standby takes over', async () => {
    const a = members.get('a')!;
    const b = members.get('b')!;
    // A change to carry through the leader, and to see who writes it.
    const replaceOne = async () => {
      const gws = await listGateways(a.c);
      a.renewers.get(gws[0]!.spec.nodeName)!.stop();
      const repl = await waitFor(
        'replacement in A',
        async () =>
          (await listGateways(a.c)).find((g) => !gws.some((x) => x.metadata.name === g.metadata.name)),
        10_000,
      );
      await renewAll(a);
      // The replaced one gone too: b's view may already name the replacement's Node from an
      // earlier change, so only the pair proves that this change went through the leader.
      await waitFor(
        'b sees it',
        async () => {
          const seen = (await remote(b, 'a'))?.spec.gateways.map((g) => g.node) ?? [];
          return seen.includes(repl.spec.nodeName) && !seen.includes(gws[0]!.spec.nodeName);
        },
        5000,
      );
    };
    assert.equal([lctl, lctl2].filter((x) => x.isLeader()).length, 1);
    const [active, standby] = lctl.isLeader() ? [lctl, lctl2] : [lctl2, lctl];
    // Either may have led before (the outage above re-ran the election): compare from now on.
    const [activeWrites, standbyWrites] = [active.stats.writes, standby.stats.writes];
    await replaceOne();
    assert.equal(standby.stats.writes, standbyWrites, 'the standby wrote nothing while the other led');
    assert.ok(active.stats.writes > activeWrites, 'the leader published the change');
    await active.stop();
    await waitFor('standby leads', () => standby.isLeader(), 5000);
    await replaceOne();
    assert.ok(standby.stats.writes > standbyWrites, 'the new leader published the change');
  });

  test('a member that stops exporting is marked Stale, then removed', async () => {
    const c = members.get('c')!;
    await c.ex.stop();
    const b = members.get('b')!;
    await waitFor('c Stale in b', async () => (await remote(b, 'c'))?.status?.state === 'Stale', 10_000);
    await waitFor('c removed from b', async () => (await remote(b, 'c')) === undefined, 15_000);
    assert.ok(await remote(b, 'a'), 'other members stay');
  });
});
