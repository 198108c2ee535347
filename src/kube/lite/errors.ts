// The error the small client (src/kube/lite) rejects with when the apiserver answers outside 2xx,
// or sends an ERROR event on a watch. src/kube/errors.ts classifies it like the others.

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  /** The apiserver's Status reason (NotFound, AlreadyExists, Conflict, Expired, ...), when it sent one. */
  readonly reason: string | undefined;
  /** The apiserver's own message, or the start of the body when it was not a Status. */
  readonly apiMessage: string;

  constructor(
    readonly code: number,
    readonly body: string,
    method: string,
    path: string,
  ) {
    let msg = body;
    let reason: string | undefined;
    try {
      const s = JSON.parse(body) as { message?: unknown; reason?: unknown };
      if (typeof s.message === 'string') msg = s.message;
      if (typeof s.reason === 'string') reason = s.reason;
    } catch {
      // not JSON; keep the text
    }
    super(`${method} ${path}: HTTP ${code}: ${msg.slice(0, 500)}`);
    this.reason = reason;
    this.apiMessage = msg.slice(0, 500);
  }
}
