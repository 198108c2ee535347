import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeControlPacket, encodeControlPacket } from '../../src/bfd/codec.ts';
import { BfdState } from '../../src/bfd/constants.ts';
import type { DecodeErrorReason } from '../../src/bfd/packet.ts';
import { decodeOk, packet, validPacketArb } from './helpers.ts';

function expectReject(bytes: Uint8Array, reason: DecodeErrorReason): void {
  const r = decodeControlPacket(bytes);
  assert.equal(r.ok, false, `expected rejection ${reason}`);
  if (!r.ok) {
    assert.equal(r.reason, reason, r.detail);
    assert.ok(r.detail.length > 0);
  }
}

void describe('BFD codec: encoding (RFC 5880 4.1)', () => {
  void it('lays out the mandatory section field by field', () => {
    const bytes = encodeControlPacket(
      packet({
        diag: 3,
        state: BfdState.Init,
        detectMult: 5,
        myDiscriminator: 0x01020304,
        yourDiscriminator: 0x0a0b0c0d,
        desiredMinTxUs: 1_000_000,
        requiredMinRxUs: 250_000,
        requiredMinEchoRxUs: 7,
      }),
    );
    assert.deepEqual(
      [...bytes],
      [
        0x23, 0x80, 5, 24, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x03, 0xd0, 0x90,
        0, 0, 0, 7,
      ],
    );
  });

  void it('puts each flag in its own bit: P F C A D M', () => {
    const flagByte = (p: Parameters<typeof packet>[0]) => encodeControlPacket(packet({ state: 0, ...p }))[1];
    assert.equal(flagByte({}), 0);
    assert.equal(flagByte({ poll: true }), 0x20);
    assert.equal(flagByte({ final: true }), 0x10);
    assert.equal(flagByte({ controlPlaneIndependent: true }), 0x08);
    assert.equal(flagByte({ auth: { type: 1, keyId: 1, password: new Uint8Array([1]) } }), 0x04);
    assert.equal(flagByte({ demand: true }), 0x02);
    assert.equal(flagByte({ multipoint: true }), 0x01);
    assert.equal(flagByte({ state: BfdState.Up }), 0xc0);
  });

  void it('encodes a simple password section (RFC 5880 4.2)', () => {
    const bytes = encodeControlPacket(
      packet({ auth: { type: 1, keyId: 9, password: new TextEncoder().encode('secret') } }),
    );
    assert.equal(bytes.length, 24 + 3 + 6);
    assert.equal(bytes[3], 33);
    assert.deepEqual([...bytes.subarray(24, 27)], [1, 9, 9]);
    assert.equal(Buffer.from(bytes.subarray(27)).toString(), 'secret');
  });

  void it('encodes keyed MD5 and SHA1 sections with a zero reserved byte (RFC 5880 4.3, 4.4)', () => {
    const md5 = encodeControlPacket(
      packet({ auth: { type: 3, keyId: 2, sequence: 0xdeadbeef, digest: new Uint8Array(16).fill(0xee) } }),
    );
    assert.equal(md5.length, 48);
    assert.equal(md5[3], 48);
    assert.deepEqual([...md5.subarray(24, 32)], [3, 24, 2, 0, 0xde, 0xad, 0xbe, 0xef]);
    assert.ok(md5.subarray(32).every((b) => b === 0xee));

    const sha1 = encodeControlPacket(
      packet({ auth: { type: 4, keyId: 200, sequence: 1, digest: new Uint8Array(20).fill(0x11) } }),
    );
    assert.equal(sha1.length, 52);
    assert.deepEqual([...sha1.subarray(24, 32)], [4, 28, 200, 0, 0, 0, 0, 1]);
  });

  void it('refuses out-of-range fields with RangeError', () => {
    assert.throws(() => encodeControlPacket(packet({ diag: 32 })), RangeError);
    assert.throws(() => encodeControlPacket(packet({ detectMult: 256 })), RangeError);
    assert.throws(() => encodeControlPacket(packet({ myDiscriminator: 2 ** 32 })), RangeError);
    assert.throws(() => encodeControlPacket(packet({ desiredMinTxUs: -1 })), RangeError);
    assert.throws(() => encodeControlPacket(packet({ requiredMinRxUs: 1.5 })), RangeError);
    assert.throws(
      () => encodeControlPacket(packet({ auth: { type: 1, keyId: 1, password: new Uint8Array(17) } })),
      RangeError,
    );
    assert.throws(
      () => encodeControlPacket(packet({ auth: { type: 1, keyId: 1, password: new Uint8Array(0) } })),
      RangeError,
    );
    assert.throws(
      () =>
        encodeControlPacket(packet({ auth: { type: 2, keyId: 1, sequence: 0, digest: new Uint8Array(20) } })),
      RangeError,
    );
    assert.throws(
      () =>
        encodeControlPacket(
          packet({ auth: { type: 4, keyId: 256, sequence: 0, digest: new Uint8Array(20) } }),
        ),
      RangeError,
    );
  });
});

void describe('BFD codec: decoding and the checks of RFC 5880 6.8.6', () => {
  const good = () => encodeControlPacket(packet());

  void it('decodes every field back', () => {
    const p = packet({
      diag: 7,
      state: BfdState.AdminDown,
      poll: true,
      controlPlaneIndependent: true,
      demand: true,
      yourDiscriminator: 0,
      requiredMinEchoRxUs: 12345,
    });
    assert.deepEqual(decodeOk(encodeControlPacket(p)), p);
  });

  void it('accepts a Buffer, including one that is a view into a larger pool', () => {
    const pool = Buffer.alloc(100, 0xff);
    const bytes = good();
    pool.set(bytes, 13);
    const view = pool.subarray(13, 13 + bytes.length);
    assert.deepEqual(decodeOk(view), packet());
  });

  void it('ignores bytes past the Length field', () => {
    const bytes = new Uint8Array(40);
    bytes.set(good());
    assert.deepEqual(decodeOk(bytes), packet());
  });

  void it('copies auth bytes out of the receive buffer', () => {
    const bytes = Buffer.from(
      encodeControlPacket(packet({ auth: { type: 1, keyId: 1, password: new Uint8Array([5, 6]) } })),
    );
    const p = decodeOk(bytes);
    bytes.fill(0);
    assert.deepEqual(p.auth, { type: 1, keyId: 1, password: new Uint8Array([5, 6]) });
  });

  void it('rejects non-Uint8Array input', () => {
    for (const input of [undefined, null, 'x', 42, {}, [1, 2, 3], new ArrayBuffer(24)]) {
      expectReject(input as unknown as Uint8Array, 'invalid-input');
    }
  });

  void it('rejects buffers too short to hold a header', () => {
    expectReject(new Uint8Array(0), 'truncated');
    expectReject(good().subarray(0, 3), 'truncated');
  });

  void it('rejects version != 1', () => {
    for (const v of [0, 2, 7]) {
      const b = good();
      b[0] = (v << 5) | (b[0]! & 0x1f);
      expectReject(b, 'bad-version');
    }
  });

  void it('rejects a Length below 24, or below 26 with the A bit', () => {
    const b = good();
    b[3] = 23;
    expectReject(b, 'length-too-small');
    const a = new Uint8Array(30);
    a.set(good());
    a[1]! |= 0x04;
    a[3] = 25;
    expectReject(a, 'length-too-small');
  });

  void it('rejects a Length greater than the bytes received', () => {
    expectReject(good().subarray(0, 23), 'length-exceeds-payload');
    const b = good();
    b[3] = 25;
    expectReject(b, 'length-exceeds-payload');
  });

  void it('rejects Detect Mult 0', () => {
    const b = good();
    b[2] = 0;
    expectReject(b, 'zero-detect-mult');
  });

  void it('rejects the multipoint bit', () => {
    expectReject(encodeControlPacket(packet({ multipoint: true })), 'multipoint-set');
  });

  void it('rejects My Discriminator 0', () => {
    expectReject(encodeControlPacket(packet({ myDiscriminator: 0 })), 'zero-my-discriminator');
  });

  void it('rejects Your Discriminator 0 unless the state is Down or AdminDown', () => {
    expectReject(
      encodeControlPacket(packet({ state: BfdState.Up, yourDiscriminator: 0 })),
      'zero-your-discriminator',
    );
    expectReject(
      encodeControlPacket(packet({ state: BfdState.Init, yourDiscriminator: 0 })),
      'zero-your-discriminator',
    );
    assert.ok(
      decodeControlPacket(encodeControlPacket(packet({ state: BfdState.Down, yourDiscriminator: 0 }))).ok,
    );
    assert.ok(
      decodeControlPacket(encodeControlPacket(packet({ state: BfdState.AdminDown, yourDiscriminator: 0 })))
        .ok,
    );
  });

  void it('rejects an auth section whose Auth Len does not fill the packet', () => {
    const b = encodeControlPacket(
      packet({ auth: { type: 2, keyId: 1, sequence: 1, digest: new Uint8Array(16) } }),
    );
    const shorter = new Uint8Array(b);
    shorter[25] = 20;
    expectReject(shorter, 'auth-malformed');
    const longer = new Uint8Array(60);
    longer.set(b);
    longer[3] = 60;
    expectReject(longer, 'auth-malformed');
  });

  void it('rejects Auth Len inconsistent with the auth type', () => {
    // A keyed MD5 header on a SHA1-sized section, and the reverse.
    const sha = encodeControlPacket(
      packet({ auth: { type: 4, keyId: 1, sequence: 1, digest: new Uint8Array(20) } }),
    );
    sha[24] = 2;
    expectReject(sha, 'auth-malformed');
    const md5 = encodeControlPacket(
      packet({ auth: { type: 3, keyId: 1, sequence: 1, digest: new Uint8Array(16) } }),
    );
    md5[24] = 5;
    expectReject(md5, 'auth-malformed');
    // Simple password too short to hold a Key ID, with an empty password, and with 17 bytes.
    for (const authLen of [2, 3, 20]) {
      const b = new Uint8Array(24 + authLen);
      b.set(good());
      b[1]! |= 0x04;
      b[3] = 24 + authLen;
      b[24] = 1;
      b[25] = authLen;
      expectReject(b, 'auth-malformed');
    }
  });

  void it('rejects unknown auth types', () => {
    for (const type of [0, 6, 255]) {
      const b = new Uint8Array(30);
      b.set(good());
      b[1]! |= 0x04;
      b[3] = 30;
      b[24] = type;
      b[25] = 6;
      expectReject(b, 'auth-type-unknown');
    }
  });

  void it('checks in the RFC order: version before length before detect mult', () => {
    const b = good();
    b[0] = 0x40; // version 2
    b[2] = 0;
    b[3] = 1;
    expectReject(b, 'bad-version');
    b[0] = 0x20;
    expectReject(b, 'length-too-small');
    b[3] = 24;
    expectReject(b, 'zero-detect-mult');
  });
});

void describe('BFD codec: round trip (property)', () => {
  void it('decode(encode(p)) deep-equals p for any valid packet', () => {
    fc.assert(
      fc.property(validPacketArb, (p) => {
        const bytes = encodeControlPacket(p);
        assert.equal(bytes.length, bytes[3]);
        assert.deepEqual(decodeOk(bytes), p);
        // And through a Buffer, as the socket layer will hand it over.
        assert.deepEqual(decodeOk(Buffer.from(bytes)), p);
      }),
      { numRuns: 3000 },
    );
  });
});
