// Printing the `mcgw status` document as text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, clock, duration, formatLeader, formatMember, table } from '../../src/status/format.ts';
import type { LeaderStatusReport, MemberStatusReport } from '../../src/status/types.ts';

const NOW = '2026-03-01T12:10:00.000Z';

const member: MemberStatusReport = {
  schemaVersion: 1,
  mode: 'member',
  collectedAt: NOW,
  server: 'https://198.18.0.1:6443',
  cluster: {
    name: 'local',
    clusterID: 'a',
    leaderNamespace: 'mcgw-member-a',
    leaderReachable: {
      type: 'LeaderReachable',
      status: 'False',
      reason: 'LeaderUnreachable',
      message: 'cannot reach the leader cluster (ECONNREFUSED); keeping the last imports',
      lastTransitionTime: '2026-03-01T12:09:00.000Z',
    },
    exported: null,
    importedClusters: 2,
    lastExportTime: '2026-03-01T12:05:00.000Z',
    podCIDRs: ['198.18.64.0/20'],
    serviceCIDRs: [],
  },
  policy: {
    name: 'default',
    mode: 'ActiveStandby',
    desired: 2,
    ready: 1,
    leaseDurationMs: 3000,
    lastPlacementTime: '2026-03-01T12:08:00.000Z',
    conditions: [
      {
        type: 'Ready',
        status: 'False',
        reason: 'InstancesNotReady',
        message: '1 of 2 placed instances renew their Lease',
        lastTransitionTime: '2026-03-01T12:08:00.000Z',
      },
    ],
    ignored: ['second'],
  },
  gateways: [
    {
      node: 'node-1',
      zone: 'zone-a',
      gatewayIP: '198.18.0.11',
      internalIP: '198.18.0.11',
      priority: 1000,
      role: 'Active',
      draining: false,
      ready: true,
      readyReason: 'LeaseRenewed',
      readyMessage: 'renewed',
      leaseRenewTime: '2026-03-01T12:09:59.600Z',
      leaseAgeSeconds: 0.4,
      createdAt: '2026-03-01T12:00:00.000Z',
      bfd: {
        at: '2026-03-01T12:09:59.600Z',
        peers: [
          {
            peer: 'b/b-gw1',
            address: '198.19.222.84',
            state: 'Up',
            txMs: 50,
            detectMs: 150,
            lastChange: '2026-03-01T12:08:00.000Z',
            diag: 'No Diagnostic',
          },
        ],
        nodes: { AdminDown: 0, Down: 1, Init: 0, Up: 3 },
      },
    },
    {
      node: 'n4',
      zone: null,
      gatewayIP: '198.18.0.14',
      internalIP: '198.18.0.14',
      priority: 999,
      role: 'Standby',
      draining: true,
      ready: false,
      readyReason: 'AwaitingLease',
      readyMessage: 'no renewal yet',
      leaseRenewTime: null,
      leaseAgeSeconds: null,
      createdAt: '2026-03-01T12:08:00.000Z',
      bfd: null,
    },
  ],
  remoteClusters: [
    {
      clusterID: 'b',
      mode: 'ActiveActive',
      gateways: [
        { node: 'b1', gatewayIP: '198.18.2.1', priority: 2, ready: true },
        { node: 'b2', gatewayIP: '198.18.2.2', priority: 1, ready: false },
      ],
      podCIDRs: ['198.18.80.0/20'],
      serviceCIDRs: ['198.19.10.0/24'],
      state: 'Active',
      lastSeen: '2026-03-01T12:09:58.000Z',
    },
  ],
  failovers: [
    {
      node: 'n2',
      reason: 'LeaseExpired',
      removedAt: '2026-03-01T12:08:00.000Z',
      message: 'Removed Gateway instance on node n2: its gateway Lease was not renewed for 3000 ms',
      leaseLastRenewed: '2026-03-01T12:07:56.700Z',
      leaseSilentSeconds: 3.3,
      replacement: 'n4',
      placedAt: '2026-03-01T12:08:00.000Z',
      replacementDelaySeconds: 0,
    },
  ],
  problems: [],
};

test('durations and times are short and relative to the collection time', () => {
  assert.equal(duration(0.44), '0.4s');
  assert.equal(duration(-3), '0s');
  assert.equal(duration(42.4), '42s');
  assert.equal(duration(312), '5m12s');
  assert.equal(duration(3 * 3600 + 5 * 60), '3h05m');
  assert.equal(duration(2 * 86400 + 3 * 3600), '2d03h');
  assert.equal(clock('2026-03-01T12:08:00.000Z', NOW), '12:08:00Z');
  assert.equal(clock('2026-02-27T23:00:01.000Z', NOW), '2026-02-27 23:00:01Z');
  assert.equal(ago('2026-03-01T12:05:00.000Z', NOW), '12:05:00Z (5m00s ago)');
  assert.equal(ago(null, NOW), '-');
});

test('tables align their columns and drop trailing spaces', () => {
  assert.deepEqual(
    table(
      ['A', 'LONGER'],
      [
        ['x', 'y'],
        ['wide cell', ''],
      ],
    ),
    ['  A          LONGER', '  x          y', '  wide cell'],
  );
});

test('member tables: every section, with the Gateways in a table', () => {
  const text = formatMember(member);
  const lines = text.split('\n');
  assert.equal(lines[0], 'mcgw status: member cluster a, apiserver https://198.18.0.1:6443, 12:10:00Z');
  assert.match(text, /cluster ID a \(ClusterSetMember local\), leader namespace mcgw-member-a/);
  assert.match(text, /2 imported clusters, last export 12:05:00Z \(5m00s ago\)/);
  assert.match(text, /LeaderReachable {2}False {3}LeaderUnreachable {2}cannot reach the leader cluster/);
  assert.match(
    text,
    /GatewayPolicy default: ActiveStandby, 2 desired, 1 ready, Lease 3000 ms, last placement 12:08:00Z \(2m00s ago\)/,
  );
  assert.match(text, /ignored \(only the oldest policy is honoured\): second/);
  const header = lines.find((l) => l.startsWith('  NODE'))!;
  const row1 = lines.find((l) => l.startsWith('  node-1'))!;
  const row2 = lines.find((l) => l.startsWith('  n4'))!;
  for (const col of ['ROLE', 'PRIORITY', 'READY', 'LEASE AGE']) {
    const i = header.indexOf(col);
    assert.ok(i > 0, col);
    assert.notEqual(row1[i], ' ', `${col} column aligned`);
    assert.notEqual(row2[i], ' ', `${col} column aligned`);
  }
  assert.match(row1, /Active {13}1000 {6}True {19}0\.4s$/);
  assert.match(
    row2,
    /- {7}198\.18\.0\.14 .* Standby, draining {2}999 {7}False \(AwaitingLease\) {2}no Lease$/,
  );
  assert.match(
    text,
    / {2}b +ActiveActive +1\/2 ready +198\.18\.2\.1,198\.18\.2\.2 +198\.18\.80\.0\/20 +198\.19\.10\.0\/24 +Active +12:09:58Z \(2s ago\)$/m,
  );
  assert.match(text, /BFD sessions \(as each Gateway agent last published them on its Lease\)/);
  assert.match(text, /node-1 +b\/b-gw1 +Up +50 ms +150 ms +12:08:00Z \(2m00s ago\) +No Diagnostic/);
  assert.match(text, /node-1 +local Nodes +1 Down, 3 Up +- +- +- +as of 12:09:59Z/);
  assert.doesNotMatch(text, /n4 +local Nodes/, 'a Gateway without a summary has no BFD rows');
  assert.match(text, /Recent failovers/);
  const f = lines.find((l) => l.includes('LeaseExpired'))!;
  assert.match(f, /^ {2}12:08:00Z \(2m00s ago\) +n2 +LeaseExpired +~3\.3s +n4 +12:08:00Z +0s$/);
  assert.doesNotMatch(text, /Problems/);
  assert.ok(text.endsWith('\n'));
});

test('member tables: empty, missing and unreadable sections say so', () => {
  const text = formatMember({
    ...member,
    cluster: null,
    policy: null,
    gateways: [],
    remoteClusters: null,
    failovers: [],
    problems: ['your identity "u" may not list remoteclusters.mcgw.io (cluster-wide); grant it list'],
  });
  assert.match(text, /^mcgw status: member cluster, apiserver/);
  assert.match(text, /not a ClusterSet member: no ClusterSetMember in this cluster/);
  assert.match(text, /none: create a GatewayPolicy/);
  assert.match(text, /Gateways \(0\)\n {2}none placed/);
  assert.match(text, /Remote clusters\n {2}could not be read \(see Problems below\)/);
  assert.match(text, /none in the Events the apiserver keeps/);
  assert.match(text, /Problems\n {2}- your identity "u" may not list remoteclusters\.mcgw\.io/);
});

test('leader tables: exports with acceptance and the reason of a refusal, imports with state', () => {
  const r: LeaderStatusReport = {
    schemaVersion: 1,
    mode: 'leader',
    collectedAt: NOW,
    server: 'https://198.18.0.9:6443',
    exports: [
      {
        namespace: 'mcgw-member-a',
        clusterID: 'a',
        mode: 'ActiveStandby',
        gateways: [{ node: 'a1', gatewayIP: '198.18.1.1', priority: 1, ready: true }],
        podCIDRs: ['198.18.64.0/20'],
        serviceCIDRs: [],
        accepted: {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: 'published as ClusterImport a',
          lastTransitionTime: NOW,
        },
        heartbeatRenewTime: '2026-03-01T12:09:59.000Z',
        heartbeatAgeSeconds: 1,
      },
      {
        namespace: 'mcgw-member-x',
        clusterID: 'x',
        mode: 'ActiveStandby',
        gateways: [],
        podCIDRs: ['198.18.64.0/24'],
        serviceCIDRs: [],
        accepted: {
          type: 'Accepted',
          status: 'False',
          reason: 'Conflict',
          message: 'pod CIDR 198.18.64.0/24 of member x overlaps pod CIDR 198.18.64.0/20 of member a',
          lastTransitionTime: NOW,
        },
        heartbeatRenewTime: null,
        heartbeatAgeSeconds: null,
      },
    ],
    imports: [
      {
        clusterID: 'a',
        sourceNamespace: 'mcgw-member-a',
        mode: 'ActiveStandby',
        gateways: [{ node: 'a1', gatewayIP: '198.18.1.1', priority: 1, ready: true }],
        podCIDRs: ['198.18.64.0/20'],
        serviceCIDRs: [],
        state: 'Active',
        lastSeen: '2026-03-01T12:09:59.000Z',
      },
    ],
    problems: [],
  };
  const text = formatLeader(r);
  assert.match(text, /^mcgw status: leader cluster, apiserver https:\/\/198\.18\.0\.9:6443, 12:10:00Z/);
  assert.match(text, /mcgw-member-a {2}a {8}ActiveStandby {2}1\/1 ready .* True \(Accepted\) {3}1s ago/);
  assert.match(text, /False \(Conflict\) +-$/m);
  assert.match(text, /mcgw-member-x\/x refused: pod CIDR 198\.18\.64\.0\/24 of member x overlaps/);
  assert.match(
    text,
    /ClusterImports \(1\)\n {2}CLUSTER .*\n {2}a {8}mcgw-member-a .* Active {2}12:09:59Z \(1s ago\)/,
  );
});
