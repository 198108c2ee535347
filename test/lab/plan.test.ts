// The lab's layout and its report arithmetic: pure, checked without building anything.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cidrsOverlap, parseCIDR, parseIP } from '../../src/util/ip.ts';
import { DEFAULT_LAB_OPTIONS, LabPlanError, directions, planLab } from '../../src/lab/plan.ts';
import { markdownTable, percentile, summarize, withBaseline } from '../../src/lab/report.ts';
import type { ScenarioReport } from '../../src/lab/report.ts';
import type { TrialResult } from '../../src/lab/scenarios.ts';

const LAB = parseCIDR('198.18.0.0/15')!;
const inLab = (cidr: string) => {
  const c = parseCIDR(cidr)!;
  return cidrsOverlap(c, LAB) && c.prefix >= 15;
};

describe('planLab', () => {
  test('every address is inside 198.18.0.0/15, unique, and pod ranges never overlap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 2 }),
        (members, candidates, workers) => {
          const p = planLab({ ...DEFAULT_LAB_OPTIONS, members, candidates, workers, desired: 1 });
          const nodes = p.clusters.flatMap((c) => c.nodes);
          assert.equal(nodes.length, members * (candidates + workers));
          for (const n of nodes) {
            assert.ok(inLab(`${n.underlay}/32`) && inLab(n.podCIDR), n.name);
            assert.ok(parseIP(n.podIP));
          }
          assert.equal(new Set(nodes.map((n) => n.underlay)).size, nodes.length);
          assert.equal(new Set(nodes.map((n) => n.name)).size, nodes.length);
          const pods = p.clusters.map((c) => parseCIDR(c.podCIDR)!);
          for (let i = 0; i < pods.length; i++)
            for (let j = i + 1; j < pods.length; j++) assert.ok(!cidrsOverlap(pods[i]!, pods[j]!));
          // Each Node's pods are inside its cluster's range; the test pod sits on a non-candidate.
          for (const c of p.clusters) {
            for (const n of c.nodes) assert.ok(cidrsOverlap(parseCIDR(n.podCIDR)!, parseCIDR(c.podCIDR)!));
            assert.equal(c.podNode.candidate, false);
          }
          assert.equal(directions(p).length, members * (members - 1));
        },
      ),
    );
  });

  test('out-of-range options are refused with the option named', () => {
    assert.throws(() => planLab({ ...DEFAULT_LAB_OPTIONS, members: 1 }), /members must be/);
    assert.throws(() => planLab({ ...DEFAULT_LAB_OPTIONS, desired: 4 }), /desired must be/);
    assert.throws(() => planLab({ ...DEFAULT_LAB_OPTIONS, members: 9 }), LabPlanError);
  });
});

const trial = (n: number, ab: number, ba: number, restore: number | null, ff = 0): TrialResult => ({
  trial: n,
  victim: 'a-gw1',
  lossWindowMs: { 'a>b': ab, 'b>a': ba },
  lostPackets: { 'a>b': ab, 'b>a': ba },
  controlPlaneRestoreMs: restore,
  falseFailovers: ff,
  crashes: 0,
});

describe('report', () => {
  test('percentile is nearest-rank', () => {
    assert.equal(percentile([5, 1, 3], 50), 3);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([7], 99), 7);
  });

  test('summaries span trials and directions; the baseline ratio divides baseline by mcgw', () => {
    const s = summarize([trial(1, 100, 80, 3000), trial(2, 120, 0, null, 2)]);
    assert.deepEqual(s.lossWindowMs, { p50: 80, max: 120 });
    assert.deepEqual(s.controlPlaneRestoreMs, { p50: 3000, max: 3000 });
    assert.equal(s.falseFailovers, 2);
    assert.equal(s.notRestored, 1);
    // A scenario that never replaces its victim (a tunnel cut) has nothing to restore.
    assert.equal(summarize([trial(1, 100, 80, null)], false).notRestored, 0);
    const r: ScenarioReport = {
      scenario: 'gateway-death',
      description: 'x',
      mode: 'ActiveStandby',
      bfd: { txMs: 50, mult: 3 },
      ratePps: 1000,
      startedAt: '2026-11-25T00:00:00Z',
      trials: [],
      summary: s,
      machine: { cpus: 2, loadAverage1m: 1 },
    };
    const b = withBaseline(r, [trial(1, 42_000, 41_000, 45_000)], 'baseline');
    assert.equal(b.ratio?.lossWindowP50, 512.5);
    assert.match(
      markdownTable([b]),
      /\| gateway-death \| ActiveStandby \| 2 \| 80 ms \| 120 ms \| 3000 ms \| 2 \| 41000 ms \| 512.5x \| 1 \|/,
    );
  });
});
