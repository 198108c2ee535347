// Public surface of the pure BFD core (RFC 5880): packets, authentication, sessions, demultiplexing.
export * from './constants.ts';
export type * from './packet.ts';
export { DECODE_ERROR_REASONS } from './packet.ts';
export * from './codec.ts';
export * from './auth.ts';
export * from './timers.ts';
export * from './session.ts';
export * from './session-table.ts';
