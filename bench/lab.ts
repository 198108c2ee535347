// bench:lab: the lab's scenarios in both modes, through the `mcgw lab` command line exactly as a
// user runs it, and the report table written to the "ClusterSet lab" section of docs/BENCHMARKS.md.
// Needs root. About 15 minutes per mode with the defaults (the soak is most of it).
//   npm run bench:lab -- [--trials N] [--other-trials N] [--baseline-trials N] [--soak-seconds N]
//                        [--modes ActiveStandby,ActiveActive] [--scenarios a,b] [--nodes sim|real]
//                        [--no-write]
// --nodes real runs the lab on kubelet Nodes (mcgw installed by helm from its image) and writes the
// section "ClusterSet lab on kubelet Nodes", with the image size, the time from helm install to every
// Gateway Ready, and the lab's memory and CPU.
// Every scenario's JSON report, each mode's lab figures and, before each `lab down`, an archive of
// the lab's logs stay in $TMPDIR/mcgw-bench-lab[-real]/; --from-reports rebuilds the table from
// them without running anything.
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
import { findImages } from '../src/lab/images.ts';
import { READY_AFTER_INSTALL } from '../src/lab/kubenode/lab.ts';
import { labUsage } from '../src/lab/usage.ts';
import type { LabUsage } from '../src/lab/usage.ts';

const MCGW = fileURLToPath(new URL('../bin/mcgw.js', import.meta.url));
const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    'other-trials': { type: 'string', default: '3' },
    'baseline-trials': { type: 'string', default: '2' },
    'soak-seconds': { type: 'string', default: '600' },
    modes: { type: 'string', default: 'ActiveStandby,ActiveActive' },
    scenarios: { type: 'string', default: Object.keys(SCENARIOS).join(',') },
    // The soak takes its whole length per mode; this limits it to some modes.
    'soak-modes': { type: 'string', default: 'ActiveStandby,ActiveActive' },
    nodes: { type: 'string', default: 'sim' },
    'no-write': { type: 'boolean', default: false },
    // Rebuild the table from the JSON reports a run left (e.g. after re-running one scenario by
    // hand with `mcgw lab run ... --json > <dir>/<mode>-<scenario>.json`). Reports from before the
    // validity check show n/a in the invalid column, and their loss windows were counted in lost
    // sequence numbers.
    'from-reports': { type: 'boolean', default: false },
  },
});

const say = (s: string) => process.stderr.write(`# ${s}\n`);
const real = values.nodes === 'real';
if (!real && values.nodes !== 'sim') throw new Error(`--nodes must be sim or real, got ${values.nodes}`);
const scenarios = values.scenarios!.split(',');
for (const n of scenarios) if (!SCENARIOS[n]) throw new Error(`no scenario ${n}`);
// What `mcgw lab --name bench` uses (src/cli/lab.ts).
const LAB_DIR = join(tmpdir(), 'mcgw-lab-bench');
const LAB_PREFIX = 'mcgwl-bench-';
const lab = (...args: string[]) => {
  const r = spawnSync(process.execPath, [MCGW, 'lab', '--name', 'bench', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`mcgw lab ${args.join(' ')} exited ${r.status}`);
  return r.stdout;
};

const REPORTS = join(tmpdir(), real ? 'mcgw-bench-lab-real' : 'mcgw-bench-lab');
mkdirSync(REPORTS, { recursive: true });

/**
 * `lab down` deletes the lab's logs; a false failover or an outlier found in a report afterwards
 * needs them. Every log of the lab (its processes', and on kubelet Nodes every pod's) goes into
 * one archive per mode beside the reports first.
 */
function keepLogs(mode: string): void {
  const out = join(REPORTS, `${mode}-logs.tar.gz`);
  // Only logs: the lab directory also holds etcd's data and every Node's containerd content.
  const found = spawnSync('find', ['.', '-type', 'f', '-name', '*.log'], { cwd: LAB_DIR, encoding: 'utf8' });
  const files = found.status === 0 ? found.stdout.split('\n').filter(Boolean) : [];
  const r = spawnSync('tar', ['-czf', out, '-C', LAB_DIR, '--ignore-failed-read', '-T', '-'], {
    input: files.join('\n'),
    encoding: 'utf8',
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  if (files.length === 0 || r.status !== 0)
    say(`${mode}: the lab's logs could not be kept: ${(r.stderr || found.stderr).trim().slice(-300)}`);
  else say(`${mode}: the lab's ${files.length} logs are in ${out}`);
}
const reports: ScenarioReport[] = [];
/** Scenarios that failed twice in a row: left out of the table, named at the end. */
const failed: string[] = [];
const began = new Date();
/** Per mode: helm install → every Gateway Ready (real Nodes), and the idle lab's cost. */
type Setup = { mode: string; readyMs: number | null; usage: LabUsage; at: string };
const setup: Setup[] = [];
for (const mode of values['from-reports'] ? [] : values.modes!.split(',')) {
  say(`${mode}: mcgw lab up`);
  lab('down');
  const upOut = lab('up', '--mode', mode, '--nodes', values.nodes!);
  const ready = upOut.split('\n').find((l) => l.includes(READY_AFTER_INSTALL));
  const readyS = ready ? Number(/([\d.]+) s$/.exec(ready)?.[1]) : NaN;
  say(`${mode}: the lab's memory and CPU over 30 s, traffic flowing`);
  const usage = await labUsage(LAB_DIR, LAB_PREFIX, 30_000);
  const x: Setup = {
    mode,
    readyMs: Number.isFinite(readyS) ? readyS * 1000 : null,
    usage,
    at: new Date().toISOString(),
  };
  setup.push(x);
  // Beside the reports, so a table rebuilt from them (--from-reports) keeps the lab's own figures.
  writeFileSync(join(REPORTS, `${mode}-setup.json`), JSON.stringify(x));
  try {
    for (const name of scenarios) {
      if (name === 'soak' && !values['soak-modes']!.split(',').includes(mode)) continue;
      const args =
        name === 'gateway-death'
          ? ['--trials', values.trials!, '--baseline-trials', values['baseline-trials']!]
          : name === 'soak'
            ? ['--trials', '1', '--observe-seconds', values['soak-seconds']!]
            : ['--trials', values['other-trials']!, '--baseline-trials', '0'];
      say(`${mode}: ${name} ${args.join(' ')}`);
      // A scenario that fails (its error is on stderr above) is run once more on the same lab, whose
      // repairs ran; if it fails again the run goes on without it and says so at the end.
      let text: string | undefined;
      for (let attempt = 1; attempt <= 2 && text === undefined; attempt++) {
        try {
          text = lab('run', name, '--json', ...args);
        } catch (err) {
          say(`${mode}: ${name} failed (attempt ${attempt}): ${(err as Error).message}`);
        }
      }
      if (text === undefined) {
        failed.push(`${mode} ${name}`);
        continue;
      }
      const r = JSON.parse(text) as ScenarioReport;
      reports.push(r);
      // Every report in full next to the table's source, for a look at single trials.
      writeFileSync(join(REPORTS, `${mode}-${name}.json`), text);
      process.stdout.write(`${markdownTable([r]).split('\n')[2]}\n`);
    }
  } finally {
    keepLogs(mode);
    lab('down');
  }
}

if (values['from-reports'])
  for (const mode of values.modes!.split(',')) {
    const file = join(REPORTS, `${mode}-setup.json`);
    if (existsSync(file)) setup.push(JSON.parse(readFileSync(file, 'utf8')) as Setup);
    for (const name of scenarios) {
      const file = join(REPORTS, `${mode}-${name}.json`);
      if (existsSync(file)) reports.push(JSON.parse(readFileSync(file, 'utf8')) as ScenarioReport);
    }
  }
/** Rebuilt from reports, rows may come from several runs: say when each began. */
const utc = (iso: string) => iso.slice(5, 16).replace('T', ' ');
const provenance = values['from-reports']
  ? [
      '',
      `Rebuilt with \`--from-reports\` from the JSON reports of separate runs, each started at (UTC): ` +
        reports.map((r) => `${r.scenario} ${r.mode} ${utc(r.startedAt)}`).join('; ') +
        (setup.length
          ? `; the lab figures above from ${setup.map((x) => `${x.mode} ${utc(x.at)}`).join(', ')}`
          : '') +
        '.',
    ]
  : [];
const table = markdownTable(reports);
// Rebuilt from reports, the run is theirs: its start and the load the last one recorded.
const first = values['from-reports']
  ? reports.map((r) => new Date(r.startedAt)).sort((x, y) => x.getTime() - y.getTime())[0]
  : undefined;
const runAt = first ?? began;
const loadAtEnd = values['from-reports'] ? reports.at(-1)?.machine.loadAverage1m : loadavg()[0];
const command =
  `npm run bench:lab -- --trials ${values.trials} --other-trials ${values['other-trials']} ` +
  `--baseline-trials ${values['baseline-trials']} --soak-seconds ${values['soak-seconds']}` +
  (values.modes !== 'ActiveStandby,ActiveActive' ? ` --modes ${values.modes}` : '') +
  (values.scenarios !== Object.keys(SCENARIOS).join(',') ? ` --scenarios ${values.scenarios}` : '') +
  (values['soak-modes'] !== 'ActiveStandby,ActiveActive' ? ` --soak-modes ${values['soak-modes']}` : '') +
  (real ? ' --nodes real' : '');
const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
const images = real ? await findImages() : undefined;
const shape = real
  ? [
      'Each row is one `mcgw lab run SCENARIO --json` on a fresh `mcgw lab up --nodes real` per mode: two member',
      'clusters (member a is also the leader), each a whole control plane (etcd, kube-apiserver,',
      'kube-controller-manager, kube-scheduler) with 3 Gateway candidates and 1 worker as kubelet Nodes',
      '(containerd, runc, bridge CNI, kube-proxy), mcgw installed with helm from its image; 2 Gateways, BFD 50 ms x 3,',
      '1,000 packets per second each way between two traffic pods. A Gateway death powers its Node off (kubelet,',
      'containerd and every pod of it, and its link).',
    ]
  : [
      'Each row is one `mcgw lab run SCENARIO --json` on a fresh `mcgw lab up --nodes sim` per mode: a leader and two members,',
      '3 Gateway candidates and 1 worker per member, 2 Gateways, BFD 50 ms x 3, 1,000 packets per second each way.',
    ];
const body = [
  `Command: \`${command}\`,`,
  `run ${runAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${availableParallelism()} CPUs (1-minute load average at the end: ${loadAtEnd?.toFixed(1) ?? 'n/a'}).`,
  ...shape,
  "A loss window is measured on the sender's clock: the send-time span from the last packet that arrived before",
  'a run of lost packets to the first after it, less one packet interval. Windows are per direction, p50 and',
  'max over the valid trials and both directions. A trial is invalid, counted in "invalid" and left out of the',
  'loss figures, when its a>b window is below the BFD detection minimum ((mult - 1) x tx = 100 ms) in a',
  'scenario that takes the carrying path away at once, or when a sender stalled within a window for more than',
  'a tenth of it; the JSON reports keep such trials with the reason. The baseline (agents without BFD following',
  real
    ? 'Gateway objects, controllers judging Nodes by Ready alone, switched with `helm upgrade`; NotReady comes from the real kube-controller-manager, 50 s by default) runs in the same lab right'
    : 'Gateway objects, controllers judging Nodes by NotReady after the 40 s grace) runs in the same lab right',
  "after, and the ratio is its p50 over mcgw's. See docs/lab.md for what each scenario breaks and how loss is measured.",
  ...(reports.some((r) => r.summary.invalid === undefined)
    ? [
        'Rows with n/a under "invalid" come from reports written before send times were stamped: their loss',
        'windows are runs of lost sequence numbers x the interval, which a stalled sender could shorten, unchecked.',
      ]
    : []),
  ...(images
    ? [
        '',
        `The mcgw image (${images.mcgw.ref}): ${mib(images.mcgw.imageBytes)} unpacked, ${mib(images.mcgw.archiveBytes)} as a compressed archive.`,
      ]
    : []),
  ...setup.map(
    (x) =>
      `${x.mode}: ${x.readyMs === null ? '' : `from the first \`helm install\` to every Gateway Ready and exchanged ${(x.readyMs / 1000).toFixed(1)} s; `}` +
      `the idle lab with traffic flowing, over ${Math.round(x.usage.sampleMs / 1000)} s: ${x.usage.processes} processes, ` +
      `${mib(x.usage.rssBytes)} resident, ${x.usage.cpuCores.toFixed(2)} cores.`,
  ),
  '',
  table,
  ...provenance,
  ...(failed.length
    ? [
        '',
        `Failed twice and left out of the table (their errors are in the run's output): ${failed.join(', ')}.`,
      ]
    : []),
].join('\n');
if (values['no-write']) {
  say('docs/BENCHMARKS.md left as it is (--no-write); the section would read:');
  process.stdout.write(`${body}\n`);
} else {
  const section = real ? 'ClusterSet lab on kubelet Nodes' : 'ClusterSet lab';
  await writeSection(section, body);
  say(`wrote ## ${section} in docs/BENCHMARKS.md`);
}
if (failed.length) {
  say(`failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
