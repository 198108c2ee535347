// Building the `mcgw status` document from objects: failover pairing, Lease ages, sorting, nulls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  ClusterExport,
  ClusterGateway,
  ClusterImport,
  ClusterSetMember,
  GatewayPolicy,
  RemoteCluster,
} from '../../src/api/types.ts';
import { buildLeaderReport, buildMemberReport, failovers } from '../../src/status/report.ts';
import type { EventLike, LeaseLike } from '../../src/status/report.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
/** Event times as the apiserver serves them: whole seconds. */
const sec = (s: number) =>
  new Date(Math.floor((T0 + s * 1000) / 1000) * 1000).toISOString().replace('.000', '');

let rv = 100;
function ev(reason: string, node: string, s: number, kind = 'GatewayPolicy'): EventLike {
  const message =
    reason === 'Placed'
      ? `Placed Gateway instance on node ${node} (zone z, gatewayIP 198.18.0.1, priority 10)`
      : `Removed Gateway instance on node ${node}: because`;
  return {
    metadata: { resourceVersion: String(rv++), creationTimestamp: sec(s) },
    involvedObject: { kind, name: 'default' },
    reason,
    message,
    firstTimestamp: sec(s),
    lastTimestamp: sec(s),
  };
}
const lease = (node: string, s: number): LeaseLike => ({
  metadata: { name: `gateway-${node}`, namespace: 'mcgw-system', labels: { 'mcgw.io/node': node } },
  spec: { renewTime: new Date(T0 + s * 1000).toISOString().replace('Z', '000Z'), holderIdentity: node },
});

test('a failure replaced in the same pass (placed just before the removal) pairs with that placement', () => {
  const events = [
    ev('Placed', 'n1', 0),
    ev('Placed', 'n2', 0),
    // one pass: make before break
    ev('Placed', 'n3', 10.2),
    ev('RemovedLeaseExpired', 'n1', 10.2),
  ];
  const f = failovers(events, [lease('n1', 8.6), lease('n3', 10.5)]);
  assert.equal(f.length, 1);
  assert.deepEqual(f[0], {
    node: 'n1',
    reason: 'LeaseExpired',
    removedAt: at(10),
    message: 'Removed Gateway instance on node n1: because',
    leaseLastRenewed: at(8.6),
    leaseSilentSeconds: 1.9, // removed during second 10: 10.5 - 8.6
    replacement: 'n3',
    placedAt: at(10),
    replacementDelaySeconds: 0,
  });
});

test('a pass across a second boundary still pairs, and the delay is never negative', () => {
  const f = failovers(
    [ev('Placed', 'n1', 0), ev('Placed', 'n3', 20.999), ev('RemovedNodeNotReady', 'n1', 21.001)],
    [],
  );
  assert.equal(f[0]!.replacement, 'n3');
  assert.equal(f[0]!.reason, 'NodeNotReady');
  assert.equal(f[0]!.replacementDelaySeconds, 0);
  assert.equal(f[0]!.leaseLastRenewed, null);
});

test('no candidate at removal time: paired with the next placement, and the delay measured', () => {
  const f = failovers(
    [
      ev('Placed', 'n1', 0),
      ev('Placed', 'n2', 0),
      ev('RemovedLeaseExpired', 'n1', 30),
      ev('Placed', 'n4', 95),
    ],
    [],
  );
  assert.equal(f[0]!.replacement, 'n4');
  assert.equal(f[0]!.replacementDelaySeconds, 65);
});

test('no replacement yet', () => {
  const f = failovers([ev('Placed', 'n1', 0), ev('RemovedLeaseExpired', 'n1', 30)], []);
  assert.equal(f[0]!.replacement, null);
  assert.equal(f[0]!.placedAt, null);
  assert.equal(f[0]!.replacementDelaySeconds, null);
});

test('two failures in one pass take the two placements of that pass, in order', () => {
  const f = failovers(
    [
      ev('Placed', 'n1', 0),
      ev('Placed', 'n2', 0),
      ev('Placed', 'n3', 40),
      ev('Placed', 'n4', 40),
      ev('RemovedLeaseExpired', 'n1', 40),
      ev('RemovedNodeNotReady', 'n2', 40),
    ],
    [],
  );
  // newest first
  assert.deepEqual(
    f.map((x) => [x.node, x.replacement]),
    [
      ['n2', 'n4'],
      ['n1', 'n3'],
    ],
  );
});

test('a drain in the same pass claims its own placement; scale-down and other objects are ignored', () => {
  const f = failovers(
    [
      ev('Placed', 'n1', 0),
      ev('Placed', 'n2', 0),
      ev('Placed', 'n5', 50, 'Node'), // not about the policy
      ev('Placed', 'n3', 60),
      ev('RemovedDraining', 'n2', 60),
      ev('RemovedScaledDown', 'n3', 70),
      ev('RemovedLeaseExpired', 'n1', 80),
      ev('Placed', 'n4', 81),
    ],
    [],
  );
  assert.equal(f.length, 1);
  assert.equal(f[0]!.node, 'n1');
  assert.equal(f[0]!.replacement, 'n4');
  assert.equal(f[0]!.replacementDelaySeconds, 1);
});

test('a Lease renewed after the removal is a later life of the Node, not its last renewal', () => {
  const f = failovers(
    [ev('Placed', 'n1', 0), ev('Placed', 'n2', 10), ev('RemovedLeaseExpired', 'n1', 10)],
    [lease('n1', 300)],
  );
  assert.equal(f[0]!.leaseLastRenewed, null);
  assert.equal(f[0]!.leaseSilentSeconds, null);
});

test('failovers are newest first and capped', () => {
  const events: EventLike[] = [];
  for (let i = 0; i < 15; i++) {
    events.push(ev('Placed', `r${i}`, 100 * i), ev('RemovedLeaseExpired', `f${i}`, 100 * i));
  }
  const f = failovers(events, []);
  assert.equal(f.length, 10);
  assert.equal(f[0]!.node, 'f14');
  assert.equal(f[0]!.replacement, 'r14');
  assert.equal(f[9]!.node, 'f5');
});

const gw = (node: string, priority: number, ready: boolean, role?: 'Active' | 'Standby'): ClusterGateway => ({
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'ClusterGateway',
  metadata: { name: node, creationTimestamp: sec(0) as unknown as Date },
  spec: {
    nodeName: node,
    gatewayIP: `198.18.0.${priority}`,
    internalIP: `198.18.1.${priority}`,
    priority,
    zone: 'z1',
  },
  status: {
    ...(role && { role }),
    conditions: [
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        reason: ready ? 'LeaseRenewed' : 'AwaitingLease',
        message: ready ? 'Lease is being renewed' : 'No renewal seen yet',
        lastTransitionTime: sec(1),
      },
    ],
  },
});
const pol = (name: string, created: number, status?: GatewayPolicy['status']): GatewayPolicy => ({
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'GatewayPolicy',
  metadata: { name, creationTimestamp: sec(created) as unknown as Date },
  spec: { desiredInstances: 3 },
  ...(status && { status }),
});

test('member report: gateways by priority with Lease ages, the oldest policy in effect, nulls for the unreadable', () => {
  const r = buildMemberReport({
    server: 'https://198.18.0.1:6443',
    now: T0 + 20_000,
    members: [],
    policies: [
      pol('newer', 5),
      pol('default', 1, {
        desiredInstances: 2,
        readyInstances: 1,
        lastPlacementTime: sec(2),
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'InstancesNotReady',
            message: '1 of 2',
            lastTransitionTime: sec(3),
          },
        ],
      }),
    ],
    gateways: [gw('b', 5, false, 'Standby'), gw('a', 9, true, 'Active'), gw('c', 5, true)],
    leases: [lease('a', 19.6), { metadata: { name: 'gateway-c' }, spec: { renewTime: at(17) } }],
    events: [],
  });
  assert.equal(r.mode, 'member');
  assert.equal(r.cluster, null);
  assert.equal(r.policy?.name, 'default');
  assert.deepEqual(r.policy?.ignored, ['newer']);
  assert.equal(r.policy?.mode, 'ActiveStandby');
  assert.equal(r.policy?.desired, 2);
  assert.equal(r.policy?.ready, 1);
  assert.equal(r.policy?.leaseDurationMs, 3000);
  assert.deepEqual(
    r.gateways?.map((g) => [g.node, g.role, g.ready, g.leaseAgeSeconds]),
    [
      ['a', 'Active', true, 0.4],
      ['b', 'Standby', false, null],
      ['c', null, true, 3], // a Lease without the label is found by its name
    ],
  );
  assert.equal(r.gateways?.[1]?.readyReason, 'AwaitingLease');
  assert.equal(r.remoteClusters, null);
  assert.deepEqual(r.failovers, []);
});

test('member report: a policy without status falls back to its spec and the defaults', () => {
  const r = buildMemberReport({ server: 's', now: T0, policies: [pol('p', 0)] });
  assert.equal(r.policy?.desired, 3);
  assert.equal(r.policy?.ready, null);
  assert.equal(r.policy?.lastPlacementTime, null);
  assert.deepEqual(r.policy?.conditions, []);
  assert.equal(r.gateways, null);
});

test('member report: the ClusterSetMember and remote clusters', () => {
  const member: ClusterSetMember = {
    apiVersion: 'mcgw.io/v1alpha1',
    kind: 'ClusterSetMember',
    metadata: { name: 'local' },
    spec: {
      clusterID: 'a',
      leader: { secretName: 's', namespace: 'mcgw-member-a' },
      podCIDRs: ['198.18.64.0/20'],
    },
    status: {
      importedClusters: 1,
      lastExportTime: sec(4),
      conditions: [
        {
          type: 'LeaderReachable',
          status: 'True',
          reason: 'Connected',
          message: 'the leader cluster answers',
          lastTransitionTime: sec(2),
        },
      ],
    },
  };
  const remote: RemoteCluster = {
    apiVersion: 'mcgw.io/v1alpha1',
    kind: 'RemoteCluster',
    metadata: { name: 'b' },
    spec: {
      clusterID: 'b',
      mode: 'ActiveActive',
      gateways: [
        { node: 'b1', gatewayIP: '198.18.2.1', internalIP: '198.18.2.1', priority: 2, ready: true },
        { node: 'b2', gatewayIP: '198.18.2.2', internalIP: '198.18.2.2', priority: 1, ready: false },
      ],
      podCIDRs: ['198.18.80.0/20'],
      serviceCIDRs: [],
      tunnel: {},
    },
    status: { state: 'Active', lastSeen: sec(5) },
  };
  const r = buildMemberReport({ server: 's', now: T0, members: [member], remotes: [remote] });
  assert.equal(r.cluster?.clusterID, 'a');
  assert.equal(r.cluster?.leaderReachable?.status, 'True');
  assert.equal(r.cluster?.exported, null);
  assert.equal(r.cluster?.importedClusters, 1);
  assert.deepEqual(r.cluster?.serviceCIDRs, []);
  assert.deepEqual(r.remoteClusters?.[0]?.gateways, [
    { node: 'b1', gatewayIP: '198.18.2.1', priority: 2, ready: true },
    { node: 'b2', gatewayIP: '198.18.2.2', priority: 1, ready: false },
  ]);
  assert.equal(r.remoteClusters?.[0]?.state, 'Active');
});

test('leader report: exports with Accepted and heartbeat age, imports with state', () => {
  const info = {
    mode: 'ActiveStandby' as const,
    gateways: [],
    podCIDRs: ['198.18.64.0/20'],
    serviceCIDRs: [],
    tunnel: {},
  };
  const exp = (ns: string, id: string, ok: boolean): ClusterExport => ({
    apiVersion: 'mcgw.io/v1alpha1',
    kind: 'ClusterExport',
    metadata: { name: id, namespace: ns },
    spec: { ...info, clusterID: id },
    status: {
      conditions: [
        {
          type: 'Accepted',
          status: ok ? 'True' : 'False',
          reason: ok ? 'Accepted' : 'Conflict',
          message: ok ? 'published' : 'overlaps',
          lastTransitionTime: sec(1),
        },
      ],
    },
  });
  const imp: ClusterImport = {
    apiVersion: 'mcgw.io/v1alpha1',
    kind: 'ClusterImport',
    metadata: {
      name: 'a',
      namespace: 'mcgw-clusterset',
      labels: { 'mcgw.io/source-namespace': 'mcgw-member-a' },
    },
    spec: { ...info, clusterID: 'a' },
    status: { state: 'Stale', lastSeen: sec(3) },
  };
  const r = buildLeaderReport({
    server: 's',
    now: T0 + 10_000,
    exports: [exp('mcgw-member-b', 'b', false), exp('mcgw-member-a', 'a', true)],
    imports: [imp],
    heartbeats: [
      { metadata: { name: 'mcgw-heartbeat', namespace: 'mcgw-member-a' }, spec: { renewTime: at(7.5) } },
      { metadata: { name: 'other', namespace: 'mcgw-member-b' }, spec: { renewTime: at(9) } },
    ],
  });
  assert.deepEqual(
    r.exports?.map((e) => [e.clusterID, e.accepted?.reason, e.heartbeatAgeSeconds]),
    [
      ['a', 'Accepted', 2.5],
      ['b', 'Conflict', null],
    ],
  );
  assert.equal(r.imports?.[0]?.state, 'Stale');
  assert.equal(r.imports?.[0]?.sourceNamespace, 'mcgw-member-a');
});
