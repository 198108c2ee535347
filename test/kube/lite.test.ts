// The agent's small Kubernetes client (src/kube/lite) without an apiserver: kubeconfig and in-cluster
// configuration, error classification, and the list+watch cache against a scripted HTTP server (410
// Gone, bookmarks, a stream cut, the server's own watch timeout). test/integration/kubelite.test.ts
// runs the same against a real kube-apiserver.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException } from '@kubernetes/client-node';
import { apiMessage, isConflict, isForbidden, isNotFound, statusCode } from '../../src/kube/errors.ts';
import { KubeClient } from '../../src/kube/lite/client.ts';
import {
  configFromKubeconfigFiles,
  inClusterConfig,
  loadClusterConfig,
  tokenFile,
} from '../../src/kube/lite/config.ts';
import { KubeApiError } from '../../src/kube/lite/errors.ts';
import { startListWatch } from '../../src/kube/lite/informer.ts';
import { RawApiError } from '../../src/kube/rawerror.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcgw-lite-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(o: { cluster: object; user: object; current?: string; context?: string }): string {
  const ctx = o.context ?? 'c1';
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    ...(o.current !== undefined ? { 'current-context': o.current } : { 'current-context': ctx }),
    clusters: [{ name: 'k1', cluster: o.cluster }],
    users: [{ name: 'u1', user: o.user }],
    contexts: [{ name: ctx, context: { cluster: 'k1', user: 'u1' } }],
  });
}

describe('kubeconfig', () => {
  test('inline data: server, CA, client certificate and key, token, tls options', async () => {
    const p = join(dir, 'inline.yaml');
    await writeFile(
      p,
      `apiVersion: v1
kind: Config
current-context: main
clusters:
- name: other
  cluster: {server: https://198.18.9.9:1}
- name: k
  cluster:
    server: https://198.18.0.1:6443
    certificate-authority-data: ${b64('CA')}
    insecure-skip-tls-verify: true
    tls-server-name: kubernetes.default
users:
- name: u
  user:
    client-certificate-data: ${b64('CERT')}
    client-key-data: ${b64('KEY')}
    token: t0k3n
contexts:
- name: main
  context: {cluster: k, user: u, namespace: x}
`,
    );
    const c = await configFromKubeconfigFiles([p]);
    assert.equal(c.server, 'https://198.18.0.1:6443');
    assert.equal(c.ca?.toString(), 'CA');
    assert.equal(c.cert?.toString(), 'CERT');
    assert.equal(c.key?.toString(), 'KEY');
    assert.equal(c.insecureSkipTLSVerify, true);
    assert.equal(c.tlsServerName, 'kubernetes.default');
    assert.equal(c.authorization?.(), 'Bearer t0k3n');
    assert.match(c.source, /context main/);
  });

  test('file references are relative to the kubeconfig; a token file is read again after a 401', async () => {
    const sub = await mkdtemp(join(dir, 'files-'));
    await writeFile(join(sub, 'ca.crt'), 'CAFILE');
    await writeFile(join(sub, 'c.crt'), 'CERTFILE');
    await writeFile(join(sub, 'c.key'), 'KEYFILE');
    await writeFile(join(sub, 'token'), 'first\n');
    const p = join(sub, 'config');
    await writeFile(
      p,
      kubeconfig({
        cluster: { server: 'https://198.18.0.1:6443', 'certificate-authority': 'ca.crt' },
        user: { 'client-certificate': 'c.crt', 'client-key': join(sub, 'c.key'), tokenFile: 'token' },
      }),
    );
    const c = await configFromKubeconfigFiles([p], { tokenRefreshMs: 3_600_000 });
    assert.equal(c.ca?.toString(), 'CAFILE');
    assert.equal(c.cert?.toString(), 'CERTFILE');
    assert.equal(c.key?.toString(), 'KEYFILE');
    assert.equal(c.authorization?.(), 'Bearer first');
    await writeFile(join(sub, 'token'), 'second\n');
    assert.equal(c.authorization?.(), 'Bearer first', 'not re-read before its refresh interval');
    c.onUnauthorized?.();
    assert.equal(c.authorization?.(), 'Bearer second');
  });

  test('a rotated token file is picked up after the refresh interval; a missing file keeps the last token', async () => {
    const p = join(dir, 'rotating-token');
    await writeFile(p, 'one');
    const t = tokenFile(p, 20);
    assert.equal(t.get(), 'one');
    await writeFile(p, 'two');
    await sleep(30);
    assert.equal(t.get(), 'two');
    await rm(p);
    await sleep(30);
    assert.equal(t.get(), 'two');
  });

  test('basic auth; exec plugins, auth providers and proxies are refused with a reason', async () => {
    const p = join(dir, 'basic.json');
    await writeFile(
      p,
      kubeconfig({ cluster: { server: 'http://198.18.0.1:8080' }, user: { username: 'a', password: 'b' } }),
    );
    assert.equal((await configFromKubeconfigFiles([p])).authorization?.(), `Basic ${b64('a:b')}`);
    for (const [cluster, user, re] of [
      [{ server: 'https://x' }, { exec: { command: 'aws' } }, /exec plugin/],
      [{ server: 'https://x' }, { 'auth-provider': { name: 'gcp' } }, /exec plugin or auth provider/],
      [{ server: 'https://x', 'proxy-url': 'http://p' }, {}, /proxy-url/],
    ] as const) {
      await writeFile(p, kubeconfig({ cluster, user }));
      await assert.rejects(configFromKubeconfigFiles([p]), re);
    }
  });

  test('no current context, an unknown context or no server: clear errors', async () => {
    const p = join(dir, 'bad.json');
    await writeFile(p, kubeconfig({ cluster: { server: 'https://x' }, user: {}, current: '' }));
    await assert.rejects(configFromKubeconfigFiles([p]), /names no current context/);
    await writeFile(p, kubeconfig({ cluster: { server: 'https://x' }, user: {}, current: 'nope' }));
    await assert.rejects(configFromKubeconfigFiles([p]), /has no context "nope"/);
    await writeFile(p, kubeconfig({ cluster: {}, user: {} }));
    await assert.rejects(configFromKubeconfigFiles([p]), /names no current cluster/);
  });

  test('$KUBECONFIG: files merged in order, the first definition wins, missing files skipped', async () => {
    const a = join(dir, 'merge-a.json');
    const b = join(dir, 'merge-b.json');
    await writeFile(
      a,
      JSON.stringify({
        'current-context': 'ctx',
        contexts: [{ name: 'ctx', context: { cluster: 'k', user: 'u' } }],
        clusters: [{ name: 'k', cluster: { server: 'https://198.18.0.1:1' } }],
      }),
    );
    await writeFile(
      b,
      JSON.stringify({
        'current-context': 'other',
        clusters: [{ name: 'k', cluster: { server: 'https://198.18.0.2:2' } }],
        users: [{ name: 'u', user: { token: 'from-b' } }],
      }),
    );
    const env = { KUBECONFIG: [join(dir, 'missing'), a, b].join(':'), HOME: dir };
    const c = await loadClusterConfig(undefined, env);
    assert.equal(c.server, 'https://198.18.0.1:1');
    assert.equal(c.authorization?.(), 'Bearer from-b');
    await assert.rejects(
      loadClusterConfig(undefined, { KUBECONFIG: join(dir, 'missing'), HOME: dir }),
      /none of \$KUBECONFIG/,
    );
    await assert.rejects(loadClusterConfig(undefined, { HOME: dir }), /no kubeconfig found/);
  });

  test('in-cluster: service host and port, the CA, the token re-read after a 401', async () => {
    const sa = await mkdtemp(join(dir, 'sa-'));
    await writeFile(join(sa, 'token'), 'sa-1');
    await writeFile(join(sa, 'ca.crt'), 'SACA');
    const env = { KUBERNETES_SERVICE_HOST: '198.18.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const c = inClusterConfig({ env, dir: sa });
    assert.equal(c.server, 'https://198.18.0.1:443');
    assert.equal(c.ca?.toString(), 'SACA');
    assert.equal(c.authorization?.(), 'Bearer sa-1');
    await writeFile(join(sa, 'token'), 'sa-2');
    c.onUnauthorized?.();
    assert.equal(c.authorization?.(), 'Bearer sa-2');
    assert.equal(
      inClusterConfig({ env: { ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' }, dir: sa }).server,
      'https://[fd00::1]:443',
    );
    assert.throws(() => inClusterConfig({ env: {}, dir: sa }), /not in a cluster/);
    assert.throws(() => inClusterConfig({ env, dir: join(sa, 'nope') }), /ENOENT/);
  });
});

describe('errors', () => {
  const status = (code: number, reason: string, message: string) =>
    JSON.stringify({ kind: 'Status', status: 'Failure', code, reason, message });

  test('the small client, the raw client and client-node are classified alike', () => {
    const lite = new KubeApiError(409, status(409, 'Conflict', 'the object has been modified'), 'PUT', '/x');
    const raw = new RawApiError(404, status(404, 'NotFound', 'leases "a" not found'), 'GET', '/y');
    const cn = new ApiException(403, 'Forbidden', status(403, 'Forbidden', 'nodes is forbidden'), {});
    assert.equal(statusCode(lite), 409);
    assert.ok(isConflict(lite) && !isNotFound(lite));
    assert.equal(lite.reason, 'Conflict');
    assert.equal(lite.apiMessage, 'the object has been modified');
    assert.equal(apiMessage(lite), 'PUT /x: HTTP 409: the object has been modified');
    assert.ok(isNotFound(raw));
    assert.equal(apiMessage(raw), 'GET /y: HTTP 404: leases "a" not found');
    assert.ok(isForbidden(cn));
    assert.equal(apiMessage(cn), 'HTTP 403: nodes is forbidden');
    const plain = new KubeApiError(502, '<html>bad gateway</html>', 'GET', '/z');
    assert.equal(plain.reason, undefined);
    assert.match(apiMessage(plain), /HTTP 502: <html>bad gateway/);
    const net = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.equal(statusCode(net), undefined);
    assert.equal(apiMessage(net), 'connect ECONNREFUSED');
  });
});

// --- a scripted apiserver for the list+watch cache ---

interface Obj {
  metadata: { name: string; resourceVersion: string };
  data?: string;
}
type WatchScript = (res: ServerResponse, query: URLSearchParams, req: IncomingMessage) => void;

class FakeApi {
  objects = new Map<string, Obj>();
  rv = 10;
  lists = 0;
  watchQueries: URLSearchParams[] = [];
  /** What each watch request does, in order; the last one repeats. */
  scripts: WatchScript[] = [];
  private server!: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname !== '/api/v1/things') {
        res.writeHead(404).end();
        return;
      }
      if (url.searchParams.get('watch') === '1') {
        this.watchQueries.push(url.searchParams);
        const script = this.scripts.length > 1 ? this.scripts.shift()! : this.scripts[0];
        if (!script) return res.writeHead(500).end();
        return script(res, url.searchParams, req);
      }
      this.lists++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'ThingList',
          metadata: { resourceVersion: String(this.rv) },
          items: [...this.objects.values()],
        }),
      );
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  put(name: string, data: string): Obj {
    const o = { metadata: { name, resourceVersion: String(++this.rv) }, data };
    this.objects.set(name, o);
    return o;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const event = (res: ServerResponse, type: string, object: unknown) =>
  res.write(`${JSON.stringify({ type, object })}\n`);
const openStream = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
};

describe('list+watch cache against a scripted server', () => {
  const api = new FakeApi();
  before(() => api.start());
  after(() => api.close());

  test('events, a bookmark, 410 Gone (as an event and as a status), a cut stream, the server timeout', async () => {
    api.put('a', '1');
    api.put('b', '1');
    const seen: string[] = [];
    const errors: string[] = [];
    let recovered = 0;
    let hold: ServerResponse | undefined;
    api.scripts = [
      // 1: changes, a bookmark, then 410 Gone as an ERROR event.
      (res) => {
        openStream(res);
        const a = api.put('a', '2');
        event(res, 'MODIFIED', a);
        const b = api.objects.get('b')!;
        api.objects.delete('b');
        event(res, 'DELETED', { ...b, metadata: { ...b.metadata, resourceVersion: String(++api.rv) } });
        event(res, 'BOOKMARK', { metadata: { resourceVersion: '99' } });
        setTimeout(() => {
          event(res, 'ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
          res.end();
        }, 50);
      },
      // 2 (after the relist): 410 as the HTTP status of the watch request itself.
      (res) => {
        api.put('c', '1');
        res.writeHead(410, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Gone', message: 'gone' }));
      },
      // 3: cut the connection mid-stream: an error, then a relist and onRecover.
      (res) => {
        openStream(res);
        res.write('{"type":"MODIFIED","object":{"metadata":{"na');
        setTimeout(() => res.socket?.destroy(), 30);
      },
      // 4: the server's own timeout: a clean end after timeoutSeconds.
      (res, q) => {
        openStream(res);
        event(res, 'BOOKMARK', { metadata: { resourceVersion: String(api.rv) } });
        setTimeout(() => res.end(), Number(q.get('timeoutSeconds')) * 1000);
      },
      // 5: resumed from the last resourceVersion; held open until the test ends.
      (res) => {
        openStream(res);
        hold = res;
      },
    ];
    const client = new KubeClient({ server: `http://127.0.0.1:${api.port}`, source: 'test' });
    const inf = startListWatch<Obj>(client, '/api/v1/things', {
      onChange: (k, o) => seen.push(`${k} ${o.metadata.name}`),
      onError: (err) => errors.push(String(err)),
      onRecover: () => recovered++,
      minBackoffMs: 20,
      maxBackoffMs: 40,
      watchTimeoutSeconds: 1,
    });
    try {
      await inf.synced;
      const until = async (what: string, cond: () => boolean) => {
        const end = Date.now() + 8000;
        while (!cond()) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}; seen ${seen.join(', ')}`);
          await sleep(10);
        }
      };
      await until('the fifth watch', () => api.watchQueries.length >= 5);
      const q = api.watchQueries.map((x) => ({
        rv: x.get('resourceVersion'),
        bookmarks: x.get('allowWatchBookmarks'),
      }));
      assert.equal(q[0]!.rv, '12', 'the first watch starts at the list');
      assert.equal(q[0]!.bookmarks, 'true');
      // Lists: the first, after the 410 event, after the 410 status, after the cut; none after the
      // server's own timeout: watch 5 resumes from the bookmark watch 4 sent.
      assert.equal(api.lists, 4);
      assert.equal(q[4]!.rv, String(api.rv));
      assert.deepEqual(
        seen.filter((s) => s !== 'update a'),
        ['add a', 'add b', 'delete b', 'add c'],
      );
      assert.deepEqual(
        inf
          .list()
          .map((o) => o.metadata.name)
          .sort(),
        ['a', 'c'],
      );
      assert.equal(inf.get('a')?.data, '2');
      assert.equal(errors.length, 1, `one error, the cut stream: ${errors.join('; ')}`);
      assert.match(errors[0]!, /watch stream was cut/);
      assert.equal(recovered, 1);
      assert.deepEqual(inf.stats(), { lists: 4, watches: 5, gone: 2, errors: 1 });
    } finally {
      await inf.stop();
      hold?.end();
      client.close();
    }
  });

  test('the server away: the cache is kept, retried with capped backoff, then current again', async () => {
    api.objects.clear();
    api.watchQueries = [];
    api.put('x', '1');
    api.put('y', '1');
    api.scripts = [(res) => openStream(res)];
    const errors: number[] = [];
    let recovered = 0;
    const seen: string[] = [];
    // A port nothing listens on, once the first list is done: every retry is refused.
    const client = new KubeClient({ server: `http://127.0.0.1:${api.port}`, source: 'test' });
    const inf = startListWatch<Obj>(client, '/api/v1/things', {
      onChange: (k, o) => seen.push(`${k} ${o.metadata.name}`),
      onError: (_e, retry) => errors.push(retry),
      onRecover: () => recovered++,
      minBackoffMs: 10,
      maxBackoffMs: 40,
    });
    try {
      await inf.synced;
      while (api.watchQueries.length === 0) await sleep(5);
      // Make the next list answer 503 a few times, then cut the watch.
      let refusals = 4;
      const listeners = api['server'].listeners('request') as ((...a: unknown[]) => void)[];
      api['server'].removeAllListeners('request');
      api['server'].on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (refusals > 0 && !req.url!.includes('watch=1')) {
          refusals--;
          return res.writeHead(503).end('{"kind":"Status","code":503,"message":"not ready"}');
        }
        for (const l of listeners) l(req, res);
      });
      api.objects.delete('y');
      api.put('z', '1');
      api['server'].closeAllConnections();
      const end = Date.now() + 5000;
      while (recovered === 0 && Date.now() < end) {
        // While away, the last known objects stay.
        if (refusals > 0)
          assert.deepEqual(
            inf
              .list()
              .map((o) => o.metadata.name)
              .sort(),
            ['x', 'y'],
          );
        await sleep(5);
      }
      assert.equal(recovered, 1, `errors ${errors.join(',')} stats ${JSON.stringify(inf.stats())}`);
      assert.deepEqual(errors, [10, 20, 40, 40, 40], 'the cut, then 4 refused lists; backoff capped');
      assert.deepEqual(seen, ['add x', 'add y', 'delete y', 'add z']);
      assert.ok(inf.isSynced());
    } finally {
      await inf.stop();
      client.close();
    }
  });
});
