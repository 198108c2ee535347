// Real, isolated Kubernetes control planes (etcd + kube-apiserver) on loopback, for integration tests,
// and whole ones (also kube-controller-manager and kube-scheduler) for kubelet Nodes in the lab.
// Each one has its own directory, PKI and ports; nothing is shared between them.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { ipv4ToUint32, uint32ToIPv4 } from '../datapath/addr.ts';
import { parseCIDR } from '../util/ip.ts';
import { type ControlPlaneBinaries, findBinaries } from './binaries.ts';
import {
  ADMIN_USER,
  type ClientCert,
  type ControlPlaneCerts,
  generateCerts,
  issueClientCert,
  SERVICE_IP,
} from './certs.ts';
import { freePorts } from './ports.ts';
import { describeExit, exited, isRunning, killNowSync, spawnLogged, tail, terminate } from './childproc.ts';

export { SERVICE_IP };
export const SERVICE_CIDR = '198.19.0.0/24';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc';

export interface ControlPlaneOptions {
  /** Short label used in the directory name, kubeconfig context and CA subject. */
  name: string;
  /**
   * Directory for certs, etcd data and logs (created if missing).
   * Default: a fresh os.tmpdir()/mcgw-cp-<name>-XXXXXX.
   */
  dir?: string;
  /** Directory holding `etcd` and `kube-apiserver`; default: see findBinaries(). */
  binDir?: string;
  /** Keep the directory after stop(). Default: true when `dir` was given, else false. */
  keep?: boolean;
  /** How long start()/startApiserver()/restart() wait for /readyz. Default 60 s. */
  readyTimeoutMs?: number;
  /** How long stop() and friends wait after SIGTERM before SIGKILL. Default 10 s. */
  stopTimeoutMs?: number;
  /** Extra kube-apiserver flags, appended last so they override the defaults. */
  apiserverArgs?: string[];
  /** A whole control plane for kubelet Nodes; without it, only etcd and kube-apiserver run. */
  nodes?: NodesOptions;
}

/**
 * What a control plane needs to serve real kubelet Nodes. It then also runs kube-controller-manager
 * (node lifecycle with Kubernetes' default grace and taints, Node podCIDR allocation, the workload and
 * ServiceAccount controllers) and kube-scheduler, each with its own identity, and the apiserver runs
 * Kubernetes' default admission plugins, Node authorization and NodeRestriction.
 */
export interface NodesOptions {
  /** The range Node podCIDRs are allocated from (kube-controller-manager --cluster-cidr). */
  clusterCIDR: string;
  /** Prefix length of each Node's podCIDR. Default 24. */
  nodeCIDRMaskSize?: number;
  /** The Service range (IPv4, at most /12 long); its first address serves `kubernetes`. */
  serviceCIDR: string;
  /**
   * The address Nodes and pods reach the apiserver at (a relay forwards it to the loopback port); it
   * is in the serving certificate and becomes the `kubernetes` Service's endpoint.
   */
  advertiseAddress: string;
  /**
   * A Unix socket where an HTTP CONNECT proxy reaches the Nodes (src/lab/connect-proxy.mjs): the
   * apiserver's egress selector sends its "cluster" traffic (logs, exec, port-forward) through it.
   */
  egressProxySocket?: string;
}

export class ControlPlaneError extends Error {
  override name = 'ControlPlaneError';
}

/** A limited identity for a ServiceAccount; see ControlPlane.createServiceAccountKubeconfig. */
export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  /** The Kubernetes user name the token authenticates as. */
  username: string;
  token: string;
  kubeconfigPath: string;
  kubeConfig(): KubeConfig;
}

// Admission plugins on by default that only matter for pods, storage, certificates or quotas, none of
// which these control planes run; each one costs informers and CPU on a small machine.
const DISABLED_ADMISSION_PLUGINS = [
  'LimitRanger',
  'ServiceAccount',
  'TaintNodesByCondition',
  'PodSecurity',
  'Priority',
  'DefaultTolerationSeconds',
  'DefaultStorageClass',
  'StorageObjectInUseProtection',
  'PersistentVolumeClaimResize',
  'RuntimeClass',
  'CertificateApproval',
  'CertificateSigning',
  'ClusterTrustBundleAttest',
  'CertificateSubjectRestriction',
  'DefaultIngressClass',
  'PodTopologyLabels',
  'ResourceQuota',
];

// --- Process lifetime -------------------------------------------------------------------------------
// Child processes must not outlive the Node process (a stray apiserver holds a core and a port).
// 'exit' and the usual termination signals are handled here; for a SIGKILLed Node process, each child
// has a watchdog `sh` that kills it once its stdin pipe from us reaches EOF, i.e. once we are gone.

const active = new Set<ControlPlane>();
// Directories to remove if we exit without stop(): the ones we created and were not asked to keep.
const disposableDirs = new Set<string>();
let handlersInstalled = false;

function cleanUpSync(): void {
  for (const cp of active) cp.killNowSync();
  for (const dir of disposableDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // best effort while exiting
    }
  }
  disposableDirs.clear();
}

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanUpSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanUpSync();
      // Listening suppressed Node's default action; restore it unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

// --- ControlPlane -------------------------------------------------------------------------------------

export class ControlPlane {
  /** https://127.0.0.1:<port>; stays the same across startApiserver()/restart(). */
  readonly server: string;
  readonly etcdUrl: string;
  readonly kubeconfigPath: string;
  readonly apiserverLogPath: string;
  readonly etcdLogPath: string;
  /** Wall-clock milliseconds start() took, from call to /readyz OK. */
  startupMs = 0;

  private etcd: ChildProcess | undefined;
  private apiserver: ChildProcess | undefined;
  private controllerManager: ChildProcess | undefined;
  private scheduler: ChildProcess | undefined;
  private stopped: Promise<void> | undefined;
  private tls: { ca: Buffer; cert: Buffer; key: Buffer } | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly keep: boolean,
    private readonly bins: ControlPlaneBinaries,
    readonly certs: ControlPlaneCerts,
    private readonly ports: {
      etcdClient: number;
      etcdPeer: number;
      apiserver: number;
      controllerManager: number;
      scheduler: number;
    },
    private readonly opts: ControlPlaneOptions,
  ) {
    this.server = `https://127.0.0.1:${ports.apiserver}`;
    this.etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
    this.kubeconfigPath = join(dir, 'kubeconfig');
    this.apiserverLogPath = join(dir, 'kube-apiserver.log');
    this.etcdLogPath = join(dir, 'etcd.log');
  }

  /** Starts etcd and kube-apiserver and resolves once /readyz answers 200 with the admin identity. */
  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const began = performance.now();
    if (!/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(opts.name)) {
      throw new ControlPlaneError(
        `control plane name must be a short DNS label, got ${JSON.stringify(opts.name)}`,
      );
    }
    const keep = opts.keep ?? opts.dir !== undefined;
    let dir: string;
    if (opts.dir !== undefined) {
      dir = resolve(opts.dir);
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } else {
      dir = await mkdtemp(join(tmpdir(), `mcgw-cp-${opts.name}-`));
    }
    if (!keep) disposableDirs.add(dir);
    installProcessHandlers();
    try {
      // start() always makes a new cluster, also in a reused `dir`.
      await Promise.all(
        ['etcd-data', 'etcd.log', 'kube-apiserver.log'].map((f) =>
          rm(join(dir, f), { recursive: true, force: true }),
        ),
      );
      const nodes = opts.nodes && checkNodesOptions(opts.nodes);
      const [bins, certs] = await Promise.all([
        findBinaries(opts.binDir),
        generateCerts(dir, opts.name, {
          ...(nodes ? { serviceIP: nodes.serviceIP, extraIPs: [nodes.advertiseAddress] } : {}),
        }),
      ]);
      if (nodes && !(bins.kubeControllerManager && bins.kubeScheduler)) {
        throw new ControlPlaneError(
          `control plane ${opts.name}: kube-controller-manager and kube-scheduler are needed for Nodes ` +
            `and are not in ${bins.dir}`,
        );
      }
      // A probed port can be taken by someone else before our child binds it; retry with fresh ones.
      for (let attempt = 1; ; attempt++) {
        const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler] = (await freePorts(5)) as [
          number,
          number,
          number,
          number,
          number,
        ];
        const cp = new ControlPlane(
          opts.name,
          dir,
          keep,
          bins,
          certs,
          { etcdClient, etcdPeer, apiserver, controllerManager, scheduler },
          opts,
        );
        active.add(cp);
        try {
          await cp.launch();
          cp.startupMs = Math.round(performance.now() - began);
          return cp;
        } catch (err) {
          cp.killNowSync();
          active.delete(cp);
          await Promise.all(cp.children().map(exited));
          if (attempt < 3 && /address already in use/.test(String((err as Error).message))) {
            await rm(join(dir, 'etcd-data'), { recursive: true, force: true });
            continue;
          }
          throw err;
        }
      }
    } catch (err) {
      if (!keep) await removeDir(dir);
      throw err;
    }
  }

  private get readyTimeoutMs(): number {
    return this.opts.readyTimeoutMs ?? 60_000;
  }

  private get stopTimeoutMs(): number {
    return this.opts.stopTimeoutMs ?? 10_000;
  }

  private async launch(): Promise<void> {
    const [ca, cert, key] = (await Promise.all(
      [this.certs.caCert, this.certs.adminCert, this.certs.adminKey].map((p) => readFile(p)),
    )) as [Buffer, Buffer, Buffer];
    this.tls = { ca, cert, key };
    await this.writeKubeconfig(
      this.kubeconfigPath,
      { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) },
      ADMIN_USER,
    );
    if (this.opts.nodes) {
      await issueClientCert(
        this.dir,
        this.certs,
        'apiserver-kubelet-client',
        'kube-apiserver-kubelet-client',
        ['system:masters'],
      );
    }
    const proxy = this.opts.nodes?.egressProxySocket;
    if (proxy) await writeFile(join(this.dir, 'egress.yaml'), egressSelector(proxy));
    await this.startEtcd();
    await this.bootApiserver();
    if (this.opts.nodes) await this.startControllers();
  }

  private children(): ChildProcess[] {
    return [this.scheduler, this.controllerManager, this.apiserver, this.etcd].filter(
      (c): c is ChildProcess => c !== undefined,
    );
  }

  /** Log file of kube-controller-manager or kube-scheduler. */
  logPath(component: 'kube-controller-manager' | 'kube-scheduler'): string {
    return join(this.dir, `${component}.log`);
  }

  // Each component signs in as the identity Kubernetes' bootstrap RBAC expects of it.
  private async componentKubeconfig(file: string, cn: string): Promise<string> {
    const c: ClientCert = await issueClientCert(this.dir, this.certs, file, cn);
    const path = join(this.dir, `kubeconfig-${file}`);
    const [cert, key] = await Promise.all([readFile(c.cert), readFile(c.key)]);
    await this.writeKubeconfig(
      path,
      { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) },
      cn,
    );
    return path;
  }

  private async startControllers(): Promise<void> {
    const nodes = checkNodesOptions(this.opts.nodes!);
    const [kcmConfig, schedulerConfig] = await Promise.all([
      this.componentKubeconfig('kube-controller-manager', 'system:kube-controller-manager'),
      this.componentKubeconfig('kube-scheduler', 'system:kube-scheduler'),
    ]);
    const common = (kubeconfig: string, port: number) => [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${this.dir}`,
      // One replica each: election would only add Lease traffic.
      '--leader-elect=false',
      '--profiling=false',
    ];
    await Promise.all(
      ['kube-controller-manager.log', 'kube-scheduler.log'].map((f) =>
        rm(join(this.dir, f), { force: true }),
      ),
    );
    this.controllerManager = spawnLogged(
      this.bins.kubeControllerManager!,
      [
        ...common(kcmConfig, this.ports.controllerManager),
        // Each controller gets its own ServiceAccount, as in a kubeadm cluster.
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${this.certs.serviceAccountPrivateKey}`,
        `--root-ca-file=${this.certs.caCert}`,
        `--cluster-signing-cert-file=${this.certs.caCert}`,
        `--cluster-signing-key-file=${this.certs.caKey}`,
        '--allocate-node-cidrs=true',
        `--cluster-cidr=${nodes.clusterCIDR}`,
        `--node-cidr-mask-size=${nodes.nodeCIDRMaskSize ?? 24}`,
        `--service-cluster-ip-range=${nodes.serviceCIDR}`,
        '--configure-cloud-routes=false',
      ],
      this.logPath('kube-controller-manager'),
    );
    this.scheduler = spawnLogged(
      this.bins.kubeScheduler!,
      common(schedulerConfig, this.ports.scheduler),
      this.logPath('kube-scheduler'),
    );
    // Both serve /healthz once their clients are set up; a flag or identity error shows here, not later.
    await Promise.all([
      this.waitHealthy('kube-controller-manager', this.controllerManager, this.ports.controllerManager),
      this.waitHealthy('kube-scheduler', this.scheduler, this.ports.scheduler),
    ]);
  }

  private async waitHealthy(
    what: 'kube-controller-manager' | 'kube-scheduler',
    child: ChildProcess,
    port: number,
  ): Promise<void> {
    const deadline = performance.now() + this.readyTimeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (!isRunning(child)) throw await this.failure(`${what} ${describeExit(child)}`, this.logPath(what));
      try {
        const res = await loopbackGet(port, '/healthz', 2_000);
        if (res.status === 200) return;
        last = `HTTP ${res.status}: ${res.body.trim().slice(0, 200)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (performance.now() > deadline) {
        throw await this.failure(
          `${what} not healthy after ${this.readyTimeoutMs} ms (last /healthz: ${last})`,
          this.logPath(what),
        );
      }
      await sleep(200);
    }
  }

  // Waiting for etcd first costs little and keeps the apiserver log free of connection-refused noise,
  // which matters because that log's tail is what a startup failure reports.
  private async startEtcd(): Promise<void> {
    const { etcdClient, etcdPeer } = this.ports;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    this.etcd = spawnLogged(
      this.bins.etcd,
      [
        `--name=${this.name}`,
        `--data-dir=${join(this.dir, 'etcd-data')}`,
        `--listen-client-urls=${this.etcdUrl}`,
        `--advertise-client-urls=${this.etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${this.name}=${peerUrl}`,
        // Unique per control plane, so two members can never mistake each other for one cluster.
        `--initial-cluster-token=mcgw-${this.name}-${etcdClient}-${process.pid}`,
        '--log-level=warn',
        // Test data is disposable; fsync would make every write wait on the disk.
        '--unsafe-no-fsync',
      ],
      this.etcdLogPath,
    );
    const deadline = performance.now() + this.readyTimeoutMs;
    for (;;) {
      if (!isRunning(this.etcd)) {
        throw await this.failure(
          `etcd ${this.etcd ? describeExit(this.etcd) : 'is not running'}`,
          this.etcdLogPath,
        );
      }
      if (await etcdHealthy(this.etcdUrl)) return;
      if (performance.now() > deadline) {
        throw await this.failure(`etcd not healthy after ${this.readyTimeoutMs} ms`, this.etcdLogPath);
      }
      await sleep(50);
    }
  }

  private spawnApiserver(): void {
    const c = this.certs;
    const nodes = this.opts.nodes && checkNodesOptions(this.opts.nodes);
    const args = [
      `--etcd-servers=${this.etcdUrl}`,
      '--bind-address=127.0.0.1',
      `--advertise-address=${nodes?.advertiseAddress ?? '127.0.0.1'}`,
      `--secure-port=${this.ports.apiserver}`,
      `--cert-dir=${this.dir}`,
      `--tls-cert-file=${c.serverCert}`,
      `--tls-private-key-file=${c.serverKey}`,
      `--client-ca-file=${c.caCert}`,
      `--service-account-key-file=${c.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${c.serviceAccountPrivateKey}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-cluster-ip-range=${nodes?.serviceCIDR ?? SERVICE_CIDR}`,
      // Light on a 2-core machine: no APF queueing machinery, no profiling endpoints.
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      ...(nodes
        ? [
            // As a real cluster: kubelets are authorized as Nodes and may only touch their own objects.
            '--authorization-mode=Node,RBAC',
            '--enable-admission-plugins=NodeRestriction',
            // Nodes have no DNS names here; logs and exec reach kubelets at their InternalIP.
            '--kubelet-preferred-address-types=InternalIP',
            `--kubelet-client-certificate=${join(this.dir, 'apiserver-kubelet-client.crt')}`,
            `--kubelet-client-key=${join(this.dir, 'apiserver-kubelet-client.key')}`,
            '--allow-privileged=true',
            ...(nodes.egressProxySocket
              ? [`--egress-selector-config-file=${join(this.dir, 'egress.yaml')}`]
              : []),
          ]
        : [
            '--authorization-mode=RBAC',
            // No pods run here, so the plugins for pods, storage and quotas would only cost CPU.
            `--disable-admission-plugins=${DISABLED_ADMISSION_PLUGINS.join(',')}`,
            // Endpoints may not point at loopback, so the `kubernetes` endpoint reconciler could only fail.
            '--endpoint-reconciler-type=none',
          ]),
      ...(this.opts.apiserverArgs ?? []),
    ];
    this.apiserver = spawnLogged(this.bins.kubeApiserver, args, this.apiserverLogPath);
  }

  // An apiserver that never got ready is killed, so apiserverRunning always means usable.
  private async bootApiserver(): Promise<void> {
    this.spawnApiserver();
    try {
      await this.waitReady();
    } catch (err) {
      await this.killApiserver();
      throw err;
    }
  }

  private async waitReady(): Promise<void> {
    const deadline = performance.now() + this.readyTimeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (!isRunning(this.etcd)) {
        throw await this.failure(
          `etcd ${this.etcd ? describeExit(this.etcd) : 'is not running'}`,
          this.etcdLogPath,
        );
      }
      if (!isRunning(this.apiserver)) {
        throw await this.failure(
          `kube-apiserver ${this.apiserver ? describeExit(this.apiserver) : 'is not running'}`,
          this.apiserverLogPath,
        );
      }
      try {
        const res = await this.adminGet('/readyz', 2_000);
        if (res.status === 200) return;
        const failing = res.body.split('\n').filter((l) => l.startsWith('[-]'));
        last = `HTTP ${res.status}: ${failing.length > 0 ? failing.join('; ') : res.body.trim()}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (performance.now() > deadline) {
        throw await this.failure(
          `kube-apiserver not ready after ${this.readyTimeoutMs} ms (last /readyz: ${last})`,
          this.apiserverLogPath,
        );
      }
      await sleep(100);
    }
  }

  private async failure(what: string, logPath: string): Promise<ControlPlaneError> {
    return new ControlPlaneError(
      `control plane ${this.name} (${this.dir}): ${what}\n` +
        `--- last lines of ${logPath} ---\n${await tail(logPath)}`,
    );
  }

  /** A GET as the admin user, CA-verified; for health endpoints and other raw paths. */
  adminGet(path: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
    const tls = this.tls;
    if (!tls) return Promise.reject(new ControlPlaneError('control plane not started'));
    return loopbackGet(this.ports.apiserver, path, timeoutMs, tls);
  }

  private async writeKubeconfig(path: string, user: Record<string, string>, userName: string): Promise<void> {
    const context = `mcgw-${this.name}`;
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: context,
          cluster: {
            server: this.server,
            'certificate-authority-data': b64(this.tls?.ca ?? Buffer.alloc(0)),
          },
        },
      ],
      users: [{ name: userName, user }],
      contexts: [{ name: context, context: { cluster: context, user: userName } }],
      'current-context': context,
    };
    await writeFile(path, stringify(config), { mode: 0o600 });
  }

  /** A fresh client-node KubeConfig for the admin identity (system:masters). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  get apiserverRunning(): boolean {
    return isRunning(this.apiserver);
  }

  get etcdRunning(): boolean {
    return isRunning(this.etcd);
  }

  /** Pids of the running processes, for tests that check they are gone. */
  pids(): { etcd?: number; apiserver?: number; controllerManager?: number; scheduler?: number } {
    return {
      ...(isRunning(this.etcd) ? { etcd: this.etcd.pid } : {}),
      ...(isRunning(this.apiserver) ? { apiserver: this.apiserver.pid } : {}),
      ...(isRunning(this.controllerManager) ? { controllerManager: this.controllerManager.pid } : {}),
      ...(isRunning(this.scheduler) ? { scheduler: this.scheduler.pid } : {}),
    };
  }

  /** Stops kube-apiserver abruptly (SIGKILL by default), leaving etcd and its data alone. */
  async killApiserver(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.apiserver;
    if (!isRunning(child)) return;
    if (signal === 'SIGTERM') return terminate(child, this.stopTimeoutMs);
    const done = exited(child);
    child.kill('SIGKILL');
    await done;
  }

  /** Starts kube-apiserver again on the same port, so existing kubeconfigs keep working. */
  async startApiserver(): Promise<void> {
    this.assertNotStopped();
    if (isRunning(this.apiserver)) return;
    if (!isRunning(this.etcd)) throw new ControlPlaneError(`control plane ${this.name}: etcd is not running`);
    await this.bootApiserver();
  }

  /** Gracefully restarts both processes; data, ports, certs and kubeconfigs stay. */
  async restart(): Promise<void> {
    this.assertNotStopped();
    await terminate(this.apiserver, this.stopTimeoutMs);
    await terminate(this.etcd, this.stopTimeoutMs);
    await this.startEtcd();
    await this.bootApiserver();
  }

  /** Stops both processes (SIGTERM, then SIGKILL after stopTimeoutMs) and removes the dir unless kept. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      try {
        await Promise.all([
          terminate(this.scheduler, this.stopTimeoutMs),
          terminate(this.controllerManager, this.stopTimeoutMs),
        ]);
        await terminate(this.apiserver, this.stopTimeoutMs);
        await terminate(this.etcd, this.stopTimeoutMs);
      } finally {
        active.delete(this);
      }
      if (!this.keep) await removeDir(this.dir);
    })();
    return this.stopped;
  }

  /** SIGKILLs every process without waiting; for exit handlers, which cannot wait. */
  killNowSync(): void {
    for (const child of this.children()) killNowSync(child);
  }

  /**
   * Creates (if absent) the namespace and ServiceAccount, issues a token for it through the
   * TokenRequest API and writes a kubeconfig using that token. The account has no RBAC bindings,
   * so it is denied everything beyond discovery until the caller grants it something.
   */
  async createServiceAccountKubeconfig(
    namespace: string,
    name: string,
    opts: { expirationSeconds?: number } = {},
  ): Promise<ServiceAccountIdentity> {
    this.assertNotStopped();
    const core = this.kubeConfig().makeApiClient(CoreV1Api);
    await ignoreConflict(core.createNamespace({ body: { metadata: { name: namespace } } }));
    await ignoreConflict(core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }));
    const tokenRequest = await core.createNamespacedServiceAccountToken({
      name,
      namespace,
      // No audiences: the token gets the apiserver's own (the issuer), which is what it accepts.
      body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 } },
    });
    const token = tokenRequest.status?.token;
    if (!token) throw new ControlPlaneError(`TokenRequest for ${namespace}/${name} returned no token`);
    const username = `system:serviceaccount:${namespace}:${name}`;
    const kubeconfigPath = join(this.dir, `kubeconfig-sa-${namespace}-${name}`);
    await this.writeKubeconfig(kubeconfigPath, { token }, username);
    return {
      namespace,
      name,
      username,
      token,
      kubeconfigPath,
      kubeConfig: () => {
        const kc = new KubeConfig();
        kc.loadFromFile(kubeconfigPath);
        return kc;
      },
    };
  }

  private assertNotStopped(): void {
    if (this.stopped) throw new ControlPlaneError(`control plane ${this.name} has been stopped`);
  }
}

/** The apiserver reaches Nodes and pods through an HTTP CONNECT proxy on a Unix socket. */
function egressSelector(socket: string): string {
  return stringify({
    apiVersion: 'apiserver.k8s.io/v1beta1',
    kind: 'EgressSelectorConfiguration',
    egressSelections: [
      {
        name: 'cluster',
        connection: { proxyProtocol: 'HTTPConnect', transport: { uds: { udsName: socket } } },
      },
    ],
  });
}

/** The Service range's first address (the `kubernetes` Service), with the options checked. */
function checkNodesOptions(o: NodesOptions): NodesOptions & { serviceIP: string } {
  const svc = parseCIDR(o.serviceCIDR);
  if (!svc || svc.family !== 4 || svc.prefix < 12 || svc.prefix > 30) {
    throw new ControlPlaneError(`serviceCIDR must be an IPv4 range from /12 to /30, got ${o.serviceCIDR}`);
  }
  const cluster = parseCIDR(o.clusterCIDR);
  const mask = o.nodeCIDRMaskSize ?? 24;
  if (!cluster || cluster.family !== 4 || mask < cluster.prefix || mask > 30) {
    throw new ControlPlaneError(
      `clusterCIDR ${o.clusterCIDR} with Node prefix /${mask}: need an IPv4 range no longer than /${mask}`,
    );
  }
  return { ...o, serviceIP: uint32ToIPv4(ipv4ToUint32(svc.bytes) + 1) };
}

/**
 * A GET to a component on this machine's loopback: the apiserver with the admin identity (CA checked),
 * or, without `tls`, kube-controller-manager and kube-scheduler, which serve /healthz to anyone on a
 * self-signed certificate.
 */
function loopbackGet(
  port: number,
  path: string,
  timeoutMs: number,
  tls?: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        ...(tls ?? { rejectUnauthorized: false }),
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function etcdHealthy(url: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const req = httpGet(`${url}/health`, { timeout: 1_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolvePromise(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
      res.on('error', () => resolvePromise(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolvePromise(false));
  });
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 2 });
  disposableDirs.delete(dir);
}

const b64 = (buf: Buffer): string => buf.toString('base64');

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
}
