// Real control planes: isolation, apiserver fault and recovery, RBAC for a limited identity, cleanup.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { describe, it } from 'node:test';
import { findBinaries, repoRoot } from '../../src/lab/binaries.ts';
import { useControlPlanes } from './harness.ts';

const core = (kc: KubeConfig): CoreV1Api => kc.makeApiClient(CoreV1Api);
const ns = (name: string) => ({ body: { metadata: { name } } });

const apiStatus = (code: number) => (err: unknown) => {
  assert.ok(err instanceof ApiException, `expected an ApiException ${code}, got ${String(err)}`);
  assert.equal(err.code, code);
  return true;
};

/** Alive and not a zombie: a zombie has exited, it only waits for its parent to reap it. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitUntilGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  return pids.filter(isAlive);
}

void describe('lab control planes', () => {
  const cps = useControlPlanes(2, { name: 'lab' });
  const pair = () => {
    const [a, b] = cps;
    assert.ok(a && b, 'control planes not started');
    return [a, b] as const;
  };

  void it('starts two independent control planes at once', (t) => {
    const [a, b] = pair();
    t.diagnostic(`start() took ${a.startupMs} ms and ${b.startupMs} ms (concurrently)`);
    assert.notEqual(a.server, b.server);
    assert.notEqual(a.etcdUrl, b.etcdUrl);
    assert.notEqual(a.dir, b.dir);
    assert.notEqual(readFileSync(a.certs.caCert, 'utf8'), readFileSync(b.certs.caCert, 'utf8'));
  });

  void it('keeps objects of one control plane out of the other', async () => {
    const [a, b] = pair();
    await core(a.kubeConfig()).createNamespace(ns('only-in-a'));
    assert.equal(
      (await core(a.kubeConfig()).readNamespace({ name: 'only-in-a' })).metadata?.name,
      'only-in-a',
    );
    await assert.rejects(core(b.kubeConfig()).readNamespace({ name: 'only-in-a' }), apiStatus(404));
  });

  void it("does not trust one control plane's certificates in another", async () => {
    const [a, b] = pair();
    // a's credentials and CA pointed at b's server: b's serving cert must fail a's CA check.
    const kc = a.kubeConfig();
    const cluster = kc.getCurrentCluster();
    assert.ok(cluster);
    kc.clusters = [{ ...cluster, server: b.server }];
    await assert.rejects(core(kc).listNamespace(), (err: unknown) => {
      assert.ok(!(err instanceof ApiException), 'the request must not reach the apiserver');
      assert.match(String((err as Error).message), /certificate/i);
      return true;
    });
  });

  void it('fails requests while the apiserver is down and keeps data across its restart', async () => {
    const [a, b] = pair();
    const client = core(a.kubeConfig());
    const server = a.server;
    await a.killApiserver();
    assert.equal(a.apiserverRunning, false);
    assert.equal(a.etcdRunning, true);
    await assert.rejects(client.readNamespace({ name: 'only-in-a' }), (err: unknown) => {
      assert.ok(!(err instanceof ApiException), `expected a connection error, got ${String(err)}`);
      assert.match(String((err as Error).message), /ECONNREFUSED/);
      return true;
    });
    // The other control plane does not notice.
    await core(b.kubeConfig()).listNamespace();

    await a.startApiserver();
    assert.equal(a.server, server);
    // The same client (same kubeconfig, same port) works again and etcd kept the namespace.
    assert.equal((await client.readNamespace({ name: 'only-in-a' })).metadata?.name, 'only-in-a');
  });

  void it('restarts the whole control plane with its data', async () => {
    const [, b] = pair();
    const client = core(b.kubeConfig());
    await client.createNamespace(ns('survives-restart'));
    const before = b.pids();
    await b.restart();
    const after = b.pids();
    assert.notEqual(after.etcd, before.etcd);
    assert.notEqual(after.apiserver, before.apiserver);
    assert.equal(
      (await client.readNamespace({ name: 'survives-restart' })).metadata?.name,
      'survives-restart',
    );
  });

  void it('denies a service account what RBAC does not grant it', async () => {
    const [a] = pair();
    const sa = await a.createServiceAccountKubeconfig('team-a', 'limited');
    assert.equal(sa.username, 'system:serviceaccount:team-a:limited');
    // The admin may list nodes (there are none); the service account is authenticated (403, not
    // 401: the token's signature and issuer check out) but not authorized.
    assert.deepEqual((await core(a.kubeConfig()).listNode()).items, []);
    await assert.rejects(core(sa.kubeConfig()).listNode(), (err: unknown) => {
      apiStatus(403)(err);
      assert.match(
        JSON.stringify((err as ApiException<unknown>).body),
        /system:serviceaccount:team-a:limited/,
      );
      return true;
    });
  });

  void it('stop() ends both processes and removes the directory', async () => {
    for (const cp of cps) {
      const { etcd, apiserver } = cp.pids();
      assert.ok(etcd && apiserver && isAlive(etcd) && isAlive(apiserver));
      await cp.stop();
      assert.deepEqual(await waitUntilGone([etcd, apiserver], 1_000), []);
      assert.equal(existsSync(cp.dir), false, `${cp.dir} should be removed`);
      assert.deepEqual(cp.pids(), {});
    }
  });
});

void describe('control plane processes when the test process dies', () => {
  const controlPlaneModule = fileURLToPath(new URL('../../src/lab/controlplane.ts', import.meta.url));

  // A separate Node process starts a control plane, reports its pids, then gets killed.
  async function orphanAfter(signal: 'SIGTERM' | 'SIGKILL') {
    const code = `
      const { ControlPlane } = await import(${JSON.stringify(controlPlaneModule)});
      const cp = await ControlPlane.start({ name: 'orphan-${signal.toLowerCase()}' });
      process.stdout.write(JSON.stringify({ dir: cp.dir, ...cp.pids() }) + '\\n');
      setInterval(() => {}, 1 << 30);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    for await (const chunk of child.stdout) {
      out += chunk as string;
      if (out.includes('\n')) break;
    }
    if (!out.includes('\n')) throw new Error(`the child exited before starting a control plane: ${out}`);
    const info = JSON.parse(out) as { dir: string; etcd: number; apiserver: number };
    const exit = once(child, 'exit');
    child.kill(signal);
    await exit;
    return info;
  }

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    void it(`kills etcd and kube-apiserver after the parent gets ${signal}`, async () => {
      const info = await orphanAfter(signal);
      try {
        assert.deepEqual(await waitUntilGone([info.etcd, info.apiserver], 5_000), []);
        // With SIGTERM the exit handler also removes the directory; SIGKILL leaves no chance to.
        if (signal === 'SIGTERM') assert.equal(existsSync(info.dir), false);
      } finally {
        for (const pid of [info.etcd, info.apiserver]) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
        await rm(info.dir, { recursive: true, force: true });
      }
    });
  }
});

describe('the Kubernetes binaries', () => {
  it('carry the pinned version, not v0.0.0-master', async () => {
    const bins = await findBinaries();
    const script = readFileSync(`${repoRoot}/scripts/build-control-plane.sh`, 'utf8');
    const pinned = /K8S_VERSION="\$\{K8S_VERSION:-(v[\d.]+)\}"/.exec(script)?.[1];
    assert.ok(pinned, 'the build script pins a version');
    for (const bin of [
      bins.kubeApiserver,
      bins.kubeControllerManager,
      bins.kubeScheduler,
      bins.kubelet,
      bins.kubeProxy,
    ]) {
      assert.ok(bin, 'built');
      assert.equal(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim(), `Kubernetes ${pinned}`);
    }
  });
});
