// /healthz (the process is alive) and /readyz (its caches have synced) on one small HTTP server.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthChecks {
  live: () => boolean;
  ready: () => boolean;
  /** Extra text endpoints, e.g. /metrics. */
  extra?: Record<string, () => Promise<{ type: string; body: string }> | { type: string; body: string }>;
}

export async function startHealthServer(
  addr: string,
  checks: HealthChecks,
): Promise<{ server: Server; port: number }> {
  const [host, portStr] = splitHostPort(addr);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (path === '/healthz') return reply(checks.live() ? 200 : 503, checks.live() ? 'ok\n' : 'not live\n');
    if (path === '/readyz')
      return reply(checks.ready() ? 200 : 503, checks.ready() ? 'ok\n' : 'caches not synced\n');
    const h = path ? checks.extra?.[path] : undefined;
    if (h) {
      Promise.resolve(h()).then(
        (r) => reply(200, r.body, r.type),
        (e: unknown) => reply(500, String(e)),
      );
      return;
    }
    reply(404, 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portStr), host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  if (i < 0) throw new Error(`listen address "${addr}" must be host:port`);
  return [addr.slice(0, i) || '0.0.0.0', addr.slice(i + 1)];
}
