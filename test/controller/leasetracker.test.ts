import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaseTracker } from '../../src/controller/leasetracker.ts';

test('expiry is measured from when a renewal was seen, by the observer clock', () => {
  const t = new LeaseTracker();
  assert.equal(t.expiresAt('n1', 3000), undefined, 'never seen');
  assert.equal(t.observe('n1', 'v1', 1000), true);
  assert.equal(t.expired('n1', 3000, 3999), false);
  assert.equal(t.expired('n1', 3000, 4000), true);
  assert.equal(t.observe('n1', 'v1', 3500), false, 'same version is no renewal');
  assert.equal(t.expired('n1', 3000, 4000), true);
  assert.equal(t.observe('n1', 'v2', 4100), true);
  assert.equal(t.expired('n1', 3000, 5000), false);
  t.forget('n1');
  assert.equal(t.has('n1'), false);
  assert.equal(t.expired('n1', 3000, 1e9), false, 'a forgotten lease is absent, not expired');
});
