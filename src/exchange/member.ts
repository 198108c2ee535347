// The member side of the ClusterSet exchange, run by the member controller's elected replica:
// exports this cluster's Gateways and CIDRs to its namespace in the leader cluster (only when they
// changed), renews its heartbeat there, and mirrors the other members' imports as RemoteClusters.
// When the leader is unreachable it keeps every RemoteCluster and says LeaderUnreachable.
import { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import {
  API_VERSION,
  CLUSTERSET_NAMESPACE,
  GROUP,
  HEARTBEAT_LABEL,
  HEARTBEAT_LEASE,
  SYSTEM_NAMESPACE,
  VERSION,
} from '../api/group.ts';
import type {
  ClusterExport,
  ClusterGateway,
  ClusterImport,
  ClusterInfo,
  ClusterSetMember,
  ClusterSetMemberStatus,
  GatewayPolicy,
  RemoteCluster,
} from '../api/types.ts';
import { jsonEqual } from '../util/json.ts';
import { setCondition } from '../model/conditions.ts';
import type { ConditionInput } from '../model/conditions.ts';
import type { ExchangeView } from '../controller/drain.ts';
import { effectiveSpec } from '../model/policy.ts';
import { WorkQueue } from '../util/workqueue.ts';
import { makeClients } from '../kube/client.ts';
import type { Clients } from '../kube/client.ts';
import { apiMessage, isConflict, isNotFound } from '../kube/errors.ts';
import { startInformer } from '../kube/informer.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import { rawRequest } from '../kube/raw.ts';
import { LeaseRenewer } from '../lease/renewer.ts';
import type { ExchangeMetrics } from '../metrics/exchange.ts';
import type { Logger } from '../util/log.ts';
import { buildClusterInfo, planRemotes } from './info.ts';

export interface MemberExchangeOptions {
  /** The member cluster. */
  clients: Clients;
  log: Logger;
  /** Only the elected controller replica writes; the others keep caches warm. */
  isLeader: () => boolean;
  /** Overrides the leader kubeconfig Secret named by the ClusterSetMember (tests). */
  leaderKubeConfig?: KubeConfig;
  /** Retry and relist backoff cap: bounds how fast the exchange converges after a partition. */
  maxBackoffMs?: number;
  /** Prometheus metrics (src/metrics/exchange.ts); none when absent. */
  metrics?: ExchangeMetrics;
}

type Obj<T> = T & KubernetesObject;
const base = `/apis/${GROUP}/${VERSION}`;

interface LeaderLink {
  key: string;
  clients: Clients;
  namespace: string;
  imports: ResilientInformer<Obj<ClusterImport>>;
  heartbeat: LeaseRenewer;
  reachable: boolean;
  reason: string;
}

export class MemberExchange {
  private readonly queue: WorkQueue<'export' | 'import' | 'status'>;
  private local:
    | {
        members: ResilientInformer<Obj<ClusterSetMember>>;
        gateways: ResilientInformer<Obj<ClusterGateway>>;
        policies: ResilientInformer<Obj<GatewayPolicy>>;
        remotes: ResilientInformer<Obj<RemoteCluster>>;
      }
    | undefined;
  private link: LeaderLink | undefined;
  private lastExported: ClusterInfo | undefined;
  private lastExportTime: string | undefined;
  private workerDone: Promise<void> | undefined;
  /** When the first change not yet exported was seen (performance.now()), for the latency metric. */
  private changeSeenAt: number | undefined;
  readonly stats = { exports: 0, remoteWrites: 0, errors: 0 };

  constructor(private readonly o: MemberExchangeOptions) {
    this.queue = new WorkQueue({ baseDelayMs: 50, maxDelayMs: o.maxBackoffMs ?? 1000 });
  }

  start(): void {
    const { clients: c, log } = this.o;
    const list =
      <T>(path: string) =>
      () =>
        rawRequest<KubernetesListObject<Obj<T>>>(c.kc, 'GET', path);
    const onError = (what: string) => (err: unknown) =>
      log.warn('watch failed, retrying', { resource: what, error: apiMessage(err) });
    const exportSoon = () => {
      if (this.o.isLeader()) this.changeSeenAt ??= performance.now();
      this.queue.add('export');
    };
    const all = () => {
      exportSoon();
      this.queue.add('import');
    };
    this.local = {
      members: startInformer(
        c.kc,
        `${base}/clustersetmembers`,
        list<ClusterSetMember>(`${base}/clustersetmembers`),
        {
          onChange: all,
          onError: onError('clustersetmembers'),
        },
      ),
      gateways: startInformer(
        c.kc,
        `${base}/clustergateways`,
        list<ClusterGateway>(`${base}/clustergateways`),
        {
          onChange: exportSoon,
          onError: onError('clustergateways'),
        },
      ),
      policies: startInformer(
        c.kc,
        `${base}/gatewaypolicies`,
        list<GatewayPolicy>(`${base}/gatewaypolicies`),
        {
          onChange: exportSoon,
          onError: onError('gatewaypolicies'),
        },
      ),
      remotes: startInformer(c.kc, `${base}/remoteclusters`, list<RemoteCluster>(`${base}/remoteclusters`), {
        onChange: () => this.queue.add('import'),
        onError: onError('remoteclusters'),
      }),
    };
    this.workerDone = this.worker();
    // Keys that arrive before every cache has synced are dropped by the worker; start over once
    // they all have, even if their lists were empty and no change event follows.
    void Promise.all(Object.values(this.local).map((i) => i.synced)).then(all);
  }

  /** Called when this replica wins or loses the controller election. */
  leadershipChanged(): void {
    if (this.o.isLeader()) {
      this.queue.add('export');
      this.queue.add('import');
    } else {
      this.link?.heartbeat.stop();
      this.changeSeenAt = undefined;
      this.o.metrics?.standby();
    }
  }

  isReady(): boolean {
    return !!this.local && Object.values(this.local).every((i) => i.isSynced());
  }

  /** The ClusterSetMember in effect (the oldest, if someone made two). */
  private member(): Obj<ClusterSetMember> | undefined {
    return [...(this.local?.members.list() ?? [])].sort(
      (a, b) =>
        String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) ||
        a.metadata.name!.localeCompare(b.metadata.name!),
    )[0];
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        if (this.o.isLeader() && this.isReady()) {
          const m = this.member();
          if (m) {
            let link: LeaderLink;
            try {
              link = await this.connect(m);
            } catch (err) {
              // No way to the leader at all (Secret missing or unreadable): say so on the member.
              await this.writeStatus(m, { reachable: false, reason: apiMessage(err), configError: true });
              throw err;
            }
            if (key === 'export') await this.export(m, link);
            else if (key === 'import') await this.import(m, link);
            await this.writeStatus(m, link);
          }
        }
        this.queue.forget(key);
      } catch (err) {
        this.stats.errors++;
        this.o.metrics?.failed(key);
        const delay = this.queue.addRateLimited(key);
        this.o.log.warn('exchange failed; retrying', { step: key, error: apiMessage(err), retryInMs: delay });
        // The member's status tells of the failure at once; a failed status write itself waits for
        // its own retry (re-adding it here made a loop without backoff: in the lab, a status write
        // failing against a restarted apiserver was retried about every 10 ms for 20 minutes).
        if (key !== 'status') this.queue.add('status');
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Connects to the leader named by the ClusterSetMember, reconnecting if that changed. */
  private async connect(m: ClusterSetMember): Promise<LeaderLink> {
    const secretKey = m.spec.leader.secretKey ?? 'kubeconfig';
    const key = `${m.spec.leader.secretName}/${secretKey}/${m.spec.leader.namespace}/${m.spec.clusterID}`;
    if (this.link?.key === key) {
      this.link.heartbeat.start();
      return this.link;
    }
    await this.disconnect();
    let kc = this.o.leaderKubeConfig;
    if (!kc) {
      const secret = await this.o.clients.core.readNamespacedSecret({
        name: m.spec.leader.secretName,
        namespace: SYSTEM_NAMESPACE,
      });
      const data = secret.data?.[secretKey];
      if (!data)
        throw new Error(`Secret ${SYSTEM_NAMESPACE}/${m.spec.leader.secretName} has no key "${secretKey}"`);
      kc = new KubeConfig();
      kc.loadFromString(Buffer.from(data, 'base64').toString('utf8'));
    }
    const clients = makeClients(kc);
    const path = `${base}/namespaces/${CLUSTERSET_NAMESPACE}/clusterimports`;
    const link: LeaderLink = {
      key,
      clients,
      namespace: m.spec.leader.namespace,
      reachable: true,
      reason: 'Connecting',
      imports: startInformer(
        clients.kc,
        path,
        () => rawRequest<KubernetesListObject<Obj<ClusterImport>>>(clients.kc, 'GET', path),
        {
          onChange: () => {
            this.markReachable(true);
            this.queue.add('import');
          },
          onError: (err) => {
            this.o.log.warn('leader cluster unreachable; keeping imports', { error: apiMessage(err) });
            this.markReachable(false, apiMessage(err));
          },
          maxBackoffMs: this.o.maxBackoffMs ?? 1000,
        },
      ),
      heartbeat: new LeaseRenewer({
        api: clients.coordination,
        node: m.spec.clusterID,
        namespace: m.spec.leader.namespace,
        leaseName: HEARTBEAT_LEASE,
        labels: { [HEARTBEAT_LABEL]: m.spec.clusterID },
        renewIntervalMs: (m.spec.heartbeatSeconds ?? 5) * 1000,
        leaseDurationMs: (m.spec.heartbeatSeconds ?? 5) * 3000,
        onRenew: () => this.markReachable(true),
        onError: (msg) => this.markReachable(false, msg),
      }),
    };
    this.link = link;
    link.heartbeat.start();
    // When the import watch reconnects after a partition, re-sync both ways.
    void link.imports.synced.then(() => {
      this.markReachable(true);
      this.queue.add('import');
    });
    return link;
  }

  private markReachable(ok: boolean, why = ''): void {
    const l = this.link;
    if (!l) return;
    const changed = l.reachable !== ok;
    l.reachable = ok;
    l.reason = why;
    if (changed) {
      this.queue.add('status');
      // Back in touch: the leader may have missed changes made meanwhile.
      if (ok) {
        this.lastExported = undefined;
        this.queue.add('export');
        this.queue.add('import');
      }
    }
  }

  private async disconnect(): Promise<void> {
    if (!this.link) return;
    this.link.heartbeat.stop();
    await this.link.imports.stop();
    this.link = undefined;
    this.lastExported = undefined;
  }

  /** What this cluster exports now, from the caches. */
  private currentInfo(m: ClusterSetMember): ClusterInfo {
    const policy = [...this.local!.policies.list()].sort((a, b) =>
      String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)),
    )[0];
    return buildClusterInfo(m, this.local!.gateways.list(), effectiveSpec(policy?.spec).mode);
  }

  /**
   * For the controller's drains (src/controller/drain.ts): whether the leader holds this cluster's
   * current export, and when it was last written. Undefined when the cluster is in no ClusterSet.
   * Not current while this replica does not lead, the caches are not synced, or the leader is away.
   */
  exportState(): ExchangeView | undefined {
    if (!this.isReady()) return { current: false };
    const m = this.member();
    if (!m) return undefined;
    const at = this.lastExportTime === undefined ? undefined : Date.parse(this.lastExportTime);
    const current =
      this.o.isLeader() &&
      !!this.link?.reachable &&
      !!this.lastExported &&
      jsonEqual(this.currentInfo(m), this.lastExported);
    return { current, ...(at !== undefined && Number.isFinite(at) && { exportedAt: at }) };
  }

  private async export(m: ClusterSetMember, link: LeaderLink): Promise<void> {
    const info = this.currentInfo(m);
    if (this.lastExported && jsonEqual(info, this.lastExported)) {
      this.changeSeenAt = undefined;
      return;
    }
    const id = m.spec.clusterID;
    const path = `${base}/namespaces/${link.namespace}/clusterexports`;
    const body = {
      apiVersion: API_VERSION,
      kind: 'ClusterExport',
      metadata: { name: id, namespace: link.namespace },
      spec: info,
    };
    let wrote = true;
    try {
      const cur = await rawRequest<Obj<ClusterExport>>(link.clients.kc, 'GET', `${path}/${id}`);
      if (!jsonEqual(cur.spec, info))
        await rawRequest(link.clients.kc, 'PUT', `${path}/${id}`, {
          ...body,
          metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion },
        });
      else wrote = false;
    } catch (err) {
      if (!isNotFound(err)) {
        this.markReachable(false, apiMessage(err));
        throw err;
      }
      await rawRequest(link.clients.kc, 'POST', path, body);
    }
    if (wrote) this.o.metrics?.exported(this.changeSeenAt);
    this.changeSeenAt = undefined;
    this.lastExported = info;
    this.lastExportTime = new Date().toISOString();
    this.stats.exports++;
    this.markReachable(true);
    this.o.log.info('exported', { cluster: id, gateways: info.gateways.length });
  }

  private async import(m: ClusterSetMember, link: LeaderLink): Promise<void> {
    // Only act on a list the leader actually served; an unreachable leader changes nothing here.
    if (!link.imports.isSynced() || !link.reachable) return;
    const p = planRemotes(m.spec.clusterID, link.imports.list(), this.local!.remotes.list());
    const kc = this.o.clients.kc;
    for (const u of p.upsert) {
      const obj = {
        apiVersion: API_VERSION,
        kind: 'RemoteCluster',
        metadata: { name: u.name },
        spec: u.spec,
      };
      let cur: Obj<RemoteCluster>;
      try {
        if (u.existing) {
          cur = jsonEqual(u.existing.spec, u.spec)
            ? (u.existing as Obj<RemoteCluster>)
            : await rawRequest<Obj<RemoteCluster>>(kc, 'PUT', `${base}/remoteclusters/${u.name}`, {
                ...obj,
                metadata: { ...obj.metadata, resourceVersion: u.existing.metadata.resourceVersion },
                status: u.existing.status,
              });
        } else cur = await rawRequest<Obj<RemoteCluster>>(kc, 'POST', `${base}/remoteclusters`, obj);
        if (!jsonEqual(cur.status ?? {}, u.status))
          await rawRequest(kc, 'PUT', `${base}/remoteclusters/${u.name}/status`, {
            ...cur,
            status: u.status,
          });
        this.stats.remoteWrites++;
      } catch (err) {
        if (!isConflict(err)) throw err;
        this.queue.add('import');
      }
    }
    for (const name of p.remove) {
      try {
        await rawRequest(kc, 'DELETE', `${base}/remoteclusters/${name}`);
        this.stats.remoteWrites++;
        this.o.log.info('removed remote cluster', { cluster: name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  private async writeStatus(
    m: Obj<ClusterSetMember>,
    link: Pick<LeaderLink, 'reachable' | 'reason'> & { configError?: boolean },
  ): Promise<void> {
    const nowIso = new Date().toISOString();
    const reach: ConditionInput = link.configError
      ? {
          type: 'LeaderReachable',
          status: 'False',
          reason: 'LeaderConfigInvalid',
          message: `cannot use the leader kubeconfig named by spec.leader (${link.reason}); create it with mcgw clusterset add-member --member-kubeconfig, or fix spec.leader`,
        }
      : link.reachable
        ? {
            type: 'LeaderReachable',
            status: 'True',
            reason: 'Connected',
            message: 'the leader cluster answers',
          }
        : {
            type: 'LeaderReachable',
            status: 'False',
            reason: 'LeaderUnreachable',
            message: `cannot reach the leader cluster (${link.reason}); keeping the last imports`,
          };
    const exported: ConditionInput = this.lastExported
      ? {
          type: 'Exported',
          status: 'True',
          reason: 'UpToDate',
          message: "the leader has this cluster's current Gateways and CIDRs",
        }
      : {
          type: 'Exported',
          status: 'False',
          reason: 'Pending',
          message: 'the current export has not reached the leader yet',
        };
    const status: ClusterSetMemberStatus = {
      ...((this.lastExportTime ?? m.status?.lastExportTime)
        ? { lastExportTime: (this.lastExportTime ?? m.status?.lastExportTime)! }
        : {}),
      importedClusters: this.local!.remotes.list().length,
      conditions: setCondition(setCondition(m.status?.conditions, reach, nowIso), exported, nowIso),
    };
    this.o.metrics?.status(m.spec.clusterID, link.reachable, status.importedClusters!);
    if (jsonEqual(status, m.status ?? {})) return;
    try {
      await rawRequest(this.o.clients.kc, 'PUT', `${base}/clustersetmembers/${m.metadata.name}/status`, {
        ...m,
        status,
      });
    } catch (err) {
      if (isConflict(err)) this.queue.add('status');
      else throw err;
    }
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.workerDone;
    await this.disconnect();
    await Promise.all(Object.values(this.local ?? {}).map((i) => i.stop()));
  }
}
