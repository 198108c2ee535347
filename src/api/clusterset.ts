// ClusterSet exchange kinds. A member describes itself in a ClusterSetMember (member cluster), its
// controller exports a ClusterExport into its own namespace of the leader cluster, the leader-side
// controller validates exports and publishes ClusterImports in one shared namespace, and every
// member mirrors the other members' imports as RemoteClusters that its agents read.
import type { KindDefinition } from './kind.ts';
import { conditionsSchema } from './meta.ts';
import { s } from './schema.ts';
import type { Infer } from './schema.ts';
import { MODES } from './gatewaypolicy.ts';

const clusterIDSchema = s.string({
  description: 'The member cluster ID: a DNS label, unique in the ClusterSet.',
  maxLength: 63,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
});

const cidrList = (what: string) =>
  s.array(
    s.string({
      description: 'A CIDR, e.g. 198.18.64.0/20.',
      maxLength: 49,
      rules: [{ rule: 'isCIDR(self)', message: 'must be a CIDR such as 198.18.64.0/20' }],
    }),
    { description: what, maxItems: 32 },
  );

const tunnelSchema = s.object(
  {
    port: s.optional(
      s.integer({
        description: 'UDP port of the cross-cluster VXLAN tunnel.',
        minimum: 1,
        maximum: 65535,
        default: 4789,
      }),
    ),
    vni: s.optional(
      s.integer({ description: 'VXLAN network identifier.', minimum: 1, maximum: 16777215, default: 4242 }),
    ),
  },
  { description: 'Tunnel parameters remote Gateways must use to reach this cluster.', default: {} },
);

const exportedGateway = s.object(
  {
    node: s.string({ description: 'Node running the instance.', maxLength: 253 }),
    gatewayIP: s.string({
      description: 'Address remote clusters tunnel to.',
      maxLength: 45,
      rules: [{ rule: 'isIP(self)', message: 'must be an IPv4 or IPv6 address' }],
    }),
    internalIP: s.string({ description: 'Address Nodes in the cluster tunnel to.', maxLength: 45 }),
    priority: s.integer({ description: 'Higher is preferred in ActiveStandby.', minimum: 1, maximum: 1000 }),
    ready: s.boolean({ description: "Whether the member's controller saw the instance's Lease renewed." }),
    draining: s.optional(
      s.boolean({
        description:
          'The instance is being drained: remote Gateways use it only while no other living instance of the cluster is left.',
      }),
    ),
  },
  { description: 'One Gateway instance of the cluster.' },
);

/** What a member tells the ClusterSet about itself; the spec of exports, imports and RemoteClusters. */
export const clusterInfoSchema = s.object(
  {
    clusterID: clusterIDSchema,
    mode: s.enum(MODES, { description: 'How traffic uses the Gateways: ActiveStandby or ActiveActive.' }),
    gateways: s.array(exportedGateway, {
      description: 'The Gateway instances, highest priority first.',
      maxItems: 16,
    }),
    podCIDRs: cidrList('Pod address ranges of the cluster.'),
    serviceCIDRs: cidrList('Service address ranges of the cluster.'),
    tunnel: tunnelSchema,
  },
  { description: 'Gateway and CIDR information of one member cluster.' },
);
export type ClusterInfo = Infer<typeof clusterInfoSchema>;

// --- ClusterSetMember (member cluster) ---------------------------------------------------------------

export const clusterSetMemberSpecSchema = s.object(
  {
    clusterID: clusterIDSchema,
    leader: s.object(
      {
        secretName: s.string({
          description:
            'Secret in mcgw-system holding the kubeconfig this member uses to reach the leader cluster.',
          maxLength: 253,
        }),
        secretKey: s.optional(
          s.string({
            description: 'Key of the kubeconfig in that Secret.',
            default: 'kubeconfig',
            maxLength: 253,
          }),
        ),
        namespace: s.string({
          description:
            "This member's namespace in the leader cluster (made by `mcgw clusterset add-member`).",
          maxLength: 63,
        }),
      },
      { description: 'How to reach the leader cluster.' },
    ),
    podCIDRs: cidrList('Pod address ranges of this cluster, exported to the others.'),
    serviceCIDRs: s.optional(cidrList('Service address ranges of this cluster, exported to the others.')),
    tunnel: s.optional(tunnelSchema),
    heartbeatSeconds: s.optional(
      s.integer({
        description: 'How often the member renews its export heartbeat Lease in the leader cluster.',
        minimum: 1,
        maximum: 300,
        default: 5,
      }),
    ),
  },
  { description: "This cluster's identity in the ClusterSet and how to reach the leader." },
);
export type ClusterSetMemberSpec = Infer<typeof clusterSetMemberSpecSchema>;

export const clusterSetMemberStatusSchema = s.object(
  {
    lastExportTime: s.optional(
      s.string({ description: 'When the export was last written to the leader.', format: 'date-time' }),
    ),
    importedClusters: s.optional(s.integer({ description: 'How many remote clusters are imported.' })),
    conditions: s.optional(conditionsSchema),
  },
  { description: 'Exchange state: LeaderReachable and Exported conditions.' },
);

export const clusterSetMemberKind: KindDefinition = {
  kind: 'ClusterSetMember',
  plural: 'clustersetmembers',
  singular: 'clustersetmember',
  shortNames: ['csmember'],
  scope: 'Cluster',
  description: "This member cluster's identity in the ClusterSet. One per member cluster.",
  spec: clusterSetMemberSpecSchema.json,
  status: clusterSetMemberStatusSchema.json,
  printerColumns: [
    {
      name: 'Cluster ID',
      type: 'string',
      jsonPath: '.spec.clusterID',
      description: 'This cluster in the ClusterSet.',
    },
    {
      name: 'Leader',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="LeaderReachable")].reason',
      description: 'Whether the leader cluster is reachable.',
    },
    {
      name: 'Imported',
      type: 'integer',
      jsonPath: '.status.importedClusters',
      description: 'Remote clusters imported.',
    },
    {
      name: 'Last Export',
      type: 'date',
      jsonPath: '.status.lastExportTime',
      description: 'Last export write.',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};

// --- ClusterExport (leader cluster, member namespace) ------------------------------------------------

const exportStatusSchema = s.object(
  {
    observedGeneration: s.optional(
      s.integer({ description: 'The generation last validated.', format: 'int64' }),
    ),
    conditions: s.optional(conditionsSchema),
  },
  { description: 'Accepted condition written by the leader-side controller.' },
);

export const clusterExportKind: KindDefinition = {
  kind: 'ClusterExport',
  plural: 'clusterexports',
  singular: 'clusterexport',
  shortNames: ['csexport'],
  scope: 'Namespaced',
  description:
    "A member's Gateways and CIDRs, written by that member into its own namespace of the leader cluster. Named after the cluster ID.",
  spec: clusterInfoSchema.json,
  status: exportStatusSchema.json,
  rules: [
    { rule: 'self.metadata.name == self.spec.clusterID', message: 'metadata.name must equal spec.clusterID' },
  ],
  printerColumns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'ActiveStandby or ActiveActive.' },
    {
      name: 'Accepted',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Accepted")].reason',
      description: 'Whether the leader accepted it, or why not.',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};

// --- ClusterImport (leader cluster, shared namespace) ------------------------------------------------

export const STATES = ['Active', 'Stale'] as const;

const importStatusSchema = s.object(
  {
    state: s.optional(
      s.enum(STATES, { description: 'Stale when the member stopped renewing its export heartbeat.' }),
    ),
    lastSeen: s.optional(
      s.string({ description: "Last heartbeat seen by the leader's controller.", format: 'date-time' }),
    ),
    conditions: s.optional(conditionsSchema),
  },
  { description: 'Freshness of the import.' },
);

export const clusterImportKind: KindDefinition = {
  kind: 'ClusterImport',
  plural: 'clusterimports',
  singular: 'clusterimport',
  shortNames: ['csimport'],
  scope: 'Namespaced',
  description:
    "An accepted member's Gateways and CIDRs, published by the leader-side controller for every member to read. Named after the cluster ID.",
  spec: clusterInfoSchema.json,
  status: importStatusSchema.json,
  printerColumns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'ActiveStandby or ActiveActive.' },
    { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Active or Stale.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};

// --- RemoteCluster (member cluster) -----------------------------------------------------------------

export const remoteClusterKind: KindDefinition = {
  kind: 'RemoteCluster',
  plural: 'remoteclusters',
  singular: 'remotecluster',
  shortNames: ['rcluster'],
  scope: 'Cluster',
  description:
    "Another member's Gateways and CIDRs as imported from the leader cluster; agents build tunnels and routes from these. Kept when the leader is unreachable.",
  spec: clusterInfoSchema.json,
  status: importStatusSchema.json,
  printerColumns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'ActiveStandby or ActiveActive.' },
    {
      name: 'Gateways',
      type: 'string',
      jsonPath: '.spec.gateways[*].gatewayIP',
      description: 'Gateway addresses.',
    },
    {
      name: 'Pod CIDRs',
      type: 'string',
      jsonPath: '.spec.podCIDRs',
      description: 'Pod address ranges.',
      priority: 1,
    },
    { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Active or Stale.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};
