import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planDatapath } from '../../src/datapath/plan.ts';
import { diffState } from '../../src/datapath/diff.ts';
import { renderBatches, renderIpBatch } from '../../src/datapath/render.ts';
import { clusterSlots, fnv1a32, gatewaySlots, innerLayout, innerMAC } from '../../src/datapath/inner.ts';
import type { ClusterExport, PlanInput, Route } from '../../src/datapath/types.ts';
import {
  ALL_LOCAL_GATEWAYS,
  ALL_REMOTE_GATEWAYS,
  BETA,
  EMPTY,
  GAMMA,
  INNER,
  LOCAL_GATEWAYS,
  alive,
  gatewayInput,
  validatePlan,
  workerInput,
} from './fixtures.ts';

// Inner addresses of the fixture gateways (cluster slot from FNV-1a of the ID, gateway slot
// priority mod 16): alpha is slot 1451, beta 1228, gamma 1226.
const A1 = '198.19.218.180';
const A2 = '198.19.218.179';
const B1 = '198.19.204.116';
const B2 = '198.19.204.115';
const C1 = '198.19.192.164';
const C2 = '198.19.192.163';
const C3 = '198.19.192.162';

const plan = (input: PlanInput): ReturnType<typeof planDatapath> => {
  const p = planDatapath(input);
  validatePlan(input, p);
  return p;
};
const routeTo = (routes: readonly Route[], dst: string): Route => {
  const r = routes.find((x) => x.dst === dst);
  assert.ok(r, `no route to ${dst}`);
  return r;
};
const via = (r: Route): string[] => r.nexthops.map((n) => n.via);
const without = (...dead: string[]): Map<string, boolean> =>
  new Map([...ALL_REMOTE_GATEWAYS, ...ALL_LOCAL_GATEWAYS].map((k) => [k, !dead.includes(k)]));

void describe('planDatapath on a Gateway Node', () => {
  void it('builds both devices, head-end replication and one route per remote CIDR', () => {
    const p = plan(gatewayInput());
    assert.deepEqual(p.skipped, []);
    assert.equal(p.selfInner, A1);
    assert.deepEqual(
      renderBatches(diffState(EMPTY, p.desired)).map((b) => `${b.tool}:\n${b.script}`),
      [
        `ip:
link add mcgw-i address 02:6d:c6:13:da:b4 type vxlan id 4243 dstport 4789 local 198.18.32.2 nolearning
link set dev mcgw-i addrgenmode none
link set dev mcgw-i up
link add mcgw-x address 02:6d:c6:13:da:b4 type vxlan id 4242 dstport 4789 local 198.18.0.2 nolearning
link set dev mcgw-x addrgenmode none
link set dev mcgw-x up
address replace ${A1}/32 dev mcgw-x
`,
        `bridge:
fdb append 00:00:00:00:00:00 dev mcgw-x dst 198.18.1.2 port 4789 vni 4242 self permanent
fdb append 00:00:00:00:00:00 dev mcgw-x dst 198.18.1.3 port 4789 vni 4242 self permanent
fdb append 00:00:00:00:00:00 dev mcgw-x dst 198.18.2.2 port 4790 vni 77 self permanent
fdb append 00:00:00:00:00:00 dev mcgw-x dst 198.18.2.3 port 4790 vni 77 self permanent
fdb append 00:00:00:00:00:00 dev mcgw-x dst 198.18.2.4 port 4790 vni 77 self permanent
fdb append 02:6d:c6:13:c0:a2 dev mcgw-x dst 198.18.2.4 port 4790 vni 77 self permanent
fdb append 02:6d:c6:13:c0:a3 dev mcgw-x dst 198.18.2.3 port 4790 vni 77 self permanent
fdb append 02:6d:c6:13:c0:a4 dev mcgw-x dst 198.18.2.2 port 4790 vni 77 self permanent
fdb append 02:6d:c6:13:cc:73 dev mcgw-x dst 198.18.1.3 port 4789 vni 4242 self permanent
fdb append 02:6d:c6:13:cc:74 dev mcgw-x dst 198.18.1.2 port 4789 vni 4242 self permanent
`,
        `ip:
neigh replace ${C3} lladdr 02:6d:c6:13:c0:a2 dev mcgw-x nud permanent
neigh replace ${C2} lladdr 02:6d:c6:13:c0:a3 dev mcgw-x nud permanent
neigh replace ${C1} lladdr 02:6d:c6:13:c0:a4 dev mcgw-x nud permanent
neigh replace ${B2} lladdr 02:6d:c6:13:cc:73 dev mcgw-x nud permanent
neigh replace ${B1} lladdr 02:6d:c6:13:cc:74 dev mcgw-x nud permanent
route replace 198.18.64.0/20 proto 250 via ${B1} dev mcgw-x onlink
route replace 198.18.80.0/20 proto 250 nexthop via ${C3} dev mcgw-x weight 1 onlink nexthop via ${C2} dev mcgw-x weight 1 onlink nexthop via ${C1} dev mcgw-x weight 1 onlink
route replace 198.19.2.0/24 proto 250 via ${B1} dev mcgw-x onlink
route replace 198.19.3.0/24 proto 250 nexthop via ${C3} dev mcgw-x weight 1 onlink nexthop via ${C2} dev mcgw-x weight 1 onlink nexthop via ${C1} dev mcgw-x weight 1 onlink
`,
      ],
    );
    assert.deepEqual(
      p.peers.map((x) => [x.key, x.inner, x.underlay]),
      [
        ['beta/b-gw1', B1, '198.18.1.2'],
        ['beta/b-gw2', B2, '198.18.1.3'],
        ['gamma/c-gw1', C1, '198.18.2.2'],
        ['gamma/c-gw2', C2, '198.18.2.3'],
        ['gamma/c-gw3', C3, '198.18.2.4'],
      ],
    );
  });

  void it('ActiveStandby failover moves only that cluster’s routes to the next priority', () => {
    const before = plan(gatewayInput());
    const after = plan(gatewayInput({ liveness: without('beta/b-gw1') }));
    assert.deepEqual(via(routeTo(after.desired.routes, '198.18.64.0/20')), [B2]);
    assert.deepEqual(via(routeTo(after.desired.routes, '198.19.2.0/24')), [B2]);
    const changes = diffState(before.desired, after.desired);
    assert.deepEqual(
      changes.map((c) => c.op),
      ['route-replace', 'route-replace'],
    );
    assert.equal(
      renderIpBatch(changes),
      `route replace 198.18.64.0/20 proto 250 via ${B2} dev mcgw-x onlink\n` +
        `route replace 198.19.2.0/24 proto 250 via ${B2} dev mcgw-x onlink\n`,
    );
  });

  void it('a standby going down changes nothing; the survivor keeps the route', () => {
    const before = plan(gatewayInput());
    const after = plan(gatewayInput({ liveness: without('beta/b-gw2') }));
    assert.deepEqual(diffState(before.desired, after.desired), []);
  });

  void it('ActiveActive failover drops only the dead nexthop and keeps the others’ weights', () => {
    const before = plan(gatewayInput());
    const after = plan(gatewayInput({ liveness: without('gamma/c-gw2') }));
    for (const dst of ['198.18.80.0/20', '198.19.3.0/24']) {
      assert.deepEqual(routeTo(after.desired.routes, dst).nexthops, [
        { via: C3, dev: 'mcgw-x', weight: 1 },
        { via: C1, dev: 'mcgw-x', weight: 1 },
      ]);
    }
    const changes = diffState(before.desired, after.desired);
    assert.deepEqual(
      changes.map((c) => (c.op === 'route-replace' ? c.route.dst : c.op)),
      ['198.18.80.0/20', '198.19.3.0/24'],
    );
  });

  void it('with every gateway of a cluster down its routes become unreachable, and come back', () => {
    const up = plan(gatewayInput());
    const down = plan(gatewayInput({ liveness: without('beta/b-gw1', 'beta/b-gw2') }));
    for (const dst of ['198.18.64.0/20', '198.19.2.0/24']) {
      assert.deepEqual(routeTo(down.desired.routes, dst), {
        dst,
        protocol: 250,
        type: 'unreachable',
        nexthops: [],
      });
    }
    // FDB and neighbors stay: liveness only ever touches routes.
    assert.deepEqual(down.desired.fdb, up.desired.fdb);
    assert.deepEqual(down.desired.neighbors, up.desired.neighbors);
    const fail = diffState(up.desired, down.desired);
    assert.equal(
      renderIpBatch(fail),
      'route replace unreachable 198.18.64.0/20 proto 250\nroute replace unreachable 198.19.2.0/24 proto 250\n',
    );
    const recover = diffState(down.desired, up.desired);
    assert.equal(
      renderIpBatch(recover),
      `route replace 198.18.64.0/20 proto 250 via ${B1} dev mcgw-x onlink\n` +
        `route replace 198.19.2.0/24 proto 250 via ${B1} dev mcgw-x onlink\n`,
    );
  });

  void it('treats a gateway BFD has no verdict on as down', () => {
    const p = plan(gatewayInput({ liveness: alive('beta/b-gw2', 'gamma/c-gw3') }));
    assert.deepEqual(via(routeTo(p.desired.routes, '198.18.64.0/20')), [B2]);
    assert.deepEqual(via(routeTo(p.desired.routes, '198.18.80.0/20')), [C3]);
  });

  void it('breaks priority ties by the lowest node name', () => {
    const tied: ClusterExport = {
      ...BETA,
      gateways: [
        { node: 'b-z', priority: 50, gatewayIP: '198.18.1.9', internalIP: '198.18.32.9' },
        { node: 'b-m', priority: 50, gatewayIP: '198.18.1.8', internalIP: '198.18.32.8' },
      ],
    };
    const p = plan(gatewayInput({ remotes: [tied], liveness: alive('beta/b-z', 'beta/b-m') }));
    const m = p.peers.find((x) => x.node === 'b-m')!;
    assert.deepEqual(via(routeTo(p.desired.routes, '198.18.64.0/20')), [m.inner]);
    // Equal priorities want the same slot; the tie-break order decides who probes on.
    assert.notEqual(m.inner, p.peers.find((x) => x.node === 'b-z')!.inner);
  });

  void it('routes to a remote by the remote’s mode; an absent mode means ActiveStandby', () => {
    const { mode: _mode, ...noMode } = GAMMA;
    const p = plan(gatewayInput({ remotes: [BETA, noMode] }));
    assert.deepEqual(via(routeTo(p.desired.routes, '198.18.80.0/20')), [C1]);
    const q = plan(gatewayInput({ remotes: [{ ...BETA, mode: 'ActiveActive' }, GAMMA] }));
    assert.deepEqual(via(routeTo(q.desired.routes, '198.18.64.0/20')), [B2, B1]);
  });

  void it('is planned as a worker when its own gateway record is missing', () => {
    const p = plan(gatewayInput({ local: { ...gatewayInput().local, gateways: [LOCAL_GATEWAYS[1]!] } }));
    assert.deepEqual(
      p.desired.links.map((l) => l.name),
      ['mcgw-i'],
    );
    assert.match(p.skipped[0]!.reason, /planned as a non-gateway node/);
    // Routes go through the other local gateway, whose liveness is not known here: unreachable.
    assert.equal(routeTo(p.desired.routes, '198.18.64.0/20').type, 'unreachable');
  });
});

void describe('planDatapath on a worker Node', () => {
  void it('ActiveStandby: every remote CIDR via the active local gateway over mcgw-i', () => {
    const p = plan(workerInput());
    assert.deepEqual(p.skipped, []);
    assert.deepEqual(p.desired.links, [
      {
        name: 'mcgw-i',
        kind: 'vxlan',
        vni: 4243,
        port: 4789,
        local: '198.18.32.10',
        learning: false,
        // Its own MAC (02:6e + InternalIP), never a Gateway's inner one (02:6d + inner address).
        mac: '02:6e:c6:12:20:0a',
        up: true,
      },
    ]);
    assert.deepEqual(p.desired.addresses, []);
    assert.deepEqual(
      p.desired.routes.map((r) => [r.dst, r.nexthops]),
      ['198.18.64.0/20', '198.18.80.0/20', '198.19.2.0/24', '198.19.3.0/24'].map((dst) => [
        dst,
        [{ via: A1, dev: 'mcgw-i', weight: 1 }],
      ]),
    );
    assert.deepEqual(p.desired.neighbors, [
      { dev: 'mcgw-i', address: A2, mac: innerMAC(A2) },
      { dev: 'mcgw-i', address: A1, mac: innerMAC(A1) },
    ]);
    assert.deepEqual(
      p.desired.fdb.map((f) => `${f.mac}>${f.dst}:${f.port}/${f.vni}`),
      [
        '00:00:00:00:00:00>198.18.32.2:4789/4243',
        '00:00:00:00:00:00>198.18.32.3:4789/4243',
        `${innerMAC(A2)}>198.18.32.3:4789/4243`,
        `${innerMAC(A1)}>198.18.32.2:4789/4243`,
      ],
    );
    assert.deepEqual(
      p.peers.map((x) => [x.key, x.underlay]),
      [
        ['alpha/a-gw1', '198.18.32.2'],
        ['alpha/a-gw2', '198.18.32.3'],
      ],
    );
  });

  void it('ActiveActive: every remote CIDR over all living local gateways', () => {
    const local = { ...workerInput().local, mode: 'ActiveActive' as const };
    const p = plan(workerInput({ local }));
    for (const r of p.desired.routes) assert.deepEqual(via(r), [A2, A1]);
    const failed = plan(workerInput({ local, liveness: without('alpha/a-gw2') }));
    for (const r of failed.desired.routes)
      assert.deepEqual(r.nexthops, [{ via: A1, dev: 'mcgw-i', weight: 1 }]);
  });

  void it('fails over to the standby local gateway, and goes unreachable when none lives', () => {
    const p = plan(workerInput({ liveness: without('alpha/a-gw1') }));
    for (const r of p.desired.routes) assert.deepEqual(via(r), [A2]);
    const none = plan(workerInput({ liveness: new Map() }));
    for (const r of none.desired.routes) assert.equal(r.type, 'unreachable');
    // Remote gateways' liveness means nothing to a worker.
    assert.deepEqual(
      plan(workerInput({ liveness: without('beta/b-gw1') })).desired,
      plan(workerInput()).desired,
    );
  });
});

void describe('planDatapath with a draining gateway', () => {
  const drain = (x: ClusterExport, ...nodes: string[]): ClusterExport => ({
    ...x,
    gateways: x.gateways.map((g) => (nodes.includes(g.node) ? { ...g, draining: true } : g)),
  });
  const remotes = (...drained: string[]) => [drain(BETA, ...drained), drain(GAMMA, ...drained)];

  void it('ActiveStandby: traffic leaves the draining Active for the next living gateway at once', () => {
    const before = plan(gatewayInput());
    const p = plan(gatewayInput({ remotes: remotes('b-gw1') }));
    assert.deepEqual(via(routeTo(p.desired.routes, '198.18.64.0/20')), [B2]);
    // Only routes change: the draining gateway stays a peer (FDB, neighbour, BFD) until removed.
    const { routes: _a, ...restBefore } = before.desired;
    const { routes: _b, ...restAfter } = p.desired;
    assert.deepEqual(restAfter, restBefore);
    assert.deepEqual(
      p.peers.map((x) => [x.node, x.draining]),
      before.peers.map((x) => [x.node, x.node === 'b-gw1']),
    );
  });

  void it('falls back to the draining gateway when no other lives, and prefers the others again', () => {
    const p = plan(gatewayInput({ remotes: remotes('b-gw1'), liveness: without('beta/b-gw2') }));
    assert.deepEqual(via(routeTo(p.desired.routes, '198.18.64.0/20')), [B1]);
    // The replacement comes up (BFD Up) at a lower priority: it wins over the draining one.
    const repl = { node: 'b-gw3', priority: 98, gatewayIP: '198.18.1.4', internalIP: '198.18.32.4' };
    const beta = { ...drain(BETA, 'b-gw1'), gateways: [...drain(BETA, 'b-gw1').gateways, repl] };
    const q = plan(gatewayInput({ remotes: [beta, GAMMA], liveness: without('beta/b-gw2') }));
    assert.deepEqual(via(routeTo(q.desired.routes, '198.18.64.0/20')), [B1]);
    const up = new Map([...without('beta/b-gw2'), ['beta/b-gw3', true]]);
    const r = plan(gatewayInput({ remotes: [beta, GAMMA], liveness: up }));
    assert.notDeepEqual(via(routeTo(r.desired.routes, '198.18.64.0/20')), [B1]);
    assert.equal(routeTo(r.desired.routes, '198.18.64.0/20').nexthops.length, 1);
  });

  void it('ActiveActive: ECMP over the living gateways that are not draining', () => {
    const p = plan(gatewayInput({ remotes: remotes('c-gw1') }));
    assert.deepEqual(via(routeTo(p.desired.routes, '198.18.80.0/20')), [C3, C2]);
    const all = plan(gatewayInput({ remotes: remotes('c-gw1', 'c-gw2', 'c-gw3') }));
    assert.deepEqual(
      via(routeTo(all.desired.routes, '198.18.80.0/20')),
      [C3, C2, C1],
      'all draining: all used',
    );
  });

  void it('workers move off a draining local gateway the same way', () => {
    const local = {
      ...gatewayInput().local,
      gateways: [{ ...LOCAL_GATEWAYS[0]!, draining: true }, LOCAL_GATEWAYS[1]!],
    };
    const p = plan(workerInput({ local }));
    for (const r of p.desired.routes) assert.deepEqual(via(r), [A2]);
    const alone = plan(workerInput({ local, liveness: without('alpha/a-gw2') }));
    for (const r of alone.desired.routes) assert.deepEqual(via(r), [A1]);
  });

  void it('the draining gateway itself keeps forwarding as a Gateway until it is removed', () => {
    const local = {
      ...gatewayInput().local,
      gateways: [{ ...LOCAL_GATEWAYS[0]!, draining: true }, LOCAL_GATEWAYS[1]!],
    };
    const p = plan(gatewayInput({ local }));
    assert.deepEqual(p.desired, plan(gatewayInput()).desired);
    assert.equal(p.selfInner, A1);
  });
});

void describe('planDatapath with bad input', () => {
  const skippedFor = (input: PlanInput): Map<string, string> =>
    new Map(plan(input).skipped.map((s) => [s.what, s.reason]));

  void it('skips gateways with unusable or duplicate addresses, and keeps the rest', () => {
    const beta: ClusterExport = {
      ...BETA,
      gateways: [
        { node: 'b-gw1', priority: 100, gatewayIP: '127.0.0.1', internalIP: '198.18.32.2' },
        { node: 'b-gw2', priority: 99, gatewayIP: '198.18.1.3', internalIP: '198.18.32.3' },
        { node: 'b-gw3', priority: 98, gatewayIP: '198.18.2.2', internalIP: '198.18.32.4' }, // gamma's c-gw1
        { node: 'b-gw4', priority: 97, gatewayIP: '2001:db8::1', internalIP: '198.18.32.5' },
        { node: 'b-gw5', priority: 96, gatewayIP: '198.18.0.3', internalIP: '198.18.32.6' }, // local a-gw2
        { node: 'B_GW6', priority: 95, gatewayIP: '198.18.1.6', internalIP: '198.18.32.7' },
        { node: 'b-gw7', priority: 0, gatewayIP: '198.18.1.7', internalIP: '198.18.32.8' },
      ],
    };
    const gamma: ClusterExport = {
      ...GAMMA,
      gateways: [
        ...GAMMA.gateways,
        { node: 'c-gw1', priority: 1, gatewayIP: '198.18.2.9', internalIP: '198.18.32.9' },
      ],
    };
    const input = gatewayInput({ remotes: [gamma, beta] });
    const s = skippedFor(input);
    assert.equal(s.get('gateway "b-gw1" of cluster "beta"'), 'gateway IP "127.0.0.1": loopback address');
    // gamma lists c-gw1 twice, so neither entry is used, and beta's b-gw3 may take 198.18.2.2.
    assert.equal(s.get('gateway "c-gw1" of cluster "gamma"'), 'node listed more than once');
    assert.equal(s.get('gateway "b-gw3" of cluster "beta"'), undefined);
    assert.match(s.get('gateway "b-gw4" of cluster "beta"')!, /address family/);
    assert.match(s.get('gateway "b-gw5" of cluster "beta"')!, /gateway IP of local gateway "a-gw2"/);
    assert.match(s.get('gateway "B_GW6" of cluster "beta"')!, /DNS subdomain/);
    assert.match(s.get('gateway "b-gw7" of cluster "beta"')!, /priority 0/);
    const p = plan(input);
    assert.deepEqual(
      p.peers.map((x) => x.key),
      ['beta/b-gw2', 'beta/b-gw3', 'gamma/c-gw2', 'gamma/c-gw3'],
    );
    assert.ok(!p.desired.fdb.some((f) => f.dst === '127.0.0.1'));
  });

  void it('a later duplicate gateway IP loses to the earlier cluster', () => {
    const gamma: ClusterExport = {
      ...GAMMA,
      gateways: [{ node: 'c-gw1', priority: 100, gatewayIP: '198.18.1.2', internalIP: '198.18.32.2' }],
    };
    const s = skippedFor(gatewayInput({ remotes: [gamma, BETA] }));
    assert.equal(
      s.get('gateway "c-gw1" of cluster "gamma"'),
      'gateway IP 198.18.1.2 is already used by gateway "b-gw1" of cluster "beta"',
    );
  });

  void it('skips remote CIDRs that overlap local ones, root routes, each other or the tunnel', () => {
    const beta: ClusterExport = {
      ...BETA,
      podCIDRs: [
        '198.18.64.0/20',
        '198.18.56.0/21',
        '198.18.1.0/24',
        'fd00:2::/64',
        '198.18.176.0/33',
        '0.0.0.0/0',
      ],
      serviceCIDRs: ['198.18.202.0/24', '198.19.200.0/24', '198.18.64.5/20'],
    };
    const gamma: ClusterExport = { ...GAMMA, podCIDRs: ['198.18.72.0/21', '198.18.80.0/20'] };
    const input = gatewayInput({
      remotes: [gamma, beta],
      options: { ...gatewayInput().options, rootRoutes: ['198.18.192.0/18', 'bogus'] },
    });
    const s = skippedFor(input);
    assert.equal(
      s.get('podCIDR "198.18.56.0/21" of cluster "beta"'),
      'overlaps local podCIDR 198.18.48.0/20',
    );
    assert.match(
      s.get('podCIDR "198.18.1.0/24" of cluster "beta"')!,
      /contains tunnel endpoint 198\.18\.1\.2 .*loop/,
    );
    assert.match(s.get('podCIDR "fd00:2::/64" of cluster "beta"')!, /IPv6/);
    assert.equal(s.get('podCIDR "198.18.176.0/33" of cluster "beta"'), 'not a CIDR');
    assert.match(s.get('podCIDR "0.0.0.0/0" of cluster "beta"')!, /default route/);
    assert.equal(
      s.get('serviceCIDR "198.18.202.0/24" of cluster "beta"'),
      'overlaps host route 198.18.192.0/18, which mcgw must not override',
    );
    assert.equal(
      s.get('serviceCIDR "198.19.200.0/24" of cluster "beta"'),
      `overlaps the inner CIDR ${INNER}`,
    );
    assert.equal(
      s.get('podCIDR "198.18.72.0/21" of cluster "gamma"'),
      'overlaps podCIDR 198.18.64.0/20 of cluster "beta", whose cluster ID sorts first and wins',
    );
    assert.equal(s.get('root route "bogus"'), 'not a CIDR; ignored');
    const p = plan(input);
    // 198.18.64.5/20 is beta's 198.18.64.0/20 again, spelled with host bits: one route.
    assert.deepEqual(
      p.desired.routes.map((r) => r.dst),
      ['198.18.64.0/20', '198.18.80.0/20', '198.19.3.0/24'],
    );
  });

  void it('the first cluster by ID wins an overlap whatever the order of exports', () => {
    const delta: ClusterExport = {
      ...BETA,
      clusterID: 'delta',
      gateways: [],
      podCIDRs: ['198.18.64.0/19'],
      serviceCIDRs: [],
    };
    const a = plan(gatewayInput({ remotes: [delta, BETA] }));
    const b = plan(gatewayInput({ remotes: [BETA, delta] }));
    assert.deepEqual(a, b);
    assert.ok(a.skipped.some((s) => s.what === 'podCIDR "198.18.64.0/19" of cluster "delta"'));
  });

  void it('a cluster with no usable gateway still claims its CIDRs, as unreachable routes', () => {
    const beta: ClusterExport = {
      ...BETA,
      gateways: [{ node: 'b-gw1', priority: 100, gatewayIP: '0.0.0.0', internalIP: '198.18.32.2' }],
    };
    const p = plan(gatewayInput({ remotes: [beta] }));
    assert.equal(routeTo(p.desired.routes, '198.18.64.0/20').type, 'unreachable');
  });

  void it('skips whole exports with bad or duplicate cluster IDs or tunnels', () => {
    const s = skippedFor(
      gatewayInput({
        remotes: [
          { ...BETA, clusterID: 'alpha' },
          { ...BETA, clusterID: 'Bad ID' },
          { ...GAMMA, clusterID: 'dup' },
          { ...GAMMA, clusterID: 'dup' },
          { ...BETA, clusterID: 'eps', tunnel: { port: 0, vni: 1 } },
          { ...BETA, clusterID: 'zeta', mode: 'Sideways' as never },
        ],
      }),
    );
    assert.equal(s.get('export of cluster "alpha"'), 'it claims the local cluster ID');
    assert.match(s.get('export of cluster "Bad ID"')!, /DNS subdomain/);
    assert.match(s.get('export of cluster "dup"')!, /more than once/);
    assert.match(s.get('export of cluster "eps"')!, /tunnel port 0/);
    assert.match(s.get('mode of cluster "zeta"')!, /unknown mode "Sideways"; ActiveStandby is used/);
  });

  void it('throws on bad options or a bad self, rather than planning an empty state', () => {
    const bad: Partial<PlanInput>[] = [
      { options: { vxlanPort: 0, vni: 1, innerCIDR: INNER } },
      { options: { vxlanPort: 4789, vni: 1 << 24, innerCIDR: INNER } },
      { options: { vxlanPort: 4789, vni: 5, internalVni: 5, innerCIDR: INNER } },
      { options: { vxlanPort: 4789, vni: 5, innerCIDR: 'fd00::/64' } },
      { options: { vxlanPort: 4789, vni: 5, innerCIDR: '198.19.0.0/28' } },
      { self: { node: 'n', cluster: 'alpha', isGateway: false, internalIP: '127.0.0.1' } },
      { self: { node: 'N!', cluster: 'alpha', isGateway: false, internalIP: '198.18.32.1' } },
    ];
    for (const over of bad)
      assert.throws(() => planDatapath(workerInput(over)), TypeError, JSON.stringify(over));
  });
});

void describe('inner addressing', () => {
  const layout = innerLayout(INNER);

  void it('gives a /17 room for 2048 clusters of 16 gateways', () => {
    assert.deepEqual(layout, { base: ((198 << 24) >>> 0) + (19 << 16) + (128 << 8), clusterSlots: 2048 });
  });

  void it('keeps survivors’ addresses when a gateway is replaced at the next lower priority', () => {
    const before = plan(gatewayInput());
    const replaced: ClusterExport = {
      ...BETA,
      gateways: [
        BETA.gateways[1]!,
        { node: 'b-gw3', priority: 98, gatewayIP: '198.18.1.4', internalIP: '198.18.32.4' },
      ],
    };
    const after = plan(
      gatewayInput({ remotes: [replaced, GAMMA], liveness: alive('beta/b-gw2', 'beta/b-gw3') }),
    );
    const inner = (p: typeof before, key: string): string | undefined =>
      p.peers.find((x) => x.key === key)?.inner;
    assert.equal(inner(after, 'beta/b-gw2'), inner(before, 'beta/b-gw2'));
    assert.equal(inner(after, 'beta/b-gw3'), '198.19.204.114');
  });

  void it('does not move a cluster when another joins, unless their hashes collide', () => {
    const a = clusterSlots(['alpha', 'beta', 'gamma'], layout);
    const b = clusterSlots(['alpha', 'beta', 'gamma', 'delta', 'aaa'], layout);
    for (const id of ['alpha', 'beta', 'gamma']) assert.equal(b.get(id), a.get(id));
    assert.equal(a.get('alpha'), fnv1a32('alpha') % 2048);
  });

  void it('resolves hash collisions deterministically, the first ID keeping its slot', () => {
    const want = fnv1a32('beta') % 2048;
    let other = '';
    for (let i = 0; other === ''; i++) if (fnv1a32(`c${i}`) % 2048 === want) other = `c${i}`;
    const slots = clusterSlots([other, 'beta'], layout);
    const [first, second] = ['beta', other].sort() as [string, string];
    assert.equal(slots.get(first), want);
    assert.equal(slots.get(second), (want + 1) % 2048);
    assert.deepEqual(clusterSlots(['beta', other], layout), slots);
  });

  void it('caps a cluster at 16 gateways and probes past priorities equal mod 16', () => {
    const gws = Array.from({ length: 18 }, (_, i) => ({
      node: `g${String(i).padStart(2, '0')}`,
      priority: 100 - (i % 2) * 16, // 100 and 84 share slot 4
      gatewayIP: `198.18.9.${i + 1}`,
      internalIP: `198.18.32.${i + 1}`,
    }));
    const s = gatewaySlots(gws);
    assert.equal(s.slotted.length, 16);
    assert.equal(new Set(s.slotted.map((x) => x.slot)).size, 16);
    assert.equal(s.slotted[0]!.slot, 4);
    assert.deepEqual(
      s.rejected.map((r) => r.gateway.node),
      ['g15', 'g17'],
    );
  });
});
