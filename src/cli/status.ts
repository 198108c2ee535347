// `mcgw status` (also `kubectl mcgw status`): what the Gateways, the ClusterSet exchange and recent
// failovers of one cluster look like, as tables or as one JSON document.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/client.ts';
import { StatusError, collectStatus } from '../status/collect.ts';
import { formatReport } from '../status/format.ts';
import { UsageError, intFlag, parse, untilSignal } from './args.ts';

export const help = `mcgw status: the Gateways, ClusterSet exchange and recent failovers of a cluster

Usage: mcgw status [flags]            as a kubectl plugin: kubectl mcgw status [flags]

  --kubeconfig PATH   kubeconfig of a member cluster, or of the leader cluster with --leader
                      (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME      kubeconfig context to use (default: the current context)
  --leader            show the ClusterSet's leader cluster: ClusterExports (Accepted) and ClusterImports
  --json              print one JSON document following docs/status-schema.json instead of tables
  --watch             refresh every 2 s until Ctrl-C; with --json, one document per line
  --timeout-ms N      give up on an apiserver request after N ms (default 5000)

A member cluster shows its ClusterSetMember (cluster ID, LeaderReachable, imported clusters), the
GatewayPolicy (mode, desired and ready instances, conditions), every Gateway instance (Node, IPs,
role, priority, Ready, age of its Lease), the RemoteClusters, and recent failovers: instances
removed because their Lease expired or their Node went NotReady, with the instance placed for them.

Exit status: 0 when everything could be read; 1 when the cluster cannot be inspected or part of it
could not be read (the message says why and what to do); 2 for bad flags.
`;

const WATCH_EVERY_MS = 2000;

function kubeConfig(path: string | undefined, context: string | undefined): KubeConfig {
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig(path);
  } catch (err) {
    throw new StatusError((err as Error).message);
  }
  if (context) {
    if (!kc.getContextObject(context))
      throw new UsageError(
        `mcgw status: --context ${context}: no such context in the kubeconfig (it has: ${kc.contexts.map((c) => c.name).join(', ') || 'none'})`,
      );
    kc.setCurrentContext(context);
  }
  return kc;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('status', argv, {
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    leader: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    watch: { type: 'boolean', default: false },
    'timeout-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const timeoutMs = intFlag('status', 'timeout-ms', values['timeout-ms'], 100, 600_000) ?? 5000;
  const json = !!values.json;

  /** One look: the text to print and whether everything could be read. */
  const once = async (): Promise<{ out: string; err: string; ok: boolean }> => {
    try {
      const kc = kubeConfig(values.kubeconfig, values.context);
      const report = await collectStatus({ kc, leader: !!values.leader, timeoutMs });
      const out = json
        ? JSON.stringify(report, null, values.watch ? undefined : 2) + '\n'
        : formatReport(report);
      return { out, err: '', ok: report.problems.length === 0 };
    } catch (err) {
      if (err instanceof StatusError) return { out: '', err: `mcgw status: ${err.message}\n`, ok: false };
      throw err;
    }
  };

  if (!values.watch) {
    const r = await once();
    process.stdout.write(r.out);
    process.stderr.write(r.err);
    return r.ok ? 0 : 1;
  }

  const stop = new AbortController();
  void untilSignal().then(() => stop.abort());
  const tty = !json && process.stdout.isTTY;
  while (!stop.signal.aborted) {
    const r = await once();
    if (tty) {
      // Home and clear, then the fresh tables; an error is shown in place of them and retried.
      process.stdout.write(`\x1b[H\x1b[2J${r.out || r.err}(refreshing every 2 s; Ctrl-C to stop)\n`);
    } else {
      process.stdout.write(r.out);
      process.stderr.write(r.err);
      if (!json) process.stdout.write('\n');
    }
    await sleep(WATCH_EVERY_MS, undefined, { signal: stop.signal }).catch(() => {});
  }
  return 0;
}
