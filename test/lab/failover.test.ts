// Issue 5's acceptance on the whole lab: two member clusters with real control planes, Kubernetes-fed
// agents in network namespaces, a UDP stream between a pod in each; the carrying Gateway dies, with
// the control planes up and with every apiserver (both members' and the leader's) stopped first.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Mode } from '../../src/api/types.ts';
import { DEFAULT_LAB_CONFIG, Lab } from '../../src/lab/lab.ts';
import { DEFAULT_LAB_OPTIONS } from '../../src/lab/plan.ts';
import { runTrial } from '../../src/lab/scenarios.ts';
import { validate } from '../../src/status/schema-check.ts';
import type { JsonSchema } from '../../src/status/schema-check.ts';
import type { MemberStatusReport } from '../../src/status/types.ts';

const MCGW = fileURLToPath(new URL('../../bin/mcgw.js', import.meta.url));
const SCHEMA = JSON.parse(
  readFileSync(new URL('../../docs/status-schema.json', import.meta.url), 'utf8'),
) as JsonSchema;

const root = process.getuid?.() === 0;

for (const mode of ['ActiveStandby', 'ActiveActive'] as Mode[]) {
  describe(`lab, ${mode}: the carrying Gateway dies`, { skip: !root && 'needs root' }, () => {
    let lab: Lab;
    let dir: string | undefined;
    const bound = DEFAULT_LAB_OPTIONS.bfdMult * DEFAULT_LAB_OPTIONS.bfdTxMs + 100;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mcgw-lab-test-'));
      lab = await Lab.up({
        ...DEFAULT_LAB_OPTIONS,
        ...DEFAULT_LAB_CONFIG,
        mode,
        dir,
        nsPrefix: `mcgwt-l${randomBytes(2).toString('hex')}-`,
      });
    });
    // Lab.down stops and removes what runs; the directory (logs, etcd data) is the test's own.
    after(async () => {
      await lab?.down();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const check = (name: string, r: Awaited<ReturnType<typeof runTrial>>) => {
      process.stderr.write(`# ${mode} ${name}: ${JSON.stringify(r)}\n`);
      assert.ok(r.victim, 'a carrying Gateway was found and broken');
      assert.deepEqual(Object.keys(r.lossWindowMs).sort(), ['a>b', 'b>a']);
      for (const [dir, ms] of Object.entries(r.lossWindowMs))
        assert.ok(ms <= bound, `${dir} lost ${ms} ms (bound ${bound} ms)`);
    };

    // Asynchronously: this process carries the relays between the agents and their apiservers, and a
    // synchronous child would stall the agents' Lease renewals for as long as it runs.
    const status = async (): Promise<MemberStatusReport> => {
      const r = await promisify(execFile)(
        process.execPath,
        [MCGW, 'status', '--kubeconfig', lab.member('a').cp.kubeconfigPath, '--json'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      const report = JSON.parse(r.stdout) as MemberStatusReport;
      assert.deepEqual(validate(SCHEMA, report), [], 'the JSON matches docs/status-schema.json');
      return report;
    };

    test('mcgw status shows every Gateway and its BFD sessions', async () => {
      // Summaries ride on Lease renewals (every 500 ms): wait until each Gateway's lists every
      // Gateway of b, then check what they say.
      const bGateways = (await lab.gateways('b')).map((g) => `b/${g.spec.nodeName}`).sort();
      let gws: MemberStatusReport['gateways'] = [];
      await lab.waitFor('BFD summaries on both Gateway Leases', 30_000, async () => {
        gws = (await status()).gateways ?? [];
        return (
          gws.length === 2 &&
          gws.every(
            (g) => JSON.stringify(g.bfd?.peers.map((p) => p.peer).sort()) === JSON.stringify(bGateways),
          )
        );
      });
      for (const g of gws) {
        for (const p of g.bfd!.peers) {
          assert.ok(['Up', 'Down', 'Init', 'AdminDown'].includes(p.state), JSON.stringify(p));
          if (p.state === 'Up') assert.ok(p.txMs === 50 && p.detectMs === 150, JSON.stringify(p));
        }
        // a-w1 and the third candidate (a worker while not placed) open sessions to both Gateways.
        const nodes = Object.values(g.bfd!.nodes).reduce((x, y) => x + y, 0);
        assert.ok(nodes >= 2, `local Node sessions ${JSON.stringify(g.bfd!.nodes)}`);
      }
    });

    test(`control planes up: loss within ${bound} ms both ways, the Gateway replaced`, async () => {
      const r = await runTrial(lab, 'gateway-death', 1, { observeMs: 30_000, say: () => {} });
      check('gateway-death', r);
      assert.ok(r.controlPlaneRestoreMs !== null, 'the controller placed a replacement');
      // The failover and its timings show in mcgw status.
      const f = (await status()).failovers?.find((x) => x.node === r.victim);
      assert.ok(f, `a failover of ${r.victim} in mcgw status`);
      assert.ok(f.replacement && f.replacement !== r.victim, `replaced by ${f.replacement}`);
      assert.ok(
        f.leaseSilentSeconds !== null && f.leaseSilentSeconds < 5,
        `Lease silent ${f.leaseSilentSeconds} s`,
      );
    });

    test('every documented metric is exported in the lab, and a Gateway death moves the failure ones', async () => {
      const names = [
        'leader',
        ...[1, 2].flatMap((r) => lab.plan.clusters.map((c) => `controller-${c.id}-${r}`)),
        ...lab.nodes.map((n) => n.name),
      ];
      const scrape = async () =>
        new Map(await Promise.all(names.map(async (n) => [n, await lab.metrics(n)] as const)));
      // Sum of every sample of a metric (all labels, all processes); NaN when none is exported.
      const total = (text: string, metric: string) => {
        let sum = NaN;
        for (const m of text.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)$`, 'gm')))
          sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[1]);
        return sum;
      };
      const documented = [
        ...readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8').matchAll(
          /^\| `(mcgw_\w+)`/gm,
        ),
      ].map((m) => m[1]!);
      const before = await scrape();
      const all = [...before.values()].join('\n');
      for (const m of documented)
        assert.ok(new RegExp(`^# TYPE ${m} `, 'm').test(all), `${m} is exported by some lab process`);
      const r = await runTrial(lab, 'gateway-death', 3, { observeMs: 30_000, say: () => {} });
      check('gateway-death (metrics)', r);
      // The victim's agent restarted (its counters began again at 0): compare the others.
      const others = (m: Map<string, string>) =>
        [...m]
          .filter(([n]) => n !== r.victim)
          .map(([, t]) => t)
          .join('\n');
      const after = others(await scrape());
      const was = others(before);
      const moved = [
        'mcgw_agent_failovers_total',
        'mcgw_agent_bfd_transitions_total',
        'mcgw_agent_route_programming_seconds_count',
        'mcgw_agent_kernel_changes_total',
        'mcgw_agent_bfd_down_reports_total',
        'mcgw_controller_removals_total',
        'mcgw_controller_placements_total',
        'mcgw_controller_failovers_total',
        'mcgw_controller_writes_total',
        'mcgw_exchange_export_writes_total',
        'mcgw_leader_reconcile_duration_seconds_count',
      ];
      for (const m of moved)
        assert.ok(total(after, m) > total(was, m), `${m}: ${total(was, m)} -> ${total(after, m)}`);
    });

    test(`every apiserver and the leader stopped first: loss still within ${bound} ms`, async () => {
      const r = await runTrial(lab, 'control-planes-down', 2, { observeMs: 30_000, say: () => {} });
      check('control-planes-down', r);
    });
  });
}
