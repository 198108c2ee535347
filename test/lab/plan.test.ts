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

const trial = (
  n: number,
  ab: number,
  ba: number,
  restore: number | null,
  ff = 0,
  invalid: string[] = [],
): TrialResult => ({
  trial: n,
  victim: 'a-gw1',
  lossWindowMs: { 'a>b': ab, 'b>a': ba },
  lostPackets: { 'a>b': ab, 'b>a': ba },
  windowSenderStalledMs: { 'a>b': 0, 'b>a': 0 },
  lossFloorMs: 100,
  controlPlaneRestoreMs: restore,
  falseFailovers: ff,
  crashes: 0,
  invalid,
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
    const r = report(s);
    const b = withBaseline(r, [trial(1, 42_000, 41_000, 45_000)], 'baseline');
    assert.equal(b.ratio?.lossWindowP50, 512.5);
    assert.match(
      markdownTable([b]),
      /\| gateway-death \| ActiveStandby \| 2 \| 0 \| 80 ms \| 120 ms \| 3000 ms \| 2 \| 41000 ms \| 512.5x \| 1 \|/,
    );
  });

  test('invalid trials are counted and left out of the loss figures, not out of the rest', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ab: fc.integer({ min: 0, max: 400 }),
            ba: fc.integer({ min: 0, max: 400 }),
            restore: fc.option(fc.integer({ min: 500, max: 9000 }), { nil: null }),
            invalid: fc.boolean(),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (ts) => {
          const trials = ts.map((t, i) =>
            trial(i + 1, t.ab, t.ba, t.restore, 0, t.invalid ? ['a>b: loss window below the floor'] : []),
          );
          const s = summarize(trials);
          const valid = trials.filter((_, i) => !ts[i]!.invalid);
          assert.equal(s.trials, trials.length);
          assert.equal(s.invalid, trials.length - valid.length);
          assert.deepEqual(s.lossWindowMs, valid.length ? summarize(valid).lossWindowMs : null);
          assert.deepEqual(
            s.controlPlaneRestoreMs,
            summarize(trials.map((t) => ({ ...t, invalid: [] }))).controlPlaneRestoreMs,
          );
        },
      ),
    );
    const all = summarize([trial(1, 20, 0, 900, 0, ['a>b: below']), trial(2, 30, 0, 950, 0, ['a>b: below'])]);
    assert.equal(all.lossWindowMs, null);
    assert.match(
      markdownTable([{ ...report(all) }]),
      /\| gateway-death \| ActiveStandby \| 2 \| 2 \| n\/a \| n\/a \| 900 ms \|/,
    );
  });

  test('a report written before validity checks (bench:lab --from-reports) still makes its row', () => {
    // As the JSON of the 2026-11-25 run has it: no invalid counts, no stall fields.
    const old = JSON.parse(
      JSON.stringify({
        ...report({
          trials: 10,
          lossWindowMs: { p50: 114, max: 140 },
          controlPlaneRestoreMs: { p50: 970, max: 1200 },
          falseFailovers: 0,
          notRestored: 0,
          crashes: 0,
        }),
        ratio: { lossWindowP50: 338.4, lossWindowMax: 300 },
      }),
    ) as ScenarioReport;
    assert.match(
      markdownTable([old]),
      /\| gateway-death \| ActiveStandby \| 10 \| n\/a \| 114 ms \| 140 ms \| 970 ms \| 0 \| n\/a \| 338.4x \| 1 \|/,
    );
    // Its trials, without `invalid`, count as valid when summarized again.
    const { invalid: _i, windowSenderStalledMs: _w, lossFloorMs: _f, ...bare } = trial(1, 120, 0, 900);
    assert.deepEqual(summarize([bare]).lossWindowMs, { p50: 0, max: 120 });
    assert.equal(summarize([bare]).invalid, 0);
  });
});

function report(summary: ScenarioReport['summary']): ScenarioReport {
  return {
    scenario: 'gateway-death',
    description: 'x',
    mode: 'ActiveStandby',
    bfd: { txMs: 50, mult: 3 },
    ratePps: 1000,
    startedAt: '2026-11-25T00:00:00Z',
    trials: [],
    summary,
    machine: { cpus: 2, loadAverage1m: 1 },
  };
}
