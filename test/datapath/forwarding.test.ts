// End to end through real kernels: a worker of cluster alpha talks TCP to cluster beta through
// alpha's gateway and beta's gateways, over the planned devices only. Proves that the inner
// addresses, MACs, neighbors and FDB entries fit together, that a failover is just route replaces,
// and that an unreachable route fails connections fast. Each Node is a network namespace; one
// bridge stands for both the cluster network and the underlay.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { planDatapath } from '../../src/datapath/plan.ts';
import type { ClusterExport, PlanInput } from '../../src/datapath/types.ts';
import { BETA, LOCAL_GATEWAYS, OPTIONS, alive, gatewayInput, workerInput } from './fixtures.ts';
import { addNetns, converge, delNetns, netnsUnavailable, run } from './netns.ts';

const skip = netnsUnavailable();
const tag = String(process.pid);
const ns = (n: string): string => `mcgwt-${n}-${tag}`;
const NODES = { wA: ns('wa'), gA: ns('ga'), gB1: ns('gb1'), gB2: ns('gb2'), sw: ns('sw') };

// Beta's "pod" address lives on both of its gateways, each answering with its own name, so the
// client sees which gateway carried the connection.
const POD_B = '198.18.64.1';
const POD_A = '198.18.53.1';

const ALPHA: ClusterExport = {
  clusterID: 'alpha',
  gateways: LOCAL_GATEWAYS,
  podCIDRs: ['198.18.48.0/20'],
  serviceCIDRs: ['198.19.1.0/24'],
  tunnel: { port: 4789, vni: 4242 },
};

const betaGateway = (node: 'b-gw1' | 'b-gw2', gatewayIP: string): PlanInput => ({
  self: {
    node,
    cluster: 'beta',
    isGateway: true,
    gatewayIP,
    internalIP: node === 'b-gw1' ? '198.18.32.2' : '198.18.32.3',
  },
  local: {
    gateways: BETA.gateways,
    mode: 'ActiveStandby',
    podCIDRs: BETA.podCIDRs,
    serviceCIDRs: BETA.serviceCIDRs,
  },
  remotes: [ALPHA],
  liveness: alive('alpha/a-gw1'),
  options: OPTIONS,
});

const gatewayA = (live: Map<string, boolean>): PlanInput => gatewayInput({ remotes: [BETA], liveness: live });

function wire(node: string, port: string, addrs: string[]): void {
  run('ip', ['link', 'add', port, 'netns', NODES.sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node]);
  run('ip', ['-n', NODES.sw, 'link', 'set', port, 'master', 'br0', 'up']);
  for (const a of addrs) run('ip', ['-n', node, 'addr', 'add', a, 'dev', 'eth0']);
  run('ip', ['-n', node, 'link', 'set', 'eth0', 'up']);
}

/** One TCP connection from alpha's pod address to beta's: what it read, or its error code. */
async function connect(): Promise<string> {
  const script = `const s = require('net').connect({ host: '${POD_B}', port: 7000, localAddress: '${POD_A}', timeout: 3000 });
s.setEncoding('utf8'); let got = '';
s.on('data', (d) => { got += d; }); s.on('end', () => { console.log(got); });
s.on('timeout', () => { console.log('TIMEOUT'); process.exit(0); });
s.on('error', (e) => { console.log(e.code); });`;
  const child = spawn('ip', ['netns', 'exec', NODES.wA, process.execPath, '-e', script]);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  await once(child, 'close');
  return out.trim();
}

void describe('forwarding across clusters through real kernels', { skip }, () => {
  const servers: ChildProcessWithoutNullStreams[] = [];

  before(async () => {
    for (const n of Object.values(NODES)) addNetns(n);
    run('ip', ['-n', NODES.sw, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', NODES.sw, 'link', 'set', 'br0', 'up']);
    wire(NODES.wA, 'p-wa', ['198.18.32.10/24']);
    wire(NODES.gA, 'p-ga', ['198.18.32.2/24', '198.18.0.2/20']);
    wire(NODES.gB1, 'p-gb1', ['198.18.1.2/20']);
    wire(NODES.gB2, 'p-gb2', ['198.18.1.3/20']);
    run('ip', ['-n', NODES.wA, 'addr', 'add', `${POD_A}/32`, 'dev', 'lo']);
    // alpha's gateway forwards, and reaches alpha's pods the CNI's way, not through mcgw.
    run('ip', ['netns', 'exec', NODES.gA, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    run('ip', ['-n', NODES.gA, 'route', 'add', '198.18.53.0/24', 'via', '198.18.32.10']);
    for (const [node, name] of [
      [NODES.gB1, 'b-gw1'],
      [NODES.gB2, 'b-gw2'],
    ] as const) {
      run('ip', ['-n', node, 'addr', 'add', `${POD_B}/32`, 'dev', 'lo']);
      const server = spawn('ip', [
        'netns',
        'exec',
        node,
        process.execPath,
        '-e',
        `require('net').createServer((s) => s.end('${name}')).listen(7000, '${POD_B}', () => console.log('up'));`,
      ]);
      servers.push(server);
      await once(server.stdout, 'data');
    }
    converge(NODES.wA, planDatapath(workerInput({ liveness: alive('alpha/a-gw1') })).desired);
    converge(NODES.gA, planDatapath(gatewayA(alive('beta/b-gw1', 'beta/b-gw2'))).desired);
    converge(NODES.gB1, planDatapath(betaGateway('b-gw1', '198.18.1.2')).desired);
    converge(NODES.gB2, planDatapath(betaGateway('b-gw2', '198.18.1.3')).desired);
  });

  after(() => {
    for (const s of servers) s.kill();
    for (const n of Object.values(NODES)) delNetns(n);
  });

  void it('carries a worker’s connection through the active gateways of both clusters', async () => {
    assert.equal(await connect(), 'b-gw1');
  });

  void it('moves to the standby remote gateway with route replaces only', async () => {
    const changes = converge(NODES.gA, planDatapath(gatewayA(alive('beta/b-gw2'))).desired);
    assert.deepEqual(new Set(changes.map((c) => c.op)), new Set(['route-replace']));
    assert.equal(await connect(), 'b-gw2');
  });

  void it('fails connections fast while no remote gateway lives, and recovers', async () => {
    converge(NODES.gA, planDatapath(gatewayA(new Map())).desired);
    const started = Date.now();
    const result = await connect();
    assert.match(result, /^(EHOSTUNREACH|ENETUNREACH)$/);
    assert.ok(Date.now() - started < 2500, 'the connection should fail at once, not time out');
    converge(NODES.gA, planDatapath(gatewayA(alive('beta/b-gw1'))).desired);
    assert.equal(await connect(), 'b-gw1');
  });
});
