import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkQueue } from '../../src/util/workqueue.ts';
import type { Timers } from '../../src/util/workqueue.ts';

/** Timers driven by hand, so delays are tested without waiting. */
function fakeTimers() {
  let now = 0;
  const pending: { at: number; fn: () => void; id: number }[] = [];
  let id = 0;
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      pending.push({ at: now + ms, fn, id: ++id });
      return id;
    },
    clearTimeout: (h) => {
      const i = pending.findIndex((p) => p.id === h);
      if (i >= 0) pending.splice(i, 1);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (;;) {
      pending.sort((a, b) => a.at - b.at);
      const p = pending[0];
      if (!p || p.at > now) break;
      pending.shift();
      p.fn();
    }
  };
  return { timers, advance, now: () => now, pending };
}

test('a key added many times is queued once', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  q.add('a');
  q.add('b');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.length, 0);
});

test('a key added while being processed is handed out again after done, never twice at once', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  const k = await q.get();
  q.add('a');
  assert.equal(q.length, 0, 'not queued while processing');
  q.done(k!);
  assert.equal(q.length, 1);
  assert.equal(await q.get(), 'a');
});

test('a waiting get() receives the next added key', async () => {
  const q = new WorkQueue<string>();
  const p = q.get();
  q.add('x');
  assert.equal(await p, 'x');
});

test('addAfter delays; the earlier of two delays wins', () => {
  const t = fakeTimers();
  const q = new WorkQueue<string>({ timers: t.timers });
  q.addAfter('a', 100, t.now());
  q.addAfter('a', 50, t.now());
  q.addAfter('a', 500, t.now());
  t.advance(49);
  assert.equal(q.length, 0);
  t.advance(1);
  assert.equal(q.length, 1);
  assert.equal(t.pending.length, 0, 'the later timers were dropped');
});

test('addRateLimited backs off exponentially up to the maximum, and forget resets it', () => {
  const t = fakeTimers();
  const q = new WorkQueue<string>({ timers: t.timers, baseDelayMs: 10, maxDelayMs: 50 });
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => q.addRateLimited('a')),
    [10, 20, 40, 50, 50],
  );
  q.forget('a');
  assert.equal(q.addRateLimited('a'), 10);
});

test('shutDown releases waiting workers with undefined and drops delayed keys', async () => {
  const t = fakeTimers();
  const q = new WorkQueue<string>({ timers: t.timers });
  const p = q.get();
  q.addAfter('a', 10, 0);
  q.shutDown();
  assert.equal(await p, undefined);
  assert.equal(t.pending.length, 0);
  q.add('b');
  assert.equal(await q.get(), undefined);
});
