// Values the Helm chart tests install with: what a real member or leader install uses, and every
// optional branch of each chart. Shared by helm.test.ts (rendered objects on real apiservers) and
// helm-schema.test.ts (they must pass the charts' values.schema.json).

/** What the real install in the member cluster uses: a ClusterSetMember and a GatewayPolicy too. */
export const memberValues = {
  image: { repository: 'registry.example/mcgw', tag: 'test' },
  clusterSetMember: {
    enabled: true,
    clusterID: 'alpha',
    podCIDRs: ['198.18.64.0/20'],
    serviceCIDRs: ['198.19.64.0/24'],
    heartbeatSeconds: 1,
  },
  gatewayPolicy: {
    create: true,
    spec: { desiredInstances: 2, failureDetection: { leaseDurationMs: 3000, renewIntervalMs: 1000 } },
  },
};

/** Every optional branch of the member chart, checked with a server-side dry run. */
export const memberFullValues = {
  image: { repository: 'registry.example/mcgw', digest: `sha256:${'a'.repeat(64)}` },
  imagePullSecrets: [{ name: 'pull' }],
  commonLabels: { team: 'net' },
  controller: {
    replicas: 3,
    serviceAccount: { annotations: { 'example.com/role': 'x' } },
    election: { leaseMs: 6000, renewMs: 4000, retryMs: 1000 },
    extraArgs: ['--install-crds'],
    extraEnv: [{ name: 'TZ', value: 'UTC' }],
    priorityClassName: 'system-cluster-critical',
    tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
    affinity: { nodeAffinity: {} },
    podAnnotations: { 'prometheus.io/scrape': 'true' },
    podLabels: { extra: 'yes' },
  },
  agent: {
    healthPort: 0,
    innerCIDR: '198.19.128.0/17',
    extraArgs: ['--resync-seconds=60'],
    extraEnv: [{ name: 'TZ', value: 'UTC' }],
    priorityClassName: 'system-node-critical',
    capabilities: { add: ['NET_ADMIN', 'NET_RAW'] },
    affinity: { nodeAffinity: {} },
    leaseGuard: { requireNodeBinding: false },
  },
  clusterSetMember: {
    enabled: true,
    clusterID: 'alpha',
    leader: { secretName: 'other-secret', secretKey: 'config', namespace: 'mcgw-member-x' },
    podCIDRs: ['198.18.64.0/20'],
    tunnel: { port: 4790, vni: 77 },
  },
  gatewayPolicy: { create: true, name: 'full', spec: { desiredInstances: 3, mode: 'ActiveActive' } },
};

export const leaderValues = { image: { repository: 'registry.example/mcgw', tag: 'test' } };
export const leaderFullValues = {
  image: { repository: 'registry.example/mcgw', digest: `sha256:${'b'.repeat(64)}` },
  imagePullSecrets: [{ name: 'pull' }],
  leader: {
    replicas: 3,
    staleAfterSeconds: 20,
    removeAfterSeconds: 200,
    electionLeaseMs: 5000,
    extraArgs: ['--install-crds'],
    priorityClassName: 'system-cluster-critical',
    affinity: { nodeAffinity: {} },
    podDisruptionBudget: { enabled: false },
  },
};
