// What both kinds of lab read the same way: the mcgw objects of a member, whether the ClusterSet has
// converged, an agent's /metrics through the Unix socket of its Node's relay, and waiting for a
// condition with a deadline that names what was awaited.
import { get as httpGet } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/group.ts';
import type { ClusterGateway, GatewayPolicy, RemoteCluster } from '../api/types.ts';
import { rawRequest } from '../kube/raw.ts';
import { LabError } from './testbed.ts';
import type { Testbed, TestbedMember } from './testbed.ts';

const API = `/apis/${GROUP}/${VERSION}`;
/** The GatewayPolicy both labs create in every member. */
export const POLICY_NAME = 'default';

export async function readGateways(kc: KubeConfig): Promise<ClusterGateway[]> {
  return (await rawRequest<{ items: ClusterGateway[] }>(kc, 'GET', `${API}/clustergateways`)).items;
}

export function readPolicy(kc: KubeConfig): Promise<GatewayPolicy> {
  return rawRequest<GatewayPolicy>(kc, 'GET', `${API}/gatewaypolicies/${POLICY_NAME}`);
}

export async function readRemoteClusters(kc: KubeConfig): Promise<RemoteCluster[]> {
  return (await rawRequest<{ items: RemoteCluster[] }>(kc, 'GET', `${API}/remoteclusters`)).items;
}

/**
 * `ip -j route get` arguments for the test flow from `src` to `dst` (UDP, the traffic port both
 * ways, so an ECMP hash picks what the stream's packets get); `iif` for a source that is not local
 * (a pod behind its Node's bridge).
 */
export function flowRouteArgs(dst: string, src: string, port: number, iif?: string): string[] {
  const p = String(port);
  return [
    '-j',
    'route',
    'get',
    dst,
    'from',
    src,
    ...(iif ? ['iif', iif] : []),
    'ipproto',
    'udp',
    'sport',
    p,
    'dport',
    p,
  ];
}

/** Every member has its desired ready Gateways and imports every other member's. */
export async function converged(lab: Testbed): Promise<boolean> {
  for (const c of lab.plan.clusters) {
    const p = await lab.policy(c.id);
    if ((p.status?.readyInstances ?? 0) < lab.cfg.desired) return false;
    const remotes = await lab.remoteClusters(c.id);
    for (const o of lab.plan.clusters.filter((x) => x !== c)) {
      const r = remotes.find((x) => x.metadata.name === o.id);
      if (!r || (r.spec.gateways ?? []).filter((g) => g.ready).length < lab.cfg.desired) return false;
    }
  }
  return true;
}

/**
 * Polls `check` until it holds; resolves with the time that took. Errors of `check` count as "not
 * yet", and the last one is named when the deadline passes.
 */
export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
  pollMs = 200,
): Promise<number> {
  const began = Date.now();
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return Date.now() - began;
    } catch (err) {
      last = err;
    }
    if (Date.now() - began > timeoutMs)
      throw new LabError(
        `timed out after ${timeoutMs} ms waiting for ${what}` + (last ? `: ${(last as Error).message}` : ''),
      );
    await sleep(pollMs);
  }
}

function metricsOnce(socketPath: string, node: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ socketPath, path: '/metrics', timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new LabError(`agent ${node}: /metrics timed out`)));
    req.on('error', reject);
  });
}

/**
 * An agent's Prometheus text, read through its Node's relay. An agent that is (re)starting refuses
 * the relay's connection for a moment, so a refused or cut request is retried for 5 s.
 */
export async function agentMetricsVia(socketPath: string, node: string): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await metricsOnce(socketPath, node);
    } catch (err) {
      if (i >= 25) throw err;
      await sleep(200);
    }
  }
}

/**
 * The reads both labs do the same way, for a lab that says how to reach a member's apiserver and an
 * agent's relay socket.
 */
export abstract class LabReads {
  abstract member(id: string): TestbedMember;
  protected abstract agentSocket(n: { name: string }): string;

  gateways(clusterID: string): Promise<ClusterGateway[]> {
    return readGateways(this.member(clusterID).clients.kc);
  }

  policy(clusterID: string): Promise<GatewayPolicy> {
    return readPolicy(this.member(clusterID).clients.kc);
  }

  remoteClusters(clusterID: string): Promise<RemoteCluster[]> {
    return readRemoteClusters(this.member(clusterID).clients.kc);
  }

  waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<number> {
    return waitFor(what, timeoutMs, check);
  }

  /** The agent's Prometheus text, read through its Node's relay. */
  agentMetrics(n: { name: string }): Promise<string> {
    return agentMetricsVia(this.agentSocket(n), n.name);
  }
}
