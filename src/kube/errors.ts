// Classifies errors from the Kubernetes API so callers can branch on meaning, not on numbers.
import { ApiException } from '@kubernetes/client-node';
import { RawApiError } from './raw.ts';

export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException || err instanceof RawApiError) return err.code;
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
  if (err instanceof ApiException) {
    const body = err.body as unknown;
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
  if (err instanceof RawApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
