// Builds the API clients mcgw uses from one kubeconfig.
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  ApiextensionsV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  apiext: ApiextensionsV1Api;
  rbac: RbacAuthorizationV1Api;
}

/** Loads a kubeconfig from a path, or from $KUBECONFIG / ~/.kube/config / in-cluster when none is given. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      path
        ? `kubeconfig ${path} names no current cluster`
        : 'no kubeconfig found: pass --kubeconfig or set KUBECONFIG',
    );
  }
  return pooled(kc);
}

/** The TLS material and endpoint options an agent is made for (what client-node passes it). */
type AgentOptions = Record<string, unknown>;
type AgentMaker = (cluster: unknown, options: AgentOptions) => HttpAgent | HttpsAgent;
const POOLED = Symbol('mcgw.pooled');
/** Agents kept per kubeconfig: one per distinct credential set (a rotated certificate adds one). */
const MAX_AGENTS = 4;

/**
 * Makes `kc` reuse its connections. client-node builds a new https.Agent for every request, so every
 * call (a Lease renewal, a status write) paid a TCP and TLS handshake on both ends: in the lab on
 * kubelet Nodes that was most of an idle controller's CPU, and the apiservers' too. The agent it
 * builds is replaced by a keep-alive one, shared by every request with the same options. Watches
 * hold their own connections as before. Returns `kc`; applying it twice changes nothing.
 */
export function pooled(kc: KubeConfig): KubeConfig {
  const self = kc as unknown as { createAgent: AgentMaker; [POOLED]?: true };
  if (self[POOLED]) return kc;
  const make = self.createAgent.bind(kc);
  const agents = new Map<string, HttpAgent | HttpsAgent>();
  self.createAgent = (cluster, options) => {
    const key = optionsKey(cluster, options);
    const hit = agents.get(key);
    if (hit) return hit;
    // What client-node would have made (proxies included), but kept alive and kept.
    const fresh = make(cluster, { ...options, keepAlive: true, scheduling: 'lifo' });
    agents.set(key, fresh);
    for (const [k, a] of agents) {
      if (agents.size <= MAX_AGENTS) break;
      agents.delete(k);
      a.destroy();
    }
    return fresh;
  };
  self[POOLED] = true;
  return kc;
}

function optionsKey(cluster: unknown, options: AgentOptions): string {
  const h = createHash('sha256');
  const c = (cluster ?? {}) as { server?: string; proxyUrl?: string };
  h.update(`${c.server ?? ''}\0${c.proxyUrl ?? ''}\0`);
  for (const k of Object.keys(options).sort()) {
    const v = options[k];
    if (v === undefined) continue;
    h.update(`${k}=`);
    h.update(Buffer.isBuffer(v) ? v : JSON.stringify(v));
    h.update('\0');
  }
  return h.digest('hex');
}

export function makeClients(kc: KubeConfig): Clients {
  pooled(kc);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
    apiext: kc.makeApiClient(ApiextensionsV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
  };
}
