// A worker (non-gateway) Node runs BFD to its local Gateways, which answer it with passive
// sessions they accept, and its return traffic follows BFD: agents as real processes in network
// namespaces, from state files, with real kernel VXLAN and routes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Topology, lossWindowMs } from './topology.ts';

const root = process.getuid?.() === 0;
const A_PODS = '198.18.64.0/20';

describe('a worker Node follows BFD to its local Gateways', { skip: !root && 'needs root' }, () => {
  const t = new Topology(['gb1', 'gb2'], 'ActiveStandby', { tx: 50, mult: 3 }, { worker: 'w' });
  const bound = t.bfd.mult * t.bfd.tx + 100;
  // NaN while the agent's /metrics does not answer yet (just started, on a loaded machine).
  const up = (node: string) => {
    try {
      return Topology.metric(t.metrics(node), 'mcgw_agent_bfd_sessions{state="Up"}');
    } catch {
      return NaN;
    }
  };
  before(() => t.setUp());
  after(() => t.tearDown());

  test("the worker's sessions to both Gateways come Up, and it returns traffic through gb1", async () => {
    await t.start((r) => !!r?.gateway);
    const deadline = Date.now() + 15_000;
    while (!(up('w') === 2 && up('gb1') === 2 && up('gb2') === 2)) {
      if (Date.now() > deadline)
        throw new Error(
          `sessions Up: w ${up('w')}, gb1 ${up('gb1')}, gb2 ${up('gb2')}\n${(t.logs.get('w') ?? []).slice(-10).join('\n')}`,
        );
      await sleep(100);
    }
    // gb1 and gb2 each hold two Up sessions: ga's, planned, and w's, accepted. Nothing refused.
    for (const g of ['gb1', 'gb2']) {
      const m = t.metrics(g);
      assert.equal(Topology.metric(m, 'mcgw_agent_bfd_dropped_packets{reason="peer-refused"}'), 0, g);
      assert.equal(Topology.metric(m, 'mcgw_agent_bfd_dropped_packets{reason="accept-limit"}'), 0, g);
    }
    // The worker's own liveness, not the all-down fallback, picked gb1: it saw both come Up.
    const peerUp = (t.logs.get('w') ?? []).filter((l) => l.includes('"msg":"peer up"'));
    for (const k of ['b/gb1', 'b/gb2'])
      assert.ok(
        peerUp.some((l) => l.includes(`"peer":"${k}"`)),
        `worker peer-up lines: ${peerUp.join('\n')}`,
      );
    const gb1 = t.innerOf('gb1');
    assert.ok(gb1, 'gb1 has an inner address');
    assert.equal(t.route('w', A_PODS)?.gateway, gb1, 'the worker returns traffic through gb1');
    const s = await t.stream(1000, 0.5);
    assert.deepEqual([...new Set(Object.values(s.answers))], ['w']);
    assert.ok(
      Object.keys(s.answers).length > s.sent * 0.95,
      `answered ${Object.keys(s.answers).length} of ${s.sent}`,
    );
  });

  test("gb1's agent restarts under traffic: the worker's session comes back, no packet lost", async () => {
    const s = await t.stream(1000, 4, async () => {
      await sleep(1000);
      const p = t.agents.get('gb1')!;
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
      t.startAgent('gb1');
    });
    assert.equal(lossWindowMs(s), 0, `lost ${s.sent - Object.keys(s.answers).length} of ${s.sent}`);
    // The new process knows nothing of the worker's session, so the worker saw gb1 go down for a
    // moment; it accepts the session again as soon as the worker starts over from Down.
    const deadline = Date.now() + 20_000;
    while (up('gb1') !== 2) {
      if (Date.now() > deadline) throw new Error(`gb1 holds ${up('gb1')} Up sessions`);
      await sleep(100);
    }
    assert.equal(up('w'), 2);
    assert.equal(t.route('w', A_PODS)?.gateway, t.innerOf('gb1'), 'the worker is back on gb1');
    const downs = (t.logs.get('w') ?? []).filter(
      (l) => l.includes('"msg":"peer down"') && l.includes('"peer":"b/gb1"'),
    ).length;
    process.stderr.write(`# gb1 agent restart: the worker saw gb1 down ${downs} time(s), lost nothing\n`);
  });

  test("gb1's tunnel to cluster a is cut: gb1 tells the worker, whose return traffic moves to gb2", async () => {
    const gb1 = t.innerOf('gb1');
    const gb2 = t.innerOf('gb2');
    assert.equal(t.route('w', A_PODS)?.gateway, gb1, 'the worker starts on gb1');
    // Cut on the underlay bridge between gb1 and ga, both ways: the worker's path to gb1 stays fine,
    // so only gb1 can know that it has lost cluster a.
    const [g, a] = [t.underlay['gb1'], t.underlay['ga']];
    const nft = (...args: string[]) => t.inNs('sw', 'nft', ...args);
    let cut = false;
    try {
      // The cut comes 800 ms into the stream, so the window covers detection and the move.
      const s = await t.stream(1000, 2.5, async () => {
        await sleep(800);
        nft('add', 'table', 'bridge', 'mcgwtcut');
        cut = true;
        nft('add', 'chain', 'bridge', 'mcgwtcut', 'f', '{ type filter hook forward priority 0; }');
        for (const [from, to] of [
          [g, a],
          [a, g],
        ])
          nft(
            'add',
            'rule',
            'bridge',
            'mcgwtcut',
            'f',
            `ip saddr ${from} ip daddr ${to} udp dport 4789 drop`,
          );
      });
      const window = lossWindowMs(s);
      const answered = Object.keys(s.answers).length;
      assert.equal(t.route('w', A_PODS)?.gateway, gb2, 'the worker returns traffic through gb2');
      assert.ok(
        Object.keys(s.answers).some((seq) => Number(seq) > s.sent - 200),
        `the end of the stream was answered (answered ${answered} of ${s.sent})`,
      );
      assert.ok(window <= bound, `loss window ${window} ms (answered ${answered} of ${s.sent})`);
      process.stderr.write(
        `# gb1 cut off from cluster a: round-trip loss window ${window} ms (bound ${bound} ms)\n`,
      );
      const gbLog = (t.logs.get('gb1') ?? []).join('\n');
      assert.match(gbLog, /lost every path to a cluster/);
      const wDown = (t.logs.get('w') ?? []).filter(
        (l) => l.includes('"msg":"peer down"') && l.includes('"peer":"b/gb1"'),
      );
      assert.ok(wDown.length >= 1, 'the worker took gb1 as down');
    } finally {
      if (cut) nft('delete', 'table', 'bridge', 'mcgwtcut');
      cut = false;
    }
    // The path is back: gb1 frees the worker's session, which comes Up, and the worker returns to gb1.
    const healed = Date.now();
    const deadline = healed + 15_000;
    while (t.route('w', A_PODS)?.gateway !== gb1) {
      if (Date.now() > deadline)
        throw new Error(`the worker still routes via ${t.route('w', A_PODS)?.gateway}, not gb1 (${gb1})`);
      await sleep(100);
    }
    assert.equal(up('w'), 2, "both of the worker's sessions are Up again");
    assert.match((t.logs.get('gb1') ?? []).join('\n'), /paths back/);
    process.stderr.write(`# cut healed: the worker was back on gb1 after ${Date.now() - healed} ms\n`);
  });

  test(`gb1 dies: the worker's return route moves to gb2, round-trip loss within 3x50 ms + 100 ms`, async () => {
    const gb2 = t.innerOf('gb2');
    const s = await t.stream(1000, 2.5, async () => {
      await sleep(800);
      t.kill('gb1');
    });
    const window = lossWindowMs(s);
    const answered = Object.keys(s.answers).length;
    assert.equal(t.route('w', A_PODS)?.gateway, gb2, 'the worker returns traffic through gb2');
    assert.ok(
      Object.keys(s.answers).some((seq) => Number(seq) > s.sent - 200),
      'the end of the stream was answered',
    );
    assert.ok(window <= bound, `loss window ${window} ms (answered ${answered} of ${s.sent})`);
    process.stderr.write(
      `# worker behind a dead Gateway: round-trip loss window ${window} ms (bound ${bound} ms), answered ${answered} of ${s.sent}\n`,
    );
    const m = t.metrics('w');
    assert.ok(Topology.metric(m, 'mcgw_agent_failovers_total') >= 1, 'the worker counted a failover');
    assert.equal(Topology.metric(m, 'mcgw_agent_bfd_sessions{state="Up"}'), 1, 'the session to gb2 stays Up');
    assert.equal(up('gb2'), 2, "gb2 still answers the worker's session");
  });
});
