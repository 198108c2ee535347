// Watches the objects an agent plans from (its Node, the ClusterSetMember, ClusterGateways, the
// GatewayPolicy, RemoteClusters) and hands complete, changed inputs to the agent. When the
// apiserver is gone the caches simply stop changing; the agent keeps what it has.
//
// It runs on the small client (src/kube/lite), not client-node, which would cost the agent about
// 60 MiB of resident memory: the agent never loads client-node.
import type { V1Node } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/group.ts';
import type { ClusterGateway, ClusterSetMember, GatewayPolicy, RemoteCluster } from '../api/types.ts';
import { jsonEqual } from '../util/json.ts';
import { apiMessage } from '../kube/errors.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import type { KubeClient } from '../kube/lite/client.ts';
import { startListWatch } from '../kube/lite/informer.ts';
import type { Logger } from '../util/log.ts';
import { inputsFrom } from './inputs.ts';
import type { AgentInputs } from './inputs.ts';

const base = `/apis/${GROUP}/${VERSION}`;

export class KubeSource {
  private inf:
    | {
        nodes: ResilientInformer<V1Node>;
        members: ResilientInformer<ClusterSetMember>;
        gateways: ResilientInformer<ClusterGateway>;
        policies: ResilientInformer<GatewayPolicy>;
        remotes: ResilientInformer<RemoteCluster>;
      }
    | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last: AgentInputs | undefined;
  private lastMissing = '';

  constructor(
    private readonly o: {
      client: KubeClient;
      node: string;
      log: Logger;
      onInputs: (i: AgentInputs) => void;
      /** Also told about every change of the local ClusterGateways and policy (Lease renewal). */
      onObjects?: (gateways: readonly ClusterGateway[], policies: readonly GatewayPolicy[]) => void;
    },
  ) {}

  start(): void {
    const { client, log } = this.o;
    const kick = () => {
      // Coalesce bursts (a relist delivers every object at once) into one evaluation.
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.evaluate();
      }, 10);
    };
    const opts = (what: string) => ({
      onChange: kick,
      onError: (err: unknown, retry: number) =>
        log.warn('watch failed; keeping the last known state', {
          resource: what,
          error: apiMessage(err),
          retryInMs: retry,
        }),
      maxBackoffMs: 2000,
    });
    this.inf = {
      // Only this Node: a large cluster's other Nodes would cost memory and watch traffic for nothing.
      nodes: startListWatch<V1Node>(client, '/api/v1/nodes', {
        ...opts('nodes'),
        fieldSelector: `metadata.name=${this.o.node}`,
      }),
      members: startListWatch<ClusterSetMember>(
        client,
        `${base}/clustersetmembers`,
        opts('clustersetmembers'),
      ),
      gateways: startListWatch<ClusterGateway>(client, `${base}/clustergateways`, opts('clustergateways')),
      policies: startListWatch<GatewayPolicy>(client, `${base}/gatewaypolicies`, opts('gatewaypolicies')),
      remotes: startListWatch<RemoteCluster>(client, `${base}/remoteclusters`, opts('remoteclusters')),
    };
    // Also when one syncs empty (no GatewayPolicy, say): the last to sync may bring no change at all.
    for (const inf of Object.values(this.inf)) void inf.synced.then(kick);
  }

  private evaluate(): void {
    const i = this.inf!;
    if (!Object.values(i).every((x) => x.isSynced())) return;
    this.o.onObjects?.(i.gateways.list(), i.policies.list());
    const members = [...i.members.list()].sort((a, b) =>
      String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)),
    );
    const r = inputsFrom(this.o.node, {
      ...(i.nodes.get(this.o.node) && { node: i.nodes.get(this.o.node)! }),
      ...(members[0] && { member: members[0] }),
      gateways: i.gateways.list(),
      policies: i.policies.list(),
      remotes: i.remotes.list(),
    });
    if ('missing' in r) {
      if (r.missing !== this.lastMissing) this.o.log.warn('waiting for inputs', { missing: r.missing });
      this.lastMissing = r.missing;
      return;
    }
    this.lastMissing = '';
    if (this.last && jsonEqual(this.last, r)) return;
    this.last = r;
    this.o.onInputs(r);
  }

  isSynced(): boolean {
    return !!this.inf && Object.values(this.inf).every((x) => x.isSynced());
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(Object.values(this.inf ?? {}).map((x) => x.stop()));
  }
}
