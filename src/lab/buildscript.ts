// Runs one of the repo's cached-build scripts (scripts/build-*.sh) and returns the path it prints
// last. Test files run in parallel processes and the scripts have no lock of their own, so flock(1)
// serialises builds into the same cache; later callers find it filled.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export function runBuildScript(
  script: string,
  cwd: string,
  fail: (message: string) => Error,
  what: string,
  useFlock = true,
): Promise<string> {
  const lock = join(tmpdir(), `mcgw-${basename(script, '.sh')}.lock`);
  return new Promise((resolvePromise, reject) => {
    const [cmd, args] = useFlock ? ['flock', [lock, 'bash', script]] : ['bash', [script]];
    // Progress goes to our stderr so a first, long build visibly moves; stdout carries the result.
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (useFlock && err.code === 'ENOENT') resolvePromise(runBuildScript(script, cwd, fail, what, false));
      else reject(fail(`could not run ${script}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      if (code !== 0) {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(fail(`${script} ${why}; its progress log is on stderr above`));
        return;
      }
      const last = stdout.trimEnd().split('\n').pop()?.trim() ?? '';
      if (last === '') reject(fail(`${script} printed no ${what}`));
      else resolvePromise(last);
    });
  });
}

/** Whether a cached build product is there and may be run. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
