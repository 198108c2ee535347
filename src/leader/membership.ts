// Admits a member cluster to the ClusterSet: a namespace of its own in the leader cluster, a
// ServiceAccount that may write only its own export and heartbeat and read the shared imports, and a
// kubeconfig with that identity for the member to keep in a Secret.
import { readFileSync } from 'node:fs';
import type { V1ClusterRole, V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { CLUSTERSET_NAMESPACE, GROUP, MEMBER_LABEL, SYSTEM_NAMESPACE } from '../api/group.ts';
import type { Clients } from '../kube/client.ts';
import { ensureNamespace } from '../kube/crds.ts';
import { isConflict, isNotFound } from '../kube/errors.ts';

export const MEMBER_SA = 'mcgw-member';
export const memberNamespace = (clusterID: string): string => `mcgw-member-${clusterID}`;

async function createOrReplace(
  create: () => Promise<unknown>,
  replace: () => Promise<unknown>,
): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!isConflict(err)) throw err;
    await replace();
  }
}

export interface MemberCredentials {
  clusterID: string;
  namespace: string;
  kubeconfig: string;
}

/** Idempotent: re-running refreshes the roles and issues a new token. */
export async function addMember(
  leader: Clients,
  clusterID: string,
  expirationSeconds = 365 * 24 * 3600,
): Promise<MemberCredentials> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(clusterID) || clusterID.length > 50)
    throw new TypeError(`cluster ID "${clusterID}" must be a DNS label of at most 50 characters`);
  const ns = memberNamespace(clusterID);
  const { core } = leader;
  const rbac = leader.rbac;
  await ensureNamespace(leader, CLUSTERSET_NAMESPACE);
  await createOrReplace(
    () => core.createNamespace({ body: { metadata: { name: ns, labels: { [MEMBER_LABEL]: clusterID } } } }),
    async () => {
      const cur = await core.readNamespace({ name: ns });
      await core.replaceNamespace({
        name: ns,
        body: {
          ...cur,
          metadata: { ...cur.metadata, labels: { ...cur.metadata?.labels, [MEMBER_LABEL]: clusterID } },
        },
      });
    },
  );
  await createOrReplace(
    () => core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: MEMBER_SA } } }),
    async () => {},
  );
  // Its own namespace: its export and its heartbeat, nothing else. No status: Accepted is the leader's word.
  const role: V1Role = {
    metadata: { name: MEMBER_SA, namespace: ns },
    rules: [
      {
        apiGroups: [GROUP],
        resources: ['clusterexports'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ],
  };
  await createOrReplace(
    () => rbac.createNamespacedRole({ namespace: ns, body: role }),
    () => rbac.replaceNamespacedRole({ name: MEMBER_SA, namespace: ns, body: role }),
  );
  const binding = (
    name: string,
    namespace: string,
    roleKind: 'Role' | 'ClusterRole',
    roleName: string,
  ): V1RoleBinding => ({
    metadata: { name, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName },
    subjects: [{ kind: 'ServiceAccount', name: MEMBER_SA, namespace: ns }],
  });
  await createOrReplace(
    () =>
      rbac.createNamespacedRoleBinding({ namespace: ns, body: binding(MEMBER_SA, ns, 'Role', MEMBER_SA) }),
    () =>
      rbac.replaceNamespacedRoleBinding({
        name: MEMBER_SA,
        namespace: ns,
        body: binding(MEMBER_SA, ns, 'Role', MEMBER_SA),
      }),
  );
  // The shared namespace: read the imports.
  const reader: V1ClusterRole = {
    metadata: { name: 'mcgw-import-reader' },
    rules: [{ apiGroups: [GROUP], resources: ['clusterimports'], verbs: ['get', 'list', 'watch'] }],
  };
  // Created only when absent: the leader chart owns it (with its labels) when installed first.
  await createOrReplace(
    () => rbac.createClusterRole({ body: reader }),
    async () => {},
  );
  const rb = binding(`mcgw-member-${clusterID}`, CLUSTERSET_NAMESPACE, 'ClusterRole', 'mcgw-import-reader');
  await createOrReplace(
    () => rbac.createNamespacedRoleBinding({ namespace: CLUSTERSET_NAMESPACE, body: rb }),
    () =>
      rbac.replaceNamespacedRoleBinding({
        name: rb.metadata!.name!,
        namespace: CLUSTERSET_NAMESPACE,
        body: rb,
      }),
  );
  const tr = await core.createNamespacedServiceAccountToken({
    name: MEMBER_SA,
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`the leader cluster issued no token for ${ns}/${MEMBER_SA}`);
  const cluster = leader.kc.getCurrentCluster()!;
  const ca = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  const user = `${MEMBER_SA}@${clusterID}`;
  const kubeconfig = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'leader',
        cluster: { server: cluster.server, ...(ca && { 'certificate-authority-data': ca }) },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'leader', context: { cluster: 'leader', user, namespace: ns } }],
    'current-context': 'leader',
  });
  return { clusterID, namespace: ns, kubeconfig };
}

/** Stores a member's leader kubeconfig as the Secret its ClusterSetMember names. */
export async function storeLeaderSecret(
  member: Clients,
  secretName: string,
  kubeconfig: string,
): Promise<void> {
  await ensureNamespace(member, SYSTEM_NAMESPACE);
  const body = {
    metadata: { name: secretName, namespace: SYSTEM_NAMESPACE },
    type: 'Opaque',
    data: { kubeconfig: Buffer.from(kubeconfig).toString('base64') },
  };
  try {
    await member.core.replaceNamespacedSecret({ name: secretName, namespace: SYSTEM_NAMESPACE, body });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await member.core.createNamespacedSecret({ namespace: SYSTEM_NAMESPACE, body });
  }
}
