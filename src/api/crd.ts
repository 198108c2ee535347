// Turns kind definitions into CustomResourceDefinition objects, the form the apiserver validates with.
import { clusterGatewayKind } from './clustergateway.ts';
import { gatewayPolicyKind } from './gatewaypolicy.ts';
import { GROUP, VERSION } from './group.ts';
import type { KindDefinition } from './kind.ts';

export const KINDS: readonly KindDefinition[] = [gatewayPolicyKind, clusterGatewayKind];

export function crdFor(k: KindDefinition): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'mcgw' } },
    spec: {
      group: GROUP,
      names: {
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: k.plural,
        singular: k.singular,
        shortNames: k.shortNames,
        categories: ['mcgw'],
      },
      scope: k.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: k.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: k.description,
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: k.spec,
                status: k.status,
              },
              required: ['spec'],
              ...(k.rules && { 'x-kubernetes-validations': k.rules }),
            },
          },
        },
      ],
    },
  };
}

export function allCRDs(): Record<string, unknown>[] {
  return KINDS.map(crdFor);
}
