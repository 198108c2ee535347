// Watches the objects an agent plans from (its Node, the ClusterSetMember, ClusterGateways, the
// GatewayPolicy, RemoteClusters) and hands complete, changed inputs to the agent. When the
// apiserver is gone the caches simply stop changing; the agent keeps what it has.
import type { KubernetesListObject, KubernetesObject, V1Node } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/group.ts';
import type { ClusterGateway, ClusterSetMember, GatewayPolicy, RemoteCluster } from '../api/types.ts';
import { jsonEqual } from '../controller/conditions.ts';
import type { Clients } from '../kube/client.ts';
import { apiMessage } from '../kube/errors.ts';
import { startInformer } from '../kube/informer.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import { rawRequest } from '../kube/raw.ts';
import type { Logger } from '../util/log.ts';
import { inputsFrom } from './inputs.ts';
import type { AgentInputs } from './inputs.ts';

type Obj<T> = T & KubernetesObject;
const base = `/apis/${GROUP}/${VERSION}`;

export class KubeSource {
  private inf:
    | {
        nodes: ResilientInformer<V1Node>;
        members: ResilientInformer<Obj<ClusterSetMember>>;
        gateways: ResilientInformer<Obj<ClusterGateway>>;
        policies: ResilientInformer<Obj<GatewayPolicy>>;
        remotes: ResilientInformer<Obj<RemoteCluster>>;
      }
    | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last: AgentInputs | undefined;
  private lastMissing = '';

  constructor(
    private readonly o: {
      clients: Clients;
      node: string;
      log: Logger;
      onInputs: (i: AgentInputs) => void;
      /** Also told about every change of the local ClusterGateways and policy (Lease renewal). */
      onObjects?: (gateways: readonly ClusterGateway[], policies: readonly GatewayPolicy[]) => void;
    },
  ) {}

  start(): void {
    const { clients: c, log } = this.o;
    const kick = () => {
      // Coalesce bursts (a relist delivers every object at once) into one evaluation.
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.evaluate();
      }, 10);
    };
    const onError = (what: string) => (err: unknown, retry: number) =>
      log.warn('watch failed; keeping the last known state', {
        resource: what,
        error: apiMessage(err),
        retryInMs: retry,
      });
    const list =
      <T>(path: string) =>
      () =>
        rawRequest<KubernetesListObject<Obj<T>>>(c.kc, 'GET', path);
    const opts = (what: string) => ({ onChange: kick, onError: onError(what), maxBackoffMs: 2000 });
    this.inf = {
      nodes: startInformer<V1Node>(c.kc, '/api/v1/nodes', () => c.core.listNode(), opts('nodes')),
      members: startInformer(
        c.kc,
        `${base}/clustersetmembers`,
        list<ClusterSetMember>(`${base}/clustersetmembers`),
        opts('clustersetmembers'),
      ),
      gateways: startInformer(
        c.kc,
        `${base}/clustergateways`,
        list<ClusterGateway>(`${base}/clustergateways`),
        opts('clustergateways'),
      ),
      policies: startInformer(
        c.kc,
        `${base}/gatewaypolicies`,
        list<GatewayPolicy>(`${base}/gatewaypolicies`),
        opts('gatewaypolicies'),
      ),
      remotes: startInformer(
        c.kc,
        `${base}/remoteclusters`,
        list<RemoteCluster>(`${base}/remoteclusters`),
        opts('remoteclusters'),
      ),
    };
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
