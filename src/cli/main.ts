// The `mcgw` command: dispatches to one module per subcommand, loaded only when used.
import { UsageError } from './args.ts';

interface Command {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

const commands: Record<string, Command> = {
  local: {
    summary: 'run a local cluster with the controller and simulated Nodes, showing placement live',
    load: () => import('./local.ts'),
  },
  agent: {
    summary: "program this Node's cross-cluster datapath and steer it by BFD",
    load: () => import('./agent.ts'),
  },
  controller: { summary: 'run the member-cluster controller', load: () => import('./controller.ts') },
  leader: {
    summary: 'run the leader-side controller of a ClusterSet (in the leader cluster)',
    load: () => import('./leader.ts'),
  },
  clusterset: {
    summary: 'admit a member cluster to the ClusterSet (add-member)',
    load: () => import('./clusterset.ts'),
  },
  bfd: { summary: 'run BFD sessions and print their state changes', load: () => import('./bfd.ts') },
  lease: { summary: "renew a Gateway instance's Lease (liveness signal)", load: () => import('./lease.ts') },
  crds: { summary: 'print or apply the CustomResourceDefinitions', load: () => import('./crds.ts') },
  status: { summary: 'show Gateways, exchange state and failovers', load: () => import('./status.ts') },
  lab: {
    summary: 'run a whole ClusterSet on this machine, inject failures, report failover figures',
    load: () => import('./lab.ts'),
  },
};

function usage(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    'mcgw: schedules and keeps alive the cross-cluster Gateways of a Kubernetes ClusterSet',
    '',
    'Usage: mcgw <command> [flags]    (mcgw <command> --help for its flags)',
    '',
    ...Object.entries(commands).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`),
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`mcgw: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await cmd.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`mcgw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
