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
