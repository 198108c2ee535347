// Runs inside a lab Node's network namespace and joins it to the lab through Unix sockets, which
// live in the shared filesystem and so cross network namespaces without any route or link in the
// root namespace. Each argument is one forward, LISTEN=TARGET, each side tcp:HOST:PORT or unix:PATH:
//   tcp:127.0.0.1:6443=unix:/lab/api-a.sock       the Node reaches its apiserver (root loopback)
//   unix:/lab/agent-a-w1.sock=tcp:127.0.0.1:9765  the lab reads the agent's /metrics
// Prints "ready" once every listener is up. Plain JavaScript: small and quick to start.
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';

function endpoint(s) {
  const m = /^tcp:(.+):(\d+)$/.exec(s);
  if (m) return { host: m[1], port: Number(m[2]) };
  if (s.startsWith('unix:')) return { path: s.slice(5) };
  throw new Error(`not tcp:HOST:PORT or unix:PATH: ${s}`);
}

const forwards = process.argv.slice(2).map((a) => {
  const [from, to] = a.split('=');
  if (!from || !to) throw new Error(`not LISTEN=TARGET: ${a}`);
  return { from: endpoint(from), to: endpoint(to) };
});
if (forwards.length === 0) {
  process.stderr.write('usage: netns-relay.mjs LISTEN=TARGET...\n');
  process.exit(2);
}

let pending = forwards.length;
for (const { from, to } of forwards) {
  const server = createServer((client) => {
    const upstream = connect(to);
    client.pipe(upstream).pipe(client);
    // Either side failing closes both: a stopped apiserver looks like a refused connection.
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  if (from.path) rmSync(from.path, { force: true });
  server.listen(from, () => {
    if (--pending === 0) process.stdout.write('ready\n');
  });
}
process.on('SIGTERM', () => process.exit(0));
