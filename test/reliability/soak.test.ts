/**
 * The soak, short (npm test): Warden with the CRS under mixed traffic for 20 seconds with a
 * reload every 5 seconds — every answer what its traffic calls for, every reload applied,
 * no file descriptor left open once the traffic has stopped. Memory growth needs the long
 * run (`npm run test:reliability -- --soak --minutes 30`); here it is only reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from './soak.js';

test('soak (20 s, a reload every 5 s): no unexpected answer, every reload applied, no descriptor leaked', { timeout: 300_000 }, async (t) => {
  const s = await runSoak({ minutes: 1 / 3, reloadEveryS: 5, sampleEveryS: 2, concurrency: 4, log: () => {} });
  t.diagnostic(`${s.requests} requests, RSS ${s.rssWarmMb.toFixed(0)} → ${s.rssEndMb.toFixed(0)} MB, fds ${s.fdWarm} → ${s.fdEnd}, ${s.retried} retried`);
  assert.deepEqual(s.unexpectedExamples, []);
  assert.equal(s.unexpected, 0);
  assert.ok(s.reloads >= 3, `${s.reloads} reloads`);
  assert.equal(s.reloadsFailed, 0);
  assert.ok(s.requests > 50, `only ${s.requests} requests`);
  for (const kind of ['benign', 'attack', 'malformed', 'banned']) assert.ok(Object.keys(s.answers[kind] ?? {}).length > 0, `no ${kind} traffic`);
  assert.ok(s.fdEnd <= s.fdWarm + 5, `file descriptors ${s.fdWarm} idle before, ${s.fdEnd} idle after`);
});
