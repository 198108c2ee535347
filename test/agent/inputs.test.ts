// The agent's inputs from the watched objects: what a drain changes in them, and that the state
// file keeps it across a restart.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ClusterGateway, ClusterSetMember, RemoteCluster } from '../../src/api/types.ts';
import { inputsFrom, loadInputs, saveInputs } from '../../src/agent/inputs.ts';
import type { AgentInputs } from '../../src/agent/inputs.ts';

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
const gw = (node: string, priority: number, draining?: boolean): ClusterGateway => ({
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'ClusterGateway',
  metadata: { name: node },
  spec: {
    nodeName: node,
    gatewayIP: `198.18.0.${priority - 90}`,
    internalIP: `198.18.32.${priority - 90}`,
    priority,
    ...(draining !== undefined && { draining }),
  },
});
const remote: RemoteCluster = {
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'RemoteCluster',
  metadata: { name: 'b' },
  spec: {
    clusterID: 'b',
    mode: 'ActiveStandby',
    gateways: [
      {
        node: 'b1',
        gatewayIP: '198.18.1.2',
        internalIP: '198.18.33.2',
        priority: 100,
        ready: true,
        draining: true,
      },
      { node: 'b2', gatewayIP: '198.18.1.3', internalIP: '198.18.33.3', priority: 99, ready: true },
    ],
    podCIDRs: ['198.18.80.0/20'],
    serviceCIDRs: [],
    tunnel: {},
  },
};

function inputs(gateways: ClusterGateway[]): AgentInputs {
  const r = inputsFrom('w1', {
    node: {
      metadata: { name: 'w1' },
      status: { addresses: [{ type: 'InternalIP', address: '198.18.32.50' }] },
    },
    member,
    gateways,
    policies: [],
    remotes: [remote],
  });
  assert.ok(!('missing' in r));
  return r;
}

test('draining local and remote Gateways are marked in the inputs, and only they', () => {
  const i = inputs([gw('n1', 100, true), gw('n2', 99), gw('n3', 98, false)]);
  assert.deepEqual(
    i.local.gateways.map((g) => [g.node, g.draining]),
    [
      ['n1', true],
      ['n2', undefined],
      ['n3', undefined],
    ],
  );
  assert.ok(!('draining' in i.local.gateways[1]!));
  assert.deepEqual(
    i.remotes[0]!.gateways.map((g) => [g.node, g.draining]),
    [
      ['b1', true],
      ['b2', undefined],
    ],
  );
  // A drain starting is a change of inputs (the KubeSource hands on only changed ones).
  assert.notDeepEqual(inputs([gw('n1', 100), gw('n2', 99)]), inputs([gw('n1', 100, true), gw('n2', 99)]));
});

test('the state file keeps the drain marks, so a restart plans the same routes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mcgw-inputs-'));
  try {
    const path = join(dir, 'state.json');
    const i = inputs([gw('n1', 100, true), gw('n2', 99)]);
    await saveInputs(path, i, { 'b/b1': true });
    const back = await loadInputs(path);
    assert.ok(back && !('error' in back));
    assert.deepEqual(back.inputs, i);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
