/**
 * @module test/detect/operator
 * `@detectSQLi` / `@detectXSS` as rules see them: match, no match, and TX:0 with
 * `capture` — the fingerprint for SQLi and the value for XSS, as ModSecurity v2 sets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getOperator, type MatchContext } from '../../src/engine/operators/index.js';

function context(capturing: boolean): MatchContext & { captures: Map<number, string> } {
  const captures = new Map<number, string>();
  return {
    capturing,
    captures,
    capture(index, value) {
      captures.set(index, value);
    },
    matchLimitExceeded() {},
  };
}

const ctx = { baseDir: '.', readFile: () => '' };

test('@detectSQLi with capture: TX:0 is the fingerprint', () => {
  const op = getOperator('detectSQLi')?.('', ctx);
  assert.ok(op);
  const m = context(true);
  assert.equal(op.evaluate("1' or '1'='1", m), true);
  assert.deepEqual([...m.captures], [[0, 's&sos']]);
  const miss = context(true);
  assert.equal(op.evaluate('hello', miss), false);
  assert.equal(miss.captures.size, 0);
});

test('@detectSQLi without capture reports nothing', () => {
  const op = getOperator('detectsqli')?.('ignored parameter', ctx);
  assert.ok(op);
  const m = context(false);
  assert.equal(op.evaluate('1 union select 1', m), true);
  assert.equal(m.captures.size, 0);
});

test('@detectXSS with capture: TX:0 is the value', () => {
  const op = getOperator('DETECTXSS')?.('', ctx);
  assert.ok(op);
  const m = context(true);
  const value = '<a href="javascript:alert(1)">)';
  assert.equal(op.evaluate(value, m), true);
  assert.deepEqual([...m.captures], [[0, value]]);
  assert.equal(op.evaluate('this is not an XSS', context(true)), false);
});
