import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaseTracker } from '../../src/lease/tracker.ts';

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

test('a placement opens one window: not expired, not renewed, until a real renewal or the end of the window', () => {
  const t = new LeaseTracker();
  t.observe('n1', 'old', 0); // a stale Lease left by an agent that died long ago
  t.placed('n1', 10_000);
  assert.equal(t.isPlacedOnly('n1'), true);
  assert.equal(t.expired('n1', 3000, 12_999), false);
  assert.equal(t.observe('n1', 'old', 12_000), false, 'a relist of the stale Lease is no renewal');
  assert.equal(t.isPlacedOnly('n1'), true);
  assert.equal(t.expired('n1', 3000, 13_000), true, 'no renewal within the window: failed');
  t.placed('n1', 20_000);
  assert.equal(t.observe('n1', 'new', 20_500), true);
  assert.equal(t.isPlacedOnly('n1'), false, 'a renewal ends the window');
});
