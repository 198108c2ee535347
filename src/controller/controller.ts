// The member-cluster controller: informers feed one work queue; the elected leader turns the cached
// state into a Plan (plan.ts) and carries it out. Standby replicas keep warm caches and write nothing.
import type {
  CoreV1Event,
  KubernetesListObject,
  KubernetesObject,
  V1Lease,
  V1Node,
} from '@kubernetes/client-node';
import { BFD_DOWN_SELECTOR, parseBfdDownEvent } from '../api/bfdreport.ts';
import { GROUP, SYSTEM_NAMESPACE, VERSION, NODE_LABEL, gatewayLeaseName } from '../api/group.ts';
import type { ClusterGateway, GatewayPolicy } from '../api/types.ts';
import type { Clients } from '../kube/client.ts';
import { ensureNamespace } from '../kube/crds.ts';
import { apiMessage, isConflict, isNotFound } from '../kube/errors.ts';
import { startInformer } from '../kube/informer.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import { LeaderElector } from '../kube/leaderelection.ts';
import type { ControllerMetrics } from '../metrics/controller.ts';
import type { Logger } from '../util/log.ts';
import { BfdReports, judgeLease, renewedSince } from './bfdreports.ts';
import { LeaseTracker, renewalVersion } from '../lease/tracker.ts';
import type { ExchangeView } from './drain.ts';
import { plan } from './plan.ts';
import type { Plan, PlannedEvent } from './plan.ts';
import { WorkQueue } from '../util/workqueue.ts';

export interface ControllerOptions {
  clients: Clients;
  identity: string;
  log: Logger;
  /** Lease election timings; false runs without election (a single replica, e.g. in unit tests). */
  election?: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number } | false;
  now?: () => number;
  /** Told when this replica starts or stops leading (e.g. to start the ClusterSet exchange). */
  onLeadership?: (leading: boolean) => void;
  /** Prometheus metrics (src/metrics/controller.ts); none when absent. */
  metrics?: ControllerMetrics;
  /**
   * Judge instances by their Node's Ready condition alone, as a controller without Gateway Leases
   * would: the control-plane-only baseline `mcgw lab` compares mcgw against.
   */
  ignoreLeases?: boolean;
  /**
   * The ClusterSet exchange's view of this cluster's export (MemberExchange.exportState()); a drain
   * waits for the leader to hold the current export. Absent, or undefined: no ClusterSet.
   */
  exportState?: () => ExchangeView | undefined;
}

export interface ControllerStats {
  reconciles: number;
  reconcileErrors: number;
  writes: number;
  lastReconcileMs: number;
}

const KEY = 'cluster';
const crd = (plural: string) => ({ group: GROUP, version: VERSION, plural });

export class GatewayController {
  private readonly queue = new WorkQueue<string>();
  private readonly tracker = new LeaseTracker();
  private readonly bfdReports = new BfdReports();
  private readonly lastFailure = new Map<string, number>();
  private leaseGraceFrom = 0;
  private readonly reported = new Set<string>();
  private informers:
    | {
        nodes: ResilientInformer<V1Node>;
        policies: ResilientInformer<GatewayPolicy & KubernetesObject>;
        gateways: ResilientInformer<ClusterGateway & KubernetesObject>;
        leases: ResilientInformer<V1Lease>;
      }
    | undefined;
  /**
   * BFD Down reports from agents. Apart from `informers`: they only speed detection up, so the
   * controller is ready and places Gateways without them (e.g. RBAC from an older chart).
   */
  private reportInformer: ResilientInformer<CoreV1Event> | undefined;
  private elector: LeaderElector | undefined;
  private leading = false;
  private running = false;
  private workerDone: Promise<void> | undefined;
  readonly stats: ControllerStats = { reconciles: 0, reconcileErrors: 0, writes: 0, lastReconcileMs: 0 };
  private readonly now: () => number;

  constructor(private readonly o: ControllerOptions) {
    this.now = o.now ?? Date.now;
  }

  isLeader(): boolean {
    return this.leading;
  }

  isReady(): boolean {
    const i = this.informers;
    return !!i && i.nodes.isSynced() && i.policies.isSynced() && i.gateways.isSynced() && i.leases.isSynced();
  }

  async start(): Promise<void> {
    const { clients: c, log } = this.o;
    const kick = () => this.queue.add(KEY);
    const onError = (what: string) => (err: unknown, retry: number) =>
      log.warn('watch failed, retrying', { resource: what, error: apiMessage(err), retryInMs: retry });
    const listCustom = (plural: string) => async () =>
      (await c.custom.listClusterCustomObject(crd(plural))) as KubernetesListObject<
        GatewayPolicy & KubernetesObject
      >;
    this.informers = {
      nodes: startInformer<V1Node>(c.kc, '/api/v1/nodes', () => c.core.listNode(), {
        onChange: kick,
        onError: onError('nodes'),
      }),
      policies: startInformer(
        c.kc,
        `/apis/${GROUP}/${VERSION}/gatewaypolicies`,
        listCustom('gatewaypolicies'),
        {
          onChange: kick,
          onError: onError('gatewaypolicies'),
        },
      ),
      gateways: startInformer(
        c.kc,
        `/apis/${GROUP}/${VERSION}/clustergateways`,
        listCustom('clustergateways') as unknown as () => Promise<
          KubernetesListObject<ClusterGateway & KubernetesObject>
        >,
        { onChange: kick, onError: onError('clustergateways') },
      ),
      leases: startInformer<V1Lease>(
        c.kc,
        `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases`,
        () => c.coordination.listNamespacedLease({ namespace: SYSTEM_NAMESPACE, labelSelector: NODE_LABEL }),
        {
          labelSelector: NODE_LABEL,
          onChange: (kind, obj) => {
            const lease = obj as V1Lease;
            const node = lease.metadata?.labels?.[NODE_LABEL];
            if (!node) return;
            if (kind === 'delete') this.tracker.forget(node);
            // Only a renewal that is new to us counts as a sign of life.
            else if (this.tracker.observe(node, renewalVersion(lease), this.now())) {
              this.clearReportIfRenewed(node);
              kick();
            }
          },
          onError: onError('leases'),
          onRecover: () => {
            this.leaseGraceFrom = this.now();
            kick();
          },
        },
      ),
    };
    this.reportInformer = this.watchReports();
    this.running = true;
    this.workerDone = this.worker();

    if (this.o.election === false) {
      await this.becomeLeader();
    } else {
      const e = this.o.election ?? { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 };
      this.elector = new LeaderElector({
        api: c.coordination,
        namespace: SYSTEM_NAMESPACE,
        name: 'mcgw-controller',
        identity: this.o.identity,
        ...e,
        onStartedLeading: () => void this.becomeLeader(),
        onStoppedLeading: () => {
          if (this.leading) {
            log.warn('lost leadership; stopping writes');
            this.leading = false;
            this.o.metrics?.leading(false);
            this.o.onLeadership?.(false);
          }
        },
        onError: (msg) => log.warn('leader election', { error: msg }),
      });
      try {
        await ensureNamespace(c, SYSTEM_NAMESPACE);
      } catch (err) {
        log.warn('could not ensure namespace', { namespace: SYSTEM_NAMESPACE, error: apiMessage(err) });
      }
      this.elector.start();
    }
  }

  private async becomeLeader(): Promise<void> {
    this.o.log.info('became leader', { identity: this.o.identity });
    await Promise.all(Object.values(this.informers!).map((i) => i.synced));
    this.leading = true;
    this.o.metrics?.leading(true);
    this.o.onLeadership?.(true);
    this.queue.add(KEY);
  }

  /** Resolves once every informer has listed its resource. */
  async synced(): Promise<void> {
    await Promise.all(Object.values(this.informers!).map((i) => i.synced));
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        if (this.leading && this.isReady()) {
          const requeue = await this.reconcile();
          this.queue.forget(key);
          if (requeue !== undefined) this.queue.addAfter(key, requeue, this.now());
        }
      } catch (err) {
        this.stats.reconcileErrors++;
        this.o.metrics?.reconcileFailed();
        const delay = this.queue.addRateLimited(key);
        this.o.log.warn('reconcile failed; retrying', { error: apiMessage(err), retryInMs: delay });
      } finally {
        this.queue.done(key);
      }
    }
  }

  /**
   * Watches the BFD Down reports agents write in mcgw-system. Reports already there when the watch
   * first lists are history (a failure already handled, or one this process cannot date) and are
   * ignored; a standby replica keeps watching, so a newly elected leader has the recent ones.
   */
  private watchReports(): ResilientInformer<CoreV1Event> {
    const { clients: c, log } = this.o;
    let listed = false;
    const inf = startInformer<CoreV1Event>(
      c.kc,
      `/api/v1/namespaces/${SYSTEM_NAMESPACE}/events`,
      () => c.core.listNamespacedEvent({ namespace: SYSTEM_NAMESPACE, labelSelector: BFD_DOWN_SELECTOR }),
      {
        labelSelector: BFD_DOWN_SELECTOR,
        maxBackoffMs: 30_000,
        onChange: (kind, obj) => {
          if (kind !== 'add' || !listed) return;
          const r = parseBfdDownEvent(obj as CoreV1Event);
          if (!r) return;
          const uid = this.informers?.gateways.get(r.gateway)?.metadata?.uid;
          if (uid !== r.uid) {
            // About a placement that is gone already (replaced, or removed by the Lease rule).
            this.o.metrics?.bfdReport('ignored');
            log.debug('BFD down report about no current Gateway', {
              gateway: r.gateway,
              reporter: r.reporter,
            });
            return;
          }
          if (renewedSince(this.tracker.version(r.gateway), r.renewal)) {
            this.o.metrics?.bfdReport('ignored');
            log.info('BFD down report ignored: the Lease was renewed since', {
              gateway: r.gateway,
              reporter: r.reporter,
            });
            return;
          }
          this.bfdReports.add({ ...r, seenAt: this.now() });
          this.o.metrics?.bfdReport('suspected');
          log.info('gateway reported down by BFD; failing it early if its Lease stays silent', {
            gateway: r.gateway,
            reporter: r.reporter,
            event: obj.metadata?.name,
          });
          this.queue.add(KEY);
        },
        onError: (err: unknown, retry: number) =>
          log.warn('watch failed, retrying', {
            resource: 'events',
            error: apiMessage(err),
            retryInMs: retry,
          }),
      },
    );
    void inf.synced.then(() => (listed = true));
    return inf;
  }

  /** A renewal later than the one a report read: the Gateway is alive, the report was a Node's own path. */
  private clearReportIfRenewed(node: string): void {
    const s = this.bfdReports.peek(node);
    if (!s || !renewedSince(this.tracker.version(node), s.renewal)) return;
    this.bfdReports.delete(node);
    this.o.metrics?.bfdReportCleared();
    this.o.log.info('BFD down report cleared: the Lease was renewed since', {
      gateway: node,
      reporter: s.reporter,
    });
  }

  private leaseState(node: string, durationMs: number, renewIntervalMs: number, now: number) {
    if (this.o.ignoreLeases) return { state: 'fresh' as const, expiresAt: now + durationMs };
    // While the Lease watch is broken (apiserver down) no renewal can be seen, so silence counts
    // only from when the watch recovered (graceFrom); otherwise an apiserver outage would fail
    // every Gateway. Until it has recovered, silence counts from now: other watches may recover
    // first and ask for a plan (seen on kubelet Nodes: a new leader removed two healthy Gateways as
    // LeaseExpired 0.7 s after the apiserver returned, its Lease watch still in backoff).
    return judgeLease({
      seenAt: this.tracker.lastSeen(node),
      placedOnly: this.tracker.isPlacedOnly(node),
      version: this.tracker.version(node),
      graceFrom: this.leaseGraceFrom,
      watchCurrent: this.informers?.leases.isCurrent() ?? false,
      durationMs,
      renewIntervalMs,
      report: this.bfdReports.get(node, this.informers?.gateways.get(node)?.metadata?.uid),
      now,
    });
  }

  /** One pass: plan from the caches, then write. Returns when to come back, if at all. */
  async reconcile(): Promise<number | undefined> {
    const started = performance.now();
    const now = this.now();
    const i = this.informers!;
    const p = plan({
      policies: i.policies.list(),
      nodes: i.nodes.list(),
      gateways: i.gateways.list(),
      lease: (node, d, r) => this.leaseState(node, d, r, now),
      now,
      lastFailure: this.lastFailure,
      ...exchange(this.o.exportState?.()),
    });
    await this.execute(p, now);
    this.stats.reconciles++;
    this.stats.lastReconcileMs = performance.now() - started;
    this.o.metrics?.reconciled(this.stats.lastReconcileMs / 1000, p, i.gateways.list(), i.policies.list());
    return p.requeueAfterMs;
  }

  private async execute(p: Plan, now: number): Promise<void> {
    const { clients: c, log } = this.o;
    for (const node of p.failed) this.lastFailure.set(node, now);
    const fresh = new Map<string, ClusterGateway>();
    // An instance's Event goes out right after its write, so a replica killed mid-pass loses little.
    const emitAbout = async (node: string) => {
      for (const e of p.events) if (e.about === node) await this.emit(e);
    };

    // Make before break: new instances exist before failed or moved ones are removed.
    for (const gw of p.create) {
      try {
        fresh.set(
          gw.metadata.name!,
          (await c.custom.createClusterCustomObject({
            ...crd('clustergateways'),
            body: gw,
          })) as ClusterGateway,
        );
        this.wrote('clustergateways', 'create');
        this.o.metrics?.placed(p);
        log.info('placed gateway', {
          node: gw.spec.nodeName,
          priority: gw.spec.priority,
          gatewayIP: gw.spec.gatewayIP,
        });
        // A Node reused after its agent died still has a stale Lease: give the new instance one
        // Lease duration from now to show a renewal, rather than judging it by the old one.
        if (this.informers!.leases.get(gatewayLeaseName(gw.spec.nodeName), SYSTEM_NAMESPACE))
          this.tracker.placed(gw.spec.nodeName, now);
        await emitAbout(gw.spec.nodeName);
      } catch (err) {
        if (!isConflict(err)) throw err; // already there: the cache was behind; the next pass sees it
      }
    }
    for (const gw of p.update) {
      await c.custom.replaceClusterCustomObject({
        ...crd('clustergateways'),
        name: gw.metadata.name!,
        body: gw,
      });
      this.wrote('clustergateways', 'update');
      await emitAbout(gw.metadata.name!); // a drain started or cancelled
    }
    for (const r of p.remove) {
      try {
        const before = this.informers!.gateways.get(r.name);
        await c.custom.deleteClusterCustomObject({ ...crd('clustergateways'), name: r.name });
        this.wrote('clustergateways', 'delete');
        this.o.metrics?.removed(r.reason, before);
        if (r.bfdReportedBy) this.o.metrics?.bfdEarlyFailure();
        this.tracker.forget(r.name);
        this.bfdReports.delete(r.name);
        log.info('removed gateway', {
          node: r.name,
          reason: r.reason,
          ...(r.bfdReportedBy && { bfdReportedBy: r.bfdReportedBy }),
        });
        await emitAbout(r.name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    for (const s of p.gatewayStatus) {
      const base = fresh.get(s.name) ?? this.informers!.gateways.get(s.name);
      if (!base) continue;
      await this.writeStatus('clustergateways', { ...base, status: s.status });
    }
    for (const s of p.policyStatus) {
      const base = this.informers!.policies.get(s.name);
      if (!base) continue;
      await this.writeStatus('gatewaypolicies', { ...base, status: s.status });
    }
    for (const e of p.events) if (!e.about) await this.emit(e);

    // Report each unusable candidate once per reason, not on every pass.
    const now2 = new Set(p.skipped.filter((s) => reportable(s.reason)).map((s) => `${s.node}|${s.reason}`));
    for (const s of p.skipped) {
      const k = `${s.node}|${s.reason}`;
      if (!reportable(s.reason) || this.reported.has(k)) continue;
      this.reported.add(k);
      await this.emit({
        kind: 'Node',
        name: s.node,
        type: 'Warning',
        reason: `Candidate${s.reason}`,
        message: s.detail,
      });
    }
    for (const k of this.reported) if (!now2.has(k)) this.reported.delete(k);
  }

  private async writeStatus(plural: string, obj: KubernetesObject & { status?: unknown }): Promise<void> {
    try {
      await this.o.clients.custom.replaceClusterCustomObjectStatus({
        ...crd(plural),
        name: obj.metadata!.name!,
        body: obj,
      });
      this.wrote(plural, 'status');
    } catch (err) {
      // A newer version exists; the watch brings it and the next pass writes on top of it.
      if (isConflict(err)) {
        this.queue.add(KEY);
        return;
      }
      if (!isNotFound(err)) throw err;
    }
  }

  private async emit(e: PlannedEvent): Promise<void> {
    const t = new Date(this.now());
    const apiVersion = e.kind === 'Node' ? 'v1' : `${GROUP}/${VERSION}`;
    try {
      await this.o.clients.core.createNamespacedEvent({
        namespace: 'default',
        body: {
          metadata: { generateName: `${e.name}.`, namespace: 'default' },
          involvedObject: { apiVersion, kind: e.kind, name: e.name, ...(e.uid && { uid: e.uid }) },
          reason: e.reason,
          message: e.message,
          type: e.type,
          source: { component: 'mcgw-controller' },
          reportingComponent: 'mcgw.io/controller',
          reportingInstance: this.o.identity,
          firstTimestamp: t,
          lastTimestamp: t,
          count: 1,
        },
      });
      this.wrote('events', 'create');
    } catch (err) {
      // Events are best effort: losing one must not block placement.
      this.o.log.warn('could not record event', { reason: e.reason, error: apiMessage(err) });
    }
  }

  private wrote(resource: string, verb: 'create' | 'update' | 'delete' | 'status'): void {
    this.stats.writes++;
    this.o.metrics?.wrote(resource, verb);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.leading = false; // first, so giving the Lease up below is not reported as a lost election
    this.o.metrics?.leading(false);
    await this.elector?.stop();
    this.queue.shutDown();
    await this.workerDone;
    await Promise.all(Object.values(this.informers ?? {}).map((i) => i.stop()));
    await this.reportInformer?.stop();
  }
}

const exchange = (v: ExchangeView | undefined) => (v ? { exchange: v } : {});

function reportable(reason: string): boolean {
  return reason === 'NoGatewayIP' || reason === 'NoInternalIP' || reason === 'AddressUnusable';
}
