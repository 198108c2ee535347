// A work queue in the manner of client-go's: a key is queued at most once, a key being processed is
// never handed to a second worker, a key added while processing is processed again afterwards, and
// failures are retried with per-key exponential backoff. Timers come from an injectable clock.

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  timers?: Timers;
}

export class WorkQueue<K> {
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly delayed = new Map<K, { at: number; handle: unknown }>();
  private readonly waiters: ((k: K | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly base: number;
  private readonly max: number;
  private readonly timers: Timers;

  constructor(opts: WorkQueueOptions = {}) {
    this.base = opts.baseDelayMs ?? 50;
    this.max = opts.maxDelayMs ?? 30_000;
    this.timers = opts.timers ?? realTimers;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // picked up again by done()
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
    } else this.queue.push(key);
  }

  /** Adds the key after ms; an earlier pending delay for the same key wins. */
  addAfter(key: K, ms: number, now = Date.now()): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = now + ms;
    const prev = this.delayed.get(key);
    if (prev && prev.at <= at) return;
    if (prev) this.timers.clearTimeout(prev.handle);
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Re-adds a key that failed, waiting longer after each consecutive failure. */
  addRateLimited(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.base * 2 ** n, this.max);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count after it succeeded. */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** Resolves with the next key, or undefined once shut down. */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((r) => this.waiters.push(r));
  }

  /** Marks a key finished; if it was added meanwhile, it goes back in the queue. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  get length(): number {
    return this.queue.length;
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
