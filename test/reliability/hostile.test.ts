/**
 * Hostile clients against `warden start` (test/reliability/hostile.ts): every case gets its
 * specified answer within the configured timeouts, and the upstream receives exactly the
 * requests a strict parser reads one way — the whole table, in about ten seconds (the slow
 * cases wait on the timeouts side by side).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runHostile } from './hostile.js';

test('hostile clients: each case answered as specified, in time, never reaching the upstream ambiguously', { timeout: 180_000 }, async () => {
  const results = await runHostile();
  const failed = results.filter((c) => !c.ok);
  assert.deepEqual(failed.map((c) => `${c.name}: ${c.answer} (expected ${c.expected}); upstream: ${c.upstream}`), []);
  assert.ok(results.length >= 40, `only ${results.length} cases ran`);
});
