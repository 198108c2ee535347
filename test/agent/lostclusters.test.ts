// Which remote clusters a Gateway tells its workers it has lost (lostClusters): pure, so checked
// against a plain restatement of the rule over random peers and liveness.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { lostClusters } from '../../src/agent/agent.ts';
import type { Peer } from '../../src/datapath/plan.ts';

const peer = (cluster: string, node: string): Peer => ({
  key: `${cluster}/${node}`,
  cluster,
  node,
  priority: 100,
  draining: false,
  inner: '198.19.255.1',
  mac: '02:00:00:00:00:01',
  underlay: '198.18.0.1',
  dev: 'mcgw-x',
});

const GW = { selfInner: '198.19.240.1' };

void describe('lostClusters', () => {
  it('a cluster is lost only when every one of its Gateways is known down', () => {
    const peers = [peer('b', 'g1'), peer('b', 'g2'), peer('c', 'g1')];
    const live = (m: Record<string, boolean>) => new Map(Object.entries(m));
    assert.deepEqual(
      lostClusters({ ...GW, peers }, live({ 'b/g1': false, 'b/g2': false, 'c/g1': true }), 2),
      ['b'],
    );
    assert.deepEqual(
      lostClusters({ ...GW, peers }, live({ 'b/g1': false, 'b/g2': true, 'c/g1': true }), 2),
      [],
    );
    // Unknown is not down: a session still coming up loses nothing.
    assert.deepEqual(lostClusters({ ...GW, peers }, live({ 'b/g1': false, 'c/g1': false }), 2), ['c']);
  });

  it('says nothing on a worker, or when no other local Gateway could take over', () => {
    const peers = [peer('b', 'g1')];
    const down = new Map([['b/g1', false]]);
    assert.deepEqual(lostClusters({ peers }, down, 2), []);
    assert.deepEqual(lostClusters({ ...GW, peers }, down, 1), []);
    assert.deepEqual(lostClusters({ ...GW, peers }, down, 2), ['b']);
  });

  it('matches the rule for any peers and liveness, and is sorted', () => {
    const arb = fc.record({
      peers: fc.array(fc.tuple(fc.constantFrom('b', 'c', 'd'), fc.constantFrom('g1', 'g2', 'g3')), {
        maxLength: 9,
      }),
      live: fc.dictionary(
        fc.constantFrom('b/g1', 'b/g2', 'b/g3', 'c/g1', 'c/g2', 'c/g3', 'd/g1', 'd/g2', 'd/g3'),
        fc.boolean(),
      ),
      gateways: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(arb, ({ peers, live, gateways }) => {
        const ps = peers.map(([c, n]) => peer(c, n));
        const got = lostClusters({ ...GW, peers: ps }, new Map(Object.entries(live)), gateways);
        const want =
          gateways < 2
            ? []
            : [...new Set(ps.map((p) => p.cluster))]
                .filter((c) => ps.filter((p) => p.cluster === c).every((p) => live[p.key] === false))
                .sort();
        assert.deepEqual(got, want);
      }),
    );
  });
});
