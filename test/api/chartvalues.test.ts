// The charts' values schemas as built from src/api (helm itself checks them in
// test/integration/helm-schema.test.ts): CRD schemas become closed draft-07, and the parts that
// mirror the API, the commands' flags and the log levels come from those sources.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { leaderValuesSchema, memberValuesSchema } from '../../src/api/chartvalues.ts';
import { fromStructural } from '../../src/api/draft07.ts';
import type { Draft07 } from '../../src/api/draft07.ts';
import { MODES } from '../../src/api/gatewaypolicy.ts';
import { s } from '../../src/api/schema.ts';
import { CONTROLLER_ELECTION, LEADER_FLAGS } from '../../src/cli/bounds.ts';
import { repoRoot } from '../../src/lab/binaries.ts';
import { LEVELS } from '../../src/util/log.ts';

const at = (j: Draft07, ...path: string[]): Draft07 => {
  let cur = j;
  for (const k of path) {
    const next = cur.properties?.[k];
    assert.ok(next, `no property ${path.join('.')}`);
    cur = next;
  }
  return cur;
};

test('a structural schema becomes draft-07: objects closed, maps open, OpenAPI-only keywords dropped', () => {
  const crd = s.object(
    {
      n: s.integer({ description: 'n', minimum: 1, maximum: 9 }),
      labels: s.optional(s.map(s.string({ description: 'v' }), { description: 'free map' })),
      when: s.optional(s.string({ description: 'time', format: 'date-time' })),
      list: s.array(s.string({ description: 'item', rules: [{ rule: 'isCIDR(self)', message: 'm' }] }), {
        description: 'l',
        listType: 'set',
      }),
    },
    { description: 'top', rules: [{ rule: 'self.n > 0', message: 'm' }] },
  );
  assert.deepEqual(fromStructural(crd.json), {
    description: 'top',
    type: 'object',
    properties: {
      n: { description: 'n', type: 'integer', minimum: 1, maximum: 9 },
      labels: {
        description: 'free map',
        type: 'object',
        additionalProperties: { description: 'v', type: 'string' },
      },
      when: { description: 'time', type: 'string', format: 'date-time' },
      list: { description: 'l', type: 'array', items: { description: 'item', type: 'string' } },
    },
    required: ['n', 'list'],
    additionalProperties: false,
  });
});

test('the GatewayPolicy spec in the member schema is the CRD schema: same modes, ranges, closed', () => {
  const spec = at(memberValuesSchema(), 'gatewayPolicy', 'spec');
  assert.deepEqual(at(spec, 'mode').enum, [...MODES]);
  assert.deepEqual([at(spec, 'desiredInstances').minimum, at(spec, 'desiredInstances').maximum], [0, 16]);
  assert.equal(spec.additionalProperties, false);
  assert.equal(at(spec, 'failureDetection').additionalProperties, false);
  // matchLabels is a map users fill: any key.
  assert.deepEqual(at(spec, 'candidateSelector', 'matchLabels').additionalProperties, {
    description: 'Label value.',
    type: 'string',
    maxLength: 63,
  });
});

test("flag ranges and log levels are the commands' own", () => {
  const member = memberValuesSchema();
  const leader = leaderValuesSchema();
  const range = (j: Draft07) => {
    const n = j.anyOf?.find((a) => a.type === 'integer');
    assert.ok(n, 'no integer branch');
    return [n.minimum, n.maximum];
  };
  for (const [k, b] of Object.entries(CONTROLLER_ELECTION))
    assert.deepEqual(range(at(member, 'controller', 'election', k)), [b.min, b.max], k);
  for (const [k, b] of Object.entries(LEADER_FLAGS))
    assert.deepEqual(range(at(leader, 'leader', k)), [b.min, b.max], k);
  for (const j of [at(member, 'controller'), at(member, 'agent'), at(leader, 'leader')])
    assert.deepEqual(at(j, 'logLevel').enum, LEVELS);
  assert.deepEqual(LEVELS, ['debug', 'info', 'warn', 'error']);
});

test("every key of each chart's values.yaml is declared by its schema", () => {
  // Walks values.yaml and the schema together; a key the schema closes over but does not declare
  // would make the chart's own defaults fail.
  const undeclared: string[] = [];
  const walk = (path: string, value: unknown, j: Draft07) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    for (const [k, v] of Object.entries(value)) {
      const sub =
        j.properties?.[k] ??
        (typeof j.additionalProperties === 'object' ? j.additionalProperties : undefined);
      if (sub) walk(`${path}.${k}`, v, sub);
      else if (j.additionalProperties === false) undeclared.push(`${path}.${k}`);
    }
  };
  for (const [chart, schema] of [
    ['mcgw-member', memberValuesSchema()],
    ['mcgw-leader', leaderValuesSchema()],
  ] as const) {
    const values = parse(
      readFileSync(join(repoRoot, 'deploy', 'helm', chart, 'values.yaml'), 'utf8'),
    ) as unknown;
    walk(chart, values, schema);
    assert.equal(schema.additionalProperties, false, `${chart}: the top level is closed`);
  }
  assert.deepEqual(undeclared, []);
});
