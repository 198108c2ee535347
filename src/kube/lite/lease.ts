// The Lease calls LeaseRenewer makes (src/lease/renewer.ts LeaseApi), over the small client. Times
// stay the strings the apiserver sent: a MicroTime read back is written back unchanged.
import type { V1Lease } from '@kubernetes/client-node';
import type { LeaseApi } from '../../lease/renewer.ts';
import type { KubeClient } from './client.ts';

const leases = (namespace: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
const typed = (body: V1Lease): V1Lease => ({ ...body, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });

export function liteLeaseApi(client: KubeClient): LeaseApi {
  return {
    readNamespacedLease: ({ name, namespace }) =>
      client.request<V1Lease>('GET', `${leases(namespace)}/${encodeURIComponent(name)}`),
    createNamespacedLease: ({ namespace, body }) =>
      client.request<V1Lease>('POST', leases(namespace), { body: typed(body) }),
    replaceNamespacedLease: ({ name, namespace, body }) =>
      client.request<V1Lease>('PUT', `${leases(namespace)}/${encodeURIComponent(name)}`, {
        body: typed(body),
      }),
  };
}
