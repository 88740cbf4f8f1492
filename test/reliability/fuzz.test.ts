/**
 * The fuzz campaigns, short (npm test): every input that ever escaped (the fixtures in
 * test/reliability/fixtures/<target>/) is replayed, then each parser gets a fresh batch of
 * generated inputs for about half a second, in process; then the HTTP framing campaign
 * sends a few hundred inputs through `warden start`. Any exception, broken invariant or
 * input over the slow bound fails. The long campaigns (a million inputs per parser, with
 * hang and heap bounds in worker threads) are `npm run test:reliability -- --fuzz`.
 *
 * The seed is new on every run (printed on failure): set WARDEN_FUZZ_SEED to run one again.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PROBE_LINE, targets, guardedTime, logLineCase, logLineSearchPath, removeTargetFolders, writeFuzzFilter } from './fuzz/targets.js';
import { useQuickSeeds } from './fuzz/seeds.js';
import { loadFixtures } from './fuzz/runner.js';
import { fuzzHttp } from './fuzz/http.js';
import { fixturesDir } from './results.js';
import { GuardedFilter } from '../../src/jail/filter/index.js';

useQuickSeeds();
after(removeTargetFolders);
const seed = Number(process.env.WARDEN_FUZZ_SEED ?? Date.now() % 1_000_000_000);
const SLOW_MS = 1000;
const BUDGET_MS = 500;

/**
 * Runs one input; over the slow bound it runs twice more and keeps its fastest time (a
 * shared machine). The time that counts leaves out the part production runs behind a time
 * guard (FuzzTarget.guard: matching a fail2ban regex), which the guard bounds instead;
 * unless `whole`: a fixture not named guarded- once ran slow through a fault of Warden's
 * own (a regex translated with more backtracking than Python's) and must stay fixed.
 */
function timed(run: (input: string) => void, input: string, whole = false): number {
  let best = Infinity;
  for (let i = 0; i < 3 && best > SLOW_MS; i++) {
    guardedTime.ms = 0;
    const t0 = performance.now();
    run(input);
    best = Math.min(best, performance.now() - t0 - (whole ? 0 : guardedTime.ms));
  }
  return best;
}

for (const target of targets) {
  test(`fuzz ${target.name}: fixtures replayed, then ${BUDGET_MS} ms of generated inputs without an escape (seed ${seed})`, () => {
    for (const [name, input] of loadFixtures(fixturesDir, target.name, target.encoding)) {
      if (name.startsWith('guarded-')) continue; // replayed through the guard below
      const ms = timed((i) => target.run(i), input, true);
      assert.ok(ms <= SLOW_MS, `fixture ${target.name}/${name} ran ${ms.toFixed(0)} ms`);
    }
    const arb = target.arbitrary(target.seeds());
    const t0 = performance.now();
    let n = 0;
    for (let b = 0; performance.now() - t0 < BUDGET_MS && n < target.shortCount; b++) {
      for (const input of fc.sample(arb, { seed: seed + b, numRuns: 100 })) {
        let ms: number;
        try {
          ms = timed((i) => target.run(i), input);
        } catch (err) {
          assert.fail(`${target.name} input ${n} (WARDEN_FUZZ_SEED=${seed}) threw ${(err as Error).stack}\ninput: ${JSON.stringify(input.slice(0, 500))}`);
        }
        assert.ok(ms <= SLOW_MS, `${target.name} input ${n} (WARDEN_FUZZ_SEED=${seed}) ran ${ms.toFixed(0)} ms: ${JSON.stringify(input.slice(0, 500))}`);
        n++;
      }
    }
    assert.ok(n >= 100, `only ${n} inputs ran`);
  });
}

test('fuzz log-lines: lines that ran over the guard’s limit are stopped by the real GuardedFilter within its limit', async (t) => {
  const guarded = loadFixtures(fixturesDir, 'log-lines', 'latin1').filter(([name]) => name.startsWith('guarded-'));
  if (guarded.length === 0) return t.skip('no guarded fixtures');
  for (const [name, input] of guarded.slice(0, 3)) {
    const { filter, line } = logLineCase(input);
    let stoppedAfter = -1;
    const g = await GuardedFilter.open(filter, { searchPath: logLineSearchPath(), timeZone: 'UTC' }, { lineTimeoutMs: 200, onTimeout: (e) => (stoppedAfter = e.elapsedMs) });
    try {
      const t0 = performance.now();
      await g.matchLines([line]);
      const total = performance.now() - t0;
      assert.equal(g.timeouts, 1, `${name}: the ${filter} line was not stopped`);
      // The guard's promise: a line found running twice in a row is stopped (scheduling slack on a busy machine).
      assert.ok(stoppedAfter >= 0 && stoppedAfter < 3000, `${name}: stopped only after ${stoppedAfter} ms`);
      // And the batch is answered (a fresh worker loads the filter and runs the rest) well within the hang bound.
      assert.ok(total < 20_000, `${name}: the batch took ${total.toFixed(0)} ms`);
    } finally {
      await g.close();
    }
  }
});

test('fuzz filter-files: a filter whose own regex backtracks without end is stopped by the real GuardedFilter within its limit', async (t) => {
  const guarded = loadFixtures(fixturesDir, 'filter-files', 'utf8').filter(([name]) => name.startsWith('guarded-'));
  if (guarded.length === 0) return t.skip('no guarded fixtures');
  for (const [name, input] of guarded.slice(0, 2)) {
    let stoppedAfter = -1;
    // 100 ms, not 200: what never ends in this fixture is V8 compiling its regex (`r?` a
    // thousand times) to machine code, which a terminated worker cannot interrupt; the line
    // is stopped while V8 still interprets it, which took 272-331 ms on a fast machine,
    // under the two checks of a 200 ms limit.
    const g = await GuardedFilter.open(writeFuzzFilter(input), { timeZone: 'UTC' }, { lineTimeoutMs: 100, onTimeout: (e) => (stoppedAfter = e.elapsedMs) });
    try {
      const t0 = performance.now();
      await g.matchLines([PROBE_LINE]);
      const total = performance.now() - t0;
      assert.equal(g.timeouts, 1, `${name}: the line was not stopped`);
      assert.ok(stoppedAfter >= 0 && stoppedAfter < 3000, `${name}: stopped only after ${stoppedAfter} ms`);
      // And the batch is answered (a fresh worker loads the filter and runs the rest) well within the hang bound.
      assert.ok(total < 20_000, `${name}: the batch took ${total.toFixed(0)} ms`);
    } finally {
      await g.close();
    }
  }
});

test(`fuzz http: fixtures and 300 generated inputs through warden start, each answered as documented (seed ${seed})`, { timeout: 180_000 }, async () => {
  const r = await fuzzHttp({ count: 300, seed, concurrency: 32, hangMs: 20_000, fixturesDir, save: false, log: () => {} });
  assert.equal(r.escapeTotal, 0, `escapes (WARDEN_FUZZ_SEED=${seed}): ${JSON.stringify(r.examples, null, 1)}`);
  assert.equal(r.inputs, 300);
  assert.ok(r.forwarded > 0, 'nothing reached the upstream');
});
