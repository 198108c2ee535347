import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { cidrsOverlap, isUsableUnicast, parseCIDR, parseIP, unusableReason } from '../../src/util/ip.ts';

const bytesOf = (s: string): number[] => {
  const ip = parseIP(s);
  assert.ok(ip, `expected ${s} to parse`);
  return [...ip.bytes];
};

void describe('parseIP', () => {
  void it('parses IPv4 dotted quads', () => {
    assert.deepEqual(parseIP('10.0.0.1'), { family: 4, bytes: new Uint8Array([10, 0, 0, 1]) });
    assert.deepEqual(bytesOf('0.0.0.0'), [0, 0, 0, 0]);
    assert.deepEqual(bytesOf('255.255.255.255'), [255, 255, 255, 255]);
  });

  void it('rejects malformed IPv4', () => {
    for (const s of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '1.2.3.256',
      '01.2.3.4',
      '1.2.3.04',
      '1.2.3.00',
      '1..3.4',
      '1.2.3.4 ',
      ' 1.2.3.4',
      '1.2.3.-4',
      '1.2.3.+4',
      '1.2.3.0x4',
      '1.2.3.4/32',
      '1e2.0.0.1',
    ]) {
      assert.equal(parseIP(s), undefined, JSON.stringify(s));
    }
  });

  void it('parses IPv6 including :: and embedded IPv4', () => {
    assert.deepEqual(bytesOf('::'), new Array(16).fill(0));
    assert.deepEqual(bytesOf('::1'), [...new Array(15).fill(0), 1]);
    assert.deepEqual(bytesOf('fe80::'), [0xfe, 0x80, ...new Array(14).fill(0)]);
    assert.deepEqual(
      bytesOf('2001:db8::ff00:42:8329'),
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29],
    );
    assert.deepEqual(bytesOf('2001:0DB8:0000:0000:0000:ff00:0042:8329'), bytesOf('2001:db8::ff00:42:8329'));
    assert.deepEqual(bytesOf('::ffff:192.0.2.1'), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
    assert.deepEqual(bytesOf('1:2:3:4:5:6:1.2.3.4').slice(12), [1, 2, 3, 4]);
    assert.deepEqual(bytesOf('1:2:3:4:5:6:7::'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]);
    assert.deepEqual(bytesOf('::2:3:4:5:6:7:8'), [0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    assert.equal(parseIP('::')?.family, 6);
  });

  void it('rejects malformed IPv6 and zone ids', () => {
    for (const s of [
      ':',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7:8::',
      '::1:2:3:4:5:6:7:8',
      ':1::',
      '1::2:',
      '1:2:3:4:5:6:7:',
      ':1:2:3:4:5:6:7',
      '12345::',
      'g::',
      'fe80::1%eth0',
      'fe80::1%1',
      '1.2.3.4::',
      '::1.2.3.4:5',
      '::01.2.3.4',
      '::256.0.0.1',
      '1:2:3:4:5:6:7:1.2.3.4',
      '[::1]',
    ]) {
      assert.equal(parseIP(s), undefined, JSON.stringify(s));
    }
  });

  void it('round-trips every IPv4 address printed in dotted-quad form', () => {
    fc.assert(
      fc.property(fc.ipV4(), (s) => {
        const ip = parseIP(s);
        assert.ok(ip);
        assert.equal(ip.family, 4);
        assert.equal([...ip.bytes].join('.'), s);
      }),
      { numRuns: 1000 },
    );
  });

  void it('parses every address fast-check generates as IPv6', () => {
    fc.assert(
      fc.property(fc.ipV6(), (s) => {
        const ip = parseIP(s);
        assert.ok(ip, s);
        assert.equal(ip.family, 6);
        assert.equal(ip.bytes.length, 16);
      }),
      { numRuns: 1000 },
    );
  });

  void it('agrees with the fully expanded spelling of random 16-byte addresses', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const groups = [];
        for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
        assert.deepEqual(bytesOf(groups.join(':')), [...b]);
      }),
      { numRuns: 1000 },
    );
  });

  void it("agrees with node:net's isIP on address-like strings, except that zone ids are refused", () => {
    // Near-miss addresses: leading zeros, oversized groups, wrong part counts, stray colons.
    const soup = fc
      .array(
        fc.constantFrom(
          '0',
          '1',
          '00',
          '01',
          '255',
          '256',
          'ffff',
          'FfFf',
          '12345',
          'g',
          ':',
          '::',
          '.',
          '%eth0',
        ),
        { maxLength: 16 },
      )
      .map((t) => t.join(''));
    const dotted = fc
      .array(fc.constantFrom('0', '1', '00', '01', '99', '255', '256', '1000', '', ' 1'), {
        minLength: 3,
        maxLength: 5,
      })
      .map((t) => t.join('.'));
    fc.assert(
      fc.property(fc.oneof(soup, dotted), (s) => {
        const expected = s.includes('%') ? 0 : isIP(s);
        assert.equal(parseIP(s)?.family ?? 0, expected, s);
      }),
      { numRuns: 5000 },
    );
  });
});

void describe('isUsableUnicast / unusableReason', () => {
  void it('accepts ordinary unicast addresses', () => {
    for (const s of [
      '10.0.0.1',
      '192.168.1.10',
      '8.8.8.8',
      '172.16.0.1',
      '2001:db8::1',
      'fd00::1',
      '::ffff:10.0.0.1',
    ]) {
      assert.equal(unusableReason(s), undefined, s);
      assert.equal(isUsableUnicast(s), true, s);
    }
  });

  void it('names why an address is unusable', () => {
    const cases: [string, string][] = [
      ['', 'not an IP address'],
      ['node-1', 'not an IP address'],
      ['010.0.0.1', 'not an IP address'],
      ['fe80::1%eth0', 'not an IP address'],
      ['0.0.0.0', 'unspecified address'],
      ['::', 'unspecified address'],
      ['127.0.0.1', 'loopback address'],
      ['127.255.0.9', 'loopback address'],
      ['::1', 'loopback address'],
      ['::ffff:127.0.0.1', 'loopback address'],
      ['224.0.0.1', 'multicast address'],
      ['239.255.255.255', 'multicast address'],
      ['ff02::1', 'multicast address'],
      ['255.255.255.255', 'broadcast address'],
      ['169.254.169.254', 'link-local address'],
      ['fe80::1', 'link-local address'],
      ['febf:ffff::1', 'link-local address'],
    ];
    for (const [s, why] of cases) {
      assert.equal(unusableReason(s), why, s);
      assert.equal(isUsableUnicast(s), false, s);
    }
  });

  void it('treats the edges of the link-local and multicast ranges correctly', () => {
    assert.equal(isUsableUnicast('fec0::1'), true); // just past fe80::/10
    assert.equal(isUsableUnicast('fe7f::1'), true);
    assert.equal(isUsableUnicast('169.253.255.255'), true);
    assert.equal(isUsableUnicast('169.255.0.0'), true);
    assert.equal(isUsableUnicast('223.255.255.255'), true);
    assert.equal(isUsableUnicast('240.0.0.1'), true);
    assert.equal(isUsableUnicast('128.0.0.1'), true);
  });
});

void describe('parseCIDR', () => {
  void it('parses and clears host bits', () => {
    assert.deepEqual(parseCIDR('10.1.2.3/16'), {
      family: 4,
      bytes: new Uint8Array([10, 1, 0, 0]),
      prefix: 16,
    });
    assert.deepEqual(parseCIDR('10.1.2.3/13')?.bytes, new Uint8Array([10, 0, 0, 0]));
    assert.deepEqual(parseCIDR('0.0.0.0/0'), { family: 4, bytes: new Uint8Array(4), prefix: 0 });
    assert.deepEqual(parseCIDR('10.1.2.3/32')?.bytes, new Uint8Array([10, 1, 2, 3]));
    const v6 = parseCIDR('fd00:1:2:3::/64');
    assert.equal(v6?.family, 6);
    assert.equal(v6?.prefix, 64);
    assert.deepEqual([...v6.bytes], bytesOf('fd00:1:2:3::'));
    assert.equal(parseCIDR('::/128')?.prefix, 128);
  });

  void it('rejects malformed CIDRs', () => {
    for (const s of [
      '10.0.0.0',
      '10.0.0.0/',
      '10.0.0.0/33',
      '10.0.0.0/08',
      '10.0.0.0/-1',
      '::/129',
      '/8',
      '10.0.0.0/8/8',
      'x/8',
      '10.0.0.0/ 8',
    ]) {
      assert.equal(parseCIDR(s), undefined, s);
    }
  });
});

void describe('cidrsOverlap', () => {
  void it('detects containment and disjointness', () => {
    assert.equal(cidrsOverlap('10.0.0.0/8', '10.244.1.0/24'), true);
    assert.equal(cidrsOverlap('10.244.1.0/24', '10.0.0.0/8'), true);
    assert.equal(cidrsOverlap('10.244.1.0/24', '10.244.1.0/24'), true);
    assert.equal(cidrsOverlap('10.244.1.0/24', '10.244.2.0/24'), false);
    assert.equal(cidrsOverlap('10.244.0.0/23', '10.244.1.0/24'), true);
    assert.equal(cidrsOverlap('10.244.0.0/24', '10.244.1.0/24'), false);
    assert.equal(cidrsOverlap('0.0.0.0/0', '192.168.0.0/16'), true);
    assert.equal(cidrsOverlap('fd00::/8', 'fd12:3456::/32'), true);
    assert.equal(cidrsOverlap('fd00::/16', 'fd01::/16'), false);
    assert.equal(cidrsOverlap('10.0.0.0/8', '::/0'), false);
  });

  void it('accepts parsed CIDRs and throws on malformed strings', () => {
    const a = parseCIDR('10.0.0.0/8')!;
    assert.equal(cidrsOverlap(a, '10.1.0.0/16'), true);
    assert.throws(() => cidrsOverlap('10.0.0.0', '10.0.0.0/8'), TypeError);
  });

  void it('is symmetric and agrees with address membership', () => {
    // Few distinct byte values, so that overlapping pairs are common.
    const byte = fc.constantFrom(0, 1, 10, 128, 255);
    const cidr = fc
      .tuple(fc.array(byte, { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
      .map(([b, p]) => `${[...b].join('.')}/${p}`);
    // An IPv4 network as [first, last] numbers, for a brute-force comparison.
    const range = (s: string): [number, number] => {
      const c = parseCIDR(s)!;
      const base = c.bytes.reduce((n, x) => n * 256 + x, 0);
      return [base, base + 2 ** (32 - c.prefix) - 1];
    };
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        const [a0, a1] = range(a);
        const [b0, b1] = range(b);
        const expected = a0 <= b1 && b0 <= a1;
        assert.equal(cidrsOverlap(a, b), expected);
        assert.equal(cidrsOverlap(b, a), expected);
      }),
      { numRuns: 2000 },
    );
  });
});
