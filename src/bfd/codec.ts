// Wire encoding of BFD control packets (RFC 5880 4.1-4.4) and the receive checks of RFC 5880 6.8.6
// that need no session state.
import {
  BFD_AUTH_HEADER_LENGTH,
  BFD_AUTH_MD5_LENGTH,
  BFD_AUTH_SHA1_LENGTH,
  BFD_DIAG_MAX,
  BFD_HEADER_LENGTH,
  BFD_MD5_DIGEST_LENGTH,
  BFD_PASSWORD_MAX_LENGTH,
  BFD_PASSWORD_MIN_LENGTH,
  BFD_SHA1_DIGEST_LENGTH,
  BFD_VERSION,
  BfdState,
  UINT32_MAX,
} from './constants.ts';
import type { BfdAuthSection, BfdControlPacket, DecodeErrorReason, DecodeResult } from './packet.ts';

// Bits of the second byte (RFC 5880 4.1): |Sta|P|F|C|A|D|M|
const FLAG_P = 0x20;
const FLAG_F = 0x10;
const FLAG_C = 0x08;
const FLAG_A = 0x04;
const FLAG_D = 0x02;
const FLAG_M = 0x01;

/** Offsets inside the keyed MD5/SHA1 sections (RFC 5880 4.3, 4.4), relative to the packet start. */
export const AUTH_OFFSET = BFD_HEADER_LENGTH;
export const AUTH_KEY_ID_OFFSET = AUTH_OFFSET + 2;
export const AUTH_SEQUENCE_OFFSET = AUTH_OFFSET + 4;
export const AUTH_DIGEST_OFFSET = AUTH_OFFSET + 8;
const AUTH_PASSWORD_OFFSET = AUTH_OFFSET + 3;

/** Auth Len of a section, as it goes on the wire. */
export function authSectionLength(auth: BfdAuthSection): number {
  switch (auth.type) {
    case 1:
      return 3 + auth.password.length;
    case 2:
    case 3:
      return BFD_AUTH_MD5_LENGTH;
    case 4:
    case 5:
      return BFD_AUTH_SHA1_LENGTH;
  }
}

/** Total length of a packet as encoded, which is also what its Length field says. */
export function encodedLength(packet: BfdControlPacket): number {
  return BFD_HEADER_LENGTH + (packet.auth ? authSectionLength(packet.auth) : 0);
}

function checkUint(name: string, value: number, max: number, min = 0): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`BFD ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function checkAuth(auth: BfdAuthSection): void {
  checkUint('auth key id', auth.keyId, 0xff);
  if (auth.type === 1) {
    const n = auth.password.length;
    if (n < BFD_PASSWORD_MIN_LENGTH || n > BFD_PASSWORD_MAX_LENGTH) {
      throw new RangeError(`BFD simple password must be 1-16 bytes, got ${n}`);
    }
    return;
  }
  checkUint('auth sequence number', auth.sequence, UINT32_MAX);
  const want = auth.type === 2 || auth.type === 3 ? BFD_MD5_DIGEST_LENGTH : BFD_SHA1_DIGEST_LENGTH;
  if (auth.digest.length !== want) {
    throw new RangeError(`BFD auth type ${auth.type} needs a ${want}-byte digest, got ${auth.digest.length}`);
  }
}

/**
 * Encodes a control packet. Out-of-range fields are a programming error and throw RangeError; the
 * encoder does not otherwise judge the packet, so tests can build packets the decoder rejects.
 */
export function encodeControlPacket(packet: BfdControlPacket): Uint8Array {
  checkUint('diag', packet.diag, BFD_DIAG_MAX);
  checkUint('state', packet.state, BfdState.Up);
  checkUint('detect mult', packet.detectMult, 0xff);
  checkUint('my discriminator', packet.myDiscriminator, UINT32_MAX);
  checkUint('your discriminator', packet.yourDiscriminator, UINT32_MAX);
  checkUint('desired min tx interval', packet.desiredMinTxUs, UINT32_MAX);
  checkUint('required min rx interval', packet.requiredMinRxUs, UINT32_MAX);
  checkUint('required min echo rx interval', packet.requiredMinEchoRxUs, UINT32_MAX);
  if (packet.auth) checkAuth(packet.auth);

  const length = encodedLength(packet);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out[0] = (BFD_VERSION << 5) | packet.diag;
  out[1] =
    (packet.state << 6) |
    (packet.poll ? FLAG_P : 0) |
    (packet.final ? FLAG_F : 0) |
    (packet.controlPlaneIndependent ? FLAG_C : 0) |
    (packet.auth ? FLAG_A : 0) |
    (packet.demand ? FLAG_D : 0) |
    (packet.multipoint ? FLAG_M : 0);
  out[2] = packet.detectMult;
  out[3] = length;
  view.setUint32(4, packet.myDiscriminator);
  view.setUint32(8, packet.yourDiscriminator);
  view.setUint32(12, packet.desiredMinTxUs);
  view.setUint32(16, packet.requiredMinRxUs);
  view.setUint32(20, packet.requiredMinEchoRxUs);

  const auth = packet.auth;
  if (auth) {
    out[AUTH_OFFSET] = auth.type;
    out[AUTH_OFFSET + 1] = authSectionLength(auth);
    out[AUTH_KEY_ID_OFFSET] = auth.keyId;
    if (auth.type === 1) {
      out.set(auth.password, AUTH_PASSWORD_OFFSET);
    } else {
      // The byte after Key ID is Reserved and must be zero on transmit (RFC 5880 4.3, 4.4); the
      // array is zero-filled already.
      view.setUint32(AUTH_SEQUENCE_OFFSET, auth.sequence);
      out.set(auth.digest, AUTH_DIGEST_OFFSET);
    }
  }
  return out;
}

function fail(reason: DecodeErrorReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

function stateFromBits(bits: number): BfdState {
  // Two bits can only hold 0-3, all of which are states.
  return (bits & 3) as BfdState;
}

function decodeAuth(bytes: Uint8Array, view: DataView, length: number): DecodeResult | BfdAuthSection {
  const type = bytes[AUTH_OFFSET] ?? 0;
  const authLen = bytes[AUTH_OFFSET + 1] ?? 0;
  // The section runs to the end of the packet, so its length must account for the rest exactly.
  if (BFD_HEADER_LENGTH + authLen !== length) {
    return fail('auth-malformed', `auth len ${authLen} does not fill packet length ${length}`);
  }
  const keyId = bytes[AUTH_KEY_ID_OFFSET] ?? 0;
  switch (type) {
    case 1: {
      // RFC 5880 4.2: Key ID plus a 1-16 byte password.
      const pwLen = authLen - 3;
      if (pwLen < BFD_PASSWORD_MIN_LENGTH || pwLen > BFD_PASSWORD_MAX_LENGTH) {
        return fail('auth-malformed', `simple password auth len ${authLen} outside 4-19`);
      }
      // Copy: a Buffer's slice() is a view, and the caller may reuse its receive buffer.
      const password = new Uint8Array(bytes.subarray(AUTH_PASSWORD_OFFSET, AUTH_PASSWORD_OFFSET + pwLen));
      return { type, keyId, password };
    }
    case 2:
    case 3: {
      if (authLen !== BFD_AUTH_MD5_LENGTH) {
        return fail(
          'auth-malformed',
          `auth type ${type} needs auth len ${BFD_AUTH_MD5_LENGTH}, got ${authLen}`,
        );
      }
      const sequence = view.getUint32(AUTH_SEQUENCE_OFFSET);
      const digest = new Uint8Array(
        bytes.subarray(AUTH_DIGEST_OFFSET, AUTH_DIGEST_OFFSET + BFD_MD5_DIGEST_LENGTH),
      );
      return { type, keyId, sequence, digest };
    }
    case 4:
    case 5: {
      if (authLen !== BFD_AUTH_SHA1_LENGTH) {
        return fail(
          'auth-malformed',
          `auth type ${type} needs auth len ${BFD_AUTH_SHA1_LENGTH}, got ${authLen}`,
        );
      }
      const sequence = view.getUint32(AUTH_SEQUENCE_OFFSET);
      const digest = new Uint8Array(
        bytes.subarray(AUTH_DIGEST_OFFSET, AUTH_DIGEST_OFFSET + BFD_SHA1_DIGEST_LENGTH),
      );
      return { type, keyId, sequence, digest };
    }
    default:
      return fail('auth-type-unknown', `auth type ${type} is not defined`);
  }
}

/**
 * Decodes and checks a control packet in the order RFC 5880 6.8.6 lists the checks. Never throws:
 * anything it cannot accept comes back as `{ ok: false, reason, detail }`. Bytes past the Length
 * field (link padding) are ignored.
 */
export function decodeControlPacket(input: Uint8Array): DecodeResult {
  if (!(input instanceof Uint8Array)) return fail('invalid-input', 'input is not a Uint8Array');
  const bytes = input;
  const received = bytes.length;
  if (received < 4) return fail('truncated', `${received} bytes cannot hold a BFD header`);
  const b0 = bytes[0] ?? 0;
  const b1 = bytes[1] ?? 0;
  const version = b0 >>> 5;
  if (version !== BFD_VERSION) return fail('bad-version', `version ${version}, expected ${BFD_VERSION}`);

  const hasAuth = (b1 & FLAG_A) !== 0;
  const length = bytes[3] ?? 0;
  const minLength = hasAuth ? BFD_HEADER_LENGTH + BFD_AUTH_HEADER_LENGTH : BFD_HEADER_LENGTH;
  if (length < minLength) {
    return fail('length-too-small', `length ${length} below minimum ${minLength}`);
  }
  if (length > received) {
    return fail('length-exceeds-payload', `length ${length} exceeds ${received} received bytes`);
  }
  const detectMult = bytes[2] ?? 0;
  if (detectMult === 0) return fail('zero-detect-mult', 'detect mult is zero');
  if ((b1 & FLAG_M) !== 0) return fail('multipoint-set', 'multipoint bit is set');

  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const myDiscriminator = view.getUint32(4);
  if (myDiscriminator === 0) return fail('zero-my-discriminator', 'my discriminator is zero');
  const yourDiscriminator = view.getUint32(8);
  const state = stateFromBits(b1 >>> 6);
  if (yourDiscriminator === 0 && state !== BfdState.Down && state !== BfdState.AdminDown) {
    return fail('zero-your-discriminator', `your discriminator is zero in state ${state}`);
  }

  let auth: BfdAuthSection | undefined;
  if (hasAuth) {
    const r = decodeAuth(bytes, view, length);
    if ('ok' in r) return r;
    auth = r;
  }

  const packet: BfdControlPacket = {
    diag: b0 & 0x1f,
    state,
    poll: (b1 & FLAG_P) !== 0,
    final: (b1 & FLAG_F) !== 0,
    controlPlaneIndependent: (b1 & FLAG_C) !== 0,
    demand: (b1 & FLAG_D) !== 0,
    multipoint: false,
    detectMult,
    myDiscriminator,
    yourDiscriminator,
    desiredMinTxUs: view.getUint32(12),
    requiredMinRxUs: view.getUint32(16),
    requiredMinEchoRxUs: view.getUint32(20),
    ...(auth ? { auth } : {}),
  };
  return { ok: true, packet };
}
