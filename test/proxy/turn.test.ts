import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inTurn } from '../../src/proxy/turn.js';

test('steps queued in a turn run together at its end, in order, and a failing one does not stop the rest', async () => {
  const seen: string[] = [];
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  process.on('warning', onWarning);
  try {
    inTurn(() => seen.push('a'));
    inTurn(() => {
      throw new Error('step failed');
    });
    inTurn(() => {
      seen.push('b');
      // Queued while the batch runs: the next turn.
      inTurn(() => seen.push('d'));
    });
    seen.push('sync');
    await new Promise<void>((resolve) => setImmediate(resolve));
    // The steps ran in the check phase that was already scheduled before this one.
    assert.deepEqual(seen, ['sync', 'a', 'b']);
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ['sync', 'a', 'b', 'd']);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.message ?? '', /step queued for the turn failed: Error: step failed/);
    assert.equal(warnings[0]?.name, 'WardenTurnStep');
  } finally {
    process.off('warning', onWarning);
  }
});
