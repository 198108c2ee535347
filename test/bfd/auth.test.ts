import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BfdAuthenticator, sequenceInWindow } from '../../src/bfd/auth.ts';
import type { BfdAuthConfig, BfdWireAuthType } from '../../src/bfd/auth.ts';
import { encodeControlPacket } from '../../src/bfd/codec.ts';
import { BfdState } from '../../src/bfd/constants.ts';
import type { BfdControlPacket } from '../../src/bfd/packet.ts';
import { decodeOk, newSession, packet, peerPacket } from './helpers.ts';

const TYPES: readonly { type: BfdWireAuthType; name: string; secret: string }[] = [
  { type: 1, name: 'Simple Password', secret: 'hunter2' },
  { type: 2, name: 'Keyed MD5', secret: 'md5-secret' },
  { type: 3, name: 'Meticulous Keyed MD5', secret: 'sixteen-byte-key' },
  { type: 4, name: 'Keyed SHA1', secret: 'twenty-byte-sha1-key' },
  { type: 5, name: 'Meticulous Keyed SHA1', secret: 'sha1' },
];

function pair(config: BfdAuthConfig, receiver: Partial<BfdAuthConfig> = {}) {
  return { tx: new BfdAuthenticator(config), rx: new BfdAuthenticator({ ...config, ...receiver }) };
}

function send(tx: BfdAuthenticator, p: BfdControlPacket = packet()) {
  const { bytes } = tx.sign(p);
  return { bytes, decoded: decodeOk(bytes) };
}

void describe('BFD authentication: sign and verify round trips (RFC 5880 6.7)', () => {
  for (const { type, name, secret } of TYPES) {
    void it(`${name} (type ${type}) verifies what it signs`, () => {
      const { tx, rx } = pair({ type, keys: [{ id: 7, secret }], initialSequence: 100 });
      for (let i = 0; i < 5; i++) {
        const { bytes, decoded } = send(tx);
        assert.equal(decoded.auth?.type, type);
        assert.equal(decoded.auth?.keyId, 7);
        assert.equal(bytes[1]! & 0x04, 0x04, 'A bit set');
        assert.deepEqual(rx.verify(bytes, decoded), { ok: true });
      }
    });
  }

  void it('signed packets decode to what sign() returns', () => {
    for (const { type, secret } of TYPES) {
      const tx = new BfdAuthenticator({ type, keys: [{ id: 1, secret }], initialSequence: 5 });
      const signed = tx.sign(packet());
      assert.deepEqual(decodeOk(signed.bytes), signed.packet);
    }
  });

  for (const { type, name, secret } of TYPES.filter((t) => t.type !== 1)) {
    void it(`${name}: digest is the hash of the packet with the zero-padded key in the digest field`, () => {
      const tx = new BfdAuthenticator({ type, keys: [{ id: 3, secret }], initialSequence: 0x01020304 });
      const { bytes } = tx.sign(packet());
      const md5 = type === 2 || type === 3;
      const dlen = md5 ? 16 : 20;
      assert.equal(bytes.length, 24 + (md5 ? 24 : 28));
      assert.equal(bytes[27], 0, 'reserved byte');
      assert.deepEqual([...bytes.subarray(28, 32)], [1, 2, 3, 4]);
      const withKey = new Uint8Array(bytes);
      withKey.fill(0, 32);
      withKey.set(Buffer.from(secret), 32);
      const expected = createHash(md5 ? 'md5' : 'sha1')
        .update(withKey)
        .digest();
      assert.deepEqual(Buffer.from(bytes.subarray(32)), expected);
      // The key itself never goes on the wire.
      assert.ok(!Buffer.from(bytes.subarray(32, 32 + dlen)).includes(Buffer.from(secret)));
    });
  }

  void it('increments the sequence on every packet, wrapping at 2^32', () => {
    for (const type of [2, 3, 4, 5] as const) {
      const tx = new BfdAuthenticator({ type, keys: [{ id: 1, secret: 'k' }], initialSequence: 0xffff_fffe });
      const seqs = [0, 1, 2].map(() => {
        const a = tx.sign(packet()).packet.auth;
        return a && a.type !== 1 ? a.sequence : -1;
      });
      assert.deepEqual(seqs, [0xffff_fffe, 0xffff_ffff, 0]);
    }
  });

  void it('starts from a random sequence when none is configured (RFC 5880 6.8.1)', () => {
    const starts = new Set(
      Array.from(
        { length: 8 },
        () => new BfdAuthenticator({ type: 5, keys: [{ id: 1, secret: 'k' }] }).transmitSequence,
      ),
    );
    assert.ok(starts.size > 1);
  });

  void it('accepts packets signed with any configured key id (key rollover)', () => {
    const rx = new BfdAuthenticator({
      type: 4,
      keys: [
        { id: 1, secret: 'old' },
        { id: 2, secret: 'new' },
      ],
    });
    for (const [id, secret] of [
      [1, 'old'],
      [2, 'new'],
    ] as const) {
      const tx = new BfdAuthenticator({ type: 4, keys: [{ id, secret }], initialSequence: 10 + id });
      const { bytes, decoded } = send(tx);
      assert.deepEqual(rx.verify(bytes, decoded), { ok: true });
    }
  });

  void it('signs with sendKeyId when given', () => {
    const tx = new BfdAuthenticator({
      type: 2,
      keys: [
        { id: 1, secret: 'a' },
        { id: 9, secret: 'b' },
      ],
      sendKeyId: 9,
    });
    assert.equal(tx.sign(packet()).packet.auth?.keyId, 9);
  });

  void it('takes string and binary secrets alike', () => {
    const tx = new BfdAuthenticator({ type: 3, keys: [{ id: 1, secret: 'abc' }], initialSequence: 1 });
    const rx = new BfdAuthenticator({
      type: 3,
      keys: [{ id: 1, secret: new Uint8Array([0x61, 0x62, 0x63]) }],
    });
    const { bytes, decoded } = send(tx);
    assert.deepEqual(rx.verify(bytes, decoded), { ok: true });
  });
});

void describe('BFD authentication: rejections', () => {
  const reasonOf = (r: ReturnType<BfdAuthenticator['verify']>) => (r.ok ? 'ok' : r.reason);

  void it('rejects a wrong password', () => {
    const { tx, rx } = pair(
      { type: 1, keys: [{ id: 1, secret: 'right' }] },
      { keys: [{ id: 1, secret: 'wrong' }] },
    );
    const { bytes, decoded } = send(tx);
    assert.equal(reasonOf(rx.verify(bytes, decoded)), 'wrong-password');
    // Same prefix, different length.
    const rx2 = new BfdAuthenticator({ type: 1, keys: [{ id: 1, secret: 'righter' }] });
    assert.equal(reasonOf(rx2.verify(bytes, decoded)), 'wrong-password');
  });

  for (const type of [2, 3, 4, 5] as const) {
    void it(`type ${type}: rejects a wrong key and a tampered packet`, () => {
      const { tx, rx } = pair(
        { type, keys: [{ id: 1, secret: 'right' }] },
        { keys: [{ id: 1, secret: 'wrong' }] },
      );
      const { bytes, decoded } = send(tx);
      assert.equal(reasonOf(rx.verify(bytes, decoded)), 'bad-digest');

      const good = new BfdAuthenticator({ type, keys: [{ id: 1, secret: 'right' }] });
      const tampered = new Uint8Array(bytes);
      tampered[2] = 9; // Detect Mult
      assert.equal(reasonOf(good.verify(tampered, decodeOk(tampered))), 'bad-digest');
      // The failures left no sequence behind.
      assert.equal(good.sequenceKnown, false);
      assert.deepEqual(good.verify(bytes, decoded), { ok: true });
    });
  }

  void it('rejects an unknown key id and a different auth type', () => {
    const tx = new BfdAuthenticator({ type: 4, keys: [{ id: 5, secret: 'k' }] });
    const { bytes, decoded } = send(tx);
    const rxOtherId = new BfdAuthenticator({ type: 4, keys: [{ id: 6, secret: 'k' }] });
    assert.equal(reasonOf(rxOtherId.verify(bytes, decoded)), 'unknown-key-id');
    const rxOtherType = new BfdAuthenticator({ type: 5, keys: [{ id: 5, secret: 'k' }] });
    assert.equal(reasonOf(rxOtherType.verify(bytes, decoded)), 'auth-type-mismatch');
    assert.equal(reasonOf(rxOtherType.verify(bytes, packet())), 'auth-missing');
  });

  void it('rejects raw bytes that do not match the decoded packet', () => {
    const { tx, rx } = pair({ type: 2, keys: [{ id: 1, secret: 'k' }] });
    const { bytes, decoded } = send(tx);
    assert.equal(reasonOf(rx.verify(bytes.subarray(0, 40), decoded)), 'raw-mismatch');
  });

  void it('keyed: a replayed older packet is rejected, a repeat of the latest is allowed', () => {
    const { tx, rx } = pair({ type: 2, keys: [{ id: 1, secret: 'k' }], initialSequence: 50 });
    const first = send(tx);
    const second = send(tx);
    assert.deepEqual(rx.verify(second.bytes, second.decoded), { ok: true });
    assert.deepEqual(
      rx.verify(second.bytes, second.decoded),
      { ok: true },
      'same seq is inside [last, last+3M]',
    );
    assert.equal(reasonOf(rx.verify(first.bytes, first.decoded)), 'sequence-out-of-window');
  });

  void it('meticulous: even a repeat of the latest packet is a replay', () => {
    for (const type of [3, 5] as const) {
      const { tx, rx } = pair({ type, keys: [{ id: 1, secret: 'k' }], initialSequence: 50 });
      const p = send(tx);
      assert.deepEqual(rx.verify(p.bytes, p.decoded), { ok: true });
      assert.equal(reasonOf(rx.verify(p.bytes, p.decoded)), 'sequence-out-of-window');
      const next = send(tx);
      assert.deepEqual(rx.verify(next.bytes, next.decoded), { ok: true });
    }
  });

  void it('rejects a jump beyond 3 * Detect Mult and accepts one up to it, across the wrap', () => {
    for (const type of [2, 3, 4, 5] as const) {
      const start = 0xffff_fffa;
      const rx = new BfdAuthenticator({ type, keys: [{ id: 1, secret: 'k' }] });
      const signAt = (seq: number) =>
        send(
          new BfdAuthenticator({ type, keys: [{ id: 1, secret: 'k' }], initialSequence: seq }),
          packet({ detectMult: 2 }),
        );
      const base = signAt(start);
      assert.deepEqual(rx.verify(base.bytes, base.decoded), { ok: true });
      const tooFar = signAt((start + 7) >>> 0);
      assert.equal(reasonOf(rx.verify(tooFar.bytes, tooFar.decoded)), 'sequence-out-of-window');
      const edge = signAt((start + 6) >>> 0); // 3 * 2 ahead, past 2^32
      assert.equal(edge.decoded.auth?.type !== 1 && edge.decoded.auth?.sequence, 0);
      assert.deepEqual(rx.verify(edge.bytes, edge.decoded), { ok: true });
      assert.equal(rx.receiveSequence, 0);
    }
  });

  void it('after resetReceiveSequence any sequence is accepted again', () => {
    const { tx, rx } = pair({ type: 5, keys: [{ id: 1, secret: 'k' }], initialSequence: 1000 });
    const late = send(tx);
    const restarted = send(
      new BfdAuthenticator({ type: 5, keys: [{ id: 1, secret: 'k' }], initialSequence: 3 }),
    );
    assert.deepEqual(rx.verify(late.bytes, late.decoded), { ok: true });
    assert.equal(reasonOf(rx.verify(restarted.bytes, restarted.decoded)), 'sequence-out-of-window');
    rx.resetReceiveSequence();
    assert.deepEqual(rx.verify(restarted.bytes, restarted.decoded), { ok: true });
  });

  void it('refuses bad configurations', () => {
    const bad: BfdAuthConfig[] = [
      { type: 1, keys: [] },
      { type: 1, keys: [{ id: 1, secret: '' }] },
      { type: 1, keys: [{ id: 1, secret: 'x'.repeat(17) }] },
      { type: 2, keys: [{ id: 1, secret: 'x'.repeat(17) }] },
      { type: 4, keys: [{ id: 1, secret: 'x'.repeat(21) }] },
      { type: 4, keys: [{ id: 256, secret: 'x' }] },
      {
        type: 4,
        keys: [
          { id: 1, secret: 'x' },
          { id: 1, secret: 'y' },
        ],
      },
      { type: 4, keys: [{ id: 1, secret: 'x' }], sendKeyId: 2 },
      { type: 4, keys: [{ id: 1, secret: 'x' }], initialSequence: 2 ** 32 },
      { type: 6 as BfdWireAuthType, keys: [{ id: 1, secret: 'x' }] },
    ];
    for (const config of bad)
      assert.throws(() => new BfdAuthenticator(config), RangeError, JSON.stringify(config));
    assert.doesNotThrow(() => new BfdAuthenticator({ type: 4, keys: [{ id: 1, secret: 'x'.repeat(20) }] }));
    assert.doesNotThrow(() => new BfdAuthenticator({ type: 2, keys: [{ id: 1, secret: 'x'.repeat(16) }] }));
  });
});

void describe('BFD authentication: sequence window (property)', () => {
  void it('accepts exactly the offsets [0, span] (keyed) or [1, span] (meticulous), modulo 2^32', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: -2000, max: 2000 }),
        fc.integer({ min: 3, max: 765 }),
        fc.boolean(),
        (last, offset, span, meticulous) => {
          const seq = (last + offset) >>> 0;
          const expected = offset <= span && offset >= (meticulous ? 1 : 0);
          assert.equal(sequenceInWindow(seq, last, span, meticulous), expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

void describe('BFD authentication inside a session (RFC 5880 6.8.6)', () => {
  const config: BfdAuthConfig = { type: 5, keys: [{ id: 1, secret: 'k' }], initialSequence: 1 };

  void it('discards an A-bit packet when no authentication is in use, and a bare one when it is', () => {
    const { session } = newSession();
    const signed = new BfdAuthenticator(config).sign(peerPacket({ state: BfdState.Down }));
    const r = session.verify(signed.bytes, signed.packet, 0);
    assert.equal(r.ok ? 'ok' : r.reason, 'auth-unexpected');

    const { session: authed } = newSession({ auth: config });
    const bare = peerPacket({ state: BfdState.Down });
    const r2 = authed.verify(encodeControlPacket(bare), bare, 0);
    assert.equal(r2.ok ? 'ok' : r2.reason, 'auth-missing');
    assert.equal(authed.snapshot().counters.rxAuthFailures, 1);
  });

  void it('signs what it sends, and handlePacket drops what fails authentication', () => {
    const { session } = newSession({ auth: config });
    const out = session.poll(0).send;
    assert.equal(out.length, 1);
    assert.equal(out[0]!.packet.auth?.type, 5);
    assert.deepEqual(new BfdAuthenticator(config).verify(out[0]!.bytes, decodeOk(out[0]!.bytes)), {
      ok: true,
    });

    const forged = new BfdAuthenticator({ ...config, keys: [{ id: 1, secret: 'other' }] }).sign(
      peerPacket({ state: BfdState.Down, yourDiscriminator: 0 }),
    );
    const r = session.handlePacket(forged.bytes, decodeOk(forged.bytes), 1);
    assert.equal(r.auth.ok, false);
    assert.equal(session.snapshot().remoteDiscr, 0, 'the forged packet did not reach the state machine');
    assert.equal(session.snapshot().counters.rxPackets, 0);
  });

  void it('forgets the receive sequence after two Detection Times of silence (RFC 5880 6.8.1)', () => {
    const { session } = newSession({ auth: config });
    const peer = new BfdAuthenticator({ ...config, initialSequence: 500 });
    const down = peerPacket({ state: BfdState.Down, yourDiscriminator: 0, desiredMinTxUs: 1_000_000 });
    const first = peer.sign(down);
    assert.ok(session.handlePacket(first.bytes, decodeOk(first.bytes), 0).auth.ok);
    // Detection Time: 3 * max(100 ms, 1 s advertised while Down) = 3 s.
    const restarted = new BfdAuthenticator({ ...config, initialSequence: 2 }).sign(down);
    assert.equal(session.verify(restarted.bytes, decodeOk(restarted.bytes), 5_999).ok, false);
    assert.equal(session.verify(restarted.bytes, decodeOk(restarted.bytes), 6_000).ok, true);
  });
});
