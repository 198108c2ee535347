// `mcgw lease renew`: renews a Gateway instance's Lease, the liveness signal the controller watches.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/client.ts';
import { LeaseRenewer } from '../lease/renewer.ts';
import { UsageError, commonOptions, intFlag, loggerFrom, parse, untilSignal } from './args.ts';

export const help = `mcgw lease renew: keep a Gateway instance's Lease fresh

Usage: mcgw lease renew --node NAME [flags]

  --node NAME            the Node this Gateway instance runs on (required)
  --interval-ms N        renew every N ms (default 1000)
  --duration-ms N        lease duration written into the Lease (default 3000)
  --kubeconfig PATH      member cluster kubeconfig
  --log-level LEVEL      debug, info, warn or error
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('lease', argv, {
    ...commonOptions,
    node: { type: 'string' },
    'interval-ms': { type: 'string' },
    'duration-ms': { type: 'string' },
  });
  if (values.help || positionals[0] !== 'renew') {
    process.stdout.write(help);
    if (values.help) return 0;
    throw new UsageError('mcgw lease: the only action is "renew"');
  }
  if (!values.node) throw new UsageError('mcgw lease renew: --node is required');
  const log = loggerFrom('lease', values['log-level'], { node: values.node });
  const api = loadKubeConfig(values.kubeconfig).makeApiClient(CoordinationV1Api);
  const r = new LeaseRenewer({
    api,
    node: values.node,
    renewIntervalMs: intFlag('lease', 'interval-ms', values['interval-ms'], 50, 60_000) ?? 1000,
    leaseDurationMs: intFlag('lease', 'duration-ms', values['duration-ms'], 200, 600_000) ?? 3000,
    onError: (msg) => log.warn('renewal failed', { error: msg }),
  });
  r.start();
  log.info('renewing', { lease: r.name });
  await untilSignal();
  r.stop();
  return 0;
}
