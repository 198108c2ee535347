// Builders for Kubernetes objects used by the controller's pure tests.
import type { V1Node } from '@kubernetes/client-node';
import type { ClusterGateway, GatewayPolicy, GatewayPolicySpec } from '../../src/api/types.ts';
import type { Plan, PlanInput } from '../../src/controller/plan.ts';

export function node(
  name: string,
  o: {
    zone?: string;
    ready?: boolean;
    ip?: string | null;
    candidate?: boolean;
    unschedulable?: boolean;
    draining?: boolean;
  } = {},
): V1Node {
  const ip = o.ip === undefined ? `198.18.0.${Number(name.replace(/\D/g, '') || 1)}` : o.ip;
  return {
    metadata: {
      name,
      labels: {
        ...(o.candidate !== false && { 'mcgw.io/gateway-candidate': 'true' }),
        ...(o.zone && { 'topology.kubernetes.io/zone': o.zone }),
        ...(o.draining && { 'mcgw.io/draining': 'true' }),
      },
    },
    spec: { unschedulable: o.unschedulable ?? false },
    status: {
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
      addresses: ip ? [{ type: 'InternalIP', address: ip }] : [],
    },
  };
}

export function policy(
  name: string,
  spec: GatewayPolicySpec = {},
  created = '2026-01-01T00:00:00Z',
): GatewayPolicy {
  return {
    apiVersion: 'mcgw.io/v1alpha1',
    kind: 'GatewayPolicy',
    metadata: { name, uid: `uid-${name}`, generation: 1, creationTimestamp: new Date(created) },
    spec,
  };
}

/** A tiny in-memory apiserver for plans: applies a plan's writes to the object lists. */
export class World {
  gateways: ClusterGateway[] = [];
  fresh = new Set<string>();
  constructor(
    public nodes: V1Node[],
    public policies: GatewayPolicy[],
  ) {}

  input(now: number, lastFailure = new Map<string, number>()): PlanInput {
    return {
      policies: this.policies,
      nodes: this.nodes,
      gateways: this.gateways,
      lease: (n) =>
        this.fresh.has(n)
          ? { state: 'fresh', expiresAt: now + 1000 }
          : this.expired.has(n)
            ? { state: 'expired', expiresAt: now - 1 }
            : { state: 'absent' },
      now,
      lastFailure,
    };
  }
  expired = new Set<string>();

  apply(p: Plan): number {
    let writes = 0;
    for (const g of p.create) {
      this.gateways.push(structuredClone(g));
      writes++;
    }
    for (const g of p.update) {
      this.gateways = this.gateways.map((x) =>
        x.metadata.name === g.metadata.name ? structuredClone(g) : x,
      );
      writes++;
    }
    for (const r of p.remove) {
      this.gateways = this.gateways.filter((g) => g.metadata.name !== r.name);
      writes++;
    }
    for (const s of p.gatewayStatus) {
      const g = this.gateways.find((x) => x.metadata.name === s.name);
      if (g) {
        g.status = structuredClone(s.status);
        writes++;
      }
    }
    for (const s of p.policyStatus) {
      const pol = this.policies.find((x) => x.metadata.name === s.name);
      if (pol) {
        pol.status = structuredClone(s.status);
        writes++;
      }
    }
    return writes;
  }
}
