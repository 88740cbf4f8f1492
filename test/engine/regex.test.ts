import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRegex } from '../../src/engine/regex/index.js';

test('a rule regex matches bytes and returns its groups', () => {
  const re = compileRegex('(a+)b');
  assert.deepEqual(re.exec('xaab'), ['aab', 'aa']);
  assert.equal(re.test('xyz'), false);
});
