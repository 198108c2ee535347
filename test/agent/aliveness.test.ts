// A restarted agent keeps its Gateway role from the state file only when it was away for less than
// a Gateway Lease; the file that says so survives restarts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { markAlive, readAlive, withoutStaleGatewayRole } from '../../src/agent/aliveness.ts';
import type { AgentInputs } from '../../src/agent/inputs.ts';

const gw = (node: string, priority: number) => ({
  node,
  gatewayIP: '198.18.1.10',
  internalIP: '198.18.1.10',
  priority,
});
const inputs: AgentInputs = {
  node: 'n1',
  cluster: 'a',
  internalIP: '198.18.1.10',
  local: {
    gateways: [gw('n1', 100), gw('n2', 99)],
    mode: 'ActiveStandby',
    podCIDRs: ['198.18.64.0/20'],
    serviceCIDRs: [],
  },
  remotes: [],
  tunnel: { port: 4789, vni: 4242 },
};

describe('withoutStaleGatewayRole', () => {
  test('a quick restart keeps the role', () => {
    const r = withoutStaleGatewayRole(inputs, { aliveAt: 10_000, leaseDurationMs: 2000 }, 11_500, 3000);
    assert.equal(r.dropped, false);
    assert.equal(r.inputs, inputs);
    assert.equal(r.awayMs, 1500);
  });

  test('away longer than the recorded (or default) Lease: the own role goes, the other Gateways stay', () => {
    for (const alive of [{ aliveAt: 10_000, leaseDurationMs: 2000 }, { aliveAt: 10_000 }]) {
      const r = withoutStaleGatewayRole(inputs, alive, 13_500, 3000);
      assert.equal(r.dropped, true);
      assert.equal(r.awayMs, 3500);
      assert.deepEqual(
        r.inputs.local.gateways.map((g) => g.node),
        ['n2'],
      );
      assert.deepEqual(inputs.local.gateways.length, 2, 'the saved inputs are not modified');
    }
    // Within the default when none was recorded.
    assert.equal(withoutStaleGatewayRole(inputs, { aliveAt: 10_000 }, 12_500, 3000).dropped, false);
  });

  test('no record at all (first start): the role is kept', () => {
    assert.equal(withoutStaleGatewayRole(inputs, undefined, 1e12, 3000).dropped, false);
  });

  test('a Node that was no Gateway is left alone', () => {
    const worker = { ...inputs, node: 'w1' };
    assert.equal(withoutStaleGatewayRole(worker, { aliveAt: 0 }, 1e12, 3000).dropped, false);
  });
});

describe('alive file', () => {
  test('records the Lease duration and the last tick', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcgw-alive-'));
    try {
      const p = join(dir, 'alive');
      assert.equal(await readAlive(p), undefined);
      await markAlive(p, 2000);
      utimesSync(p, new Date(1_000_000), new Date(1_000_000));
      assert.deepEqual(await readAlive(p), { aliveAt: 1_000_000, leaseDurationMs: 2000 });
      const before = Date.now();
      await markAlive(p);
      const r = await readAlive(p);
      assert.equal(r?.leaseDurationMs, 2000, 'a tick keeps the recorded duration');
      assert.ok(r && r.aliveAt >= before - 1000, `ticked at ${r?.aliveAt}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
