import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  detectionTimeUs,
  effectiveDesiredMinTxUs,
  jitterBounds,
  jitteredIntervalUs,
  negotiatedTxIntervalUs,
} from '../../src/bfd/timers.ts';

void describe('BFD timer arithmetic', () => {
  void it('negotiated tx interval is max(local DesiredMinTx, remote RequiredMinRx) (RFC 5880 6.8.2)', () => {
    assert.equal(negotiatedTxIntervalUs(300_000, 100_000), 300_000);
    assert.equal(negotiatedTxIntervalUs(50_000, 200_000), 200_000);
    assert.equal(negotiatedTxIntervalUs(50_000, 1), 50_000);
  });

  void it('detection time is remote DetectMult * max(local RequiredMinRx, remote DesiredMinTx) (RFC 5880 6.8.4)', () => {
    assert.equal(detectionTimeUs(3, 100_000, 300_000), 900_000);
    assert.equal(detectionTimeUs(5, 400_000, 300_000), 2_000_000);
    assert.equal(detectionTimeUs(0, 400_000, 300_000), 0, 'nothing heard yet');
  });

  void it('DesiredMinTx is at least 1 s while not Up (RFC 5880 6.8.3)', () => {
    assert.equal(effectiveDesiredMinTxUs(50_000, false), 1_000_000);
    assert.equal(effectiveDesiredMinTxUs(50_000, true), 50_000);
    assert.equal(effectiveDesiredMinTxUs(2_000_000, false), 2_000_000);
  });

  void it('jitter keeps each interval within 75-100 %, or 75-90 % when DetectMult is 1 (property, RFC 5880 6.8.7)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffff_ffff }),
        fc.integer({ min: 1, max: 255 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (interval, detectMult, r) => {
          const j = jitteredIntervalUs(interval, detectMult, () => r);
          const { min, max } = jitterBounds(detectMult);
          assert.ok(j >= interval * 0.75 - 1e-6, `${j} below 75 % of ${interval}`);
          assert.ok(j <= interval * (detectMult === 1 ? 0.9 : 1) + 1e-6, `${j} above the ceiling`);
          assert.ok(j >= interval * min - 1e-6 && j <= interval * max + 1e-6);
        },
      ),
      { numRuns: 5000 },
    );
  });

  void it('jitter covers the band: r=0 gives the ceiling, r near 1 the floor', () => {
    assert.equal(
      jitteredIntervalUs(1_000_000, 3, () => 0),
      1_000_000,
    );
    assert.equal(
      jitteredIntervalUs(1_000_000, 1, () => 0),
      900_000,
    );
    assert.ok(Math.abs(jitteredIntervalUs(1_000_000, 3, () => 0.999999) - 750_000) < 1);
    assert.ok(Math.abs(jitteredIntervalUs(1_000_000, 1, () => 0.999999) - 750_000) < 1);
  });

  void it('clamps a misbehaving random source into the band', () => {
    for (const bad of [NaN, -5, 7, Infinity, -Infinity]) {
      const j = jitteredIntervalUs(1_000_000, 3, () => bad);
      assert.ok(j >= 750_000 && j <= 1_000_000, `${bad} -> ${j}`);
      const j1 = jitteredIntervalUs(1_000_000, 1, () => bad);
      assert.ok(j1 >= 750_000 && j1 <= 900_000, `${bad} -> ${j1}`);
    }
  });
});
