// The lab's traffic endpoint: two of them in one network namespace, a numbered stream each way, and
// an nftables rule that drops one direction for a measured time. The receiver's loss window must
// match what was dropped, and the other direction must lose nothing.
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { NetLab } from '../../src/testing/netns.ts';

const TRAFFIC = fileURLToPath(new URL('../../src/lab/traffic.mjs', import.meta.url));
const skip = await NetLab.available();

describe('traffic endpoint', { skip }, () => {
  test('loss window per direction, to the millisecond of stream time', async (t) => {
    const lab = await NetLab.create(t);
    const ns = await lab.namespace('traffic');
    await ns.ip(['addr', 'add', '198.18.200.1/32', 'dev', 'lo']);
    await ns.ip(['addr', 'add', '198.18.200.2/32', 'dev', 'lo']);
    const start = (self: string, peer: string) => {
      const p = ns.spawn(process.execPath, [TRAFFIC, self, '9100', '1000', peer], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lines: string[] = [];
      createInterface({ input: p.stdout! }).on('line', (l) => lines.push(l));
      const ask = async (cmd: string) => {
        const n = lines.length;
        p.stdin!.write(`${cmd}\n`);
        while (lines.length === n) await sleep(10);
        return JSON.parse(lines[n]!) as {
          sources: Record<
            string,
            { received: number; lost: number; lossWindowMs: number; ongoingMs: number }
          >;
        };
      };
      return { p, lines, ask };
    };
    const a = start('198.18.200.1', '198.18.200.2');
    const b = start('198.18.200.2', '198.18.200.1');
    while (!a.lines.length || !b.lines.length) await sleep(10);
    await sleep(300);
    await a.ask('mark m');
    await b.ask('mark m');
    await sleep(300);
    // Drop a -> b for 200 ms.
    await ns.nft(
      'table inet cut { chain out { type filter hook output priority 0; ip saddr 198.18.200.1 udp dport 9100 drop; }; }',
    );
    await sleep(200);
    await ns.exec('nft', ['delete', 'table', 'inet', 'cut']);
    await sleep(400);
    const atB = (await b.ask('report m')).sources['198.18.200.1']!;
    const atA = (await a.ask('report m')).sources['198.18.200.2']!;
    process.stderr.write(`# dropped 200 ms of a->b: ${JSON.stringify(atB)}; b->a: ${JSON.stringify(atA)}\n`);
    assert.equal(atA.lost, 0, 'b -> a lost nothing');
    assert.ok(atA.received > 700, `b -> a received ${atA.received}`);
    // The rule was in place for 200 ms of wall time plus the nft process start and exit.
    assert.ok(atB.lossWindowMs >= 150 && atB.lossWindowMs <= 400, `a -> b window ${atB.lossWindowMs} ms`);
    assert.equal(atB.lost, atB.lossWindowMs, 'one window, at 1 ms per packet');
    // A cut still in place when the report is asked for is a window still open, not zero loss.
    await b.ask('mark n');
    await ns.nft(
      'table inet cut { chain out { type filter hook output priority 0; ip saddr 198.18.200.1 udp dport 9100 drop; }; }',
    );
    await sleep(400);
    const open = (await b.ask('report n')).sources['198.18.200.1']! as {
      lossWindowMs: number;
      ongoingMs: number;
    };
    await ns.exec('nft', ['delete', 'table', 'inet', 'cut']);
    assert.ok(open.ongoingMs >= 250 && open.ongoingMs <= 700, `ongoing ${open.ongoingMs} ms`);
    assert.equal(open.lossWindowMs, open.ongoingMs);
    a.p.stdin!.end();
    b.p.stdin!.end();
  });
});
