// Issue 5's acceptance on the whole lab: two member clusters with real control planes, Kubernetes-fed
// agents in network namespaces, a UDP stream between a pod in each; the carrying Gateway dies, with
// the control planes up and with every apiserver (both members' and the leader's) stopped first.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Mode } from '../../src/api/types.ts';
import { DEFAULT_LAB_CONFIG, Lab } from '../../src/lab/lab.ts';
import { DEFAULT_LAB_OPTIONS } from '../../src/lab/plan.ts';
import { runTrial } from '../../src/lab/scenarios.ts';

const root = process.getuid?.() === 0;

for (const mode of ['ActiveStandby', 'ActiveActive'] as Mode[]) {
  describe(`lab, ${mode}: the carrying Gateway dies`, { skip: !root && 'needs root' }, () => {
    let lab: Lab;
    const bound = DEFAULT_LAB_OPTIONS.bfdMult * DEFAULT_LAB_OPTIONS.bfdTxMs + 100;
    before(async () => {
      lab = await Lab.up({
        ...DEFAULT_LAB_OPTIONS,
        ...DEFAULT_LAB_CONFIG,
        mode,
        dir: mkdtempSync(join(tmpdir(), 'mcgw-lab-test-')),
        nsPrefix: `mcgwt-l${randomBytes(2).toString('hex')}-`,
      });
    });
    after(() => lab?.down());

    const check = (name: string, r: Awaited<ReturnType<typeof runTrial>>) => {
      process.stderr.write(`# ${mode} ${name}: ${JSON.stringify(r)}\n`);
      assert.ok(r.victim, 'a carrying Gateway was found and broken');
      assert.deepEqual(Object.keys(r.lossWindowMs).sort(), ['a>b', 'b>a']);
      for (const [dir, ms] of Object.entries(r.lossWindowMs))
        assert.ok(ms <= bound, `${dir} lost ${ms} ms (bound ${bound} ms)`);
    };

    test(`control planes up: loss within ${bound} ms both ways, the Gateway replaced`, async () => {
      const r = await runTrial(lab, 'gateway-death', 1, { observeMs: 30_000, say: () => {} });
      check('gateway-death', r);
      assert.ok(r.controlPlaneRestoreMs !== null, 'the controller placed a replacement');
    });

    test(`every apiserver and the leader stopped first: loss still within ${bound} ms`, async () => {
      const r = await runTrial(lab, 'control-planes-down', 2, { observeMs: 30_000, say: () => {} });
      check('control-planes-down', r);
    });
  });
}
