// A small Kubernetes API client: JSON requests and watch streams over node:https with one keep-alive
// connection pool. The agent uses it instead of @kubernetes/client-node, whose code alone costs
// about 60 MiB of resident memory (docs/BENCHMARKS.md, Agent); the controllers keep client-node.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, RequestOptions as HttpRequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ClusterConfig } from './config.ts';
import { loadClusterConfig } from './config.ts';
import { KubeApiError } from './errors.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** Give up when the connection is idle this long (default: the client's, 30 s). */
  timeoutMs?: number;
  /** For PATCH: application/merge-patch+json (default), application/json-patch+json, ... */
  contentType?: string;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchHandle {
  /**
   * Resolves when the apiserver ends the stream cleanly (its timeoutSeconds) or stop() is called;
   * rejects with KubeApiError when the watch is refused, or an Error when the stream is cut.
   */
  readonly done: Promise<void>;
  stop(): void;
}

export interface ClientOptions {
  /** Default idle timeout of a request (30 s). */
  timeoutMs?: number;
  /** Sent as User-Agent; the apiserver names managedFields entries after it (default mcgw). */
  userAgent?: string;
}

const NETWORK_RETRY = new Set(['ECONNRESET', 'EPIPE']);

export class KubeClient {
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(
    readonly config: ClusterConfig,
    o: ClientOptions = {},
  ) {
    this.base = new URL(config.server);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:')
      throw new Error(`${config.source}: server ${config.server} is not an http(s) URL`);
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.userAgent = o.userAgent ?? 'mcgw';
    const https = this.base.protocol === 'https:';
    this.send = https ? (httpsRequest as typeof httpRequest) : httpRequest;
    this.agent = https
      ? new HttpsAgent({
          keepAlive: true,
          ...(config.ca && { ca: config.ca }),
          ...(config.cert && { cert: config.cert }),
          ...(config.key && { key: config.key }),
          rejectUnauthorized: !config.insecureSkipTLSVerify,
          ...(config.tlsServerName && { servername: config.tlsServerName }),
        })
      : new HttpAgent({ keepAlive: true });
  }

  /** A client from a kubeconfig path, else $KUBECONFIG, ~/.kube/config or the in-cluster account. */
  static async load(path?: string, o: ClientOptions = {}): Promise<KubeClient> {
    return new KubeClient(await loadClusterConfig(path), o);
  }

  get server(): string {
    return this.config.server;
  }

  private options(method: Method, path: string, query: Query | undefined, headers: Record<string, string>) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const q = qs.toString();
    const auth = this.config.authorization?.();
    const opts: HttpRequestOptions = {
      method,
      protocol: this.base.protocol,
      hostname: this.base.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: this.base.port,
      path: `${this.base.pathname.replace(/\/$/, '')}${path}${q ? (path.includes('?') ? '&' : '?') + q : ''}`,
      agent: this.agent,
      headers: {
        accept: 'application/json',
        'user-agent': this.userAgent,
        ...(auth && { authorization: auth }),
        ...headers,
      },
    };
    return opts;
  }

  /** Opens a request; retries once when a pooled keep-alive connection turns out to be closed. */
  private open(
    opts: HttpRequestOptions,
    payload: string | undefined,
    timeoutMs: number,
    onResponse: (res: IncomingMessage) => void,
    onError: (err: Error) => void,
    onRequest?: (req: ClientRequest) => void,
    retried = false,
  ): void {
    let responded = false;
    const req = this.send(opts, (res) => {
      responded = true;
      onResponse(res);
    });
    onRequest?.(req);
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Only before any answer: the server closed an idle pooled connection as we reused it.
      if (!retried && !responded && req.reusedSocket && err.code && NETWORK_RETRY.has(err.code))
        this.open(opts, payload, timeoutMs, onResponse, onError, onRequest, true);
      else onError(err);
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`${opts.method} ${opts.path}: no answer within ${timeoutMs} ms`)),
    );
    req.end(payload);
  }

  /** One JSON request; rejects with KubeApiError outside 2xx. */
  request<T = unknown>(method: Method, path: string, o: RequestOptions = {}): Promise<T> {
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    const opts = this.options(
      method,
      path,
      o.query,
      payload === undefined
        ? {}
        : {
            'content-type':
              o.contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json'),
          },
    );
    return new Promise<T>((resolve, reject) => {
      this.open(
        opts,
        payload,
        o.timeoutMs ?? this.timeoutMs,
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code < 200 || code >= 300) {
              if (code === 401) this.config.onUnauthorized?.();
              return reject(new KubeApiError(code, text, method, path));
            }
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch {
              reject(new Error(`${method} ${path}: the answer is not JSON: ${text.slice(0, 200)}`));
            }
          });
        },
        reject,
      );
    });
  }

  /**
   * A watch stream (GET path?watch=1&...): onEvent gets each event in order. `idleTimeoutMs` cuts a
   * stream that has been silent that long (set it above the watch's timeoutSeconds).
   */
  watch<T>(
    path: string,
    query: Query,
    onEvent: (e: WatchEvent<T>) => void,
    o: { idleTimeoutMs?: number } = {},
  ): WatchHandle {
    let req: ClientRequest | undefined;
    let stopped = false;
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const finish = (err?: Error) => {
      const s = settle;
      settle = undefined;
      if (!s) return;
      if (err && !stopped) s.reject(err);
      else s.resolve();
    };
    const opts = this.options('GET', path, { ...query, watch: 1 }, {});
    this.open(
      opts,
      undefined,
      o.idleTimeoutMs ?? 600_000,
      (res) => {
        const code = res.statusCode ?? 0;
        if (code < 200 || code >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('error', (e) => finish(e));
          res.on('end', () => {
            if (code === 401) this.config.onUnauthorized?.();
            finish(new KubeApiError(code, Buffer.concat(chunks).toString('utf8'), 'GET', path));
          });
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line || stopped) continue;
            let ev: WatchEvent<T>;
            try {
              ev = JSON.parse(line) as WatchEvent<T>;
            } catch {
              req?.destroy(new Error(`GET ${path}: watch event is not JSON: ${line.slice(0, 200)}`));
              return;
            }
            onEvent(ev);
          }
        });
        res.on('error', (e) => finish(new Error(`GET ${path}: the watch stream was cut: ${e.message}`)));
        res.on('close', () =>
          finish(res.complete ? undefined : new Error(`GET ${path}: the watch stream was cut`)),
        );
      },
      (e) => finish(e),
      (r) => {
        req = r;
        if (stopped) r.destroy();
      },
    );
    return {
      done,
      stop() {
        if (stopped) return;
        stopped = true;
        req?.destroy();
        finish();
      },
    };
  }

  /** Closes the pooled connections (open watches are not affected: stop them first). */
  close(): void {
    this.agent.destroy();
  }
}
