// Two controller replicas as real processes: only the leader writes, and when the leader is killed
// in the middle of a failover the other finishes it, with no duplicate placement.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SYSTEM_NAMESPACE } from '../../src/api/group.ts';
import { getCondition } from '../../src/model/conditions.ts';
import type { Clients } from '../../src/kube/client.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { useControlPlanes } from './harness.ts';
import {
  createFiveNodes,
  createPolicy,
  events,
  getPolicy,
  listGateways,
  setupCluster,
  waitFor,
} from './util.ts';

const MCGW = fileURLToPath(new URL('../../bin/mcgw.js', import.meta.url));
const FAST = { leaseDurationMs: 1500, renewIntervalMs: 500 };
const ELECTION = { lease: 2000, renew: 1500, retry: 250 };

describe('controller leader election with two replicas', () => {
  const cps = useControlPlanes(1, { name: 'elect' });
  let c: Clients;
  const procs = new Map<string, ChildProcess>();
  const renewers = new Map<string, LeaseRenewer>();
  const startRenewer = (node: string) => {
    const r = new LeaseRenewer({ api: c.coordination, node, ...FAST });
    renewers.set(node, r);
    r.start();
  };
  const holder = async () =>
    (await c.coordination.readNamespacedLease({ namespace: SYSTEM_NAMESPACE, name: 'mcgw-controller' })).spec
      ?.holderIdentity;

  after(async () => {
    for (const r of renewers.values()) r.stop();
    for (const p of procs.values()) if (p.exitCode === null) p.kill('SIGKILL');
  });

  test('setup: two replicas, one leads, two instances placed', async () => {
    c = await setupCluster(cps[0]!);
    await createFiveNodes(c);
    for (const id of ['ctl-a', 'ctl-b']) {
      const p = spawn(
        process.execPath,
        [
          MCGW,
          'controller',
          '--kubeconfig',
          cps[0]!.kubeconfigPath,
          '--identity',
          id,
          '--election-lease-ms',
          String(ELECTION.lease),
          '--election-renew-ms',
          String(ELECTION.renew),
          '--election-retry-ms',
          String(ELECTION.retry),
          '--log-level',
          'warn',
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      procs.set(id, p);
      // Also when this test process ends some other way than through its hooks.
      process.once('exit', () => p.kill('SIGKILL'));
    }
    await waitFor('a leader', holder, 15_000);
    await createPolicy(c, 'default', { desiredInstances: 2, failureDetection: FAST });
    const gws = await waitFor('two instances', async () => {
      const l = await listGateways(c);
      return l.length === 2 ? l : undefined;
    });
    for (const g of gws) startRenewer(g.spec.nodeName);
    await waitFor(
      'policy Ready',
      async () =>
        getCondition((await getPolicy(c, 'default')).status?.conditions, 'Ready')?.status === 'True',
    );
  });

  test('the leader is killed as a Gateway Lease expires: the other replica takes over and finishes the failover once', async () => {
    const before = await listGateways(c);
    const active = before.find((g) => g.status?.role === 'Active')!;
    const leader = (await holder())!;
    const standby = [...procs.keys()].find((k) => k !== leader)!;

    // Record every ClusterGateway that ever exists from here on.
    const seen = new Map(before.map((g) => [g.metadata.uid!, g.spec.nodeName]));
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const g of await listGateways(c).catch(() => [])) seen.set(g.metadata.uid!, g.spec.nodeName);
        await sleep(20);
      }
    })();

    renewers.get(active.spec.nodeName)!.stop();
    const lastRenew = Date.now();
    await sleep(FAST.leaseDurationMs);
    procs.get(leader)!.kill('SIGKILL');
    const killedAt = Date.now();

    await waitFor('the standby to take the election Lease', async () => (await holder()) === standby, 10_000);
    const takeover = Date.now() - killedAt;
    assert.ok(takeover <= ELECTION.lease + ELECTION.retry * 2, `takeover took ${takeover} ms`);

    const after = await waitFor(
      'the failover to finish',
      async () => {
        const l = await listGateways(c);
        return l.length === 2 && !l.some((g) => g.spec.nodeName === active.spec.nodeName) ? l : undefined;
      },
      10_000,
    );
    const sinceExpiry = Date.now() - (lastRenew + FAST.leaseDurationMs);
    for (const g of after)
      if (!renewers.has(g.spec.nodeName) || g.spec.nodeName === active.spec.nodeName)
        startRenewer(g.spec.nodeName);
    await sleep(1500); // time for any duplicate or conflicting write to show up
    watching = false;
    await watcher;

    const final = await listGateways(c);
    assert.equal(final.length, 2, 'exactly the desired instances');
    assert.equal(new Set(final.map((g) => g.spec.nodeName)).size, 2);
    assert.equal(new Set(final.map((g) => g.spec.priority)).size, 2, 'distinct priorities');
    assert.equal(seen.size, 3, `one replacement only; seen ${[...seen.values()].join(',')}`);
    // A replica killed right after a create can lose that create's Event, never duplicate one.
    const placed = (await events(c))
      .filter((e) => e.reason === 'Placed')
      .map((e) => /node (\S+)/.exec(e.message!)![1]);
    assert.equal(new Set(placed).size, placed.length, `no instance placed twice: ${placed.join(',')}`);
    assert.ok(placed.length >= 2 && placed.length <= 3);
    const p = await waitFor('policy Ready again', async () => {
      const x = await getPolicy(c, 'default');
      return getCondition(x.status?.conditions, 'Ready')?.status === 'True' ? x : undefined;
    });
    assert.equal(p.status?.gateways?.length, 2);
    process.stderr.write(
      `# takeover ${takeover} ms after the kill; failover finished ${sinceExpiry} ms after Lease expiry\n`,
    );
  });
});
