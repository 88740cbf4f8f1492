/**
 * bench/side-by-side.ts runs: its smoke mode starts the upstream, nginx + ModSecurity, nginx,
 * Warden with and without the WAF, checks every scenario's status on each and prints the
 * table. Only that it runs is asserted, never a time (benchmarks are not tests). Without
 * nginx, wrk or the ModSecurity module the script skips, and so does this test; in CI it
 * fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../support/shared.js';

test('bench/side-by-side.ts --smoke starts every server, checks the statuses and prints the table', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-side-by-side-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'side-by-side.md');
  const proc = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'bench/side-by-side.ts'), '--smoke', '--out', out], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  if (code === 0 && /; skipped$/m.test(text) && process.env.CI !== 'true') {
    t.skip(text.trim());
    return;
  }
  assert.equal(code, 0, text);
  assert.ok(existsSync(out), `no table written:\n${text}`);
  const table = readFileSync(out, 'utf8');
  assert.match(table, /^\| scenario \| server \| requests\/s \| p50 \| p99 \| CPU\/request \| peak RSS \|$/m);
  for (const server of ['nginx + ModSecurity', 'nginx, no WAF', 'Warden', 'Warden, WAF off']) assert.ok(table.includes(`| ${server}`), `no row for ${server}:\n${table}`);
  assert.match(table, /\| client banned/);
  assert.doesNotMatch(table, /FAILED/);
});
