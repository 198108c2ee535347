// Turns kind definitions into CustomResourceDefinition objects, the form the apiserver validates with.
import { clusterGatewayKind } from './clustergateway.ts';
import {
  clusterExportKind,
  clusterImportKind,
  clusterSetMemberKind,
  remoteClusterKind,
} from './clusterset.ts';
import { gatewayPolicyKind } from './gatewaypolicy.ts';
import { GROUP, VERSION } from './group.ts';
import type { KindDefinition } from './kind.ts';

export const KINDS: readonly KindDefinition[] = [
  gatewayPolicyKind,
  clusterGatewayKind,
  clusterSetMemberKind,
  remoteClusterKind,
];
/** Kinds served by the leader cluster. */
export const LEADER_KINDS: readonly KindDefinition[] = [clusterExportKind, clusterImportKind];
export const ALL_KINDS: readonly KindDefinition[] = [...KINDS, ...LEADER_KINDS];

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

/** CRDs of a member cluster, or of the leader cluster. */
export function allCRDs(role: 'member' | 'leader' = 'member'): Record<string, unknown>[] {
  return (role === 'member' ? KINDS : LEADER_KINDS).map(crdFor);
}
