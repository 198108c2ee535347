// The error of a failed raw request, in a file of its own: src/kube/errors.ts classifies it on the
// agent's path, which must not load client-node (src/kube/raw.ts does, through its kept-alive agents).
export class RawApiError extends Error {
  override readonly name = 'RawApiError';
  constructor(
    readonly code: number,
    readonly body: string,
    method: string,
    path: string,
  ) {
    let msg = body;
    try {
      msg = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON; keep the text
    }
    super(`${method} ${path}: HTTP ${code}: ${msg.slice(0, 500)}`);
  }
}
