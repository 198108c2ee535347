// Types of BFD control packets (RFC 5880 4.1-4.4) and of the decoder's result.
import type { BfdDiag, BfdState } from './constants.ts';

/** Simple Password section (RFC 5880 4.2): Auth Len = 3 + password length. */
export interface BfdSimplePasswordAuth {
  readonly type: 1;
  readonly keyId: number;
  /** 1 to 16 bytes. */
  readonly password: Uint8Array;
}

/** Keyed / Meticulous Keyed MD5 section (RFC 5880 4.3): Auth Len = 24. */
export interface BfdMd5Auth {
  readonly type: 2 | 3;
  readonly keyId: number;
  readonly sequence: number;
  /** 16 bytes. */
  readonly digest: Uint8Array;
}

/** Keyed / Meticulous Keyed SHA1 section (RFC 5880 4.4): Auth Len = 28. */
export interface BfdSha1Auth {
  readonly type: 4 | 5;
  readonly keyId: number;
  readonly sequence: number;
  /** 20 bytes. */
  readonly digest: Uint8Array;
}

export type BfdAuthSection = BfdSimplePasswordAuth | BfdMd5Auth | BfdSha1Auth;

/**
 * A BFD control packet, version 1 (RFC 5880 4.1). The A bit is not a separate field: it is set
 * exactly when `auth` is present, so the two can never disagree. Intervals are in microseconds,
 * as on the wire.
 */
export interface BfdControlPacket {
  readonly diag: BfdDiag;
  readonly state: BfdState;
  /** P: the sender asks for verification of a parameter change (RFC 5880 6.5). */
  readonly poll: boolean;
  /** F: the sender answers a Poll. */
  readonly final: boolean;
  /** C: the sender's BFD does not share fate with its control plane. */
  readonly controlPlaneIndependent: boolean;
  /** D: the sender asks for Demand mode (RFC 5880 6.6). */
  readonly demand: boolean;
  /** M: reserved for multipoint; must be zero, and the decoder rejects it set. */
  readonly multipoint: boolean;
  readonly detectMult: number;
  readonly myDiscriminator: number;
  readonly yourDiscriminator: number;
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly requiredMinEchoRxUs: number;
  readonly auth?: BfdAuthSection;
}

/** Why the decoder rejected a packet; a closed set, so it can label a metric. */
export type DecodeErrorReason =
  | 'invalid-input'
  | 'truncated'
  | 'bad-version'
  | 'length-too-small'
  | 'length-exceeds-payload'
  | 'zero-detect-mult'
  | 'multipoint-set'
  | 'zero-my-discriminator'
  | 'zero-your-discriminator'
  | 'auth-malformed'
  | 'auth-type-unknown';

export const DECODE_ERROR_REASONS: readonly DecodeErrorReason[] = [
  'invalid-input',
  'truncated',
  'bad-version',
  'length-too-small',
  'length-exceeds-payload',
  'zero-detect-mult',
  'multipoint-set',
  'zero-my-discriminator',
  'zero-your-discriminator',
  'auth-malformed',
  'auth-type-unknown',
];

export type DecodeResult =
  | { readonly ok: true; readonly packet: BfdControlPacket }
  | { readonly ok: false; readonly reason: DecodeErrorReason; readonly detail: string };
