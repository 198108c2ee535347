// The agent never loads @kubernetes/client-node (about 60 MiB of resident memory): neither
// src/cli/agent.ts nor any module it imports dynamically when it has a kubeconfig. A child process
// imports them with a module hook that writes down every module it loads from node_modules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

// Module hooks that append every URL loaded from node_modules to the file $MCGW_TRACE.
const TRACER = `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.includes('/node_modules/')) appendFileSync(process.env.MCGW_TRACE, url + '\\n');
  return next(url, context);
}`)}`;

/** Packages under node_modules that importing `modules` (paths from the repository root) loads. */
function packagesLoaded(modules: string[]): string[] {
  const trace = join(mkdtempSync(join(tmpdir(), 'mcgw-modules-')), 'trace');
  writeFileSync(trace, '');
  const code = [
    `import { register } from 'node:module';`,
    `register(${JSON.stringify(TRACER)});`,
    `for (const m of ${JSON.stringify(modules)}) await import(new URL(m, ${JSON.stringify(pathToFileURL(root).href)}).href);`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, MCGW_TRACE: trace },
  });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const text = readFileSync(trace, 'utf8');
  rmSync(dirname(trace), { recursive: true, force: true });
  const pkgs = new Set<string>();
  for (const m of text.matchAll(/node_modules\/((?:@[^/\s]+\/)?[^/\s.][^/\s]*)\//g)) pkgs.add(m[1]!);
  return [...pkgs].sort();
}

test('the agent and what it imports with a kubeconfig never load @kubernetes/client-node', () => {
  const src = readFileSync(new URL('../../src/cli/agent.ts', import.meta.url), 'utf8');
  const dynamic = [...src.matchAll(/import\('\.\.\/([^']+)'\)/g)].map((m) => `src/${m[1]}`);
  assert.ok(dynamic.includes('src/agent/kubesource.ts'), `dynamic imports found: ${dynamic.join(', ')}`);
  const pkgs = packagesLoaded(['src/cli/agent.ts', ...dynamic]);
  assert.ok(!pkgs.includes('@kubernetes/client-node'), `loaded: ${pkgs.join(', ')}`);
  // The probe sees client-node when it is loaded.
  assert.ok(packagesLoaded(['src/kube/client.ts']).includes('@kubernetes/client-node'));
});
