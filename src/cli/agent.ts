// `mcgw agent`: the per-Node agent. Plans and programs this Node's cross-cluster datapath, runs BFD
// to the Gateways it tunnels to, renews its Gateway Lease while it is one, and reports a local
// Gateway it sees go Down by BFD to the controller.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Agent } from '../agent/agent.ts';
import { BfdDiag } from '../bfd/constants.ts';
import { markAlive, readAlive, withoutStaleGatewayRole } from '../agent/aliveness.ts';
import { BFD_SUMMARY_ANNOTATION } from '../agent/bfdsummary.ts';
import { loadInputs, saveInputs } from '../agent/inputs.ts';
import type { AgentInputs } from '../agent/inputs.ts';
import type { KubeSource } from '../agent/kubesource.ts';
import type { BfdDownReporter } from '../agent/reporter.ts';
import { effectiveSpec } from '../model/policy.ts';
import type { LeaseRenewer } from '../lease/renewer.ts';
import { AgentMetrics, createRegistry, metricsEndpoint } from '../metrics/index.ts';
import { startHealthServer } from '../util/health.ts';
import { UsageError, commonOptions, intFlag, loggerFrom, parse, untilSignal } from './args.ts';

export const help = `mcgw agent: program this Node's cross-cluster datapath and steer it by BFD

Usage: mcgw agent --node NAME [flags]

  --node NAME             this Node (required)
  --kubeconfig PATH       member cluster kubeconfig; without it the agent runs from --state-file alone
  --state-file PATH       last known inputs and BFD verdicts, read at start and kept current
                          (default /var/lib/mcgw/agent-NAME.json)
  --inner-cidr CIDR       ClusterSet-wide tunnel-inner range (default 198.19.128.0/17)
  --bfd-tx-ms N           BFD desired min TX interval (default 50)
  --bfd-rx-ms N           BFD required min RX interval (default 50)
  --bfd-mult N            BFD detect multiplier (default 3)
  --bfd-startup-grace-ms N  a peer not Up this long after its session starts counts as down (default 5000)
  --resync-seconds N      re-read the kernel and repair drift this often (default 30)
  --health-addr HOST:PORT /healthz, /readyz and /metrics (default 127.0.0.1:0)
  --steer-by MODE         bfd (default): steer by BFD; gateways: no BFD, follow the Gateway objects
                          only (the control-plane-only baseline \`mcgw lab\` compares against)
  --cleanup               remove everything the agent made on this Node, then exit
  --log-level LEVEL       debug, info, warn or error

Stopping the agent (SIGTERM) leaves the datapath as it is, so a restart loses no traffic.
With a kubeconfig, a Gateway of this cluster that BFD sees go Down is reported as an Event in
mcgw-system (one per failure, whichever Node is first), so the controller can re-place it sooner.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('agent', argv, {
    ...commonOptions,
    node: { type: 'string' },
    'state-file': { type: 'string' },
    'inner-cidr': { type: 'string', default: '198.19.128.0/17' },
    'bfd-tx-ms': { type: 'string' },
    'bfd-rx-ms': { type: 'string' },
    'bfd-mult': { type: 'string' },
    'bfd-startup-grace-ms': { type: 'string' },
    'resync-seconds': { type: 'string' },
    'health-addr': { type: 'string', default: '127.0.0.1:0' },
    cleanup: { type: 'boolean', default: false },
    'steer-by': { type: 'string', default: 'bfd' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const node = values.node;
  if (!node) throw new UsageError('mcgw agent: --node is required');
  const log = loggerFrom('agent', values['log-level'], { node });
  const steerBy = values['steer-by'];
  if (steerBy !== 'bfd' && steerBy !== 'gateways')
    throw new UsageError(`mcgw agent: --steer-by must be bfd or gateways, got "${steerBy}"`);
  const stateFile = values['state-file'] ?? `/var/lib/mcgw/agent-${node}.json`;
  const registry = createRegistry({ processMetrics: true });
  const metrics = new AgentMetrics(registry);
  // Set once the agent has a kubeconfig; declared before the Agent, whose callbacks read it.
  let reporter: BfdDownReporter | undefined;
  const agent = new Agent({
    metrics,
    innerCIDR: values['inner-cidr']!,
    bfd: {
      txMs: intFlag('agent', 'bfd-tx-ms', values['bfd-tx-ms'], 10, 60_000) ?? 50,
      rxMs: intFlag('agent', 'bfd-rx-ms', values['bfd-rx-ms'], 10, 60_000) ?? 50,
      mult: intFlag('agent', 'bfd-mult', values['bfd-mult'], 1, 255) ?? 3,
    },
    steerBy,
    bfdStartupGraceMs:
      intFlag('agent', 'bfd-startup-grace-ms', values['bfd-startup-grace-ms'], 100, 600_000) ?? 5000,
    log,
    onLiveness: (peer, up, change) => {
      log.info(up ? 'peer up' : 'peer down', {
        peer: peer.key,
        inner: peer.inner,
        ...(change && { bfdAtMs: change.atMs }),
      });
      // A Gateway of this cluster that BFD saw go Down (not one that never came Up within the
      // startup grace): tell the controller, which re-places it sooner if its Lease is silent too.
      // Fire and forget: the route change above never waits on the apiserver.
      // A Gateway that said it lost a path beyond it (Concatenated Path Down) is alive: no report.
      const pathDown = change?.remoteDiag === BfdDiag.ConcatenatedPathDown;
      if (!up && change && !pathDown && reporter && peer.cluster === agent.currentInputs?.cluster)
        void reporter.report({ gateway: peer.node, inner: peer.inner, diag: change.diag });
      void persist();
    },
    onApplied: (i) => log.info('applied', i),
  });
  if (values.cleanup) {
    const n = await agent.cleanup();
    process.stdout.write(`removed ${n} datapath object(s) made by mcgw on this Node\n`);
    return 0;
  }

  mkdirSync(dirname(stateFile), { recursive: true });
  // Saves run one at a time and coalesce: a burst of liveness changes (100 peers judged down at
  // once) becomes at most one write in progress and one pending, never concurrent renames.
  let saving: Promise<void> | undefined;
  let again = false;
  const persist = async (): Promise<void> => {
    if (saving) {
      again = true;
      return saving;
    }
    saving = (async () => {
      do {
        again = false;
        const i = agent.currentInputs;
        if (i)
          await saveInputs(stateFile, i, agent.livenessSnapshot()).catch((e: unknown) =>
            log.warn('could not save state', { error: String(e) }),
          );
      } while (again);
    })();
    try {
      await saving;
    } finally {
      saving = undefined;
    }
  };
  const withKube = !!(values.kubeconfig || process.env.KUBECONFIG || process.env.KUBERNETES_SERVICE_HOST);
  const alivePath = `${stateFile}.alive`;
  const alive = await readAlive(alivePath);
  let leaseMs = alive?.leaseDurationMs;
  const saved = await loadInputs(stateFile);
  let savedGateway = false;
  if (saved && 'error' in saved) log.warn('ignoring unreadable state file', { error: saved.error });
  else if (saved) {
    log.info('starting from saved state', { savedAt: saved.savedAt, remotes: saved.inputs.remotes.length });
    agent.seedLiveness(saved.liveness);
    // Away longer than a Gateway Lease, the role may belong to another Node now (with its inner
    // address): wait for Kubernetes to confirm it. Without Kubernetes nobody can have moved it.
    const fresh = withKube
      ? withoutStaleGatewayRole(saved.inputs, alive, Date.now(), effectiveSpec(undefined).leaseDurationMs)
      : { inputs: saved.inputs, dropped: false };
    if (fresh.dropped)
      log.info('away longer than a gateway lease: not acting as a gateway until Kubernetes confirms it', {
        awayMs: fresh.awayMs,
      });
    savedGateway = fresh.inputs.local.gateways.some((g) => g.node === node);
    await agent.setInputs(fresh.inputs);
  }
  // Marks this agent alive every second, for the check above at the next start.
  await markAlive(alivePath, leaseMs).catch(() => {});
  const aliveTimer = setInterval(() => void markAlive(alivePath).catch(() => {}), 1000);
  aliveTimer.unref();

  let source: KubeSource | undefined;
  let renewer: LeaseRenewer | undefined;
  // A kubeconfig flag, $KUBECONFIG, or the in-cluster ServiceAccount of a DaemonSet Pod.
  if (values.kubeconfig || process.env.KUBECONFIG || process.env.KUBERNETES_SERVICE_HOST) {
    // Loaded only here, and never @kubernetes/client-node (about 60 MiB of RSS): the agent talks to
    // the apiserver through the small client in src/kube/lite.
    const [
      { KubeClient },
      { liteLeaseApi },
      { KubeSource },
      { LeaseRenewer },
      { BfdDownReporter, kubeReporterApi },
    ] = await Promise.all([
      import('../kube/lite/client.ts'),
      import('../kube/lite/lease.ts'),
      import('../agent/kubesource.ts'),
      import('../lease/renewer.ts'),
      import('../agent/reporter.ts'),
    ]);
    const client = await KubeClient.load(values.kubeconfig, { userAgent: 'mcgw-agent' });
    const leases = liteLeaseApi(client);
    // ClusterGateway uids by Node: a report names the placement it saw fail.
    const uids = new Map<string, string>();
    reporter = new BfdDownReporter({
      node,
      api: kubeReporterApi(client),
      uidOf: (gw) => uids.get(gw),
      log,
      metrics,
    });
    const renewWith = (t: { renewIntervalMs: number; leaseDurationMs: number }) => {
      renewer?.stop();
      renewer = new LeaseRenewer({
        api: leases,
        node,
        renewIntervalMs: t.renewIntervalMs,
        leaseDurationMs: t.leaseDurationMs,
        // The BFD summary rides on each renewal, for `mcgw status`.
        annotations: () => ({ [BFD_SUMMARY_ANNOTATION]: JSON.stringify(agent.bfdSummary()) }),
        onError: (msg) => log.warn('lease renewal failed', { error: msg }),
      });
      renewer.start();
      log.info('renewing gateway lease', { lease: renewer.name, ...t });
    };
    // A Gateway restarting from its state renews at once, before the caches sync: a restart must
    // not look like a failure to the controller.
    if (savedGateway) {
      const d = effectiveSpec(undefined);
      renewWith({ renewIntervalMs: d.renewIntervalMs, leaseDurationMs: leaseMs ?? d.leaseDurationMs });
    }
    let timing = '';
    source = new KubeSource({
      client,
      node,
      log,
      onInputs: (i: AgentInputs) => {
        void agent.setInputs(i).then(persist);
      },
      // The agent on a Gateway Node is what renews that Gateway's Lease.
      onObjects: (gateways, policies) => {
        uids.clear();
        for (const g of gateways) if (g.metadata.uid) uids.set(g.spec.nodeName, g.metadata.uid);
        const mine = gateways.some((g) => g.spec.nodeName === node);
        const spec = effectiveSpec(policies[0]?.spec);
        if (spec.leaseDurationMs !== leaseMs) {
          leaseMs = spec.leaseDurationMs;
          void markAlive(alivePath, leaseMs).catch(() => {});
        }
        const want = `${spec.renewIntervalMs}/${spec.leaseDurationMs}`;
        if (mine && (!renewer || timing !== want)) {
          timing = want;
          renewWith(spec);
        } else if (!mine && renewer) {
          renewer.stop();
          renewer = undefined;
          timing = '';
        }
      },
    });
    source.start();
  } else if (!saved || 'error' in saved) {
    throw new UsageError(
      `mcgw agent: no --kubeconfig and no usable state file at ${stateFile}: nothing to plan from`,
    );
  }

  const resync = setInterval(
    () => void agent.reconcile('resync', true),
    (intFlag('agent', 'resync-seconds', values['resync-seconds'], 1, 86_400) ?? 30) * 1000,
  );
  const scrape = metricsEndpoint(registry)['/metrics']!;
  const health = await startHealthServer(values['health-addr']!, {
    live: () => true,
    ready: () => !!agent.currentInputs && (!source || source.isSynced()),
    extra: {
      '/metrics': () => {
        agent.refreshMetrics();
        return scrape();
      },
    },
  });
  log.info('agent running', { health: `http://127.0.0.1:${health.port}`, stateFile });
  const sig = await untilSignal();
  log.info('stopping; the datapath stays as it is', { signal: sig });
  clearInterval(resync);
  clearInterval(aliveTimer);
  renewer?.stop();
  await source?.stop();
  await persist();
  await agent.stop();
  health.server.close();
  return 0;
}
