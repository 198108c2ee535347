// `mcgw lab`: a whole ClusterSet on this machine (src/lab), its failure scenarios and their figures.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { MODES } from '../api/gatewaypolicy.ts';
import type { Mode } from '../api/types.ts';
import { DEFAULT_LAB_CONFIG, sweepLab } from '../lab/lab.ts';
import type { LabConfig } from '../lab/lab.ts';
import { DEFAULT_LAB_OPTIONS } from '../lab/plan.ts';
import { markdownTable } from '../lab/report.ts';
import type { ScenarioReport } from '../lab/report.ts';
import { SCENARIOS } from '../lab/scenarios.ts';
import { FAILED_PREFIX, READY_LINE, pidPath, progressPath, socketPath } from '../lab/supervisor.ts';
import type { LabSnapshot } from '../lab/supervisor.ts';
import { UsageError, intFlag, parse } from './args.ts';

const MCGW = fileURLToPath(new URL('../../bin/mcgw.js', import.meta.url));
const DEFAULT_DIR = join(tmpdir(), 'mcgw-lab');

export const help = `mcgw lab: a whole ClusterSet on this machine, its failure scenarios and their figures

Usage:
  mcgw lab up [flags]                 build the lab and leave it running (progress, then a table)
  mcgw lab status [--json] [--watch]  clusters, Gateways, roles, BFD sessions, traffic rate
  mcgw lab run SCENARIO [flags]       run a scenario's trials and print the report
  mcgw lab down                       remove every namespace, link, process and file of the lab

up flags:
  --members N            member clusters (default 2), each with its own control plane
  --candidates N         Gateway candidate Nodes per member (default 3)
  --workers N            other Nodes per member (default 1; the first hosts the test pod)
  --desired N            Gateway instances per member (default 2)
  --mode MODE            ActiveStandby or ActiveActive (default ActiveStandby)
  --bfd-tx-ms N          BFD interval (default 50)
  --bfd-mult N           BFD detect multiplier (default 3)
  --rate N               test packets per second per direction (default 1000)
  --nodes real|sim       real (default): kubelet Nodes (containerd, runc, bridge CNI) with mcgw
                         installed by helm from its image, NotReady from the real
                         kube-controller-manager; sim: Nodes are namespaces running mcgw's
                         processes, kubelets simulated (quicker: about 20 s to build)
  --node-grace-seconds N sim: a silent Node turns NotReady after N s (default 40, as Kubernetes)
  --watch                stay and refresh the table after building

run flags:
  --trials N             trials (default 10)
  --baseline-trials N    trials of the control-plane-only baseline in the same run (default 2;
                         each waits out the NotReady grace); reported beside mcgw's figure as a ratio
  --observe-seconds N    soak length (default 600), or how long a trial waits for the control
                         plane to replace the victim (default 60)
  --json                 print the report as JSON (default: a table)

common:
  --name NAME            run several labs side by side: directory ${DEFAULT_DIR}-NAME and namespaces
                         mcgwl-NAME-* (default: the lab "main", in ${DEFAULT_DIR}, namespaces mcgwl-main-*)
  --dir DIR              lab directory (default ${DEFAULT_DIR}, or with --name as above)

Scenarios:
${Object.entries(SCENARIOS)
  .map(([k, v]) => `  ${k.padEnd(26)} ${v.description}`)
  .join('\n')}
`;

interface Reply {
  status: number;
  body: string;
}

/** One request to the lab's supervisor; `onLine` gets streamed NDJSON lines as they come. */
function call(dir: string, method: string, path: string, payload?: unknown, onLine?: (l: string) => void) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ socketPath: socketPath(dir), method, path }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      if (onLine) createInterface({ input: res }).on('line', onLine);
      else res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(payload === undefined ? undefined : JSON.stringify(payload));
  });
}

async function labRunning(dir: string): Promise<boolean> {
  if (!existsSync(socketPath(dir))) return false;
  return call(dir, 'GET', '/status').then(
    () => true,
    () => false,
  );
}

function table(s: LabSnapshot): string {
  const out: string[] = [];
  for (const c of s.clusters) {
    out.push(
      `cluster ${c.id}  apiserver ${c.apiserver ? 'up' : 'DOWN'}  imports ${c.remotes.join(',') || '-'}`,
    );
    for (const g of [...c.gateways].sort((a, b) => b.priority - a.priority))
      out.push(
        `  gateway ${g.node.padEnd(8)} ${(g.role || '?').padEnd(8)} priority ${String(g.priority).padEnd(4)} ${g.ready ? 'Ready' : 'NotReady'}`,
      );
  }
  out.push('agents (BFD sessions by state):');
  for (const a of s.agents)
    out.push(
      `  ${a.node.padEnd(8)} ${a.running ? 'running' : 'STOPPED'}  ${
        Object.entries(a.bfd)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '-'
      }`,
    );
  const t = Object.entries(s.traffic);
  out.push(`traffic: ${t.length ? t.map(([d, r]) => `${d} ${r} pps`).join(', ') : '(measuring)'}`);
  if (s.busy) out.push(`running scenario: ${s.busy}`);
  return out.join('\n');
}

async function status(dir: string, json: boolean, watch: boolean): Promise<number> {
  if (!(await labRunning(dir))) {
    process.stderr.write(`mcgw lab: no lab is running in ${dir}; start one with \`mcgw lab up\`\n`);
    return 1;
  }
  for (;;) {
    const r = await call(dir, 'GET', '/status');
    const snap = JSON.parse(r.body) as LabSnapshot;
    if (json) process.stdout.write(`${JSON.stringify(snap)}\n`);
    else process.stdout.write(`${watch ? '\x1b[2J\x1b[H' : ''}${table(snap)}\n`);
    if (!watch) return 0;
    await sleep(2_000);
  }
}

/** Compiles src/ into dist/ (npm run build) unless the build is current. */
async function ensureBuild(): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const stampMod = new URL('../../bin/build-stamp.js', import.meta.url).href;
  const { STAMP, sourceFingerprint } = (await import(stampMod)) as {
    STAMP: string;
    sourceFingerprint: (root: string) => string | undefined;
  };
  let built = '';
  try {
    built = readFileSync(join(root, STAMP), 'utf8');
  } catch {
    // no build yet
  }
  const now = sourceFingerprint(root);
  if (now === undefined || now === built) return;
  process.stdout.write('[0/7] compiling mcgw (npm run build)\n');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed; see its output above');
}

async function up(dir: string, cfg: LabConfig, watch: boolean): Promise<number> {
  if (await labRunning(dir)) {
    process.stderr.write(`mcgw lab: a lab is already up in ${dir}; \`mcgw lab down\` removes it\n`);
    return 1;
  }
  // The lab starts a dozen mcgw processes: compiled, each starts faster and uses less memory.
  await ensureBuild();
  // Leftovers of a crashed lab would collide with the new one.
  sweepLab(dir, cfg.nsPrefix);
  mkdirSync(dir, { recursive: true });
  const log = openSync(join(dir, 'supervisor.log'), 'a');
  const child = spawn(process.execPath, [MCGW, 'lab', 'serve', '--config', JSON.stringify(cfg)], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  let shown = 0;
  for (;;) {
    const lines = existsSync(progressPath(dir))
      ? readFileSync(progressPath(dir), 'utf8').split('\n').filter(Boolean)
      : [];
    for (const l of lines.slice(shown)) {
      if (l === READY_LINE) return watch ? status(dir, false, true) : status(dir, false, false);
      if (l.startsWith(FAILED_PREFIX)) {
        process.stderr.write(`mcgw lab: ${l}\n(logs in ${dir}; \`mcgw lab down\` cleans up)\n`);
        return 1;
      }
      process.stdout.write(`${l}\n`);
    }
    shown = lines.length;
    if (exited !== null) {
      process.stderr.write(
        `mcgw lab: the lab process exited (${exited}); see ${join(dir, 'supervisor.log')}\n`,
      );
      return 1;
    }
    await sleep(250);
  }
}

async function runScenarioCmd(
  dir: string,
  scenario: string,
  o: { trials: number; baselineTrials: number; observeMs: number; json: boolean },
): Promise<number> {
  if (!SCENARIOS[scenario])
    throw new UsageError(
      `mcgw lab run: no scenario "${scenario}"; known: ${Object.keys(SCENARIOS).join(', ')}`,
    );
  if (!(await labRunning(dir))) {
    process.stderr.write(`mcgw lab: no lab is running in ${dir}; start one with \`mcgw lab up\`\n`);
    return 1;
  }
  let report: ScenarioReport | undefined;
  let error: string | undefined;
  const r = await call(dir, 'POST', '/run', { scenario, ...o }, (l) => {
    const j = JSON.parse(l) as { progress?: string; report?: ScenarioReport; error?: string };
    if (j.progress) process.stderr.write(`${j.progress}\n`);
    if (j.report) report = j.report;
    if (j.error) error = j.error;
  });
  if (r.status !== 200) error ??= `HTTP ${r.status}`;
  if (error || !report) {
    process.stderr.write(`mcgw lab run ${scenario}: ${error ?? 'no report'}\n`);
    return 1;
  }
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${markdownTable([report])}\n`);
  return 0;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function down(dir: string, nsPrefix: string): Promise<number> {
  if (await labRunning(dir)) {
    process.stdout.write('stopping the lab...\n');
    await call(dir, 'POST', '/down').catch(() => undefined);
    // The lab process removes what it made, then exits; whatever is left after that is swept.
    const pid = Number(readFileSync(pidPath(dir), 'utf8'));
    for (let i = 0; i < 240 && alive(pid); i++) await sleep(250);
  }
  const r = sweepLab(dir, nsPrefix);
  process.stdout.write(
    `lab removed: ${r.namespaces.length} leftover namespace(s), ${r.processes} leftover process(es), ` +
      `${r.cgroups.length} leftover cgroup(s), ${dir}\n`,
  );
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('lab', argv, {
    dir: { type: 'string' },
    name: { type: 'string' },
    members: { type: 'string' },
    candidates: { type: 'string' },
    workers: { type: 'string' },
    desired: { type: 'string' },
    mode: { type: 'string', default: DEFAULT_LAB_OPTIONS.mode },
    'bfd-tx-ms': { type: 'string' },
    'bfd-mult': { type: 'string' },
    rate: { type: 'string' },
    'node-grace-seconds': { type: 'string' },
    nodes: { type: 'string', default: 'real' },
    watch: { type: 'boolean', default: false },
    trials: { type: 'string' },
    'baseline-trials': { type: 'string' },
    'observe-seconds': { type: 'string' },
    json: { type: 'boolean', default: false },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [action, scenario] = positionals;
  if (values.help || !action) {
    process.stdout.write(help);
    return values.help ? 0 : 2;
  }
  const name = values.name ?? 'main';
  if (!/^[a-z0-9]{1,8}$/.test(name))
    throw new UsageError(`mcgw lab: --name must be 1-8 lowercase letters or digits, got "${name}"`);
  const dir = values.dir ?? (name === 'main' ? DEFAULT_DIR : `${DEFAULT_DIR}-${name}`);
  // Each lab's namespaces have their own prefix, so `down` never touches another lab's.
  const nsPrefix = `${DEFAULT_LAB_CONFIG.nsPrefix}${name}-`;
  const int = (name: string, v: string | undefined, lo: number, hi: number) =>
    intFlag('lab', name, v, lo, hi);
  switch (action) {
    case 'up': {
      if (!(MODES as readonly string[]).includes(values.mode!))
        throw new UsageError(`mcgw lab: --mode must be ${MODES.join(' or ')}, got "${values.mode}"`);
      if (values.nodes !== 'sim' && values.nodes !== 'real')
        throw new UsageError(`mcgw lab: --nodes must be real or sim, got "${values.nodes}"`);
      if (values.nodes === 'real' && values['node-grace-seconds'] !== undefined)
        throw new UsageError(
          'mcgw lab: --node-grace-seconds is for --nodes sim; on kubelet Nodes the real ' +
            "kube-controller-manager's grace applies (50 s)",
        );
      if (process.getuid?.() !== 0) throw new UsageError('mcgw lab up: needs root (network namespaces)');
      const cfg: LabConfig = {
        ...DEFAULT_LAB_OPTIONS,
        ...DEFAULT_LAB_CONFIG,
        dir,
        nsPrefix,
        mode: values.mode as Mode,
        nodes: values.nodes,
        members: int('members', values.members, 2, 8) ?? DEFAULT_LAB_OPTIONS.members,
        candidates: int('candidates', values.candidates, 1, 7) ?? DEFAULT_LAB_OPTIONS.candidates,
        workers: int('workers', values.workers, 1, 7) ?? DEFAULT_LAB_OPTIONS.workers,
        desired: int('desired', values.desired, 1, 7) ?? DEFAULT_LAB_OPTIONS.desired,
        bfdTxMs: int('bfd-tx-ms', values['bfd-tx-ms'], 10, 10_000) ?? DEFAULT_LAB_OPTIONS.bfdTxMs,
        bfdMult: int('bfd-mult', values['bfd-mult'], 1, 255) ?? DEFAULT_LAB_OPTIONS.bfdMult,
        rate: int('rate', values.rate, 1, 20_000) ?? DEFAULT_LAB_CONFIG.rate,
        nodeGraceMs:
          (int('node-grace-seconds', values['node-grace-seconds'], 1, 600) ??
            DEFAULT_LAB_CONFIG.nodeGraceMs / 1000) * 1000,
      };
      return up(dir, cfg, values.watch!);
    }
    case 'serve': {
      // Internal: the detached process `up` starts.
      const { serve } = await import('../lab/supervisor.ts');
      await serve(JSON.parse(values.config ?? '{}') as LabConfig);
      return new Promise<number>(() => {}); // serves until `down` or a signal exits the process
    }
    case 'status':
      return status(dir, values.json!, values.watch!);
    case 'run':
      if (!scenario) throw new UsageError('mcgw lab run: name a scenario (see mcgw lab --help)');
      return runScenarioCmd(dir, scenario, {
        trials: int('trials', values.trials, 1, 1000) ?? 10,
        baselineTrials: int('baseline-trials', values['baseline-trials'], 0, 100) ?? 2,
        observeMs:
          (int('observe-seconds', values['observe-seconds'], 1, 86_400) ?? (scenario === 'soak' ? 600 : 60)) *
          1000,
        json: values.json!,
      });
    case 'down':
      return down(dir, nsPrefix);
    default:
      throw new UsageError(`mcgw lab: unknown action "${action}" (up, status, run, down)`);
  }
}
