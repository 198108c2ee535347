// `mcgw clusterset add-member`: admits a member cluster to the ClusterSet.
import { writeFileSync } from 'node:fs';
import { loadKubeConfig, makeClients } from '../kube/client.ts';
import { installCRDs } from '../kube/crds.ts';
import { addMember, storeLeaderSecret } from '../leader/membership.ts';
import { UsageError, commonOptions, parse } from './args.ts';

export const help = `mcgw clusterset add-member: admit a member cluster to the ClusterSet

Usage: mcgw clusterset add-member --kubeconfig LEADER --cluster-id ID [--output FILE] [--member-kubeconfig MEMBER]

Creates the member's namespace in the leader cluster (labelled mcgw.io/member=ID), a ServiceAccount that
may write only its own ClusterExport and heartbeat and read the shared ClusterImports, and a kubeconfig
for it. With --output the kubeconfig is written to FILE (mode 0600); with --member-kubeconfig it is
stored in the member cluster as Secret mcgw-system/mcgw-leader, ready for the ClusterSetMember to name.
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('clusterset', argv, {
    ...commonOptions,
    'cluster-id': { type: 'string' },
    output: { type: 'string' },
    'member-kubeconfig': { type: 'string' },
  });
  if (values.help || positionals[0] !== 'add-member') {
    process.stdout.write(help);
    if (values.help) return 0;
    throw new UsageError('mcgw clusterset: the only action is "add-member"');
  }
  if (!values['cluster-id']) throw new UsageError('mcgw clusterset add-member: --cluster-id is required');
  if (!values.output && !values['member-kubeconfig'])
    throw new UsageError(
      'mcgw clusterset add-member: give --output FILE or --member-kubeconfig, or the credentials are lost',
    );
  const leader = makeClients(loadKubeConfig(values.kubeconfig));
  await installCRDs(leader, 'leader');
  const creds = await addMember(leader, values['cluster-id']);
  if (values.output) writeFileSync(values.output, creds.kubeconfig, { mode: 0o600 });
  if (values['member-kubeconfig'])
    await storeLeaderSecret(
      makeClients(loadKubeConfig(values['member-kubeconfig'])),
      'mcgw-leader',
      creds.kubeconfig,
    );
  process.stdout.write(
    `member ${creds.clusterID} admitted: namespace ${creds.namespace} in the leader cluster` +
      (values.output ? `; kubeconfig written to ${values.output}` : '') +
      (values['member-kubeconfig'] ? '; Secret mcgw-system/mcgw-leader stored in the member cluster' : '') +
      '\n',
  );
  return 0;
}
