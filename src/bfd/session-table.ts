// Demultiplexing of received control packets to sessions (RFC 5880 6.3, 6.8.6).
import { BfdState, UINT32_MAX } from './constants.ts';
import type { BfdControlPacket } from './packet.ts';
import type { BfdSession } from './session.ts';

/** Where a packet came from: the peer's address and, for single-hop sessions, the interface. */
export interface BfdPeerKey {
  readonly peer: string;
  readonly interface?: string;
}

export type DemuxFailureReason = 'unknown-discriminator' | 'unknown-peer' | 'zero-your-discriminator';

export const DEMUX_FAILURE_REASONS: readonly DemuxFailureReason[] = [
  'unknown-discriminator',
  'unknown-peer',
  'zero-your-discriminator',
];

export type DemuxResult<S> =
  | { readonly ok: true; readonly session: S }
  | { readonly ok: false; readonly reason: DemuxFailureReason; readonly detail: string };

function keyString(key: BfdPeerKey): string {
  // JSON keeps "a" + "b%c" apart from "a%b" + "c", whatever the names contain.
  return JSON.stringify([key.peer, key.interface ?? '']);
}

/** Sessions indexed by local discriminator and by peer, generic so tests can use stand-ins. */
export class SessionTable<S extends { readonly localDiscr: number } = BfdSession> {
  private readonly byDiscr = new Map<number, S>();
  private readonly byPeer = new Map<string, S>();
  private readonly peerOf = new Map<number, string>();

  get size(): number {
    return this.byDiscr.size;
  }

  add(session: S, key: BfdPeerKey): void {
    const discr = session.localDiscr;
    const k = keyString(key);
    // Discriminators must be unique on the system (RFC 5880 6.3), and a peer key must name one
    // session or the first packet of a peer could not be placed.
    if (this.byDiscr.has(discr)) throw new Error(`BFD discriminator ${discr} is already in use`);
    if (this.byPeer.has(k)) throw new Error(`BFD session for peer ${k} already exists`);
    this.byDiscr.set(discr, session);
    this.byPeer.set(k, session);
    this.peerOf.set(discr, k);
  }

  remove(localDiscr: number): boolean {
    const k = this.peerOf.get(localDiscr);
    if (k === undefined) return false;
    this.byDiscr.delete(localDiscr);
    this.byPeer.delete(k);
    this.peerOf.delete(localDiscr);
    return true;
  }

  get(localDiscr: number): S | undefined {
    return this.byDiscr.get(localDiscr);
  }

  getByPeer(key: BfdPeerKey): S | undefined {
    return this.byPeer.get(keyString(key));
  }

  values(): IterableIterator<S> {
    return this.byDiscr.values();
  }

  /**
   * Finds the session a packet belongs to (RFC 5880 6.8.6): by Your Discriminator when it is set,
   * otherwise, only for a peer still in Down or AdminDown, by where the packet came from.
   */
  lookup(packet: Pick<BfdControlPacket, 'yourDiscriminator' | 'state'>, from: BfdPeerKey): DemuxResult<S> {
    if (packet.yourDiscriminator !== 0) {
      const session = this.byDiscr.get(packet.yourDiscriminator);
      return session
        ? { ok: true, session }
        : {
            ok: false,
            reason: 'unknown-discriminator',
            detail: `no session with discriminator ${packet.yourDiscriminator}`,
          };
    }
    if (packet.state !== BfdState.Down && packet.state !== BfdState.AdminDown) {
      return {
        ok: false,
        reason: 'zero-your-discriminator',
        detail: `zero your discriminator in state ${packet.state}`,
      };
    }
    const session = this.byPeer.get(keyString(from));
    return session
      ? { ok: true, session }
      : { ok: false, reason: 'unknown-peer', detail: `no session for peer ${keyString(from)}` };
  }

  /** A nonzero discriminator not used by any session here; random, as RFC 5880 6.8.1 advises. */
  allocateDiscriminator(random: () => number = Math.random): number {
    for (let i = 0; i < 1000; i++) {
      const d = Math.floor(random() * UINT32_MAX) + 1;
      if (d >= 1 && d <= UINT32_MAX && !this.byDiscr.has(d)) return d;
    }
    // A broken random source; fall back to a scan, which always succeeds below 2^32 sessions.
    for (let d = 1; d <= UINT32_MAX; d++) if (!this.byDiscr.has(d)) return d;
    throw new Error('BFD discriminator space exhausted');
  }
}
