// `npm run build`: compiles src/ to dist/ with tsc (tsconfig.build.json), so bin/mcgw.js can run
// plain JavaScript instead of loading tsx. The stamp of the sources is taken before compiling and
// written last: a failed build leaves no stamp, and a file edited while tsc ran makes it stale.
// Files under src/ that are not TypeScript (plain .mjs helpers that the code starts by a path next to
// its own module) are copied as they are, so they sit next to the compiled modules too.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP, sourceFingerprint } from '../bin/build-stamp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = sourceFingerprint(root);
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) {
  console.error('build: tsc failed; dist/ has no stamp, so bin/mcgw.js keeps running the sources');
  process.exit(r.status ?? 1);
}
for (const rel of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && !e.name.endsWith('.ts'))
  .map((e) => join(e.parentPath ?? e.path, e.name).slice(join(root, 'src').length + 1))) {
  mkdirSync(dirname(join(root, 'dist', rel)), { recursive: true });
  cpSync(join(root, 'src', rel), join(root, 'dist', rel));
}
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, STAMP), stamp);
