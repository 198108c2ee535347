// The lab on kubelet Nodes through its command line, as `npm run lab` runs it: `mcgw lab up` (kubelet
// Nodes are the default) builds two member clusters, each a whole control plane with kubelet Nodes,
// installs mcgw with helm from the image built here (agents as the DaemonSet's pods, controllers as
// Deployments placed by kube-scheduler, the leader controller in member a) and starts a traffic
// Deployment per member whose pods stream to each other by pod IP through the Gateways. Then `lab run
// gateway-death` powers off the carrying Gateway Node (kubelet, containerd, every pod of it and its
// link) in ActiveStandby: the loss windows, measured from send times, must be trusted and short, and
// the controller must replace the Gateway by its Lease long before Kubernetes' NotReady. `lab down`
// must leave nothing: namespaces, processes, mounts, cgroups.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { SYSTEM_NAMESPACE } from '../../src/api/group.ts';
import { cgroupsWithPrefix } from '../../src/lab/kubenode/cgroups.ts';
import { KUBE_NODE_GRACE_MS } from '../../src/lab/kubenode/lab.ts';
import type { ScenarioReport } from '../../src/lab/report.ts';
import { cidrsOverlap } from '../../src/util/ip.ts';

const MCGW = fileURLToPath(new URL('../../bin/mcgw.js', import.meta.url));
const name = `n${randomBytes(2).toString('hex')}`;
const dir = join(tmpdir(), `mcgw-lab-${name}`);
const prefix = `mcgwl-${name}-`;
// The lab runs in its own detached process, so waiting on the command here blocks nothing of it.
const lab = (...args: string[]) =>
  spawnSync(process.execPath, [MCGW, 'lab', ...args, '--name', name], {
    encoding: 'utf8',
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
  });

function kube(cluster: string): { apps: AppsV1Api; core: CoreV1Api } {
  const kc = new KubeConfig();
  kc.loadFromFile(join(dir, `cp-${cluster}`, 'kubeconfig'));
  return { apps: kc.makeApiClient(AppsV1Api), core: kc.makeApiClient(CoreV1Api) };
}

/** Scheduling policy (/proc/PID/stat field 41; 0 SCHED_OTHER, 1 SCHED_FIFO) of the lab's processes matching `arg`. */
function policies(match: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const cg = readFileSync(`/proc/${d}/cgroup`, 'utf8');
        const args = readFileSync(`/proc/${d}/cmdline`, 'utf8');
        if (!cg.includes(`:/${prefix}`) || !args.includes(match)) return [];
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        return [Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[38])];
      } catch {
        return [];
      }
    });
}

describe(
  'the lab on kubelet Nodes, through mcgw lab (ActiveStandby)',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  () => {
    after(() => void lab('down'));

    test('up: mcgw runs as installed, and the traffic pods stream by pod IP', async () => {
      const up = lab('up');
      assert.equal(up.status, 0, up.stderr + up.stdout);
      process.stderr.write(up.stdout.replace(/^/gm, '# '));
      assert.match(up.stdout, /\[5\/5\] waiting for traffic in every direction/);
      assert.match(up.stdout, /from helm install to every Gateway Ready and exchanged: [\d.]+ s/);
      assert.match(up.stdout, /cluster a {2}apiserver up {2}imports b/);

      for (const [m, kind, obj, ns, want] of [
        ['a', 'ds', 'mcgw-agent', SYSTEM_NAMESPACE, 4],
        ['b', 'ds', 'mcgw-agent', SYSTEM_NAMESPACE, 4],
        ['a', 'deploy', 'mcgw-leader', 'mcgw-clusterset', 1],
        ['a', 'deploy', 'mcgw-controller', SYSTEM_NAMESPACE, 2],
        ['b', 'deploy', 'mcgw-controller', SYSTEM_NAMESPACE, 2],
      ] as const) {
        const { apps } = kube(m);
        const ready =
          kind === 'ds'
            ? (await apps.readNamespacedDaemonSet({ name: obj, namespace: ns })).status?.numberReady
            : (await apps.readNamespacedDeployment({ name: obj, namespace: ns })).status?.availableReplicas;
        assert.ok((ready ?? 0) >= want, `${m}: ${obj}: ${ready} ready, want ${want}`);
      }
      // The stream runs between pods of the CNI (each in its Node's podCIDR), not host addresses.
      for (const m of ['a', 'b']) {
        const { core } = kube(m);
        const pods = await core.listNamespacedPod({ namespace: 'mcgw-lab' });
        assert.equal(pods.items.length, 1, `${m}: one traffic pod`);
        const pod = pods.items[0]!;
        const node = await core.readNode({ name: pod.spec!.nodeName! });
        assert.ok(
          cidrsOverlap(`${pod.status!.podIP!}/32`, node.spec!.podCIDR!),
          `${m}: pod ${pod.status?.podIP} in ${node.spec?.podCIDR}`,
        );
      }
      const status = lab('status', '--json');
      assert.equal(status.status, 0, status.stderr);
      const snap = JSON.parse(status.stdout) as {
        agents: { node: string; running: boolean }[];
        traffic: Record<string, number>;
      };
      assert.equal(snap.agents.filter((a) => a.running).length, 8, 'an agent on every Node');
      // The traffic endpoints, the lab's instrument, run SCHED_FIFO; mcgw's agents as the chart made them.
      assert.deepEqual(policies('dist/lab/traffic.mjs'), [1, 1]);
      const agents = policies('bin/mcgw.js\0agent');
      assert.equal(agents.length, 8);
      assert.ok(
        agents.every((p) => p === 0),
        `agent policies ${agents.join(',')}`,
      );
    });

    test('run gateway-death: trusted loss windows within 300 ms, the Gateway replaced by Lease', () => {
      // A trial whose sender stalled in its window, or whose window is below BFD's detection minimum,
      // is not trusted (validity.ts): of three trials, two must be.
      const run = lab('run', 'gateway-death', '--trials', '3', '--baseline-trials', '0', '--json');
      assert.equal(run.status, 0, run.stderr);
      process.stderr.write(run.stderr.replace(/^/gm, '# '));
      const report = JSON.parse(run.stdout) as ScenarioReport;
      assert.equal(report.trials.length, 3);
      for (const r of report.trials) {
        assert.ok(r.victim?.startsWith('a-gw'), `a Gateway of a carried a>b: ${r.victim}`);
        assert.deepEqual(Object.keys(r.lossWindowMs).sort(), ['a>b', 'b>a']);
        assert.ok(
          r.controlPlaneRestoreMs !== null && r.controlPlaneRestoreMs < KUBE_NODE_GRACE_MS,
          `replaced in ${r.controlPlaneRestoreMs} ms, before the Node could turn NotReady`,
        );
        assert.equal(r.crashes, 0, 'no mcgw container crashed');
      }
      const trusted = report.trials.filter((r) => r.invalid?.length === 0);
      assert.ok(trusted.length >= 2, `${trusted.length} of 3 trials trusted`);
      for (const r of trusted) {
        for (const [d, ms] of Object.entries(r.lossWindowMs)) assert.ok(ms <= 300, `${d} lost ${ms} ms`);
        assert.ok(r.lossWindowMs['a>b']! >= r.lossFloorMs!, 'no shorter than BFD detection');
      }
    });

    test('down leaves no namespace, process, mount or cgroup of the lab', () => {
      const down = lab('down');
      assert.equal(down.status, 0, down.stderr);
      assert.match(
        down.stdout,
        /lab removed: 0 leftover namespace\(s\), 0 leftover process\(es\), 0 leftover cgroup\(s\)/,
      );
      const netns = existsSync('/run/netns')
        ? readdirSync('/run/netns').filter((n) => n.startsWith(prefix))
        : [];
      assert.deepEqual(netns, []);
      assert.deepEqual(cgroupsWithPrefix(prefix), []);
      const mounts = readFileSync('/proc/mounts', 'utf8')
        .split('\n')
        .filter((l) => l.includes(dir));
      assert.deepEqual(mounts, []);
      const procs: string[] = [];
      for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
          if (cmd.includes(dir) || cmd.includes(prefix)) procs.push(cmd.replace(/\0/g, ' '));
        } catch {
          // exited meanwhile
        }
      }
      assert.deepEqual(procs, []);
      assert.equal(existsSync(dir), false, 'the lab directory is gone');
    });
  },
);
