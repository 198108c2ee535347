// A scenario's report: every trial, a summary per measure, and the baseline's figures beside mcgw's
// as a ratio. Pure functions over trial results, so the numbers in the JSON and in the Markdown
// table cannot disagree.
import type { TrialResult } from './scenarios.ts';

export interface Summary {
  trials: number;
  /**
   * Trials whose loss figures are not trusted (TrialResult.invalid), left out of lossWindowMs.
   * Absent in reports written before the check existed.
   */
  invalid?: number;
  /** Over every valid trial and direction; null when no trial was valid. */
  lossWindowMs: { p50: number; max: number } | null;
  controlPlaneRestoreMs: { p50: number; max: number } | null;
  falseFailovers: number;
  /** Trials whose victim the control plane never replaced within the observation time. */
  notRestored: number;
  /** mcgw processes that exited unasked, over all trials. */
  crashes: number;
}

export interface ScenarioReport {
  scenario: string;
  description: string;
  mode: string;
  bfd: { txMs: number; mult: number };
  ratePps: number;
  startedAt: string;
  trials: TrialResult[];
  summary: Summary;
  baseline?: { description: string; trials: TrialResult[]; summary: Summary };
  /** Baseline figure divided by mcgw's, for each summary measure both have. */
  ratio?: { lossWindowP50: number | null; lossWindowMax: number | null };
  machine: { cpus: number; loadAverage1m: number };
}

/** Nearest-rank percentile of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}

/**
 * `replaced`: whether the scenario expects the control plane to replace its victim at all.
 * Invalid trials are counted, and left out of the loss figures only: their restore times, false
 * failovers and crashes were measured by other means than the stream, and stand.
 */
export function summarize(trials: readonly TrialResult[], replaced = true): Summary {
  const valid = trials.filter((t) => !t.invalid?.length);
  const windows = valid.flatMap((t) => Object.values(t.lossWindowMs));
  const restores = trials.flatMap((t) => (t.controlPlaneRestoreMs === null ? [] : [t.controlPlaneRestoreMs]));
  return {
    trials: trials.length,
    invalid: trials.length - valid.length,
    lossWindowMs: windows.length ? { p50: percentile(windows, 50), max: Math.max(...windows) } : null,
    controlPlaneRestoreMs: restores.length
      ? { p50: percentile(restores, 50), max: Math.max(...restores) }
      : null,
    falseFailovers: trials.reduce((n, t) => n + t.falseFailovers, 0),
    notRestored: replaced
      ? trials.filter((t) => t.victim !== null && t.controlPlaneRestoreMs === null).length
      : 0,
    crashes: trials.reduce((n, t) => n + (t.crashes ?? 0), 0),
  };
}

const ratioOf = (base: number | undefined, ours: number | undefined): number | null =>
  base !== undefined && ours !== undefined && ours > 0 ? Math.round((base / ours) * 10) / 10 : null;

export function withBaseline(r: ScenarioReport, trials: TrialResult[], description: string): ScenarioReport {
  const summary = summarize(trials);
  return {
    ...r,
    baseline: { description, trials, summary },
    ratio: {
      lossWindowP50: ratioOf(summary.lossWindowMs?.p50, r.summary.lossWindowMs?.p50),
      lossWindowMax: ratioOf(summary.lossWindowMs?.max, r.summary.lossWindowMs?.max),
    },
  };
}

const ms = (n: number | undefined | null): string => (n === undefined || n === null ? 'n/a' : `${n} ms`);

/**
 * One Markdown table row per report, for docs/BENCHMARKS.md. "invalid" counts the trials left out
 * of the loss figures; n/a for reports written before the check existed.
 */
export function markdownTable(reports: readonly ScenarioReport[]): string {
  const rows = [
    '| scenario | mode | trials | invalid | loss window p50 | loss window max | control plane restore p50 | false failovers | baseline loss p50 | ratio (baseline / mcgw) | load (1 min) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of reports) {
    const s = r.summary;
    rows.push(
      `| ${r.scenario} | ${r.mode} | ${s.trials} | ${s.invalid ?? 'n/a'} | ` +
        `${ms(s.lossWindowMs?.p50)} | ${ms(s.lossWindowMs?.max)} | ` +
        `${ms(s.controlPlaneRestoreMs?.p50)} | ${s.falseFailovers} | ` +
        `${ms(r.baseline?.summary.lossWindowMs?.p50)} | ` +
        `${r.ratio?.lossWindowP50 != null ? `${r.ratio.lossWindowP50}x` : 'n/a'} | ${r.machine.loadAverage1m} |`,
    );
  }
  return rows.join('\n');
}
