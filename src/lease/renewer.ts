// Renews the Lease a Gateway instance uses to prove it is alive. The agent on a Gateway Node runs
// this; the controller fails an instance whose Lease it sees unchanged for leaseDurationMs.
//
// It needs only the three Lease calls of LeaseApi: client-node's CoordinationV1Api has them (the
// controllers, `mcgw lease`, `mcgw local`, the lab and tests), and so has src/kube/lite/lease.ts,
// which the agent uses so it never loads client-node.
import type { V1Lease } from '@kubernetes/client-node';
import { NODE_LABEL, SYSTEM_NAMESPACE, gatewayLeaseName } from '../api/group.ts';
import { apiMessage, isConflict, isNotFound } from '../kube/errors.ts';
import { microTime } from '../kube/microtime.ts';

/** The Lease calls the renewer makes, as client-node's CoordinationV1Api names them. */
export interface LeaseApi {
  readNamespacedLease(p: { name: string; namespace: string }): Promise<V1Lease>;
  createNamespacedLease(p: { namespace: string; body: V1Lease }): Promise<V1Lease>;
  replaceNamespacedLease(p: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease>;
}

export interface RenewerOptions {
  api: LeaseApi;
  node: string;
  namespace?: string;
  /** Lease name; default gateway-<node>. */
  leaseName?: string;
  /** Labels on the Lease when it is created; default mcgw.io/node=<node>. */
  labels?: Record<string, string>;
  renewIntervalMs?: number;
  leaseDurationMs?: number;
  /**
   * Annotations to carry on the Lease, asked for at every renewal (the agent's BFD summary rides
   * along this way: no extra write). Keys not returned are left as they are.
   */
  annotations?: () => Record<string, string>;
  /** Called after each successful renewal, with the time it took. */
  onRenew?: (tookMs: number) => void;
  onError?: (msg: string) => void;
}

export class LeaseRenewer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private cached: V1Lease | undefined;
  renewals = 0;
  failures = 0;

  constructor(private readonly o: RenewerOptions) {}

  get name(): string {
    return this.o.leaseName ?? gatewayLeaseName(this.o.node);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    const started = Date.now();
    try {
      await this.renewOnce();
      this.renewals++;
      this.o.onRenew?.(Date.now() - started);
    } catch (err) {
      this.failures++;
      this.cached = undefined;
      this.o.onError?.(`renewing Lease ${this.namespace}/${this.name}: ${apiMessage(err)}`);
    }
    if (this.stopped) return;
    // Keep a steady cadence: a slow write shortens the wait rather than stretching the period.
    const interval = this.o.renewIntervalMs ?? 1000;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, interval - (Date.now() - started)));
  }

  private get namespace(): string {
    return this.o.namespace ?? SYSTEM_NAMESPACE;
  }

  private annotate(current: Record<string, string> | undefined): Record<string, string> | undefined {
    const extra = this.o.annotations?.();
    return extra ? { ...current, ...extra } : current;
  }

  /** One renewal: update the cached Lease, re-reading it after a conflict, creating it if absent. */
  async renewOnce(): Promise<void> {
    const { api, node } = this.o;
    const namespace = this.namespace;
    const name = this.name;
    const spec = {
      holderIdentity: node,
      leaseDurationSeconds: Math.max(1, Math.ceil((this.o.leaseDurationMs ?? 3000) / 1000)),
      renewTime: microTime(Date.now()),
    };
    if (!this.cached) {
      try {
        this.cached = await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.cached = await api.createNamespacedLease({
          namespace,
          body: {
            metadata: {
              name,
              namespace,
              labels: {
                ...(this.o.labels ?? { [NODE_LABEL]: node }),
                'app.kubernetes.io/managed-by': 'mcgw',
              },
              annotations: this.annotate(undefined),
            },
            spec: { ...spec, acquireTime: spec.renewTime },
          },
        });
        return;
      }
    }
    try {
      this.cached = await api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...this.cached,
          metadata: {
            ...this.cached.metadata,
            annotations: this.annotate(this.cached.metadata?.annotations),
          },
          spec: { ...this.cached.spec, ...spec },
        },
      });
    } catch (err) {
      this.cached = undefined;
      if (isConflict(err) || isNotFound(err)) return this.renewOnce();
      throw err;
    }
  }
}
