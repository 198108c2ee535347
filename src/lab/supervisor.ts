// `mcgw lab serve`: the process that owns a running lab. `mcgw lab up` starts it detached and follows
// its progress file; `run`, `status` and `down` talk to it over HTTP on a Unix socket in the lab
// directory. Only one scenario runs at a time.
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Lab } from './lab.ts';
import type { LabConfig } from './lab.ts';
import { runScenario, SCENARIOS } from './scenarios.ts';
import type { Testbed } from './testbed.ts';

export const socketPath = (dir: string): string => join(dir, 'lab.sock');
export const progressPath = (dir: string): string => join(dir, 'progress.log');
export const pidPath = (dir: string): string => join(dir, 'supervisor.pid');
/** Last line of the progress file once the lab is up, or once building failed. */
export const READY_LINE = 'lab ready';
export const FAILED_PREFIX = 'lab failed: ';

export interface LabSnapshot {
  clusters: {
    id: string;
    apiserver: boolean;
    gateways: { node: string; role: string; priority: number; ready: boolean }[];
    remotes: string[];
  }[];
  agents: { node: string; running: boolean; bfd: Record<string, number> }[];
  /** Packets per second received per direction since the previous snapshot. */
  traffic: Record<string, number>;
  busy: string | null;
}

async function snapshot(lab: Testbed, last: { at: number }, busy: string | null): Promise<LabSnapshot> {
  const clusters = await Promise.all(
    lab.plan.clusters.map(async (c) => {
      const m = lab.member(c.id);
      const up = m.cp.apiserverRunning;
      const gws = up ? await lab.gateways(c.id).catch(() => []) : [];
      const remotes = up ? await lab.remoteClusters(c.id).catch(() => []) : [];
      return {
        id: c.id,
        apiserver: up,
        gateways: gws.map((g) => ({
          node: g.spec.nodeName,
          role: g.status?.role ?? '',
          priority: g.spec.priority,
          ready: g.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True',
        })),
        remotes: remotes.map((r) => r.metadata.name ?? ''),
      };
    }),
  );
  const agents = await Promise.all(
    lab.nodes.map(async (n) => {
      const bfd: Record<string, number> = {};
      const running = lab.agentRunning(n);
      if (running) {
        const text = await lab.agentMetrics(n).catch(() => '');
        for (const m of text.matchAll(/^mcgw_agent_bfd_sessions\{state="(\w+)"\} (\d+)/gm))
          if (Number(m[2]) > 0) bfd[m[1]!] = Number(m[2]);
      }
      return { node: n.name, running, bfd };
    }),
  );
  const traffic: Record<string, number> = {};
  const now = Date.now();
  if (last.at) {
    const loss = await lab.lossSince('status').catch(() => ({}));
    for (const [d, l] of Object.entries(loss)) traffic[d] = Math.round((l.received / (now - last.at)) * 1000);
  }
  await lab.trafficCommand('mark', 'status').catch(() => {});
  last.at = now;
  return { clusters, agents, traffic, busy };
}

function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (s += d));
    req.on('end', () => {
      try {
        resolve(s ? (JSON.parse(s) as Record<string, unknown>) : {});
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

/** Builds the lab, serves requests until `down` or a signal, then removes everything. */
export async function serve(cfg: LabConfig): Promise<void> {
  const progress = progressPath(cfg.dir);
  const say = (msg: string) => appendFileSync(progress, `${msg}\n`);
  rmSync(progress, { force: true });
  writeFileSync(pidPath(cfg.dir), String(process.pid));
  let lab: Testbed;
  try {
    if (cfg.nodes === 'real') {
      const { NodeLab } = await import('./kubenode/lab.ts');
      lab = await NodeLab.up({ ...cfg, progress: say });
    } else lab = await Lab.up({ ...cfg, progress: say });
  } catch (err) {
    say(`${FAILED_PREFIX}${(err as Error).message}`);
    throw err;
  }
  let busy: string | null = null;
  const last = { at: 0 };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      server.close();
      await lab.down();
    })();
    return stopping;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const json = (code: number, v: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (req.method === 'GET' && req.url === '/status') return json(200, await snapshot(lab, last, busy));
    if (req.method === 'POST' && req.url === '/down') {
      json(200, { stopping: true });
      await stop();
      process.exit(0);
    }
    if (req.method === 'POST' && req.url === '/run') {
      const b = await body(req);
      const name = String(b.scenario ?? '');
      if (!SCENARIOS[name])
        return json(400, { error: `no scenario "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}` });
      if (busy) return json(409, { error: `scenario ${busy} is running; one at a time` });
      busy = name;
      // NDJSON: progress lines while it runs, then the report (or the error).
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const line = (v: unknown) => res.write(`${JSON.stringify(v)}\n`);
      try {
        const report = await runScenario(
          lab,
          name,
          {
            trials: Number(b.trials ?? 10),
            baselineTrials: Number(b.baselineTrials ?? 0),
            observeMs: Number(b.observeMs ?? 60_000),
          },
          (msg) => line({ progress: msg }),
        );
        line({ report });
      } catch (err) {
        line({ error: (err as Error).message });
      } finally {
        busy = null;
        res.end();
      }
      return;
    }
    json(404, { error: 'not found' });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(JSON.stringify({ error: (err as Error).message }));
    });
  });
  // No request timeout: a scenario with baseline trials runs for minutes.
  server.requestTimeout = 0;
  rmSync(socketPath(cfg.dir), { force: true });
  await new Promise<void>((r) => server.listen(socketPath(cfg.dir), r));
  say(READY_LINE);
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.once(sig, () => void stop().then(() => process.exit(0)));
}
