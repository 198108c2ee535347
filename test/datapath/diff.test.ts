import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planDatapath } from '../../src/datapath/plan.ts';
import { nodeMAC } from '../../src/datapath/inner.ts';
import { diffState, routeConflicts } from '../../src/datapath/diff.ts';
import { renderBatches, renderBridgeBatch, renderIpBatch } from '../../src/datapath/render.ts';
import type { Change, ObservedState } from '../../src/datapath/types.ts';
import { EMPTY, applyAll, assertMatches, gatewayInput, normalize, workerInput } from './fixtures.ts';

const gw = planDatapath(gatewayInput()).desired;
const worker = planDatapath(workerInput()).desired;

// Foreign objects a real Node has: they must survive every diff untouched.
const FOREIGN: ObservedState = {
  links: [{ name: 'eth0', kind: 'device', vni: 0, port: 0, local: '', learning: false, up: true }],
  addresses: [{ dev: 'eth0', address: '198.18.32.2/24' }],
  fdb: [{ dev: 'eth0', mac: '00:00:00:00:00:00', dst: '198.18.32.9' }],
  neighbors: [{ dev: 'eth0', address: '198.18.32.1', mac: '52:54:00:00:00:01' }],
  routes: [
    {
      dst: '0.0.0.0/0',
      protocol: 3,
      type: 'unicast',
      nexthops: [{ via: '198.18.32.1', dev: 'eth0', weight: 1 }],
    },
    {
      dst: '198.18.32.0/24',
      protocol: 2,
      type: 'unicast',
      nexthops: [{ via: '198.18.32.2', dev: 'eth0', weight: 1 }],
    },
  ],
};

const withForeign = (s: ObservedState): ObservedState => ({
  links: [...FOREIGN.links, ...s.links],
  addresses: [...FOREIGN.addresses, ...s.addresses],
  fdb: [...FOREIGN.fdb, ...s.fdb],
  neighbors: [...FOREIGN.neighbors, ...s.neighbors],
  routes: [...FOREIGN.routes, ...s.routes],
});

const ops = (cs: readonly Change[]): string[] => cs.map((c) => c.op);
const firstIndex = (cs: readonly Change[], op: Change['op']): number => cs.findIndex((c) => c.op === op);
const lastIndex = (cs: readonly Change[], op: Change['op']): number => cs.map((c) => c.op).lastIndexOf(op);

void describe('diffState', () => {
  void it('is empty when the kernel already matches, foreign objects or not', () => {
    for (const d of [gw, worker]) {
      assert.deepEqual(diffState(d, d), []);
      assert.deepEqual(diffState(withForeign(d), d), []);
    }
  });

  void it('builds from nothing in dependency order: links, addresses, FDB, neighbors, routes', () => {
    const cs = diffState(withForeign(EMPTY), gw);
    const order = ['link-add', 'addr-add', 'fdb-add', 'neigh-replace', 'route-replace'] as const;
    for (let i = 1; i < order.length; i++) {
      assert.ok(
        lastIndex(cs, order[i - 1]!) < firstIndex(cs, order[i]!),
        `${order[i - 1]} before ${order[i]}`,
      );
    }
    assert.equal(cs.length, 2 + 1 + 10 + 5 + 4);
  });

  void it('tears down routes before the links they use, replacing the ones still wanted first', () => {
    // This Node stops being a Gateway: remote routes move from mcgw-x to mcgw-i, mcgw-x goes.
    const demoted = planDatapath(
      workerInput({ self: { ...workerInput().self, node: 'a-gw1', internalIP: '198.18.32.2' } }),
    );
    const cs = diffState(withForeign(gw), demoted.desired);
    const del = cs.findIndex((c) => c.op === 'link-del');
    assert.ok(del > 0 && cs[del]!.op === 'link-del' && cs[del].name === 'mcgw-x');
    assert.ok(lastIndex(cs, 'route-replace') < del);
    // mcgw-i stays, but sheds the inner MAC: the replacement that inherits the inner address wears
    // it, and a VXLAN device drops frames whose source MAC is its own.
    assert.deepEqual(
      cs.filter((c) => c.op === 'link-set' || (c.op === 'link-add' && c.link.name === 'mcgw-i')),
      [{ op: 'link-set', name: 'mcgw-i', mac: nodeMAC('198.18.32.2') }],
    );
    // Nothing on mcgw-x is deleted one by one: it goes with the link.
    assert.ok(
      !cs.some(
        (c) =>
          (c.op === 'fdb-del' || c.op === 'neigh-del') &&
          'mcgw-x' === (c.op === 'fdb-del' ? c.entry.dev : c.neighbor.dev),
      ),
    );
    const after = applyAll(withForeign(gw), cs);
    assertMatches(after, demoted.desired);
    assert.deepEqual(normalize(after, 'foreign'), normalize(FOREIGN, 'foreign'));
  });

  void it('deletes stale owned routes, never other protocols’ routes', () => {
    const stale: ObservedState = {
      ...withForeign(gw),
      routes: [
        ...withForeign(gw).routes,
        {
          dst: '198.18.128.0/20',
          protocol: 250,
          type: 'unicast',
          nexthops: [{ via: '198.19.1.1', dev: 'mcgw-x', weight: 1 }],
        },
        {
          dst: '198.18.144.0/20',
          protocol: 4,
          type: 'unicast',
          nexthops: [{ via: '198.19.1.1', dev: 'mcgw-x', weight: 1 }],
        },
      ],
    };
    const cs = diffState(stale, gw);
    assert.equal(renderIpBatch(cs), 'route del 198.18.128.0/20 proto 250\n');
  });

  void it('leaves a foreign route with a wanted destination alone and reports it', () => {
    const clash = withForeign(EMPTY);
    const current: ObservedState = {
      ...clash,
      routes: [...clash.routes, { dst: '198.18.64.0/20', protocol: 4, type: 'blackhole', nexthops: [] }],
    };
    const cs = diffState(current, gw);
    assert.ok(!cs.some((c) => c.op === 'route-replace' && c.route.dst === '198.18.64.0/20'));
    assert.deepEqual(
      routeConflicts(current, gw).map((c) => [c.desired.dst, c.foreign.protocol]),
      [['198.18.64.0/20', 4]],
    );
  });

  void it('re-creates a link whose VNI changed, with everything on it, routes deleted first', () => {
    const other = planDatapath(
      gatewayInput({ options: { ...gatewayInput().options, vni: 999, internalVni: 4243 } }),
    ).desired;
    const cs = diffState(gw, other);
    const linkDel = cs.findIndex((c) => c.op === 'link-del');
    assert.ok(cs.slice(0, linkDel).every((c) => c.op === 'route-del'));
    assert.equal(cs.filter((c) => c.op === 'route-del').length, 4);
    assert.deepEqual(
      ops(cs).filter((o) => o.startsWith('link')),
      ['link-del', 'link-add'],
    );
    assertMatches(applyAll(gw, cs), other);
  });

  void it('changes only what differs of MAC, MTU and up state in place', () => {
    const mtu = planDatapath(gatewayInput({ options: { ...gatewayInput().options, mtu: 1400 } })).desired;
    assert.equal(
      renderIpBatch(diffState(gw, mtu)),
      'link set dev mcgw-i mtu 1400\nlink set dev mcgw-x mtu 1400\n',
    );
    // A down link has no routes left (the kernel flushed them), so they are added again; a new
    // MAC flushes the neighbors, so they are too.
    const down: ObservedState = {
      ...gw,
      links: gw.links.map((l) =>
        l.name === 'mcgw-x' ? { ...l, up: false } : { ...l, mac: '02:00:00:00:00:01' },
      ),
      routes: [],
    };
    const cs = diffState(down, gw);
    assert.deepEqual(cs.slice(0, 2), [
      { op: 'link-set', name: 'mcgw-i', mac: '02:6d:c6:13:da:b4' },
      { op: 'link-set', name: 'mcgw-x', up: true },
    ]);
    assert.deepEqual(ops(cs.slice(2)), [...new Array<string>(4).fill('route-replace')]);
    const remac: ObservedState = { ...gw, links: gw.links.map((l) => ({ ...l, mac: '02:00:00:00:00:01' })) };
    assert.deepEqual(ops(diffState(remac, gw)), [
      'link-set',
      'link-set',
      ...new Array<string>(5).fill('neigh-replace'),
    ]);
    // A worker's mcgw-i wears its own node MAC, never a Gateway's inner one (02:6d:...).
    const internalIP = workerInput().self.internalIP;
    assert.equal(worker.links.find((l) => l.name === 'mcgw-i')?.mac, nodeMAC(internalIP));
    assert.notEqual(nodeMAC(internalIP).slice(0, 5), '02:6d');
    const w: ObservedState = {
      ...worker,
      links: worker.links.map((l) => ({ ...l, mac: '02:6d:c6:13:da:b4' })),
    };
    assert.deepEqual(diffState(w, worker).slice(0, 1), [
      { op: 'link-set', name: 'mcgw-i', mac: nodeMAC(internalIP) },
    ]);
  });

  void it('matches what the kernel reports: default port/VNI omitted, IPv6 link-local kept', () => {
    const observed: ObservedState = {
      ...gw,
      addresses: [...gw.addresses, { dev: 'mcgw-x', address: 'fe80::6d:c6ff:fe13:dab4/64' }],
      // `bridge fdb show` omits port and VNI when they are the device's own.
      fdb: gw.fdb.map((f) =>
        f.port === 4789 && f.vni === 4242 ? { dev: f.dev, mac: f.mac, dst: f.dst } : f,
      ),
      routes: gw.routes.map((r) => ({ ...r, metric: 0, table: 254 })),
      links: gw.links.map((l) => ({ ...l, mac: l.mac?.toUpperCase() })),
    };
    assert.deepEqual(diffState(observed, gw), []);
  });

  void it('moves an FDB entry to a new port make-before-break', () => {
    const moved = planDatapath(
      gatewayInput({
        remotes: [
          gatewayInput().remotes[0]!,
          { ...gatewayInput().remotes[1]!, tunnel: { port: 4791, vni: 77 } },
        ],
      }),
    ).desired;
    const cs = diffState(gw, moved);
    assert.deepEqual(ops(cs), [
      ...new Array<string>(6).fill('fdb-add'),
      ...new Array<string>(6).fill('fdb-del'),
    ]);
    assert.match(renderBridgeBatch(cs), /^fdb append .* port 4791 vni 77 self permanent$/m);
    assert.match(renderBridgeBatch(cs), /^fdb del .* port 4790 vni 77 self$/m);
  });
});

void describe('rendering', () => {
  void it('splits ip and bridge scripts in order, and refuses to mix them', () => {
    const cs = diffState(EMPTY, worker);
    assert.deepEqual(
      renderBatches(cs).map((b) => b.tool),
      ['ip', 'bridge', 'ip'],
    );
    assert.throws(() => renderIpBatch(cs), /fdb-add is not an ip command/);
    assert.throws(() => renderBridgeBatch(cs), /link-add is not a bridge command/);
  });

  void it('renders deletes of every kind', () => {
    const cs: Change[] = [
      {
        op: 'route-del',
        route: {
          dst: '198.18.176.0/20',
          protocol: 250,
          type: 'unreachable',
          nexthops: [],
          table: 100,
          metric: 5,
        },
      },
      { op: 'neigh-del', neighbor: { dev: 'mcgw-x', address: '198.19.1.1', mac: '02:6d:c6:13:01:01' } },
      { op: 'addr-del', address: { dev: 'mcgw-x', address: '198.19.1.2/32' } },
      { op: 'link-del', name: 'mcgw-x' },
    ];
    assert.equal(
      renderIpBatch(cs),
      'route del unreachable 198.18.176.0/20 table 100 proto 250 metric 5\n' +
        'neigh del 198.19.1.1 dev mcgw-x\n' +
        'address del 198.19.1.2/32 dev mcgw-x\n' +
        'link del dev mcgw-x\n',
    );
  });

  void it('refuses values that would inject a second command, and routes it does not own', () => {
    const evil: Change = {
      op: 'neigh-replace',
      neighbor: { dev: 'mcgw-x', address: '198.19.1.1\nlink del dev eth0', mac: '02:00:00:00:00:01' },
    };
    assert.throws(() => renderIpBatch([evil]), /not a plain token/);
    assert.throws(() => renderIpBatch([{ op: 'link-del', name: 'a-very-long-interface' }]), /interface name/);
    assert.throws(
      () =>
        renderIpBatch([
          {
            op: 'route-replace',
            route: { dst: '198.18.0.0/15', protocol: 4, type: 'unreachable', nexthops: [] },
          },
        ]),
      /protocol 4/,
    );
  });
});
