import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  labelKeyProblem,
  matchesSelector,
  selectorProblems,
  selectorString,
} from '../../src/controller/selector.ts';

test('matchLabels and every expression operator', () => {
  const l = { a: '1', b: '2' };
  assert.equal(matchesSelector(l, {}), true);
  assert.equal(matchesSelector(l, { matchLabels: { a: '1' } }), true);
  assert.equal(matchesSelector(l, { matchLabels: { a: '2' } }), false);
  assert.equal(
    matchesSelector(l, { matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '3'] }] }),
    true,
  );
  assert.equal(
    matchesSelector(l, { matchExpressions: [{ key: 'c', operator: 'In', values: ['1'] }] }),
    false,
  );
  assert.equal(
    matchesSelector(l, { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }),
    false,
  );
  assert.equal(
    matchesSelector(l, { matchExpressions: [{ key: 'c', operator: 'NotIn', values: ['1'] }] }),
    true,
  );
  assert.equal(matchesSelector(l, { matchExpressions: [{ key: 'b', operator: 'Exists' }] }), true);
  assert.equal(matchesSelector(l, { matchExpressions: [{ key: 'b', operator: 'DoesNotExist' }] }), false);
  assert.equal(
    matchesSelector(undefined, { matchExpressions: [{ key: 'b', operator: 'DoesNotExist' }] }),
    true,
  );
});

test('label key validation names the problem', () => {
  assert.equal(labelKeyProblem('topology.kubernetes.io/zone'), undefined);
  assert.equal(labelKeyProblem('zone'), undefined);
  assert.match(labelKeyProblem('a/b/c')!, /more than one/);
  assert.match(labelKeyProblem('Bad_Prefix/x')!, /prefix/);
  assert.match(labelKeyProblem('-x')!, /invalid name/);
  assert.match(labelKeyProblem('x'.repeat(64))!, /invalid name/);
  const p = selectorProblems({
    matchLabels: { 'ok/key': 'bad value!' },
    matchExpressions: [{ key: '/x', operator: 'Exists' }],
  });
  assert.equal(p.length, 2);
  assert.match(p[0]!, /not a valid label value/);
  assert.match(p[1]!, /matchExpressions\[0\]/);
});

test('selectorString renders the apiserver syntax', () => {
  assert.equal(
    selectorString({
      matchLabels: { a: '1' },
      matchExpressions: [
        { key: 'b', operator: 'In', values: ['x', 'y'] },
        { key: 'c', operator: 'DoesNotExist' },
      ],
    }),
    'a=1,b in (x,y),!c',
  );
});
