// The socket event loop around the pure BFD core: many BfdSession objects, one deadline heap and
// one setTimeout armed for the earliest deadline (never one interval per session), UDP transports
// shared per local address and mode, and demultiplexing through a SessionTable (RFC 5880 6.8.6).
// Optionally it answers peers it was not told about: an acceptor approves the first packet of an
// unknown peer and a passive session is created for it (RFC 5880 6.1), then reaped once the peer
// has been gone for a while.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BfdAuthConfig } from './auth.ts';
import { BfdDiag, BfdState } from './constants.ts';
import { DeadlineHeap } from './deadline-heap.ts';
import type { HeapItem } from './deadline-heap.ts';
import type { BfdControlPacket } from './packet.ts';
import { BfdSession } from './session.ts';
import type { BfdSessionSnapshot, BfdStateChange, BfdStep, BfdTimerSettings } from './session.ts';
import { SessionTable } from './session-table.ts';
import { BfdTransport, emptyDropCounters } from './transport.ts';
import type {
  BfdDropReason,
  BfdSource,
  BfdTransportCounters,
  BfdTransportMode,
  BfdTtlCheck,
} from './transport.ts';
import { parseIP } from '../util/ip.ts';
import { silentLogger } from '../util/log.ts';
import type { Logger } from '../util/log.ts';

export interface BfdPeerConfig {
  /** The peer's address: where packets go, and how its first packets are recognised. */
  readonly peer: string;
  /** Our address; the transport binds to it (so it works inside a tunnel or network namespace). */
  readonly local: string;
  /** RFC 5883 multihop (port 4784) instead of RFC 5881 single-hop (port 3784). */
  readonly multihop?: boolean;
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly detectMult: number;
  readonly auth?: BfdAuthConfig;
  readonly passive?: boolean;
}

/** The first packet of a peer no session knows, as shown to BfdRunnerOptions.accept. */
export interface BfdAcceptRequest {
  /** The packet's source address: the peer the session would answer. */
  readonly peer: string;
  readonly peerPort: number;
  /** The local address of the transport it reached, i.e. the address it was sent to. */
  readonly local: string;
  readonly multihop: boolean;
  /** Decoded, not yet authenticated; the new session authenticates it before keeping it. */
  readonly packet: BfdControlPacket;
}

/** How an accepted session runs. Its addresses and mode are where the packet arrived; it is passive. */
export type BfdAcceptedConfig = Pick<
  BfdPeerConfig,
  'desiredMinTxUs' | 'requiredMinRxUs' | 'detectMult' | 'auth'
> & {
  /**
   * Start the session AdminDown with this diag, after it has read the peer's first packet (so the
   * peer hears it): a system that cannot serve the peer now says why instead of staying silent.
   * enable() lets it come Up later.
   */
  readonly adminDownDiag?: BfdDiag;
};

export interface BfdRunnerStateChange {
  readonly localDiscr: number;
  readonly peer: string;
  readonly local: string;
  readonly multihop: boolean;
  /** The session was created for an unknown peer by the acceptor, not by addSession. */
  readonly accepted: boolean;
  readonly old: BfdState;
  readonly new: BfdState;
  readonly diag: BfdDiag;
  /** The peer's state and diag from its last packet (e.g. AdminDown, Concatenated Path Down). */
  readonly remoteState: BfdState;
  readonly remoteDiag: BfdDiag;
  /** When the protocol places the change, ms since the epoch; for a timeout, the expiry itself. */
  readonly atMs: number;
  /** When this runner noticed it, ms since the epoch: atMs plus timer and event-loop lateness. */
  readonly observedAtMs: number;
}

export interface BfdRunnerOptions {
  /** Received-TTL enforcement, see BfdTransportOptions.ttlCheck. Default `nftables`. */
  readonly ttlCheck?: BfdTtlCheck;
  /** Multihop transports drop packets with a lower TTL (RFC 5883 5); no check when unset. */
  readonly multihopMinTtl?: number;
  /** Port overrides, for labs and tests only (RFC 5881 4, RFC 5883 4 fix 3784 and 4784). */
  readonly singleHopPort?: number;
  readonly multihopPort?: number;
  readonly recvBufferSize?: number;
  readonly logger?: Logger;
  readonly onStateChange?: (change: BfdRunnerStateChange) => void;
  /** Jitter and discriminator source; Math.random by default. */
  readonly random?: () => number;
  /**
   * Answers peers no session was added for. Asked only for a packet that demultiplexes to no
   * session, carries Your Discriminator 0 and state Down (the only packet from which RFC 5880
   * 6.8.6 lets a session start); returning a config creates a passive session (RFC 5880 6.1) on
   * the transport the packet reached and hands it the packet, so it comes Up by the usual 3-way
   * handshake. Returning undefined refuses the peer (counted as `peer-refused`). Transports for
   * accepted sessions must be open already: see listen(). Unset: unknown peers are dropped.
   */
  readonly accept?: (request: BfdAcceptRequest) => BfdAcceptedConfig | undefined;
  /** Accepted sessions held at once; packets beyond are dropped as `accept-limit`. Default 4096. */
  readonly maxAccepted?: number;
  /**
   * An accepted session out of Up this long is removed quietly, without AdminDown, so peers that
   * went away do not pile up. Counted from its creation, its last Up or its leaving AdminDown;
   * one held AdminDown is not reaped. Default 10 s.
   */
  readonly acceptedReapMs?: number;
}

export interface BfdSessionInfo {
  readonly localDiscr: number;
  readonly peer: string;
  readonly local: string;
  readonly multihop: boolean;
  readonly accepted: boolean;
  readonly snapshot: BfdSessionSnapshot;
}

export interface BfdTransportInfo {
  readonly local: string;
  readonly mode: BfdTransportMode;
  readonly port: number;
  readonly sourcePort: number;
  readonly ttlEnforced: boolean;
  readonly counters: BfdTransportCounters;
}

export interface BfdRunnerStats {
  readonly sessions: number;
  /** Times the single timer fired, and sessions it polled. */
  readonly timerWakeups: number;
  readonly timerPolls: number;
  /** Worst delay of the timer past its target, in ms, since the start or the last resetPeaks. */
  readonly maxTimerLateMs: number;
  /** Event-loop turns spent reading queued packets after a stall, before judging timeouts. */
  readonly drainRounds: number;
  /** Sessions the acceptor created that are still held, ever created, and reaped. */
  readonly acceptedSessions: number;
  readonly acceptedTotal: number;
  readonly reapedTotal: number;
  /** Totals over all transports. */
  readonly rxDatagrams: number;
  readonly rxAccepted: number;
  readonly txPackets: number;
  readonly txErrors: number;
  readonly dropped: Record<BfdDropReason, number>;
  readonly transports: readonly BfdTransportInfo[];
}

/** How often, and how far apart, the AdminDown of a shutdown is repeated: one packet may be lost. */
const ADMIN_DOWN_REPEATS = 2;
const ADMIN_DOWN_REPEAT_GAP_MS = 20;
/** A timer later than this means the event loop stalled; see enterStall. */
const LAG_TOLERANCE_MS = 5;
/** libuv reads at most this many datagrams per socket each time the poll phase sees it readable. */
const UV_UDP_READS_PER_WAKEUP = 32;
/**
 * Longest catch-up after a stall before timeouts are judged anyway: enough to read thousands of
 * queued packets, short enough that sustained overload cannot postpone detection for long.
 */
const MAX_DRAIN_MS = 100;
/** How far inside the Detection Time a packet read after a stall is placed at the latest. */
const STALL_CREDIT_MARGIN_MS = 0.001;
const DEFAULT_MAX_ACCEPTED = 4096;
const DEFAULT_ACCEPTED_REAP_MS = 10_000;

interface Slot {
  readonly key: string;
  readonly transport: BfdTransport;
}

class Entry implements HeapItem {
  heapIndex = -1;
  deadline = 0;
  /** Latest time passed to the session, so a credited receive time never goes backwards. */
  lastMs = 0;
  /** Accepted sessions only: since when it has not been Up (monotonic ms), null while Up. */
  notUpSince: number | null = null;
  constructor(
    readonly session: BfdSession,
    readonly config: BfdPeerConfig,
    readonly slot: Slot,
    readonly accepted = false,
  ) {}
  get localDiscr(): number {
    return this.session.localDiscr;
  }
}

export class BfdRunnerError extends Error {
  override readonly name = 'BfdRunnerError';
}

/** Milliseconds on the monotonic clock every session runs on; performance.timeOrigin maps it to epoch. */
const monotonicNow = (): number => performance.now();
const toEpoch = (mono: number): number => performance.timeOrigin + mono;

export class BfdRunner {
  private readonly table = new SessionTable<Entry>();
  private readonly heap = new DeadlineHeap<Entry>();
  private readonly slots = new Map<string, Promise<Slot>>();
  private readonly openSlots: Slot[] = [];
  private readonly openByKey = new Map<string, Slot>();
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly maxAccepted: number;
  private readonly reapMs: number;
  private acceptedNow = 0;
  private acceptedTotal = 0;
  private reapedTotal = 0;
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private closed = false;
  private draining = false;
  private drainRounds = 0;
  private timerWakeups = 0;
  private timerPolls = 0;
  private maxTimerLateMs = 0;

  constructor(private readonly options: BfdRunnerOptions = {}) {
    this.log = options.logger ?? silentLogger;
    this.random = options.random ?? Math.random;
    this.maxAccepted = options.maxAccepted ?? DEFAULT_MAX_ACCEPTED;
    this.reapMs = options.acceptedReapMs ?? DEFAULT_ACCEPTED_REAP_MS;
    if (!Number.isInteger(this.maxAccepted) || this.maxAccepted < 0)
      throw new BfdRunnerError(`maxAccepted must be a whole number >= 0, got ${this.maxAccepted}`);
    if (!(this.reapMs > 0)) throw new BfdRunnerError(`acceptedReapMs must be > 0, got ${this.reapMs}`);
  }

  get size(): number {
    return this.table.size;
  }

  /** Starts a session; opens (or reuses) the transport for its local address and mode. */
  async addSession(config: BfdPeerConfig): Promise<number> {
    if (this.closed) throw new BfdRunnerError('BFD runner is closed');
    const local = parseIP(config.local);
    const peer = parseIP(config.peer);
    if (!local) throw new BfdRunnerError(`BFD local address "${config.local}" is not an IP address`);
    if (!peer) throw new BfdRunnerError(`BFD peer address "${config.peer}" is not an IP address`);
    if (local.family !== peer.family) {
      throw new BfdRunnerError(`BFD peer ${config.peer} and local address ${config.local} differ in family`);
    }
    const slot = await this.slotFor(config.local, config.multihop ?? false);
    if (this.closed) throw new BfdRunnerError('BFD runner is closed');
    // A configured session takes over from one the acceptor made for the same peer.
    const prior = this.table.getByPeer({ peer: config.peer, interface: slot.key });
    if (prior?.accepted) this.drop(prior);
    const session = new BfdSession({
      localDiscr: this.table.allocateDiscriminator(this.random),
      desiredMinTxUs: config.desiredMinTxUs,
      requiredMinRxUs: config.requiredMinRxUs,
      detectMult: config.detectMult,
      random: this.random,
      clock: monotonicNow,
      ...(config.auth ? { auth: config.auth } : {}),
      ...(config.passive ? { passive: true } : {}),
    });
    const entry = new Entry(session, { ...config }, slot);
    // Keyed by peer and transport: the first packets of a peer carry Your Discriminator 0 and are
    // placed by where they came from (RFC 5880 6.8.6), which includes the socket they reached.
    this.table.add(entry, { peer: config.peer, interface: slot.key });
    this.reschedule(entry);
    this.arm();
    return session.localDiscr;
  }

  /**
   * Opens (or reuses) the transport for a local address and mode without adding a session, so
   * that the acceptor can answer peers there. It stays open until close().
   */
  async listen(local: string, options: { multihop?: boolean } = {}): Promise<void> {
    if (this.closed) throw new BfdRunnerError('BFD runner is closed');
    if (!parseIP(local)) throw new BfdRunnerError(`BFD local address "${local}" is not an IP address`);
    await this.slotFor(local, options.multihop ?? false);
  }

  /** Stops a session, first telling the peer with AdminDown when asked (RFC 5880 6.8.16). */
  removeSession(localDiscr: number, options: { adminDown?: boolean } = {}): boolean {
    const entry = this.table.get(localDiscr);
    if (!entry) return false;
    if (options.adminDown) this.setAdminDown(localDiscr);
    this.drop(entry);
    return true;
  }

  setTimers(localDiscr: number, settings: BfdTimerSettings): void {
    this.act(localDiscr, (s, now) => s.setTimers(settings, now));
  }

  setAdminDown(localDiscr: number, diag: BfdDiag = BfdDiag.AdministrativelyDown): void {
    this.act(localDiscr, (s, now) => s.setAdminDown(diag, now));
  }

  enable(localDiscr: number): void {
    this.act(localDiscr, (s, now) => s.enable(now));
  }

  session(localDiscr: number): BfdSessionInfo | undefined {
    const entry = this.table.get(localDiscr);
    return entry ? info(entry) : undefined;
  }

  sessions(): BfdSessionInfo[] {
    return [...this.table.values()].map(info);
  }

  /** Counters so far; `resetPeaks` starts a new window for maxTimerLateMs after reading it. */
  stats(options: { resetPeaks?: boolean } = {}): BfdRunnerStats {
    const dropped = emptyDropCounters();
    let rxDatagrams = 0;
    let rxAccepted = 0;
    let txPackets = 0;
    let txErrors = 0;
    const transports: BfdTransportInfo[] = [];
    for (const { transport: t } of this.openSlots) {
      const c = t.counters;
      rxDatagrams += c.rxDatagrams;
      rxAccepted += c.rxAccepted;
      txPackets += c.txPackets;
      txErrors += c.txErrors;
      for (const [reason, n] of Object.entries(c.dropped)) dropped[reason as BfdDropReason] += n;
      transports.push({
        local: t.localAddress,
        mode: t.mode,
        port: t.port,
        sourcePort: t.sourcePort,
        ttlEnforced: t.ttlEnforced,
        counters: { ...c, dropped: { ...c.dropped } },
      });
    }
    const maxTimerLateMs = this.maxTimerLateMs;
    if (options.resetPeaks) this.maxTimerLateMs = 0;
    return {
      sessions: this.table.size,
      timerWakeups: this.timerWakeups,
      timerPolls: this.timerPolls,
      maxTimerLateMs,
      drainRounds: this.drainRounds,
      acceptedSessions: this.acceptedNow,
      acceptedTotal: this.acceptedTotal,
      reapedTotal: this.reapedTotal,
      rxDatagrams,
      rxAccepted,
      txPackets,
      txErrors,
      dropped,
      transports,
    };
  }

  /** Packets the nftables TTL rules dropped, summed over transports; null if none enforce TTL. */
  async readTtlDrops(): Promise<number | null> {
    const counts = await Promise.all(this.openSlots.map((s) => s.transport.readTtlDrops()));
    const enforced = counts.filter((n): n is number => n !== null);
    return enforced.length === 0 ? null : enforced.reduce((a, b) => a + b, 0);
  }

  /**
   * Stops everything. By default every session that is Up or Init first goes AdminDown with diag 7
   * and tells its peer so (RFC 5880 6.8.16), which the peer reports as Neighbor Signaled Session
   * Down instead of waiting out a Detection Time; the packet is repeated in case one is lost.
   */
  async close(options: { adminDown?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (options.adminDown ?? true) {
      const now = monotonicNow();
      const repeats: Array<{ slot: Slot; peer: string; bytes: Uint8Array }> = [];
      for (const entry of this.table.values()) {
        const state = entry.session.sessionState;
        if (state !== BfdState.Up && state !== BfdState.Init) continue;
        const step = entry.session.setAdminDown(BfdDiag.AdministrativelyDown, now);
        for (const out of step.send) {
          entry.slot.transport.send(out.bytes, entry.config.peer);
          repeats.push({ slot: entry.slot, peer: entry.config.peer, bytes: out.bytes });
        }
        for (const change of step.changes) this.emit(entry, change, now);
      }
      // Same bytes again: a keyed-auth peer accepts a repeated sequence number (RFC 5880 6.7.3),
      // and a meticulous one drops it harmlessly.
      for (let i = 0; i < ADMIN_DOWN_REPEATS && repeats.length > 0; i++) {
        await sleep(ADMIN_DOWN_REPEAT_GAP_MS);
        for (const r of repeats) r.slot.transport.send(r.bytes, r.peer);
      }
    }
    const slots = await Promise.allSettled(this.slots.values());
    await Promise.all(slots.flatMap((s) => (s.status === 'fulfilled' ? [s.value.transport.close()] : [])));
  }

  // --- internals ---

  private slotFor(local: string, multihop: boolean): Promise<Slot> {
    const mode: BfdTransportMode = multihop ? 'multihop' : 'single-hop';
    const port = multihop ? this.options.multihopPort : this.options.singleHopPort;
    const key = `${mode}|${local}|${port ?? ''}`;
    let slot = this.slots.get(key);
    if (!slot) {
      const minTtl = multihop ? this.options.multihopMinTtl : undefined;
      slot = BfdTransport.open({
        localAddress: local,
        mode,
        ...(port !== undefined ? { port } : {}),
        ...(this.options.ttlCheck ? { ttlCheck: this.options.ttlCheck } : {}),
        ...(minTtl !== undefined ? { minTtl } : {}),
        ...(this.options.recvBufferSize !== undefined ? { recvBufferSize: this.options.recvBufferSize } : {}),
        logger: this.log,
        onPacket: (packet, raw, from) => this.onPacket(key, packet, raw, from),
      }).then((transport) => {
        const s = { key, transport };
        this.openSlots.push(s);
        this.openByKey.set(key, s);
        return s;
      });
      this.slots.set(key, slot);
      // A failed open must not poison the key: a later session may retry (e.g. after a fix).
      slot.catch(() => this.slots.delete(key));
    }
    return slot;
  }

  private onPacket(
    key: string,
    packet: BfdControlPacket,
    raw: Uint8Array,
    from: BfdSource,
  ): BfdDropReason | undefined {
    const found = this.table.lookup(packet, { peer: from.address, interface: key });
    if (!found.ok) {
      // Only a Down packet with Your Discriminator 0 may start a session (RFC 5880 6.8.6).
      if (found.reason === 'unknown-peer' && packet.state === BfdState.Down && this.options.accept)
        return this.acceptPeer(key, packet, raw, from);
      return found.reason;
    }
    const entry = found.session;
    if (entry.slot.key !== key) return 'wrong-transport';
    // The poll phase can run before the timers phase after a stall, so notice it here too.
    if (!this.draining && this.timer && monotonicNow() - this.armedFor > LAG_TOLERANCE_MS) {
      this.enterStall(this.armedFor);
    }
    const now = this.draining ? this.creditedTime(entry) : monotonicNow();
    const result = entry.session.handlePacket(raw, packet, now);
    this.apply(entry, result, now);
    this.arm();
    return result.auth.ok ? undefined : result.auth.reason;
  }

  /** Creates a passive session for an unknown peer the acceptor approves, and feeds it the packet. */
  private acceptPeer(
    key: string,
    packet: BfdControlPacket,
    raw: Uint8Array,
    from: BfdSource,
  ): BfdDropReason | undefined {
    const slot = this.openByKey.get(key);
    if (!slot || this.closed) return 'unknown-peer';
    if (this.acceptedNow >= this.maxAccepted) return 'accept-limit';
    const multihop = slot.transport.mode === 'multihop';
    const local = slot.transport.localAddress;
    const cfg = this.options.accept!({ peer: from.address, peerPort: from.port, local, multihop, packet });
    if (!cfg) return 'peer-refused';
    const now = monotonicNow();
    const config: BfdPeerConfig = {
      peer: from.address,
      local,
      multihop,
      desiredMinTxUs: cfg.desiredMinTxUs,
      requiredMinRxUs: cfg.requiredMinRxUs,
      detectMult: cfg.detectMult,
      ...(cfg.auth ? { auth: cfg.auth } : {}),
      passive: true,
    };
    const session = new BfdSession({
      localDiscr: this.table.allocateDiscriminator(this.random),
      desiredMinTxUs: config.desiredMinTxUs,
      requiredMinRxUs: config.requiredMinRxUs,
      detectMult: config.detectMult,
      random: this.random,
      clock: monotonicNow,
      ...(config.auth ? { auth: config.auth } : {}),
      passive: true,
    });
    // Authenticate before anything is kept: an unauthenticated flood must not create sessions.
    const auth = session.verify(raw, packet, now);
    if (!auth.ok) return auth.reason;
    const entry = new Entry(session, config, slot, true);
    entry.notUpSince = now;
    this.table.add(entry, { peer: from.address, interface: key });
    this.acceptedNow++;
    this.acceptedTotal++;
    this.log.debug('bfd session accepted', { peer: from.address, local, localDiscr: entry.localDiscr });
    const first = session.receive(packet, now);
    if (cfg.adminDownDiag === undefined) this.apply(entry, first, now);
    else {
      // Its Init reply is not sent: the peer would come Up on it, only to go Down at the AdminDown.
      this.apply(entry, { ...first, send: [] }, now);
      this.apply(entry, session.setAdminDown(cfg.adminDownDiag, now), now);
    }
    this.arm();
    return undefined;
  }

  /** Forgets a session without telling its peer. */
  private drop(entry: Entry): void {
    this.heap.delete(entry);
    if (this.table.remove(entry.localDiscr) && entry.accepted) this.acceptedNow--;
  }

  private act(localDiscr: number, fn: (session: BfdSession, now: number) => BfdStep): void {
    const entry = this.table.get(localDiscr);
    if (!entry) throw new BfdRunnerError(`no BFD session with discriminator ${localDiscr}`);
    const now = monotonicNow();
    this.apply(entry, fn(entry.session, now), now);
    this.arm();
  }

  private apply(entry: Entry, step: BfdStep, now: number): void {
    if (now > entry.lastMs) entry.lastMs = now;
    const { transport } = entry.slot;
    for (const out of step.send) transport.send(out.bytes, entry.config.peer);
    for (const change of step.changes) {
      if (entry.accepted) {
        if (change.new === BfdState.Up) entry.notUpSince = null;
        // Leaving AdminDown starts the count afresh: the peer gets a full reapMs to come Up.
        else if (entry.notUpSince === null || change.old === BfdState.AdminDown)
          entry.notUpSince = change.atMs;
      }
      this.emit(entry, change, now);
    }
    this.reschedule(entry);
  }

  private emit(entry: Entry, change: BfdStateChange, now: number): void {
    const { remoteState, remoteDiag } = entry.session.snapshot();
    const event: BfdRunnerStateChange = {
      localDiscr: entry.localDiscr,
      peer: entry.config.peer,
      local: entry.config.local,
      multihop: entry.config.multihop ?? false,
      accepted: entry.accepted,
      old: change.old,
      new: change.new,
      diag: change.diag,
      remoteState,
      remoteDiag,
      atMs: toEpoch(change.atMs),
      observedAtMs: toEpoch(now),
    };
    try {
      this.options.onStateChange?.(event);
    } catch (err) {
      this.log.error('bfd state change listener threw', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private reschedule(entry: Entry): void {
    if (this.table.get(entry.localDiscr) !== entry) return; // removed meanwhile
    let deadline = entry.session.nextDeadline();
    const reapAt = this.reapAt(entry);
    if (reapAt !== null && (deadline === null || reapAt < deadline)) deadline = reapAt;
    if (deadline === null) this.heap.delete(entry);
    else this.heap.set(entry, deadline);
  }

  /** When an accepted session that is not Up gets reaped; null for the others. */
  private reapAt(entry: Entry): number | null {
    // A session held AdminDown on purpose is kept: its peer is there, and comes Up once enabled.
    if (!entry.accepted || entry.notUpSince === null) return null;
    return entry.session.sessionState === BfdState.AdminDown ? null : entry.notUpSince + this.reapMs;
  }

  /** Keeps the one timer aimed at the earliest deadline; a later one is left alone. */
  private arm(): void {
    if (this.closed || this.draining) return;
    const top = this.heap.peek();
    if (!top) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.armedFor = Infinity;
      return;
    }
    if (this.timer && this.armedFor <= top.deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = top.deadline;
    // Node fires timers on whole milliseconds at the earliest; rounding up avoids a wasted early
    // wakeup that finds nothing due.
    const delay = Math.max(0, Math.ceil(top.deadline - monotonicNow()));
    this.timer = setTimeout(this.onTimer, delay);
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    const target = this.armedFor;
    this.armedFor = Infinity;
    const now = monotonicNow();
    this.timerWakeups++;
    if (now - target > LAG_TOLERANCE_MS) {
      this.enterStall(target);
      return;
    }
    if (now - target > this.maxTimerLateMs) this.maxTimerLateMs = now - target;
    this.runDue(now);
  };

  /**
   * The event loop stalled (CPU contention, a long GC) past the timer's `target`, so packets that
   * arrived meanwhile still sit in the socket buffers. Detection Time counts packets the system
   * received (RFC 5880 6.8.4), not packets we got round to, so they are read before any timeout is
   * judged (see queuedReceiveTime). A peer that really went silent has nothing queued, so it is
   * still declared Down, late by the stall.
   */
  private enterStall(target: number): void {
    if (this.draining) return;
    const late = monotonicNow() - target;
    if (late > this.maxTimerLateMs) this.maxTimerLateMs = late;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
    this.draining = true;
    this.drainThenRun(0, this.rxTotal(), monotonicNow() + MAX_DRAIN_MS);
  }

  /**
   * The time a session is given while draining after a stall. A packet found queued counts as
   * received no later than just inside the Detection Time of the previous one (or now, if that is
   * earlier): node:dgram gives no arrival timestamps, the kernel did receive it, and the peer's
   * own detection of our silence, not ours of a peer whose packets we failed to read, is what
   * must decide such a stall. Never earlier than a time the session has already seen.
   */
  private creditedTime(entry: Entry): number {
    const now = monotonicNow();
    const snap = entry.session.snapshot(); // only while draining, so the allocation is rare
    let t = now;
    if (snap.lastRxMs !== null && snap.detectionTimeUs > 0) {
      t = Math.min(now, snap.lastRxMs + snap.detectionTimeUs / 1000 - STALL_CREDIT_MARGIN_MS);
    }
    return Math.max(t, entry.lastMs);
  }

  /** Lets the poll phase read another batch while the previous one was full, then runs what is due. */
  private drainThenRun(round: number, rxBefore: number, until: number): void {
    setImmediate(() => {
      if (this.closed) return;
      const rx = this.rxTotal();
      if (rx - rxBefore >= UV_UDP_READS_PER_WAKEUP && monotonicNow() < until) {
        // Keep transmitting while catching up: the peer's view of our silence must not grow.
        this.runDue(monotonicNow(), true);
        this.drainThenRun(round + 1, rx, until);
        return;
      }
      this.draining = false;
      this.drainRounds += round + 1;
      this.runDue(monotonicNow());
    });
  }

  private rxTotal(): number {
    let n = 0;
    for (const s of this.openSlots) n += s.transport.counters.rxDatagrams;
    return n;
  }

  /**
   * Polls every session that is due. `credited` (while draining after a stall) polls each at its
   * credited time (see creditedTime), so due packets go out but no Detection Time is judged yet;
   * sessions still due after that wait, out of the heap, for the end of the drain.
   */
  private runDue(now: number, credited = false): void {
    // Each session at most once per wakeup, so a session that keeps reporting "due now" cannot
    // spin the loop; it is picked up again by the next timer.
    let budget = this.heap.size;
    const parked: Entry[] = [];
    for (let top = this.heap.peek(); top && top.deadline <= now && budget > 0; top = this.heap.peek()) {
      budget--;
      this.timerPolls++;
      // Not while catching up after a stall: the queued packets may still bring it Up.
      const reapAt = credited ? null : this.reapAt(top);
      if (reapAt !== null && reapAt <= now) {
        this.log.debug('bfd accepted session reaped', {
          peer: top.config.peer,
          local: top.config.local,
          localDiscr: top.localDiscr,
        });
        this.drop(top);
        this.reapedTotal++;
        continue;
      }
      try {
        const t = credited ? this.creditedTime(top) : now;
        this.apply(top, top.session.poll(t), t);
        if (credited && this.heap.has(top) && top.deadline <= now) {
          this.heap.delete(top);
          parked.push(top);
        }
      } catch (err) {
        // A bug in one session must not stop the others: park it for a second and say so.
        this.log.error('bfd session poll threw', {
          localDiscr: top.localDiscr,
          error: err instanceof Error ? err.message : String(err),
        });
        this.heap.set(top, now + 1000);
      }
    }
    for (const entry of parked) this.reschedule(entry);
    this.arm();
  }
}

function info(entry: Entry): BfdSessionInfo {
  return {
    localDiscr: entry.localDiscr,
    peer: entry.config.peer,
    local: entry.config.local,
    multihop: entry.config.multihop ?? false,
    accepted: entry.accepted,
    snapshot: entry.session.snapshot(),
  };
}
