// A small JSON Schema (2020-12) validator for the subset docs/status-schema.json uses. It rejects any
// keyword it does not implement, so the schema cannot silently say more than is checked.
export type JsonSchema = boolean | { [keyword: string]: unknown };

const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', '$defs', 'examples']);
const CHECKED = new Set([
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'oneOf',
  'anyOf',
  'minimum',
  'maximum',
  'minLength',
  'minItems',
  'pattern',
  'format',
]);
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  if (t === 'integer') return typeof v === 'number' && Number.isInteger(v);
  if (t === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeOf(v) === t;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Every place `value` breaks `schema`, as "path: what"; empty when it conforms. */
export function validate(
  schema: JsonSchema,
  value: unknown,
  root: JsonSchema = schema,
  path = '$',
): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed here`];
  const errs: string[] = [];
  for (const k of Object.keys(schema))
    if (!ANNOTATIONS.has(k) && !CHECKED.has(k))
      throw new Error(`schema at ${path}: unsupported keyword "${k}"`);
  const s = schema as Record<string, unknown>;

  if (typeof s.$ref === 'string') {
    const m = /^#\/\$defs\/([^/]+)$/.exec(s.$ref);
    const defs = (root as { $defs?: Record<string, JsonSchema> }).$defs;
    const target = m ? defs?.[m[1]!] : undefined;
    if (target === undefined) throw new Error(`schema at ${path}: cannot resolve $ref ${s.$ref}`);
    errs.push(...validate(target, value, root, path));
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => hasType(value, t))) {
      errs.push(`${path}: expected ${types.join(' or ')}, got ${typeOf(value)}`);
      return errs;
    }
  }
  if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => equal(e, value)))
    errs.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  if ('const' in s && !equal(s.const, value)) errs.push(`${path}: must be ${JSON.stringify(s.const)}`);

  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) errs.push(`${path}: below ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) errs.push(`${path}: above ${s.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength)
      errs.push(`${path}: shorter than ${s.minLength}`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value))
      errs.push(`${path}: ${JSON.stringify(value)} does not match ${s.pattern}`);
    if (s.format === 'date-time' && !(DATE_TIME.test(value) && Number.isFinite(Date.parse(value))))
      errs.push(`${path}: ${JSON.stringify(value)} is not an RFC 3339 date-time`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems)
      errs.push(`${path}: fewer than ${s.minItems} items`);
    if (s.items !== undefined)
      value.forEach((v, i) => errs.push(...validate(s.items as JsonSchema, v, root, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, JsonSchema>;
    for (const r of (s.required ?? []) as string[])
      if (!(r in obj)) errs.push(`${path}: missing required property "${r}"`);
    for (const [k, v] of Object.entries(obj)) {
      if (k in props) errs.push(...validate(props[k]!, v, root, `${path}.${k}`));
      else if (s.additionalProperties !== undefined)
        errs.push(...validate(s.additionalProperties as JsonSchema, v, root, `${path}.${k}`));
    }
  }
  if (s.oneOf !== undefined) {
    const results = (s.oneOf as JsonSchema[]).map((sub) => validate(sub, value, root, path));
    const ok = results.filter((r) => r.length === 0).length;
    if (ok !== 1)
      errs.push(
        ok === 0
          ? `${path}: matches none of oneOf: ${results.map((r) => r[0]).join(' | ')}`
          : `${path}: matches ${ok} schemas of oneOf, not exactly one`,
      );
  }
  if (s.anyOf !== undefined) {
    const results = (s.anyOf as JsonSchema[]).map((sub) => validate(sub, value, root, path));
    if (!results.some((r) => r.length === 0))
      errs.push(`${path}: matches none of anyOf: ${results.map((r) => r[0]).join(' | ')}`);
  }
  return errs;
}

/** Throws on any keyword, anywhere in `schema`, that validate() does not implement. */
export function checkSchema(schema: JsonSchema, path = '#'): void {
  if (typeof schema === 'boolean') return;
  for (const [k, v] of Object.entries(schema)) {
    if (!ANNOTATIONS.has(k) && !CHECKED.has(k))
      throw new Error(`schema at ${path}: unsupported keyword "${k}"`);
    if (k === 'properties' || k === '$defs')
      for (const [name, sub] of Object.entries(v as Record<string, JsonSchema>))
        checkSchema(sub, `${path}/${k}/${name}`);
    else if (k === 'items' || k === 'additionalProperties') checkSchema(v as JsonSchema, `${path}/${k}`);
    else if (k === 'oneOf' || k === 'anyOf')
      (v as JsonSchema[]).forEach((sub, i) => checkSchema(sub, `${path}/${k}/${i}`));
  }
}
