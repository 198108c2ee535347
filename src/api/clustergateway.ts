// ClusterGateway: one per Node chosen to run a Gateway instance. Written by the controller, read by
// agents (to build tunnels) and exported to the ClusterSet. Named after its Node.
import type { KindDefinition } from './kind.ts';
import { conditionsSchema } from './meta.ts';
import { s } from './schema.ts';
import type { Infer } from './schema.ts';

const ipRule = [{ rule: 'isIP(self)', message: 'must be an IPv4 or IPv6 address' }];

export const clusterGatewaySpecSchema = s.object(
  {
    nodeName: s.string({
      description: 'The Node running this instance.',
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    }),
    gatewayIP: s.string({
      description: 'The address remote clusters tunnel to.',
      maxLength: 45,
      rules: ipRule,
    }),
    internalIP: s.string({
      description: 'The address Nodes inside this cluster tunnel to.',
      maxLength: 45,
      rules: ipRule,
    }),
    zone: s.optional(s.string({ description: "The Node's zone, if it has one.", maxLength: 63 })),
    priority: s.integer({
      description:
        'Higher is preferred. In ActiveStandby traffic uses the living instance with the highest priority (ties: lowest node name). Kept stable for the life of the instance, so a replacement never preempts a survivor.',
      minimum: 1,
      maximum: 1000,
    }),
    draining: s.optional(
      s.boolean({
        description:
          'Set by the controller while the Node is drained (labelled mcgw.io/draining=true, or cordoned): the instance keeps forwarding, but traffic prefers every living instance that is not draining. It is removed once instances on other Nodes have been Ready for drainSettleSeconds (see the ReplacementReady condition); it is kept while no replacement can be placed.',
      }),
    ),
  },
  { description: 'Where this Gateway instance runs.' },
);
export type ClusterGatewaySpec = Infer<typeof clusterGatewaySpecSchema>;

export const ROLES = ['Active', 'Standby'] as const;
export type Role = (typeof ROLES)[number];

export const clusterGatewayStatusSchema = s.object(
  {
    role: s.optional(
      s.enum(ROLES, {
        description:
          "The controller's view: Active if traffic should use this instance (all ready instances in ActiveActive, the highest-priority ready one in ActiveStandby; draining instances only when no other instance is ready). Agents decide from BFD, not from this field.",
      }),
    ),
    conditions: s.optional(conditionsSchema),
  },
  { description: 'Observed state of this instance.' },
);
export type ClusterGatewayStatus = Infer<typeof clusterGatewayStatusSchema>;

export const clusterGatewayKind: KindDefinition = {
  kind: 'ClusterGateway',
  plural: 'clustergateways',
  singular: 'clustergateway',
  shortNames: ['cgw'],
  scope: 'Cluster',
  description: 'A cross-cluster Gateway instance placed on one Node by the mcgw controller.',
  spec: clusterGatewaySpecSchema.json,
  status: clusterGatewayStatusSchema.json,
  rules: [
    { rule: 'self.metadata.name == self.spec.nodeName', message: 'metadata.name must equal spec.nodeName' },
  ],
  printerColumns: [
    { name: 'Node', type: 'string', jsonPath: '.spec.nodeName', description: 'Node running the instance.' },
    {
      name: 'Gateway IP',
      type: 'string',
      jsonPath: '.spec.gatewayIP',
      description: 'Address remote clusters tunnel to.',
    },
    {
      name: 'Internal IP',
      type: 'string',
      jsonPath: '.spec.internalIP',
      description: 'Address local Nodes tunnel to.',
    },
    { name: 'Role', type: 'string', jsonPath: '.status.role', description: 'Active or Standby.' },
    { name: 'Priority', type: 'integer', jsonPath: '.spec.priority', description: 'Higher is preferred.' },
    {
      name: 'Draining',
      type: 'boolean',
      jsonPath: '.spec.draining',
      description: 'Being drained: kept until its replacement is Ready and peers have moved off it.',
    },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the gateway Lease is fresh.',
    },
    { name: 'Zone', type: 'string', jsonPath: '.spec.zone', description: 'Zone of the Node.', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};
