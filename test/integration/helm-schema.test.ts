// The charts' values.schema.json, checked by a real helm (built from its Go module; no apiserver):
// the default values, the values the other tests and the docs install with pass; wrong values fail
// before anything is rendered, with a message naming the key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CONTROLLER_ELECTION, LEADER_FLAGS } from '../../src/cli/bounds.ts';
import { repoRoot } from '../../src/lab/binaries.ts';
import { HelmError, chartDir, findHelm, helm, renderChartObjects } from '../../src/lab/helm.ts';
import { leaderFullValues, leaderValues, memberFullValues, memberValues } from './helm-fixtures.ts';

type Chart = 'mcgw-member' | 'mcgw-leader';

let helmBin: string;
let work: string;

before(async () => {
  // Builds helm from its Go module the first time (minutes; progress on stderr), then cached.
  helmBin = await findHelm();
  work = await mkdtemp(join(tmpdir(), 'mcgw-helm-schema-'));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

let fileNo = 0;
/** Writes values to a file for --values (JSON is YAML). */
async function valuesFile(values: unknown): Promise<string> {
  const path = join(work, `values-${fileNo++}.json`);
  await writeFile(path, JSON.stringify(values));
  return path;
}

/** `helm template` of a chart with extra arguments; resolves with stdout, rejects with helm's error. */
const template = (chart: Chart, args: string[] = [], namespace = 'default') =>
  helm(['template', 'mcgw', chartDir(chart), '--namespace', namespace, ...args], { helm: helmBin });

/**
 * Asserts that `helm template` and `helm lint` both refuse the values, with helm's schema error
 * naming the chart, and every pattern in the message.
 */
async function refused(chart: Chart, values: unknown, patterns: RegExp[]): Promise<string> {
  const file = await valuesFile(values);
  let message = '';
  await assert.rejects(template(chart, ['--values', file]), (err: Error) => {
    message = err.message;
    return true;
  });
  assert.match(message, /values don't meet the specifications of the schema/, message);
  assert.match(message, new RegExp(`^${chart}:$`, 'm'), message);
  for (const p of patterns) assert.match(message, p, message);
  // helm lint checks values against the schema too (and says which file it checked).
  await assert.rejects(
    helm(['lint', '--strict', chartDir(chart), '--namespace', 'default', '--values', file], {
      helm: helmBin,
    }),
    (err: HelmError) => {
      assert.ok(err instanceof HelmError, String(err));
      assert.match(err.stdout, /\[ERROR\] values\.yaml: /, err.stdout);
      for (const p of patterns) assert.match(err.stdout, p, err.stdout);
      return true;
    },
  );
  return message;
}

const at = (path: string) => new RegExp(`at '${path.replace(/[/.~]/g, (c) => `\\${c}`)}'`);

describe('values the charts ship and the repository uses pass the schema', () => {
  test('the default values: helm lint --strict and helm template', async () => {
    for (const chart of ['mcgw-member', 'mcgw-leader'] as const) {
      const out = await helm(['lint', '--strict', chartDir(chart), '--namespace', 'default'], {
        helm: helmBin,
      });
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.match(await template(chart), /kind: Deployment/);
    }
  });

  test('the values the helm tests install with', async () => {
    for (const [chart, values] of [
      ['mcgw-member', memberValues],
      ['mcgw-member', memberFullValues],
      ['mcgw-leader', leaderValues],
      ['mcgw-leader', leaderFullValues],
    ] as const) {
      const objs = await renderChartObjects(chartDir(chart), { helm: helmBin, values });
      assert.ok(
        objs.some((o) => o.kind === 'Deployment'),
        `${chart} rendered no Deployment`,
      );
    }
  });

  test('the helm install and upgrade commands in the docs', async (t) => {
    const commands = docsHelmCommands(['docs/install.md', 'docs/user-guide.md']);
    // install.md installs both charts, user-guide.md upgrades the member chart.
    assert.ok(commands.length >= 3, `found only ${commands.length} helm commands in the docs`);
    assert.deepEqual([...new Set(commands.map((c) => c.chart))].sort(), ['mcgw-leader', 'mcgw-member']);
    for (const c of commands) {
      t.diagnostic(`${c.where}: ${c.chart} ${c.sets.join(' ')}`);
      const out = await template(c.chart, c.sets, c.namespace);
      assert.match(out, /kind: Deployment/, `${c.where}: ${c.text}`);
    }
  });

  test('the edges of every flag range the chart passes to a command', async () => {
    const e = CONTROLLER_ELECTION;
    const l = LEADER_FLAGS;
    for (const edge of ['min', 'max'] as const) {
      await template('mcgw-member', [
        '--values',
        await valuesFile({
          controller: {
            election: { leaseMs: e.leaseMs[edge], renewMs: e.renewMs[edge], retryMs: e.retryMs[edge] },
          },
        }),
      ]);
      const out = await template('mcgw-leader', [
        '--values',
        await valuesFile({
          leader: {
            staleAfterSeconds: l.staleAfterSeconds[edge],
            removeAfterSeconds: l.removeAfterSeconds[edge],
            electionLeaseMs: l.electionLeaseMs[edge],
          },
        }),
      ]);
      assert.match(out, new RegExp(`--stale-after-seconds=${l.staleAfterSeconds[edge]}\\b`));
    }
    // One past each edge is refused, for the same key.
    for (const [key, b] of Object.entries(e)) {
      for (const v of [b.min - 1, b.max + 1])
        await refused('mcgw-member', { controller: { election: { [key]: v } } }, [
          at(`/controller/election/${key}`),
        ]);
    }
    for (const [key, b] of Object.entries(l)) {
      for (const v of [b.min - 1, b.max + 1])
        await refused('mcgw-leader', { leader: { [key]: v } }, [at(`/leader/${key}`)]);
    }
  });
});

describe('wrong values fail before rendering, naming the key', () => {
  test('a wrong type: a string for replicas, from a values file and from --set', async () => {
    await refused('mcgw-member', { controller: { replicas: 'two' } }, [
      /at '\/controller\/replicas': got string, want integer/,
    ]);
    await refused('mcgw-leader', { leader: { replicas: '3' } }, [
      /at '\/leader\/replicas': got string, want integer/,
    ]);
    await assert.rejects(
      template('mcgw-member', ['--set', 'controller.replicas=two']),
      /at '\/controller\/replicas': got string, want integer/,
    );
    // A number where Kubernetes wants a string: rendered unquoted, the apiserver would refuse it.
    await refused('mcgw-member', { controller: { podAnnotations: { 'prometheus.io/port': 8080 } } }, [
      /at '\/controller\/podAnnotations\/prometheus\.io~1port': got number, want string/,
    ]);
    await refused('mcgw-member', { agent: { extraEnv: [{ name: 'GOMAXPROCS', value: 2 }] } }, [
      /at '\/agent\/extraEnv\/0\/value': got number, want string/,
    ]);
    await refused('mcgw-member', { agent: { enabled: 'false' } }, [
      /at '\/agent\/enabled': got string, want boolean/,
    ]);
  });

  test('an unknown key: a typo at the top level and in nested settings', async () => {
    await refused('mcgw-member', { contoller: { replicas: 3 } }, [
      /at '': additional properties 'contoller' not allowed/,
    ]);
    await refused('mcgw-leader', { leaders: { replicas: 3 } }, [
      /at '': additional properties 'leaders' not allowed/,
    ]);
    await refused('mcgw-member', { controller: { election: { leaseMS: 6000 } } }, [
      /at '\/controller\/election': additional properties 'leaseMS' not allowed/,
    ]);
    await refused('mcgw-member', { agent: { leaseGaurd: { enabled: false } } }, [
      /at '\/agent': additional properties 'leaseGaurd' not allowed/,
    ]);
    // The GatewayPolicy spec is checked by its CRD schema from src/api, closed the same way.
    await refused(
      'mcgw-member',
      { gatewayPolicy: { spec: { failureDetection: { leaseDurationMS: 900 } } } },
      [/at '\/gatewayPolicy\/spec\/failureDetection': additional properties 'leaseDurationMS' not allowed/],
    );
    await refused('mcgw-member', { clusterSetMember: { tunnel: { vnid: 7 } } }, [
      /at '\/clusterSetMember\/tunnel': additional properties 'vnid' not allowed/,
    ]);
  });

  test('an enum value out of range', async () => {
    await refused('mcgw-member', { gatewayPolicy: { create: true, spec: { mode: 'ActivePassive' } } }, [
      /at '\/gatewayPolicy\/spec\/mode': value must be one of 'ActiveStandby', 'ActiveActive'/,
    ]);
    await refused('mcgw-leader', { leader: { logLevel: 'verbose' } }, [
      /at '\/leader\/logLevel': value must be one of 'debug', 'info', 'warn', 'error'/,
    ]);
    await refused('mcgw-member', { image: { pullPolicy: 'IfMissing' } }, [
      /at '\/image\/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'/,
    ]);
    await refused('mcgw-member', { agent: { updateStrategy: { type: 'Rolling' } } }, [
      at('/agent/updateStrategy/type'),
      /value must be one of 'RollingUpdate', 'OnDelete'/,
    ]);
  });

  test('a port or a count out of range', async () => {
    await refused('mcgw-member', { controller: { healthPort: 70000 } }, [
      /at '\/controller\/healthPort': maximum: got 70,000, want 65,535/,
    ]);
    await refused('mcgw-leader', { leader: { healthPort: 0 } }, [
      /at '\/leader\/healthPort': minimum: got 0, want 1/,
    ]);
    // 0 turns the agent's health endpoint off; below that is wrong.
    await refused('mcgw-member', { agent: { healthPort: -1 } }, [
      /at '\/agent\/healthPort': minimum: got -1, want 0/,
    ]);
    await refused('mcgw-member', { clusterSetMember: { tunnel: { port: 65536 } } }, [
      /at '\/clusterSetMember\/tunnel\/port': maximum: got 65,536, want 65,535/,
    ]);
    await refused('mcgw-member', { controller: { replicas: -1 } }, [
      /at '\/controller\/replicas': minimum: got -1, want 0/,
    ]);
    await refused('mcgw-member', { gatewayPolicy: { spec: { desiredInstances: 17 } } }, [
      /at '\/gatewayPolicy\/spec\/desiredInstances': maximum: got 17, want 16/,
    ]);
  });

  test('strings that cannot work: empty repository, malformed digest, cluster ID, inner CIDR', async () => {
    await refused('mcgw-member', { image: { repository: '' } }, [
      at('/image/repository'),
      /minLength: got 0, want 1/,
    ]);
    await refused('mcgw-leader', { image: { digest: 'sha256:abc' } }, [
      at('/image/digest'),
      /does not match pattern/,
    ]);
    await refused('mcgw-member', { clusterSetMember: { enabled: true, clusterID: 'Alpha_1' } }, [
      at('/clusterSetMember/clusterID'),
    ]);
    await refused('mcgw-member', { agent: { innerCIDR: '198.19.128.0' } }, [at('/agent/innerCIDR')]);
    await refused('mcgw-member', { agent: { stateDir: 'var/lib/mcgw' } }, [
      at('/agent/stateDir'),
      /does not match pattern/,
    ]);
  });

  test("the chart's own checks still speak when the schema cannot say it", async () => {
    // The schema allows an empty clusterID (the default, with enabled=false); the template says
    // what is missing when the ClusterSetMember is enabled without one.
    await assert.rejects(
      template('mcgw-member', [
        '--values',
        await valuesFile({ clusterSetMember: { enabled: true, podCIDRs: ['198.18.64.0/20'] } }),
      ]),
      /clusterSetMember.clusterID must be set/,
    );
  });
});

interface DocsCommand {
  where: string;
  text: string;
  chart: Chart;
  namespace: string;
  /** The --set, --set-string and --set-json arguments, as helm takes them. */
  sets: string[];
}

/** The `helm install` and `helm upgrade` commands in the docs' sh code blocks. */
function docsHelmCommands(files: string[]): DocsCommand[] {
  const out: DocsCommand[] = [];
  for (const file of files) {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
      // One command per line once continuations are joined.
      for (const line of block[1]!.replace(/\\\n/g, ' ').split('\n')) {
        const words = shellWords(line);
        if (words[0] !== 'helm' || !['install', 'upgrade'].includes(words[1] ?? '')) continue;
        const chartPath = words.find((w) => w.startsWith('deploy/helm/'));
        assert.ok(chartPath, `${file}: no chart in: ${line}`);
        const chart = chartPath.replace('deploy/helm/', '').replace(/\/$/, '') as Chart;
        assert.ok(['mcgw-member', 'mcgw-leader'].includes(chart), `${file}: unknown chart ${chartPath}`);
        const sets: string[] = [];
        let namespace = 'default';
        for (let i = 2; i < words.length; i++) {
          const w = words[i]!;
          if (/^--set(-string|-json)?$/.test(w)) sets.push(w, words[++i]!);
          else if (w === '--namespace') namespace = words[++i]!;
        }
        out.push({ where: file, text: line.trim(), chart, namespace, sets });
      }
    }
  }
  return out;
}

/** Splits a shell command line into words, honouring single and double quotes. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  let quote: string | undefined;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      cur ??= '';
    } else if (/\s/.test(ch)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else cur = (cur ?? '') + ch;
  }
  if (cur !== undefined) words.push(cur);
  return words;
}
