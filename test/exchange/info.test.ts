import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  ClusterGateway,
  ClusterImport,
  ClusterInfo,
  ClusterSetMember,
  RemoteCluster,
} from '../../src/api/types.ts';
import { buildClusterInfo, planRemotes } from '../../src/exchange/info.ts';

const member: ClusterSetMember = {
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'ClusterSetMember',
  metadata: { name: 'local' },
  spec: {
    clusterID: 'a',
    leader: { secretName: 's', namespace: 'mcgw-member-a' },
    podCIDRs: ['198.18.64.0/20'],
  },
};
const gw = (node: string, priority: number, ready: boolean): ClusterGateway => ({
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'ClusterGateway',
  metadata: { name: node },
  spec: { nodeName: node, gatewayIP: '198.18.0.1', internalIP: '198.18.0.1', priority },
  status: {
    conditions: [
      { type: 'Ready', status: ready ? 'True' : 'False', reason: 'x', message: '', lastTransitionTime: '' },
    ],
  },
});

test('the export lists Gateways by priority with readiness, and fills tunnel defaults', () => {
  const i = buildClusterInfo(member, [gw('n2', 99, false), gw('n1', 100, true)], 'ActiveActive');
  assert.deepEqual(
    i.gateways.map((g) => [g.node, g.ready]),
    [
      ['n1', true],
      ['n2', false],
    ],
  );
  assert.deepEqual(i.tunnel, { port: 4789, vni: 4242 });
  assert.equal(i.mode, 'ActiveActive');
  assert.deepEqual(i.serviceCIDRs, []);
});

test('a draining Gateway is exported as draining; the others carry no such field', () => {
  const d = gw('n1', 100, true);
  d.spec.draining = true;
  const i = buildClusterInfo(member, [gw('n2', 99, true), d], 'ActiveStandby');
  assert.deepEqual(
    i.gateways.map((g) => [g.node, g.draining]),
    [
      ['n1', true],
      ['n2', undefined],
    ],
  );
  assert.ok(!('draining' in i.gateways[1]!), 'exports of clusters that drain nothing stay as they were');
});

const info = (id: string): ClusterInfo => ({
  clusterID: id,
  mode: 'ActiveStandby',
  gateways: [],
  podCIDRs: [],
  serviceCIDRs: [],
  tunnel: {},
});
const imp = (id: string, state?: 'Active' | 'Stale'): ClusterImport => ({
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'ClusterImport',
  metadata: { name: id },
  spec: info(id),
  ...(state && { status: { state } }),
});
const rc = (id: string, state: 'Active' | 'Stale' = 'Active'): RemoteCluster => ({
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'RemoteCluster',
  metadata: { name: id },
  spec: info(id),
  status: { state },
});

test('remote clusters mirror the other members, not this one', () => {
  const p = planRemotes('a', [imp('a'), imp('b'), imp('c')], [rc('b'), rc('x')]);
  assert.deepEqual(
    p.upsert.map((u) => u.name),
    ['c'],
  );
  assert.deepEqual(p.remove, ['x']);
});

test('a state change is mirrored; an identical import writes nothing', () => {
  assert.deepEqual(planRemotes('a', [imp('b', 'Active')], [rc('b', 'Active')]), { upsert: [], remove: [] });
  const p = planRemotes('a', [imp('b', 'Stale')], [rc('b', 'Active')]);
  assert.equal(p.upsert[0]?.status.state, 'Stale');
});
