// The lab's traffic endpoint: two of them in one network namespace, a numbered, timestamped stream
// each way, an nftables rule that drops one direction for a measured time, and a sender stopped
// (SIGSTOP) for a measured time. The receiver's loss window must cover what was dropped, as the
// sender's clock saw it, even when the sender stalled through the cut, and say that it stalled.
// Times are CLOCK_MONOTONIC (process.hrtime), the clock the endpoints stamp their packets with.
// And two endpoints as in pods: each in its own namespace, bound to 0.0.0.0, stdin closed, started
// without peers and told them over the TCP control port.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { LineCollector, NetLab } from '../../src/testing/netns.ts';
import type { Netns } from '../../src/testing/netns.ts';
import type { SendingReport, SourceReport, Stall } from '../../src/lab/stream.mjs';
import { lossByDirection } from '../../src/lab/loss.ts';
import { invalidReasons } from '../../src/lab/validity.ts';

const TRAFFIC = fileURLToPath(new URL('../../src/lab/traffic.mjs', import.meta.url));
const RELAY = fileURLToPath(new URL('../../src/lab/netns-relay.mjs', import.meta.url));
const skip = await NetLab.available();
const A = '198.18.200.1';
const B = '198.18.200.2';
const CUT = `table inet cut { chain out { type filter hook output priority 0; ip saddr ${A} udp dport 9100 drop; }; }`;
const mono = () => Number(process.hrtime.bigint()) / 1e6;
// The pod-like pair: one namespace each, a link between them; ABSENT is on the link but nobody's.
const PA = '198.18.201.1';
const PB = '198.18.201.2';
const ABSENT = '198.18.201.9';
const CUT_B = 'table inet cut { chain out { type filter hook output priority 0; udp dport 9100 drop; }; }';

interface Report {
  stallThresholdMs: number;
  sources: Record<string, SourceReport>;
  sending: SendingReport | null;
}

/** The process's exit status, once it has exited. */
async function exitCode(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  const [code] = (await once(p, 'exit')) as [number | null];
  return code;
}

async function endpoints(ns: Netns) {
  await ns.ip(['addr', 'add', `${A}/32`, 'dev', 'lo']);
  await ns.ip(['addr', 'add', `${B}/32`, 'dev', 'lo']);
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
      return JSON.parse(lines[n]!) as Report;
    };
    return { p, lines, ask };
  };
  const a = start(A, B);
  const b = start(B, A);
  while (!a.lines.length || !b.lines.length) await sleep(10);
  await sleep(300);
  return {
    a,
    b,
    cut: () => ns.nft(CUT),
    uncut: () => ns.exec('nft', ['delete', 'table', 'inet', 'cut']),
  };
}

/** A line-protocol client on a Unix socket: each command's answer is the next line it gets. */
async function control(path: string) {
  const s = connect({ path });
  await once(s, 'connect');
  const lines: string[] = [];
  createInterface({ input: s }).on('line', (l) => lines.push(l));
  const ask = async (cmd: string): Promise<Record<string, unknown>> => {
    const n = lines.length;
    s.write(`${cmd}\n`);
    const deadline = mono() + 5_000;
    while (lines.length === n) {
      if (mono() > deadline) throw new Error(`no answer to ${JSON.stringify(cmd)}`);
      await sleep(10);
    }
    return JSON.parse(lines[n]!) as Record<string, unknown>;
  };
  return { s, ask };
}

/** Runs `f` and returns when it began and ended. */
async function timed(f: () => Promise<unknown>): Promise<{ start: number; end: number }> {
  const start = mono();
  await f();
  return { start, end: mono() };
}

describe('traffic endpoint', { skip }, () => {
  test('loss window per direction, in ms of the sender clock', async (t) => {
    const lab = await NetLab.create(t);
    const { a, b, cut, uncut } = await endpoints(await lab.namespace('traffic'));
    await a.ask('mark m');
    await b.ask('mark m');
    await sleep(300);
    // Drop a -> b for 200 ms.
    const add = await timed(cut);
    await sleep(200);
    const del = await timed(uncut);
    await sleep(400);
    const report = await b.ask('report m');
    const atB = report.sources[A]!;
    const atA = (await a.ask('report m')).sources[B]!;
    process.stderr.write(
      `# cut a->b in place ${(del.start - add.end).toFixed(0)}..${(del.end - add.start).toFixed(0)} ms: ` +
        `${JSON.stringify(atB)}; b->a: ${JSON.stringify(atA)}\n`,
    );
    assert.equal(atA.lost, 0, 'b -> a lost nothing');
    assert.ok(atA.received > 700, `b -> a received ${atA.received}`);
    assert.equal(atB.windows, 1);
    // The rule was surely in place from the end of `nft add` to the start of `nft delete`, and at
    // most from the start of the one to the end of the other; the window may be longer than that by
    // the sender's silences at its edges, each at most the stall threshold unless counted a stall.
    const th = report.stallThresholdMs;
    assert.ok(atB.lossWindowMs >= del.start - add.end - 1, `window ${atB.lossWindowMs} ms`);
    assert.ok(
      atB.lossWindowMs <= del.end - add.start + 2 * th + atB.windowSenderStalledMs! + 0.1,
      `window ${atB.lossWindowMs} ms`,
    );
    // Without a stall, the lost numbers and the send times agree to within the threshold.
    if (atB.windowSenderStalledMs === 0) assert.ok(Math.abs(atB.lossWindowMs - atB.lost) <= th, 'agree');
    // The lab reads the answer as it is (src/lab/loss.ts).
    const read = lossByDirection(new Map([['b', report]]), new Map([[A, 'a']]))['a>b']!;
    assert.deepEqual(
      [read.lost, read.lossWindowMs, read.windowSenderStalledMs],
      [atB.lost, atB.lossWindowMs, atB.windowSenderStalledMs],
    );

    // A cut still in place when the report is asked for is a window still open, not zero loss.
    await b.ask('mark n');
    const again = await timed(cut);
    await sleep(400);
    const asked = mono();
    const open = (await b.ask('report n')).sources[A]!;
    await uncut();
    // Open since the latest packet's send time, before the cut was loaded; the report is read
    // after `asked`, so a little longer may pass.
    assert.ok(
      open.ongoingMs >= asked - again.end - 1 && open.ongoingMs <= asked - again.start + 50,
      `ongoing ${open.ongoingMs} ms`,
    );
    assert.equal(open.lossWindowMs, open.ongoingMs);
    assert.equal(open.windowSenderStalledMs, null);
    // Without --control, the end of stdin stops an endpoint.
    a.p.stdin!.end();
    b.p.stdin!.end();
    assert.deepEqual([await exitCode(a.p), await exitCode(b.p)], [0, 0]);
  });

  // The stop can land between a packet's stamp and its asynchronous write, so that the packet
  // leaves after the stop with a stamp from before it (once in a clean-clone CI run, before the
  // endpoint sent such packets again: 52.5 ms for a cut held about 170 ms, and no stall named).
  test('a sender stopped for 300 ms: alone it loses nothing; through a cut the window still spans the cut and names the stall', async (t) => {
    const lab = await NetLab.create(t);
    const { a, b, cut, uncut } = await endpoints(await lab.namespace('stall'));
    /** Stops a for at least `ms`, and until `meanwhile` (begun 100 ms in) is done. */
    const stop = async (ms: number, meanwhile: () => Promise<unknown> = async () => {}) => {
      // `at` after the signal and `cont` before the other: a was surely stopped in between.
      a.p.kill('SIGSTOP');
      const at = mono();
      let cont = at;
      try {
        await sleep(100);
        await meanwhile();
        await sleep(Math.max(0, at + ms - mono()));
      } finally {
        cont = mono();
        a.p.kill('SIGCONT');
      }
      return { at, cont };
    };
    // The stall a logged covers the stop (give or take a tick racing the signal's delivery).
    const sawStall = (log: Stall[], s: { at: number; cont: number }) =>
      log.some((x) => x.atMs <= s.at + 2 && x.atMs + x.ms >= s.cont);

    // 1. The sender stops, nothing is cut: nothing is lost, and the receiver sees the stall.
    await a.ask('mark s');
    await b.ask('mark s');
    await sleep(100);
    const alone = await stop(300);
    await sleep(300);
    const quiet = (await b.ask('report s')).sources[A]!;
    const own = (await a.ask('report s')).sending!;
    process.stderr.write(
      `# a stopped ${(alone.cont - alone.at).toFixed(0)} ms, no cut: ${JSON.stringify(quiet)}\n`,
    );
    assert.equal(quiet.lost, 0);
    assert.ok(quiet.senderStalls >= 1 && quiet.senderStalledMs >= alone.cont - alone.at - 1, 'b saw a stall');
    assert.ok(sawStall(own.latest, alone), `a logged its stall: ${JSON.stringify(own.latest)}`);

    // 2. a -> b is cut; 50 ms later a stops; the cut is lifted while a is stopped; a resumes 300 ms
    // after it stopped. Only what a sent between the cut and its stop is lost, so a count of lost
    // numbers says about 50 ms; the send times say the path was not seen working from before the
    // cut until a resumed.
    await a.ask('mark c');
    await b.ask('mark c');
    const add = await timed(cut);
    await sleep(50);
    let del = { start: 0, end: 0 };
    const s = await stop(300, async () => (del = await timed(uncut)));
    assert.ok(del.end < s.cont, 'the cut was lifted while a was stopped');
    await sleep(300);
    const report = await b.ask('report c');
    const w = report.sources[A]!;
    const sending = (await a.ask('report c')).sending!;
    const log = sending.latest;
    process.stderr.write(
      `# cut a->b from 0..${(add.end - add.start).toFixed(0)} ms to ` +
        `${(del.start - add.start).toFixed(0)}..${(del.end - add.start).toFixed(0)} ms, a stopped ` +
        `${(s.at - add.start).toFixed(0)}..${(s.cont - add.start).toFixed(0)} ms: ${JSON.stringify(w)}; ` +
        `lost numbers alone would say ${w.lost} ms; a sent ${sending.sent} numbers and ${sending.resent} copies\n`,
    );
    assert.equal(w.windows, 1);
    const [before, after] = w.windowSentMs!;
    assert.ok(before < add.end, 'the last packet before the gap was sent before the cut was surely in place');
    assert.ok(after >= s.cont, 'the first packet after the gap was sent once a resumed');
    assert.ok(Math.abs(w.lossWindowMs - (after - before - 1)) <= 0.1, 'window = send-time span - 1 interval');
    assert.ok(w.lossWindowMs >= s.cont - add.end - 1, `window ${w.lossWindowMs} ms`);
    assert.ok(w.lossWindowMs - w.lost >= 200, `the count of lost numbers (${w.lost}) under-reports`);
    assert.ok(
      w.windowSenderStalledMs! >= s.cont - s.at - 1,
      `stall in the window ${w.windowSenderStalledMs} ms`,
    );
    assert.ok(sawStall(log, s), `a logged its stall: ${JSON.stringify(log)}`);
    // And a trial with such a window is not trusted.
    assert.match(invalidReasons({ 'a>b': w }, null).join(), /a>b: the sender stalled \d+(\.\d)? ms within/);
    a.p.stdin!.end();
    b.p.stdin!.end();
  });

  test('as in pods: no peers at the start, stdin closed, peers and commands over the control port', async (t) => {
    const lab = await NetLab.create(t);
    const pa = await lab.namespace('pa');
    const pb = await lab.namespace('pb');
    await lab.veth(pa, `${PA}/24`, pb, `${PB}/24`);
    const dir = await mkdtemp(join(tmpdir(), 'mcgw-traffic-'));
    lab.onCleanup(
      () => rm(dir, { recursive: true, force: true }),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    const connectTo = async (path: string) => {
      const c = await control(path);
      lab.onCleanup(() => void c.s.destroy());
      return c;
    };
    const start = async (ns: Netns, name: string) => {
      // stdin is /dev/null, ended from the start, as in a pod.
      const p = ns.spawn(process.execPath, [TRAFFIC, '--control', '9101', '0.0.0.0', '9100', '1000'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const ready = await new LineCollector(p.stdout).waitFor((l) => typeof l === 'object', 10_000);
      assert.deepEqual(ready, { ready: true, self: '0.0.0.0', rate: 1000, peers: [] });
      // The control port is inside the namespace: reached through a relay on a Unix socket.
      const path = join(dir, `${name}.sock`);
      const relay = ns.spawn(process.execPath, [RELAY, `unix:${path}=tcp:127.0.0.1:9101`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new LineCollector(relay.stdout).waitFor((l) => l === 'ready', 10_000);
      return { p, path, c: await connectTo(path) };
    };
    const a = await start(pa, 'a');
    const b = await start(pb, 'b');
    await sleep(200);
    assert.deepEqual([a.p.exitCode, b.p.exitCode], [null, null], 'the end of stdin stopped nothing');
    // No peers: nothing is recorded, nothing arrives.
    assert.deepEqual((await b.c.ask('report none')).sources, {});

    // Bad input: an error line each, and nothing changes.
    const bad: [string, RegExp][] = [
      [`peers ${PB} 198.18.201.300`, /198\.18\.201\.300/],
      ['peers 198.18.201', /IPv4/],
      ['hello', /unknown command/],
      ['mark', /one ID/],
    ];
    for (const [cmd, message] of bad) assert.match(String((await a.c.ask(cmd)).error), message, cmd);
    assert.deepEqual((await a.c.ask('report none')).sources, {});

    assert.deepEqual(await a.c.ask(`peers ${PB}`), { peers: [PB] });
    assert.deepEqual(await b.c.ask(`peers ${PA}`), { peers: [PA] });
    await sleep(300);
    await a.c.ask('mark m');
    await b.c.ask('mark m');
    await sleep(500);
    const atA = (await a.c.ask('report m')) as unknown as Report;
    const atB = (await b.c.ask('report m')) as unknown as Report;
    process.stderr.write(
      `# over the control port, 500 ms: b>a ${JSON.stringify(atA.sources[PB])}; a>b ${JSON.stringify(atB.sources[PA])}\n`,
    );
    for (const [r, from] of [
      [atA, PB],
      [atB, PA],
    ] as const) {
      assert.equal(r.sources[from]!.lost, 0, `from ${from}`);
      assert.ok(r.sources[from]!.received > 250, `from ${from}: received ${r.sources[from]!.received}`);
      assert.ok(r.sending!.sent > 250, `sent ${r.sending!.sent}`);
    }

    // Each answer goes to the connection that asked, while another asks too.
    const a2 = await connectTo(a.path);
    const [one, two] = await Promise.all([a.c.ask('report m'), a2.ask('peers bogus')]);
    assert.ok(one.sources && !one.error, JSON.stringify(one));
    assert.match(String(two.error), /bogus/);

    // A peer that stays keeps its record: a window made before the change is still reported.
    await pb.nft(CUT_B);
    await sleep(100);
    await pb.exec('nft', ['delete', 'table', 'inet', 'cut']);
    await sleep(100);
    assert.deepEqual(await a2.ask(`peers ${PB} ${ABSENT}`), { peers: [PB, ABSENT] });
    await sleep(100);
    const kept = ((await a.c.ask('report m')) as unknown as Report).sources;
    assert.equal(kept[PB]!.windows, 1, JSON.stringify(kept[PB]));
    assert.ok(kept[PB]!.lost >= 90, `lost ${kept[PB]!.lost} in a 100 ms cut`);
    assert.equal(kept[ABSENT]!.received, 0);

    // A peer removed is no longer sent to: a's stream to b stays cut.
    assert.deepEqual(await a.c.ask(`peers ${ABSENT}`), { peers: [ABSENT] });
    await b.c.ask('mark r');
    await sleep(400);
    const gone = ((await b.c.ask('report r')) as unknown as Report).sources[PA]!;
    assert.ok(gone.ongoingMs >= 300, `b has heard nothing from a for ${gone.ongoingMs} ms`);
    assert.deepEqual(Object.keys(((await a.c.ask('report m')) as unknown as Report).sources), [ABSENT]);

    // SIGTERM ends it, with status 0.
    a.p.kill('SIGTERM');
    b.p.kill('SIGTERM');
    assert.deepEqual([await exitCode(a.p), await exitCode(b.p)], [0, 0]);
  });
});
