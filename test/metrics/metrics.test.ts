// The metrics modules: registries stay separate, factories are idempotent, and the counts the
// controllers report match what their plans do to the cluster.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import type { ClusterExport, ClusterImport } from '../../src/api/types.ts';
import { getCondition } from '../../src/model/conditions.ts';
import { plan } from '../../src/controller/plan.ts';
import type { LeaderPlan } from '../../src/leader/plan.ts';
import {
  ControllerMetrics,
  ExchangeMetrics,
  LeaderMetrics,
  createRegistry,
  defineMetrics,
  metricsEndpoint,
  registerAll,
} from '../../src/metrics/index.ts';
import { gatewayCounts, placementReason } from '../../src/metrics/controller.ts';
import { leaderCounts } from '../../src/metrics/leader.ts';
import { startHealthServer } from '../../src/util/health.ts';
import { World, node, policy } from '../controller/fixtures.ts';

/** The value of one sample in Prometheus text format, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test("each registry is separate, and nothing lands in prom-client's global registry", async () => {
  const before = globalRegistry.getMetricsAsArray().length;
  const a = createRegistry();
  const b = createRegistry();
  registerAll(a);
  registerAll(b); // a second registry may hold the same names
  new ControllerMetrics(a).wrote('events', 'create');
  assert.equal(globalRegistry.getMetricsAsArray().length, before);
  assert.equal(sample(await a.metrics(), 'mcgw_controller_writes_total', { resource: 'events' }), 1);
  assert.equal(sample(await b.metrics(), 'mcgw_controller_writes_total', { resource: 'events' }), undefined);
});

test('a factory registers once per registry and hands back the same metrics', () => {
  const reg = createRegistry();
  const one = new ControllerMetrics(reg);
  const two = new ControllerMetrics(reg);
  assert.equal(one.m.writes, two.m.writes);
});

test('defineMetrics enforces the naming conventions', () => {
  assert.throws(
    () => defineMetrics('x', { a: { type: 'counter', name: 'mcgw_x_things', help: 'h' } }),
    /_total/,
  );
  assert.throws(() => defineMetrics('x', { a: { type: 'gauge', name: 'other_x', help: 'h' } }), /must match/);
});

test('process metrics only when asked', async () => {
  assert.doesNotMatch(await createRegistry().metrics(), /process_cpu/);
  assert.match(await createRegistry({ processMetrics: true }).metrics(), /process_cpu_user_seconds_total/);
});

test('counters with known label values start at 0', async () => {
  const reg = createRegistry();
  new ControllerMetrics(reg);
  new LeaderMetrics(reg);
  new ExchangeMetrics(reg);
  const text = await reg.metrics();
  assert.equal(sample(text, 'mcgw_controller_failovers_total', { reason: 'LeaseExpired' }), 0);
  assert.equal(sample(text, 'mcgw_controller_removals_total', { reason: 'Draining' }), 0);
  assert.equal(sample(text, 'mcgw_controller_placements_total', { reason: 'Fill' }), 0);
  assert.equal(sample(text, 'mcgw_leader_refused_exports_total', { reason: 'Conflict' }), 0);
  assert.equal(sample(text, 'mcgw_exchange_errors_total', { step: 'export' }), 0);
  assert.equal(sample(text, 'mcgw_controller_is_leader'), 0);
  // Cluster gauges have no series until a leader reports them.
  assert.equal(sample(text, 'mcgw_controller_gateways'), undefined);
  assert.equal(sample(text, 'mcgw_exchange_leader_reachable'), undefined);
});

/** Counts straight from the world's objects, to check gatewayCounts against. */
function countWorld(w: World): { placed: number; ready: number; active: number } {
  return {
    placed: w.gateways.length,
    ready: w.gateways.filter((g) => getCondition(g.status?.conditions, 'Ready')?.status === 'True').length,
    active: w.gateways.filter((g) => g.status?.role === 'Active').length,
  };
}

test('gatewayCounts predicts the cluster after the plan, through placement, failure and scale-down', () => {
  const w = new World(
    [
      node('n1', { zone: 'a' }),
      node('n2', { zone: 'b' }),
      node('n3', { zone: 'c' }),
      node('n4', { zone: 'a' }),
    ],
    [policy('default', { desiredInstances: 2 })],
  );
  let now = Date.parse('2026-01-01T00:00:00Z');
  const step = () => {
    const before = [...w.gateways];
    const p = plan(w.input(now));
    const c = gatewayCounts(p, before, w.policies);
    w.apply(p);
    assert.deepEqual({ placed: c.placed, ready: c.ready, active: c.active }, countWorld(w));
    assert.equal(c.desired, w.policies[0]!.status?.desiredInstances ?? 0);
    now += 1000;
    return { p, c };
  };
  let { p, c } = step(); // first placement
  assert.equal(p.create.length, 2);
  assert.equal(placementReason(p), 'Fill');
  assert.deepEqual(c, { desired: 2, placed: 2, ready: 0, active: 0 });
  for (const g of w.gateways) w.fresh.add(g.spec.nodeName);
  ({ c } = step());
  assert.deepEqual(c, { desired: 2, placed: 2, ready: 2, active: 1 });
  // The active instance fails: replaced in the same pass.
  const active = w.gateways.find((g) => g.status?.role === 'Active')!.spec.nodeName;
  w.fresh.delete(active);
  w.expired.add(active);
  ({ p, c } = step());
  assert.deepEqual(
    p.remove.map((r) => r.reason),
    ['LeaseExpired'],
  );
  assert.equal(placementReason(p), 'Replacement');
  assert.deepEqual(c, { desired: 2, placed: 2, ready: 1, active: 1 });
  // Scale down to 0.
  w.policies[0] = { ...w.policies[0]!, spec: { desiredInstances: 0 } };
  ({ p, c } = step());
  assert.equal(placementReason(p), 'Fill');
  assert.deepEqual(c, { desired: 0, placed: 0, ready: 0, active: 0 });
});

test('ControllerMetrics: a removed Active instance that failed is a failover; a Standby one is not', async () => {
  const reg = createRegistry();
  const m = new ControllerMetrics(reg, () => 'a');
  const gw = (role: 'Active' | 'Standby') => ({
    apiVersion: 'mcgw.io/v1alpha1',
    kind: 'ClusterGateway',
    metadata: { name: 'n1' },
    spec: { nodeName: 'n1', gatewayIP: '198.18.0.1', internalIP: '198.18.0.1', priority: 1 },
    status: { role },
  });
  m.removed('LeaseExpired', gw('Active'));
  m.removed('LeaseExpired', gw('Standby'));
  m.removed('Draining', gw('Active'));
  m.removed('NodeNotReady', undefined);
  const text = await reg.metrics();
  assert.equal(sample(text, 'mcgw_controller_failovers_total', { reason: 'LeaseExpired' }), 1);
  assert.equal(sample(text, 'mcgw_controller_failovers_total', { reason: 'NodeNotReady' }), 0);
  assert.equal(sample(text, 'mcgw_controller_removals_total', { reason: 'LeaseExpired' }), 2);
  assert.equal(sample(text, 'mcgw_controller_removals_total', { reason: 'Draining' }), 1);
});

test('ControllerMetrics: gauges carry the cluster label, and a standby reports none', async () => {
  const reg = createRegistry();
  let cluster = '';
  const m = new ControllerMetrics(reg, () => cluster);
  const w = new World([node('n1'), node('n2')], [policy('default', { desiredInstances: 1 })]);
  m.leading(true);
  m.reconciled(0.004, plan(w.input(0)), [], w.policies);
  let text = await reg.metrics();
  assert.equal(sample(text, 'mcgw_controller_gateways', { cluster: '', state: 'placed' }), 1);
  assert.equal(sample(text, 'mcgw_controller_is_leader'), 1);
  assert.equal(sample(text, 'mcgw_controller_reconcile_duration_seconds_count'), 1);
  cluster = 'a'; // the ClusterSetMember appeared: the old series goes away
  m.reconciled(0.004, plan(w.input(0)), [], w.policies);
  text = await reg.metrics();
  assert.equal(sample(text, 'mcgw_controller_gateways', { cluster: 'a', state: 'desired' }), 1);
  assert.equal(sample(text, 'mcgw_controller_gateways', { cluster: '', state: 'placed' }), undefined);
  m.leading(false);
  text = await reg.metrics();
  assert.equal(sample(text, 'mcgw_controller_gateways'), undefined);
  assert.equal(sample(text, 'mcgw_controller_is_leader'), 0);
});

const info = {
  clusterID: 'a',
  mode: 'ActiveStandby' as const,
  gateways: [],
  podCIDRs: ['198.18.64.0/20'],
  serviceCIDRs: [],
  tunnel: {},
};
const imp = (name: string, state?: 'Active' | 'Stale'): ClusterImport => ({
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'ClusterImport',
  metadata: { name, namespace: 'mcgw-clusterset' },
  spec: { ...info, clusterID: name },
  ...(state && { status: { state } }),
});
const exp = (ns: string, name: string, accepted?: boolean): ClusterExport => ({
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'ClusterExport',
  metadata: { name, namespace: ns },
  spec: { ...info, clusterID: name },
  ...(accepted !== undefined && {
    status: {
      conditions: [
        {
          type: 'Accepted',
          status: accepted ? 'True' : 'False',
          reason: accepted ? 'Accepted' : 'Conflict',
          message: '',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    },
  }),
});

test('leaderCounts applies the plan to the cached imports and exports', () => {
  const p: LeaderPlan = {
    upsert: [{ name: 'c', spec: { ...info, clusterID: 'c' }, sourceNamespace: 'mcgw-member-c' }],
    importStatus: [
      { name: 'c', status: { state: 'Active' } },
      { name: 'a', status: { state: 'Stale' } },
    ],
    remove: ['b'],
    exportStatus: [
      {
        namespace: 'mcgw-member-c',
        name: 'c',
        status: exp('x', 'c', false).status!,
      },
    ],
  };
  const c = leaderCounts(
    p,
    [imp('a', 'Active'), imp('b', 'Active'), imp('d')],
    [exp('mcgw-member-a', 'a', true), exp('mcgw-member-c', 'c'), exp('mcgw-member-d', 'd', true)],
  );
  assert.deepEqual(c.imports, { Active: 2, Stale: 1 }); // c (new), d (no status yet); a went Stale
  assert.deepEqual(c.exports, { Accepted: 2, Refused: 1 });
});

test('LeaderMetrics and ExchangeMetrics record what they are told', async () => {
  const reg = createRegistry();
  const l = new LeaderMetrics(reg);
  const x = new ExchangeMetrics(reg);
  l.leading(true);
  l.refused('Conflict');
  l.reconcileFailed();
  x.exported(performance.now() - 250);
  x.exported(undefined); // a resync after reconnecting: counted, but no latency to measure
  x.status('a', false, 2);
  x.failed('import');
  let text = await reg.metrics();
  assert.equal(sample(text, 'mcgw_leader_is_leader'), 1);
  assert.equal(sample(text, 'mcgw_leader_refused_exports_total', { reason: 'Conflict' }), 1);
  assert.equal(sample(text, 'mcgw_leader_reconcile_errors_total'), 1);
  assert.equal(sample(text, 'mcgw_exchange_export_writes_total'), 2);
  assert.equal(sample(text, 'mcgw_exchange_export_latency_seconds_count'), 1);
  assert.ok(sample(text, 'mcgw_exchange_export_latency_seconds_sum')! >= 0.25);
  assert.equal(sample(text, 'mcgw_exchange_export_latency_seconds_bucket', { le: '0.1' }), 0);
  assert.equal(sample(text, 'mcgw_exchange_export_latency_seconds_bucket', { le: '0.5' }), 1);
  assert.equal(sample(text, 'mcgw_exchange_leader_reachable', { cluster: 'a' }), 0);
  assert.equal(sample(text, 'mcgw_exchange_remote_clusters', { cluster: 'a' }), 2);
  assert.equal(sample(text, 'mcgw_exchange_errors_total', { step: 'import' }), 1);
  assert.equal(x.clusterID, 'a');
  x.standby();
  text = await reg.metrics();
  assert.equal(sample(text, 'mcgw_exchange_leader_reachable', { cluster: 'a' }), undefined);
});

test('/metrics is served through the health server with the Prometheus content type', async () => {
  const reg = createRegistry();
  new ControllerMetrics(reg).wrote('clustergateways', 'create');
  const h = await startHealthServer('127.0.0.1:0', {
    live: () => true,
    ready: () => true,
    extra: metricsEndpoint(reg),
  });
  after(() => h.server.close());
  const res = await fetch(`http://127.0.0.1:${h.port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.equal(
    sample(text, 'mcgw_controller_writes_total', { resource: 'clustergateways', verb: 'create' }),
    1,
  );
  assert.match(text, /# TYPE mcgw_controller_reconcile_duration_seconds histogram/);
});
