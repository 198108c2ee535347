// Log levels given on the command line are checked against the four known names only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLevel, LEVELS } from '../../src/util/log.ts';

describe('isLevel', () => {
  it('accepts the four levels', () => {
    for (const l of LEVELS) assert.ok(isLevel(l), l);
    assert.deepEqual([...LEVELS].sort(), ['debug', 'error', 'info', 'warn']);
  });
  it('refuses names every object inherits, and anything else', () => {
    for (const s of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'INFO', '', 'trace'])
      assert.equal(isLevel(s), false, s);
  });
});
