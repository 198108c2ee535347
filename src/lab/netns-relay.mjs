// Joins a lab Node's network namespace to the lab through Unix sockets, which live in the shared
// filesystem and so cross network namespaces without any route or link in the root namespace.
// Run as a program inside the namespace, each argument is one forward, LISTEN=TARGET, each side
// tcp:HOST:PORT or unix:PATH:
//   tcp:127.0.0.1:6443=unix:/lab/api-a.sock       the Node reaches its apiserver (root loopback)
//   unix:/lab/agent-a-w1.sock=tcp:127.0.0.1:9765  the lab reads the agent's /metrics
// and it prints "ready" once every listener is up. The lab imports relay() for the root side
// (unix:/lab/api-a.sock → the apiserver's port). Plain JavaScript: small and quick to start.
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { pathToFileURL } from 'node:url';

/** Parses tcp:HOST:PORT or unix:PATH into what net.connect and server.listen take. */
export function endpoint(s) {
  const m = /^tcp:(.+):(\d+)$/.exec(s);
  if (m) return { host: m[1], port: Number(m[2]) };
  if (s.startsWith('unix:')) return { path: s.slice(5) };
  throw new Error(`not tcp:HOST:PORT or unix:PATH: ${s}`);
}

/** Listens on every forward's `from` and pipes each connection to its `to`; resolves once all listen. */
export async function relay(forwards) {
  const open = new Set();
  const servers = await Promise.all(
    forwards.map(
      ({ from, to }) =>
        new Promise((resolve, reject) => {
          const server = createServer((client) => {
            const upstream = connect(to);
            for (const s of [client, upstream]) {
              open.add(s);
              s.once('close', () => open.delete(s));
            }
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
          server.once('error', reject);
          server.listen(from, () => resolve(server));
        }),
    ),
  );
  return {
    close: () =>
      new Promise((resolve) => {
        let left = servers.length;
        if (left === 0) resolve();
        for (const s of servers) s.close(() => --left === 0 && resolve());
        // Watches never end by themselves: cut them, or close() would wait for ever.
        for (const s of open) s.destroy();
        for (const { from } of forwards) if (from.path) rmSync(from.path, { force: true });
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const forwards = process.argv.slice(2).map((a) => {
    const [from, to] = a.split('=');
    if (!from || !to) throw new Error(`not LISTEN=TARGET: ${a}`);
    return { from: endpoint(from), to: endpoint(to) };
  });
  if (forwards.length === 0) {
    process.stderr.write('usage: netns-relay.mjs LISTEN=TARGET...\n');
    process.exit(2);
  }
  await relay(forwards);
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => process.exit(0));
}
