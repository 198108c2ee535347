// Reports a local Gateway that BFD saw go Down to the controller, as an Event in mcgw-system
// (src/api/bfdreport.ts), so the controller can re-place it before its Lease expires.
//
// The data plane never waits on this: the agent calls report() and does not await it. Each report
// is one Lease read and one Event create, abandoned after a timeout. After a failure (apiserver down
// or slow) reports are dropped for a while rather than queued: a report is only worth anything
// within the Lease duration, and the controller fails a silent Lease without it anyway. Every Node
// that sees the failure derives the same Event name, so the first create wins and the rest get 409
// AlreadyExists, counted as `duplicate`: one report per failure, not one per Node.
//
// Loaded only with a kubeconfig, like kubesource.ts; its requests go through the small client
// (src/kube/lite), not client-node.
import { bfdDownEvent, bfdDownEventName } from '../api/bfdreport.ts';
import { SYSTEM_NAMESPACE, gatewayLeaseName } from '../api/group.ts';
import { diagName } from '../bfd/constants.ts';
import { renewalVersion } from '../lease/tracker.ts';
import { apiMessage, isConflict, isNotFound } from '../kube/errors.ts';
import type { KubeClient } from '../kube/lite/client.ts';
import type { AgentMetrics, ReportResult } from '../metrics/agent.ts';
import type { Logger } from '../util/log.ts';

export type { ReportResult };

/** The two calls a report makes; kubeReporterApi() is the real one, tests pass their own. */
export interface ReporterApi {
  /** The Gateway Lease's renewal (renewalVersion()) and uid, or undefined when there is no such Lease. */
  lease(gateway: string): Promise<{ renewal: string; uid?: string } | undefined>;
  /** Creates the Event in mcgw-system; false when one of that name exists already (409). */
  createEvent(body: ReturnType<typeof bfdDownEvent>): Promise<boolean>;
}

export interface ReporterOptions {
  /** This Node, the reporter. */
  node: string;
  api: ReporterApi;
  /** The uid of the ClusterGateway of a Gateway Node, from the agent's cache. */
  uidOf: (gateway: string) => string | undefined;
  log: Logger;
  metrics?: AgentMetrics;
  /** Give up waiting for a report after this long (default 5000 ms). */
  timeoutMs?: number;
  /** After a failed report, drop new ones for this long (default 10000 ms). */
  backoffMs?: number;
  /** Requests still unsettled (abandoned ones included) above which new reports are dropped (default 4). */
  maxPending?: number;
  now?: () => number;
}

export interface DownSeen {
  /** The Gateway's Node. */
  gateway: string;
  /** Its inner address and the BFD diagnostic, for the message. */
  inner?: string;
  diag?: number;
}

export class BfdDownReporter {
  private readonly inFlight = new Set<string>();
  private pending = 0;
  private quietUntil = 0;
  private failing = false;
  readonly counts: Record<ReportResult, number> = {
    sent: 0,
    duplicate: 0,
    'no-gateway': 0,
    'no-lease': 0,
    busy: 0,
    backoff: 0,
    error: 0,
  };
  private readonly now: () => number;

  constructor(private readonly o: ReporterOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Reports one Down; never rejects. The caller need not wait. */
  async report(d: DownSeen): Promise<ReportResult> {
    const r = await this.attempt(d);
    this.counts[r]++;
    this.o.metrics?.reported(r);
    return r;
  }

  private async attempt(d: DownSeen): Promise<ReportResult> {
    const { log } = this.o;
    if (this.now() < this.quietUntil) return 'backoff';
    const uid = this.o.uidOf(d.gateway);
    // Gone from the cache: the controller has already removed it.
    if (!uid) return 'no-gateway';
    if (this.inFlight.has(d.gateway) || this.pending >= (this.o.maxPending ?? 4)) return 'busy';
    this.inFlight.add(d.gateway);
    this.pending++;
    let name = '';
    const work = (async (): Promise<ReportResult> => {
      const lease = await this.o.api.lease(d.gateway);
      // A Gateway that never renewed is not judged by its Lease: a report would change nothing.
      if (!lease) return 'no-lease';
      const report = {
        gateway: d.gateway,
        uid,
        renewal: lease.renewal,
        reporter: this.o.node,
        ...(lease.uid && { leaseUid: lease.uid }),
      };
      name = bfdDownEventName(d.gateway, uid, lease.renewal);
      const detail = [
        d.diag !== undefined ? diagName(d.diag) : undefined,
        d.inner ? `inner address ${d.inner}` : undefined,
      ]
        .filter(Boolean)
        .join(', ');
      return (await this.o.api.createEvent(bfdDownEvent(report, detail || 'no diagnostic', this.now())))
        ? 'sent'
        : 'duplicate';
    })();
    // Settles even when abandoned below, so `pending` counts requests still using a connection.
    void work.then(
      () => this.pending--,
      () => this.pending--,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.o.timeoutMs ?? 5000;
    try {
      const r = await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          timer.unref();
        }),
      ]);
      if (this.failing) log.info('reporting BFD Downs works again');
      this.failing = false;
      if (r === 'sent') log.info('reported gateway BFD down', { gateway: d.gateway, event: name });
      else log.debug('gateway BFD down not reported', { gateway: d.gateway, result: r, event: name });
      return r;
    } catch (err) {
      this.quietUntil = this.now() + (this.o.backoffMs ?? 10_000);
      // Once per outage at warn; the apiserver being away is what the data plane is built for.
      (this.failing ? log.debug : log.warn)(
        'could not report gateway BFD down; dropping reports for a while',
        {
          gateway: d.gateway,
          error: apiMessage(err),
          quietForMs: this.o.backoffMs ?? 10_000,
        },
      );
      this.failing = true;
      return 'error';
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(d.gateway);
    }
  }
}

/**
 * The reporter's calls as plain JSON requests: the client destroys a request idle for 30 s, so an
 * abandoned one does not hold a connection for ever, and the Lease's renewTime stays a string.
 */
export function kubeReporterApi(client: KubeClient): ReporterApi {
  const ns = `/api/v1/namespaces/${SYSTEM_NAMESPACE}`;
  return {
    async lease(gateway) {
      try {
        const lease = await client.request<{
          spec?: { renewTime?: string };
          metadata?: { resourceVersion?: string; uid?: string };
        }>(
          'GET',
          `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases/${gatewayLeaseName(gateway)}`,
        );
        return { renewal: renewalVersion(lease), ...(lease.metadata?.uid && { uid: lease.metadata.uid }) };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async createEvent(body) {
      try {
        await client.request('POST', `${ns}/events`, { body });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    },
  };
}
