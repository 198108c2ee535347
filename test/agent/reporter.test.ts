// The agent's BFD Down reporter without an apiserver: Event names every Node derives alike, one
// report per failure, and how it behaves when the apiserver is slow or gone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BFD_DOWN_REASON,
  BFD_DOWN_SELECTOR,
  bfdDownEvent,
  bfdDownEventName,
  parseBfdDownEvent,
} from '../../src/api/bfdreport.ts';
import { BfdDownReporter } from '../../src/agent/reporter.ts';
import type { ReporterApi } from '../../src/agent/reporter.ts';
import { AgentMetrics, createRegistry } from '../../src/metrics/index.ts';
import { createLogger, silentLogger } from '../../src/util/log.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const UID = '6f1c2d3e-aaaa-bbbb-cccc-000000000001';

/** An in-memory apiserver: one Lease renewal per Gateway, Events by name (409 on a second create). */
function fakeApi(renewals: Record<string, string>) {
  const events = new Map<string, ReturnType<typeof bfdDownEvent>>();
  const api: ReporterApi = {
    lease: async (gw) =>
      renewals[gw] === undefined ? undefined : { renewal: renewals[gw], uid: `lease-${gw}` },
    createEvent: async (e) => {
      const name = e.metadata!.name!;
      if (events.has(name)) return false;
      events.set(name, e);
      return true;
    },
  };
  return { api, events };
}

test('Event names: the same for every reporter of one failure, different for another placement or renewal', () => {
  const a = bfdDownEventName('gw-1', UID, '1767225600123');
  assert.equal(a, 'gw-1.bfd-down.6f1c2d3e.1767225600123');
  assert.match(a, DNS_SUBDOMAIN);
  assert.notEqual(a, bfdDownEventName('gw-1', 'ffff0000-0000', '1767225600123'));
  assert.notEqual(a, bfdDownEventName('gw-1', UID, '1767225601123'));
  assert.match(bfdDownEventName('gw-1', UID, 'rv:42'), DNS_SUBDOMAIN);
  const long = bfdDownEventName(
    `${'n'.repeat(63)}.${'m'.repeat(63)}.${'o'.repeat(63)}.${'p'.repeat(55)}`,
    UID,
    '1',
  );
  assert.ok(long.length <= 253, `${long.length} characters`);
  assert.match(long, DNS_SUBDOMAIN);
});

test('the Event carries the report, and parses back; other Events do not parse', () => {
  const r = { gateway: 'gw-1', uid: UID, renewal: '1767225600123', reporter: 'worker-3' };
  const e = bfdDownEvent(r, 'Control Detection Time Expired', Date.parse('2026-01-01T00:00:01Z'));
  assert.equal(e.reason, BFD_DOWN_REASON);
  assert.equal(e.type, 'Warning');
  assert.equal(e.metadata?.namespace, 'mcgw-system');
  assert.equal(`mcgw.io/report=${e.metadata?.labels?.['mcgw.io/report']}`, BFD_DOWN_SELECTOR);
  // About the Gateway's Lease: an Event about a cluster-scoped object would have to be in default.
  assert.deepEqual(e.involvedObject, {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    namespace: 'mcgw-system',
    name: 'gateway-gw-1',
  });
  assert.equal(e.metadata?.annotations?.['mcgw.io/gateway-uid'], UID);
  assert.equal(bfdDownEvent({ ...r, leaseUid: 'l-1' }, 'x', 0).involvedObject.uid, 'l-1');
  assert.equal(e.reportingInstance, 'worker-3');
  assert.match(e.message!, /from node worker-3 to Gateway gw-1 went Down \(Control Detection Time Expired\)/);
  assert.match(e.message!, /last renewed at 2026-01-01T00:00:00\.123Z/);
  // Through JSON, as the watch delivers it.
  assert.deepEqual(parseBfdDownEvent(JSON.parse(JSON.stringify(e)) as typeof e), r);
  assert.equal(parseBfdDownEvent({ ...e, reason: 'Placed' }), undefined);
  assert.equal(parseBfdDownEvent({ ...e, metadata: {} }), undefined);
  const { 'mcgw.io/gateway-uid': _, ...noUid } = e.metadata!.annotations!;
  assert.equal(parseBfdDownEvent({ ...e, metadata: { annotations: noUid } }), undefined);
});

test('two Nodes seeing one failure: one Event, the other report counted as a duplicate', async () => {
  const { api, events } = fakeApi({ 'gw-1': '1767225600123' });
  const reg = createRegistry();
  const metrics = new AgentMetrics(reg);
  const mk = (node: string) =>
    new BfdDownReporter({
      node,
      api,
      uidOf: (g) => (g === 'gw-1' ? UID : undefined),
      log: silentLogger,
      metrics,
    });
  const [w1, w2] = [mk('w1'), mk('w2')];
  const results = await Promise.all([
    w1.report({ gateway: 'gw-1', inner: '198.19.128.1', diag: 1 }),
    w2.report({ gateway: 'gw-1', inner: '198.19.128.1', diag: 1 }),
  ]);
  assert.deepEqual(results.sort(), ['duplicate', 'sent']);
  assert.equal(events.size, 1);
  const text = await reg.metrics();
  assert.match(text, /mcgw_agent_bfd_down_reports_total\{result="sent"\} 1/);
  assert.match(text, /mcgw_agent_bfd_down_reports_total\{result="duplicate"\} 1/);
  assert.match(text, /mcgw_agent_bfd_down_reports_total\{result="error"\} 0/);
  // The same Node seeing it again (a flap with no renewal in between): still one Event.
  assert.equal(await w1.report({ gateway: 'gw-1' }), 'duplicate');
});

test('nothing to report: a Gateway gone from the cache, or one that never renewed its Lease', async () => {
  const { api, events } = fakeApi({});
  const r = new BfdDownReporter({
    node: 'w1',
    api,
    uidOf: (g) => (g === 'gw-1' ? UID : undefined),
    log: silentLogger,
  });
  assert.equal(await r.report({ gateway: 'gw-2' }), 'no-gateway');
  assert.equal(await r.report({ gateway: 'gw-1' }), 'no-lease');
  assert.equal(events.size, 0);
});

test('a second Down of the same Gateway while its report is under way is dropped as busy', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { api, events } = fakeApi({ 'gw-1': '5' });
  const slow: ReporterApi = {
    ...api,
    lease: async (g) => {
      await gate;
      return api.lease(g);
    },
  };
  const r = new BfdDownReporter({ node: 'w1', api: slow, uidOf: () => UID, log: silentLogger });
  const first = r.report({ gateway: 'gw-1' });
  assert.equal(await r.report({ gateway: 'gw-1' }), 'busy');
  release();
  assert.equal(await first, 'sent');
  assert.equal(events.size, 1);
});

test('an apiserver that does not answer: the report gives up at the timeout, later ones are dropped for the backoff, warned once', async (t) => {
  let clock = 0;
  const lines: string[] = [];
  const log = createLogger('debug', {}, (l) => lines.push(l));
  let answering = false;
  const { api, events } = fakeApi({ 'gw-1': '5', 'gw-2': '6' });
  const flaky: ReporterApi = {
    lease: (g) => (answering ? api.lease(g) : new Promise<never>(() => {})),
    createEvent: (e) => api.createEvent(e),
  };
  const r = new BfdDownReporter({
    node: 'w1',
    api: flaky,
    uidOf: () => UID,
    log,
    timeoutMs: 50,
    backoffMs: 1000,
    maxPending: 2,
    now: () => clock,
  });
  // The reporter's timer does not hold the process open (the agent has its own handles); this does.
  const keep = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keep));
  const t0 = performance.now();
  assert.equal(await r.report({ gateway: 'gw-1' }), 'error');
  assert.ok(performance.now() - t0 < 2000, 'gave up at the timeout');
  assert.equal(await r.report({ gateway: 'gw-2' }), 'backoff');
  clock = 1000;
  assert.equal(await r.report({ gateway: 'gw-2' }), 'error');
  const warns = lines.filter((l) => JSON.parse(l).level === 'warn');
  assert.equal(warns.length, 1, 'one warning per outage');
  // Two requests hang for good: at the cap, nothing more is sent until they settle.
  clock = 2000;
  assert.equal(await r.report({ gateway: 'gw-2' }), 'busy');
  assert.deepEqual(r.counts, {
    sent: 0,
    duplicate: 0,
    'no-gateway': 0,
    'no-lease': 0,
    busy: 1,
    backoff: 1,
    error: 2,
  });
  assert.equal(events.size, 0);
  // The apiserver answers again (a fresh reporter: the hung requests above never settle).
  answering = true;
  const r2 = new BfdDownReporter({ node: 'w1', api: flaky, uidOf: () => UID, log, now: () => clock });
  assert.equal(await r2.report({ gateway: 'gw-2' }), 'sent');
});
