// The few API requests `mcgw status` makes, with a short timeout so an unreachable apiserver is
// reported in seconds rather than hanging the command. HTTP errors are RawApiError, so
// src/kube/errors.ts classifies them; network failures are Node errors carrying a `code`.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { RawApiError } from '../kube/rawerror.ts';

export class RequestTimeout extends Error {
  override readonly name = 'RequestTimeout';
  readonly code = 'ETIMEDOUT';
}

export async function apiRequest<T>(
  kc: KubeConfig,
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: unknown; timeoutMs?: number } = {},
): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  const req: RequestOptions = {
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    headers: {
      accept: 'application/json',
      ...(opts.body !== undefined && { 'content-type': 'application/json' }),
    },
  };
  await kc.applyToHTTPSOptions(req);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise<T>((resolve, reject) => {
    const r = send(req, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = res.statusCode ?? 0;
        if (code < 200 || code >= 300) return reject(new RawApiError(code, text, method, path));
        try {
          resolve(JSON.parse(text) as T);
        } catch {
          reject(new Error(`${method} ${path}: the answer is not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    r.on('error', reject);
    r.setTimeout(timeoutMs, () => r.destroy(new RequestTimeout(`no answer within ${timeoutMs} ms`)));
    r.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}
