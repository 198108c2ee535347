// The values.schema.json of the two Helm charts in deploy/helm. Helm checks the merged values
// against it before rendering (install, upgrade, template, lint), so a wrong type, a misspelt key
// or a value out of range fails with the key's path instead of rendering an object the apiserver
// refuses or, worse, accepts and runs wrongly. Written by `npm run gen:api`; the parts that fill a
// custom resource come from its schema here in src/api, the flag ranges from src/cli/bounds.ts and
// the log levels from src/util/log.ts, so neither can drift from what the code accepts.
import { CONTROLLER_ELECTION, LEADER_FLAGS } from '../cli/bounds.ts';
import type { IntBounds } from '../cli/bounds.ts';
import { LEVELS } from '../util/log.ts';
import { clusterSetMemberSpecSchema } from './clusterset.ts';
import { DRAFT_07, fromStructural } from './draft07.ts';
import type { Draft07 } from './draft07.ts';
import { gatewayPolicySpecSchema } from './gatewaypolicy.ts';
import type { JSONSchema } from './schema.ts';

// --- Builders -------------------------------------------------------------------------------------------

const str = (description: string, extra: Draft07 = {}): Draft07 => ({
  type: 'string',
  description,
  ...extra,
});
const bool = (description: string): Draft07 => ({ type: 'boolean', description });
const int = (description: string, minimum: number, maximum?: number): Draft07 => ({
  type: 'integer',
  description,
  minimum,
  ...(maximum !== undefined && { maximum }),
});

/** A settings object: a key it does not declare is a typo, and fails. */
const obj = (description: string, properties: Record<string, Draft07>, required: string[] = []): Draft07 => ({
  type: 'object',
  description,
  properties,
  ...(required.length > 0 && { required }),
  additionalProperties: false,
});

/** A map users fill freely (labels, annotations, nodeSelector): any key, string values. */
const stringMap = (description: string): Draft07 => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string' },
});

/** A Kubernetes object passed through to the Pod as is (affinity, securityContext): not re-checked here. */
const kubeObject = (description: string): Draft07 => ({ type: 'object', description });
const kubeList = (description: string): Draft07 => ({
  type: 'array',
  description,
  items: { type: 'object' },
});

/** '' (the command's default) or an integer the command accepts for that flag. */
const flagOrEmpty = (description: string, b: IntBounds): Draft07 => ({
  description: `${description} Empty: the command's default, ${b.default}.`,
  anyOf: [{ const: '' }, { type: 'integer', minimum: b.min, maximum: b.max }],
});

/** '' (a default the chart or the command fills in) or a string the schema s accepts. */
const orEmpty = (description: string, s: Draft07): Draft07 => ({
  description,
  anyOf: [{ const: '' }, { ...s, description: undefined }],
});

const prop = (j: JSONSchema, ...path: string[]): JSONSchema => {
  let cur = j;
  for (const k of path) {
    const next = cur.properties?.[k];
    if (!next) throw new Error(`src/api schema has no property ${path.join('.')}`);
    cur = next;
  }
  return cur;
};

// --- Shared by both charts ------------------------------------------------------------------------------

const port = (description: string, minimum = 1) => int(description, minimum, 65535);
const logLevel = (): Draft07 => ({ type: 'string', description: 'Log level.', enum: [...LEVELS] });

// A DNS-1123 subdomain, as Kubernetes requires of object names (ServiceAccounts, PriorityClasses).
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const objectName = (description: string) => str(description, { pattern: DNS_SUBDOMAIN, maxLength: 253 });

const image = (): Draft07 =>
  obj(
    'The mcgw image built from the repository Dockerfile.',
    {
      repository: str('Image repository, e.g. registry.example.com/mcgw.', { minLength: 1 }),
      tag: str("Image tag; empty: the chart's appVersion.", {
        pattern: '^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$',
      }),
      digest: str('sha256:<64 hex digits> pins the image by digest; it wins over tag.', {
        pattern: '^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})?$',
      }),
      pullPolicy: str('When the kubelet pulls the image.', { enum: ['Always', 'IfNotPresent', 'Never'] }),
    },
    ['repository'],
  );

const imagePullSecrets = (): Draft07 => ({
  type: 'array',
  description: 'Secrets for pulling the image.',
  items: obj('A Secret in the component namespace.', { name: objectName('Secret name.') }, ['name']),
});

const namespace = (name: string): Draft07 =>
  obj(
    `The namespace ${name}, where everything namespaced goes.`,
    {
      create: bool(`Create ${name} (kept on uninstall); false if it exists already.`),
      labels: stringMap('Labels on the namespace (Pod Security level).'),
    },
    ['create'],
  );

const serviceAccount = (dflt: string): Draft07 =>
  obj(
    'The ServiceAccount of the component.',
    {
      name: orEmpty(`Its name; empty: ${dflt}.`, objectName('ServiceAccount name.')),
      annotations: stringMap('Annotations on the ServiceAccount.'),
    },
    [],
  );

const resources = (): Draft07 => {
  const quantities: Draft07 = {
    type: 'object',
    description: 'Resource name to quantity (string such as 50m or 160Mi, or a number).',
    additionalProperties: { type: ['string', 'number'] },
  };
  return obj('Requests and limits of the container.', {
    requests: quantities,
    limits: quantities,
    claims: kubeList('Dynamic resource claims.'),
  });
};

const extraArgs = (cmd: string): Draft07 => ({
  type: 'array',
  description: `Extra arguments appended to \`mcgw ${cmd}\`.`,
  items: { type: 'string' },
});

const extraEnv = (): Draft07 => ({
  type: 'array',
  description: 'Extra environment variables of the container.',
  items: obj(
    'A Kubernetes EnvVar.',
    {
      name: str('Variable name.', { minLength: 1 }),
      value: str('Its value (a string: quote numbers).'),
      valueFrom: kubeObject('Where the value comes from (fieldRef, secretKeyRef, ...).'),
    },
    ['name'],
  ),
});

// IntOrString as Kubernetes takes it: a count, or a percentage such as 25%.
const countOrPercent = (description: string): Draft07 => ({
  description,
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+%$' },
  ],
});

/** The Pod settings both Deployments and the DaemonSet share. */
const podSettings = (): Record<string, Draft07> => ({
  resources: resources(),
  priorityClassName: orEmpty('PriorityClass of the Pods.', objectName('PriorityClass name.')),
  nodeSelector: stringMap('Node labels the Pods must match.'),
  tolerations: kubeList('Taints the Pods tolerate.'),
  affinity: kubeObject('Pod affinity.'),
  podAnnotations: stringMap('Annotations on the Pods.'),
  podLabels: stringMap('Extra labels on the Pods.'),
});

/** The settings of a replicated controller Deployment (mcgw controller, mcgw leader). */
const deployment = (sa: string, cmd: string): Record<string, Draft07> => ({
  replicas: int('Replicas; they elect a leader through a Lease.', 0),
  serviceAccount: serviceAccount(sa),
  healthHost: str('Address of /healthz, /readyz and /metrics; "::" on IPv6-only clusters.', {
    minLength: 1,
  }),
  healthPort: port('Port of /healthz, /readyz and /metrics.'),
  logLevel: logLevel(),
  extraArgs: extraArgs(cmd),
  extraEnv: extraEnv(),
  podSecurityContext: kubeObject('Pod security context.'),
  securityContext: kubeObject('Container security context.'),
  ...podSettings(),
  podDisruptionBudget: obj(
    'A PodDisruptionBudget, made when there is more than one replica.',
    {
      enabled: bool('Make the PodDisruptionBudget.'),
      minAvailable: countOrPercent('Replicas that must stay available: a count or a percentage.'),
    },
    ['enabled'],
  ),
});
const DEPLOYMENT_REQUIRED = ['serviceAccount', 'healthHost', 'healthPort', 'logLevel', 'podDisruptionBudget'];

const topLevel = (description: string, properties: Record<string, Draft07>, required: string[]): Draft07 => ({
  $schema: DRAFT_07,
  $comment: 'Generated by `npm run gen:api` from src/api/chartvalues.ts. Do not edit.',
  ...obj(
    description,
    {
      // Helm gives a chart used as a dependency of another the parent's global values.
      global: kubeObject('Global values Helm passes down from a parent chart.'),
      image: image(),
      imagePullSecrets: imagePullSecrets(),
      commonLabels: stringMap('Extra labels on every object.'),
      ...properties,
    },
    required,
  ),
});

// --- mcgw-member ----------------------------------------------------------------------------------------

const csm = clusterSetMemberSpecSchema.json;

export function memberValuesSchema(): Draft07 {
  const clusterSetMember = obj(
    "This cluster's identity in the ClusterSet: the ClusterSetMember.",
    {
      enabled: bool('Create the ClusterSetMember.'),
      clusterID: orEmpty(
        'The member cluster ID given to `mcgw clusterset add-member`: a DNS label; required when enabled.',
        fromStructural(prop(csm, 'clusterID')),
      ),
      leader: obj(
        'How to reach the leader cluster.',
        {
          secretName: orEmpty(
            'Secret in mcgw-system holding the leader kubeconfig; empty: mcgw-leader.',
            objectName('Secret name.'),
          ),
          secretKey: orEmpty(
            'Key of the kubeconfig in that Secret; empty: kubeconfig.',
            fromStructural(prop(csm, 'leader', 'secretKey')),
          ),
          namespace: orEmpty(
            "This member's namespace in the leader cluster; empty: mcgw-member-<clusterID>.",
            fromStructural(prop(csm, 'leader', 'namespace')),
          ),
        },
        [],
      ),
      podCIDRs: fromStructural(prop(csm, 'podCIDRs')),
      serviceCIDRs: fromStructural(prop(csm, 'serviceCIDRs')),
      tunnel: fromStructural(prop(csm, 'tunnel')),
      heartbeatSeconds: fromStructural(prop(csm, 'heartbeatSeconds')),
    },
    ['leader'],
  );

  const gatewayPolicy = obj(
    'A GatewayPolicy (one per cluster); the controller places nothing without one.',
    {
      create: bool('Create the GatewayPolicy.'),
      name: objectName('Name of the GatewayPolicy.'),
      spec: {
        ...fromStructural(gatewayPolicySpecSchema.json),
        description: 'The GatewayPolicy spec (docs/api.md); empty fields take the CRD defaults.',
      },
    },
    ['name'],
  );

  const e = CONTROLLER_ELECTION;
  const controller = obj(
    'The Gateway controller Deployment (mcgw controller).',
    {
      ...deployment('mcgw-controller', 'controller'),
      election: obj('Leader election timings in milliseconds.', {
        leaseMs: flagOrEmpty('Lease duration.', e.leaseMs),
        renewMs: flagOrEmpty('The leader gives up if it could not renew for this long.', e.renewMs),
        retryMs: flagOrEmpty('How often to renew or try to acquire.', e.retryMs),
      }),
    },
    [...DEPLOYMENT_REQUIRED, 'election'],
  );

  const agent = obj(
    'The per-Node agent DaemonSet (mcgw agent).',
    {
      enabled: bool('Run the agent DaemonSet.'),
      serviceAccount: serviceAccount('mcgw-agent'),
      healthPort: port("/healthz and /readyz on the Node's address; 0 turns them and the probes off.", 0),
      logLevel: logLevel(),
      stateDir: str("Directory on the Node for the agent's last known state.", { pattern: '^/' }),
      innerCIDR: orEmpty(
        "ClusterSet-wide IPv4 range of tunnel-inner addresses; empty: the agent's 198.19.128.0/17.",
        str('An IPv4 CIDR.', {
          pattern:
            '^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])/([0-9]|[12][0-9]|3[0-2])$',
        }),
      ),
      extraArgs: extraArgs('agent'),
      extraEnv: extraEnv(),
      capabilities: obj(
        'Capabilities added to the agent container; every other one is dropped.',
        {
          add: {
            type: 'array',
            description: 'Capability names such as NET_ADMIN.',
            items: { type: 'string', pattern: '^[A-Z_]+$' },
          },
        },
        ['add'],
      ),
      ...podSettings(),
      updateStrategy: obj('The DaemonSet update strategy.', {
        type: str('How Pods are replaced.', { enum: ['RollingUpdate', 'OnDelete'] }),
        rollingUpdate: obj('Rolling update parameters.', {
          maxUnavailable: countOrPercent('Nodes whose agent may be unavailable during an update.'),
          maxSurge: countOrPercent('Nodes that may run an old and a new agent at once.'),
        }),
      }),
      leaseGuard: obj(
        "The admission policy narrowing the agent's Lease writes.",
        {
          enabled: bool('Make the ValidatingAdmissionPolicy.'),
          requireNodeBinding: bool("Require the agent's token to be bound to a Pod on the Node."),
        },
        ['enabled'],
      ),
    },
    ['serviceAccount', 'logLevel', 'stateDir', 'capabilities', 'leaseGuard'],
  );

  return topLevel(
    'Values of the mcgw-member chart.',
    {
      namespace: namespace('mcgw-system'),
      controller,
      agent,
      clusterSetMember,
      gatewayPolicy,
    },
    ['image', 'namespace', 'controller', 'agent', 'clusterSetMember', 'gatewayPolicy'],
  );
}

// --- mcgw-leader ----------------------------------------------------------------------------------------

export function leaderValuesSchema(): Draft07 {
  const f = LEADER_FLAGS;
  const leader = obj(
    'The leader-side controller Deployment (mcgw leader).',
    {
      ...deployment('mcgw-leader', 'leader'),
      staleAfterSeconds: flagOrEmpty('A member silent this long is marked Stale.', f.staleAfterSeconds),
      removeAfterSeconds: flagOrEmpty(
        'A member silent this long is removed from the ClusterSet.',
        f.removeAfterSeconds,
      ),
      electionLeaseMs: flagOrEmpty('Election Lease duration in milliseconds.', f.electionLeaseMs),
    },
    DEPLOYMENT_REQUIRED,
  );
  return topLevel('Values of the mcgw-leader chart.', { namespace: namespace('mcgw-clusterset'), leader }, [
    'image',
    'namespace',
    'leader',
  ]);
}

/** The generated files: path relative to the repository root, and content. */
export function chartValuesSchemaFiles(): Map<string, string> {
  const json = (j: Draft07) => `${JSON.stringify(j, null, 2)}\n`;
  return new Map([
    ['deploy/helm/mcgw-member/values.schema.json', json(memberValuesSchema())],
    ['deploy/helm/mcgw-leader/values.schema.json', json(leaderValuesSchema())],
  ]);
}
