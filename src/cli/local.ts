// `mcgw local`: the main job until the ClusterSet lab exists. Starts a real control plane, simulated
// candidate Nodes with a simulated agent each (renewing its Lease while it runs a Gateway), the
// controller, and a policy; prints the placement live and, if asked, kills the active Gateway
// periodically to show how fast it is replaced.
import { setTimeout as sleep } from 'node:timers/promises';
import { SYSTEM_NAMESPACE } from '../api/group.ts';
import type { ClusterGateway, GatewayPolicy, Mode } from '../api/types.ts';
import { GatewayController } from '../controller/controller.ts';
import { getCondition } from '../model/conditions.ts';
import { makeClients } from '../kube/client.ts';
import { ensureNamespace, installCRDs } from '../kube/crds.ts';
import { ControlPlane } from '../lab/controlplane.ts';
import { createSimNode } from '../lab/simnodes.ts';
import { LeaseRenewer } from '../lease/renewer.ts';
import { MODES } from '../api/gatewaypolicy.ts';
import { UsageError, intFlag, loggerFrom, parse, untilSignal } from './args.ts';

export const help = `mcgw local: a local cluster with the controller and simulated candidate Nodes

Usage: mcgw local [flags]

  --nodes N            simulated candidate Nodes, spread over 3 zones (default 5)
  --desired N          desired Gateway instances (default 2)
  --mode MODE          ActiveStandby or ActiveActive (default ActiveStandby)
  --fail-every SEC     every SEC seconds kill the agent of the Active Gateway (its Lease stops; the Node
                       still looks Ready) and revive it SEC/2 later; 0 disables (default 20)
  --duration SEC       stop after SEC seconds; 0 runs until Ctrl-C (default 0)
  --log-level LEVEL    controller log level (default warn)

The Kubernetes control plane is real: kube-apiserver and etcd, built once from Go modules by
scripts/build-control-plane.sh and cached in ~/.cache/mcgw.
`;

interface SimNode {
  name: string;
  zone: string;
  ip: string;
  alive: boolean;
  renewer?: LeaseRenewer;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('local', argv, {
    nodes: { type: 'string', default: '5' },
    desired: { type: 'string', default: '2' },
    mode: { type: 'string', default: 'ActiveStandby' },
    'fail-every': { type: 'string', default: '20' },
    duration: { type: 'string', default: '0' },
    'log-level': { type: 'string', default: 'warn' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const nNodes = intFlag('local', 'nodes', values.nodes, 1, 200)!;
  const desired = intFlag('local', 'desired', values.desired, 0, 16)!;
  const failEvery = intFlag('local', 'fail-every', values['fail-every'], 0, 3600)!;
  const duration = intFlag('local', 'duration', values.duration, 0, 86_400)!;
  if (!(MODES as readonly string[]).includes(values.mode!))
    throw new UsageError(`mcgw local: --mode must be ${MODES.join(' or ')}, got "${values.mode}"`);
  const mode = values.mode as Mode;
  const log = loggerFrom('controller', values['log-level']);
  const say = (s: string) => process.stdout.write(`${s}\n`);

  say('[1/4] starting kube-apiserver and etcd (first run builds them from Go modules: several minutes)...');
  const cp = await ControlPlane.start({ name: 'local' });
  const stopAll: (() => Promise<void> | void)[] = [() => cp.stop()];
  try {
    say(`      control plane ready in ${cp.startupMs} ms; kubeconfig: ${cp.kubeconfigPath}`);
    const c = makeClients(cp.kubeConfig());
    say('[2/4] installing CRDs...');
    await installCRDs(c);
    await ensureNamespace(c, SYSTEM_NAMESPACE);

    say(`[3/4] creating ${nNodes} simulated candidate Nodes in 3 zones...`);
    const zones = ['zone-a', 'zone-b', 'zone-c'];
    const nodes: SimNode[] = Array.from({ length: nNodes }, (_, i) => ({
      name: `node-${i + 1}`,
      zone: zones[i % 3]!,
      ip: `198.18.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}`,
      alive: true,
    }));
    await Promise.all(
      nodes.map((n) => createSimNode(c.core, { name: n.name, zone: n.zone, internalIP: n.ip })),
    );

    say('[4/4] starting the controller and creating the GatewayPolicy...');
    const ctl = new GatewayController({ clients: c, identity: 'local-controller', log });
    stopAll.unshift(() => ctl.stop());
    await ctl.start();
    await c.custom.createClusterCustomObject({
      group: 'mcgw.io',
      version: 'v1alpha1',
      plural: 'gatewaypolicies',
      body: {
        apiVersion: 'mcgw.io/v1alpha1',
        kind: 'GatewayPolicy',
        metadata: { name: 'default' },
        spec: { desiredInstances: desired, mode, holdDownSeconds: Math.max(5, failEvery) },
      },
    });

    // The simulated agents: a living Node renews the Lease of the Gateway placed on it.
    const syncAgents = (gws: ClusterGateway[]) => {
      const placed = new Set(gws.map((g) => g.spec.nodeName));
      for (const n of nodes) {
        const want = n.alive && placed.has(n.name);
        if (want && !n.renewer) {
          n.renewer = new LeaseRenewer({ api: c.coordination, node: n.name });
          n.renewer.start();
        } else if (!want && n.renewer) {
          n.renewer.stop();
          delete n.renewer;
        }
      }
    };
    stopAll.unshift(() => nodes.forEach((n) => n.renewer?.stop()));

    const started = Date.now();
    let nextFail = failEvery ? started + failEvery * 1000 : Infinity;
    let pendingFailure: { node: string; at: number } | undefined;
    const history: string[] = [];
    const stop = untilSignal();
    let stopped = false;
    void stop.then(() => (stopped = true));
    while (!stopped && (!duration || Date.now() - started < duration * 1000)) {
      const gws = (
        (await c.custom.listClusterCustomObject({
          group: 'mcgw.io',
          version: 'v1alpha1',
          plural: 'clustergateways',
        })) as { items: ClusterGateway[] }
      ).items;
      const pol = (await c.custom.getClusterCustomObject({
        group: 'mcgw.io',
        version: 'v1alpha1',
        plural: 'gatewaypolicies',
        name: 'default',
      })) as GatewayPolicy;
      syncAgents(gws);
      if (
        pendingFailure &&
        !gws.some((g) => g.spec.nodeName === pendingFailure!.node) &&
        gws.length >= Math.min(desired, nodes.filter((n) => n.alive).length)
      ) {
        history.push(
          `${new Date().toISOString()}  ${pendingFailure.node} replaced ${Date.now() - pendingFailure.at} ms after its agent died (Lease duration 3000 ms)`,
        );
        pendingFailure = undefined;
      }
      if (Date.now() >= nextFail) {
        const active = gws.find((g) => g.status?.role === 'Active');
        const victim = active && nodes.find((n) => n.name === active.spec.nodeName);
        if (victim) {
          // Only the Lease stops: the Node still looks Ready, as it would for the ~40 s Kubernetes
          // takes to mark it NotReady, so the replacement shown is driven by the Lease alone.
          victim.alive = false;
          syncAgents(gws);
          pendingFailure = { node: victim.name, at: Date.now() };
          history.push(
            `${new Date().toISOString()}  killed the agent on ${victim.name} (Active); its Lease stops`,
          );
          setTimeout(() => (victim.alive = true), (failEvery * 1000) / 2).unref();
        }
        nextFail = Date.now() + failEvery * 1000;
      }
      render(nodes, gws, pol, history, Date.now() - started);
      await Promise.race([sleep(500), stop]);
    }
    say('\nshutting down...');
  } finally {
    for (const f of stopAll) await f();
  }
  return 0;
}

function render(
  nodes: SimNode[],
  gws: ClusterGateway[],
  pol: GatewayPolicy,
  history: string[],
  elapsed: number,
): void {
  const rows = [...gws].sort((a, b) => b.spec.priority - a.spec.priority);
  const ready = getCondition(pol.status?.conditions, 'Ready');
  const lines = [
    `mcgw local: ${nodes.length} Nodes, policy "${pol.metadata.name}" ${pol.spec.mode ?? 'ActiveStandby'} desired ${pol.spec.desiredInstances ?? 2}; ` +
      `Ready=${ready?.status ?? '?'} (${ready?.reason ?? ''})   t=${(elapsed / 1000).toFixed(0)}s   Ctrl-C to stop`,
    '',
    'NODE        ZONE     GATEWAY IP      PRIORITY  ROLE     READY',
    ...rows.map(
      (g) =>
        `${g.spec.nodeName.padEnd(12)}${(g.spec.zone ?? '').padEnd(9)}${g.spec.gatewayIP.padEnd(16)}${String(g.spec.priority).padEnd(10)}${(g.status?.role ?? '-').padEnd(9)}${getCondition(g.status?.conditions, 'Ready')?.status ?? '-'}`,
    ),
    '',
    `Nodes down: ${
      nodes
        .filter((n) => !n.alive)
        .map((n) => n.name)
        .join(', ') || 'none'
    }`,
    ...(history.length ? ['', 'Recent:', ...history.slice(-6).map((h) => `  ${h}`)] : []),
  ];
  if (process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J' + lines.join('\n') + '\n');
  else process.stdout.write(lines.join('\n') + '\n---\n');
}
