// Tunnel-inner addressing. Every Gateway instance in the ClusterSet gets one IPv4 /32 from the
// ClusterSet-wide inner CIDR, and a MAC derived from it. Each agent computes every address itself
// from the exported data alone, so the layout must not depend on who computes it:
//
//   inner = base + clusterSlot * 16 + gatewaySlot
//
// clusterSlot: FNV-1a of the cluster ID modulo the number of slots, colliding IDs probing to the
//   next free slot in lexicographic ID order. A cluster's slot so depends only on its own ID unless
//   it collides, and adding a cluster never moves one that does not collide with it.
// gatewaySlot: priority mod 16, probing likewise in (priority desc, node) order. The controller
//   keeps an instance's priority for its life and gives replacements the next lower one, so
//   survivors keep their address across failovers and up to 16 consecutive priorities never collide.
import { parseCIDR, parseIP } from '../util/ip.ts';
import { ipv4ToUint32, uint32ToIPv4 } from './addr.ts';
import { MAX_PRIORITY, MIN_PRIORITY } from '../scheduler/types.ts';
import { MAX_GATEWAYS_PER_CLUSTER } from './constants.ts';
import type { ExportedGateway } from './types.ts';

const GATEWAY_SLOT_BITS = 4;
/** Inner address slots per cluster: a Gateway's is its priority mod this, probing on collision. */
export const GATEWAY_SLOTS = 1 << GATEWAY_SLOT_BITS;

/** The key of a gateway in the liveness map and in plan results: "<clusterID>/<node>". */
export function gatewayKey(cluster: string, node: string): string {
  // Neither a cluster ID nor a node name (DNS subdomains) can contain '/', so this is unambiguous.
  return `${cluster}/${node}`;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Why `s` cannot be a node name or cluster ID (a DNS subdomain), or undefined if it can. */
export function nameProblem(s: unknown): string | undefined {
  if (typeof s !== 'string') return 'not a string';
  if (s.length === 0) return 'empty';
  if (s.length > 253) return 'longer than 253 characters';
  if (!DNS_SUBDOMAIN.test(s)) return 'not a lowercase DNS subdomain';
  return undefined;
}

/** 32-bit FNV-1a over the UTF-8 bytes: tiny, stable across platforms, well spread for short IDs. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Gives each key (in the given order) its preferred slot, or the next free one; undefined when full. */
function probe<K>(keys: readonly K[], preferred: (k: K) => number, size: number): Map<K, number | undefined> {
  const taken = new Set<number>();
  const out = new Map<K, number | undefined>();
  for (const k of keys) {
    let slot: number | undefined;
    if (taken.size < size) {
      slot = preferred(k) % size;
      while (taken.has(slot)) slot = (slot + 1) % size;
      taken.add(slot);
    }
    out.set(k, slot);
  }
  return out;
}

export interface InnerLayout {
  /** The inner CIDR's network address as an unsigned 32-bit integer. */
  base: number;
  clusterSlots: number;
}

/** Parses the inner CIDR; throws a TypeError unless it is IPv4 with room for at least 2 clusters. */
export function innerLayout(innerCIDR: string): InnerLayout {
  const c = parseCIDR(innerCIDR);
  if (!c || c.family !== 4) throw new TypeError(`innerCIDR ${JSON.stringify(innerCIDR)} is not an IPv4 CIDR`);
  const clusterBits = 32 - c.prefix - GATEWAY_SLOT_BITS;
  if (clusterBits < 1) {
    throw new TypeError(`innerCIDR ${innerCIDR} is too small: it needs a prefix of /27 or shorter`);
  }
  return { base: ipv4ToUint32(c.bytes), clusterSlots: 2 ** clusterBits };
}

/** Slot of every cluster ID; undefined for IDs that found no free slot. Order of `ids` is irrelevant. */
export function clusterSlots(ids: Iterable<string>, layout: InnerLayout): Map<string, number | undefined> {
  const sorted = [...new Set(ids)].sort();
  return probe(sorted, fnv1a32, layout.clusterSlots);
}

export function byPriorityThenNode(a: ExportedGateway, b: ExportedGateway): number {
  return b.priority - a.priority || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);
}

/** Why an exported gateway has no identity at all (and so no slot), or undefined. */
export function gatewayIdentityProblem(g: ExportedGateway): string | undefined {
  const n = nameProblem(g.node);
  if (n) return `node name ${JSON.stringify(g.node)} is ${n}`;
  if (!Number.isInteger(g.priority) || g.priority < MIN_PRIORITY || g.priority > MAX_PRIORITY) {
    return `priority ${String(g.priority)} is not an integer in ${MIN_PRIORITY}..${MAX_PRIORITY}`;
  }
  return undefined;
}

export interface SlottedGateway {
  gateway: ExportedGateway;
  slot: number;
}

export interface GatewaySlotting {
  /** Gateways with a slot, highest priority first (ties: node name). */
  slotted: SlottedGateway[];
  /** Gateways left out, with why; these depend only on the export, never on who reads it. */
  rejected: { gateway: ExportedGateway; reason: string }[];
}

/**
 * Assigns gateway slots within one cluster. Only observer-independent checks apply here (name,
 * priority, duplicates, count), so every agent that reads the export agrees on the slots.
 */
export function gatewaySlots(gateways: readonly ExportedGateway[]): GatewaySlotting {
  const rejected: GatewaySlotting['rejected'] = [];
  const counts = new Map<string, number>();
  for (const g of gateways) counts.set(g.node, (counts.get(g.node) ?? 0) + 1);
  const valid: ExportedGateway[] = [];
  for (const g of gateways) {
    const problem = gatewayIdentityProblem(g);
    if (problem) rejected.push({ gateway: g, reason: problem });
    // Which of two same-named entries is right cannot be told, so neither is used.
    else if ((counts.get(g.node) ?? 0) > 1)
      rejected.push({ gateway: g, reason: 'node listed more than once' });
    else valid.push(g);
  }
  valid.sort(byPriorityThenNode);
  const slots = probe(valid, (g) => g.priority, GATEWAY_SLOTS);
  const slotted: SlottedGateway[] = [];
  for (const g of valid) {
    const slot = slots.get(g);
    if (slot === undefined) {
      rejected.push({
        gateway: g,
        reason: `more than ${MAX_GATEWAYS_PER_CLUSTER} gateways in the cluster; the lowest-priority ones get no inner address`,
      });
    } else slotted.push({ gateway: g, slot });
  }
  return { slotted, rejected };
}

export function innerAddress(layout: InnerLayout, clusterSlot: number, gatewaySlot: number): string {
  return uint32ToIPv4((layout.base + clusterSlot * GATEWAY_SLOTS + gatewaySlot) >>> 0);
}

/**
 * The MAC of a gateway's mcgw devices: locally administered 02:6d ("m") followed by the inner IPv4
 * address. Senders use it in permanent neighbor entries, and the receiver's device carries it, so
 * frames are accepted as addressed to the host without any ARP across the tunnel.
 */
export function innerMAC(inner: string): string {
  const parts = inner.split('.').map((p) => Number(p).toString(16).padStart(2, '0'));
  return ['02', '6d', ...parts].join(':');
}

/**
 * The MAC of a non-Gateway Node's mcgw-i: locally administered 02:6e followed by the last four
 * bytes of its InternalIP. It differs from every Gateway's inner MAC (02:6d), which matters when
 * a former Gateway stays on as a worker: a VXLAN device drops frames whose source MAC is its own,
 * so a worker still wearing its old inner MAC could not reach the replacement that inherits it.
 */
export function nodeMAC(internalIP: string): string {
  const b = parseIP(internalIP)?.bytes ?? new Uint8Array(4);
  const last = [...b.subarray(b.length - 4)].map((x) => x.toString(16).padStart(2, '0'));
  return ['02', '6e', ...last].join(':');
}
