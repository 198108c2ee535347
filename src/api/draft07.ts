// JSON Schema draft-07, the dialect Helm 3 checks a chart's values.schema.json against, and the
// conversion of the apiserver's structural schemas in src/api into it, so the chart values that
// fill a custom resource are checked by the same rules as the resource itself.
import type { JSONSchema } from './schema.ts';

type Type = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';

export interface Draft07 {
  $schema?: string;
  $comment?: string;
  title?: string;
  description?: string;
  type?: Type | Type[];
  enum?: readonly unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: Draft07;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Draft07>;
  required?: string[];
  additionalProperties?: Draft07 | boolean;
  anyOf?: Draft07[];
}

export const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';

// Formats draft-07 defines (Helm's validator asserts these); int32 and int64 are OpenAPI's only.
const DRAFT_07_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uri',
  'uri-reference',
  'regex',
]);

/**
 * A structural (CRD) schema as draft-07. Every object with declared properties is closed
 * (additionalProperties: false): the apiserver would silently prune a misspelt field, Helm now
 * rejects it. The CEL rules (x-kubernetes-validations) have no draft-07 form; the apiserver still
 * enforces them when Helm creates the object.
 */
export function fromStructural(j: JSONSchema): Draft07 {
  const out: Draft07 = {};
  if (j.description !== undefined) out.description = j.description;
  if (j.type !== undefined) out.type = j.type;
  if (j.enum !== undefined) out.enum = [...j.enum];
  if (j.format !== undefined && DRAFT_07_FORMATS.has(j.format)) out.format = j.format;
  if (j.pattern !== undefined) out.pattern = j.pattern;
  if (j.minLength !== undefined) out.minLength = j.minLength;
  if (j.maxLength !== undefined) out.maxLength = j.maxLength;
  if (j.minimum !== undefined) out.minimum = j.minimum;
  if (j.maximum !== undefined) out.maximum = j.maximum;
  if (j.minItems !== undefined) out.minItems = j.minItems;
  if (j.maxItems !== undefined) out.maxItems = j.maxItems;
  if (j.default !== undefined) out.default = j.default;
  if (j.items !== undefined) out.items = fromStructural(j.items);
  if (j.properties !== undefined) {
    out.properties = Object.fromEntries(Object.entries(j.properties).map(([k, v]) => [k, fromStructural(v)]));
  }
  if (j.required?.length) out.required = [...j.required];
  if (typeof j.additionalProperties === 'object')
    out.additionalProperties = fromStructural(j.additionalProperties);
  else if (j.additionalProperties !== undefined) out.additionalProperties = j.additionalProperties;
  else if (j.properties !== undefined && !j['x-kubernetes-preserve-unknown-fields'])
    out.additionalProperties = false;
  return out;
}
