// `mcgw crds`: prints the CRD manifests, or applies them to a cluster.
import { stringify } from 'yaml';
import { allCRDs } from '../api/crd.ts';
import { commonOptions, parse } from './args.ts';

export const help = `mcgw crds: print mcgw's CustomResourceDefinitions as YAML, or apply them

Usage: mcgw crds [--apply] [--kubeconfig PATH]
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('crds', argv, { ...commonOptions, apply: { type: 'boolean', default: false } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (values.apply) {
    // The Kubernetes client (about 60 MiB resident) only when there is a cluster to talk to.
    const [{ loadKubeConfig, makeClients }, { installCRDs }] = await Promise.all([
      import('../kube/client.ts'),
      import('../kube/crds.ts'),
    ]);
    await installCRDs(makeClients(loadKubeConfig(values.kubeconfig)));
    process.stdout.write('CRDs applied and established\n');
    return 0;
  }
  process.stdout.write(
    allCRDs()
      .map((c) => stringify(c, { lineWidth: 0 }))
      .join('---\n'),
  );
  return 0;
}
