// Interop with FRR 8.4's bfdd, in network namespaces: our side is the real `mcgw bfd` process.
//
//   ours ──(198.18.20.0/29, single-hop)── frr
//   ours ──(198.18.21.0/30)── rtr ──(198.18.22.0/30)── frr      multihop, TTL arrives as 254
//
// FRR 8.4 implements no BFD authentication: its bfdd has no auth configuration, sends unsigned
// packets and ignores the A bit and auth section of what it receives (no check at all; later
// releases drop such packets). So keyed SHA1 is tested between two of our own processes, and
// against FRR only to show that it never comes Up.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BFDD_PATH, FrrBfdd } from '../../src/testing/frr.ts';
import { LineCollector, listLabNamespaces, NetLab } from '../../src/testing/netns.ts';
import type { Netns } from '../../src/testing/netns.ts';

const unavailable =
  (await NetLab.available()) ?? (existsSync(BFDD_PATH) ? undefined : 'FRR bfdd not installed');

interface StateLine {
  peer: string;
  old: string;
  new: string;
  diag: number;
  diagName: string;
  ts: number;
}

interface SessionStatus {
  peer: string;
  state: string;
  txIntervalUs: number;
  detectionTimeUs: number;
  remoteDesiredMinTxUs: number;
  remoteMinRxUs: number;
  counters: { txFinals: number; rxPackets: number; pollSequencesCompleted: number };
}

interface StatusLine {
  msg: string;
  sessions: SessionStatus[];
  stats: { dropped: Record<string, number> };
  ttlDrops: number | null;
}

const isState = (l: unknown): l is StateLine => typeof l === 'object' && l !== null && 'new' in l;

/** A running `mcgw bfd`, with its stdout (state lines) and stderr (logs) collected. */
class Cli {
  readonly out: LineCollector;
  readonly err: LineCollector;
  constructor(readonly child: ChildProcess) {
    this.out = new LineCollector(child.stdout);
    this.err = new LineCollector(child.stderr);
  }

  static start(ns: Netns, args: string[]): Cli {
    return new Cli(ns.spawnNode(['bin/mcgw.js', 'bfd', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** The next state line for `peer` (from line index `from` on) that matches. */
  change(peer: string, to: string, timeoutMs: number, from = 0): Promise<StateLine> {
    return this.out.waitFor<StateLine>(
      (l) => isState(l) && l.peer === peer && l.new === to,
      timeoutMs,
      from,
      `${peer} -> ${to}`,
    );
  }

  /** Asks for a status dump (SIGUSR2) and returns it. */
  async status(): Promise<StatusLine> {
    const from = this.err.lines.length;
    this.child.kill('SIGUSR2');
    return this.err.waitFor<StatusLine>(
      (l) => typeof l === 'object' && l !== null && (l as StatusLine).msg === 'bfd status',
      5000,
      from,
      'a status line',
    );
  }

  async session(peer: string): Promise<SessionStatus> {
    const s = (await this.status()).sessions.find((x) => x.peer === peer);
    assert.ok(s, `no session for ${peer}`);
    return s;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((res) => this.child.once('exit', (code) => res(code)));
    this.child.kill('SIGTERM');
    return exited;
  }
}

async function waitSession(
  cli: Cli,
  peer: string,
  match: (s: SessionStatus) => boolean,
  timeoutMs: number,
  what: string,
): Promise<SessionStatus> {
  const deadline = Date.now() + timeoutMs;
  let s = await cli.session(peer);
  while (!match(s)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await sleep(100);
    s = await cli.session(peer);
  }
  return s;
}

void describe('interop with FRR bfdd', { skip: unavailable, timeout: 60_000 }, () => {
  const SH = { ours: '198.18.20.1', frr: '198.18.20.2' };
  const SH_AUTH = { ours: '198.18.20.3', frr: '198.18.20.2' };
  const MH = { ours: '198.18.21.1', frr: '198.18.22.2' };
  const shPeer = { peer: SH.ours, local: SH.frr };
  const mhPeer = { peer: MH.ours, local: MH.frr, multihop: true };
  let lab: NetLab;
  let ours: Netns;
  let frr: FrrBfdd;
  let cli: Cli;
  let dir: string;

  before(async () => {
    lab = await NetLab.create();
    dir = await mkdtemp(join(tmpdir(), 'mcgwt-interop-'));
    ours = await lab.namespace('ours');
    const rtr = await lab.namespace('rtr');
    const frrNs = await lab.namespace('frr');
    const direct = await lab.veth(ours, `${SH.ours}/29`, frrNs, `${SH.frr}/29`);
    await ours.ip(['addr', 'add', `${SH_AUTH.ours}/29`, 'dev', direct.a.dev]);
    await lab.veth(ours, `${MH.ours}/30`, rtr, '198.18.21.2/30');
    await lab.veth(rtr, '198.18.22.1/30', frrNs, `${MH.frr}/30`);
    await rtr.enableForwarding();
    await ours.addRoute('198.18.22.0/30', '198.18.21.2');
    await frrNs.addRoute('198.18.21.0/30', '198.18.22.1');
    const timers = { txMs: 50, rxMs: 50, mult: 3 };
    frr = await FrrBfdd.start({
      ns: frrNs,
      peers: [
        { ...shPeer, ...timers },
        { ...mhPeer, ...timers },
        { peer: SH_AUTH.ours, local: SH_AUTH.frr, ...timers },
      ],
    });
    const config = join(dir, 'bfd.json');
    await writeFile(
      config,
      JSON.stringify({
        multihopMinTtl: 254,
        defaults: { txMs: 50, rxMs: 50, mult: 3 },
        sessions: [
          { local: SH.ours, peer: SH.frr },
          { local: MH.ours, peer: MH.frr, multihop: true },
        ],
      }),
    );
    cli = Cli.start(ours, ['--config', config]);
  });

  after(async () => {
    await cli?.stop();
    await lab?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
    const left = (await listLabNamespaces()).filter((n) => lab && n.includes(lab.id));
    assert.deepEqual(left, [], 'namespaces left behind');
  });

  void it('single-hop and multihop (across a router) sessions come Up on both sides', async () => {
    await cli.change(SH.frr, 'Up', 10_000);
    await cli.change(MH.frr, 'Up', 10_000);
    await frr.waitFor(
      (peers) => peers.filter((p) => p.status === 'up').length === 2,
      5000,
      'both FRR peers up',
    );
    const status = await cli.status();
    // The multihop packets crossed the router (TTL 254 >= our --min-ttl 254); the single-hop ones
    // all carried 255, so the GTSM rules dropped nothing.
    assert.equal(status.ttlDrops, 0);
    for (const s of status.sessions) {
      assert.equal(s.state, 'Up');
      assert.equal(s.txIntervalUs, 50_000);
      assert.equal(s.detectionTimeUs, 150_000);
    }
  });

  void it('follows FRR changing its intervals, through a Poll/Final exchange', async () => {
    const before = await cli.session(SH.frr);
    const mark = cli.out.lines.length;
    await frr.setPeer({ ...shPeer, txMs: 100, rxMs: 200 });
    const after = await waitSession(
      cli,
      SH.frr,
      (s) => s.remoteDesiredMinTxUs === 100_000 && s.remoteMinRxUs === 200_000,
      5000,
      'the new FRR timers',
    );
    // We now send no faster than FRR will receive, and wait 3 x FRR's slower TX before declaring
    // it dead (RFC 5880 6.8.2, 6.8.4).
    assert.equal(after.txIntervalUs, 200_000);
    assert.equal(after.detectionTimeUs, 300_000);
    // FRR polled with the new values and we answered with Final (RFC 5880 6.5).
    assert.ok(after.counters.txFinals > before.counters.txFinals, 'we sent a Final');
    const frrSide = await frr.waitFor(
      (peers) => peers.some((p) => !p.multihop && p['transmit-interval'] === 100 && p.status === 'up'),
      5000,
      'FRR using the new timers',
    );
    assert.ok(frrSide.length > 0);
    assert.equal(cli.out.lines.slice(mark).filter(isState).length, 0, 'no state change meanwhile');

    await frr.setPeer({ ...shPeer, txMs: 50, rxMs: 50 });
    await waitSession(
      cli,
      SH.frr,
      (s) => s.txIntervalUs === 50_000 && s.detectionTimeUs === 150_000,
      5000,
      '50 ms again',
    );
  });

  void it('reports Neighbor Signaled Session Down when FRR shuts the peer down, and recovers', async () => {
    const mark = cli.out.lines.length;
    await frr.shutdownPeer(shPeer);
    const down = await cli.change(SH.frr, 'Down', 5000, mark);
    assert.equal(down.diag, 3);
    assert.equal(down.diagName, 'Neighbor Signaled Session Down');
    await frr.shutdownPeer(shPeer, false);
    await cli.change(SH.frr, 'Up', 10_000, mark);
  });

  void it('reports Control Detection Time Expired within detectMult x interval + 50 ms when FRR goes silent', async (t) => {
    const s = await waitSession(
      cli,
      SH.frr,
      (x) => x.state === 'Up' && x.detectionTimeUs === 150_000,
      5000,
      'Up at 50 ms x 3',
    );
    const boundMs = s.detectionTimeUs / 1000 + 50;
    const mark = cli.out.lines.length;
    // Measured from just before the rule goes in, so the figure can only err on the long side.
    const t0 = Date.now();
    await ours.nft(
      [
        'table inet mcgwt_silence {',
        '  chain input {',
        '    type filter hook input priority -200;',
        `    ip saddr ${SH.frr} udp dport 3784 drop`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const down = await cli.change(SH.frr, 'Down', 5000, mark);
    assert.equal(down.diag, 1);
    assert.equal(down.diagName, 'Control Detection Time Expired');
    const latency = down.ts - t0;
    t.diagnostic(`detected ${latency} ms after the drop rule went in (bound ${boundMs} ms)`);
    assert.ok(latency <= boundMs, `detected after ${latency} ms, bound ${boundMs} ms`);
    assert.ok(latency >= s.detectionTimeUs / 1000 - s.txIntervalUs / 1000 - 5, `too early: ${latency} ms`);
    // The multihop session, on another path, is untouched.
    assert.equal(cli.out.lines.slice(mark).filter((l) => isState(l) && l.peer === MH.frr).length, 0);

    await ours.exec('nft', ['delete', 'table', 'inet', 'mcgwt_silence']);
    await cli.change(SH.frr, 'Up', 10_000, mark);
  });

  void it('keyed SHA1: comes Up between our processes, never with a wrong key, and never with FRR (no auth in 8.4)', async () => {
    const x = await lab.namespace('authx');
    const y = await lab.namespace('authy');
    const link = await lab.veth(x, '198.18.30.1/29', y, '198.18.30.2/29');
    await x.ip(['addr', 'add', '198.18.30.3/29', 'dev', link.a.dev]);
    await y.ip(['addr', 'add', '198.18.30.4/29', 'dev', link.b.dev]);
    const auth = (secret: string) => ['--auth-type', 'sha1', '--auth-key-id', '7', '--auth-secret', secret];
    const timers = ['--tx-ms', '50', '--rx-ms', '50'];
    const goodX = Cli.start(x, [
      '--local',
      '198.18.30.1',
      '--peer',
      '198.18.30.2',
      ...timers,
      ...auth('right-key'),
    ]);
    const goodY = Cli.start(y, [
      '--local',
      '198.18.30.2',
      '--peer',
      '198.18.30.1',
      ...timers,
      ...auth('right-key'),
    ]);
    const badX = Cli.start(x, [
      '--local',
      '198.18.30.3',
      '--peer',
      '198.18.30.4',
      ...timers,
      ...auth('right-key'),
    ]);
    const badY = Cli.start(y, [
      '--local',
      '198.18.30.4',
      '--peer',
      '198.18.30.3',
      ...timers,
      ...auth('wrong-key'),
    ]);
    const withFrr = Cli.start(ours, [
      '--local',
      SH_AUTH.ours,
      '--peer',
      SH_AUTH.frr,
      ...timers,
      ...auth('right-key'),
    ]);
    try {
      await goodX.change('198.18.30.2', 'Up', 10_000);
      await goodY.change('198.18.30.1', 'Up', 10_000);
      // Both slow-start packets (1 s apart while Down) have long been exchanged by now.
      await sleep(2500);
      for (const c of [badX, badY, withFrr])
        assert.deepEqual(c.out.lines.filter(isState), [], 'never left Down');
      const bad = await badX.status();
      assert.ok((bad.stats.dropped['bad-digest'] ?? 0) > 0, 'wrong key counted as bad-digest');
      assert.equal(bad.sessions[0]?.state, 'Down');
      // FRR sends without authentication, which we refuse. FRR 8.4 ignores our auth section and
      // answers our Down with Init, but never hears an Init or Up back, so it stays short of Up.
      const frrAuth = await withFrr.status();
      assert.ok((frrAuth.stats.dropped['auth-missing'] ?? 0) > 0, 'FRR packets lack authentication');
      const frrPeer = await frr.peer({ peer: SH_AUTH.ours, local: SH_AUTH.frr });
      assert.ok(frrPeer && frrPeer.status !== 'up', `FRR peer is ${frrPeer?.status}`);
      assert.equal(
        goodX.out.lines.filter((l) => isState(l) && l.new === 'Down').length,
        0,
        'the keyed session stayed Up',
      );
    } finally {
      await Promise.all([goodX, goodY, badX, badY, withFrr].map((c) => c.stop()));
    }
  });
});
