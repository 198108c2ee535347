// `npm run build`: compiles src/ to dist/ with tsc (tsconfig.build.json), so bin/mcgw.js can run
// plain JavaScript instead of loading tsx. The stamp of the sources is taken before compiling, so a
// file edited while tsc runs makes the result stale. Files under src/ that are not TypeScript (plain
// .mjs helpers started by a path next to their module) are copied as they are.
// The build goes to a fresh directory that then replaces dist/ by rename: processes starting or
// lazily importing modules meanwhile never see a half-written dist/, and a failed build leaves the
// previous one (whose stamp still says what it was built from).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP, sourceFingerprint } from '../bin/build-stamp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
// Next to dist/ would be seen by git, eslint and prettier while it exists; node_modules/.cache is not.
const cache = join(root, 'node_modules', '.cache');
const next = join(cache, `mcgw-dist-${process.pid}`);
const old = join(cache, `mcgw-dist-old-${process.pid}`);

const stamp = sourceFingerprint(root);
rmSync(next, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', next], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) {
  rmSync(next, { recursive: true, force: true });
  console.error('build: tsc failed; dist/ is left as it was');
  process.exit(r.status ?? 1);
}
const src = join(root, 'src');
for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!e.isFile() || e.name.endsWith('.ts')) continue;
  const rel = join(e.parentPath ?? e.path, e.name).slice(src.length + 1);
  mkdirSync(dirname(join(next, rel)), { recursive: true });
  cpSync(join(src, rel), join(next, rel));
}
mkdirSync(next, { recursive: true });
try {
  rmSync(old, { recursive: true, force: true });
  try {
    renameSync(dist, old);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
} catch (err) {
  if (err.code !== 'EXDEV') throw err;
  // node_modules on another file system (a symlink): copy instead, the stamp last.
  rmSync(dist, { recursive: true, force: true });
  cpSync(next, dist, { recursive: true });
  rmSync(next, { recursive: true, force: true });
}
writeFileSync(join(root, STAMP), stamp);
