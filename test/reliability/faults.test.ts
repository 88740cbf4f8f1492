/**
 * Faults, short (npm test): one kill -9 of a worker and one of the primary under traffic
 * (every ban made before each kill listed and enforced after it), the upstream flapping
 * twice, the logs on a full disk, a reload with a broken rule file. The long campaign (20
 * kills of each) is `npm run test:reliability -- --faults`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFaults } from './faults.js';

test('faults under load: kill -9 of a worker and of the primary lose no ban; upstream flaps, a full log disk and a broken reload are survived', { timeout: 600_000 }, async () => {
  const r = await runFaults({ rounds: 1, short: true, log: () => {} });
  assert.deepEqual(r.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`), []);
  assert.equal(r.killsWorker, 1);
  assert.equal(r.killsPrimary, 1);
  assert.equal(r.bansLost, 0);
  assert.equal(r.bansMade, 4);
  assert.equal(r.cases.length, 7);
});
