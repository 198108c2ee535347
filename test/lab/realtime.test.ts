// grantRealtimeBudget against the real cgroup v1 cpu hierarchy: it takes what is left beside other
// holders and refuses, naming them, when too little is left. Skipped without RT group scheduling.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { grantRealtimeBudget, INSTRUMENT_RT_MIN_US } from '../../src/lab/realtime.ts';

const CPU = '/sys/fs/cgroup/cpu';
const usable = existsSync(join(CPU, 'cpu.rt_runtime_us')) && process.getuid?.() === 0;
const parent = join(CPU, `mcgw-rt-test-${process.pid}`);
const [a, b] = [join(parent, 'a'), join(parent, 'b')];
const rt = (dir: string) => join(dir, 'cpu.rt_runtime_us');
const sleeper = usable ? spawn('sleep', ['60'], { stdio: 'ignore' }) : undefined;
const pid = (): number => {
  if (sleeper?.pid === undefined) throw new Error('the sleeper did not start');
  return sleeper.pid;
};

after(async () => {
  if (!existsSync(parent)) {
    sleeper?.kill();
    return;
  }
  // A cgroup with a task cannot go: move the sleeper back to the root before it is killed (an
  // exiting task stays in its cgroup until it is reaped).
  if (sleeper?.pid !== undefined && sleeper.exitCode === null) {
    try {
      writeFileSync(join(CPU, 'cgroup.procs'), String(sleeper.pid));
    } catch {
      // it has exited already
    }
  }
  sleeper?.kill();
  for (const d of [a, b]) if (existsSync(d)) writeFileSync(rt(d), '0');
  for (const d of [a, b, parent]) {
    for (let i = 0; existsSync(d); i++) {
      try {
        rmdirSync(d);
      } catch (err) {
        if (i >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
});

test(
  'the budget: all of it, what is left beside another holder, or an error that names it',
  { skip: !usable },
  () => {
    mkdirSync(parent);
    writeFileSync(rt(parent), '400000');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(b, 'cgroup.procs'), String(pid()));
    const want = 200_000;

    assert.equal(grantRealtimeBudget(pid(), want), want);
    assert.equal(Number(readFileSync(rt(b), 'utf8')), want);

    writeFileSync(rt(b), '0');
    writeFileSync(rt(a), '250000');
    assert.equal(grantRealtimeBudget(pid(), want), 150_000, 'the 150 ms beside a');
    assert.equal(Number(readFileSync(rt(b), 'utf8')), 150_000);

    writeFileSync(rt(b), '0');
    writeFileSync(rt(a), String(400_000 - INSTRUMENT_RT_MIN_US + 1));
    assert.throws(
      () => grantRealtimeBudget(pid(), want),
      (e: Error) => /only 99999 us are left beside a \(300001 us\)/.test(e.message) && e.message.includes(b),
    );
    assert.equal(Number(readFileSync(rt(b), 'utf8')), 0, 'nothing written when refused');
  },
);
