// bench:lab: the lab's scenarios in both modes, through the `mcgw lab` command line exactly as a
// user runs it, and the report table written to the "ClusterSet lab" section of docs/BENCHMARKS.md.
// Needs root. About 15 minutes per mode with the defaults (the soak is most of it).
//   npm run bench:lab -- [--trials N] [--other-trials N] [--baseline-trials N] [--soak-seconds N]
//                        [--modes ActiveStandby,ActiveActive] [--no-write]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { markdownTable } from '../src/lab/report.ts';
import type { ScenarioReport } from '../src/lab/report.ts';
import { SCENARIOS } from '../src/lab/scenarios.ts';
import { writeSection } from './report.ts';

const MCGW = fileURLToPath(new URL('../bin/mcgw.js', import.meta.url));
const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    'other-trials': { type: 'string', default: '3' },
    'baseline-trials': { type: 'string', default: '2' },
    'soak-seconds': { type: 'string', default: '600' },
    modes: { type: 'string', default: 'ActiveStandby,ActiveActive' },
    'no-write': { type: 'boolean', default: false },
    // Rebuild the table from the JSON reports a run left (e.g. after re-running one scenario by
    // hand with `mcgw lab run ... --json > <dir>/<mode>-<scenario>.json`). Reports from before the
    // validity check show n/a in the invalid column, and their loss windows were counted in lost
    // sequence numbers.
    'from-reports': { type: 'boolean', default: false },
  },
});

const say = (s: string) => process.stderr.write(`# ${s}\n`);
const lab = (...args: string[]) => {
  const r = spawnSync(process.execPath, [MCGW, 'lab', '--name', 'bench', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`mcgw lab ${args.join(' ')} exited ${r.status}`);
  return r.stdout;
};

const REPORTS = join(tmpdir(), 'mcgw-bench-lab');
mkdirSync(REPORTS, { recursive: true });
const reports: ScenarioReport[] = [];
const began = new Date();
for (const mode of values['from-reports'] ? [] : values.modes!.split(',')) {
  say(`${mode}: mcgw lab up`);
  lab('down');
  lab('up', '--mode', mode);
  try {
    for (const name of Object.keys(SCENARIOS)) {
      const args =
        name === 'gateway-death'
          ? ['--trials', values.trials!, '--baseline-trials', values['baseline-trials']!]
          : name === 'soak'
            ? ['--trials', '1', '--observe-seconds', values['soak-seconds']!]
            : ['--trials', values['other-trials']!, '--baseline-trials', '0'];
      say(`${mode}: ${name} ${args.join(' ')}`);
      const text = lab('run', name, '--json', ...args);
      const r = JSON.parse(text) as ScenarioReport;
      reports.push(r);
      // Every report in full next to the table's source, for a look at single trials.
      writeFileSync(join(REPORTS, `${mode}-${name}.json`), text);
      process.stdout.write(`${markdownTable([r]).split('\n')[2]}\n`);
    }
  } finally {
    lab('down');
  }
}

if (values['from-reports'])
  for (const mode of values.modes!.split(','))
    for (const name of Object.keys(SCENARIOS)) {
      const file = join(REPORTS, `${mode}-${name}.json`);
      if (existsSync(file)) reports.push(JSON.parse(readFileSync(file, 'utf8')) as ScenarioReport);
    }
const table = markdownTable(reports);
// Rebuilt from reports, the run is theirs: its start and the load the last one recorded.
const first = values['from-reports']
  ? reports.map((r) => new Date(r.startedAt)).sort((x, y) => x.getTime() - y.getTime())[0]
  : undefined;
const runAt = first ?? began;
const loadAtEnd = values['from-reports'] ? reports.at(-1)?.machine.loadAverage1m : loadavg()[0];
const body = [
  `Command: \`npm run bench:lab -- --trials ${values.trials} --other-trials ${values['other-trials']} --baseline-trials ${values['baseline-trials']} --soak-seconds ${values['soak-seconds']}\`,`,
  `run ${runAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${availableParallelism()} CPUs (1-minute load average at the end: ${loadAtEnd?.toFixed(1) ?? 'n/a'}).`,
  'Each row is one `mcgw lab run SCENARIO --json` on a fresh `mcgw lab up` per mode: a leader and two members,',
  '3 Gateway candidates and 1 worker per member, 2 Gateways, BFD 50 ms x 3, 1,000 packets per second each way.',
  "A loss window is measured on the sender's clock: the send-time span from the last packet that arrived before",
  'a run of lost packets to the first after it, less one packet interval. Windows are per direction, p50 and',
  'max over the valid trials and both directions. A trial is invalid, counted in "invalid" and left out of the',
  'loss figures, when its a>b window is below the BFD detection minimum ((mult - 1) x tx = 100 ms) in a',
  'scenario that takes the carrying path away at once, or when a sender stalled within a window for more than',
  'a tenth of it; the JSON reports keep such trials with the reason. The baseline (agents without BFD following',
  'Gateway objects, controllers judging Nodes by NotReady after the 40 s grace) runs in the same lab right',
  "after, and the ratio is its p50 over mcgw's. See docs/lab.md for what each scenario breaks and how loss is measured.",
  ...(reports.some((r) => r.summary.invalid === undefined)
    ? [
        'Rows with n/a under "invalid" come from reports written before send times were stamped: their loss',
        'windows are runs of lost sequence numbers x the interval, which a stalled sender could shorten, unchecked.',
      ]
    : []),
  '',
  table,
].join('\n');
if (values['no-write']) {
  say('docs/BENCHMARKS.md left as it is (--no-write); the section would read:');
  process.stdout.write(`${body}\n`);
} else {
  await writeSection('ClusterSet lab', body);
  say('wrote ## ClusterSet lab in docs/BENCHMARKS.md');
}
