// GatewayPolicy: one per member cluster. Says how many Gateway instances to run, where they may run
// and how quickly a silent instance counts as failed.
import { CANDIDATE_LABEL, DEFAULT_ZONE_KEY } from './group.ts';
import type { KindDefinition } from './kind.ts';
import { conditionsSchema, labelSelectorSchema } from './meta.ts';
import { s } from './schema.ts';
import type { Infer } from './schema.ts';

export const MODES = ['ActiveStandby', 'ActiveActive'] as const;
export type Mode = (typeof MODES)[number];

export const gatewayPolicySpecSchema = s.object(
  {
    desiredInstances: s.optional(
      s.integer({
        description: 'How many Gateway instances to keep running. 0 removes them all.',
        minimum: 0,
        maximum: 16,
        default: 2,
      }),
    ),
    mode: s.optional(
      s.enum(MODES, {
        description:
          'ActiveStandby: traffic uses the living instance with the highest priority. ActiveActive: traffic is spread (ECMP) over all living instances.',
        default: 'ActiveStandby',
      }),
    ),
    candidateSelector: s.optional({
      ...labelSelectorSchema,
      json: {
        ...labelSelectorSchema.json,
        description: `Which Nodes may run a Gateway instance. Defaults to Nodes labelled ${CANDIDATE_LABEL}=true.`,
        default: { matchLabels: { [CANDIDATE_LABEL]: 'true' } },
      },
    }),
    zoneTopologyKey: s.optional(
      s.string({
        description: 'Node label whose values are zones; instances are spread across zones when possible.',
        default: DEFAULT_ZONE_KEY,
        maxLength: 317,
        minLength: 1,
      }),
    ),
    failureDetection: s.optional(
      s.object(
        {
          leaseDurationMs: s.optional(
            s.integer({
              description:
                'An instance whose gateway Lease was not renewed for this long is failed and re-placed.',
              minimum: 500,
              maximum: 300000,
              default: 3000,
            }),
          ),
          renewIntervalMs: s.optional(
            s.integer({
              description: 'How often an instance renews its gateway Lease.',
              minimum: 100,
              maximum: 60000,
              default: 1000,
            }),
          ),
        },
        {
          description: 'How a failed instance is noticed, faster than the Node going NotReady.',
          default: {},
          rules: [
            {
              rule: '!has(self.leaseDurationMs) || !has(self.renewIntervalMs) || self.renewIntervalMs * 2 <= self.leaseDurationMs',
              message:
                'renewIntervalMs must be at most half of leaseDurationMs, so one lost renewal does not fail an instance',
            },
          ],
        },
      ),
    ),
    holdDownSeconds: s.optional(
      s.integer({
        description:
          'A Node whose instance failed is not chosen again for this long, so a flapping Node is not reused.',
        minimum: 0,
        maximum: 86400,
        default: 60,
      }),
    ),
    drainSettleSeconds: s.optional(
      s.integer({
        description:
          'A Gateway on a draining (or cordoned) Node is removed only after instances on other Nodes have been Ready this long, so every agent, in this cluster and through the ClusterSet exchange in the others, has moved its traffic off it first.',
        minimum: 0,
        maximum: 3600,
        default: 10,
      }),
    ),
  },
  { description: 'Desired Gateway placement for this cluster.' },
);
export type GatewayPolicySpec = Infer<typeof gatewayPolicySpecSchema>;

const activeGateway = s.object(
  {
    node: s.string({ description: 'Node name.' }),
    gatewayIP: s.string({ description: 'Address remote clusters tunnel to.' }),
    internalIP: s.string({ description: 'Address Nodes in this cluster tunnel to.' }),
    priority: s.integer({ description: 'Higher is preferred in ActiveStandby.', minimum: 1, maximum: 1000 }),
    ready: s.boolean({ description: 'Whether the instance renews its Lease.' }),
    draining: s.optional(
      s.boolean({
        description: 'Being drained: not counted in readyInstances, removed once replaced.',
      }),
    ),
  },
  { description: 'One placed Gateway instance.' },
);

export const gatewayPolicyStatusSchema = s.object(
  {
    observedGeneration: s.optional(
      s.integer({ description: 'The generation last acted on.', format: 'int64' }),
    ),
    desiredInstances: s.optional(s.integer({ description: 'Desired instance count acted on.' })),
    readyInstances: s.optional(
      s.integer({ description: 'Instances whose Lease is fresh, not counting draining ones.' }),
    ),
    gateways: s.optional(
      s.array(activeGateway, { description: 'The placed instances, highest priority first.', maxItems: 16 }),
    ),
    lastPlacementTime: s.optional(
      s.string({ description: 'When the set of instances last changed.', format: 'date-time' }),
    ),
    conditions: s.optional(conditionsSchema),
  },
  { description: 'What the controller did with this policy.' },
);
export type GatewayPolicyStatus = Infer<typeof gatewayPolicyStatusSchema>;

export const gatewayPolicyKind: KindDefinition = {
  kind: 'GatewayPolicy',
  plural: 'gatewaypolicies',
  singular: 'gatewaypolicy',
  shortNames: ['gwpolicy'],
  scope: 'Cluster',
  description:
    'How many cross-cluster Gateway instances this member cluster runs, on which Nodes, and how fast a failed one is replaced. One per cluster.',
  spec: { ...gatewayPolicySpecSchema.json, default: {} },
  status: gatewayPolicyStatusSchema.json,
  printerColumns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'ActiveStandby or ActiveActive.' },
    {
      name: 'Desired',
      type: 'integer',
      jsonPath: '.spec.desiredInstances',
      description: 'Desired instances.',
    },
    {
      name: 'Ready',
      type: 'integer',
      jsonPath: '.status.readyInstances',
      description: 'Instances renewing their Lease.',
    },
    {
      name: 'Status',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
      description: 'Why the policy is or is not Ready.',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
  ],
};
