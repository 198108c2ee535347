#!/usr/bin/env node
// Entry point. Runs the compiled CLI in dist/ (`npm run build`) when its stamp matches the sources,
// otherwise the TypeScript sources through tsx's loader, as without a build. Compiled, a process
// starts faster and has no tsx/esbuild in memory (about 80 MiB less peak RSS).
// MCGW_RUNTIME=tsx forces the sources; MCGW_RUNTIME=dist forces dist/ and fails if it is missing
// or stale.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP, sourceFingerprint } from './build-stamp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const want = process.env.MCGW_RUNTIME ?? 'auto';

/** Why dist/ cannot be used, or undefined when it can. */
function distProblem() {
  let built;
  try {
    built = readFileSync(join(root, STAMP), 'utf8');
  } catch {
    return 'no dist/ build (npm run build)';
  }
  const now = sourceFingerprint(root);
  // No src/ (the image): dist/ is all there is.
  if (now !== undefined && now !== built) return 'src/ changed since the last build (npm run build)';
  return undefined;
}

const problem = want === 'tsx' ? 'MCGW_RUNTIME=tsx' : distProblem();
if (problem === undefined) {
  await import('../dist/cli/main.js');
} else if (want === 'dist') {
  process.stderr.write(`mcgw: MCGW_RUNTIME=dist but ${problem}\n`);
  process.exit(1);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
