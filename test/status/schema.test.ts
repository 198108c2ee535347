// docs/status-schema.json, and the small validator that checks documents against it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ClusterGateway, GatewayPolicy } from '../../src/api/types.ts';
import { buildLeaderReport, buildMemberReport } from '../../src/status/report.ts';
import { checkSchema, validate } from '../../src/status/schema-check.ts';
import type { JsonSchema } from '../../src/status/schema-check.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../docs/status-schema.json', import.meta.url), 'utf8'),
) as JsonSchema;

test('the validator: types, nullable, enums, const, required, extra properties, refs, oneOf', () => {
  const s: JsonSchema = {
    $defs: { n: { type: 'integer', minimum: 1 } },
    oneOf: [
      {
        type: 'object',
        required: ['kind', 'n', 'when'],
        additionalProperties: false,
        properties: {
          kind: { const: 'a' },
          n: { $ref: '#/$defs/n' },
          when: { type: ['string', 'null'], format: 'date-time' },
          tags: { type: 'array', items: { enum: ['x', 'y'] } },
        },
      },
      { type: 'object', required: ['kind'], properties: { kind: { const: 'b' } } },
    ],
  };
  assert.deepEqual(validate(s, { kind: 'a', n: 2, when: null, tags: ['x'] }), []);
  assert.deepEqual(validate(s, { kind: 'a', n: 2, when: '2026-03-01T12:00:00.123Z' }), []);
  assert.deepEqual(validate(s, { kind: 'b', other: 1 }), []);
  const bad = (v: unknown, re: RegExp) => {
    const errs = validate(s, v);
    assert.ok(
      errs.some((e) => re.test(e)),
      `${JSON.stringify(v)}: ${errs.join('; ')}`,
    );
  };
  bad({ kind: 'a', n: 0, when: null }, /below 1/);
  bad({ kind: 'a', n: 1.5, when: null }, /expected integer/);
  bad({ kind: 'a', n: 1 }, /missing required property "when"/);
  bad({ kind: 'a', n: 1, when: null, extra: true }, /no value is allowed/);
  bad({ kind: 'a', n: 1, when: 'yesterday' }, /not an RFC 3339 date-time/);
  bad({ kind: 'a', n: 1, when: null, tags: ['z'] }, /is not one of/);
  bad({ kind: 'c' }, /matches none of oneOf/);
  bad('x', /matches none of oneOf/);
  assert.throws(() => validate({ type: 'string', maxLength: 3 }, 'x'), /unsupported keyword "maxLength"/);
  assert.throws(() => validate({ $ref: '#/$defs/missing' }, 1), /cannot resolve/);
});

test('the schema uses only what the validator checks, and is closed: no field goes unnoticed', () => {
  checkSchema(schema);
  assert.throws(
    () => checkSchema({ properties: { a: { items: { maxLength: 1 } } } }),
    /#\/properties\/a\/items/,
  );
  const walk = (s: unknown, path: string) => {
    if (typeof s !== 'object' || s === null) return;
    const o = s as Record<string, unknown>;
    if (o.type === 'object' || (Array.isArray(o.type) && o.type.includes('object')))
      assert.equal(o.additionalProperties, false, `${path} is closed`);
    if (o.properties && o.required)
      assert.deepEqual(
        [...(o.required as string[])].sort(),
        Object.keys(o.properties).sort(),
        `${path}: every field is required (nullable when unknown)`,
      );
    for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
  };
  walk(schema, '#');
});

const T0 = Date.parse('2026-03-01T12:00:00Z');
const gw: ClusterGateway = {
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'ClusterGateway',
  metadata: { name: 'n1' },
  spec: { nodeName: 'n1', gatewayIP: '198.18.0.11', internalIP: '198.18.0.11', priority: 1000 },
  status: {
    role: 'Active',
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'LeaseRenewed',
        message: 'ok',
        lastTransitionTime: '2026-03-01T11:00:00Z',
      },
    ],
  },
};
const policy: GatewayPolicy = {
  apiVersion: 'mcgw.io/v1alpha1',
  kind: 'GatewayPolicy',
  metadata: { name: 'default' },
  spec: {},
};

test('built documents conform: full, empty and unreadable member reports, and a leader report', () => {
  const full = buildMemberReport({
    server: 'https://198.18.0.1:6443',
    now: T0,
    members: [],
    policies: [policy],
    gateways: [gw],
    remotes: [],
    leases: [{ metadata: { name: 'gateway-n1' }, spec: { renewTime: '2026-03-01T11:59:59.500000Z' } }],
    events: [
      {
        metadata: { resourceVersion: '5' },
        involvedObject: { kind: 'GatewayPolicy' },
        reason: 'Placed',
        message: 'Placed Gateway instance on node n2 (zone a)',
        firstTimestamp: '2026-03-01T11:59:00Z',
      },
      {
        metadata: { resourceVersion: '6' },
        involvedObject: { kind: 'GatewayPolicy' },
        reason: 'RemovedLeaseExpired',
        message: 'Removed Gateway instance on node n1: expired',
        firstTimestamp: '2026-03-01T11:59:00Z',
      },
    ],
  });
  assert.equal(full.failovers?.length, 1);
  assert.deepEqual(validate(schema, JSON.parse(JSON.stringify(full))), []);
  const unreadable = buildMemberReport({ server: 's', now: T0, problems: ['forbidden'] });
  assert.deepEqual(validate(schema, JSON.parse(JSON.stringify(unreadable))), []);
  const leader = buildLeaderReport({ server: 's', now: T0, exports: [], imports: [] });
  assert.deepEqual(validate(schema, JSON.parse(JSON.stringify(leader))), []);

  // And the schema notices drift either way.
  const extra = { ...full, gateways: [{ ...full.gateways![0]!, surprise: 1 }] };
  assert.match(validate(schema, extra).join(), /oneOf/);
  const { failovers: _f, ...missing } = full;
  assert.match(validate(schema, missing).join(), /oneOf/);
  assert.match(validate(schema, { ...leader, mode: 'member' }).join(), /oneOf/);
});
