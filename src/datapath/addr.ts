// Canonical spellings of addresses and networks. Exports may spell one address many ways
// (2001:DB8::1, 2001:db8:0::1); the kernel reports one. Comparing canonical strings keeps the
// diff from re-installing an object forever over a spelling difference.
import { parseCIDR, parseIP } from '../util/ip.ts';
import type { ParsedCIDR, ParsedIP } from '../util/ip.ts';

function formatV6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // IPv4-mapped addresses keep their dotted tail, as the kernel prints them (RFC 5952 5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b[12]!}.${b[13]!}.${b[14]!}.${b[15]!}`;
  }
  // RFC 5952 4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** The canonical text of a parsed address: dotted quad, or RFC 5952 IPv6. */
export function formatIP(ip: ParsedIP): string {
  return ip.family === 4 ? ip.bytes.join('.') : formatV6(ip.bytes);
}

/** The canonical spelling of an address, or undefined if it is not one. */
export function canonicalIP(s: string): string | undefined {
  const ip = parseIP(s);
  return ip ? formatIP(ip) : undefined;
}

export function formatCIDR(c: ParsedCIDR): string {
  return `${formatIP(c)}/${c.prefix}`;
}

/** The canonical spelling of a network (host bits cleared), or undefined if it is not one. */
export function canonicalCIDR(s: string): string | undefined {
  const c = parseCIDR(s);
  return c ? formatCIDR(c) : undefined;
}

/** Canonical address or network if `s` parses as one, else `s` unchanged (for use as a map key). */
export function canonicalKey(s: string): string {
  return s.includes('/') ? (canonicalCIDR(s) ?? s) : (canonicalIP(s) ?? s);
}

/** The host network of one address: a /32 or /128. */
export function hostCIDR(ip: ParsedIP): ParsedCIDR {
  return { family: ip.family, bytes: ip.bytes, prefix: ip.bytes.length * 8 };
}

export function ipv4ToUint32(bytes: Uint8Array): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

export function uint32ToIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}
