// A small builder for OpenAPI v3 (structural) schemas whose TypeScript type is inferred from the
// same value. The CRDs, the TypeScript types and docs/api.md are all derived from these builders,
// so there is exactly one place where a field is declared.

export interface JSONSchema {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';
  description?: string;
  format?: string;
  pattern?: string;
  enum?: readonly (string | number)[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, JSONSchema>;
  required?: string[];
  items?: JSONSchema;
  additionalProperties?: JSONSchema | boolean;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** A schema node carrying its TypeScript type T and whether its key may be omitted. */
export interface Schema<T, Opt extends boolean = false> {
  readonly json: JSONSchema;
  readonly optional: Opt;
  /** Phantom field: never set at run time, only carries T for inference. */
  readonly __type?: T;
}

export type Infer<S> = S extends Schema<infer T, boolean> ? T : never;

type Props = Record<string, Schema<unknown, boolean>>;
type RequiredKeys<P extends Props> = {
  [K in keyof P]: P[K] extends Schema<unknown, false> ? K : never;
}[keyof P];
type OptionalKeys<P extends Props> = Exclude<keyof P, RequiredKeys<P>>;
type Flatten<T> = { [K in keyof T]: T[K] };
export type ObjectOf<P extends Props> = Flatten<
  { [K in RequiredKeys<P>]: Infer<P[K]> } & { [K in OptionalKeys<P>]?: Infer<P[K]> }
>;

interface Common {
  description: string;
  rules?: { rule: string; message: string }[];
}

function node<T>(json: JSONSchema, c: Common): Schema<T> {
  const out: JSONSchema = { ...json, description: c.description };
  if (c.rules?.length) out['x-kubernetes-validations'] = c.rules;
  return { json: out, optional: false };
}

export const s = {
  string(
    c: Common & {
      pattern?: string;
      format?: string;
      maxLength?: number;
      minLength?: number;
      default?: string;
    },
  ) {
    return node<string>(
      {
        type: 'string',
        ...(c.pattern !== undefined && { pattern: c.pattern }),
        ...(c.format !== undefined && { format: c.format }),
        ...(c.minLength !== undefined && { minLength: c.minLength }),
        ...(c.maxLength !== undefined && { maxLength: c.maxLength }),
        ...(c.default !== undefined && { default: c.default }),
      },
      c,
    );
  },
  enum<const E extends readonly string[]>(values: E, c: Common & { default?: E[number] }) {
    return node<E[number]>(
      { type: 'string', enum: values, ...(c.default !== undefined && { default: c.default }) },
      c,
    );
  },
  integer(c: Common & { minimum?: number; maximum?: number; default?: number; format?: 'int32' | 'int64' }) {
    return node<number>(
      {
        type: 'integer',
        format: c.format ?? 'int32',
        ...(c.minimum !== undefined && { minimum: c.minimum }),
        ...(c.maximum !== undefined && { maximum: c.maximum }),
        ...(c.default !== undefined && { default: c.default }),
      },
      c,
    );
  },
  boolean(c: Common & { default?: boolean }) {
    return node<boolean>({ type: 'boolean', ...(c.default !== undefined && { default: c.default }) }, c);
  },
  object<P extends Props>(props: P, c: Common & { default?: ObjectOf<P> }): Schema<ObjectOf<P>> {
    const properties: Record<string, JSONSchema> = {};
    const required: string[] = [];
    for (const [k, v] of Object.entries(props)) {
      properties[k] = v.json;
      if (!v.optional) required.push(k);
    }
    return node<ObjectOf<P>>(
      {
        type: 'object',
        properties,
        ...(required.length && { required }),
        ...(c.default !== undefined && { default: c.default }),
      },
      c,
    );
  },
  /** A map from string keys to values of one schema (Kubernetes labels, for example). */
  map<T>(values: Schema<T, boolean>, c: Common) {
    return node<Record<string, T>>({ type: 'object', additionalProperties: values.json }, c);
  },
  array<T>(
    items: Schema<T, boolean>,
    c: Common & {
      maxItems?: number;
      minItems?: number;
      listType?: 'atomic' | 'set' | 'map';
      mapKeys?: string[];
    },
  ) {
    return node<T[]>(
      {
        type: 'array',
        items: items.json,
        ...(c.minItems !== undefined && { minItems: c.minItems }),
        ...(c.maxItems !== undefined && { maxItems: c.maxItems }),
        ...(c.listType && { 'x-kubernetes-list-type': c.listType }),
        ...(c.mapKeys && { 'x-kubernetes-list-map-keys': c.mapKeys }),
      },
      c,
    );
  },
  /** Marks a property as optional: its key may be absent (the apiserver may still default it). */
  optional<T>(inner: Schema<T, boolean>): Schema<T, true> {
    return { json: inner.json, optional: true };
  },
};

/** Fills schema defaults into a value the way the apiserver would, for objects read without defaulting. */
export function applyDefaults(schema: JSONSchema, value: unknown): unknown {
  if (value === undefined) {
    if (schema.default === undefined) return undefined;
    value = structuredClone(schema.default);
  }
  if (schema.type === 'object' && schema.properties && value !== null && typeof value === 'object') {
    const obj = { ...(value as Record<string, unknown>) };
    for (const [k, sub] of Object.entries(schema.properties)) {
      const v = applyDefaults(sub, obj[k]);
      if (v !== undefined) obj[k] = v;
    }
    return obj;
  }
  if (schema.type === 'array' && schema.items && Array.isArray(value)) {
    return value.map((v: unknown) => applyDefaults(schema.items as JSONSchema, v));
  }
  return value;
}
