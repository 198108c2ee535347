// The leader-side controller: runs in the leader cluster, validates every member's ClusterExport,
// publishes the accepted ones as ClusterImports and tracks each member's heartbeat. Elected by Lease;
// standbys keep warm caches and write nothing.
import type { KubernetesListObject, KubernetesObject, V1Lease, V1Namespace } from '@kubernetes/client-node';
import { CLUSTERSET_NAMESPACE, GROUP, HEARTBEAT_LABEL, MEMBER_LABEL, VERSION } from '../api/group.ts';
import type { ClusterExport, ClusterImport } from '../api/types.ts';
import { LeaseTracker, renewalVersion } from '../lease/tracker.ts';
import { WorkQueue } from '../util/workqueue.ts';
import type { Clients } from '../kube/client.ts';
import { ensureNamespace } from '../kube/crds.ts';
import { apiMessage, isConflict, isNotFound } from '../kube/errors.ts';
import { startInformer } from '../kube/informer.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import { LeaderElector } from '../kube/leaderelection.ts';
import type { LeaderMetrics } from '../metrics/leader.ts';
import { rawRequest } from '../kube/raw.ts';
import type { Logger } from '../util/log.ts';
import { importObject, planLeader } from './plan.ts';
import type { LeaderPlan } from './plan.ts';

export interface LeaderControllerOptions {
  clients: Clients;
  identity: string;
  log: Logger;
  staleAfterMs?: number;
  removeAfterMs?: number;
  election?: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number } | false;
  now?: () => number;
  /** Cap on watch retry backoff; bounds convergence after the leader's apiserver returns. */
  maxBackoffMs?: number;
  /** Prometheus metrics (src/metrics/leader.ts); none when absent. */
  metrics?: LeaderMetrics;
}

type Obj<T> = T & KubernetesObject;
const KEY = 'clusterset';
const base = `/apis/${GROUP}/${VERSION}`;

export class LeaderController {
  private readonly queue = new WorkQueue<string>();
  private readonly seen = new LeaseTracker();
  private inf:
    | {
        exports: ResilientInformer<Obj<ClusterExport>>;
        imports: ResilientInformer<Obj<ClusterImport>>;
        namespaces: ResilientInformer<V1Namespace>;
        heartbeats: ResilientInformer<V1Lease>;
      }
    | undefined;
  private elector: LeaderElector | undefined;
  private leading = false;
  private workerDone: Promise<void> | undefined;
  private readonly now: () => number;
  /** Members are judged silent only from here on: while this controller could not see the
   * heartbeats (not leading, or its watches were broken) their silence proves nothing. */
  private graceFrom = 0;
  readonly stats = { reconciles: 0, writes: 0, errors: 0 };

  constructor(private readonly o: LeaderControllerOptions) {
    this.now = o.now ?? Date.now;
  }

  isLeader(): boolean {
    return this.leading;
  }

  isReady(): boolean {
    return !!this.inf && Object.values(this.inf).every((i) => i.isSynced());
  }

  async start(): Promise<void> {
    const { clients: c, log } = this.o;
    const kick = () => this.queue.add(KEY);
    const onError = (what: string) => (err: unknown, retry: number) =>
      log.warn('watch failed, retrying', { resource: what, error: apiMessage(err), retryInMs: retry });
    const list =
      <T>(path: string) =>
      () =>
        rawRequest<KubernetesListObject<Obj<T>>>(c.kc, 'GET', path);
    await ensureNamespace(c, CLUSTERSET_NAMESPACE).catch((err: unknown) =>
      log.warn('could not ensure namespace', { namespace: CLUSTERSET_NAMESPACE, error: apiMessage(err) }),
    );
    this.inf = {
      exports: startInformer(c.kc, `${base}/clusterexports`, list<ClusterExport>(`${base}/clusterexports`), {
        onChange: (_k, o) => {
          // An export write is a sign of life of its member, like a heartbeat.
          this.seen.observe(o.metadata?.namespace ?? '', `export:${o.metadata?.resourceVersion}`, this.now());
          kick();
        },
        onError: onError('clusterexports'),
        maxBackoffMs: this.o.maxBackoffMs ?? 1000,
      }),
      imports: startInformer(
        c.kc,
        `${base}/namespaces/${CLUSTERSET_NAMESPACE}/clusterimports`,
        list<ClusterImport>(`${base}/namespaces/${CLUSTERSET_NAMESPACE}/clusterimports`),
        { onChange: kick, onError: onError('clusterimports'), maxBackoffMs: this.o.maxBackoffMs ?? 1000 },
      ),
      namespaces: startInformer<V1Namespace>(
        c.kc,
        '/api/v1/namespaces',
        () => c.core.listNamespace({ labelSelector: MEMBER_LABEL }),
        {
          labelSelector: MEMBER_LABEL,
          onChange: kick,
          onError: onError('namespaces'),
          maxBackoffMs: this.o.maxBackoffMs ?? 1000,
        },
      ),
      heartbeats: startInformer<V1Lease>(
        c.kc,
        '/apis/coordination.k8s.io/v1/leases',
        () => c.coordination.listLeaseForAllNamespaces({ labelSelector: HEARTBEAT_LABEL }),
        {
          labelSelector: HEARTBEAT_LABEL,
          onChange: (kind, o) => {
            const l = o as V1Lease;
            const ns = l.metadata?.namespace ?? '';
            if (kind === 'delete' || !this.seen.observe(ns, `hb:${renewalVersion(l)}`, this.now())) return;
            // A heartbeat only matters to a member marked Stale; freshness deadlines of the others
            // come from the requeue timer, so 100 members renewing do not mean 20 reconciles a second.
            if (this.isStale(ns)) kick();
          },
          onError: onError('heartbeat leases'),
          onRecover: () => {
            this.graceFrom = this.now();
            kick();
          },
          maxBackoffMs: this.o.maxBackoffMs ?? 1000,
        },
      ),
    };
    this.workerDone = this.worker();
    const become = async () => {
      await Promise.all(Object.values(this.inf!).map((i) => i.synced));
      this.leading = true;
      this.o.metrics?.leading(true);
      this.graceFrom = this.now();
      log.info('became leader', { identity: this.o.identity });
      kick();
    };
    if (this.o.election === false) return become();
    this.elector = new LeaderElector({
      api: c.coordination,
      namespace: CLUSTERSET_NAMESPACE,
      name: 'mcgw-leader-controller',
      identity: this.o.identity,
      ...(this.o.election ?? { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 }),
      onStartedLeading: () => void become(),
      onStoppedLeading: () => {
        if (this.leading) log.warn('lost leadership; stopping writes');
        this.leading = false;
        this.o.metrics?.leading(false);
      },
      onError: (msg) => log.warn('leader election', { error: msg }),
    });
    this.elector.start();
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        if (this.leading && this.isReady()) {
          const started = performance.now();
          const p = this.plan();
          await this.execute(p);
          this.stats.reconciles++;
          this.o.metrics?.reconciled(
            (performance.now() - started) / 1000,
            p,
            this.inf!.imports.list(),
            this.inf!.exports.list(),
          );
          this.queue.forget(key);
          if (p.requeueAfterMs !== undefined) this.queue.addAfter(key, p.requeueAfterMs, this.now());
        }
      } catch (err) {
        this.stats.errors++;
        this.o.metrics?.reconcileFailed();
        const delay = this.queue.addRateLimited(key);
        this.o.log.warn('reconcile failed; retrying', { error: apiMessage(err), retryInMs: delay });
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Whether the import published from this member namespace is currently marked Stale. */
  private isStale(ns: string): boolean {
    const id = this.inf?.namespaces.get(ns)?.metadata?.labels?.[MEMBER_LABEL];
    return !!id && this.inf?.imports.get(id, CLUSTERSET_NAMESPACE)?.status?.state === 'Stale';
  }

  plan(): LeaderPlan {
    const i = this.inf!;
    const members = new Map(
      i.namespaces.list().map((n) => [n.metadata?.name ?? '', n.metadata?.labels?.[MEMBER_LABEL]] as const),
    );
    const now = this.now();
    return planLeader({
      exports: i.exports.list(),
      imports: i.imports.list(),
      memberOf: (ns) => members.get(ns),
      lastSeen: (ns) => Math.max(this.seen.lastSeen(ns) ?? 0, this.graceFrom),
      now,
      staleAfterMs: this.o.staleAfterMs ?? 30_000,
      removeAfterMs: this.o.removeAfterMs ?? 300_000,
    });
  }

  private async execute(p: LeaderPlan): Promise<void> {
    const { clients: c, log } = this.o;
    const i = this.inf!;
    const ns = CLUSTERSET_NAMESPACE;
    const written = new Map<string, Obj<ClusterImport>>();
    for (const u of p.upsert) {
      const cur = i.imports.get(u.name, ns);
      const obj = importObject(u.name, ns, u.spec, u.sourceNamespace);
      try {
        const res = cur
          ? await rawRequest<Obj<ClusterImport>>(
              c.kc,
              'PUT',
              `${base}/namespaces/${ns}/clusterimports/${u.name}`,
              {
                ...obj,
                metadata: { ...obj.metadata, resourceVersion: cur.metadata.resourceVersion },
                status: cur.status,
              },
            )
          : await rawRequest<Obj<ClusterImport>>(
              c.kc,
              'POST',
              `${base}/namespaces/${ns}/clusterimports`,
              obj,
            );
        written.set(u.name, res);
        this.stats.writes++;
        log.info('published import', { cluster: u.name, gateways: u.spec.gateways.length });
      } catch (err) {
        if (!isConflict(err)) throw err;
        this.queue.add(KEY); // the cache was behind; try again with what the watch brings
      }
    }
    for (const s of p.importStatus) {
      const cur = written.get(s.name) ?? i.imports.get(s.name, ns);
      if (!cur) continue;
      await this.writeStatus(`${base}/namespaces/${ns}/clusterimports/${s.name}/status`, {
        ...cur,
        status: s.status,
      });
    }
    for (const name of p.remove) {
      try {
        await rawRequest(c.kc, 'DELETE', `${base}/namespaces/${ns}/clusterimports/${name}`);
        this.stats.writes++;
        log.info('removed import', { cluster: name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    for (const s of p.exportStatus) {
      const cur = i.exports.get(s.name, s.namespace);
      if (!cur) continue;
      await this.writeStatus(`${base}/namespaces/${s.namespace}/clusterexports/${s.name}/status`, {
        ...cur,
        status: s.status,
      });
      const refused = s.status.conditions?.find((x) => x.type === 'Accepted' && x.status === 'False');
      if (refused) {
        this.o.metrics?.refused(refused.reason);
        log.warn('export refused', { namespace: s.namespace, cluster: s.name, condition: refused });
      }
    }
  }

  private async writeStatus(path: string, body: unknown): Promise<void> {
    try {
      await rawRequest(this.o.clients.kc, 'PUT', path, body);
      this.stats.writes++;
    } catch (err) {
      if (isConflict(err)) this.queue.add(KEY);
      else if (!isNotFound(err)) throw err;
    }
  }

  async stop(): Promise<void> {
    this.leading = false;
    this.o.metrics?.leading(false);
    await this.elector?.stop();
    this.queue.shutDown();
    await this.workerDone;
    await Promise.all(Object.values(this.inf ?? {}).map((i) => i.stop()));
  }
}
