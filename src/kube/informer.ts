// A list-watch cache that restarts itself after errors (the client library's stops for good) and
// tells when it has synced, so readiness can wait for it.
import { makeInformer } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export interface ResilientInformer<T> extends Cache<T> {
  readonly synced: Promise<void>;
  isSynced(): boolean;
  /**
   * Synced, and no list or watch has failed since the last successful list: the cache follows the
   * apiserver now. While it does not, an object's silence proves nothing (its updates may be lost).
   */
  isCurrent(): boolean;
  stop(): Promise<void>;
}

export interface InformerOptions {
  labelSelector?: string;
  onChange: (kind: 'add' | 'update' | 'delete', obj: KubernetesObject) => void;
  onError?: (err: unknown, retryInMs: number) => void;
  /** Called when a list succeeds again after errors: the cache is current once more. */
  onRecover?: () => void;
  maxBackoffMs?: number;
}

/** A watch that stayed connected this long without an error resets the retry backoff. */
export const STABLE_WATCH_MS = 10_000;

export function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  opts: InformerOptions,
): ResilientInformer<T> {
  const inf = makeInformer<T>(kc, path, list, opts.labelSelector);
  let stopped = false;
  let synced = false;
  let backoff = 200;
  let timer: NodeJS.Timeout | undefined;
  let resolveSynced!: () => void;
  const syncedP = new Promise<void>((r) => (resolveSynced = r));

  inf.on('add', (o) => opts.onChange('add', o));
  inf.on('update', (o) => opts.onChange('update', o));
  inf.on('delete', (o) => opts.onChange('delete', o));
  // The backoff starts over only after a watch that held: one that connects and fails at once (an
  // apiserver that accepts connections but is not serving yet) must not reset it, or every
  // informer retries and logs five times a second for as long as that lasts.
  let connectedAt: number | undefined;
  inf.on('connect', () => {
    connectedAt = Date.now();
  });
  let errors = 0;
  let failedSinceSync = false;
  inf.on('error', (err) => {
    errors++;
    failedSinceSync = true;
    if (connectedAt !== undefined && Date.now() - connectedAt >= STABLE_WATCH_MS) backoff = 200;
    connectedAt = undefined;
    if (stopped) return;
    const wait = backoff;
    backoff = Math.min(backoff * 2, opts.maxBackoffMs ?? 5000);
    opts.onError?.(err, wait);
    timer = setTimeout(() => void begin(), wait);
  });

  const begin = async () => {
    if (stopped) return;
    const before = errors;
    try {
      await inf.start();
      // start() resolves even when its list failed; the error callback has then scheduled a retry.
      if (errors === before) {
        if (!synced) {
          synced = true;
          resolveSynced();
        } else if (failedSinceSync) opts.onRecover?.();
        failedSinceSync = false;
      }
    } catch (err) {
      if (!stopped && errors === before) {
        opts.onError?.(err, backoff);
        timer = setTimeout(() => void begin(), backoff);
        backoff = Math.min(backoff * 2, opts.maxBackoffMs ?? 5000);
      }
    }
  };
  void begin();

  return {
    synced: syncedP,
    isSynced: () => synced,
    isCurrent: () => synced && !failedSinceSync,
    get: (name, ns) => inf.get(name, ns),
    list: (ns) => inf.list(ns),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inf.stop();
    },
  };
}
