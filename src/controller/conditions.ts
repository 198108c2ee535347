// Condition helpers that keep lastTransitionTime stable unless the status really changes, so a
// reconcile that finds nothing new writes nothing.
import type { Condition } from '../api/types.ts';

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

export function setCondition(
  existing: readonly Condition[] | undefined,
  next: ConditionInput,
  nowIso: string,
): Condition[] {
  const list = [...(existing ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : nowIso;
  const c: Condition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = c;
  else list.push(c);
  return list;
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

/** Deep equality for JSON-like values, ignoring key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => jsonEqual(ao[k], bo[k]));
}
