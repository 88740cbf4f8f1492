/**
 * `warden filter test FILTER LOG` as a user runs it: the counts line, --print-matched with
 * the address and time of each match, --print-missed, and the answers to mistakes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { main } from '../../src/cli/main.js';

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: () => '' });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'warden-cli-filter-'));
const log = join(dir, 'error.log');
writeFileSync(
  log,
  [
    '2026/11/25 18:00:00 [error] 7#7: *1 user "bob": password mismatch, client: 192.0.2.4, server: _, request: "GET / HTTP/1.1", host: "h"',
    '2026/11/25 18:00:01 [error] 7#7: *2 open() "/var/www/x" failed (2: No such file or directory), client: 192.0.2.5, server: _',
    '# a comment line is not counted',
    '2026/11/25 18:00:02 [error] 7#7: *3 limiting requests, excess: 5.000 by zone "one", client: 2001:db8::7, server: _',
    '',
  ].join('\n'),
);

test('warden filter test: counts, matched lines with address and time, missed lines', async () => {
  const r = await run(['filter', 'test', '--timezone', 'UTC', '--print-matched', '--print-missed', 'warden-nginx', log]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const text = r.out.join('\n');
  assert.match(text, /^Lines: 3 lines, 0 ignored, 2 matched, 1 missed$/mu);
  assert.match(text, /→ 192\.0\.2\.4 at 2026-11-25T18:00:00Z \(user bob\)/u);
  assert.match(text, /→ 2001:db8::7 at 2026-11-25T18:00:02Z/u);
  assert.match(text, /^Missed lines:\n {2}2026\/11\/25 18:00:01 .*open\(\)/mu);
  assert.match(text, /^Failregex: 2 total$/mu);
});

test('warden filter test --json, a filter with options, a path', async () => {
  const r = await run(['filter', 'test', '--json', 'warden-nginx[mode=aggressive]', log]);
  const report = JSON.parse(r.out.join('\n')) as { matched: number; failregex: unknown[] };
  assert.equal(report.matched, 2);
  assert.equal(report.failregex.length, 5);
  const byPath = await run(['filter', 'test', join(process.cwd(), 'filters/warden-nginx.conf'), log]);
  assert.equal(byPath.code, 0);
});

test('warden filter test: mistakes get an answer and an exit code', async () => {
  assert.equal((await run(['filter'])).code, 2);
  assert.equal((await run(['filter', 'test', 'warden-nginx'])).code, 2);
  const missing = await run(['filter', 'test', 'no-such-filter', log]);
  assert.equal(missing.code, 1);
  assert.match(missing.err.join('\n'), /no filter named 'no-such-filter'/u);
  const nolog = await run(['filter', 'test', 'warden-nginx', join(dir, 'absent.log')]);
  assert.equal(nolog.code, 1);
  assert.match(nolog.err.join('\n'), /absent\.log/u);
  const enc = await run(['filter', 'test', '--encoding', 'ebcdic', 'warden-nginx', log]);
  assert.equal(enc.code, 2);
});
