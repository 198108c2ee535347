// The lab's command line as a user runs it: `mcgw lab up`, `run gateway-death --json`, `down`, and
// nothing of the lab left behind afterwards (namespaces, processes, files).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ScenarioReport } from '../../src/lab/report.ts';

const MCGW = fileURLToPath(new URL('../../bin/mcgw.js', import.meta.url));
const name = `t${randomBytes(2).toString('hex')}`;
const dir = join(tmpdir(), `mcgw-lab-${name}`);
const lab = (...args: string[]) =>
  spawnSync(process.execPath, [MCGW, 'lab', ...args, '--name', name], { encoding: 'utf8', timeout: 300_000 });
const namespaces = () =>
  spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith(`mcgwl-${name}-`));
const processes = () =>
  readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  });

describe('mcgw lab up / run / down', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  after(() => void lab('down'));

  test('up shows progress and the table; run prints a JSON report; down leaves nothing', () => {
    const up = lab('up', '--nodes', 'sim', '--candidates', '2');
    assert.equal(up.status, 0, up.stderr + up.stdout);
    assert.match(up.stdout, /\[7\/7\] starting traffic/);
    assert.match(up.stdout, /cluster a {2}apiserver up {2}imports b/);
    assert.match(up.stdout, /traffic: .*pps/);
    assert.equal(namespaces().length, 7, 'a bridge and 3 Nodes per member');

    const again = lab('up');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already up/);

    const run = lab('run', 'gateway-death', '--trials', '1', '--baseline-trials', '0', '--json');
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ScenarioReport;
    assert.equal(report.scenario, 'gateway-death');
    assert.equal(report.trials.length, 1);
    assert.deepEqual(Object.keys(report.trials[0]!.lossWindowMs).sort(), ['a>b', 'b>a']);
    assert.match(run.stderr, /trial 1: breaking a-gw/);

    const bad = lab('run', 'no-such-scenario');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /no scenario "no-such-scenario"; known: .*gateway-death/);

    const down = lab('down');
    assert.equal(down.status, 0, down.stderr);
    assert.deepEqual(namespaces(), []);
    assert.deepEqual(processes(), []);
    assert.equal(existsSync(dir), false);
  });
});
