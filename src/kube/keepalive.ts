// Kept-alive connections for client-node's typed API calls and for raw requests.
//
// client-node builds a new https.Agent for every request, so every call (a Lease renewal, a status
// write) paid a TCP and TLS handshake on both ends: on kubelet Nodes that was most of an idle
// controller's CPU, and much of the apiservers'. Handing its node-fetch a kept-alive agent is not
// the fix: node-fetch 2 reports a false "Premature close" when a kept-alive socket is reused before
// the last response on it has closed (node-fetch/node-fetch#1767), and in the lab a controller so
// patched failed every read for 20 minutes after its apiserver restarted. So typed calls go through
// an HTTP library of our own on node:https (client-node lets a configuration name one), with one
// kept-alive agent per set of credentials. Watches keep client-node's own path: each holds its
// connection for minutes, so a handshake per watch costs nothing that matters.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  createConfiguration,
  KubeConfig,
  ResponseContext,
  SelfDecodingBody,
  ServerConfiguration,
  wrapHttpLibrary,
} from '@kubernetes/client-node';
import type { RequestContext } from '@kubernetes/client-node';

/** How long one typed call may take before it fails (as rawRequest; node-fetch had no limit). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Agents kept per kubeconfig: one per distinct credential set (a rotated certificate adds one). */
const MAX_AGENTS = 4;
const POOLED = Symbol('mcgw.pooled');

/** TLS options of an https.Agent that decide whom it talks to and as whom. */
const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

class AgentPool {
  private readonly agents = new Map<string, HttpsAgent>();

  /**
   * A kept-alive agent with the TLS options of `fresh` (the one client-node made for a request), or
   * `fresh` itself when it is not a plain https.Agent (a proxy agent: it keeps its own ways).
   */
  like<A>(fresh: A): A | HttpsAgent {
    const given: unknown = fresh;
    if (!(given instanceof HttpsAgent) || given.constructor !== HttpsAgent) return fresh;
    const opts = given.options as Record<string, unknown>;
    const h = createHash('sha256');
    for (const k of TLS_KEYS) {
      const v = opts[k];
      h.update(`${k}=`);
      if (v !== undefined) h.update(Buffer.isBuffer(v) ? v : JSON.stringify(v));
      h.update('\0');
    }
    const key = h.digest('hex');
    let agent = this.agents.get(key);
    if (!agent) {
      const tls = Object.fromEntries(TLS_KEYS.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]));
      agent = new HttpsAgent({ ...tls, keepAlive: true, scheduling: 'lifo' });
      this.agents.set(key, agent);
      for (const [k, a] of this.agents) {
        if (this.agents.size <= MAX_AGENTS) break;
        this.agents.delete(k);
        a.destroy();
      }
    }
    // The request's own agent holds no socket yet; nothing to close.
    return agent;
  }
}

const flatHeaders = (h: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(
    Object.entries(h).flatMap(([k, v]) =>
      v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]],
    ),
  );

/** Sends one typed call on node:https through the pool. */
function send(pool: AgentPool, ctx: RequestContext): Promise<ResponseContext> {
  const url = new URL(ctx.getUrl());
  const body = ctx.getBody();
  if (body !== undefined && typeof body !== 'string')
    return Promise.reject(new Error(`${ctx.getHttpMethod()} ${url.pathname}: a form body is not supported`));
  // Plain http only where the kubeconfig allows it (client-node refuses it without skipTLSVerify).
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: ctx.getHttpMethod(),
        headers: ctx.getHeaders(),
        agent: pool.like(ctx.getAgent()),
        signal: ctx.getSignal(),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('error', reject);
        res.on('end', () =>
          resolve(
            new ResponseContext(
              res.statusCode ?? 0,
              flatHeaders(res.headers),
              new SelfDecodingBody(Promise.resolve(Buffer.concat(chunks))),
            ),
          ),
        );
      },
    );
    req.on('error', (err) =>
      reject(new Error(`request to ${url.href} failed, reason: ${err.message}`, { cause: err })),
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(new Error(`timed out after ${REQUEST_TIMEOUT_MS} ms`)),
    );
    req.end(body);
  });
}

const pools = new WeakMap<KubeConfig, AgentPool>();

/** The kept-alive agent for `kc` with the TLS options of `fresh` (rawRequest uses it). */
export function keptAlive<A>(kc: KubeConfig, fresh: A): A | HttpsAgent {
  let pool = pools.get(kc);
  if (!pool) pools.set(kc, (pool = new AgentPool()));
  return pool.like(fresh);
}

/**
 * Makes the API clients `kc.makeApiClient` returns send through kept-alive connections. Returns
 * `kc`; applying it twice changes nothing.
 */
export function pooled(kc: KubeConfig): KubeConfig {
  const self = kc as KubeConfig & { [POOLED]?: true };
  if (self[POOLED]) return kc;
  const httpApi = wrapHttpLibrary({
    send: (ctx) => {
      let pool = pools.get(kc);
      if (!pool) pools.set(kc, (pool = new AgentPool()));
      return send(pool, ctx);
    },
  });
  kc.makeApiClient = <T>(apiClientType: new (config: ReturnType<typeof createConfiguration>) => T): T => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    return new apiClientType(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: kc },
        httpApi,
      }),
    );
  };
  self[POOLED] = true;
  return kc;
}
