// What a Gateway's agent tells `mcgw status` about its BFD sessions: one short JSON document,
// carried as an annotation on the Gateway's Lease. The agent renews that Lease anyway, so the
// summary costs no extra write and no extra permission, and it is as fresh as the Lease itself.
// Sessions to remote Gateways are listed one by one; the local Nodes' sessions (one per Node in
// the cluster) are only counted by state, which keeps the annotation small on big clusters.
import { BFD_STATE_NAMES, diagName } from '../bfd/constants.ts';
import type { BfdSessionSnapshot } from '../bfd/session.ts';

export const BFD_SUMMARY_ANNOTATION = 'mcgw.io/bfd-sessions';

export interface BfdPeerSummary {
  /** The peer Gateway, "<cluster>/<node>". */
  peer: string;
  /** Its tunnel-inner address. */
  address: string;
  state: string;
  /** Negotiated transmit interval and detection time, ms (0 until negotiated). */
  txMs: number;
  detectMs: number;
  /** When the state last changed, ISO 8601; null if not since the agent started. */
  lastChange: string | null;
  /** The diagnostic of the latest change, e.g. ControlDetectionTimeExpired. */
  diag: string;
}

export interface BfdSummary {
  /** When it was taken, ISO 8601. */
  at: string;
  peers: BfdPeerSummary[];
  /** Sessions local Nodes opened to this Gateway, by state. */
  nodes: Record<string, number>;
}

export interface SessionView {
  snapshot: BfdSessionSnapshot;
  /** For a planned session: the peer key and inner address. Accepted (Node) sessions have none. */
  peer?: { key: string; address: string };
  lastChangeMs?: number;
}

export function summarizeSessions(sessions: readonly SessionView[], nowMs: number): BfdSummary {
  const peers: BfdPeerSummary[] = [];
  const nodes: Record<string, number> = { AdminDown: 0, Down: 0, Init: 0, Up: 0 };
  for (const s of sessions) {
    const state = BFD_STATE_NAMES[s.snapshot.state];
    if (!s.peer) {
      nodes[state] = (nodes[state] ?? 0) + 1;
      continue;
    }
    peers.push({
      peer: s.peer.key,
      address: s.peer.address,
      state,
      txMs: Math.round(s.snapshot.txIntervalUs / 100) / 10,
      detectMs: Math.round(s.snapshot.detectionTimeUs / 100) / 10,
      lastChange: s.lastChangeMs === undefined ? null : new Date(s.lastChangeMs).toISOString(),
      diag: diagName(s.snapshot.localDiag),
    });
  }
  peers.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  return { at: new Date(nowMs).toISOString(), peers, nodes };
}

/** Reads the annotation back; undefined when absent or not a summary. */
export function parseBfdSummary(text: string | undefined): BfdSummary | undefined {
  if (!text) return undefined;
  try {
    const j = JSON.parse(text) as Partial<BfdSummary>;
    if (typeof j.at !== 'string' || !Array.isArray(j.peers) || typeof j.nodes !== 'object' || !j.nodes)
      return undefined;
    return j as BfdSummary;
  } catch {
    return undefined;
  }
}
