// Shared fixtures for the BFD tests: packet builders, generators and a simulated two-node link.
import fc from 'fast-check';
import { decodeControlPacket } from '../../src/bfd/codec.ts';
import { BfdState } from '../../src/bfd/constants.ts';
import type { BfdAuthSection, BfdControlPacket } from '../../src/bfd/packet.ts';
import { BfdSession } from '../../src/bfd/session.ts';
import type { BfdOutgoing, BfdSessionOptions, BfdStateChange } from '../../src/bfd/session.ts';

export function packet(overrides: Partial<BfdControlPacket> = {}): BfdControlPacket {
  return {
    diag: 0,
    state: BfdState.Up,
    poll: false,
    final: false,
    controlPlaneIndependent: false,
    demand: false,
    multipoint: false,
    detectMult: 3,
    myDiscriminator: 0x1111,
    yourDiscriminator: 0x2222,
    desiredMinTxUs: 300_000,
    requiredMinRxUs: 300_000,
    requiredMinEchoRxUs: 0,
    ...overrides,
  };
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

export const authSectionArb: fc.Arbitrary<BfdAuthSection> = fc
  .oneof(
    fc.record({
      type: fc.constant(1 as const),
      keyId: fc.integer({ min: 0, max: 255 }),
      password: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
    fc.record({
      type: fc.constantFrom(2 as const, 3 as const),
      keyId: fc.integer({ min: 0, max: 255 }),
      sequence: u32,
      digest: bytes(16),
    }),
    fc.record({
      type: fc.constantFrom(4 as const, 5 as const),
      keyId: fc.integer({ min: 0, max: 255 }),
      sequence: u32,
      digest: bytes(20),
    }),
    // fast-check builds records without a prototype; the decoder returns plain objects.
  )
  .map((a) => ({ ...a }));

/** Any packet the decoder must accept (RFC 5880 6.8.6 constraints hold). */
export const validPacketArb: fc.Arbitrary<BfdControlPacket> = fc
  .record({
    diag: fc.integer({ min: 0, max: 31 }),
    state: fc.constantFrom(BfdState.AdminDown, BfdState.Down, BfdState.Init, BfdState.Up),
    poll: fc.boolean(),
    final: fc.boolean(),
    controlPlaneIndependent: fc.boolean(),
    demand: fc.boolean(),
    detectMult: fc.integer({ min: 1, max: 255 }),
    myDiscriminator: fc.integer({ min: 1, max: 0xffff_ffff }),
    yourDiscriminator: u32,
    desiredMinTxUs: u32,
    requiredMinRxUs: u32,
    requiredMinEchoRxUs: u32,
    auth: fc.option(authSectionArb, { nil: undefined }),
  })
  .map(({ auth, ...p }) => {
    const zeroOk = p.state === BfdState.Down || p.state === BfdState.AdminDown;
    const base = {
      ...p,
      multipoint: false,
      yourDiscriminator: zeroOk || p.yourDiscriminator !== 0 ? p.yourDiscriminator : 1,
    };
    return auth ? { ...base, auth } : base;
  });

export function decodeOk(bytes: Uint8Array): BfdControlPacket {
  const r = decodeControlPacket(bytes);
  if (!r.ok) throw new Error(`decode failed: ${r.reason}: ${r.detail}`);
  return r.packet;
}

/** Clock for a session under test: tests move `now`, and every call can omit its time. */
export class FakeClock {
  now = 0;
  readonly read = (): number => this.now;
}

export function newSession(
  overrides: Partial<BfdSessionOptions> = {},
  clock = new FakeClock(),
): { session: BfdSession; clock: FakeClock; changes: BfdStateChange[] } {
  const changes: BfdStateChange[] = [];
  const session = new BfdSession({
    localDiscr: 0xaaaa,
    desiredMinTxUs: 100_000,
    requiredMinRxUs: 100_000,
    detectMult: 3,
    random: () => 0,
    clock: clock.read,
    onStateChange: (c) => changes.push(c),
    ...overrides,
  });
  return { session, clock, changes };
}

/** A packet as the peer (discriminator 0xbbbb) would send it to a session with discriminator 0xaaaa. */
export function peerPacket(overrides: Partial<BfdControlPacket> = {}): BfdControlPacket {
  return packet({
    myDiscriminator: 0xbbbb,
    yourDiscriminator: 0xaaaa,
    desiredMinTxUs: 100_000,
    requiredMinRxUs: 100_000,
    ...overrides,
  });
}

/**
 * Two sessions joined by a link with fixed latency, on a simulated clock. Each step runs the
 * earliest event: a packet arrival or a session's deadline. Packets travel as bytes and are decoded
 * and verified at the far end, as a real data plane would.
 */
export class SimLink {
  now = 0;
  readonly a: BfdSession;
  readonly b: BfdSession;
  readonly changes: { who: 'a' | 'b'; change: BfdStateChange }[] = [];
  /** Per direction: drop every packet while true. */
  dropAtoB = false;
  dropBtoA = false;
  readonly sent = {
    a: [] as { atMs: number; packet: BfdControlPacket }[],
    b: [] as { atMs: number; packet: BfdControlPacket }[],
  };
  private inFlight: { at: number; to: 'a' | 'b'; bytes: Uint8Array }[] = [];

  constructor(
    optsA: Partial<BfdSessionOptions>,
    optsB: Partial<BfdSessionOptions>,
    readonly latencyMs = 1,
    seed = 1,
  ) {
    // Deterministic jitter so failures reproduce.
    let s = seed >>> 0 || 1;
    const random = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) / 0x100_0000;
    };
    const base = {
      desiredMinTxUs: 50_000,
      requiredMinRxUs: 50_000,
      detectMult: 3,
      random,
      clock: () => this.now,
    };
    this.a = new BfdSession({
      localDiscr: 0x0a,
      ...base,
      onStateChange: (change) => this.changes.push({ who: 'a', change }),
      ...optsA,
    });
    this.b = new BfdSession({
      localDiscr: 0x0b,
      ...base,
      onStateChange: (change) => this.changes.push({ who: 'b', change }),
      ...optsB,
    });
  }

  /** Puts what a session returned on the wire; also for steps returned by setAdminDown() etc. */
  deliverFrom(who: 'a' | 'b', out: readonly BfdOutgoing[]): void {
    for (const o of out) {
      this.sent[who].push({ atMs: this.now, packet: o.packet });
      const dropped = who === 'a' ? this.dropAtoB : this.dropBtoA;
      if (!dropped)
        this.inFlight.push({ at: this.now + this.latencyMs, to: who === 'a' ? 'b' : 'a', bytes: o.bytes });
    }
  }

  /** Runs events until `untilMs` (inclusive). */
  runUntil(untilMs: number): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      const da = this.a.nextDeadline();
      const db = this.b.nextDeadline();
      let next = Infinity;
      for (const t of [da, db, ...this.inFlight.map((p) => p.at)]) if (t !== null && t < next) next = t;
      if (next > untilMs) {
        this.now = untilMs;
        return;
      }
      this.now = Math.max(this.now, next);
      const arriving = this.inFlight.filter((p) => p.at <= this.now);
      this.inFlight = this.inFlight.filter((p) => p.at > this.now);
      for (const p of arriving) {
        const session = p.to === 'a' ? this.a : this.b;
        const decoded = decodeControlPacket(p.bytes);
        if (!decoded.ok) throw new Error(`simulated link carried an undecodable packet: ${decoded.reason}`);
        const r = session.handlePacket(p.bytes, decoded.packet, this.now);
        if (!r.auth.ok) throw new Error(`simulated packet failed auth: ${r.auth.reason}`);
        this.deliverFrom(p.to, r.send);
      }
      this.deliverFrom('a', this.a.poll(this.now).send);
      this.deliverFrom('b', this.b.poll(this.now).send);
    }
    throw new Error('simulation did not settle');
  }
}
