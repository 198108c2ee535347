// Finds the test files and hands them to Node's test runner in one run, so one summary counts all.
// Usage: node scripts/run-tests.mjs [unit|integration] [extra node --test flags]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [kind, ...rest] = process.argv.slice(2);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
};
walk('test');
const chosen = files.filter((f) => {
  const integration = f.startsWith(join('test', 'integration'));
  return kind === 'unit' ? !integration : kind === 'integration' ? integration : true;
});
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  ...(kind && !['unit', 'integration'].includes(kind) ? [kind] : []),
  ...rest,
  ...chosen,
];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
