/**
 * One object shape on the hot path (as fastify checks): a fresh Transaction and one that went
 * through every phase, with an interruption, share V8's hidden class, and so do all Rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('Transaction and Rule objects keep one shape', () => {
  const probe = fileURLToPath(new URL('./fixtures/shape-probe.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', probe], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, boolean>;
  assert.deepEqual(result, { transactions: true, interrupted: true, rules: true });
});
