// Fuzzing of the decoder: 100,000 inputs in all (random bytes and mutated valid packets). The
// decoder must never throw, must name every rejection from the closed reason set, and anything it
// accepts must satisfy RFC 5880 6.8.6 and re-encode to itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeControlPacket, encodeControlPacket } from '../../src/bfd/codec.ts';
import { BfdState } from '../../src/bfd/constants.ts';
import { DECODE_ERROR_REASONS } from '../../src/bfd/packet.ts';
import type { DecodeResult } from '../../src/bfd/packet.ts';
import { validPacketArb } from './helpers.ts';

const reasons = new Set<string>(DECODE_ERROR_REASONS);
let inputs = 0; // counted across the tests below, which node:test runs in order

function checkResult(r: DecodeResult): void {
  if (!r.ok) {
    assert.ok(reasons.has(r.reason), `unknown reason ${String(r.reason)}`);
    assert.equal(typeof r.detail, 'string');
    assert.ok(r.detail.length > 0);
    return;
  }
  const p = r.packet;
  assert.ok(p.detectMult >= 1);
  assert.notEqual(p.myDiscriminator, 0);
  assert.equal(p.multipoint, false);
  assert.ok(p.yourDiscriminator !== 0 || p.state === BfdState.Down || p.state === BfdState.AdminDown);
  // Whatever was accepted is a valid packet, so it must survive a round trip unchanged.
  const again = decodeControlPacket(encodeControlPacket(p));
  assert.ok(again.ok);
  assert.deepEqual(again.packet, p);
}

function decodeChecked(bytes: Uint8Array): DecodeResult {
  inputs++;
  const r = decodeControlPacket(bytes);
  checkResult(r);
  return r;
}

const encodedValid = validPacketArb.map((p) => encodeControlPacket(p));

void describe('BFD codec fuzzing', () => {
  void it('random byte strings, raw and with a plausible header (about 48,000)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80, size: 'max' }), (bytes) => {
        decodeChecked(bytes);
        // Same bytes with a plausible header, so the deeper checks are reached too.
        if (bytes.length >= 4) {
          const b = new Uint8Array(bytes);
          b[0] = 0x20 | (b[0]! & 0x1f);
          b[3] = Math.min(b[3]!, b.length);
          decodeChecked(b);
        }
      }),
      { numRuns: 25_000 },
    );
  });

  void it('valid packets with bit flips (25,000)', () => {
    fc.assert(
      fc.property(encodedValid, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (bytes, flips) => {
        const b = new Uint8Array(bytes);
        for (const f of flips) {
          const bit = f % (b.length * 8);
          b[bit >> 3]! ^= 1 << (bit & 7);
        }
        decodeChecked(b);
      }),
      { numRuns: 25_000 },
    );
  });

  void it('valid packets truncated (15,000)', () => {
    fc.assert(
      fc.property(encodedValid, fc.nat(), (bytes, cut) => {
        const keep = cut % bytes.length;
        const r = decodeChecked(bytes.subarray(0, keep));
        assert.equal(r.ok, false);
        if (!r.ok) assert.equal(r.reason, keep < 4 ? 'truncated' : 'length-exceeds-payload');
      }),
      { numRuns: 15_000 },
    );
  });

  void it('valid packets with the Length field changed, with and without padding (20,000)', () => {
    fc.assert(
      fc.property(
        encodedValid,
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 40 }),
        (bytes, length, pad) => {
          const b = new Uint8Array(bytes.length + pad);
          b.set(bytes);
          b[3] = length;
          const r = decodeChecked(b);
          // An exact oracle: the mutated length is judged by RFC 5880 6.8.6 alone.
          const hasAuth = (bytes[1]! & 0x04) !== 0;
          const expected =
            length < (hasAuth ? 26 : 24)
              ? 'length-too-small'
              : length > b.length
                ? 'length-exceeds-payload'
                : hasAuth && length !== bytes.length
                  ? 'auth-malformed'
                  : 'ok';
          assert.equal(r.ok ? 'ok' : r.reason, expected);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  void it('reached at least 100,000 inputs in total', (t) => {
    assert.ok(inputs >= 100_000, `only ${inputs} inputs`);
    t.diagnostic(`${inputs} inputs decoded`);
  });
});
