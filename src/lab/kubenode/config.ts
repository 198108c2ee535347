// What a kubelet Node of the lab is made of, rendered from typed values: containerd's config, the CNI
// template containerd fills with the Node's podCIDR, kubelet's config and kubeconfig, and the init
// script that runs them. Pure, so the files are tested without starting anything.
import { stringify } from 'yaml';

/** The paths containerd, its CRI plugin, the CNI plugins and kubelet use at their defaults. */
export const NODE_PRIVATE_PATHS = [
  '/var/lib/kubelet',
  '/var/lib/containerd',
  '/run/containerd',
  '/var/lib/cni',
  '/etc/cni/net.d',
  '/var/log/pods',
  '/var/log/containers',
] as const;

export interface KubeNodeFiles {
  /** The Node's directory on the host: config, logs, and the private copies of NODE_PRIVATE_PATHS. */
  dir: string;
  /** Kubernetes Node name. */
  name: string;
  /** The Node's InternalIP (its underlay address). */
  ip: string;
  /** https://ADDRESS:PORT of its apiserver, as reached from the Node's network namespace. */
  server: string;
  caCert: string;
  clientCert: string;
  clientKey: string;
  /** Absolute cgroup path (in every hierarchy) under which kubelet puts the Node's pods. */
  cgroupRoot: string;
  /**
   * The Node's CPU weight (cgroup v1 cpu.shares of its cgroupRoot). The Nodes share this machine's
   * cores with each other and with the control planes; a real Node has its own.
   */
  cpuShares?: number;
  /** The sandbox (pause) image reference, already imported. */
  sandboxImage: string;
  labels: Readonly<Record<string, string>>;
  kubelet: string;
  /** Where the Debian CNI plugins are. */
  cniBinDir: string;
  /** kube-proxy, which serves ClusterIPs (such as the `kubernetes` Service) on the Node. */
  kubeProxy?: {
    bin: string;
    /** Client certificate of system:kube-proxy. */
    clientCert: string;
    clientKey: string;
    /** The cluster's pod range, for kube-proxy's masquerade decisions. */
    clusterCIDR: string;
  };
}

export const hostPath = (f: KubeNodeFiles, path: string): string => `${f.dir}/fs${path}`;
/** containerd's socket as seen from the host (through the Node's private /run/containerd). */
export const containerdSocket = (f: KubeNodeFiles): string => hostPath(f, '/run/containerd/containerd.sock');

export function containerdConfig(f: KubeNodeFiles): string {
  const q = (s: string) => JSON.stringify(s);
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# containerd of lab Node ${f.name}; the paths are this Node's own (bind mounts in its mount namespace).
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "/run/containerd/containerd.sock"

[debug]
  level = "warn"

[${cri}]
  sandbox_image = ${q(f.sandboxImage)}
  # Root here lacks CAP_SYS_RESOURCE: runc may not lower a process's oom_score_adj below its own.
  restrict_oom_score_adj = true

  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false

  [${cri}.cni]
    bin_dir = ${q(f.cniBinDir)}
    conf_dir = "/etc/cni/net.d"
    # Written to conf_dir once kubelet passes the Node's podCIDR, which kube-controller-manager allocates.
    conf_template = ${q(`${f.dir}/cni.template`)}
`;
}

/**
 * The bridge plugin with host-local IPAM from the Node's podCIDR. No masquerade: pods keep their own
 * addresses on the way to other Nodes and clusters, where routes bring the replies back.
 */
export function cniTemplate(): string {
  return (
    JSON.stringify(
      {
        cniVersion: '0.4.0',
        name: 'mcgw-lab',
        plugins: [
          {
            type: 'bridge',
            bridge: 'cni0',
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: '{{.PodCIDR}}' }]],
              routes: [{ dst: '0.0.0.0/0' }],
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

export function kubeletConfig(f: KubeNodeFiles): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: f.ip,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: f.caCert },
    },
    authorization: { mode: 'Webhook' },
    cgroupDriver: 'cgroupfs',
    cgroupRoot: f.cgroupRoot,
    cgroupsPerQOS: true,
    containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    failSwapOn: false,
    // This machine has cgroup v1 only; kubelet 1.34 still runs there when told to.
    failCgroupV1: false,
    // All Nodes share one disk: eviction and image GC would act on the whole machine's usage.
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    localStorageCapacityIsolation: false,
    serializeImagePulls: false,
    maxPods: 50,
    resolvConf: '/etc/resolv.conf',
  });
}

function kubeconfig(f: KubeNodeFiles, user: string, cert: string, key: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server: f.server, 'certificate-authority': f.caCert } }],
    users: [{ name: user, user: { 'client-certificate': cert, 'client-key': key } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user } }],
    'current-context': 'lab',
  });
}

export function kubeletKubeconfig(f: KubeNodeFiles): string {
  return kubeconfig(f, f.name, f.clientCert, f.clientKey);
}

export function kubeProxyKubeconfig(f: KubeNodeFiles): string | undefined {
  const p = f.kubeProxy;
  return p && kubeconfig(f, 'system:kube-proxy', p.clientCert, p.clientKey);
}

/** kube-proxy in nftables mode; it leaves the machine-wide conntrack sysctls alone (0 = unchanged). */
export function kubeProxyConfig(f: KubeNodeFiles): string | undefined {
  const p = f.kubeProxy;
  return (
    p &&
    stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'nftables',
      clientConnection: { kubeconfig: `${f.dir}/kube-proxy.kubeconfig` },
      hostnameOverride: f.name,
      clusterCIDR: p.clusterCIDR,
      metricsBindAddress: '127.0.0.1:10249',
      healthzBindAddress: '127.0.0.1:10256',
      nodePortAddresses: ['primary'],
      conntrack: {
        maxPerCore: 0,
        min: 0,
        tcpEstablishedTimeout: '0s',
        tcpCloseWaitTimeout: '0s',
        udpTimeout: '0s',
        udpStreamTimeout: '0s',
      },
    })
  );
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The Node's first process: PID 1 of the Node's own PID namespace, in its own mount namespace and in
 * its network namespace. It gives containerd, CRI, CNI and kubelet private copies of the paths they
 * use (so several Nodes never share a socket, a state file or an IPAM lease), then runs containerd
 * and kubelet (and kube-proxy) and restarts each when it exits, as systemd would. Killing it powers the Node off:
 * the kernel kills every process of the PID namespace, pods included, and the mounts go with it.
 */
export function initScript(f: KubeNodeFiles): string {
  const labels = Object.entries(f.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const binds = NODE_PRIVATE_PATHS.map(
    (p) => `mkdir -p ${shq(hostPath(f, p))} ${shq(p)} && mount --bind ${shq(hostPath(f, p))} ${shq(p)}`,
  ).join('\n');
  return `#!/bin/bash
# PID 1 of lab Node ${f.name}. Generated; see src/lab/kubenode/config.ts.
set -u
${binds}
# The CRI plugin keeps pod network namespaces here: private, so the host's \`ip netns\` never lists them.
mount -t tmpfs -o mode=0755 mcgw-netns /run/netns
echo "mounts ready"

supervise() { # NAME CMD...: run CMD, restart it a second after it exits
  local name=$1; shift
  while :; do
    "$@" >>${shq(f.dir)}/"$name".log 2>&1
    echo "$(date -u +%FT%TZ) $name exited with $?; restarting" >>${shq(f.dir)}/init.log
    sleep 1
  done
}

supervise containerd containerd --config ${shq(`${f.dir}/containerd.toml`)} &
for _ in $(seq 1 300); do [[ -S /run/containerd/containerd.sock ]] && break; sleep 0.1; done
supervise kubelet ${shq(f.kubelet)} --config=${shq(`${f.dir}/kubelet.yaml`)} \\
  --kubeconfig=${shq(`${f.dir}/kubelet.kubeconfig`)} --hostname-override=${shq(f.name)} \\
  --node-ip=${shq(f.ip)}${labels ? ` --node-labels=${shq(labels)}` : ''} &
${f.kubeProxy ? `supervise kube-proxy ${shq(f.kubeProxy.bin)} --config=${shq(`${f.dir}/kube-proxy.yaml`)} &\n` : ''}echo "started"
# Reap orphans (containerd's shims are re-parented to PID 1) until the Node is powered off.
while :; do wait; sleep 1; done
`;
}
