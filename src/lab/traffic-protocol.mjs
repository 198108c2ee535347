// What the traffic endpoint (traffic.mjs) is told, parsed once into typed values: its command line
// and the lines of its control protocol (stdin, or a TCP connection with --control). Pure, so the
// tests can feed it bad input without starting an endpoint. Errors are thrown with a message that
// names what was wrong; the endpoint prints it (command line) or answers it (a line).
import { isIPv4 } from 'node:net';

export const USAGE = 'usage: traffic.mjs [--control PORT] SELF PORT RATE [PEER...]';

export class TrafficInputError extends Error {
  name = 'TrafficInputError';
}

/** A TCP or UDP port number, 1-65535, in decimal. */
function port(s, what) {
  if (!/^\d{1,5}$/.test(s ?? '') || Number(s) < 1 || Number(s) > 65535)
    throw new TrafficInputError(`${what} must be a port number (1-65535), not ${JSON.stringify(s ?? '')}`);
  return Number(s);
}

/** An IPv4 address in dotted-quad form; the unspecified address only where `unspecified` allows. */
function ipv4(s, what, unspecified) {
  if (!isIPv4(s ?? ''))
    throw new TrafficInputError(`${what} must be an IPv4 address, not ${JSON.stringify(s ?? '')}`);
  if (!unspecified && s === '0.0.0.0') throw new TrafficInputError(`${what} cannot be 0.0.0.0`);
  return s;
}

/** Peers as given, each once, in their first order. */
function peerList(list) {
  return [...new Set(list.map((p) => ipv4(p, 'a peer', false)))];
}

/**
 * `[--control PORT] SELF PORT RATE [PEER...]` (argv without node and the script). SELF may be
 * 0.0.0.0 (every address of the host); RATE is packets per second to each peer.
 */
export function parseArgs(argv) {
  const args = [...argv];
  let control = null;
  if (args[0] === '--control') {
    args.shift();
    control = port(args.shift(), '--control');
  } else if (args[0]?.startsWith('--control=')) {
    control = port(args.shift().slice('--control='.length), '--control');
  }
  const [selfArg, portArg, rateArg, ...peers] = args;
  if (selfArg?.startsWith('-')) throw new TrafficInputError(`unknown option ${selfArg}`);
  const self = ipv4(selfArg, 'SELF', true);
  const udp = port(portArg, 'PORT');
  const rate = Number(rateArg);
  if (!/^\d+(\.\d+)?$/.test(rateArg ?? '') || !(rate > 0))
    throw new TrafficInputError(
      `RATE must be a positive number of packets per second, not ${JSON.stringify(rateArg ?? '')}`,
    );
  return { control, self, port: udp, rate, peers: peerList(peers) };
}

/**
 * One line of the control protocol:
 *   mark ID | report ID | peers [IP...]
 * Surrounding blanks are ignored; anything else (an unknown command, a missing or extra argument,
 * a peer that is not an IPv4 address) is an error.
 */
export function parseCommand(line) {
  const [cmd, ...rest] = line.trim().split(/\s+/).filter(Boolean);
  switch (cmd) {
    case 'mark':
    case 'report':
      if (rest.length !== 1) throw new TrafficInputError(`${cmd} takes one ID, not ${rest.length} arguments`);
      return { cmd, id: rest[0] };
    case 'peers':
      return { cmd, peers: peerList(rest) };
    case undefined:
      throw new TrafficInputError('empty command (mark ID, report ID or peers IP...)');
    default:
      throw new TrafficInputError(
        `unknown command ${JSON.stringify(cmd.slice(0, 40))} (mark ID, report ID or peers IP...)`,
      );
  }
}
