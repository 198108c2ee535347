// Classifies errors from the Kubernetes API so callers can branch on meaning, not on numbers. It
// knows client-node's ApiException by its shape, not its class: the agent's path (src/kube/lite)
// must not load client-node to classify its own errors.
import { KubeApiError } from './lite/errors.ts';
import { RawApiError } from './rawerror.ts';

/** client-node's ApiException: an Error with the HTTP code, the body and the response headers. */
function isApiException(err: unknown): err is Error & { code: number; body: unknown } {
  return (
    err instanceof Error &&
    !(err instanceof RawApiError) &&
    !(err instanceof KubeApiError) &&
    typeof (err as { code?: unknown }).code === 'number' &&
    'body' in err &&
    'headers' in err
  );
}

export function statusCode(err: unknown): number | undefined {
  if (err instanceof KubeApiError || err instanceof RawApiError) return err.code;
  const c =
    (err as { code?: unknown; statusCode?: unknown } | null)?.code ??
    (err as { statusCode?: unknown })?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
export const isForbidden = (err: unknown): boolean => statusCode(err) === 403;
export const isInvalid = (err: unknown): boolean => statusCode(err) === 422;

/** A short message for logs: the apiserver's own message when there is one. */
export function apiMessage(err: unknown): string {
  if (isApiException(err)) {
    const body = err.body;
    let parsed: unknown = body;
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = body;
      }
    }
    const msg = (parsed as { message?: unknown } | null)?.message;
    return `HTTP ${err.code}: ${typeof msg === 'string' ? msg : String(body).slice(0, 300)}`;
  }
  if (err instanceof KubeApiError || err instanceof RawApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
