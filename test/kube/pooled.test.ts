// client-node makes a new https.Agent per request, so every call opened a TCP and TLS connection;
// pooled() (src/kube/keepalive.ts, applied by makeClients and loadKubeConfig) makes calls share
// kept-alive connections, on node:https rather than node-fetch. A
// local HTTPS server with a CA of its own counts the TLS connections it accepts.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { makeClients } from '../../src/kube/client.ts';
import { pooled } from '../../src/kube/keepalive.ts';
import { rawRequest } from '../../src/kube/raw.ts';
import { generateCerts } from '../../src/lab/certs.ts';

describe('kept-alive API connections', () => {
  let dir: string;
  let server: Server;
  let connections = 0;
  let kubeconfig: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcgw-pooled-'));
    const certs = await generateCerts(dir, 'pooled');
    server = createServer(
      { cert: await readFile(certs.serverCert), key: await readFile(certs.serverKey) },
      (req, res) => {
        req.resume();
        res.setHeader('content-type', 'application/json');
        // In two writes, so the response is chunked as the apiserver's are: node-fetch's check for a
        // bad chunked ending is what kept-alive sockets trip (see pooled()).
        const body = JSON.stringify({ apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [] });
        res.write(body.slice(0, 10));
        res.end(body.slice(10));
      },
    );
    server.on('secureConnection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const b64 = async (f: string) => (await readFile(f)).toString('base64');
    kubeconfig = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      clusters: [
        {
          name: 'c',
          cluster: {
            server: `https://127.0.0.1:${port}`,
            'certificate-authority-data': await b64(certs.caCert),
          },
        },
      ],
      users: [
        {
          name: 'u',
          user: {
            'client-certificate-data': await b64(certs.adminCert),
            'client-key-data': await b64(certs.adminKey),
          },
        },
      ],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    });
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const load = () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    return kc;
  };

  test('without pooling, client-node opens a connection per call (what this fixes)', async () => {
    connections = 0;
    const core = load().makeApiClient(CoreV1Api);
    for (let i = 0; i < 4; i++) await core.listNamespace();
    assert.equal(connections, 4);
  });

  test('typed calls and raw requests share one kept-alive connection', async () => {
    server.closeAllConnections();
    connections = 0;
    const clients = makeClients(load());
    for (let i = 0; i < 4; i++) await clients.core.listNamespace();
    for (let i = 0; i < 3; i++) await rawRequest(clients.kc, 'GET', '/api/v1/namespaces');
    // Another API group's client of the same kubeconfig shares the pool as well.
    await clients.kc.makeApiClient(CoreV1Api).listNamespace();
    assert.equal(connections, 1);
  });

  test('many overlapping calls on reused connections all succeed (no false "Premature close")', async () => {
    const clients = makeClients(load());
    const errors: string[] = [];
    await Promise.all(
      [0, 1, 2, 3].map(async () => {
        for (let i = 0; i < 40; i++)
          await clients.core.listNamespace().catch((e: Error) => errors.push(e.message));
      }),
    );
    assert.deepEqual(errors.slice(0, 3), []);
  });

  test('pooling twice is the same pooling; concurrent calls open only what they need', async () => {
    server.closeAllConnections();
    connections = 0;
    const kc = pooled(pooled(load()));
    const core = kc.makeApiClient(CoreV1Api);
    await Promise.all([core.listNamespace(), core.listNamespace()]);
    const afterPair = connections;
    assert.ok(afterPair <= 2, `${afterPair} connections for 2 concurrent calls`);
    for (let i = 0; i < 4; i++) await core.listNamespace();
    assert.equal(connections, afterPair, 'sequential calls reuse the pair');
  });
});
