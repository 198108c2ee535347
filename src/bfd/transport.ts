// UDP transport of BFD control packets: RFC 5881 (single hop) and RFC 5883 (multihop).
//
// One receive socket per local address and mode serves every session on it; the runner demuxes
// what arrives through a SessionTable. Sends go out of a second socket, shared the same way,
// because RFC 5881 4 requires source ports in 49152-65535 while the receive socket is bound to
// 3784/4784. (RFC 5881 4 also says the source port SHOULD differ per session; one shared port
// keeps the socket count flat at hundreds of sessions and no peer we know of demuxes on it.)
//
// TTL on receive: node:dgram cannot read IP_TTL/IPV6_HOPLIMIT ancillary data, so the GTSM check of
// RFC 5881 5 (and the optional minimum TTL of RFC 5883 5) is done before the socket, by an
// nftables rule in the current network namespace that drops and counts offending packets.
// TtlGuard installs it, reads its counter and removes it, also when the process exits (normally or
// of an uncaught exception). A process killed by a signal it does not handle cannot clean up, so
// long-running users handle SIGTERM/SIGINT and close() (the CLI does). Stale tables are not swept
// by pid: processes sharing a network namespace may live in different pid namespaces.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { AUTH_FAILURE_REASONS } from './auth.ts';
import type { AuthFailureReason } from './auth.ts';
import { decodeControlPacket } from './codec.ts';
import {
  BFD_CONTROL_PORT,
  BFD_MULTIHOP_CONTROL_PORT,
  BFD_SOURCE_PORT_MAX,
  BFD_SOURCE_PORT_MIN,
} from './constants.ts';
import { DECODE_ERROR_REASONS } from './packet.ts';
import type { BfdControlPacket, DecodeErrorReason } from './packet.ts';
import { DEMUX_FAILURE_REASONS } from './session-table.ts';
import type { DemuxFailureReason } from './session-table.ts';
import { parseIP } from '../util/ip.ts';
import { silentLogger } from '../util/log.ts';
import type { Logger } from '../util/log.ts';

const DEFAULT_RECV_BUFFER = 4 * 1024 * 1024;

export type BfdTransportMode = 'single-hop' | 'multihop';

/** TTL every packet is sent with, and the only one single-hop accepts (RFC 5881 5, GTSM). */
export const BFD_GTSM_TTL = 255;

/**
 * Why a received datagram was dropped; a closed set, so it can label a metric. Beyond the decoder,
 * authentication and demux reasons: `wrong-transport` (a discriminator of a session that lives on
 * another socket, e.g. a single-hop session's packet on the multihop port), `handler-error` (a bug
 * caught before it reached the event loop), `stray` (a datagram on the transmit socket), and, for a
 * runner that accepts sessions from unknown peers, `peer-refused` (its acceptor said no) and
 * `accept-limit` (it already holds as many accepted sessions as it may).
 */
export type BfdDropReason =
  | DecodeErrorReason
  | AuthFailureReason
  | DemuxFailureReason
  | 'wrong-transport'
  | 'handler-error'
  | 'stray'
  | 'peer-refused'
  | 'accept-limit';

export const BFD_DROP_REASONS: readonly BfdDropReason[] = [
  ...DECODE_ERROR_REASONS,
  ...AUTH_FAILURE_REASONS,
  ...DEMUX_FAILURE_REASONS,
  'wrong-transport',
  'handler-error',
  'stray',
  'peer-refused',
  'accept-limit',
];

export interface BfdTransportCounters {
  /** Datagrams read from the receive socket (those the TTL rule dropped never get here). */
  rxDatagrams: number;
  /** Datagrams the packet handler accepted. */
  rxAccepted: number;
  dropped: Record<BfdDropReason, number>;
  txPackets: number;
  txErrors: number;
}

export function emptyDropCounters(): Record<BfdDropReason, number> {
  return Object.fromEntries(BFD_DROP_REASONS.map((r) => [r, 0])) as Record<BfdDropReason, number>;
}

export interface BfdSource {
  readonly address: string;
  readonly port: number;
}

/**
 * Called for every datagram that decoded. Returns undefined when the packet was taken, or why it
 * was dropped. It must not throw; if it does anyway, the packet counts as `handler-error`.
 */
export type BfdPacketHandler = (
  packet: BfdControlPacket,
  raw: Uint8Array,
  from: BfdSource,
) => BfdDropReason | undefined;

export type BfdTtlCheck = 'nftables' | 'off';

export interface BfdTransportOptions {
  readonly localAddress: string;
  readonly mode: BfdTransportMode;
  /** Port to listen on and send to; 3784 single-hop, 4784 multihop. Override only in labs/tests. */
  readonly port?: number;
  /**
   * How received TTLs are enforced: `nftables` installs a drop-and-count rule (needs CAP_NET_ADMIN
   * and `nft`), `off` trusts the network. Default `nftables` for single-hop, where RFC 5881 5
   * makes the check mandatory; multihop installs a rule only when `minTtl` is set.
   */
  readonly ttlCheck?: BfdTtlCheck;
  /** Multihop only: drop packets whose TTL is below this (RFC 5883 5). */
  readonly minTtl?: number;
  readonly onPacket: BfdPacketHandler;
  readonly logger?: Logger;
  /**
   * SO_RCVBUF for the receive socket (the kernel caps it at net.core.rmem_max). Hundreds of
   * sessions at 50 ms bring 10k packets a second, and the default (~200 KiB, a few hundred
   * datagrams) overflows in a 30 ms event-loop stall. Default 4 MiB.
   */
  readonly recvBufferSize?: number;
}

export class BfdTransportError extends Error {
  override readonly name = 'BfdTransportError';
}

function familyOf(address: string): 4 | 6 {
  const ip = parseIP(address);
  if (!ip) throw new BfdTransportError(`BFD local address "${address}" is not an IP address`);
  return ip.family;
}

function bindSocket(socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      socket.off('error', onError);
      resolve();
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ address, port, exclusive: true });
  });
}

function describeBindError(err: unknown, what: string): BfdTransportError {
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === 'EADDRNOTAVAIL'
      ? ' (the address is not configured on this host or network namespace)'
      : code === 'EADDRINUSE'
        ? ' (another BFD daemon already listens there)'
        : code === 'EACCES'
          ? ' (binding a port below 1024 needs root or CAP_NET_BIND_SERVICE)'
          : '';
  return new BfdTransportError(`cannot bind ${what}: ${(err as Error).message}${hint}`);
}

/**
 * Both sockets of one local address and mode. Create with BfdTransport.open(); never throws into
 * the event loop: socket errors are logged and counted, handler exceptions are caught.
 */
export class BfdTransport {
  readonly localAddress: string;
  readonly mode: BfdTransportMode;
  readonly port: number;
  readonly family: 4 | 6;
  readonly counters: BfdTransportCounters = {
    rxDatagrams: 0,
    rxAccepted: 0,
    dropped: emptyDropCounters(),
    txPackets: 0,
    txErrors: 0,
  };
  private sourcePortValue = 0;
  private closed = false;
  private lastTxErrorLogMs = 0;
  private readonly onSent = (err: Error | null): void => {
    if (!err) return;
    this.counters.txErrors++;
    // An unreachable peer fails every packet; one log line a second is plenty.
    const now = Date.now();
    if (now - this.lastTxErrorLogMs >= 1000) {
      this.lastTxErrorLogMs = now;
      this.log.warn('bfd send failed', { error: err.message, txErrors: this.counters.txErrors });
    }
  };

  private constructor(
    options: BfdTransportOptions,
    private readonly rx: dgram.Socket,
    private readonly tx: dgram.Socket,
    private readonly guard: TtlGuard | undefined,
    private readonly log: Logger,
  ) {
    this.localAddress = options.localAddress;
    this.mode = options.mode;
    this.family = familyOf(options.localAddress);
    this.port = options.port ?? (options.mode === 'multihop' ? BFD_MULTIHOP_CONTROL_PORT : BFD_CONTROL_PORT);
    // Listening before the sockets are bound, so no datagram slips by uncounted.
    const onPacket = options.onPacket;
    rx.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => this.receive(msg, rinfo, onPacket));
    tx.on('message', () => {
      this.counters.dropped.stray++;
    });
  }

  static async open(options: BfdTransportOptions): Promise<BfdTransport> {
    const family = familyOf(options.localAddress);
    const log = (options.logger ?? silentLogger).child({
      local: options.localAddress,
      mode: options.mode,
    });
    const port = options.port ?? (options.mode === 'multihop' ? BFD_MULTIHOP_CONTROL_PORT : BFD_CONTROL_PORT);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new BfdTransportError(`BFD port must be 1-65535, got ${port}`);
    }
    const minTtl = options.minTtl;
    if (minTtl !== undefined) {
      if (options.mode !== 'multihop') {
        throw new BfdTransportError('a minimum TTL applies to multihop only; single-hop requires 255');
      }
      if (!Number.isInteger(minTtl) || minTtl < 1 || minTtl > 255) {
        throw new BfdTransportError(`BFD minimum TTL must be 1-255, got ${minTtl}`);
      }
    }
    // The TTL rule goes in before the socket can receive anything it should have dropped.
    const ttlCheck = options.ttlCheck ?? 'nftables';
    const wantRule = ttlCheck === 'nftables' && (options.mode === 'single-hop' || minTtl !== undefined);
    const guard = wantRule
      ? await TtlGuard.install({
          localAddress: options.localAddress,
          family,
          port,
          ...(options.mode === 'single-hop' ? { exactTtl: BFD_GTSM_TTL } : { minTtl: minTtl ?? 1 }),
        })
      : undefined;
    const type = family === 4 ? 'udp4' : 'udp6';
    const rx = dgram.createSocket({ type, recvBufferSize: options.recvBufferSize ?? DEFAULT_RECV_BUFFER });
    const tx = dgram.createSocket({ type });
    const t = new BfdTransport(options, rx, tx, guard, log);
    try {
      try {
        await bindSocket(rx, options.localAddress, port);
      } catch (err) {
        throw describeBindError(err, `BFD ${options.mode} port ${options.localAddress}:${port}`);
      }
      await bindSourcePort(tx, options.localAddress);
      tx.setTTL(BFD_GTSM_TTL);
    } catch (err) {
      await t.close();
      throw err;
    }
    // Bind errors were the caller's; from here on socket errors are logged, never thrown.
    for (const s of [rx, tx]) s.on('error', (err) => log.warn('bfd socket error', { error: err.message }));
    t.sourcePortValue = tx.address().port;
    log.debug('bfd transport open', { port, sourcePort: t.sourcePortValue, ttlRule: guard?.table ?? null });
    return t;
  }

  /** The UDP source port every packet of this transport carries (RFC 5881 4). */
  get sourcePort(): number {
    return this.sourcePortValue;
  }

  /** Whether an nftables rule enforces the received TTL. */
  get ttlEnforced(): boolean {
    return this.guard !== undefined;
  }

  /** Packets the TTL rule has dropped so far; null when no rule is installed. */
  async readTtlDrops(): Promise<number | null> {
    return this.guard ? this.guard.readDrops() : null;
  }

  send(bytes: Uint8Array, peer: string, port: number = this.port): void {
    if (this.closed) return;
    this.counters.txPackets++;
    try {
      this.tx.send(bytes, port, peer, this.onSent);
    } catch (err) {
      // Synchronous failures are argument errors (e.g. a malformed address): count, never throw.
      this.onSent(err as Error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([closeSocket(this.rx), closeSocket(this.tx)]);
    await this.guard?.remove();
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo, onPacket: BfdPacketHandler): void {
    this.counters.rxDatagrams++;
    const decoded = decodeControlPacket(msg);
    if (!decoded.ok) {
      this.counters.dropped[decoded.reason]++;
      return;
    }
    let reason: BfdDropReason | undefined;
    try {
      reason = onPacket(decoded.packet, msg, { address: rinfo.address, port: rinfo.port });
    } catch (err) {
      reason = 'handler-error';
      this.log.error('bfd packet handler threw', { error: err instanceof Error ? err.message : String(err) });
    }
    if (reason === undefined) this.counters.rxAccepted++;
    else this.counters.dropped[reason]++;
  }
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

async function bindSourcePort(socket: dgram.Socket, address: string): Promise<void> {
  // Random ports from the RFC 5881 4 range; a few collisions with other daemons are expected.
  let last: unknown;
  for (let attempt = 0; attempt < 64; attempt++) {
    const port =
      BFD_SOURCE_PORT_MIN + Math.floor(Math.random() * (BFD_SOURCE_PORT_MAX - BFD_SOURCE_PORT_MIN + 1));
    try {
      await bindSocket(socket, address, port);
      return;
    } catch (err) {
      last = err;
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
    }
  }
  throw describeBindError(last, `a BFD source port on ${address}`);
}

// --- received-TTL enforcement with nftables ---

function runNft(args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'nft is not installed' : stderr.trim();
        reject(new BfdTransportError(`nft ${args.join(' ')} failed: ${why || err.message}`));
      } else resolve(stdout);
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** Tables this process installed and has not removed yet, dropped again at exit. */
const liveTables = new Set<string>();
let exitHookInstalled = false;

function removeLiveTablesSync(): void {
  for (const table of liveTables) {
    try {
      execFileSync('nft', ['delete', 'table', 'inet', table], { stdio: 'ignore', timeout: 5_000 });
    } catch {
      // Best effort: the process is exiting, and a gone table is what we want.
    }
  }
  liveTables.clear();
}

export interface TtlGuardOptions {
  readonly localAddress: string;
  readonly family: 4 | 6;
  readonly port: number;
  /** Drop unless the TTL is exactly this (single-hop GTSM). */
  readonly exactTtl?: number;
  /** Drop when the TTL is below this (multihop). */
  readonly minTtl?: number;
}

/**
 * An nftables table of its own (family inet, input hook) with one rule that drops BFD packets to
 * our address and port whose TTL (IPv6: Hop Limit) is wrong, counting them in a named counter.
 * The table name carries the pid and a random suffix, so processes never touch each other's rules.
 */
export class TtlGuard {
  private removed = false;

  private constructor(readonly table: string) {}

  static async install(options: TtlGuardOptions): Promise<TtlGuard> {
    const table = `mcgw_bfd_${process.pid}_${randomBytes(4).toString('hex')}`;
    const ipKw = options.family === 4 ? 'ip' : 'ip6';
    const ttlKw = options.family === 4 ? 'ip ttl' : 'ip6 hoplimit';
    const cond =
      options.exactTtl !== undefined
        ? `${ttlKw} != ${options.exactTtl}`
        : `${ttlKw} < ${options.minTtl ?? 1}`;
    if (parseIP(options.localAddress)?.family !== options.family) {
      throw new BfdTransportError(`bad address for TTL rule: ${options.localAddress}`);
    }
    // Priority -150 runs before conntrack confirms anything and before any filter-table policy.
    const script = [
      `table inet ${table} {`,
      '  counter ttl_drops { }',
      '  chain input {',
      '    type filter hook input priority -150; policy accept;',
      `    ${ipKw} daddr ${options.localAddress} udp dport ${options.port} ${cond} counter name ttl_drops drop`,
      '  }',
      '}',
      '',
    ].join('\n');
    await runNft(['-f', '-'], script);
    liveTables.add(table);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', removeLiveTablesSync);
    }
    return new TtlGuard(table);
  }

  async readDrops(): Promise<number> {
    if (this.removed) return 0;
    const out = await runNft(['-j', 'list', 'counter', 'inet', this.table, 'ttl_drops']);
    const parsed = JSON.parse(out) as { nftables?: Array<{ counter?: { packets?: number } }> };
    const counter = parsed.nftables?.find((e) => e.counter !== undefined)?.counter;
    if (typeof counter?.packets !== 'number') throw new BfdTransportError(`no counter in nft output: ${out}`);
    return counter.packets;
  }

  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    liveTables.delete(this.table);
    await runNft(['delete', 'table', 'inet', this.table]).catch(() => undefined);
  }
}
