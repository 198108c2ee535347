// A list+watch cache over the small client, with the behaviour src/kube/informer.ts gives the
// controllers: it never gives up, and while the apiserver is away it keeps the last known objects.
//
// It lists, then watches from the list's resourceVersion with bookmarks. When the apiserver ends a
// watch at its timeoutSeconds, it watches again from the last resourceVersion seen; on 410 Gone (that
// version is no longer kept) it lists again at once, and so it does after a watch that ended early
// without an error (an apiserver shutting down). After any error (apiserver down, connection cut,
// watch refused) it waits (200 ms, doubling up to maxBackoffMs) and lists again; the new list is
// compared with the cache, so deletions while it was away arrive as deletes and onRecover follows.
import type { ResilientInformer } from '../informer.ts';
import type { KubeClient, WatchEvent, WatchHandle } from './client.ts';
import { KubeApiError } from './errors.ts';

export interface LiteObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; managedFields?: unknown };
}

export interface ListWatchOptions<T> {
  labelSelector?: string;
  fieldSelector?: string;
  onChange?: (kind: 'add' | 'update' | 'delete', obj: T) => void;
  onError?: (err: unknown, retryInMs: number) => void;
  /** Called when a list succeeds again after errors: the cache is current once more. */
  onRecover?: () => void;
  /** First wait after an error; doubled per failure up to maxBackoffMs (default 200 / 2000 ms). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** The apiserver ends each watch after this long; default 300-600 s, random per watch. */
  watchTimeoutSeconds?: number;
  /** What is kept of each object; default: all but metadata.managedFields. */
  transform?: (obj: T) => T;
}

export interface ListWatchStats {
  lists: number;
  watches: number;
  /** Lists made because the watch's resourceVersion was gone (410). */
  gone: number;
  errors: number;
}

export interface ListWatch<T> extends ResilientInformer<T> {
  stats(): ListWatchStats;
}

const dropManagedFields = <T extends LiteObject>(o: T): T => {
  if (o.metadata?.managedFields) delete o.metadata.managedFields;
  return o;
};

const keyOf = (o: LiteObject) =>
  o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? '');

/** Starts listing and watching `path` (a collection, e.g. /api/v1/nodes) at once. */
export function startListWatch<T extends LiteObject>(
  client: KubeClient,
  path: string,
  o: ListWatchOptions<T> = {},
): ListWatch<T> {
  const transform = o.transform ?? dropManagedFields;
  const minBackoff = o.minBackoffMs ?? 200;
  const maxBackoff = o.maxBackoffMs ?? 2000;
  const selectors = {
    ...(o.labelSelector && { labelSelector: o.labelSelector }),
    ...(o.fieldSelector && { fieldSelector: o.fieldSelector }),
  };
  const stats: ListWatchStats = { lists: 0, watches: 0, gone: 0, errors: 0 };
  let cache = new Map<string, T>();
  let stopped = false;
  let synced = false;
  let failed = false;
  let backoff = minBackoff;
  let watch: WatchHandle | undefined;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let resolveSynced!: () => void;
  const syncedP = new Promise<void>((r) => (resolveSynced = r));

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });

  const replace = (items: T[]) => {
    const next = new Map<string, T>();
    for (const item of items) {
      const t = transform(item);
      next.set(keyOf(t), t);
    }
    const old = cache;
    cache = next;
    for (const [k, prev] of old) if (!next.has(k)) o.onChange?.('delete', prev);
    for (const [k, obj] of next) {
      const prev = old.get(k);
      if (!prev) o.onChange?.('add', obj);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) o.onChange?.('update', obj);
    }
  };

  /** One watch from `rv`: the last resourceVersion seen, or undefined when it is gone (410). */
  const watchOnce = async (
    rv: string,
  ): Promise<{ rv: string | undefined; events: number; ms: number; timeoutSeconds: number }> => {
    const timeoutSeconds = o.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
    const started = Date.now();
    let events = 0;
    let last = rv;
    let failure: Error | undefined;
    let gone = false;
    stats.watches++;
    const h = client.watch<T>(
      path,
      { ...selectors, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds },
      (ev: WatchEvent<T>) => {
        if (stopped || gone || failure) return;
        if (ev.type === 'ERROR') {
          const status = ev.object as { code?: number };
          if (status.code === 410) gone = true;
          else
            failure = new KubeApiError(
              status.code ?? 500,
              JSON.stringify(ev.object),
              'GET',
              `${path} (watch)`,
            );
          h.stop();
          return;
        }
        const obj = ev.object;
        if (obj.metadata?.resourceVersion) last = obj.metadata.resourceVersion;
        if (ev.type === 'BOOKMARK') return;
        events++;
        // A watch that delivers is a working connection again.
        backoff = minBackoff;
        const t = transform(obj);
        const k = keyOf(t);
        if (ev.type === 'DELETED') {
          const prev = cache.get(k);
          cache.delete(k);
          o.onChange?.('delete', prev ?? t);
        } else {
          const had = cache.has(k);
          cache.set(k, t);
          o.onChange?.(had ? 'update' : 'add', t);
        }
      },
      { idleTimeoutMs: (timeoutSeconds + 60) * 1000 },
    );
    watch = h;
    try {
      await h.done;
    } finally {
      watch = undefined;
    }
    if (failure) throw failure;
    return { rv: gone ? undefined : last, events, ms: Date.now() - started, timeoutSeconds };
  };

  const run = async () => {
    let rv: string | undefined;
    // When the current watch began: one that ran for a while before it failed starts the backoff over.
    let watchedSince = 0;
    while (!stopped) {
      try {
        if (rv === undefined) {
          watchedSince = 0;
          const list = await client.request<{ metadata?: { resourceVersion?: string }; items?: T[] }>(
            'GET',
            path,
            { query: selectors },
          );
          if (stopped) return;
          stats.lists++;
          replace(list.items ?? []);
          rv = list.metadata?.resourceVersion ?? '';
          if (!synced) {
            synced = true;
            resolveSynced();
          } else if (failed) o.onRecover?.();
          failed = false;
        }
        watchedSince = Date.now();
        const r = await watchOnce(rv);
        if (stopped) return;
        if (r.rv === undefined) {
          stats.gone++;
          rv = undefined;
          continue;
        }
        rv = r.rv;
        // Its own timeout ended it: carry on from where it was. Otherwise (an apiserver shutting
        // down, a proxy) list again, after a pause if that keeps happening at once.
        if (r.ms >= (r.timeoutSeconds - 1) * 1000) continue;
        rv = undefined;
        if (r.events === 0 && r.ms < 1000) {
          await pause(backoff);
          backoff = Math.min(backoff * 2, maxBackoff);
        }
      } catch (err) {
        if (stopped) return;
        rv = undefined;
        if (err instanceof KubeApiError && err.code === 410) {
          stats.gone++;
          continue;
        }
        stats.errors++;
        failed = true;
        if (watchedSince && Date.now() - watchedSince > 30_000) backoff = minBackoff;
        watchedSince = 0;
        const wait = backoff;
        backoff = Math.min(backoff * 2, maxBackoff);
        o.onError?.(err, wait);
        await pause(wait);
      }
    }
  };
  void run();

  return {
    synced: syncedP,
    isSynced: () => synced,
    isCurrent: () => synced && !failed,
    get: (name, ns) => cache.get(ns ? `${ns}/${name}` : name),
    list: (ns) => {
      const all = [...cache.values()];
      return ns === undefined ? all : all.filter((x) => x.metadata?.namespace === ns);
    },
    stats: () => ({ ...stats }),
    async stop() {
      stopped = true;
      watch?.stop();
      if (timer) clearTimeout(timer);
      wake?.();
    },
  };
}
