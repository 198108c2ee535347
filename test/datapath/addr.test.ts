import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { canonicalCIDR, canonicalIP, formatIP } from '../../src/datapath/addr.ts';
import { innerMAC } from '../../src/datapath/inner.ts';
import { parseIP } from '../../src/util/ip.ts';

void describe('canonical addresses', () => {
  void it('spells IPv6 as the kernel prints it (RFC 5952)', () => {
    const cases: [string, string][] = [
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['::ffff:C612:0001', '::ffff:198.18.0.1'],
    ];
    for (const [given, want] of cases) assert.equal(canonicalIP(given), want, given);
    assert.equal(canonicalIP('198.018.0.1'), undefined);
  });

  void it('clears host bits of networks', () => {
    assert.equal(canonicalCIDR('198.18.64.5/20'), '198.18.64.0/20');
    assert.equal(canonicalCIDR('2001:DB8::1/64'), '2001:db8::/64');
    assert.equal(canonicalCIDR('198.18.0.0/33'), undefined);
  });

  void it('formats any address so that it parses back to the same bytes, once and for all', () => {
    const v6 = fc
      .uint8Array({ minLength: 16, maxLength: 16 })
      .map((bytes) => ({ family: 6 as const, bytes }));
    const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes) => ({ family: 4 as const, bytes }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), (ip) => {
        const s = formatIP(ip);
        assert.equal(isIP(s), ip.family);
        assert.deepEqual(parseIP(s)?.bytes, ip.bytes);
        assert.equal(canonicalIP(s), s);
      }),
      { numRuns: 500 },
    );
  });

  void it('derives a locally administered unicast MAC from an inner address', () => {
    assert.equal(innerMAC('198.19.128.5'), '02:6d:c6:13:80:05');
  });
});
