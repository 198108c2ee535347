// Strict IP address and CIDR helpers. Strict because these strings come from Node annotations and
// status fields and end up in tunnel endpoints: anything ambiguous (leading zeros, which some
// parsers read as octal, or zone ids, which are meaningless off-host) is rejected, not guessed.

export interface ParsedIP {
  family: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6, network byte order. */
  bytes: Uint8Array;
}

export interface ParsedCIDR {
  family: 4 | 6;
  /** The network address: the given address with the host bits cleared. */
  bytes: Uint8Array;
  prefix: number;
}

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;

function parseIPv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!DEC_OCTET.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    bytes[i] = v;
  }
  return bytes;
}

// Parses colon-separated groups; the last one may be a dotted quad (two groups' worth).
// Returns the 16-bit group values, or undefined if any group is malformed.
function parseGroups(s: string, allowTrailingV4: boolean): number[] | undefined {
  if (s === '') return [];
  const parts = s.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (allowTrailingV4 && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIPv4(p);
      if (!v4) return undefined;
      out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      if (!HEX_GROUP.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | undefined {
  const gap = s.indexOf('::');
  let groups: number[];
  if (gap === -1) {
    const all = parseGroups(s, true);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  } else {
    // A second '::' (or ':::') makes the position of the zeros ambiguous.
    if (s.indexOf('::', gap + 1) !== -1) return undefined;
    const tailStr = s.slice(gap + 2);
    const head = parseGroups(s.slice(0, gap), false);
    const tail = parseGroups(tailStr, true);
    if (!head || !tail) return undefined;
    // '::' stands for at least one zero group.
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** Parses an IPv4 dotted quad (no leading zeros) or an IPv6 address (no zone id). */
export function parseIP(s: string): ParsedIP | undefined {
  if (typeof s !== 'string') return undefined;
  if (s.includes(':')) {
    const bytes = parseIPv6(s);
    return bytes ? { family: 6, bytes } : undefined;
  }
  const bytes = parseIPv4(s);
  return bytes ? { family: 4, bytes } : undefined;
}

function v4Reason(b: Uint8Array): string | undefined {
  const [a0, a1, a2, a3] = [b[0]!, b[1]!, b[2]!, b[3]!];
  if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) return 'unspecified address';
  if (a0 === 127) return 'loopback address';
  if (a0 >= 224 && a0 <= 239) return 'multicast address';
  if (a0 === 255 && a1 === 255 && a2 === 255 && a3 === 255) return 'broadcast address';
  if (a0 === 169 && a1 === 254) return 'link-local address';
  return undefined;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * Why `s` cannot serve as a unicast endpoint another cluster can reach, or undefined if it can.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged by their IPv4 part, so that
 * ::ffff:127.0.0.1 is not mistaken for a routable address.
 */
export function unusableReason(s: string): string | undefined {
  const ip = parseIP(s);
  if (!ip) return 'not an IP address';
  const b = ip.bytes;
  if (ip.family === 4) return v4Reason(b);
  if (isV4Mapped(b)) return v4Reason(b.subarray(12));
  if (b.every((x) => x === 0)) return 'unspecified address';
  if (b[15] === 1 && b.subarray(0, 15).every((x) => x === 0)) return 'loopback address';
  if (b[0] === 0xff) return 'multicast address';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local address';
  return undefined;
}

/** True iff `s` is a valid IP address usable as a unicast endpoint (see unusableReason). */
export function isUsableUnicast(s: string): boolean {
  return unusableReason(s) === undefined;
}

/**
 * Parses "address/prefix". Host bits may be set (as Kubernetes itself accepts); they are cleared
 * in the result so that two spellings of the same network compare equal.
 */
export function parseCIDR(s: string): ParsedCIDR | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash === -1) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const prefixStr = s.slice(slash + 1);
  if (!ip || !PREFIX.test(prefixStr)) return undefined;
  const prefix = Number(prefixStr);
  if (prefix > ip.bytes.length * 8) return undefined;
  const bytes = new Uint8Array(ip.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { family: ip.family, bytes, prefix };
}

function toCIDR(x: string | ParsedCIDR): ParsedCIDR {
  if (typeof x !== 'string') return x;
  const c = parseCIDR(x);
  if (!c) throw new TypeError(`not a CIDR: ${JSON.stringify(x)}`);
  return c;
}

/**
 * True iff the two networks share at least one address. Networks of different families never
 * overlap. Throws a TypeError for a string that is not a CIDR, since callers should have
 * validated their inputs and silently answering "no overlap" would hide the mistake.
 */
export function cidrsOverlap(a: string | ParsedCIDR, b: string | ParsedCIDR): boolean {
  const x = toCIDR(a);
  const y = toCIDR(b);
  if (x.family !== y.family) return false;
  // Two prefixes overlap iff one contains the other, i.e. they agree on the shorter prefix.
  const bits = Math.min(x.prefix, y.prefix);
  for (let i = 0; i < x.bytes.length && 8 * i < bits; i++) {
    const keep = Math.min(8, bits - 8 * i);
    const mask = (0xff << (8 - keep)) & 0xff;
    if ((x.bytes[i]! & mask) !== (y.bytes[i]! & mask)) return false;
  }
  return true;
}
