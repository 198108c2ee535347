// One BFD session in Asynchronous mode (RFC 5880 6.1-6.8): the state machine, timer negotiation,
// Poll sequences and transmit scheduling. It owns no timers and no sockets: the caller feeds it
// received packets and the current time, and sends what it returns, waking at nextDeadline().
import { BfdAuthenticator } from './auth.ts';
import type { AuthVerifyResult, BfdAuthConfig } from './auth.ts';
import { encodeControlPacket } from './codec.ts';
import { BFD_DIAG_MAX, BfdDiag, BfdState, UINT32_MAX } from './constants.ts';
import type { BfdAuthType } from './constants.ts';
import type { BfdControlPacket } from './packet.ts';
import {
  detectionTimeUs,
  effectiveDesiredMinTxUs,
  jitteredIntervalUs,
  negotiatedTxIntervalUs,
} from './timers.ts';

export interface BfdSessionOptions {
  /** bfd.LocalDiscr: nonzero and unique on this system (RFC 5880 6.8.1). */
  readonly localDiscr: number;
  /** Configured bfd.DesiredMinTxInterval, in microseconds; nonzero. */
  readonly desiredMinTxUs: number;
  /** bfd.RequiredMinRxInterval, in microseconds; 0 asks the peer not to send at all. */
  readonly requiredMinRxUs: number;
  /** bfd.DetectMult, 1-255. */
  readonly detectMult: number;
  /** Authentication in use on this session; none when omitted (bfd.AuthType 0). */
  readonly auth?: BfdAuthConfig;
  /** Passive role: stay silent until the peer has been heard (RFC 5880 6.1). */
  readonly passive?: boolean;
  /** Value of the C bit in every packet. */
  readonly controlPlaneIndependent?: boolean;
  /** Source of jitter, in [0, 1); Math.random by default. */
  readonly random?: () => number;
  /**
   * Milliseconds clock used where a method is called without a time. Defaults to the latest time
   * passed to any method, so a caller that always passes times never needs one.
   */
  readonly clock?: () => number;
  readonly onStateChange?: (change: BfdStateChange) => void;
}

export interface BfdTimerSettings {
  readonly desiredMinTxUs?: number;
  readonly requiredMinRxUs?: number;
}

export interface BfdStateChange {
  readonly old: BfdState;
  readonly new: BfdState;
  /** bfd.LocalDiag after the change. */
  readonly diag: BfdDiag;
  readonly atMs: number;
}

export interface BfdOutgoing {
  readonly packet: BfdControlPacket;
  /** Encoded, and signed when the session authenticates. */
  readonly bytes: Uint8Array;
}

/** What a call produced: packets to send now, and state changes that happened. */
export interface BfdStep {
  readonly send: readonly BfdOutgoing[];
  readonly changes: readonly BfdStateChange[];
}

export type BfdPacketResult = BfdStep & { readonly auth: AuthVerifyResult };

export interface BfdSessionCounters {
  /** Packets that passed authentication and reached the state machine. */
  rxPackets: number;
  /** Of those, packets discarded because the session was AdminDown (RFC 5880 6.8.6). */
  rxWhileAdminDown: number;
  rxAuthFailures: number;
  txPackets: number;
  txFinals: number;
  pollSequencesStarted: number;
  pollSequencesCompleted: number;
  /** Detection Time expiries, whatever the state (in Down they only forget the peer). */
  detectionTimeouts: number;
  stateChanges: number;
}

export interface BfdSessionSnapshot {
  readonly state: BfdState;
  readonly remoteState: BfdState;
  readonly localDiscr: number;
  readonly remoteDiscr: number;
  /** bfd.LocalDiag: the reason for the latest local state change. */
  readonly localDiag: BfdDiag;
  readonly remoteDiag: BfdDiag;
  readonly detectMult: number;
  readonly remoteDetectMult: number;
  /** bfd.DesiredMinTxInterval as advertised (at least 1 s while not Up). */
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly remoteDesiredMinTxUs: number;
  /** bfd.RemoteMinRxInterval. */
  readonly remoteMinRxUs: number;
  readonly remoteDemand: boolean;
  /** Negotiated transmit interval before jitter. */
  readonly txIntervalUs: number;
  /** Current Detection Time; 0 until the peer has been heard. */
  readonly detectionTimeUs: number;
  readonly pollActive: boolean;
  readonly passive: boolean;
  readonly authType: BfdAuthType;
  readonly lastRxMs: number | null;
  readonly lastTxMs: number | null;
  readonly counters: Readonly<BfdSessionCounters>;
}

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`BFD ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

export class BfdSession {
  readonly localDiscr: number;
  private readonly detectMult: number;
  private readonly passive: boolean;
  private readonly cBit: boolean;
  private readonly random: () => number;
  private readonly clock: () => number;
  private readonly onStateChange: ((change: BfdStateChange) => void) | undefined;
  private readonly auth: BfdAuthenticator | undefined;

  // State variables of RFC 5880 6.8.1, with their required initial values.
  private state: BfdState = BfdState.Down;
  private localDiag: BfdDiag = BfdDiag.NoDiagnostic;
  private remoteState: BfdState = BfdState.Down;
  private remoteDiscr = 0;
  private remoteDiag: BfdDiag = BfdDiag.NoDiagnostic;
  private remoteMinRxUs = 1;
  private remoteDesiredMinTxUs = 0;
  private remoteDetectMult = 0;
  private remoteDemand = false;

  // Configured timers, and the values actually in force: RFC 5880 6.8.3 holds back a slower
  // transmit rate and a shorter Detection Time until the peer has acknowledged the change.
  private cfgDesiredMinTxUs: number;
  private cfgRequiredMinRxUs: number;
  private txDesiredUs: number;
  private detectRequiredMinRxUs: number;
  private txIntervalUs: number;

  // Poll sequence (RFC 5880 6.5). After one ends, a packet without F must arrive before the next
  // starts, so a late Final cannot acknowledge values it never saw (RFC 5880 6.8.3).
  private pollActive = false;
  private pollSettling = false;
  private queuedTimers: { desiredMinTxUs: number; requiredMinRxUs: number } | null = null;

  private lastTxMs: number | null = null;
  /** Next periodic transmission; null means "as soon as transmitting is allowed". */
  private nextTxMs: number | null = null;
  private txImmediate = false;
  private finalDue = false;
  private lastRxMs: number | null = null;
  private detectionArmed = false;
  private nowMs = 0;
  private pendingChanges: BfdStateChange[] = [];
  private readonly counters: BfdSessionCounters = {
    rxPackets: 0,
    rxWhileAdminDown: 0,
    rxAuthFailures: 0,
    txPackets: 0,
    txFinals: 0,
    pollSequencesStarted: 0,
    pollSequencesCompleted: 0,
    detectionTimeouts: 0,
    stateChanges: 0,
  };

  constructor(options: BfdSessionOptions) {
    checkInt('local discriminator', options.localDiscr, 1, UINT32_MAX);
    checkInt('desired min tx interval', options.desiredMinTxUs, 1, UINT32_MAX);
    checkInt('required min rx interval', options.requiredMinRxUs, 0, UINT32_MAX);
    checkInt('detect mult', options.detectMult, 1, 0xff);
    this.localDiscr = options.localDiscr;
    this.detectMult = options.detectMult;
    this.passive = options.passive ?? false;
    this.cBit = options.controlPlaneIndependent ?? false;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? (() => this.nowMs);
    this.onStateChange = options.onStateChange;
    this.auth = options.auth ? new BfdAuthenticator(options.auth) : undefined;
    this.cfgDesiredMinTxUs = options.desiredMinTxUs;
    this.cfgRequiredMinRxUs = options.requiredMinRxUs;
    this.txDesiredUs = this.advertisedDesiredMinTxUs();
    this.detectRequiredMinRxUs = options.requiredMinRxUs;
    this.txIntervalUs = negotiatedTxIntervalUs(this.txDesiredUs, this.remoteMinRxUs);
  }

  /**
   * Authenticates a decoded packet against this session (RFC 5880 6.8.6 A-bit rules, then 6.7).
   * Call it before receive(); a failure must drop the packet.
   */
  verify(raw: Uint8Array, packet: BfdControlPacket, nowMs: number = this.clock()): AuthVerifyResult {
    let result: AuthVerifyResult;
    if (!this.auth) {
      result = packet.auth
        ? { ok: false, reason: 'auth-unexpected', detail: 'A bit set but no authentication is in use' }
        : { ok: true };
    } else {
      // bfd.AuthSeqKnown must be forgotten after two Detection Times of silence (RFC 5880 6.8.1).
      const det = this.currentDetectionTimeUs();
      if (this.lastRxMs !== null && det > 0 && nowMs - this.lastRxMs >= (2 * det) / 1000) {
        this.auth.resetReceiveSequence();
      }
      result = this.auth.verify(raw, packet);
    }
    if (!result.ok) this.counters.rxAuthFailures++;
    return result;
  }

  /** verify() then, if it passed, receive(). */
  handlePacket(raw: Uint8Array, packet: BfdControlPacket, nowMs: number = this.clock()): BfdPacketResult {
    const auth = this.verify(raw, packet, nowMs);
    if (!auth.ok) return { auth, ...this.poll(nowMs) };
    return { auth, ...this.receive(packet, nowMs) };
  }

  /**
   * Processes a packet that was decoded, demultiplexed to this session and authenticated, following
   * the reception procedure of RFC 5880 6.8.6 from "Set bfd.RemoteDiscr" on.
   */
  receive(packet: BfdControlPacket, nowMs: number = this.clock()): BfdStep {
    this.advance(nowMs);
    this.counters.rxPackets++;
    this.remoteDiscr = packet.myDiscriminator;
    this.remoteState = packet.state;
    this.remoteDiag = packet.diag;
    this.remoteDemand = packet.demand;
    this.remoteMinRxUs = packet.requiredMinRxUs;
    this.remoteDesiredMinTxUs = packet.desiredMinTxUs;
    this.remoteDetectMult = packet.detectMult;
    this.lastRxMs = nowMs;
    this.detectionArmed = true;

    if (packet.final) {
      if (this.pollActive) this.endPoll();
    } else if (this.pollSettling) {
      this.pollSettling = false;
      const queued = this.queuedTimers;
      this.queuedTimers = null;
      if (queued) this.applyTimers(queued.desiredMinTxUs, queued.requiredMinRxUs);
    }
    this.updateTxInterval();

    if (this.state === BfdState.AdminDown) {
      // RFC 5880 6.8.6 discards here, before the Poll is looked at, so no Final is sent either.
      this.counters.rxWhileAdminDown++;
      return this.flush(nowMs);
    }

    const rx = packet.state;
    if (rx === BfdState.AdminDown) {
      if (this.state !== BfdState.Down) {
        this.transition(BfdState.Down, BfdDiag.NeighborSignaledSessionDown, nowMs);
      }
    } else if (this.state === BfdState.Down) {
      if (rx === BfdState.Down) this.transition(BfdState.Init, this.localDiag, nowMs);
      else if (rx === BfdState.Init) this.transition(BfdState.Up, BfdDiag.NoDiagnostic, nowMs);
    } else if (this.state === BfdState.Init) {
      if (rx === BfdState.Init || rx === BfdState.Up) {
        this.transition(BfdState.Up, BfdDiag.NoDiagnostic, nowMs);
      }
    } else if (rx === BfdState.Down) {
      this.transition(BfdState.Down, BfdDiag.NeighborSignaledSessionDown, nowMs);
    }

    // A Poll is answered at once, whatever the transmit timer says (RFC 5880 6.8.7).
    if (packet.poll) this.finalDue = true;
    return this.flush(nowMs);
  }

  /** Runs what is due at `nowMs`: detection expiry and transmissions. */
  poll(nowMs: number = this.clock()): BfdStep {
    this.advance(nowMs);
    return this.flush(nowMs);
  }

  /**
   * When poll() next has work: the next transmission or Detection Time expiry, in ms on the same
   * clock as the times passed in (the current time when something is due now); null when nothing
   * is scheduled, e.g. a passive session that has not heard its peer.
   */
  nextDeadline(): number | null {
    const now = this.clock();
    if (this.finalDue || this.pendingChanges.length > 0) return now;
    let next: number | null = null;
    if (this.periodicAllowed()) {
      if (this.txImmediate || this.nextTxMs === null) return now;
      next = this.nextTxMs;
    }
    const expiry = this.detectionDeadline();
    if (expiry !== null && (next === null || expiry < next)) next = expiry;
    // A deadline already passed (e.g. the interval just shrank) means "now".
    return next === null ? null : Math.max(next, now);
  }

  /** Takes the session administratively down (RFC 5880 6.8.16); the peer is told via the diag. */
  setAdminDown(diag: BfdDiag = BfdDiag.AdministrativelyDown, nowMs: number = this.clock()): BfdStep {
    checkInt('diag', diag, 0, BFD_DIAG_MAX);
    this.advance(nowMs);
    if (this.state !== BfdState.AdminDown) this.transition(BfdState.AdminDown, diag, nowMs);
    return this.flush(nowMs);
  }

  /** Leaves AdminDown for Down, from where the session can come up again (RFC 5880 6.8.16). */
  enable(nowMs: number = this.clock()): BfdStep {
    this.advance(nowMs);
    if (this.state === BfdState.AdminDown) this.transition(BfdState.Down, BfdDiag.NoDiagnostic, nowMs);
    return this.flush(nowMs);
  }

  /**
   * Changes the local timers. The new values are advertised with a Poll sequence; a slower transmit
   * rate or a shorter Detection Time takes effect only once the peer's Final arrives (RFC 5880
   * 6.8.3). A change while a Poll is still being settled waits for it, so each Final is unambiguous.
   */
  setTimers(settings: BfdTimerSettings, nowMs: number = this.clock()): BfdStep {
    const desired = settings.desiredMinTxUs ?? this.queuedTimers?.desiredMinTxUs ?? this.cfgDesiredMinTxUs;
    const required =
      settings.requiredMinRxUs ?? this.queuedTimers?.requiredMinRxUs ?? this.cfgRequiredMinRxUs;
    checkInt('desired min tx interval', desired, 1, UINT32_MAX);
    checkInt('required min rx interval', required, 0, UINT32_MAX);
    this.advance(nowMs);
    if (this.state === BfdState.Up && (this.pollActive || this.pollSettling)) {
      this.queuedTimers = { desiredMinTxUs: desired, requiredMinRxUs: required };
    } else {
      this.queuedTimers = null;
      this.applyTimers(desired, required);
    }
    return this.flush(nowMs);
  }

  snapshot(): BfdSessionSnapshot {
    return {
      state: this.state,
      remoteState: this.remoteState,
      localDiscr: this.localDiscr,
      remoteDiscr: this.remoteDiscr,
      localDiag: this.localDiag,
      remoteDiag: this.remoteDiag,
      detectMult: this.detectMult,
      remoteDetectMult: this.remoteDetectMult,
      desiredMinTxUs: this.advertisedDesiredMinTxUs(),
      requiredMinRxUs: this.cfgRequiredMinRxUs,
      remoteDesiredMinTxUs: this.remoteDesiredMinTxUs,
      remoteMinRxUs: this.remoteMinRxUs,
      remoteDemand: this.remoteDemand,
      txIntervalUs: this.txIntervalUs,
      detectionTimeUs: this.currentDetectionTimeUs(),
      pollActive: this.pollActive,
      passive: this.passive,
      authType: this.auth?.type ?? 0,
      lastRxMs: this.lastRxMs,
      lastTxMs: this.lastTxMs,
      counters: { ...this.counters },
    };
  }

  get sessionState(): BfdState {
    return this.state;
  }

  // --- internals ---

  private advertisedDesiredMinTxUs(): number {
    return effectiveDesiredMinTxUs(this.cfgDesiredMinTxUs, this.state === BfdState.Up);
  }

  private currentDetectionTimeUs(): number {
    return detectionTimeUs(this.remoteDetectMult, this.detectRequiredMinRxUs, this.remoteDesiredMinTxUs);
  }

  private detectionDeadline(): number | null {
    if (!this.detectionArmed || this.lastRxMs === null) return null;
    const det = this.currentDetectionTimeUs();
    return det > 0 ? this.lastRxMs + det / 1000 : null;
  }

  private advance(nowMs: number): void {
    this.nowMs = nowMs;
    const expiry = this.detectionDeadline();
    if (expiry === null || nowMs < expiry) return;
    this.detectionArmed = false;
    this.counters.detectionTimeouts++;
    // Silence for a Detection Time: the peer is forgotten (RFC 5880 6.8.1) and may be sent to at
    // our own rate again (RFC 5880 6.8.18).
    this.remoteDiscr = 0;
    this.remoteState = BfdState.Down;
    this.remoteMinRxUs = 1;
    this.remoteDemand = false;
    if (this.state === BfdState.Init || this.state === BfdState.Up) {
      this.transition(BfdState.Down, BfdDiag.ControlDetectionTimeExpired, expiry);
    }
    this.updateTxInterval();
  }

  /** No periodic packets for a passive session that has not heard its peer, for a peer asking for
   * none (Required Min RX 0), or while the peer runs Demand mode and no Poll is out (RFC 5880 6.8.7). */
  private periodicAllowed(): boolean {
    if (this.passive && this.remoteDiscr === 0) return false;
    if (this.remoteMinRxUs === 0) return false;
    const remoteDemandActive =
      this.remoteDemand && this.state === BfdState.Up && this.remoteState === BfdState.Up;
    return !remoteDemandActive || this.pollActive;
  }

  private transition(to: BfdState, diag: BfdDiag, atMs: number): void {
    const from = this.state;
    if (from === to) return;
    const advertisedBefore = this.advertisedDesiredMinTxUs();
    this.state = to;
    this.localDiag = diag;
    this.counters.stateChanges++;
    if (to === BfdState.Up || from === BfdState.Up) {
      // Crossing Up moves bfd.DesiredMinTxInterval to or from its 1 s floor (RFC 5880 6.8.3). Both
      // directions take effect at once: a faster rate needs no grace, and holds apply only while Up.
      this.txDesiredUs = this.advertisedDesiredMinTxUs();
      this.detectRequiredMinRxUs = this.cfgRequiredMinRxUs;
      if (this.advertisedDesiredMinTxUs() !== advertisedBefore) this.startPoll();
      if (from === BfdState.Up && this.queuedTimers) {
        const queued = this.queuedTimers;
        this.queuedTimers = null;
        this.applyTimers(queued.desiredMinTxUs, queued.requiredMinRxUs);
      }
      this.updateTxInterval();
    }
    // The packet contents changed, so tell the peer now rather than at the next tick (6.8.7).
    this.txImmediate = true;
    this.pendingChanges.push({ old: from, new: to, diag, atMs });
  }

  private applyTimers(desiredMinTxUs: number, requiredMinRxUs: number): void {
    const advertisedBefore = this.advertisedDesiredMinTxUs();
    const requiredBefore = this.cfgRequiredMinRxUs;
    this.cfgDesiredMinTxUs = desiredMinTxUs;
    this.cfgRequiredMinRxUs = requiredMinRxUs;
    const advertised = this.advertisedDesiredMinTxUs();
    if (advertised === advertisedBefore && requiredMinRxUs === requiredBefore) return;
    const up = this.state === BfdState.Up;
    // RFC 5880 6.8.3: while Up, do not slow down before the peer has stretched its Detection Time,
    // nor shorten ours before the peer has sped up; both wait for the Final.
    if (!(up && advertised > this.txDesiredUs)) this.txDesiredUs = advertised;
    if (!(up && requiredMinRxUs < this.detectRequiredMinRxUs)) this.detectRequiredMinRxUs = requiredMinRxUs;
    this.startPoll();
    this.updateTxInterval();
  }

  private startPoll(): void {
    if (this.pollActive) return;
    this.pollActive = true;
    this.pollSettling = false;
    this.counters.pollSequencesStarted++;
  }

  private endPoll(): void {
    this.pollActive = false;
    this.pollSettling = true;
    this.counters.pollSequencesCompleted++;
    this.txDesiredUs = this.advertisedDesiredMinTxUs();
    this.detectRequiredMinRxUs = this.cfgRequiredMinRxUs;
  }

  /** The transmit interval is recomputed whenever either input changes (RFC 5880 6.8.7); a change
   * moves the pending transmission, so a peer's lower Required Min RX is honoured at once (6.8.3). */
  private updateTxInterval(): void {
    const interval = negotiatedTxIntervalUs(this.txDesiredUs, this.remoteMinRxUs);
    if (interval === this.txIntervalUs) return;
    this.txIntervalUs = interval;
    if (this.lastTxMs !== null && this.nextTxMs !== null) {
      this.nextTxMs = this.lastTxMs + this.jitteredMs();
    }
  }

  private jitteredMs(): number {
    return jitteredIntervalUs(this.txIntervalUs, this.detectMult, this.random) / 1000;
  }

  private scheduleNext(nowMs: number): void {
    this.lastTxMs = nowMs;
    this.nextTxMs = nowMs + this.jitteredMs();
  }

  private flush(nowMs: number): BfdStep {
    const send: BfdOutgoing[] = [];
    const periodic = this.periodicAllowed();
    if (!periodic) {
      this.nextTxMs = null;
      this.txImmediate = false;
    }
    if (this.finalDue) {
      this.finalDue = false;
      // A Final must not carry P (RFC 5880 6.5).
      send.push(this.emit(false, true));
      this.counters.txFinals++;
      // Without a Poll of our own out, the Final says all a periodic packet would.
      if (periodic && !this.pollActive) {
        this.txImmediate = false;
        this.scheduleNext(nowMs);
      }
    }
    if (periodic && (this.txImmediate || this.nextTxMs === null || nowMs >= this.nextTxMs)) {
      send.push(this.emit(this.pollActive, false));
      this.txImmediate = false;
      this.scheduleNext(nowMs);
    }
    const changes = this.pendingChanges;
    this.pendingChanges = [];
    if (this.onStateChange) for (const change of changes) this.onStateChange(change);
    return { send, changes };
  }

  private emit(poll: boolean, final: boolean): BfdOutgoing {
    // Contents per RFC 5880 6.8.7. We never ask for Demand mode nor run the Echo function.
    const packet: BfdControlPacket = {
      diag: this.localDiag,
      state: this.state,
      poll,
      final,
      controlPlaneIndependent: this.cBit,
      demand: false,
      multipoint: false,
      detectMult: this.detectMult,
      myDiscriminator: this.localDiscr,
      yourDiscriminator: this.remoteDiscr,
      desiredMinTxUs: this.advertisedDesiredMinTxUs(),
      requiredMinRxUs: this.cfgRequiredMinRxUs,
      requiredMinEchoRxUs: 0,
    };
    this.counters.txPackets++;
    if (this.auth) return this.auth.sign(packet);
    return { packet, bytes: encodeControlPacket(packet) };
  }
}
