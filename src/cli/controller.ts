// `mcgw controller`: runs the member-cluster controller with leader election and health endpoints.
import { hostname } from 'node:os';
import { GatewayController } from '../controller/controller.ts';
import { MemberExchange } from '../exchange/member.ts';
import { loadKubeConfig, makeClients } from '../kube/client.ts';
import { installCRDs } from '../kube/crds.ts';
import { ControllerMetrics, ExchangeMetrics, createRegistry, metricsEndpoint } from '../metrics/index.ts';
import { startHealthServer } from '../util/health.ts';
import { commonOptions, intFlag, loggerFrom, parse, untilSignal } from './args.ts';
import { CONTROLLER_ELECTION as E } from './bounds.ts';
import type { IntBounds } from './bounds.ts';

export const help = `mcgw controller: place Gateway instances on candidate Nodes and replace failed ones, and exchange
Gateway and CIDR information with the ClusterSet's leader cluster (when a ClusterSetMember exists)

Usage: mcgw controller [flags]

  --kubeconfig PATH          member cluster kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --identity NAME            this replica's name in leader election (default: hostname-pid)
  --health-addr HOST:PORT    serve /healthz, /readyz and /metrics (Prometheus; docs/metrics.md) here
                             (default 127.0.0.1:0, i.e. any free port)
  --install-crds             create or update mcgw's CRDs before starting
  --election-lease-ms N      leader Lease duration (default ${E.leaseMs.default})
  --election-renew-ms N      leader gives up if it could not renew for this long (default ${E.renewMs.default})
  --election-retry-ms N      how often to renew or try to acquire (default ${E.retryMs.default})
  --ignore-leases            judge Gateways by their Node's Ready condition alone (no Gateway Leases):
                             the control-plane-only baseline \`mcgw lab\` measures mcgw against
  --log-level LEVEL          debug, info, warn or error (default info)
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('controller', argv, {
    ...commonOptions,
    identity: { type: 'string' },
    'health-addr': { type: 'string', default: '127.0.0.1:0' },
    'install-crds': { type: 'boolean', default: false },
    'ignore-leases': { type: 'boolean', default: false },
    'election-lease-ms': { type: 'string' },
    'election-renew-ms': { type: 'string' },
    'election-retry-ms': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const identity = values.identity ?? `${hostname()}-${process.pid}`;
  const log = loggerFrom('controller', values['log-level'], { identity });
  const clients = makeClients(loadKubeConfig(values.kubeconfig));
  if (values['install-crds']) await installCRDs(clients);
  const flag = (name: string, v: string | undefined, b: IntBounds) =>
    intFlag('controller', name, v, b.min, b.max) ?? b.default;
  const election = {
    leaseDurationMs: flag('election-lease-ms', values['election-lease-ms'], E.leaseMs),
    renewDeadlineMs: flag('election-renew-ms', values['election-renew-ms'], E.renewMs),
    retryPeriodMs: flag('election-retry-ms', values['election-retry-ms'], E.retryMs),
  };
  // The ClusterSet exchange runs beside the controller and writes only while this replica leads.
  const holder: { ctl?: GatewayController } = {};
  const registry = createRegistry({ processMetrics: true });
  const exchangeMetrics = new ExchangeMetrics(registry);
  const exchange = new MemberExchange({
    clients,
    log: log.child({ part: 'exchange' }),
    isLeader: () => !!holder.ctl?.isLeader(),
    metrics: exchangeMetrics,
  });
  const ctl = new GatewayController({
    clients,
    identity,
    log,
    election,
    onLeadership: () => exchange.leadershipChanged(),
    // A drained Gateway goes only once the other clusters can learn where its traffic went.
    exportState: () => exchange.exportState(),
    ignoreLeases: values['ignore-leases']!,
    metrics: new ControllerMetrics(registry, () => exchangeMetrics.clusterID ?? ''),
  });
  holder.ctl = ctl;
  const health = await startHealthServer(values['health-addr']!, {
    live: () => true,
    ready: () => ctl.isReady() && exchange.isReady(),
    extra: metricsEndpoint(registry),
  });
  log.info('controller starting', { health: `http://127.0.0.1:${health.port}` });
  exchange.start();
  await ctl.start();
  const sig = await untilSignal();
  log.info('shutting down', { signal: sig });
  await exchange.stop();
  await ctl.stop();
  health.server.close();
  return 0;
}
