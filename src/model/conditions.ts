// What a Condition means to every part that reads or writes one (controllers, exchange, status,
// metrics): the helpers keep lastTransitionTime stable unless the status really changes, so a
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
