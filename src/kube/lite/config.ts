// Where the apiserver is and how to authenticate to it, for the small client (src/kube/lite): from a
// kubeconfig (its current context: server, CA, client certificate, token or token file, basic auth,
// insecure-skip-tls-verify, tls-server-name) or from the in-cluster ServiceAccount of a Pod. Exec
// plugins, auth providers and proxies are not supported: the agent runs with a ServiceAccount token
// in a DaemonSet, or with a kubeconfig holding certificates or a token.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';

export interface ClusterConfig {
  /** https://host:port, possibly with a path prefix. */
  server: string;
  /** PEM bundle to verify the apiserver with; the system's CAs when absent. */
  ca?: Buffer;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
  cert?: Buffer;
  key?: Buffer;
  /** The Authorization header for the next request, asked for each time (token files rotate). */
  authorization?: () => string | undefined;
  /** Told about a 401, so a rotated token file is read again at once. */
  onUnauthorized?: () => void;
  /** Where this came from, for messages: a kubeconfig path and context, or "in-cluster". */
  source: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * A token file read again when it may have changed: at most every `refreshMs`, at once after a 401
 * (invalidate()). Kubelet rotates bound ServiceAccount tokens well before they expire; a read that
 * fails keeps the last token.
 */
export function tokenFile(path: string, refreshMs = 60_000): { get(): string; invalidate(): void } {
  let token = readFileSync(path, 'utf8').trim();
  let readAt = Date.now();
  let mtime = statSync(path).mtimeMs;
  return {
    get() {
      if (Date.now() - readAt >= refreshMs) {
        readAt = Date.now();
        try {
          const m = statSync(path).mtimeMs;
          if (m !== mtime) {
            const t = readFileSync(path, 'utf8').trim();
            if (t) token = t;
            mtime = m;
          }
        } catch {
          // keep the last token; the file may be between a kubelet's remove and rename
        }
      }
      return token;
    },
    invalidate() {
      readAt = 0;
      mtime = -1;
    },
  };
}

export interface InClusterOptions {
  env?: NodeJS.ProcessEnv;
  /** Directory holding token and ca.crt; default /var/run/secrets/kubernetes.io/serviceaccount. */
  dir?: string;
  tokenRefreshMs?: number;
}

/** The Pod's own ServiceAccount: KUBERNETES_SERVICE_HOST/PORT, its token (re-read) and CA. */
export function inClusterConfig(o: InClusterOptions = {}): ClusterConfig {
  const env = o.env ?? process.env;
  const dir = o.dir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new Error('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set');
  const token = tokenFile(join(dir, 'token'), o.tokenRefreshMs);
  const caPath = join(dir, 'ca.crt');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...(existsSync(caPath) && { ca: readFileSync(caPath) }),
    authorization: () => `Bearer ${token.get()}`,
    onUnauthorized: () => token.invalidate(),
    source: 'in-cluster',
  };
}

// --- kubeconfig ---

/** One element of clusters, users or contexts: a name and the object under its kind's key. */
type Named = { name?: unknown } & Record<string, unknown>;
interface KubeconfigCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}
interface KubeconfigUser {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
}
interface KubeconfigContext {
  cluster?: string;
  user?: string;
}
interface KubeconfigDoc {
  'current-context'?: string;
  clusters?: Named[];
  users?: Named[];
  contexts?: Named[];
}

/** One entry with the directory of the file that defined it (relative paths are relative to it). */
interface Entry<T> {
  value: T;
  dir: string;
}

/** Parsed kubeconfig files, merged as kubectl does: the first definition of each name wins. */
class Merged {
  currentContext: string | undefined;
  readonly clusters = new Map<string, Entry<KubeconfigCluster>>();
  readonly users = new Map<string, Entry<KubeconfigUser>>();
  readonly contexts = new Map<string, Entry<KubeconfigContext>>();

  add(doc: KubeconfigDoc, dir: string): void {
    this.currentContext ||= doc['current-context'] || undefined;
    const put = <T>(into: Map<string, Entry<T>>, list: Named[] | undefined, key: string) => {
      for (const e of list ?? []) {
        const v = e[key] as T | undefined;
        if (typeof e.name === 'string' && v && !into.has(e.name)) into.set(e.name, { value: v, dir });
      }
    };
    put(this.clusters, doc.clusters, 'cluster');
    put(this.users, doc.users, 'user');
    put(this.contexts, doc.contexts, 'context');
  }
}

export interface KubeconfigOptions {
  /** A context other than current-context. */
  context?: string;
  tokenRefreshMs?: number;
}

/** Parses kubeconfig texts (YAML or JSON), each with the path it came from, and picks the context. */
export async function configFromKubeconfigs(
  files: { text: string; path: string }[],
  o: KubeconfigOptions = {},
): Promise<ClusterConfig> {
  // Loaded here only: an in-cluster agent never parses YAML.
  const { parse } = await import('yaml');
  const m = new Merged();
  for (const f of files) {
    const doc = (parse(f.text) ?? {}) as KubeconfigDoc;
    if (typeof doc !== 'object') throw new Error(`${f.path} is not a kubeconfig`);
    m.add(doc, dirname(f.path));
  }
  const where = files.map((f) => f.path).join(delimiter);
  const ctxName = o.context ?? m.currentContext;
  if (!ctxName) throw new Error(`kubeconfig ${where} names no current context`);
  const ctx = m.contexts.get(ctxName)?.value;
  if (!ctx) throw new Error(`kubeconfig ${where} has no context "${ctxName}"`);
  const cluster = ctx.cluster ? m.clusters.get(ctx.cluster) : undefined;
  if (!cluster?.value.server) throw new Error(`kubeconfig ${where} names no current cluster`);
  const user = ctx.user ? m.users.get(ctx.user) : undefined;
  const c = cluster.value;
  const u = user?.value ?? {};
  const read = (e: Entry<unknown>, p: string) => readFileSync(isAbsolute(p) ? p : join(e.dir, p));
  const b64 = (s: string) => Buffer.from(s, 'base64');
  if (c['proxy-url']) throw new Error(`kubeconfig ${where}: proxy-url is not supported by the agent`);
  if (u.exec || u['auth-provider'])
    throw new Error(
      `kubeconfig ${where}: user "${ctx.user}" uses an exec plugin or auth provider, which the agent does not support; use a token, token file or client certificate`,
    );
  const cfg: ClusterConfig = {
    server: c.server!,
    source: `${where} (context ${ctxName})`,
  };
  if (c['certificate-authority-data']) cfg.ca = b64(c['certificate-authority-data']);
  else if (c['certificate-authority']) cfg.ca = read(cluster, c['certificate-authority']);
  if (c['insecure-skip-tls-verify']) cfg.insecureSkipTLSVerify = true;
  if (c['tls-server-name']) cfg.tlsServerName = c['tls-server-name'];
  if (user) {
    if (u['client-certificate-data']) cfg.cert = b64(u['client-certificate-data']);
    else if (u['client-certificate']) cfg.cert = read(user, u['client-certificate']);
    if (u['client-key-data']) cfg.key = b64(u['client-key-data']);
    else if (u['client-key']) cfg.key = read(user, u['client-key']);
    if (u.token) {
      const header = `Bearer ${u.token}`;
      cfg.authorization = () => header;
    } else if (u.tokenFile) {
      const t = tokenFile(
        isAbsolute(u.tokenFile) ? u.tokenFile : join(user.dir, u.tokenFile),
        o.tokenRefreshMs,
      );
      cfg.authorization = () => `Bearer ${t.get()}`;
      cfg.onUnauthorized = () => t.invalidate();
    } else if (u.username !== undefined && u.password !== undefined) {
      const header = `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
      cfg.authorization = () => header;
    }
  }
  return cfg;
}

/** Reads and parses kubeconfig files (several: merged in order, as $KUBECONFIG lists them). */
export async function configFromKubeconfigFiles(
  paths: string[],
  o: KubeconfigOptions = {},
): Promise<ClusterConfig> {
  return configFromKubeconfigs(
    paths.map((path) => ({ path, text: readFileSync(path, 'utf8') })),
    o,
  );
}

/**
 * Like src/kube/client.ts loadKubeConfig: the given kubeconfig; else the files $KUBECONFIG lists
 * (missing ones skipped); else ~/.kube/config; else the in-cluster ServiceAccount.
 */
export async function loadClusterConfig(
  path?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ClusterConfig> {
  if (path) return configFromKubeconfigFiles([path]);
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter((p) => p && existsSync(p));
    if (!files.length) throw new Error(`no kubeconfig found: none of $KUBECONFIG (${env.KUBECONFIG}) exists`);
    return configFromKubeconfigFiles(files);
  }
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return configFromKubeconfigFiles([home]);
  if (env.KUBERNETES_SERVICE_HOST) return inClusterConfig({ env });
  throw new Error('no kubeconfig found: pass --kubeconfig or set KUBECONFIG');
}
