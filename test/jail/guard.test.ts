/**
 * The guard that keeps a catastrophic filter regex from stalling Warden: matching in a
 * worker thread, a line that runs too long stopped and skipped, overlong lines cut.
 * The regex is domino-smtp's before the fix for GHSA-33wh-ccjc-p397, whose `(?:[^\[]+ )*`
 * backtracks exponentially on a line of words that then fails to match (24 words take
 * seconds on Irregexp, each word doubles it; the line below has 40). The line carries the
 * pattern's required text (" authentication failure using internet password") and fails
 * only at its end, so that the filter's prefilter lets it through to the regex: a line
 * without that text is refused before the regex runs and proves nothing about the guard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { GuardedFilter, type GuardTimeout } from '../../src/jail/filter/guard.js';
import { FilterError } from '../../src/jail/filter/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-guard-'));
const vulnerable = join(dir, 'domino-smtp-old.conf');
writeFileSync(
  vulnerable,
  [
    '[Definition]',
    '# domino-smtp.conf before GHSA-33wh-ccjc-p397',
    'failregex = ^(?:\\[[^\\]]+\\])?\\s*smtp: (?:[^\\[]+ )*\\[?<HOST>\\]? authentication failure using internet password\\s*$',
    'datepattern = {^LN-BEG}',
  ].join('\n'),
);

const good = (n: number): string => `2016-11-07 22:21:2${n}   smtp: postmaster [192.0.2.${n}] authentication failure using internet password`;
const attack = `2016-11-07 22:21:22   smtp: ${'A '.repeat(40)}host authentication failure using internet password, no match`;

test('a line that backtracks without end is stopped, reported and skipped; the batch goes on', async () => {
  const timeouts: GuardTimeout[] = [];
  const f = await GuardedFilter.open(vulnerable, { timeZone: 'UTC' }, { lineTimeoutMs: 200, onTimeout: (e) => timeouts.push(e) });
  try {
    assert.equal(f.name, 'domino-smtp-old');
    const found = await f.matchLines([good(1), attack, good(3)]);
    assert.deepEqual(
      found.map((m) => m.id),
      ['192.0.2.1', '192.0.2.3'],
    );
    assert.equal(f.timeouts, 1);
    assert.equal(timeouts.length, 1);
    assert.equal(timeouts[0]?.line, attack);
    assert.equal(timeouts[0]?.filter, 'domino-smtp-old');
    // The next batch runs in the fresh worker.
    assert.deepEqual((await f.matchLines([good(4)])).map((m) => m.id), ['192.0.2.4']);
  } finally {
    await f.close();
  }
});

test('batches queue in order; lines beyond maxLineLength are cut before matching', async () => {
  const f = await GuardedFilter.open(vulnerable, { timeZone: 'UTC' }, { maxLineLength: 60 });
  try {
    const [a, b] = await Promise.all([f.matchLines([good(1)]), f.matchLines([good(2), `2016-11-07 22:21:29   smtp: x [192.0.2.9] authentication failure using internet password${' '.repeat(10)}`])]);
    assert.deepEqual(a.map((m) => m.id), []);
    assert.deepEqual(b.map((m) => m.id), []);
  } finally {
    await f.close();
  }
  const g = await GuardedFilter.open(vulnerable, { timeZone: 'UTC' }, { maxLineLength: 0 });
  try {
    assert.deepEqual((await g.matchLines([good(1), good(2)])).map((m) => m.id), ['192.0.2.1', '192.0.2.2']);
  } finally {
    await g.close();
  }
});

test('a filter that cannot load rejects with its FilterError; a closed filter refuses work', async () => {
  await assert.rejects(GuardedFilter.open(join(dir, 'missing.conf')), (e: unknown) => e instanceof FilterError && e.code === 'WARDEN_FILTER_NOT_FOUND');
  const f = await GuardedFilter.open(vulnerable);
  await f.close();
  await assert.rejects(f.matchLines([good(1)]), /closed/u);
});

test('a worker that cannot be stopped (V8 compiling a regex to machine code) disables the filter with a clear error', async () => {
  // V8 checks for termination while a regex runs, not while it compiles one: this regex's
  // first line runs interpreted (80 ms), its second sends it to the compiler, which does
  // not come back (with 100 optional chars it took 6.5 s, with 150 more than 20). It runs
  // in a child process, killed once it has answered: Node joins every thread as a process
  // exits, so a process holding such a thread cannot end by itself (cli/start kills itself
  // then, abandonedWorkers()).
  const filter = join(dir, 'compiler-stuck.conf');
  writeFileSync(filter, ['[Definition]', `failregex = ^<HOST> ${'r?'.repeat(1000)}request failed$`, 'datepattern = {NONE}'].join('\n'));
  const script = join(dir, 'compiler-stuck.mjs');
  writeFileSync(
    script,
    `import { GuardedFilter, abandonedWorkers } from ${JSON.stringify(new URL('../../src/jail/filter/guard.ts', import.meta.url).href)};
const line = '192.0.2.1 request failed';
const timeouts = [];
const g = await GuardedFilter.open(${JSON.stringify(filter)}, { timeZone: 'UTC' }, { lineTimeoutMs: 1000, onTimeout: (e) => timeouts.push(e.line) });
const out = { timeouts };
const t0 = performance.now();
try { out.first = (await g.matchLines([line, line, line])).length; } catch (e) { out.first = e.code; out.message = e.message; }
out.ms = Math.round(performance.now() - t0);
try { out.later = (await g.matchLines([line])).length; } catch (e) { out.later = e.code; }
await g.close();
out.abandoned = abandonedWorkers();
console.log(JSON.stringify(out));
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const answer = await new Promise<string>((resolve, reject) => {
    const limit = setTimeout(() => reject(new Error(`no answer in 60 s: ${stderr.slice(-2000)}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!stdout.includes('\n')) return;
      clearTimeout(limit);
      resolve(stdout.trim());
    });
    child.on('exit', (code) => reject(new Error(`the child exited (${code}) before answering: ${stderr.slice(-2000)}`)));
  }).finally(() => child.kill('SIGKILL'));
  const out = JSON.parse(answer) as { first: unknown; message: string; later: unknown; ms: number; timeouts: string[]; abandoned: number };
  assert.equal(out.first, 'WARDEN_FILTER_STUCK', answer);
  assert.match(out.message, /filter compiler-stuck is disabled: a line ran past its 1000 ms limit and its worker did not stop within 2000 ms/u);
  // The line is reported as any line that ran too long; what is queued or sent later is refused at once.
  assert.deepEqual(out.timeouts, ['192.0.2.1 request failed']);
  assert.equal(out.later, 'WARDEN_FILTER_STUCK');
  assert.equal(out.abandoned, 1);
  // Found running on two checks (1-2 s), then 2 s for the worker to stop: well within 30 s on any machine.
  assert.ok(out.ms < 30_000, `answered after ${out.ms} ms`);
});
