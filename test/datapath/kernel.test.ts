// The rendered batches against a real kernel, in a throwaway network namespace: every command
// must be accepted, and the state read back (`ip -j`, `bridge -j`) must diff as empty against the
// plan. Skipped where namespaces cannot be created (not root, no iproute2, no VXLAN).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planDatapath } from '../../src/datapath/plan.ts';
import type { DesiredState } from '../../src/datapath/types.ts';
import { ALL_REMOTE_GATEWAYS, gatewayInput, workerInput } from './fixtures.ts';
import { addNetns, converge as convergeIn, delNetns, netnsUnavailable, run } from './netns.ts';

const NS = `mcgwt-test-${process.pid}`;
const skip = netnsUnavailable();
const converge = (d: DesiredState): ReturnType<typeof convergeIn> => convergeIn(NS, d);

const routeLine = (dst: string): string => run('ip', ['-n', NS, 'route', 'show', dst]).trim();

void describe('batches against a real kernel', { skip }, () => {
  before(() => {
    addNetns(NS);
    // A foreign route that must survive everything.
    run('ip', ['-n', NS, 'route', 'add', 'blackhole', '198.18.250.0/24', 'proto', 'static']);
  });
  after(() => delNetns(NS));

  const gw = planDatapath(gatewayInput()).desired;
  const alive = (...dead: string[]): Map<string, boolean> =>
    new Map(ALL_REMOTE_GATEWAYS.map((k) => [k, !dead.includes(k)]));

  void it('builds a Gateway Node from nothing', () => {
    converge(gw);
    assert.match(
      routeLine('198.18.64.0/20'),
      /^198\.18\.64\.0\/20 via 198\.19\.204\.116 dev mcgw-x proto 250 onlink$/,
    );
    assert.equal((routeLine('198.18.80.0/20').match(/nexthop via/g) ?? []).length, 3);
    const fdb = run('bridge', ['-n', NS, 'fdb', 'show', 'dev', 'mcgw-x']);
    assert.match(fdb, /00:00:00:00:00:00 dst 198\.18\.2\.2 port 4790 vni 77 self permanent/);
  });

  void it('fails over with route replaces only, and goes unreachable and back', () => {
    const failed = planDatapath(gatewayInput({ liveness: alive('beta/b-gw1', 'gamma/c-gw2') })).desired;
    const cs = converge(failed);
    assert.ok(cs.every((c) => c.op === 'route-replace'));
    assert.match(routeLine('198.18.64.0/20'), /via 198\.19\.204\.115 dev mcgw-x/);
    assert.equal((routeLine('198.18.80.0/20').match(/nexthop via/g) ?? []).length, 2);
    converge(planDatapath(gatewayInput({ liveness: alive('beta/b-gw1', 'beta/b-gw2') })).desired);
    assert.match(routeLine('198.18.64.0/20'), /^unreachable 198\.18\.64\.0\/20 proto 250/);
    converge(gw);
  });

  void it('re-creates a device whose VNI changed and sets MTU in place', () => {
    const opts = gatewayInput().options;
    converge(planDatapath(gatewayInput({ options: { ...opts, vni: 5000, internalVni: 4243 } })).desired);
    assert.match(run('ip', ['-n', NS, '-d', 'link', 'show', 'mcgw-x']), /vxlan id 5000/);
    const cs = converge(
      planDatapath(gatewayInput({ options: { ...opts, vni: 5000, internalVni: 4243, mtu: 1400 } })).desired,
    );
    assert.deepEqual(
      cs.map((c) => c.op),
      ['link-set', 'link-set'],
    );
  });

  void it('moves its own inner address and MAC in place, neighbors re-added after the flush', () => {
    converge(gw);
    const local = gatewayInput().local;
    const moved = planDatapath(
      gatewayInput({
        local: { ...local, gateways: [{ ...local.gateways[0]!, priority: 90 }, local.gateways[1]!] },
      }),
    );
    const cs = converge(moved.desired);
    assert.ok(cs.some((c) => c.op === 'link-set' && c.mac !== undefined));
    assert.match(
      run('ip', ['-n', NS, 'addr', 'show', 'dev', 'mcgw-x']),
      new RegExp(`inet ${moved.selfInner}/32`),
    );
  });

  void it('demotes to a worker and tears everything down, leaving foreign routes alone', () => {
    converge(gw);
    const worker = planDatapath(
      workerInput({ self: { node: 'a-gw1', cluster: 'alpha', isGateway: false, internalIP: '198.18.32.2' } }),
    );
    converge(worker.desired);
    assert.doesNotMatch(run('ip', ['-n', NS, 'link', 'show']), /mcgw-x/);
    assert.match(routeLine('198.18.64.0/20'), /dev mcgw-i/);
    converge({ links: [], addresses: [], fdb: [], neighbors: [], routes: [] });
    assert.doesNotMatch(run('ip', ['-n', NS, 'link', 'show']), /mcgw-/);
    assert.match(routeLine('198.18.250.0/24'), /^blackhole 198\.18\.250\.0\/24 proto static/);
  });
});
