// docs/metrics.md lists exactly the metrics the code registers, with the same type and labels.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { COMPONENTS, createRegistry, registerAll } from '../../src/metrics/index.ts';

interface Documented {
  type: string;
  labels: string[];
}

function documented(): Map<string, Documented> {
  const md = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const out = new Map<string, Documented>();
  for (const line of md.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | `name` | type | `label`, `label` | meaning |
    const name = /^`(mcgw_[a-z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!name) continue;
    assert.ok(!out.has(name), `${name} is documented twice`);
    const labels = [...(cells[3] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
    out.set(name, { type: cells[2] ?? '', labels });
    assert.ok((cells[4] ?? '').length > 10, `${name} has a meaning`);
  }
  return out;
}

function registered(): Map<string, Documented> {
  const reg = createRegistry();
  registerAll(reg);
  const out = new Map<string, Documented>();
  for (const m of reg.getMetricsAsArray()) {
    // prom-client keeps the label names on the metric object; its typings do not show them.
    const labels = (m as unknown as { labelNames?: string[] }).labelNames ?? [];
    out.set(m.name, { type: String(m.type), labels: [...labels] });
  }
  return out;
}

test('every registered metric is documented in docs/metrics.md with its type and labels', () => {
  const docs = documented();
  for (const [name, r] of registered()) {
    const d = docs.get(name);
    assert.ok(d, `${name} is registered but not documented in docs/metrics.md`);
    assert.equal(d.type, r.type, `${name}: documented type`);
    assert.deepEqual([...d.labels].sort(), [...r.labels].sort(), `${name}: documented labels`);
  }
});

test('every documented metric is registered', () => {
  const reg = registered();
  for (const name of documented().keys())
    assert.ok(reg.has(name), `${name} is documented but no component registers it`);
});

test('the component specs and the registry agree, and names follow the conventions', () => {
  const reg = registered();
  let n = 0;
  for (const f of COMPONENTS)
    for (const s of Object.values(f.specs)) {
      n++;
      assert.ok(s.name.startsWith(`mcgw_${f.component}_`), `${s.name} is named after its component`);
      assert.equal(reg.get(s.name)?.type, s.type);
      if (s.type === 'histogram') assert.match(s.name, /_seconds$/);
    }
  assert.equal(n, reg.size);
});

test('the Grafana dashboard only queries documented metrics, and uses each component', () => {
  const dash = readFileSync(new URL('../../deploy/grafana/mcgw-dashboard.json', import.meta.url), 'utf8');
  JSON.parse(dash);
  const docs = documented();
  const used = new Set(
    [...dash.matchAll(/mcgw_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')),
  );
  for (const u of used) assert.ok(docs.has(u), `dashboard uses ${u}, which docs/metrics.md does not list`);
  for (const c of ['controller', 'exchange', 'leader'])
    assert.ok(
      [...used].some((u) => u.startsWith(`mcgw_${c}_`)),
      `dashboard shows ${c} metrics`,
    );
});
