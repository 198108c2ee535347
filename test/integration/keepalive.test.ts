// The typed API clients' kept-alive connections (src/kube/keepalive.ts) on a real apiserver: many
// overlapping calls with chunked answers all succeed, and after the apiserver is killed and started
// again, calls fail only while it is away and then succeed again on new connections. (A kept-alive
// agent handed to client-node's node-fetch failed every read for 20 minutes after such a restart.)
import assert from 'node:assert/strict';
import { test, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeClients } from '../../src/kube/client.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { useControlPlanes } from './harness.ts';
import { waitFor } from './util.ts';

describe('kept-alive API connections on a real apiserver', () => {
  const cps = useControlPlanes(1, { name: 'keepalive' });

  test('overlapping calls, an apiserver restart, then every call succeeds again', async (t) => {
    const cp = cps[0]!;
    const { core, kc } = makeClients(cp.kubeConfig());
    // A Secret large enough to be answered in chunks.
    const data = { blob: Buffer.alloc(24 * 1024, 7).toString('base64') };
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'big' }, data } });
    const read = () => core.readNamespacedSecret({ name: 'big', namespace: 'default' });
    const burst = async (loops: number, each: number) => {
      const errors: string[] = [];
      await Promise.all(
        Array.from({ length: loops }, async () => {
          for (let i = 0; i < each; i++) {
            const s = await read().catch((e: Error) => void errors.push(e.message));
            if (s) assert.equal(s.data?.blob, data.blob);
            await rawRequest(kc, 'GET', '/api/v1/namespaces/default/secrets/big').catch((e: Error) =>
              errors.push(e.message),
            );
          }
        }),
      );
      return errors;
    };
    assert.deepEqual(await burst(6, 25), [], 'before the restart');

    // Calls keep going while the apiserver is killed and started again.
    let stop = false;
    const failures: string[] = [];
    const load = (async () => {
      while (!stop) {
        await read().catch((e: Error) => failures.push(e.message));
        await sleep(20);
      }
    })();
    await sleep(300);
    await cp.killApiserver('SIGKILL');
    await sleep(1_000);
    await cp.startApiserver();
    const back = Date.now();
    await waitFor(
      'a read to succeed after the restart',
      () =>
        read().then(
          () => true,
          () => false,
        ),
      30_000,
    );
    stop = true;
    await load;
    t.diagnostic(
      `${failures.length} calls failed around the restart; back ${Date.now() - back} ms after start`,
    );
    assert.ok(failures.length > 0, 'calls did fail while the apiserver was away');
    assert.deepEqual(await burst(6, 25), [], 'after the restart');
  });
});
