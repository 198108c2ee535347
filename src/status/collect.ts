// Reads what `mcgw status` shows from one cluster. A cluster that cannot be used at all (apiserver
// unreachable, credentials refused, CRDs missing) is a StatusError with a message saying what to do.
// A section the identity may not read is a problem in the report, and the rest is still shown.
import type { KubeConfig } from '@kubernetes/client-node';
import {
  CLUSTERSET_NAMESPACE,
  GROUP,
  HEARTBEAT_LABEL,
  NODE_LABEL,
  SYSTEM_NAMESPACE,
  VERSION,
} from '../api/group.ts';
import type {
  ClusterExport,
  ClusterGateway,
  ClusterImport,
  ClusterSetMember,
  GatewayPolicy,
  RemoteCluster,
} from '../api/types.ts';
import { RawApiError } from '../kube/rawerror.ts';
import { apiRequest } from './kube.ts';
import { buildLeaderReport, buildMemberReport } from './report.ts';
import type { EventLike, LeaseLike } from './report.ts';
import type { StatusReport } from './types.ts';

/** The cluster cannot be inspected at all; the message says why and what to do. */
export class StatusError extends Error {
  override readonly name = 'StatusError';
}

export interface CollectOptions {
  kc: KubeConfig;
  /** Inspect the leader cluster of a ClusterSet rather than a member cluster. */
  leader?: boolean;
  /** Per request; default 5000 ms. */
  timeoutMs?: number;
  now?: () => number;
}

const MEMBER_RESOURCES = ['gatewaypolicies', 'clustergateways', 'clustersetmembers', 'remoteclusters'];
const LEADER_RESOURCES = ['clusterexports', 'clusterimports'];

interface Target {
  /** Plural, e.g. clustergateways. */
  resource: string;
  /** API group; '' for the core group. */
  group: string;
  namespace?: string;
  path: string;
}

const mcgw = (resource: string, namespace?: string): Target => ({
  resource,
  group: GROUP,
  ...(namespace && { namespace }),
  path: `/apis/${GROUP}/${VERSION}/${namespace ? `namespaces/${namespace}/` : ''}${resource}`,
});

function networkError(err: unknown): boolean {
  return !(err instanceof RawApiError) && err instanceof Error;
}

function reachMessage(server: string, err: unknown): string {
  const e = err as { code?: unknown; message?: string };
  const why =
    typeof e.code === 'string' && !e.message?.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
  return `cannot reach the apiserver at ${server} (${why}): check that the cluster is up and that the kubeconfig's server address is right`;
}

export async function collectStatus(o: CollectOptions): Promise<StatusReport> {
  const { kc } = o;
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  const timeoutMs = o.timeoutMs ?? 5000;
  const get = <T>(path: string) => apiRequest<T>(kc, 'GET', path, { timeoutMs });

  // Discovery first: it tells an unreachable apiserver, bad credentials and missing CRDs apart.
  let served: Set<string>;
  try {
    const d = await get<{ resources?: { name: string }[] }>(`/apis/${GROUP}/${VERSION}`);
    served = new Set((d.resources ?? []).map((r) => r.name));
  } catch (err) {
    if (networkError(err)) throw new StatusError(reachMessage(server, err));
    const code = (err as RawApiError).code;
    if (code === 404) served = new Set();
    else if (code === 401)
      throw new StatusError(
        `the apiserver at ${server} refused the kubeconfig's credentials (HTTP 401): they are invalid or expired`,
      );
    else if (code === 403)
      throw new StatusError(
        `your identity ${await identity(kc, err, timeoutMs)} may not read the API discovery of ${GROUP}; ask for the system:discovery ClusterRole, or use another --kubeconfig or --context`,
      );
    else throw new StatusError(`the apiserver at ${server} answered HTTP ${code}: ${(err as Error).message}`);
  }
  checkCRDs(served, !!o.leader);

  const problems: string[] = [];
  let who: Promise<string> | undefined;
  const read = async <T>(t: Target): Promise<T[] | undefined> => {
    try {
      return (await get<{ items?: T[] }>(t.path)).items ?? [];
    } catch (err) {
      if (err instanceof RawApiError && err.code === 403) {
        who ??= identity(kc, err, timeoutMs);
        problems.push(forbidden(await who, t));
      } else if (networkError(err)) problems.push(reachMessage(server, err));
      else problems.push(`could not list ${describe(t)}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const now = o.now ?? Date.now;

  if (o.leader) {
    const [exports, imports, heartbeats] = await Promise.all([
      read<ClusterExport>(mcgw('clusterexports')),
      read<ClusterImport>(mcgw('clusterimports', CLUSTERSET_NAMESPACE)),
      read<LeaseLike>({
        resource: 'leases',
        group: 'coordination.k8s.io',
        path: `/apis/coordination.k8s.io/v1/leases?labelSelector=${encodeURIComponent(HEARTBEAT_LABEL)}`,
      }),
    ]);
    return buildLeaderReport({ server, now: now(), exports, imports, heartbeats, problems });
  }
  const [members, policies, gateways, remotes, leases, events] = await Promise.all([
    read<ClusterSetMember>(mcgw('clustersetmembers')),
    read<GatewayPolicy>(mcgw('gatewaypolicies')),
    read<ClusterGateway>(mcgw('clustergateways')),
    read<RemoteCluster>(mcgw('remoteclusters')),
    read<LeaseLike>({
      resource: 'leases',
      group: 'coordination.k8s.io',
      namespace: SYSTEM_NAMESPACE,
      path: `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases?labelSelector=${encodeURIComponent(NODE_LABEL)}`,
    }),
    read<EventLike>({
      resource: 'events',
      group: '',
      namespace: 'default',
      path: `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('involvedObject.kind=GatewayPolicy')}`,
    }),
  ]);
  return buildMemberReport({
    server,
    now: now(),
    members,
    policies,
    gateways,
    remotes,
    leases,
    events,
    problems,
  });
}

/** Throws a StatusError naming what to install when the CRDs this mode reads are not served. */
export function checkCRDs(served: ReadonlySet<string>, leader: boolean): void {
  const need = leader ? LEADER_RESOURCES : MEMBER_RESOURCES;
  const other = leader ? MEMBER_RESOURCES : LEADER_RESOURCES;
  const missing = need.filter((r) => !served.has(r));
  if (!missing.length) return;
  const fix = leader ? 'run mcgw leader --install-crds' : 'run mcgw crds --apply';
  if (missing.length === need.length && other.some((r) => served.has(r)))
    throw new StatusError(
      leader
        ? `this cluster serves mcgw's member CRDs but not the leader's (${need.join(', ')}): it looks like a member cluster, so run mcgw status without --leader; if it is the leader cluster, ${fix}`
        : `this cluster serves mcgw's leader CRDs but not the member ones (${need.join(', ')}): it looks like the ClusterSet's leader cluster, so run mcgw status --leader; if it is a member cluster, ${fix}`,
    );
  if (missing.length === need.length)
    throw new StatusError(`mcgw CRDs are not installed in this cluster: ${fix}`);
  throw new StatusError(
    `some mcgw CRDs are not installed in this cluster (missing: ${missing.map((m) => `${m}.${GROUP}`).join(', ')}): ${fix}`,
  );
}

function describe(t: Target): string {
  return `${t.group ? `${t.resource}.${t.group}` : t.resource} ${t.namespace ? `in namespace ${t.namespace}` : '(cluster-wide)'}`;
}

/** The message for a 403 on listing `t`. */
export function forbidden(who: string, t: Target): string {
  const group = t.group ? `API group ${t.group}` : 'the core API group';
  const grant = t.namespace
    ? `grant it list on ${t.resource} in ${group} in namespace ${t.namespace} (a Role and RoleBinding)`
    : `grant it list on ${t.resource} in ${group} (a ClusterRole and ClusterRoleBinding)`;
  return `your identity ${who} may not list ${describe(t)}; ${grant}, or use another --kubeconfig or --context`;
}

/** Who the apiserver thinks we are: from a SelfSubjectReview, else from the 403 message. */
async function identity(kc: KubeConfig, err: unknown, timeoutMs: number): Promise<string> {
  try {
    const r = await apiRequest<{ status?: { userInfo?: { username?: string } } }>(
      kc,
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, timeoutMs },
    );
    const name = r.status?.userInfo?.username;
    if (name) return `"${name}"`;
  } catch {
    // older apiservers, or reviews not allowed: fall back to the message
  }
  const m = /User "([^"]+)"/.exec(err instanceof RawApiError ? err.message : String(err));
  return m ? `"${m[1]}"` : '(unknown)';
}
