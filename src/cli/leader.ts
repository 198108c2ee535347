// `mcgw leader`: the leader-side controller of a ClusterSet, run in the leader cluster.
import { hostname } from 'node:os';
import { loadKubeConfig, makeClients } from '../kube/client.ts';
import { installCRDs } from '../kube/crds.ts';
import { LeaderController } from '../leader/controller.ts';
import { LeaderMetrics, createRegistry, metricsEndpoint } from '../metrics/index.ts';
import { startHealthServer } from '../util/health.ts';
import { commonOptions, intFlag, loggerFrom, parse, untilSignal } from './args.ts';
import { LEADER_FLAGS as F } from './bounds.ts';
import type { IntBounds } from './bounds.ts';

export const help = `mcgw leader: validate members' exports and publish them to the whole ClusterSet

Usage: mcgw leader [flags]

  --kubeconfig PATH              leader cluster kubeconfig
  --identity NAME                this replica's name in leader election (default: hostname-pid)
  --health-addr HOST:PORT        /healthz, /readyz and /metrics (default 127.0.0.1:0)
  --install-crds                 create or update the leader cluster's CRDs first
  --stale-after-seconds N        a member silent this long is marked Stale (default ${F.staleAfterSeconds.default})
  --remove-after-seconds N       a member silent this long is removed from the ClusterSet (default ${F.removeAfterSeconds.default})
  --election-lease-ms N          leader Lease duration (default ${F.electionLeaseMs.default})
  --log-level LEVEL              debug, info, warn or error (default info)
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('leader', argv, {
    ...commonOptions,
    identity: { type: 'string' },
    'health-addr': { type: 'string', default: '127.0.0.1:0' },
    'install-crds': { type: 'boolean', default: false },
    'stale-after-seconds': { type: 'string' },
    'remove-after-seconds': { type: 'string' },
    'election-lease-ms': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const identity = values.identity ?? `${hostname()}-${process.pid}`;
  const log = loggerFrom('leader', values['log-level'], { identity });
  const clients = makeClients(loadKubeConfig(values.kubeconfig));
  if (values['install-crds']) await installCRDs(clients, 'leader');
  const registry = createRegistry({ processMetrics: true });
  const flag = (name: string, v: string | undefined, b: IntBounds) =>
    intFlag('leader', name, v, b.min, b.max) ?? b.default;
  const lease = flag('election-lease-ms', values['election-lease-ms'], F.electionLeaseMs);
  const ctl = new LeaderController({
    clients,
    identity,
    log,
    staleAfterMs: flag('stale-after-seconds', values['stale-after-seconds'], F.staleAfterSeconds) * 1000,
    removeAfterMs: flag('remove-after-seconds', values['remove-after-seconds'], F.removeAfterSeconds) * 1000,
    election: {
      leaseDurationMs: lease,
      renewDeadlineMs: Math.round(lease * 0.75),
      retryPeriodMs: Math.max(50, Math.round(lease / 4)),
    },
    metrics: new LeaderMetrics(registry),
  });
  const health = await startHealthServer(values['health-addr']!, {
    live: () => true,
    ready: () => ctl.isReady(),
    extra: metricsEndpoint(registry),
  });
  log.info('leader controller starting', { health: `http://127.0.0.1:${health.port}` });
  await ctl.start();
  log.info('shutting down', { signal: await untilSignal() });
  await ctl.stop();
  health.server.close();
  return 0;
}
