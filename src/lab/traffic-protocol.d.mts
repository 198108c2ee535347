// Types for traffic-protocol.mjs (plain JavaScript, like the endpoint that uses it).
export const USAGE: string;
export class TrafficInputError extends Error {}

export interface TrafficArgs {
  /** The TCP control port, null without --control. */
  control: number | null;
  /** The address to bind, 0.0.0.0 for every address. */
  self: string;
  /** The UDP port, the same at every peer. */
  port: number;
  /** Packets per second to each peer. */
  rate: number;
  peers: string[];
}
export function parseArgs(argv: readonly string[]): TrafficArgs;

export type TrafficCommand = { cmd: 'mark' | 'report'; id: string } | { cmd: 'peers'; peers: string[] };
export function parseCommand(line: string): TrafficCommand;
