// An HTTP CONNECT proxy on a Unix socket, run inside a lab cluster's API host namespace: the
// apiserver listens on the root namespace's loopback and cannot reach kubelets on the underlay, so
// its egress selector ("cluster" traffic: logs, exec, port-forward, proxy) sends each connection
// here, as a real cluster with a private Node network sends it through its Konnectivity proxy.
// `node connect-proxy.mjs SOCKET` prints "ready" once it listens. Plain JavaScript: small and quick.
import { Buffer } from 'node:buffer';
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const [path] = process.argv.slice(2);
if (!path) {
  process.stderr.write('usage: connect-proxy.mjs SOCKET\n');
  process.exit(2);
}

const server = createServer((client) => {
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > 8192) client.destroy();
      return;
    }
    client.off('data', onData);
    const m = /^CONNECT ([^\s:]+|\[[^\]]+\]):(\d+) HTTP\/1\.[01]\r\n/.exec(
      head.subarray(0, end + 2).toString('latin1'),
    );
    if (!m) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const upstream = connect({ host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) });
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      const rest = head.subarray(end + 4);
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream).pipe(client);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.once('error', () => {
      if (!client.writableEnded) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      close();
    });
    client.once('error', close);
    client.once('close', close);
    upstream.once('close', close);
  };
  client.on('data', onData);
  client.on('error', () => client.destroy());
});

rmSync(path, { force: true });
server.listen(path, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  rmSync(path, { force: true });
  process.exit(0);
});
