// The source tree's rooms keep to their own: the shared meanings of the API live in src/model (and
// generic helpers in src/util, src/lease), so the agent, `mcgw status` and the metrics never import
// the member controller's room. Read from the import lines of every file under those folders.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(m?ts|mjs)$/.test(n) ? [p] : [];
  });
}

/** Import specifiers of a file (static and dynamic), as written. */
function imports(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((m) => m[1]!);
}

const INTO_CONTROLLER = /(^|\/)controller\//;

test('the agent, status, metrics and the shared rooms import nothing of src/controller', () => {
  const offenders: string[] = [];
  for (const room of ['agent', 'status', 'metrics', 'model', 'util', 'lease', 'datapath', 'bfd']) {
    for (const f of files(join(SRC, room)))
      for (const spec of imports(f))
        if (spec.startsWith('.') && INTO_CONTROLLER.test(spec))
          offenders.push(`${relative(SRC, f)} → ${spec}`);
  }
  assert.deepEqual(offenders, []);
});

test('the check itself sees an import into src/controller (the member controller does import its own room)', () => {
  const own = imports(join(SRC, 'cli', 'controller.ts')).filter((s) => INTO_CONTROLLER.test(s));
  assert.ok(own.length > 0, 'src/cli/controller.ts imports ../controller/controller.ts');
});
