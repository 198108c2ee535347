// Installs (or updates) mcgw's CRDs and waits until the apiserver serves them.
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { ALL_KINDS, allCRDs } from '../api/crd.ts';
import { GROUP, VERSION } from '../api/group.ts';
import type { Clients } from './client.ts';
import { isConflict, isNotFound, statusCode } from './errors.ts';
import { rawRequest } from './raw.ts';

/** Installs the CRDs of a member cluster (default) or of the leader cluster. */
export async function installCRDs(
  c: Clients,
  role: 'member' | 'leader' = 'member',
  timeoutMs = 30_000,
): Promise<void> {
  const base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  // Raw JSON, not the typed client: its serializer would drop enum, default and CEL rules.
  for (const crd of allCRDs(role) as unknown as V1CustomResourceDefinition[]) {
    const name = crd.metadata!.name!;
    for (;;) {
      try {
        const cur = await rawRequest<V1CustomResourceDefinition>(c.kc, 'GET', `${base}/${name}`);
        await rawRequest(c.kc, 'PUT', `${base}/${name}`, {
          ...crd,
          metadata: { ...crd.metadata, resourceVersion: cur.metadata!.resourceVersion! },
        });
        break;
      } catch (err) {
        if (isNotFound(err)) {
          await rawRequest(c.kc, 'POST', base, crd);
          break;
        }
        if (!isConflict(err)) throw err;
      }
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of allCRDs(role) as unknown as V1CustomResourceDefinition[]) {
    const name = crd.metadata!.name!;
    for (;;) {
      const cur = await c.apiext.readCustomResourceDefinition({ name });
      if (cur.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Established is not yet served: until its storage has initialised the apiserver answers 429
    // to lists and holds writes back, so wait for a list to succeed before anyone relies on it.
    const k = ALL_KINDS.find((x) => `${x.plural}.${GROUP}` === name)!;
    for (;;) {
      try {
        await c.custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: k.plural,
          limit: 1,
        });
        break;
      } catch (err) {
        if (statusCode(err) !== 429 || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // The first write to a new CRD is held back for about 2 s while the apiserver finishes setting it
    // up; a dry-run create takes that wait here, so the first real object is written at once.
    const probe = {
      group: GROUP,
      version: VERSION,
      plural: k.plural,
      body: probeObject(k.kind),
      dryRun: 'All',
    };
    if (k.scope === 'Namespaced')
      await c.custom.createNamespacedCustomObject({ ...probe, namespace: 'default' });
    else await c.custom.createClusterCustomObject(probe);
  }
}

/** A valid object of each kind, for the dry-run warm-up. */
function probeObject(kind: string): Record<string, unknown> {
  const info = {
    clusterID: 'mcgw-probe',
    mode: 'ActiveStandby',
    gateways: [],
    podCIDRs: [],
    serviceCIDRs: [],
    tunnel: {},
  };
  const specs: Record<string, unknown> = {
    ClusterGateway: {
      nodeName: 'mcgw-probe',
      gatewayIP: '198.18.0.1',
      internalIP: '198.18.0.1',
      priority: 1,
    },
    ClusterSetMember: { clusterID: 'mcgw-probe', leader: { secretName: 'x', namespace: 'x' }, podCIDRs: [] },
    ClusterExport: info,
    ClusterImport: info,
    RemoteCluster: info,
  };
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind,
    metadata: { name: 'mcgw-probe' },
    spec: specs[kind] ?? {},
  };
}

export async function ensureNamespace(c: Clients, name: string): Promise<void> {
  try {
    await c.core.readNamespace({ name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await c.core.createNamespace({ body: { metadata: { name } } });
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }
}
