// /metrics of real `mcgw controller` and `mcgw leader` processes on real control planes, scraped
// before and after failures: a Gateway whose Lease stops, a refused export, the leader apiserver down.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { getCondition } from '../../src/model/conditions.ts';
import type { Clients } from '../../src/kube/client.ts';
import { makeClients } from '../../src/kube/client.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { addMember, memberNamespace, storeLeaderSecret } from '../../src/leader/membership.ts';
import { freePort } from '../../src/lab/ports.ts';
import { LeaseRenewer } from '../../src/lease/renewer.ts';
import { useControlPlanes } from './harness.ts';
import { createFiveNodes, createPolicy, listGateways, setupCluster, waitFor } from './util.ts';

const FAST = { leaseDurationMs: 1500, renewIntervalMs: 500 };
const B = '/apis/mcgw.io/v1alpha1';
const BIN = new URL('../../bin/mcgw.js', import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  port: number;
  log: string[];
  stop(): Promise<void>;
}

/** Starts `mcgw <args>` with its health and metrics server on a free port. */
async function startMcgw(args: string[]): Promise<Proc> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, ...args, '--health-addr', `127.0.0.1:${port}`, '--log-level', 'info'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const log: string[] = [];
  child.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    port,
    log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

type Samples = (name: string, labels?: Record<string, string>) => number | undefined;

async function scrape(p: Proc): Promise<Samples> {
  const res = await fetch(`http://127.0.0.1:${p.port}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const rows = text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l)!;
      const labels = Object.fromEntries(
        [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]),
      );
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
  return (name, labels = {}) => {
    const hits = rows.filter(
      (r) => r.name === name && Object.entries(labels).every(([k, v]) => r.labels[k] === v),
    );
    return hits.length ? hits.reduce((s, r) => s + r.value, 0) : undefined;
  };
}

describe('Prometheus metrics of running mcgw processes', () => {
  const cps = useControlPlanes(2, { name: 'metrics' });
  let member: Clients;
  let leader: Clients;
  let ctl: Proc | undefined;
  let lead: Proc | undefined;
  const renewers = new Map<string, LeaseRenewer>();
  const renew = (node: string) => {
    const r = new LeaseRenewer({ api: member.coordination, node, ...FAST });
    renewers.set(node, r);
    r.start();
  };

  after(async () => {
    for (const r of renewers.values()) r.stop();
    await ctl?.stop();
    await lead?.stop();
    if (process.env.MCGW_TEST_LOG)
      for (const l of [...(ctl?.log ?? []), ...(lead?.log ?? [])]) console.error(l);
  });

  test('setup: mcgw controller in a member cluster and mcgw leader in the leader cluster', async () => {
    member = await setupCluster(cps[0]!);
    leader = makeClients(cps[1]!.kubeConfig());
    await createFiveNodes(member);
    // The member joins the ClusterSet, so its exchange runs too.
    const creds = await addMember(leader, 'a');
    await storeLeaderSecret(member, 'mcgw-leader', creds.kubeconfig);
    await rawRequest(member.kc, 'POST', `${B}/clustersetmembers`, {
      apiVersion: 'mcgw.io/v1alpha1',
      kind: 'ClusterSetMember',
      metadata: { name: 'local' },
      spec: {
        clusterID: 'a',
        leader: { secretName: 'mcgw-leader', namespace: memberNamespace('a') },
        podCIDRs: ['198.18.64.0/20'],
        heartbeatSeconds: 1,
      },
    });
    const election = ['--election-lease-ms', '2000'];
    [lead, ctl] = await Promise.all([
      startMcgw(['leader', '--kubeconfig', cps[1]!.kubeconfigPath, '--install-crds', ...election]),
      startMcgw([
        'controller',
        '--kubeconfig',
        cps[0]!.kubeconfigPath,
        ...election,
        '--election-renew-ms',
        '1500',
        '--election-retry-ms',
        '250',
      ]),
    ]);
    await createPolicy(member, 'default', {
      desiredInstances: 2,
      failureDetection: FAST,
      holdDownSeconds: 60,
    });
    const gws = await waitFor(
      'two gateways',
      async () => {
        const l = await listGateways(member);
        return l.length === 2 ? l : undefined;
      },
      30_000,
    );
    for (const g of gws) renew(g.spec.nodeName);
    await waitFor(
      'controller reports 2 ready, 1 active, in cluster a',
      async () => {
        const m = await scrape(ctl!);
        return (
          m('mcgw_controller_is_leader') === 1 &&
          m('mcgw_controller_gateways', { cluster: 'a', state: 'ready' }) === 2 &&
          m('mcgw_controller_gateways', { cluster: 'a', state: 'active' }) === 1
        );
      },
      30_000,
      200,
    );
    await waitFor(
      'leader publishes the import of a',
      async () => {
        const m = await scrape(lead!);
        return m('mcgw_leader_is_leader') === 1 && m('mcgw_leader_imports', { state: 'Active' }) === 1;
      },
      30_000,
      200,
    );
  });

  test('/healthz, /readyz and /metrics share the health address; the content is Prometheus text', async () => {
    for (const p of [ctl!, lead!]) {
      assert.equal((await fetch(`http://127.0.0.1:${p.port}/healthz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${p.port}/readyz`)).status, 200);
      const res = await fetch(`http://127.0.0.1:${p.port}/metrics`);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.match(text, /# TYPE process_cpu_user_seconds_total counter/);
    }
    const m = await scrape(ctl!);
    assert.equal(m('mcgw_controller_gateways', { cluster: 'a', state: 'desired' }), 2);
    assert.equal(m('mcgw_controller_gateways', { cluster: 'a', state: 'placed' }), 2);
    assert.ok(m('mcgw_controller_placements_total', { reason: 'Fill' })! >= 2);
    assert.equal(m('mcgw_exchange_leader_reachable', { cluster: 'a' }), 1);
    assert.ok(m('mcgw_exchange_export_writes_total')! >= 1);
    const l = await scrape(lead!);
    assert.equal(l('mcgw_leader_exports', { state: 'Accepted' }), 1);
  });

  test('an Active Gateway whose Lease stops: failover, removal, replacement and writes are counted', async () => {
    const before = await scrape(ctl!);
    const gws = await listGateways(member);
    const victim = gws.find((g) => g.status?.role === 'Active')!;
    renewers.get(victim.spec.nodeName)!.stop();
    const repl = await waitFor(
      'a replacement',
      async () =>
        (await listGateways(member)).find((g) => !gws.some((b) => b.metadata.name === g.metadata.name)),
      10_000,
    );
    renew(repl.spec.nodeName);
    const after = await waitFor(
      'counters to move',
      async () => {
        const m = await scrape(ctl!);
        // Gauges are set at the end of a pass: wait for the pass that removed the victim, then for
        // the replacement to be ready, and for the export of the change.
        const removed = (x: Samples) => x('mcgw_controller_removals_total', { reason: 'LeaseExpired' })!;
        const events = (x: Samples) =>
          x('mcgw_controller_writes_total', { resource: 'events', verb: 'create' }) ?? 0;
        // Events are written after the objects they tell of, so wait for them too.
        return removed(m) > removed(before) &&
          events(m) - events(before) >= 2 &&
          m('mcgw_controller_gateways', { cluster: 'a', state: 'ready' }) === 2 &&
          m('mcgw_exchange_export_writes_total')! > before('mcgw_exchange_export_writes_total')!
          ? m
          : undefined;
      },
      15_000,
      200,
    );
    const delta = (name: string, labels?: Record<string, string>) =>
      after(name, labels)! - (before(name, labels) ?? 0);
    assert.equal(delta('mcgw_controller_failovers_total', { reason: 'LeaseExpired' }), 1);
    assert.equal(delta('mcgw_controller_failovers_total', { reason: 'NodeNotReady' }), 0);
    assert.equal(delta('mcgw_controller_removals_total', { reason: 'LeaseExpired' }), 1);
    assert.equal(delta('mcgw_controller_placements_total', { reason: 'Replacement' }), 1);
    assert.equal(delta('mcgw_controller_placements_total', { reason: 'Fill' }), 0);
    assert.equal(delta('mcgw_controller_writes_total', { resource: 'clustergateways', verb: 'create' }), 1);
    assert.equal(delta('mcgw_controller_writes_total', { resource: 'clustergateways', verb: 'delete' }), 1);
    assert.ok(delta('mcgw_controller_writes_total', { resource: 'events', verb: 'create' }) >= 2);
    assert.ok(delta('mcgw_controller_reconcile_duration_seconds_count') >= 1);
    assert.equal(delta('mcgw_controller_reconcile_errors_total'), 0);
    assert.equal(after('mcgw_controller_gateways', { cluster: 'a', state: 'placed' }), 2);
    assert.equal(after('mcgw_controller_gateways', { cluster: 'a', state: 'active' }), 1);
    // The member exported the change to the leader and timed it.
    assert.ok(delta('mcgw_exchange_export_latency_seconds_count') >= 1);
    assert.equal(
      delta('mcgw_exchange_export_latency_seconds_bucket', { le: '1' }),
      delta('mcgw_exchange_export_latency_seconds_count'),
      'the failover reached the leader within 1 s',
    );
  });

  test('an export the leader refuses is counted by reason', async () => {
    const before = await scrape(lead!);
    await addMember(leader, 'b');
    await rawRequest(leader.kc, 'POST', `${B}/namespaces/${memberNamespace('b')}/clusterexports`, {
      apiVersion: 'mcgw.io/v1alpha1',
      kind: 'ClusterExport',
      metadata: { name: 'b' },
      spec: {
        clusterID: 'b',
        mode: 'ActiveStandby',
        gateways: [],
        podCIDRs: ['198.18.64.0/24'], // inside a's 198.18.64.0/20
        serviceCIDRs: [],
        tunnel: {},
      },
    });
    const after = await waitFor(
      'the refusal counted',
      async () => {
        const m = await scrape(lead!);
        return m('mcgw_leader_exports', { state: 'Refused' }) === 1 ? m : undefined;
      },
      10_000,
      200,
    );
    assert.equal(
      after('mcgw_leader_refused_exports_total', { reason: 'Conflict' })! -
        before('mcgw_leader_refused_exports_total', { reason: 'Conflict' })!,
      1,
    );
    assert.equal(after('mcgw_leader_imports', { state: 'Active' }), 1);
    assert.ok(
      after('mcgw_leader_reconcile_duration_seconds_count')! >
        before('mcgw_leader_reconcile_duration_seconds_count')!,
    );
    const e = await rawRequest<{ status?: { conditions?: never[] } }>(
      leader.kc,
      'GET',
      `${B}/namespaces/${memberNamespace('b')}/clusterexports/b`,
    );
    assert.equal(getCondition(e.status?.conditions, 'Accepted')?.reason, 'Conflict');
  });

  test('the leader apiserver goes down and comes back: leader reachable goes to 0 and back to 1', async () => {
    await cps[1]!.killApiserver();
    try {
      await waitFor(
        'leader unreachable',
        async () => (await scrape(ctl!))('mcgw_exchange_leader_reachable', { cluster: 'a' }) === 0,
        20_000,
        200,
      );
    } finally {
      await cps[1]!.startApiserver();
    }
    await waitFor(
      'leader reachable again',
      async () => (await scrape(ctl!))('mcgw_exchange_leader_reachable', { cluster: 'a' }) === 1,
      20_000,
      200,
    );
    // The member's own controller never stopped leading.
    assert.equal((await scrape(ctl!))('mcgw_controller_is_leader'), 1);
  });
});
