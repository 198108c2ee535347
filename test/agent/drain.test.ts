// Draining a Gateway, datapath side, with real agents in network namespaces: once the carrying
// Gateway is marked draining, the far agent moves its traffic to the other living Gateway while the
// draining one still forwards; removing it afterwards touches no traffic. No packet may be lost.
// The agents run from state files (no apiserver), so each step rewrites the inputs the controller
// and the exchange would have delivered and restarts the agents concerned, which by itself loses
// nothing (failover.test.ts).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentInputs } from '../../src/agent/inputs.ts';
import { Topology, lossWindowMs } from './topology.ts';

const root = process.getuid?.() === 0;

describe('drain: make before break in the datapath', { skip: !root && 'needs root' }, () => {
  const t = new Topology(['gb1', 'gb2'], 'ActiveStandby');
  before(() => t.setUp());
  after(() => t.tearDown());

  /** Rewrites a Node's saved inputs (keeping its saved BFD verdicts), then restarts its agent. */
  const update = async (node: string, edit: (i: AgentInputs) => AgentInputs) => {
    const p = t.agents.get(node)!;
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
    const path = join(t.dir, `${node}.json`);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { inputs: AgentInputs };
    writeFileSync(path, JSON.stringify({ ...doc, inputs: edit(doc.inputs) }));
    t.startAgent(node);
  };
  const inB = (
    i: AgentInputs,
    f: (g: AgentInputs['local']['gateways']) => AgentInputs['local']['gateways'],
  ) =>
    i.cluster === 'b'
      ? { ...i, local: { ...i.local, gateways: f(i.local.gateways) } }
      : {
          ...i,
          remotes: i.remotes.map((r) => (r.clusterID === 'b' ? { ...r, gateways: f(r.gateways) } : r)),
        };
  const drainGb1 = (gs: AgentInputs['local']['gateways']) =>
    gs.map((g) => (g.node === 'gb1' ? { ...g, draining: true } : g));
  const withoutGb1 = (gs: AgentInputs['local']['gateways']) => gs.filter((g) => g.node !== 'gb1');

  test('traffic from a goes through gb1, the highest priority', async () => {
    await t.start((r) => !!r?.gateway);
    const s = await t.stream(1000, 0.5);
    assert.deepEqual([...new Set(Object.values(s.answers))], ['gb1']);
  });

  test('gb1 marked draining, then removed: traffic moves to gb2 first, and no packet is lost', async () => {
    let removedAt = 0;
    const s = await t.stream(1000, 7, async () => {
      const t0 = Date.now();
      await sleep(1000);
      // The mark reaches ga through the exchange. (gb1 and gb2 get it too, by watch, but it changes
      // nothing of theirs: their routes back to a have one Gateway to go to. Restarting them here
      // would only test concurrent restarts, whose BFD resets make ga fall back to gb1 a while.)
      await update('ga', (i) => inB(i, drainGb1));
      await sleep(2000);
      // The settle time is over: gb1's ClusterGateway is deleted. Its own cluster sees it at once and
      // gb1 stops being a Gateway; the other cluster learns it through the exchange, a second later.
      removedAt = Date.now() - t0;
      await update('gb1', (i) => inB(i, withoutGb1));
      await sleep(1000);
      await update('ga', (i) => inB(i, withoutGb1));
    });
    const carriers = Object.entries(s.answers)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, g]) => g);
    const lost = s.sent - carriers.length;
    process.stderr.write(`# drain: ${lost} of ${s.sent} lost, loss window ${lossWindowMs(s)} ms\n`);
    assert.equal(lossWindowMs(s), 0, `lost ${lost} of ${s.sent}`);
    assert.equal(carriers[0], 'gb1');
    assert.equal(carriers.at(-1), 'gb2');
    // One move, from gb1 to gb2: the draining gateway was not used again.
    assert.equal(carriers.lastIndexOf('gb1') + 1, carriers.indexOf('gb2'));
    // And it happened on the mark, before gb1 stopped being a Gateway (1 packet = 1 ms).
    assert.ok(
      carriers.lastIndexOf('gb1') < removedAt - 500,
      `gb1 carried packet ${carriers.lastIndexOf('gb1')}; removed at ${removedAt} ms`,
    );
    assert.match(t.inNs('gb1', 'ip', '-j', 'link', 'show'), /mcgw-i/);
    assert.doesNotMatch(t.inNs('gb1', 'ip', '-j', 'link', 'show'), /mcgw-x/, 'gb1 is no Gateway any more');
  });
});
