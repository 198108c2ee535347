import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ALL_KINDS as KINDS, crdFor } from '../../src/api/crd.ts';
import { generatedFiles, staleFiles } from '../../src/api/generate.ts';
import { gatewayPolicySpecSchema } from '../../src/api/gatewaypolicy.ts';
import { applyDefaults } from '../../src/api/schema.ts';
import type { GatewayPolicySpec } from '../../src/api/types.ts';

test('generated CRD YAML and docs/api.md match the schemas in src/api (run npm run gen:api if not)', () => {
  assert.deepEqual(staleFiles(), []);
});

test('the CRD YAML parses back to exactly the CRD objects built from the kind definitions', () => {
  const files = generatedFiles();
  for (const k of KINDS) {
    const yaml = files.get(`deploy/crds/${k.plural}.yaml`);
    assert.ok(yaml, `no file for ${k.kind}`);
    assert.deepEqual(parse(yaml), crdFor(k));
  }
});

test('every spec and status field has a description, so docs/api.md documents all of them', () => {
  const missing: string[] = [];
  const walk = (
    path: string,
    j: { description?: string; properties?: Record<string, unknown>; items?: unknown },
  ) => {
    if (!j.description) missing.push(path);
    for (const [k, v] of Object.entries(j.properties ?? {})) walk(`${path}.${k}`, v as typeof j);
    if (j.items) walk(`${path}[]`, j.items as typeof j);
  };
  for (const k of KINDS) {
    walk(`${k.kind}.spec`, k.spec);
    walk(`${k.kind}.status`, k.status);
  }
  assert.deepEqual(missing, []);
});

test('printer columns show node, IPs, role, readiness and age for ClusterGateway', () => {
  const cg = KINDS.find((k) => k.kind === 'ClusterGateway')!;
  const names = cg.printerColumns.map((c) => c.name);
  for (const want of ['Node', 'Gateway IP', 'Internal IP', 'Role', 'Ready', 'Age'])
    assert.ok(names.includes(want), want);
});

test('defaults come from the schema: an empty policy spec gets every documented default', () => {
  const spec = applyDefaults(gatewayPolicySpecSchema.json, {}) as GatewayPolicySpec;
  assert.equal(spec.desiredInstances, 2);
  assert.equal(spec.mode, 'ActiveStandby');
  assert.deepEqual(spec.candidateSelector, { matchLabels: { 'mcgw.io/gateway-candidate': 'true' } });
  assert.equal(spec.zoneTopologyKey, 'topology.kubernetes.io/zone');
  assert.equal(spec.failureDetection?.leaseDurationMs, 3000);
  assert.equal(spec.failureDetection?.renewIntervalMs, 1000);
  // Given values are kept.
  const given = applyDefaults(gatewayPolicySpecSchema.json, {
    desiredInstances: 0,
    mode: 'ActiveActive',
  }) as GatewayPolicySpec;
  assert.equal(given.desiredInstances, 0);
  assert.equal(given.mode, 'ActiveActive');
});
