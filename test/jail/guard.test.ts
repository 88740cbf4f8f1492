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
