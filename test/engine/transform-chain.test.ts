/**
 * @module test/engine/transform-chain
 * Interned transformation chains: shared prefixes, the per-value cache, and multiMatch's
 * list of intermediate values, which runs each step once whatever the value's length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChain, applySteps, extendChain, type TransformChain } from '../../src/engine/transform-chain.js';
import { Entry } from '../../src/engine/collection.js';

/** A chain of steps that append their letter, counting how often each one runs. */
function counted(letters: string): { chain: TransformChain; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  let chain: TransformChain | null = null;
  for (const l of letters) {
    // A name per test run: interned chains are shared process-wide.
    const name = `append-${l}-${Math.random()}`;
    chain = extendChain(chain, {
      name,
      fn: (s) => {
        calls.set(l, (calls.get(l) ?? 0) + 1);
        return s + l;
      },
    });
  }
  return { chain: chain as TransformChain, calls };
}

test('applySteps lists the value after each step, first to last', () => {
  for (const value of ['v', 'a value longer than the cache threshold']) {
    const { chain } = counted('abc');
    assert.deepEqual(applySteps(chain, new Entry('k', value)), [value, `${value}a`, `${value}ab`, `${value}abc`]);
  }
});

test('applySteps runs each step once for a short value and for a cached one', () => {
  for (const value of ['v', 'a value longer than the cache threshold']) {
    const { chain, calls } = counted('abcdefg');
    applySteps(chain, new Entry('k', value));
    assert.deepEqual([...calls.values()], [1, 1, 1, 1, 1, 1, 1], value);
  }
});

test('a cached value is not transformed again by a chain that shares its prefix', () => {
  const { chain, calls } = counted('ab');
  const entry = new Entry('k', 'a value longer than the cache threshold');
  assert.equal(applyChain(chain, entry), `${entry.value}ab`);
  assert.equal(applyChain(chain.prefix as TransformChain, entry), `${entry.value}a`);
  applySteps(chain, entry);
  assert.deepEqual([...calls.values()], [1, 1]);
});

test('chains with the same steps are the same object', () => {
  const { chain } = counted('xy');
  const again = extendChain(chain.prefix, { name: chain.name, fn: chain.fn });
  assert.equal(again, chain);
  assert.deepEqual(
    chain.steps().map((c) => c.name),
    chain.names(),
  );
});

test('a long value skips a step that changed nothing: its result is taken from the chain without it', () => {
  const calls = new Map<string, number>();
  const step = (name: string, fn: (s: string) => string): { name: string; fn: (s: string) => string } => ({
    name: `${name}-${Math.random()}`,
    fn: (s) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return fn(s);
    },
  });
  const upper = step('upper', (s) => s.toUpperCase());
  const keep = step('keep', (s) => s); // unchanged, as utf8toUnicode is on ASCII
  const bang = step('bang', (s) => `${s}!`);
  const upperBang = extendChain(extendChain(null, upper), bang);
  const keepUpperBang = extendChain(extendChain(extendChain(null, keep), upper), bang);
  const long = new Entry('k', 'x'.repeat(2000));
  assert.equal(applyChain(upperBang, long), `${'X'.repeat(2000)}!`);
  assert.equal(applyChain(keepUpperBang, long), `${'X'.repeat(2000)}!`);
  assert.deepEqual(Object.fromEntries(calls), { upper: 1, bang: 1, keep: 1 });
  // A step that changed the value is not skipped, and a short value is not looked up this way.
  const keepBang = extendChain(extendChain(null, keep), bang);
  assert.equal(applyChain(keepBang, long), `${'x'.repeat(2000)}!`);
  assert.equal(calls.get('bang'), 2);
  calls.clear();
  const short = new Entry('k', 'a value under a thousand chars');
  applyChain(upperBang, short);
  applyChain(keepUpperBang, short);
  assert.deepEqual(Object.fromEntries(calls), { upper: 2, bang: 2, keep: 1 });
});
