// Agents as real processes in network namespaces, with real kernel VXLAN and routes, steering UDP
// streams between two clusters by BFD alone (no apiserver: each agent runs from its state file).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MCGW, Topology, lossWindowMs } from './topology.ts';

const root = process.getuid?.() === 0;

describe('ActiveStandby: agents steer cross-cluster traffic by BFD', { skip: !root && 'needs root' }, () => {
  const t = new Topology(['gb1', 'gb2'], 'ActiveStandby');
  const bound = t.bfd.mult * t.bfd.tx + 100;
  before(() => t.setUp());
  after(() => t.tearDown());

  test('agents come up from their state files and route b through its highest-priority Gateway', async () => {
    await t.start((r) => !!r?.gateway);
    const s = await t.stream(1000, 0.5);
    assert.deepEqual([...new Set(Object.values(s.answers))], ['gb1']);
    assert.ok(
      Object.keys(s.answers).length > s.sent * 0.95,
      `answered ${Object.keys(s.answers).length} of ${s.sent}`,
    );
  });

  test('agent restart under traffic: no packet lost', async () => {
    const s = await t.stream(1000, 3, async () => {
      await sleep(1000);
      const p = t.agents.get('ga')!;
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
      t.startAgent('ga');
    });
    assert.equal(lossWindowMs(s), 0, `lost ${s.sent - Object.keys(s.answers).length} of ${s.sent}`);
  });

  test(`the carrying Gateway dies: traffic moves to the standby within 3x50 ms + 100 ms, both ways`, async () => {
    const s = await t.stream(1000, 2.5, async () => {
      await sleep(800);
      t.kill('gb1');
    });
    const window = lossWindowMs(s);
    assert.ok(new Set(Object.values(s.answers)).has('gb2'), 'gb2 took over');
    assert.ok(window <= bound, `loss window ${window} ms`);
    process.stderr.write(
      `# ActiveStandby gateway death: round-trip loss window ${window} ms (bound ${bound} ms)\n`,
    );
    // The failover shows in ga's metrics.
    const m = t.metrics('ga');
    const value = (re: RegExp) => Number(re.exec(m)?.[1] ?? NaN);
    assert.ok(value(/^mcgw_agent_failovers_total (\d+)/m) >= 1, 'failovers counted');
    assert.ok(
      value(/^mcgw_agent_bfd_transitions_total\{state="Down",diag="ControlDetectionTimeExpired"\} (\d+)/m) >=
        1,
      'a detection timeout counted',
    );
    assert.ok(value(/^mcgw_agent_route_programming_seconds_count (\d+)/m) >= 1, 'route programming timed');
    assert.ok(value(/^mcgw_agent_bfd_sessions\{state="Up"\} (\d+)/m) >= 1, 'the session to gb2 is Up');
  });

  test('mcgw agent --cleanup removes everything it made', () => {
    t.agents.get('ga')!.kill('SIGKILL');
    const r = spawnSync(
      'ip',
      ['netns', 'exec', t.ns('ga'), process.execPath, MCGW, 'agent', '--node', 'ga', '--cleanup'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /removed \d+ datapath object/);
    assert.doesNotMatch(t.inNs('ga', 'ip', '-j', 'link', 'show'), /mcgw-/);
    assert.equal(t.inNs('ga', 'ip', 'route', 'show', 'proto', '250').trim(), '');
  });
});

describe(
  'ActiveActive with 3 Gateways: a failure leaves flows on the survivors untouched',
  { skip: !root && 'needs root' },
  () => {
    const t = new Topology(['gb1', 'gb2', 'gb3'], 'ActiveActive');
    const bound = t.bfd.mult * t.bfd.tx + 100;
    before(() => t.setUp());
    after(() => t.tearDown());

    test('ECMP over all three, flows spread, one dies', async () => {
      await t.start((r) => (r?.nexthops?.length ?? 0) === 3);
      // Twelve flows (one source port each); find who carries each, then kill one Gateway.
      let victim = '';
      const results = await t.flows(200, 3, 12, async () => {
        await sleep(1200);
        victim = 'gb2';
        t.kill(victim);
      });
      const carriers = results.map((s) => Object.values(s.answers)[0] ?? '?');
      assert.ok(new Set(carriers).size >= 2, `flows spread over ${[...new Set(carriers)].join(',')}`);
      let moved = 0;
      for (const s of results) {
        const first = Object.values(s.answers)[0];
        const window = lossWindowMs(s);
        if (first === victim) {
          moved++;
          assert.ok(window <= bound, `a flow of the dead Gateway lost ${window} ms`);
        } else {
          const seq = Object.entries(s.answers)
            .sort((a, b) => Number(a[0]) - Number(b[0]))
            .map((x) => x[1]);
          const switches = seq.filter((w, i) => i > 0 && w !== seq[i - 1]).length;
          assert.equal(
            window,
            0,
            `a flow on surviving ${first} lost ${window} ms (carrier switches: ${switches}, carriers ${[...new Set(seq)].join(',')})`,
          );
        }
      }
      process.stderr.write(
        `# ActiveActive: ${moved} of ${results.length} flows were on ${victim}; survivors lost nothing\n`,
      );
    });
  },
);
