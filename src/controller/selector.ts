// Label selector matching and validation, as Kubernetes defines them, for selecting candidate Nodes.
import type { LabelSelector } from '../api/types.ts';

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** Returns why a label key is invalid, or undefined when it is valid. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `label key "${key}" has more than one "/"`;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0 || prefix.length > 253 || !PREFIX.test(prefix))
      return `label key "${key}" has an invalid prefix (a DNS subdomain is required)`;
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name))
    return `label key "${key}" has an invalid name (at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric)`;
  return undefined;
}

/** Every problem in a selector, each worded so a user knows what to fix. Empty when it is valid. */
export function selectorProblems(sel: LabelSelector, path = 'spec.candidateSelector'): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    const p = labelKeyProblem(k);
    if (p) out.push(`${path}.matchLabels: ${p}`);
    if (!VALUE.test(v)) out.push(`${path}.matchLabels["${k}"]: "${v}" is not a valid label value`);
  }
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const p = labelKeyProblem(e.key);
    if (p) out.push(`${path}.matchExpressions[${i}]: ${p}`);
  });
  return out;
}

export function matchesSelector(
  labels: Readonly<Record<string, string>> | undefined,
  sel: LabelSelector,
): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const vals = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !vals.includes(l[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && vals.includes(l[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** The selector as a string the apiserver accepts in ?labelSelector= (used for docs and kubectl hints). */
export function selectorString(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(',')})`);
  }
  return parts.join(',');
}
