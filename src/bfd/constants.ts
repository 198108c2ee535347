// Protocol constants of BFD (RFC 5880) and its UDP transports (RFC 5881, RFC 5883).

/** The only protocol version this implementation speaks (RFC 5880 4.1). */
export const BFD_VERSION = 1;

/** Single-hop control packets, destination port (RFC 5881 4). */
export const BFD_CONTROL_PORT = 3784;
/** Single-hop echo packets, destination port (RFC 5881 4). */
export const BFD_ECHO_PORT = 3785;
/** Multihop control packets, destination port (RFC 5883 3). */
export const BFD_MULTIHOP_CONTROL_PORT = 4784;
/** Source ports must come from this range (RFC 5881 4). */
export const BFD_SOURCE_PORT_MIN = 49152;
export const BFD_SOURCE_PORT_MAX = 65535;

/** Length of the mandatory section of a control packet (RFC 5880 4.1). */
export const BFD_HEADER_LENGTH = 24;
/** Auth Type + Auth Len: the least an authentication section can hold (RFC 5880 4.1, 6.8.6). */
export const BFD_AUTH_HEADER_LENGTH = 2;
/** Auth Len of the keyed MD5 section (RFC 5880 4.3). */
export const BFD_AUTH_MD5_LENGTH = 24;
/** Auth Len of the keyed SHA1 section (RFC 5880 4.4). */
export const BFD_AUTH_SHA1_LENGTH = 28;
/** Simple password: 1 to 16 bytes, so Auth Len is 4 to 19 (RFC 5880 4.2). */
export const BFD_PASSWORD_MIN_LENGTH = 1;
export const BFD_PASSWORD_MAX_LENGTH = 16;
/** Digest field sizes, which also cap the secret's length (RFC 5880 4.3, 4.4). */
export const BFD_MD5_DIGEST_LENGTH = 16;
export const BFD_SHA1_DIGEST_LENGTH = 20;

/** While a session is not Up it must not ask to send faster than once a second (RFC 5880 6.8.3). */
export const BFD_SLOW_TX_INTERVAL_US = 1_000_000;

/** Largest value of the 32-bit fields (discriminators, intervals, sequence numbers). */
export const UINT32_MAX = 0xffff_ffff;

/** Session states, with their on-the-wire values (RFC 5880 4.1). */
export const BfdState = { AdminDown: 0, Down: 1, Init: 2, Up: 3 } as const;
export type BfdState = (typeof BfdState)[keyof typeof BfdState];

export const BFD_STATE_NAMES: Readonly<Record<BfdState, string>> = {
  0: 'AdminDown',
  1: 'Down',
  2: 'Init',
  3: 'Up',
};

/** Diagnostic codes (RFC 5880 4.1); 9-31 are reserved but may still arrive on the wire. */
export const BfdDiag = {
  NoDiagnostic: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;
/** A diagnostic code: one of BfdDiag, or a reserved value 9-31 received from a peer. */
export type BfdDiag = number;

const DIAG_NAMES: readonly string[] = [
  'No Diagnostic',
  'Control Detection Time Expired',
  'Echo Function Failed',
  'Neighbor Signaled Session Down',
  'Forwarding Plane Reset',
  'Path Down',
  'Concatenated Path Down',
  'Administratively Down',
  'Reverse Concatenated Path Down',
];

/** The RFC 5880 4.1 name of a diagnostic code, e.g. "Control Detection Time Expired". */
export function diagName(diag: BfdDiag): string {
  return DIAG_NAMES[diag] ?? `Reserved (${diag})`;
}

/** Largest value the 5-bit Diagnostic field can carry. */
export const BFD_DIAG_MAX = 31;

/** Authentication types (RFC 5880 4.1); 0 is "no authentication" and never appears on the wire. */
export const BfdAuthType = {
  None: 0,
  SimplePassword: 1,
  KeyedMd5: 2,
  MeticulousKeyedMd5: 3,
  KeyedSha1: 4,
  MeticulousKeyedSha1: 5,
} as const;
export type BfdAuthType = (typeof BfdAuthType)[keyof typeof BfdAuthType];

export const BFD_AUTH_TYPE_NAMES: Readonly<Record<BfdAuthType, string>> = {
  0: 'Reserved',
  1: 'Simple Password',
  2: 'Keyed MD5',
  3: 'Meticulous Keyed MD5',
  4: 'Keyed SHA1',
  5: 'Meticulous Keyed SHA1',
};
