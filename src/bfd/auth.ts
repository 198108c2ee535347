// Authentication of BFD control packets (RFC 5880 6.7): signing outgoing packets and verifying
// incoming ones, with the sequence-number replay protection of the keyed types.
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { AUTH_DIGEST_OFFSET, encodeControlPacket } from './codec.ts';
import {
  BFD_MD5_DIGEST_LENGTH,
  BFD_PASSWORD_MAX_LENGTH,
  BFD_PASSWORD_MIN_LENGTH,
  BFD_SHA1_DIGEST_LENGTH,
  BfdAuthType,
  UINT32_MAX,
} from './constants.ts';
import type { BfdAuthSection, BfdControlPacket } from './packet.ts';

/** An authentication type actually carried on the wire (bfd.AuthType other than 0). */
export type BfdWireAuthType = Exclude<BfdAuthType, 0>;

export interface BfdAuthKey {
  /** Auth Key ID, 0-255; lets both ends roll keys without a flag day (RFC 5880 4.2-4.4). */
  readonly id: number;
  /**
   * The password (type 1, 1-16 bytes) or secret key (MD5: 1-16 bytes, SHA1: 1-20 bytes). A string
   * is taken as UTF-8, so plain ASCII strings work as RFC 5880 6.7.2-6.7.4 require.
   */
  readonly secret: Uint8Array | string;
}

export interface BfdAuthConfig {
  readonly type: BfdWireAuthType;
  /** Keys accepted on receive; outgoing packets use `sendKeyId`, or the first key. */
  readonly keys: readonly BfdAuthKey[];
  readonly sendKeyId?: number;
  /** First bfd.XmitAuthSeq; random when omitted, as RFC 5880 6.8.1 requires. */
  readonly initialSequence?: number;
}

/** Why a packet failed authentication; a closed set, so it can label a metric. */
export type AuthFailureReason =
  | 'auth-missing'
  | 'auth-unexpected'
  | 'auth-type-mismatch'
  | 'unknown-key-id'
  | 'wrong-password'
  | 'bad-digest'
  | 'sequence-out-of-window'
  | 'raw-mismatch';

export const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = [
  'auth-missing',
  'auth-unexpected',
  'auth-type-mismatch',
  'unknown-key-id',
  'wrong-password',
  'bad-digest',
  'sequence-out-of-window',
  'raw-mismatch',
];

export type AuthVerifyResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: AuthFailureReason; readonly detail: string };

export function isMeticulous(type: BfdAuthType): boolean {
  return type === BfdAuthType.MeticulousKeyedMd5 || type === BfdAuthType.MeticulousKeyedSha1;
}

function isMd5(type: BfdAuthType): boolean {
  return type === BfdAuthType.KeyedMd5 || type === BfdAuthType.MeticulousKeyedMd5;
}

function digestLength(type: BfdWireAuthType): number {
  return isMd5(type) ? BFD_MD5_DIGEST_LENGTH : BFD_SHA1_DIGEST_LENGTH;
}

/**
 * Whether `seq` is acceptable after `last` when at most `span` packets may have been lost, in the
 * circular 32-bit sequence space (RFC 5880 6.7.3, 6.7.4): keyed types accept [last, last + span],
 * meticulous ones [last + 1, last + span], since they must increase on every packet.
 */
export function sequenceInWindow(seq: number, last: number, span: number, meticulous: boolean): boolean {
  const ahead = (seq - last) >>> 0;
  return ahead <= span && (!meticulous || ahead >= 1);
}

function secretBytes(secret: Uint8Array | string): Uint8Array {
  return typeof secret === 'string' ? new Uint8Array(Buffer.from(secret, 'utf8')) : new Uint8Array(secret);
}

/**
 * Signs outgoing and verifies incoming packets of one session. It holds the per-session
 * authentication variables of RFC 5880 6.8.1: bfd.XmitAuthSeq, bfd.RcvAuthSeq, bfd.AuthSeqKnown.
 */
export class BfdAuthenticator {
  readonly type: BfdWireAuthType;
  private readonly keys = new Map<number, Uint8Array>();
  private readonly sendKeyId: number;
  private xmitSeq: number;
  private rcvSeq = 0;
  private seqKnown = false;

  constructor(config: BfdAuthConfig) {
    const type = config.type;
    if (!Number.isInteger(type) || type < 1 || type > 5) {
      throw new RangeError(`BFD auth type must be 1-5, got ${type}`);
    }
    this.type = type;
    const maxLen =
      type === BfdAuthType.SimplePassword ? BFD_PASSWORD_MAX_LENGTH : digestLength(type as BfdWireAuthType);
    for (const key of config.keys) {
      if (!Number.isInteger(key.id) || key.id < 0 || key.id > 0xff) {
        throw new RangeError(`BFD auth key id must be 0-255, got ${key.id}`);
      }
      if (this.keys.has(key.id)) throw new RangeError(`BFD auth key id ${key.id} given twice`);
      const bytes = secretBytes(key.secret);
      if (bytes.length < BFD_PASSWORD_MIN_LENGTH || bytes.length > maxLen) {
        throw new RangeError(`BFD auth key ${key.id} must be 1-${maxLen} bytes, got ${bytes.length}`);
      }
      this.keys.set(key.id, bytes);
    }
    const first = config.keys[0];
    if (!first) throw new RangeError('BFD auth needs at least one key');
    this.sendKeyId = config.sendKeyId ?? first.id;
    if (!this.keys.has(this.sendKeyId))
      throw new RangeError(`BFD auth send key ${this.sendKeyId} is not configured`);
    const initial = config.initialSequence ?? randomInt(0, UINT32_MAX + 1);
    if (!Number.isInteger(initial) || initial < 0 || initial > UINT32_MAX) {
      throw new RangeError(`BFD auth initial sequence must be a 32-bit unsigned integer, got ${initial}`);
    }
    this.xmitSeq = initial;
  }

  /** bfd.XmitAuthSeq: the sequence number the next signed packet carries. */
  get transmitSequence(): number {
    return this.xmitSeq;
  }

  /** bfd.RcvAuthSeq, meaningful only while `sequenceKnown`. */
  get receiveSequence(): number {
    return this.rcvSeq;
  }

  /** bfd.AuthSeqKnown. */
  get sequenceKnown(): boolean {
    return this.seqKnown;
  }

  /**
   * Forgets the receive sequence; RFC 5880 6.8.1 requires it after two Detection Times without a
   * packet, so a peer that restarted with a new sequence number can be heard again.
   */
  resetReceiveSequence(): void {
    this.seqKnown = false;
    this.rcvSeq = 0;
  }

  /** Adds the authentication section to `packet` and encodes it. */
  sign(packet: BfdControlPacket): { readonly packet: BfdControlPacket; readonly bytes: Uint8Array } {
    const key = this.keys.get(this.sendKeyId);
    if (!key) throw new Error('BFD auth send key vanished');
    const keyId = this.sendKeyId;
    const type = this.type;
    if (type === BfdAuthType.SimplePassword) {
      const auth: BfdAuthSection = { type, keyId, password: key };
      const signed = { ...packet, auth };
      return { packet: signed, bytes: encodeControlPacket(signed) };
    }
    const sequence = this.xmitSeq;
    // Meticulous types must advance on every packet (RFC 5880 6.7.3, 6.7.4); the others may, and
    // doing so always keeps a replayed packet from being accepted within the window for long.
    this.xmitSeq = (this.xmitSeq + 1) >>> 0;
    // The digest is computed with the key, zero-padded, in the digest field (RFC 5880 6.7.3, 6.7.4).
    const padded = new Uint8Array(digestLength(type));
    padded.set(key);
    const auth: BfdAuthSection =
      type === BfdAuthType.KeyedMd5 || type === BfdAuthType.MeticulousKeyedMd5
        ? { type, keyId, sequence, digest: padded }
        : { type, keyId, sequence, digest: padded };
    const bytes = encodeControlPacket({ ...packet, auth });
    const digest = this.hash(bytes);
    bytes.set(digest, AUTH_DIGEST_OFFSET);
    return { packet: { ...packet, auth: { ...auth, digest } }, bytes };
  }

  /**
   * Authenticates a received packet (RFC 5880 6.7.2-6.7.4): `raw` is the buffer as received and
   * `packet` what the decoder made of it. On success the receive sequence advances.
   */
  verify(raw: Uint8Array, packet: BfdControlPacket): AuthVerifyResult {
    const auth = packet.auth;
    if (!auth)
      return { ok: false, reason: 'auth-missing', detail: 'A bit clear but authentication is in use' };
    if (auth.type !== this.type) {
      return {
        ok: false,
        reason: 'auth-type-mismatch',
        detail: `auth type ${auth.type}, expected ${this.type}`,
      };
    }
    const key = this.keys.get(auth.keyId);
    if (!key)
      return { ok: false, reason: 'unknown-key-id', detail: `key id ${auth.keyId} is not configured` };

    if (auth.type === BfdAuthType.SimplePassword) {
      const ok = auth.password.length === key.length && timingSafeEqual(auth.password, key);
      return ok
        ? { ok: true }
        : { ok: false, reason: 'wrong-password', detail: `password mismatch for key id ${auth.keyId}` };
    }

    // Replay check first, as RFC 5880 6.7.3/6.7.4 order it; the window is sized by how many
    // packets the peer can lose within its detection time (3 * its Detect Mult).
    if (
      this.seqKnown &&
      !sequenceInWindow(auth.sequence, this.rcvSeq, 3 * packet.detectMult, isMeticulous(auth.type))
    ) {
      return {
        ok: false,
        reason: 'sequence-out-of-window',
        detail: `sequence ${auth.sequence} outside window after ${this.rcvSeq}`,
      };
    }

    const length = raw[3] ?? 0;
    const dlen = digestLength(auth.type);
    if (raw.length < length || length !== AUTH_DIGEST_OFFSET + dlen) {
      return { ok: false, reason: 'raw-mismatch', detail: 'raw bytes do not hold the decoded packet' };
    }
    const copy = new Uint8Array(raw.subarray(0, length));
    const padded = new Uint8Array(dlen);
    padded.set(key);
    copy.set(padded, AUTH_DIGEST_OFFSET);
    const expected = this.hash(copy);
    if (!timingSafeEqual(expected, raw.subarray(AUTH_DIGEST_OFFSET, length))) {
      return { ok: false, reason: 'bad-digest', detail: `digest mismatch for key id ${auth.keyId}` };
    }
    this.rcvSeq = auth.sequence;
    this.seqKnown = true;
    return { ok: true };
  }

  private hash(bytes: Uint8Array): Uint8Array {
    const algorithm = isMd5(this.type) ? 'md5' : 'sha1';
    return new Uint8Array(createHash(algorithm).update(bytes).digest());
  }
}
