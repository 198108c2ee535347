// BfdRunner answering peers it was not told about: the acceptor, passive sessions, reaping and the
// cap. Runners and hand-driven peers on 127.0.0.x loopback addresses, lab ports, no TTL rule.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeControlPacket, encodeControlPacket } from '../../src/bfd/codec.ts';
import { BfdAuthType, BfdDiag, BfdState } from '../../src/bfd/constants.ts';
import type { BfdControlPacket } from '../../src/bfd/packet.ts';
import { BfdRunner } from '../../src/bfd/runner.ts';
import type {
  BfdAcceptedConfig,
  BfdAcceptRequest,
  BfdPeerConfig,
  BfdRunnerOptions,
  BfdRunnerStateChange,
} from '../../src/bfd/runner.ts';
import { packet } from './helpers.ts';

let nextPort = 45_000 + Math.floor(Math.random() * 5_000);
const labPort = () => nextPort++;

const GW = '127.0.0.1';
const TIMERS: BfdAcceptedConfig = { desiredMinTxUs: 50_000, requiredMinRxUs: 50_000, detectMult: 3 };

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function peerConfig(local: string, peer: string): BfdPeerConfig {
  return { local, peer, ...TIMERS };
}

/** A listening "gateway" runner on 127.0.0.1 whose acceptor records what it was asked. */
async function gateway(port: number, options: Partial<BfdRunnerOptions> = {}) {
  const asked: BfdAcceptRequest[] = [];
  const events: BfdRunnerStateChange[] = [];
  const runner = new BfdRunner({
    ttlCheck: 'off',
    singleHopPort: port,
    onStateChange: (c) => events.push(c),
    accept: (req) => {
      asked.push(req);
      return TIMERS;
    },
    ...options,
  });
  await runner.listen(GW);
  return { runner, asked, events };
}

/** A "worker" runner with active sessions to the gateway. */
function worker(port: number) {
  const events: BfdRunnerStateChange[] = [];
  const runner = new BfdRunner({
    ttlCheck: 'off',
    singleHopPort: port,
    onStateChange: (c) => events.push(c),
  });
  return { runner, events };
}

/** A peer driven by hand: a socket on the peer's BFD port that records what the runner sends it. */
async function handPeer(address: string, port: number) {
  const got: BfdControlPacket[] = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => {
    const d = decodeControlPacket(m);
    if (d.ok) got.push(d.packet);
  });
  await new Promise<void>((r) => sock.bind(port, address, r));
  const send = (p: Partial<BfdControlPacket>) =>
    new Promise<void>((resolve, reject) =>
      sock.send(
        encodeControlPacket(packet({ desiredMinTxUs: 50_000, requiredMinRxUs: 50_000, ...p })),
        port,
        GW,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  return { got, send, close: () => sock.close() };
}

void describe('BfdRunner acceptor', () => {
  void it('a worker session to a listening gateway comes Up through a passive accepted session', async () => {
    const port = labPort();
    const g = await gateway(port);
    const w = worker(port);
    try {
      await w.runner.addSession(peerConfig('127.0.0.21', GW));
      await until(() => w.events.some((e) => e.new === BfdState.Up), 5000, 'worker Up');
      await until(() => g.events.some((e) => e.new === BfdState.Up), 2000, 'gateway Up');
      const [info] = g.runner.sessions();
      assert.equal(g.runner.size, 1);
      assert.equal(info?.accepted, true);
      assert.equal(info?.snapshot.passive, true);
      assert.equal(info?.peer, '127.0.0.21');
      assert.equal(info?.local, GW);
      assert.equal(info?.snapshot.detectionTimeUs, 150_000);
      assert.deepEqual(
        g.events.map((e) => [e.old, e.new, e.accepted]),
        [
          [BfdState.Down, BfdState.Init, true],
          [BfdState.Init, BfdState.Up, true],
        ],
      );
      // The acceptor saw the first packet once: afterwards it belongs to the session.
      assert.equal(g.asked.length, 1);
      assert.deepEqual(
        [g.asked[0]?.peer, g.asked[0]?.local, g.asked[0]?.multihop, g.asked[0]?.packet.state],
        ['127.0.0.21', GW, false, BfdState.Down],
      );
      assert.equal(g.asked[0]?.packet.yourDiscriminator, 0);
      const s = g.runner.stats();
      assert.deepEqual([s.acceptedSessions, s.acceptedTotal, s.reapedTotal], [1, 1, 0]);
      assert.equal(s.dropped['peer-refused'] + s.dropped['accept-limit'], 0);
      // An Up session is never reaped, however long it runs.
      await sleep(300);
      assert.equal(g.runner.size, 1);
      assert.equal(w.events.filter((e) => e.new === BfdState.Down).length, 0, 'no Down on the worker');
    } finally {
      await w.runner.close({ adminDown: false });
      await g.runner.close({ adminDown: false });
    }
  });

  void it('a session accepted AdminDown tells the peer why, keeps it Down, and comes Up once enabled', async () => {
    const port = labPort();
    const g = await gateway(port, {
      accept: () => ({ ...TIMERS, adminDownDiag: BfdDiag.ConcatenatedPathDown }),
      acceptedReapMs: 250,
    });
    const w = worker(port);
    try {
      await w.runner.addSession(peerConfig('127.0.0.26', GW));
      await until(() => g.runner.size === 1, 5000, 'an accepted session');
      // The worker hears AdminDown with the reason and stays Down: it never comes Up meanwhile.
      const [wInfo] = w.runner.sessions();
      await until(
        () => w.runner.session(wInfo!.localDiscr)?.snapshot.remoteState === BfdState.AdminDown,
        3000,
        'the worker to hear AdminDown',
      );
      assert.equal(w.runner.session(wInfo!.localDiscr)?.snapshot.remoteDiag, BfdDiag.ConcatenatedPathDown);
      await sleep(400);
      assert.equal(w.events.filter((e) => e.new === BfdState.Up).length, 0, 'never Up while AdminDown');
      // Held on purpose, so not reaped, though it has been out of Up longer than acceptedReapMs.
      assert.equal(g.runner.size, 1, 'an AdminDown-held session is not reaped');
      const [gInfo] = g.runner.sessions();
      assert.equal(gInfo?.snapshot.state, BfdState.AdminDown);
      assert.equal(
        g.events.at(-1)?.diag,
        BfdDiag.ConcatenatedPathDown,
        'the last change is into AdminDown with the given diag',
      );
      // Enabled: the usual 3-way handshake brings both ends Up, and the change carries the peer's view.
      g.runner.enable(gInfo!.localDiscr);
      await until(() => w.events.some((e) => e.new === BfdState.Up), 5000, 'worker Up after enable');
      const up = w.events.find((e) => e.new === BfdState.Up)!;
      assert.notEqual(up.remoteState, BfdState.AdminDown);
      assert.equal(g.runner.stats().reapedTotal, 0);
    } finally {
      await w.runner.close({ adminDown: false });
      await g.runner.close({ adminDown: false });
    }
  });

  void it('a refused peer gets no session and is counted as peer-refused', async () => {
    const port = labPort();
    const g = await gateway(port, { accept: () => undefined });
    const w = worker(port);
    try {
      await w.runner.addSession(peerConfig('127.0.0.22', GW));
      await until(() => g.runner.stats().dropped['peer-refused'] >= 2, 5000, 'two refusals');
      assert.equal(g.runner.size, 0);
      assert.equal(g.runner.stats().acceptedTotal, 0);
      assert.equal(g.runner.stats().txPackets, 0, 'nothing is sent to a refused peer');
      assert.equal(w.runner.sessions()[0]?.snapshot.state, BfdState.Down);
      assert.equal(g.events.length + w.events.length, 0);
    } finally {
      await w.runner.close({ adminDown: false });
      await g.runner.close({ adminDown: false });
    }
  });

  void it('only a Down packet with Your Discriminator 0 can start a session (RFC 5880 6.8.6)', async () => {
    const port = labPort();
    const g = await gateway(port);
    const p = await handPeer('127.0.0.23', port);
    try {
      await p.send({ state: BfdState.Down, yourDiscriminator: 12345 });
      await p.send({ state: BfdState.Up, yourDiscriminator: 777 });
      await p.send({ state: BfdState.Init, yourDiscriminator: 0 });
      await p.send({ state: BfdState.AdminDown, yourDiscriminator: 0 });
      const dropped = () => g.runner.stats().dropped;
      await until(
        () =>
          dropped()['unknown-discriminator'] === 2 &&
          dropped()['zero-your-discriminator'] === 1 &&
          dropped()['unknown-peer'] === 1,
        2000,
        'the four packets dropped',
      );
      assert.equal(g.asked.length, 0, 'the acceptor is not even asked');
      assert.equal(g.runner.size, 0);
      // The packet that may start one does.
      await p.send({ state: BfdState.Down, yourDiscriminator: 0 });
      await until(() => g.runner.size === 1, 2000, 'accepted');
      assert.equal(g.asked.length, 1);
    } finally {
      p.close();
      await g.runner.close({ adminDown: false });
    }
  });

  void it('an accepted session authenticates the first packet before it is kept', async () => {
    const port = labPort();
    const sha1 = { type: BfdAuthType.KeyedSha1, keys: [{ id: 1, secret: 'k' }] };
    const g = await gateway(port, { accept: () => ({ ...TIMERS, auth: sha1 }) });
    const p = await handPeer('127.0.0.24', port);
    try {
      await p.send({ state: BfdState.Down, yourDiscriminator: 0 });
      await until(() => g.runner.stats().dropped['auth-missing'] === 1, 2000, 'auth-missing');
      assert.equal(g.runner.size, 0);
      assert.equal(g.runner.stats().acceptedTotal, 0);
    } finally {
      p.close();
      await g.runner.close({ adminDown: false });
    }
  });

  void it('a peer that goes away is reaped quietly once out of Up for acceptedReapMs', async () => {
    const port = labPort();
    const reapMs = 300;
    const g = await gateway(port, { acceptedReapMs: reapMs });
    const p = await handPeer('127.0.0.25', port);
    try {
      // The 3-way handshake by hand, so everything the gateway sends is seen.
      const mine = 0x5151;
      await p.send({ state: BfdState.Down, myDiscriminator: mine, yourDiscriminator: 0 });
      await until(() => p.got.some((x) => x.state === BfdState.Init), 2000, 'Init from the gateway');
      const theirs = p.got.find((x) => x.state === BfdState.Init)!.myDiscriminator;
      assert.equal(p.got[0]?.yourDiscriminator, mine);
      for (let i = 0; i < 5; i++) {
        await p.send({ state: BfdState.Up, myDiscriminator: mine, yourDiscriminator: theirs });
        await sleep(40);
      }
      assert.equal(g.runner.sessions()[0]?.snapshot.state, BfdState.Up);
      // Silence: Down after the Detection Time, then gone reapMs later.
      const silentAt = Date.now();
      await until(() => g.events.some((e) => e.new === BfdState.Down), 1000, 'gateway Down');
      await until(() => g.runner.size === 0, 2000, 'reaped');
      const took = Date.now() - silentAt;
      assert.ok(took >= reapMs, `reaped after ${took} ms`);
      assert.ok(took < 150 + reapMs + 300, `reaped after ${took} ms`);
      const s = g.runner.stats();
      assert.deepEqual([s.acceptedSessions, s.acceptedTotal, s.reapedTotal], [0, 1, 1]);
      assert.ok(!p.got.some((x) => x.state === BfdState.AdminDown), 'no AdminDown');
      assert.ok(!g.events.some((e) => e.new === BfdState.AdminDown));
      // A passive session that lost its peer stops sending; nothing more arrives after the reap.
      const n = p.got.length;
      await sleep(200);
      assert.equal(p.got.length, n);
      // The peer comes back: a new session, as if it had never been there.
      await p.send({ state: BfdState.Down, myDiscriminator: mine, yourDiscriminator: 0 });
      await until(() => g.runner.size === 1, 2000, 'accepted again');
      assert.notEqual(g.runner.sessions()[0]?.localDiscr, theirs);
    } finally {
      p.close();
      await g.runner.close({ adminDown: false });
    }
  });

  void it('holds at most maxAccepted sessions; the rest are counted as accept-limit until one is reaped', async () => {
    const port = labPort();
    const g = await gateway(port, { maxAccepted: 2, acceptedReapMs: 200 });
    const w = worker(port);
    try {
      const d1 = await w.runner.addSession(peerConfig('127.0.0.31', GW));
      await w.runner.addSession(peerConfig('127.0.0.32', GW));
      await until(
        () => g.runner.sessions().filter((s) => s.snapshot.state === BfdState.Up).length === 2,
        5000,
        'two Up',
      );
      await w.runner.addSession(peerConfig('127.0.0.33', GW));
      await until(() => g.runner.stats().dropped['accept-limit'] >= 1, 3000, 'accept-limit drop');
      assert.equal(g.runner.size, 2);
      assert.ok(!g.runner.sessions().some((s) => s.peer === '127.0.0.33'));
      // One worker leaves without a word: its slot is freed by the reap, and the third gets in.
      w.runner.removeSession(d1);
      await until(() => g.runner.sessions().some((s) => s.peer === '127.0.0.33'), 4000, 'third accepted');
      assert.ok(!g.runner.sessions().some((s) => s.peer === '127.0.0.31'));
      assert.equal(g.runner.stats().reapedTotal, 1);
      assert.ok(g.runner.size <= 2);
    } finally {
      await w.runner.close({ adminDown: false });
      await g.runner.close({ adminDown: false });
    }
  });

  void it('a configured session for the same peer takes over from an accepted one', async () => {
    const port = labPort();
    const g = await gateway(port);
    const w = worker(port);
    try {
      await w.runner.addSession(peerConfig('127.0.0.26', GW));
      await until(() => g.runner.stats().acceptedSessions === 1, 5000, 'accepted');
      await g.runner.addSession(peerConfig(GW, '127.0.0.26'));
      assert.equal(g.runner.size, 1);
      assert.equal(g.runner.sessions()[0]?.accepted, false);
      assert.equal(g.runner.stats().acceptedSessions, 0);
      await until(() => g.runner.sessions()[0]?.snapshot.state === BfdState.Up, 5000, 'configured Up');
    } finally {
      await w.runner.close({ adminDown: false });
      await g.runner.close({ adminDown: false });
    }
  });

  void it('without an acceptor unknown peers are dropped as before, and listen checks its address', async () => {
    const port = labPort();
    const g = new BfdRunner({ ttlCheck: 'off', singleHopPort: port });
    const w = worker(port);
    try {
      await g.listen(GW);
      await assert.rejects(g.listen('not-an-ip'), /not an IP address/);
      await w.runner.addSession(peerConfig('127.0.0.27', GW));
      await until(() => g.stats().dropped['unknown-peer'] >= 1, 3000, 'unknown-peer');
      assert.equal(g.size, 0);
      assert.equal(g.stats().transports.length, 1);
    } finally {
      await w.runner.close({ adminDown: false });
      await g.close({ adminDown: false });
    }
  });
});
