// Lease-based leader election, the same protocol as client-go's: the holder renews
// coordination.k8s.io Lease every retry period; a candidate takes over only after it has seen the
// Lease unchanged for a whole lease duration by its own clock. Writes carry the resourceVersion
// read, so two candidates can never both believe they won.
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound, apiMessage } from './errors.ts';
import { microTime } from './microtime.ts';

export interface LeaderElectionOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onError?: (msg: string) => void;
  now?: () => number;
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectionOptions, 'onError'>> &
    Pick<LeaderElectionOptions, 'onError'>;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private observed: { version: string; at: number } | undefined;
  private lastRenew = 0;

  constructor(opts: LeaderElectionOptions) {
    this.o = {
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 1000,
      now: Date.now,
      ...opts,
    };
    if (this.o.renewDeadlineMs >= this.o.leaseDurationMs)
      throw new RangeError('renewDeadlineMs must be shorter than leaseDurationMs');
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    const ok = await this.tryAcquireOrRenew();
    const now = this.o.now();
    if (ok) {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.o.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew >= this.o.renewDeadlineMs) {
      // Could not renew in time: another candidate may take over soon, so stop acting now.
      this.leading = false;
      this.o.onStoppedLeading();
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.loop(), this.o.retryPeriodMs);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity } = this.o;
    const now = this.o.now();
    const spec = (prev?: V1Lease['spec']) => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
      acquireTime: prev?.holderIdentity === identity && prev.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (prev?.holderIdentity === identity ? 0 : 1),
    });
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) {
        this.o.onError?.(`reading election Lease: ${apiMessage(err)}`);
        return false;
      }
      try {
        await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec() } });
        return true;
      } catch (e) {
        if (!isConflict(e)) this.o.onError?.(`creating election Lease: ${apiMessage(e)}`);
        return false;
      }
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const version = `${holder}|${String(lease.spec?.renewTime ?? '')}`;
    if (this.observed?.version !== version) this.observed = { version, at: now };
    const expired = holder === '' || now - this.observed.at >= this.o.leaseDurationMs;
    if (holder !== identity && !expired) return false;
    try {
      await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: spec(lease.spec) } });
      return true;
    } catch (err) {
      if (!isConflict(err)) this.o.onError?.(`updating election Lease: ${apiMessage(err)}`);
      return false;
    }
  }

  /** Stops campaigning; if leading, gives the Lease up so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    const { api, namespace, name, identity } = this.o;
    try {
      const lease = await api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity === identity) {
        await api.replaceNamespacedLease({
          name,
          namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
        });
      }
    } catch (err) {
      this.o.onError?.(`releasing election Lease: ${apiMessage(err)}`);
    }
    this.o.onStoppedLeading();
  }
}
