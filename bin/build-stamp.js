// What the compiled CLI in dist/ was built from: one line per file under src/ (and per tsconfig the
// build reads) with its mtime and size. `npm run build` (scripts/build.mjs) writes it to
// dist/.build-stamp before compiling; bin/mcgw.js recomputes it and uses dist/ only when the two are
// equal, so any edit, addition or removal under src/ since the build (even during it) means the
// sources run through tsx instead. About 100 stat calls: a few milliseconds.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const STAMP = join('dist', '.build-stamp');
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

/** The fingerprint of the build inputs under root, or undefined when root has no src/. */
export function sourceFingerprint(root) {
  const lines = [];
  const walk = (rel) => {
    let entries;
    try {
      entries = readdirSync(join(root, rel), { withFileTypes: true });
    } catch (err) {
      if (rel === 'src' && err.code === 'ENOENT') return false;
      throw err;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else lines.push(line(root, p));
    }
    return true;
  };
  if (!walk('src')) return undefined;
  for (const c of CONFIGS) lines.push(line(root, c));
  return lines.join('\n') + '\n';
}

function line(root, rel) {
  try {
    const st = statSync(join(root, rel));
    return `${st.mtimeMs} ${st.size} ${rel}`;
  } catch {
    return `- - ${rel}`;
  }
}
