// Installs (or updates) mcgw's CRDs and waits until the apiserver serves them.
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { allCRDs } from '../api/crd.ts';
import type { Clients } from './client.ts';
import { isConflict, isNotFound } from './errors.ts';

export async function installCRDs(c: Clients, timeoutMs = 30_000): Promise<void> {
  for (const crd of allCRDs() as unknown as V1CustomResourceDefinition[]) {
    const name = crd.metadata!.name!;
    for (;;) {
      try {
        const cur = await c.apiext.readCustomResourceDefinition({ name });
        await c.apiext.replaceCustomResourceDefinition({
          name,
          body: { ...crd, metadata: { ...crd.metadata, resourceVersion: cur.metadata!.resourceVersion! } },
        });
        break;
      } catch (err) {
        if (isNotFound(err)) {
          await c.apiext.createCustomResourceDefinition({ body: crd });
          break;
        }
        if (!isConflict(err)) throw err;
      }
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of allCRDs() as unknown as V1CustomResourceDefinition[]) {
    const name = crd.metadata!.name!;
    for (;;) {
      const cur = await c.apiext.readCustomResourceDefinition({ name });
      if (cur.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
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
