// The long-lived ip batch process and the kernel reader, in a throwaway network namespace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { IpBatch, IpBatchError } from '../../src/agent/ipbatch.ts';
import { readState } from '../../src/agent/kernel.ts';

const ns = `mcgwt-ipb-${randomBytes(3).toString('hex')}`;
const sh = (...args: string[]) => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

describe('IpBatch in a network namespace', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  const b = new IpBatch(ns);
  before(() => {
    sh('netns', 'add', ns);
    sh('-n', ns, 'link', 'set', 'lo', 'up');
    sh('-n', ns, 'link', 'add', 'mcgw-t0', 'type', 'veth', 'peer', 'name', 'mcgw-t1');
    sh('-n', ns, 'link', 'set', 'mcgw-t0', 'up');
    sh('-n', ns, 'addr', 'add', '198.18.0.1/24', 'dev', 'mcgw-t0');
  });
  after(() => {
    b.close();
    spawnSync('ip', ['netns', 'del', ns]);
  });

  test('runs a batch and resolves once the kernel has it', async () => {
    await b.run(
      'route replace 198.18.64.0/20 via 198.18.0.2 dev mcgw-t0 proto 250\nroute replace 198.18.80.0/20 via 198.18.0.3 dev mcgw-t0 proto 250',
    );
    const routes = (await readState(ns)).routes
      .filter((r) => r.protocol === 250)
      .map((r) => `${r.dst} ${r.nexthops[0]?.via}`);
    assert.deepEqual(routes.sort(), ['198.18.64.0/20 198.18.0.2', '198.18.80.0/20 198.18.0.3']);
  });

  test('reports exactly the failed lines and keeps going', async () => {
    await assert.rejects(
      b.run(
        'route replace 198.18.96.0/20 via 198.18.0.4 dev mcgw-t0 proto 250\nroute replace 198.18.112.0/20 via 198.18.0.5 dev nosuchdev proto 250',
      ),
      (e: unknown) => {
        assert.ok(e instanceof IpBatchError);
        assert.equal(e.failures.length, 1);
        assert.match(e.failures[0]!.line, /nosuchdev/);
        return true;
      },
    );
    const dsts = (await readState(ns)).routes.filter((r) => r.protocol === 250).map((r) => r.dst);
    assert.ok(dsts.includes('198.18.96.0/20'), 'the good line before the bad one was applied');
    // The process is still usable afterwards.
    await b.run('route del 198.18.96.0/20 proto 250');
  });

  test('many small batches, one process: each resolves in order', async () => {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++)
      await b.run(`route replace 198.18.200.0/24 via 198.18.0.${2 + (i % 50)} dev mcgw-t0 proto 250`);
    const per = (performance.now() - t0) / 200;
    const r = (await readState(ns)).routes.find((x) => x.dst === '198.18.200.0/24')!;
    assert.equal(r.nexthops[0]!.via, '198.18.0.51');
    process.stderr.write(`# ${per.toFixed(2)} ms per one-line batch\n`);
  });

  test('reads links, addresses and routes', async () => {
    const s = await readState(ns);
    assert.ok(s.links.some((l) => l.name === 'mcgw-t0' && l.up));
    assert.ok(s.addresses.some((a) => a.dev === 'mcgw-t0' && a.address === '198.18.0.1/24'));
  });
});
