import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planDatapath } from '../../src/datapath/plan.ts';
import { diffState } from '../../src/datapath/diff.ts';
import { renderBatches } from '../../src/datapath/render.ts';
import type {
  ClusterExport,
  DesiredState,
  ExportedGateway,
  Mode,
  ObservedState,
  PlanInput,
} from '../../src/datapath/types.ts';
import { INNER, applyAll, assertMatches, normalize, validatePlan } from './fixtures.ts';

// Small pools, so that names, addresses and CIDRs collide now and then; mostly good values, so
// that most plans still route something.
const CLUSTERS = ['alpha', 'beta', 'gamma', 'delta', 'eps'];
const NODES = ['n0', 'n1', 'n2', 'n3', 'n4'];
const BAD_IPS = ['127.0.0.1', '0.0.0.0', 'nope', '2001:db8::1', '224.0.0.1', '198.018.0.1'];
const INTERNAL_IPS = ['198.18.32.1', '198.18.32.2', '198.18.32.3', '198.18.32.4', '198.18.32.5'];
const LOCAL_CIDRS = ['198.18.48.0/20', '198.19.1.0/24'];
const REMOTE_CIDRS = [
  '198.18.64.0/20',
  '198.18.72.0/21',
  '198.18.80.0/20',
  '198.18.96.5/20',
  '198.18.112.0/20',
  '198.19.2.0/24',
  '198.19.3.0/24',
  '198.19.64.0/18',
  '198.18.199.0/24',
];
const BAD_CIDRS = [
  'bad',
  'fd00::/64',
  '0.0.0.0/0',
  '198.18.32.0/19',
  '198.18.0.0/16',
  '198.19.200.0/24',
  '198.18.48.0/20',
];
const ROOT_ROUTES = ['198.18.192.0/18', '198.18.80.0/20', 'garbage', '198.19.64.0/20'];
const MODES: Mode[] = ['ActiveStandby', 'ActiveActive'];

const mostly = <T>(good: T[], bad: T[], odds = 8): fc.Arbitrary<T> =>
  fc.oneof(
    { weight: odds, arbitrary: fc.constantFrom(...good) },
    { weight: 1, arbitrary: fc.constantFrom(...bad) },
  );

// Each cluster has its own underlay range; 198.18.9.9 is shared, to exercise duplicates.
const gatewayArb = (c: number): fc.Arbitrary<ExportedGateway> =>
  fc
    .record({
      node: mostly(NODES, ['Bad_Node', ''], 20),
      priority: mostly([100, 99, 98, 97, 84, 1], [0, 1001, 2.5], 20),
      gatewayIP: mostly(
        [1, 2, 3, 4].map((h) => `198.18.${c}.${h}`),
        [...BAD_IPS, '198.18.9.9'],
        10,
      ),
      internalIP: mostly(INTERNAL_IPS, BAD_IPS, 20),
      draining: fc.constantFrom(undefined, undefined, undefined, false, true),
    })
    .map(({ draining, ...g }) => ({ ...g, ...(draining !== undefined && { draining }) }));

// Mostly distinct node names, as real exports have; sometimes a duplicate.
const gatewaysArb = (c: number): fc.Arbitrary<ExportedGateway[]> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(gatewayArb(c), { selector: (g) => g.node, maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(gatewayArb(c), { maxLength: 4 }) },
  );

const cidrsArb = (good: string[]): fc.Arbitrary<string[]> =>
  fc.array(mostly(good, BAD_CIDRS, 6), { maxLength: 3 });

const exportArb = (clusterID: string): fc.Arbitrary<ClusterExport> =>
  fc
    .record({
      gateways: gatewaysArb(CLUSTERS.indexOf(clusterID) + 1),
      podCIDRs: cidrsArb(REMOTE_CIDRS),
      serviceCIDRs: cidrsArb(REMOTE_CIDRS),
      port: mostly([4789, 4790], [0], 20),
      vni: mostly([4242, 77], [1 << 24], 20),
      mode: fc.constantFrom<Mode | undefined>('ActiveStandby', 'ActiveActive', undefined),
    })
    .map((r) => ({
      clusterID,
      gateways: r.gateways,
      podCIDRs: r.podCIDRs,
      serviceCIDRs: r.serviceCIDRs,
      tunnel: { port: r.port, vni: r.vni },
      ...(r.mode ? { mode: r.mode } : {}),
    }));

const ALL_KEYS = CLUSTERS.flatMap((c) => NODES.map((n) => `${c}/${n}`));

const baseArb = fc
  .record({
    cluster: fc.constantFrom(...CLUSTERS),
    ids: fc.uniqueArray(mostly(CLUSTERS, ['BAD']), { minLength: 1, maxLength: 4 }),
    isGateway: fc.boolean(),
    node: fc.constantFrom(...NODES, 'w0'),
    gatewayIP: fc.option(fc.constantFrom('198.18.0.1', '198.18.0.2'), { nil: undefined }),
    internalIP: fc.constantFrom(...INTERNAL_IPS, '198.18.41.9'),
    localGateways: gatewaysArb(0),
    localMode: fc.constantFrom(...MODES),
    localPods: cidrsArb(LOCAL_CIDRS),
    localServices: cidrsArb(LOCAL_CIDRS),
    roots: fc.subarray(ROOT_ROUTES),
  })
  .chain((r) => fc.tuple(fc.constant(r), fc.tuple(...r.ids.map((id) => exportArb(id)))));

// Liveness for every gateway the input names (mostly up), plus a stray key.
const inputArb: fc.Arbitrary<PlanInput> = baseArb.chain(([r, remotes]) => {
  const keys = [
    ...r.localGateways.map((g) => `${r.cluster}/${g.node}`),
    ...remotes.flatMap((x) => x.gateways.map((g) => `${x.clusterID}/${g.node}`)),
    'eps/n4',
  ];
  const verdicts = fc.tuple(...keys.map(() => fc.constantFrom(true, true, true, false, undefined)));
  return verdicts.map((vs): PlanInput => {
    // A Gateway Node is usually one of the local gateways.
    const first = r.localGateways[0]?.node;
    const node = r.isGateway && first !== undefined && r.node !== 'w0' ? first : r.node;
    const liveness = new Map<string, boolean>();
    keys.forEach((k, i) => {
      const v = vs[i];
      if (v !== undefined) liveness.set(k, v);
    });
    return {
      self: {
        node: node === '' || node === 'Bad_Node' ? 'w0' : node,
        cluster: r.cluster,
        isGateway: r.isGateway,
        internalIP: r.internalIP,
        ...(r.gatewayIP !== undefined ? { gatewayIP: r.gatewayIP } : {}),
      },
      local: {
        gateways: r.localGateways,
        mode: r.localMode,
        podCIDRs: r.localPods,
        serviceCIDRs: r.localServices,
      },
      remotes,
      liveness,
      options: { vxlanPort: 4789, vni: 4242, innerCIDR: INNER, rootRoutes: r.roots },
    };
  });
});

/** The same input with every list in another order. */
function shuffled(input: PlanInput, seed: number): PlanInput {
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const sh = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  return {
    ...input,
    local: { ...input.local, gateways: sh(input.local.gateways) },
    remotes: sh(input.remotes).map((r) => ({ ...r, gateways: sh(r.gateways) })),
    liveness: new Map(sh([...input.liveness])),
  };
}

const RUNS = 300;

/** The input without any drain marks. */
function undrained(input: PlanInput): PlanInput {
  const strip = (gs: readonly ExportedGateway[]) => gs.map(({ draining: _d, ...g }) => g);
  return {
    ...input,
    local: { ...input.local, gateways: strip(input.local.gateways) },
    remotes: input.remotes.map((r) => ({ ...r, gateways: strip(r.gateways) })),
  };
}

void describe('planDatapath properties', () => {
  void it('a draining gateway is routed through only when its cluster has no living one that is not draining', () => {
    // Equivalently: the plan is the one without drain marks in which a draining gateway is dead
    // wherever a living gateway of its cluster is not draining, and unchanged elsewhere.
    let compared = 0;
    fc.assert(
      fc.property(inputArb, (input) => {
        const p = planDatapath(input);
        const keys = p.peers.map((x) => x.key);
        if (new Set(keys).size !== keys.length) return; // duplicate node names share one verdict
        const live = new Map(input.liveness);
        for (const cluster of new Set(p.peers.map((x) => x.cluster))) {
          const peers = p.peers.filter((x) => x.cluster === cluster);
          if (!peers.some((x) => !x.draining && input.liveness.get(x.key) === true)) continue;
          for (const x of peers) if (x.draining) live.set(x.key, false);
        }
        const q = planDatapath({ ...undrained(input), liveness: live });
        assert.deepEqual(p.desired, q.desired);
        assert.deepEqual(p.skipped, q.skipped);
        assert.deepEqual(
          p.peers.map(({ draining: _d, ...x }) => x),
          q.peers.map(({ draining: _d, ...x }) => x),
          'a drain never changes who is tunnelled to (BFD keeps running to a draining gateway)',
        );
        if (p.peers.some((x) => x.draining)) compared++;
      }),
      { numRuns: RUNS },
    );
    assert.ok(compared > RUNS / 10, `only ${compared} inputs had a draining peer`);
  });

  void it('a demoted gateway is routed through only when its cluster has no living sound one', () => {
    // Equivalently: the plan without demotions in which a demoted gateway is dead wherever a living
    // gateway of its cluster is not demoted, and unchanged elsewhere (then all living ones are).
    let compared = 0;
    fc.assert(
      fc.property(
        inputArb.chain((i) => fc.tuple(fc.constant(i), fc.subarray([...i.liveness.keys()]))),
        ([input, picked]) => {
          const demoted = new Set(picked);
          const p = planDatapath({ ...input, demoted });
          const keys = p.peers.map((x) => x.key);
          if (new Set(keys).size !== keys.length) return; // duplicate node names share one verdict
          const live = new Map(input.liveness);
          for (const cluster of new Set(p.peers.map((x) => x.cluster))) {
            const peers = p.peers.filter((x) => x.cluster === cluster);
            if (!peers.some((x) => !demoted.has(x.key) && input.liveness.get(x.key) === true)) continue;
            for (const x of peers) if (demoted.has(x.key)) live.set(x.key, false);
          }
          const q = planDatapath({ ...input, liveness: live });
          assert.deepEqual(p.desired, q.desired);
          assert.deepEqual(p.peers, q.peers, 'a demotion never changes who is tunnelled to');
          if (p.peers.some((x) => demoted.has(x.key) && input.liveness.get(x.key) === true)) compared++;
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(compared > RUNS / 10, `only ${compared} inputs had a living demoted peer`);
  });

  void it('same input gives the same output, in whatever order the lists come', () => {
    fc.assert(
      fc.property(inputArb, fc.nat(), (input, seed) => {
        const p = planDatapath(input);
        assert.deepEqual(planDatapath(input), p);
        assert.deepEqual(planDatapath(shuffled(input, seed)), p);
      }),
      { numRuns: RUNS },
    );
  });

  void it('always passes the validator and renders without error', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const p = planDatapath(input);
        validatePlan(input, p);
        renderBatches(diffState({ links: [], addresses: [], fdb: [], neighbors: [], routes: [] }, p.desired));
      }),
      { numRuns: RUNS },
    );
  });

  void it('a liveness change of one gateway changes only routes whose nexthops involve it', () => {
    fc.assert(
      fc.property(
        inputArb,
        fc.constantFrom(...ALL_KEYS),
        fc.constantFrom(true, false, undefined),
        (input, key, v) => {
          const live = new Map(input.liveness);
          if (v === undefined) live.delete(key);
          else live.set(key, v);
          const a = planDatapath(input);
          const b = planDatapath({ ...input, liveness: live });
          const { routes: ra, ...restA } = a.desired;
          const { routes: rb, ...restB } = b.desired;
          assert.deepEqual(restB, restA);
          assert.deepEqual(b.skipped, a.skipped);
          assert.deepEqual(b.peers, a.peers);
          const inner = a.peers.find((p) => p.key === key)?.inner;
          assert.deepEqual(
            rb.map((r) => r.dst),
            ra.map((r) => r.dst),
          );
          ra.forEach((before, i) => {
            const after = rb[i]!;
            if (JSON.stringify(before) === JSON.stringify(after)) return;
            const involved = [...before.nexthops, ...after.nexthops].some((n) => n.via === inner);
            assert.ok(involved, `${before.dst} changed though ${key} is not among its nexthops`);
          });
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---- diff ----

const FOREIGN: ObservedState = {
  links: [{ name: 'eth0', kind: 'device', vni: 0, port: 0, local: '', learning: false, up: true }],
  addresses: [
    { dev: 'eth0', address: '198.18.32.1/24' },
    { dev: 'eth0', address: 'fe80::1/64' },
  ],
  fdb: [],
  neighbors: [{ dev: 'eth0', address: '198.18.32.254', mac: '52:54:00:00:00:01' }],
  routes: [
    {
      dst: '0.0.0.0/0',
      protocol: 3,
      type: 'unicast',
      nexthops: [{ via: '198.18.32.254', dev: 'eth0', weight: 1 }],
    },
    {
      dst: '198.18.32.0/24',
      protocol: 2,
      type: 'unicast',
      nexthops: [{ via: '198.18.32.1', dev: 'eth0', weight: 1 }],
    },
  ],
};

interface Junk {
  staleRoute: boolean;
  oldLink: boolean;
  wrongVni: boolean;
  linkDown: boolean;
  wrongMac: boolean;
  strayNeighbor: boolean;
  linkLocal: boolean;
}

/** A kernel state near `d`: planned state plus foreign objects and leftovers of earlier runs. */
function messUp(d: DesiredState, j: Junk): ObservedState {
  const s = {
    links: [...FOREIGN.links, ...d.links.map((l) => ({ ...l }))],
    addresses: [...FOREIGN.addresses, ...d.addresses],
    fdb: [...FOREIGN.fdb, ...d.fdb],
    neighbors: [...FOREIGN.neighbors, ...d.neighbors],
    routes: [...FOREIGN.routes, ...d.routes],
  };
  const first = s.links.find((l) => l.name.startsWith('mcgw-'))!;
  if (j.wrongVni) first.vni = 5000;
  if (j.linkDown) {
    // What the kernel keeps of a down link: no neighbors, no routes through it.
    first.up = false;
    s.neighbors = s.neighbors.filter((n) => n.dev !== first.name);
    s.routes = s.routes.filter((r) => !r.nexthops.some((n) => n.dev === first.name));
  }
  if (j.wrongMac) first.mac = '02:00:00:00:00:99';
  if (j.staleRoute && first.up) {
    s.routes.push({
      dst: '198.18.160.0/20',
      protocol: 250,
      type: 'unicast',
      nexthops: [{ via: '198.19.255.1', dev: first.name, weight: 1 }],
    });
  }
  if (j.strayNeighbor)
    s.neighbors.push({ dev: first.name, address: '198.19.255.1', mac: '02:6d:c6:13:ff:01' });
  if (j.linkLocal) s.addresses.push({ dev: first.name, address: 'fe80::6d:1/64' });
  if (j.oldLink && first.up) {
    s.links.push({
      name: 'mcgw-old',
      kind: 'vxlan',
      vni: 9999,
      port: 4789,
      local: '198.18.32.1',
      learning: false,
      up: true,
    });
    s.fdb.push({ dev: 'mcgw-old', mac: '00:00:00:00:00:00', dst: '198.18.9.9' });
    s.routes.push({
      dst: '198.18.176.0/20',
      protocol: 250,
      type: 'unicast',
      nexthops: [
        { via: '198.19.255.2', dev: 'mcgw-old', weight: 1 },
        { via: '198.19.255.1', dev: first.name, weight: 1 },
      ],
    });
  }
  return s;
}

const junkArb: fc.Arbitrary<Junk> = fc.record({
  staleRoute: fc.boolean(),
  oldLink: fc.boolean(),
  wrongVni: fc.boolean(),
  linkDown: fc.boolean(),
  wrongMac: fc.boolean(),
  strayNeighbor: fc.boolean(),
  linkLocal: fc.boolean(),
});

void describe('diffState properties', () => {
  void it('diff(desired, desired) is empty, with or without foreign objects', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const d = planDatapath(input).desired;
        assert.deepEqual(diffState(d, d), []);
        assert.deepEqual(diffState(messUp(d, {} as Junk), d), []);
      }),
      { numRuns: RUNS },
    );
  });

  void it('applying diff(a→b) to a gives b, leaves foreign objects alone, and converges', () => {
    fc.assert(
      fc.property(inputArb, inputArb, junkArb, (ia, ib, junk) => {
        const a = messUp(planDatapath(ia).desired, junk);
        const b = planDatapath(ib).desired;
        const changes = diffState(a, b);
        const k = applyAll(a, changes); // throws on any out-of-order or foreign change
        assertMatches(k, b);
        assert.deepEqual(normalize(k, 'foreign'), normalize(a, 'foreign'));
        assert.deepEqual(diffState(k, b), []);
      }),
      { numRuns: RUNS },
    );
  });
});
