// The socket layer: the deadline heap, BfdTransport (decode, drop counters, source ports, TTL
// enforcement with nftables) and BfdRunner (many sessions, one timer, demux, auth, AdminDown).
// Loopback tests run anywhere; TTL tests need root and run in network namespaces.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { encodeControlPacket } from '../../src/bfd/codec.ts';
import {
  BFD_SOURCE_PORT_MAX,
  BFD_SOURCE_PORT_MIN,
  BfdAuthType,
  BfdDiag,
  BfdState,
} from '../../src/bfd/constants.ts';
import { DeadlineHeap } from '../../src/bfd/deadline-heap.ts';
import type { HeapItem } from '../../src/bfd/deadline-heap.ts';
import type { BfdControlPacket } from '../../src/bfd/packet.ts';
import { BfdRunner } from '../../src/bfd/runner.ts';
import type { BfdPeerConfig, BfdRunnerStateChange } from '../../src/bfd/runner.ts';
import { BfdTransport, BfdTransportError } from '../../src/bfd/transport.ts';
import type { BfdTransportCounters } from '../../src/bfd/transport.ts';
import { listLabNamespaces, NetLab } from '../../src/testing/netns.ts';
import type { Netns } from '../../src/testing/netns.ts';
import { packet } from './helpers.ts';

// Lab ports, so loopback tests never collide with a real BFD daemon on 3784 (or each other).
let nextPort = 40_000 + Math.floor(Math.random() * 5_000);
const labPort = () => nextPort++;

function udpSocket(address: string): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, address, () => resolve(s));
  });
}

function sendRaw(s: dgram.Socket, bytes: Uint8Array, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) =>
    s.send(bytes, port, address, (err) => (err ? reject(err) : resolve())),
  );
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

void describe('DeadlineHeap', () => {
  interface Item extends HeapItem {
    id: number;
  }
  void it('always yields the earliest deadline, through sets, moves and deletes (model check)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.nat(30), at: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.nat(30) }),
      fc.record({ kind: fc.constant('pop' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new DeadlineHeap<Item>();
        const items = Array.from({ length: 31 }, (_, id): Item => ({ id, heapIndex: -1, deadline: 0 }));
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            heap.set(items[o.id]!, o.at);
            model.set(o.id, o.at);
          } else if (o.kind === 'delete') {
            assert.equal(heap.delete(items[o.id]!), model.delete(o.id));
          } else {
            const top = heap.pop();
            if (model.size === 0) assert.equal(top, undefined);
            else {
              const min = Math.min(...model.values());
              assert.ok(top);
              assert.equal(model.get(top.id), min);
              model.delete(top.id);
            }
          }
          assert.equal(heap.size, model.size);
          for (const it of items) assert.equal(heap.has(it), model.has(it.id));
        }
      }),
    );
  });
});

void describe('BfdTransport on loopback', () => {
  const received: Array<{ packet: BfdControlPacket; from: { address: string; port: number } }> = [];
  let transport: BfdTransport;
  let sender: dgram.Socket;
  let handlerMode: 'accept' | 'throw' | 'unknown' = 'accept';
  const port = labPort();

  before(async () => {
    transport = await BfdTransport.open({
      localAddress: '127.0.0.1',
      mode: 'single-hop',
      port,
      ttlCheck: 'off',
      onPacket: (p, _raw, from) => {
        if (handlerMode === 'throw') throw new Error('handler bug');
        if (handlerMode === 'unknown') return 'unknown-discriminator';
        received.push({ packet: p, from });
        return undefined;
      },
    });
    sender = await udpSocket('127.0.0.1');
  });
  after(async () => {
    sender.close();
    await transport.close();
  });

  const counters = (): BfdTransportCounters => transport.counters;

  void it('sends from one source port in 49152-65535 (RFC 5881 4) and delivers decoded packets', async () => {
    assert.ok(transport.sourcePort >= BFD_SOURCE_PORT_MIN && transport.sourcePort <= BFD_SOURCE_PORT_MAX);
    const peer = await BfdTransport.open({
      localAddress: '127.0.0.2',
      mode: 'single-hop',
      port,
      ttlCheck: 'off',
      onPacket: () => undefined,
    });
    try {
      peer.send(encodeControlPacket(packet({ myDiscriminator: 77 })), '127.0.0.1');
      peer.send(encodeControlPacket(packet({ myDiscriminator: 78 })), '127.0.0.1');
      await until(() => received.length >= 2, 2000, 'two packets');
      assert.deepEqual(
        received.map((r) => r.packet.myDiscriminator),
        [77, 78],
      );
      for (const r of received) assert.deepEqual(r.from, { address: '127.0.0.2', port: peer.sourcePort });
      assert.equal(peer.counters.txPackets, 2);
      assert.equal(counters().rxAccepted, 2);
    } finally {
      await peer.close();
    }
  });

  void it('counts malformed datagrams by decoder reason and drops them', async () => {
    const before = { ...counters().dropped };
    const good = encodeControlPacket(packet());
    const badVersion = new Uint8Array(good);
    badVersion[0] = (2 << 5) | (badVersion[0]! & 0x1f);
    const zeroMult = new Uint8Array(good);
    zeroMult[2] = 0;
    await sendRaw(sender, new Uint8Array([1, 2, 3]), port, '127.0.0.1');
    await sendRaw(sender, badVersion, port, '127.0.0.1');
    await sendRaw(sender, zeroMult, port, '127.0.0.1');
    await until(() => counters().dropped['zero-detect-mult'] > before['zero-detect-mult'], 2000, 'drops');
    assert.equal(counters().dropped.truncated - before.truncated, 1);
    assert.equal(counters().dropped['bad-version'] - before['bad-version'], 1);
    assert.equal(counters().dropped['zero-detect-mult'] - before['zero-detect-mult'], 1);
  });

  void it('counts what the handler rejects, and survives a handler that throws', async () => {
    const before = { ...counters().dropped };
    handlerMode = 'unknown';
    await sendRaw(sender, encodeControlPacket(packet()), port, '127.0.0.1');
    await until(
      () => counters().dropped['unknown-discriminator'] > before['unknown-discriminator'],
      2000,
      'drop',
    );
    handlerMode = 'throw';
    await sendRaw(sender, encodeControlPacket(packet()), port, '127.0.0.1');
    await until(() => counters().dropped['handler-error'] > before['handler-error'], 2000, 'handler-error');
    handlerMode = 'accept';
    const n = received.length;
    await sendRaw(sender, encodeControlPacket(packet()), port, '127.0.0.1');
    await until(() => received.length > n, 2000, 'still receiving');
  });

  void it('reports bind failures clearly', async () => {
    await assert.rejects(
      BfdTransport.open({
        localAddress: '127.0.0.1',
        mode: 'single-hop',
        port,
        ttlCheck: 'off',
        onPacket: () => undefined,
      }),
      (err: Error) => err instanceof BfdTransportError && /another BFD daemon/.test(err.message),
    );
    await assert.rejects(
      BfdTransport.open({
        localAddress: '198.18.255.254',
        mode: 'single-hop',
        port,
        ttlCheck: 'off',
        onPacket: () => undefined,
      }),
      /not configured on this host/,
    );
    await assert.rejects(
      BfdTransport.open({
        localAddress: '127.0.0.1',
        mode: 'single-hop',
        port,
        minTtl: 10,
        onPacket: () => undefined,
      }),
      /multihop only/,
    );
  });
});

/** Two runners on loopback, a on 127.0.0.1 and b on 127.0.0.x, one session per peer address. */
function peerConfig(local: string, peer: string, extra: Partial<BfdPeerConfig> = {}): BfdPeerConfig {
  return { local, peer, desiredMinTxUs: 50_000, requiredMinRxUs: 50_000, detectMult: 3, ...extra };
}

function runnerPair(port: number) {
  const events = { a: [] as BfdRunnerStateChange[], b: [] as BfdRunnerStateChange[] };
  const a = new BfdRunner({ ttlCheck: 'off', singleHopPort: port, onStateChange: (c) => events.a.push(c) });
  const b = new BfdRunner({ ttlCheck: 'off', singleHopPort: port, onStateChange: (c) => events.b.push(c) });
  return { a, b, events };
}

void describe('BfdRunner on loopback', () => {
  void it('brings many sessions Up on one socket pair and one timer, without false Downs', async () => {
    const { a, b, events } = runnerPair(labPort());
    const n = 200;
    const peerAddr = (i: number) => `127.0.${1 + Math.floor(i / 250)}.${(i % 250) + 2}`;
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    try {
      for (let i = 0; i < n; i++) {
        await a.addSession(peerConfig('127.0.0.1', peerAddr(i)));
        await b.addSession(peerConfig(peerAddr(i), '127.0.0.1'));
      }
      // a: one transport for all 200 sessions; at most one timer per runner.
      assert.equal(a.stats().transports.length, 1);
      const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      assert.ok(timers - timersBefore <= 2, `${timers - timersBefore} timers for two runners`);
      await until(() => a.sessions().every((s) => s.snapshot.state === BfdState.Up), 5000, 'all Up');
      const wakeupsBefore = a.stats().timerWakeups;
      const pollsBefore = a.stats().timerPolls;
      await sleep(1500);
      const s = a.stats();
      assert.equal(events.a.filter((e) => e.new === BfdState.Down).length, 0, 'no Down on a');
      assert.equal(events.b.filter((e) => e.new === BfdState.Down).length, 0, 'no Down on b');
      for (const info of a.sessions()) {
        assert.equal(info.snapshot.txIntervalUs, 50_000);
        assert.equal(info.snapshot.detectionTimeUs, 150_000);
      }
      // One wakeup serves several sessions: the heap batches what is due together.
      assert.ok(s.timerPolls - pollsBefore > s.timerWakeups - wakeupsBefore, 'batched wakeups');
      assert.equal(s.dropped['unknown-peer'], 0);
      assert.equal(s.txErrors, 0);
    } finally {
      await a.close({ adminDown: false });
      await b.close({ adminDown: false });
    }
  });

  void it('counts unknown discriminators and unknown peers, and AdminDown on close reaches the peer', async () => {
    const port = labPort();
    const { a, b, events } = runnerPair(port);
    const sender = await udpSocket('127.0.0.9');
    try {
      const da = await a.addSession(peerConfig('127.0.0.1', '127.0.0.3'));
      await b.addSession(peerConfig('127.0.0.3', '127.0.0.1'));
      await until(() => events.a.some((e) => e.new === BfdState.Up), 5000, 'Up');
      await sendRaw(sender, encodeControlPacket(packet({ yourDiscriminator: 12345 })), port, '127.0.0.1');
      await sendRaw(
        sender,
        encodeControlPacket(packet({ state: BfdState.Down, yourDiscriminator: 0 })),
        port,
        '127.0.0.1',
      );
      await until(() => a.stats().dropped['unknown-peer'] === 1, 2000, 'unknown-peer drop');
      assert.equal(a.stats().dropped['unknown-discriminator'], 1);
      assert.equal(a.session(da)?.snapshot.state, BfdState.Up, 'stray packets change nothing');
      await until(() => events.b.some((e) => e.new === BfdState.Up), 5000, 'b Up');

      await a.close();
      assert.deepEqual(events.a.map((e) => [e.old, e.new, e.diag]).at(-1), [
        BfdState.Up,
        BfdState.AdminDown,
        BfdDiag.AdministrativelyDown,
      ]);
      await until(() => events.b.some((e) => e.new === BfdState.Down), 2000, 'b Down');
      const down = events.b.find((e) => e.new === BfdState.Down)!;
      assert.equal(down.diag, BfdDiag.NeighborSignaledSessionDown);
    } finally {
      sender.close();
      await a.close();
      await b.close({ adminDown: false });
    }
  });

  void it('authenticates (keyed SHA1) and counts a wrong key as bad-digest without coming Up', async () => {
    const good = runnerPair(labPort());
    const bad = runnerPair(labPort());
    const sha1 = (secret: string) => ({ type: BfdAuthType.KeyedSha1, keys: [{ id: 3, secret }] });
    try {
      await good.a.addSession(peerConfig('127.0.0.1', '127.0.0.4', { auth: sha1('k3y') }));
      await good.b.addSession(peerConfig('127.0.0.4', '127.0.0.1', { auth: sha1('k3y') }));
      await bad.a.addSession(peerConfig('127.0.0.1', '127.0.0.5', { auth: sha1('k3y') }));
      await bad.b.addSession(peerConfig('127.0.0.5', '127.0.0.1', { auth: sha1('other') }));
      await until(() => good.events.a.some((e) => e.new === BfdState.Up), 5000, 'good Up');
      await until(() => bad.a.stats().dropped['bad-digest'] >= 2, 5000, 'bad digests');
      assert.equal(bad.events.a.length + bad.events.b.length, 0, 'the wrong key never leaves Down');
      assert.equal(good.a.stats().dropped['bad-digest'], 0);
    } finally {
      for (const r of [good.a, good.b, bad.a, bad.b]) await r.close({ adminDown: false });
    }
  });
});

void describe('BfdRunner after an event-loop stall', () => {
  void it('reads queued packets before judging timeouts: a stall is no false Down, a dead peer still is', async () => {
    const port = labPort();
    const n = 20;
    const peerAddr = (i: number) => `127.0.3.${i + 2}`;
    // The peer runs in another process, so it keeps sending while this one is blocked.
    const peer = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { BfdRunner } = await import(${JSON.stringify(new URL('../../src/bfd/runner.ts', import.meta.url).pathname)});
         const r = new BfdRunner({ ttlCheck: 'off', singleHopPort: ${port} });
         for (let i = 0; i < ${n}; i++) await r.addSession({ local: '127.0.3.' + (i + 2), peer: '127.0.0.1', desiredMinTxUs: 100000, requiredMinRxUs: 100000, detectMult: 3 });
         process.stdout.write('ready\\n');`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const events: BfdRunnerStateChange[] = [];
    const a = new BfdRunner({ ttlCheck: 'off', singleHopPort: port, onStateChange: (c) => events.push(c) });
    try {
      await new Promise<void>((res) => peer.stdout.once('data', () => res()));
      // 100 ms intervals leave room for the peer process itself to be descheduled on a busy machine.
      // Our Detect Mult 20 gives the peer a 2 s Detection Time for us, so our stall does not make
      // it declare us Down; ours for the peer is 3 x 100 = 300 ms.
      for (let i = 0; i < n; i++)
        await a.addSession(
          peerConfig('127.0.0.1', peerAddr(i), {
            detectMult: 20,
            desiredMinTxUs: 100_000,
            requiredMinRxUs: 100_000,
          }),
        );
      await until(
        () => a.sessions().every((s) => s.snapshot.detectionTimeUs === 300_000),
        5000,
        'Up at 100 ms',
      );
      await sleep(300);
      const mark = events.length;
      // Block the event loop for more than twice our 300 ms Detection Time.
      const end = performance.now() + 700;
      while (performance.now() < end) {
        // busy
      }
      await sleep(500);
      assert.deepEqual(
        events.slice(mark).map((e) => [e.peer, e.new, e.diag]),
        [],
        'no state change from our own stall',
      );
      assert.ok(a.stats().maxTimerLateMs >= 500, 'the stall happened');
      assert.ok(a.stats().drainRounds > 0, 'queued packets were read before judging timeouts');

      // A peer that really goes silent during a stall is still declared Down.
      const exited = new Promise((res) => peer.once('exit', res));
      peer.kill('SIGKILL');
      await exited;
      const end2 = performance.now() + 700;
      while (performance.now() < end2) {
        // busy
      }
      await until(() => events.slice(mark).length >= n, 2000, 'Downs after the peer died');
      assert.deepEqual(
        new Set(events.slice(mark).map((e) => `${e.new}/${e.diag}`)),
        new Set([`${BfdState.Down}/${BfdDiag.ControlDetectionTimeExpired}`]),
      );
    } finally {
      peer.kill();
      await a.close({ adminDown: false });
    }
  });
});

// --- TTL enforcement, in network namespaces ---

const labUnavailable = await NetLab.available();

/** A transport in a namespace, driven over IPC: reports packets, counters and TTL drops. */
const RECEIVER = `
const { BfdTransport } = await import(process.env.MCGW_SRC + '/bfd/transport.ts');
const env = process.env;
const t = await BfdTransport.open({
  localAddress: env.LOCAL,
  mode: env.MODE,
  ...(env.MIN_TTL ? { minTtl: Number(env.MIN_TTL) } : {}),
  onPacket: (p, _raw, from) => { process.send({ type: 'packet', discr: p.myDiscriminator, from }); return undefined; },
});
process.send({ type: 'ready', sourcePort: t.sourcePort, ttlEnforced: t.ttlEnforced });
process.on('message', async (m) => {
  if (m.op === 'send') t.send(Buffer.from(m.hex, 'hex'), m.to);
  if (m.op === 'stats') process.send({ type: 'stats', counters: t.counters, ttlDrops: await t.readTtlDrops() });
  if (m.op === 'close') { await t.close(); process.send({ type: 'closed' }); }
  if (m.op === 'crash') setImmediate(() => { throw new Error('simulated crash'); });
});
// Like the CLI: a signal closes the transport, which removes its nftables table.
process.once('SIGTERM', () => void t.close().then(() => process.exit(0)));
`;

/** Sends one datagram with a given TTL from a namespace, then exits. */
const SENDER = `
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
const env = process.env;
const s = dgram.createSocket('udp4');
s.bind(0, env.FROM, () => {
  s.setTTL(Number(env.TTL));
  s.send(Buffer.from(env.HEX, 'hex'), Number(env.PORT), env.TO, (err) => { s.close(); process.exitCode = err ? 1 : 0; });
});
`;

interface Agent {
  child: ChildProcess;
  messages: Array<Record<string, unknown>>;
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  request(op: Record<string, unknown>, reply: string): Promise<Record<string, unknown>>;
}

function startAgent(ns: Netns, env: Record<string, string>, quiet = false): Agent {
  const child = ns.spawnNode(['--input-type=module', '-e', RECEIVER], {
    stdio: ['ignore', 'inherit', quiet ? 'ignore' : 'inherit', 'ipc'],
    env: { ...process.env, MCGW_SRC: new URL('../../src', import.meta.url).pathname, ...env },
  });
  const messages: Array<Record<string, unknown>> = [];
  let seen = 0;
  child.on('message', (m) => messages.push(m as Record<string, unknown>));
  const next = async (type: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = messages.findIndex((m, j) => j >= seen && m.type === type);
      if (i >= 0) {
        seen = i + 1;
        return messages[i]!;
      }
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`no "${type}" message from agent`);
      await sleep(10);
    }
  };
  return {
    child,
    messages,
    next,
    request: (op, reply) => {
      child.send(op);
      return next(reply);
    },
  };
}

async function stopAgent(a: Agent): Promise<void> {
  if (a.child.exitCode !== null || a.child.signalCode !== null) return;
  const exited = new Promise((res) => a.child.once('exit', res));
  a.child.kill('SIGTERM');
  await exited;
}

async function sendWithTtl(
  ns: Netns,
  from: string,
  to: string,
  port: number,
  ttl: number,
  bytes: Uint8Array,
) {
  const child = ns.spawnNode(['--input-type=module', '-e', SENDER], {
    stdio: 'inherit',
    env: {
      ...process.env,
      FROM: from,
      TO: to,
      PORT: String(port),
      TTL: String(ttl),
      HEX: Buffer.from(bytes).toString('hex'),
    },
  });
  const code = await new Promise((res) => child.once('exit', res));
  assert.equal(code, 0, 'sender exited cleanly');
}

async function mcgwTables(ns: Netns): Promise<string[]> {
  const { stdout } = await ns.exec('nft', ['list', 'tables']);
  return stdout.split('\n').filter((l) => l.includes('mcgw_bfd_'));
}

void describe(
  'received TTL enforcement with nftables (GTSM, RFC 5881 5 / RFC 5883 5)',
  { skip: labUnavailable },
  () => {
    let lab: NetLab;
    let nsA: Netns;
    let nsB: Netns;
    before(async () => {
      lab = await NetLab.create();
      nsA = await lab.namespace('a');
      nsB = await lab.namespace('b');
      await lab.veth(nsA, '198.18.10.1/24', nsB, '198.18.10.2/24');
    });
    after(async () => {
      await lab.cleanup();
      const left = (await listLabNamespaces()).filter((n) => n.includes(lab.id));
      assert.deepEqual(left, [], 'no namespaces left behind');
    });

    void it('single-hop: accepts TTL 255 (our own sends), drops and counts anything else', async () => {
      const a = startAgent(nsA, { LOCAL: '198.18.10.1', MODE: 'single-hop' });
      const b = startAgent(nsB, { LOCAL: '198.18.10.2', MODE: 'single-hop' });
      try {
        const ready = await a.next('ready');
        assert.equal(ready.ttlEnforced, true);
        const readyB = await b.next('ready');
        assert.equal((await mcgwTables(nsA)).length, 1, 'one nftables table while open');

        // Our transport sends with TTL 255 (setTTL), so the rule lets it through.
        b.child.send({
          op: 'send',
          to: '198.18.10.1',
          hex: Buffer.from(encodeControlPacket(packet({ myDiscriminator: 255 }))).toString('hex'),
        });
        const got = await a.next('packet');
        assert.equal(got.discr, 255);
        assert.deepEqual(got.from, { address: '198.18.10.2', port: readyB.sourcePort });

        for (const ttl of [254, 64, 1]) {
          await sendWithTtl(
            nsB,
            '198.18.10.2',
            '198.18.10.1',
            3784,
            ttl,
            encodeControlPacket(packet({ myDiscriminator: ttl })),
          );
        }
        await sendWithTtl(
          nsB,
          '198.18.10.2',
          '198.18.10.1',
          3784,
          255,
          encodeControlPacket(packet({ myDiscriminator: 1255 })),
        );
        const last = await a.next('packet');
        assert.equal(last.discr, 1255, 'only the TTL 255 packet arrived');
        const stats = await a.request({ op: 'stats' }, 'stats');
        assert.equal(stats.ttlDrops, 3);
        assert.equal((stats.counters as BfdTransportCounters).rxAccepted, 2);

        await a.request({ op: 'close' }, 'closed');
        assert.deepEqual(await mcgwTables(nsA), [], 'the rule goes with the transport');
      } finally {
        await Promise.all([stopAgent(a), stopAgent(b)]);
      }
    });

    void it('multihop: drops only TTLs below the configured minimum', async () => {
      const a = startAgent(nsA, { LOCAL: '198.18.10.1', MODE: 'multihop', MIN_TTL: '250' });
      try {
        await a.next('ready');
        for (const ttl of [249, 250, 254]) {
          await sendWithTtl(
            nsB,
            '198.18.10.2',
            '198.18.10.1',
            4784,
            ttl,
            encodeControlPacket(packet({ myDiscriminator: ttl })),
          );
        }
        await a.next('packet');
        await a.next('packet');
        const stats = await a.request({ op: 'stats' }, 'stats');
        assert.equal(stats.ttlDrops, 1);
        assert.deepEqual(
          a.messages.filter((m) => m.type === 'packet').map((m) => m.discr),
          [250, 254],
        );
      } finally {
        await stopAgent(a);
      }
    });

    void it('removes its nftables table when the process dies of an uncaught exception', async () => {
      const a = startAgent(nsA, { LOCAL: '198.18.10.1', MODE: 'single-hop' }, true);
      await a.next('ready');
      assert.equal((await mcgwTables(nsA)).length, 1);
      a.child.send({ op: 'crash' });
      await new Promise((res) => (a.child.exitCode !== null ? res(null) : a.child.once('exit', res)));
      assert.notEqual(a.child.exitCode, 0);
      assert.deepEqual(await mcgwTables(nsA), []);
    });
  },
);
