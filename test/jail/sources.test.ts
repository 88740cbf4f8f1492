/**
 * Jail sources: log files followed through rotation, truncation and late creation; WAF
 * events matched against jail conditions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FileSource } from '../../src/jail/sources/file.js';
import { JournalSource } from '../../src/jail/sources/journal.js';
import { matchesWafCondition, matchesWafOutcome, WafSource } from '../../src/jail/sources/waf.js';
import type { WafEvent } from '../../src/engine/events.js';
import { Waf } from '../../src/engine/index.js';
import { wafEvent } from '../../src/engine/events.js';
import { runRequest } from '../support/request.js';

function collect(): { lines: string[]; push: (l: string) => void } {
  const lines: string[] = [];
  return { lines, push: (l) => void lines.push(l) };
}

test('a file is followed from its end; existing lines are skipped unless fromStart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tail-'));
  const log = join(dir, 'access.log');
  writeFileSync(log, 'old 1\nold 2\n');
  const tail = collect();
  const src = new FileSource([log], tail.push);
  await src.start();
  appendFileSync(log, 'new 1\nnew 2\npart');
  await src.poll();
  assert.deepEqual(tail.lines, ['new 1', 'new 2']);
  appendFileSync(log, 'ial\r\n');
  await src.poll();
  assert.deepEqual(tail.lines, ['new 1', 'new 2', 'partial']);
  await src.stop();
  const all = collect();
  const from = new FileSource([log], all.push, { fromStart: true });
  await from.start();
  assert.deepEqual(all.lines, ['old 1', 'old 2', 'new 1', 'new 2', 'partial']);
  await from.stop();
});

test('rotation: the old file is read to its end, then the new one from its start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tail-'));
  const log = join(dir, 'access.log');
  writeFileSync(log, '');
  const tail = collect();
  const src = new FileSource([log], tail.push);
  await src.start();
  appendFileSync(log, 'a\n');
  await src.poll();
  appendFileSync(log, 'b (written just before the move)\n');
  renameSync(log, `${log}.1`);
  appendFileSync(`${log}.1`, 'c (late write to the rotated file)\n');
  writeFileSync(log, 'd (new file)\n');
  await src.poll();
  assert.deepEqual(tail.lines, ['a', 'b (written just before the move)', 'c (late write to the rotated file)', 'd (new file)']);
  await src.stop();
});

test('copytruncate: a file emptied in place is read again from the start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tail-'));
  const log = join(dir, 'error.log');
  writeFileSync(log, 'x'.repeat(100) + '\n');
  const tail = collect();
  const src = new FileSource([log], tail.push);
  await src.start();
  truncateSync(log, 0);
  appendFileSync(log, 'after truncate\n');
  await src.poll();
  assert.deepEqual(tail.lines, ['after truncate']);
  await src.stop();
});

test('globs pick up files that appear later (read from their start, as UTF-8 text)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tail-'));
  const tail = collect();
  const src = new FileSource([join(dir, 'site-*.log')], tail.push);
  await src.start();
  writeFileSync(join(dir, 'site-a.log'), 'café crème\n');
  writeFileSync(join(dir, 'other.log'), 'not followed\n');
  await src.poll();
  assert.deepEqual(tail.lines, ['café crème']);
  await src.stop();
});

const event = (over: Partial<WafEvent>): WafEvent => ({
  id: 'X', time: 0, clientAddress: '203.0.113.9', method: 'POST', host: 'blog', uri: '/xmlrpc.php', status: 400, blocked: true,
  action: 'deny', ruleId: 200002, ruleIds: [200002], tags: ['OWASP_CRS', 'attack-protocol'], anomalyScore: 0, bodyError: true, userAgent: 'PHP/5.2.10',
  ...over,
});

test('WAF conditions: every given field must hold; lists hold when any item does', () => {
  assert.equal(matchesWafCondition({}, event({})), true);
  assert.equal(matchesWafCondition({ blocked: true, status: [400, 403] }, event({})), true);
  assert.equal(matchesWafCondition({ blocked: true }, event({ blocked: false })), false);
  assert.equal(matchesWafCondition({ ruleIds: [949110, 200002] }, event({})), true);
  assert.equal(matchesWafCondition({ tags: ['attack-*'] }, event({})), true);
  assert.equal(matchesWafCondition({ tags: ['attack-sqli'] }, event({})), false);
  assert.equal(matchesWafCondition({ minScore: 5 }, event({ anomalyScore: 10 })), true);
  assert.equal(matchesWafCondition({ minScore: 5, bodyError: true }, event({ anomalyScore: 3 })), false);
});

test('WAF conditions: the outcome alone (blocked, body error, status) decides as the whole event would on those fields', () => {
  const conditions = [{}, { blocked: true }, { blocked: false }, { bodyError: true }, { status: [400, 403] }, { blocked: true, status: [403] }, { blocked: true, bodyError: false }];
  const outcomes = [
    { blocked: true, bodyError: false, status: 403 },
    { blocked: false, bodyError: false, status: 200 },
    { blocked: true, bodyError: true, status: 400 },
    { blocked: false, bodyError: true, status: 200 },
  ];
  for (const c of conditions) {
    for (const o of outcomes) {
      assert.equal(matchesWafOutcome(c, o.blocked, o.bodyError, o.status), matchesWafCondition(c, event(o)), JSON.stringify([c, o]));
    }
  }
  // The default jail (blocked: true) counts no request that was let through.
  assert.equal(matchesWafOutcome({ blocked: true }, false, false, 200), false);
});

test('WAF source: a real blocked transaction becomes a failure of its client', async () => {
  const waf = Waf.fromText('SecRuleEngine On\nSecRule REQUEST_HEADERS:User-Agent "@beginsWith PHP/" "id:5,phase:1,deny,status:403,tag:scanner"');
  const r = await runRequest(waf, { headers: [['Host', 'blog'], ['User-Agent', 'PHP/5.2.10']], remoteAddr: '198.51.100.23' });
  const failures: Array<[string, string]> = [];
  const src = new WafSource([{ jail: 'scanners', condition: { tags: ['scanner'] } }, { jail: 'other', condition: { ruleIds: [1] } }], (j, f) =>
    failures.push([j, f.address]),
  );
  src.handle(wafEvent(r.tx, 200));
  assert.deepEqual(failures, [['scanners', '198.51.100.23']]);
  const e = wafEvent(r.tx, 200);
  assert.deepEqual([e.status, e.blocked, e.ruleId, e.userAgent], [403, true, 5, 'PHP/5.2.10']);
});

const journalRemote = '/usr/lib/systemd/systemd-journal-remote';

test('journal: entries appended to a real journal file reach the source through journalctl --follow', {
  skip: existsSync(journalRemote) ? false : process.env.CI === 'true' ? false : 'systemd-journal-remote not installed',
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-journal-'));
  const file = join(dir, 'test.journal');
  // journalctl --follow follows the current boot: entries carry this machine's boot id.
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replace(/-/g, '');
  const write = (unit: string, message: string, seconds: number): void => {
    const entry = `__REALTIME_TIMESTAMP=${seconds * 1_000_000}\n_BOOT_ID=${boot}\n_HOSTNAME=h\n_SYSTEMD_UNIT=${unit}\nMESSAGE=${message}\n\n`;
    execFileSync(journalRemote, ['-o', file, '-'], { input: entry, stdio: ['pipe', 'ignore', 'ignore'] });
  };
  write('ssh.service', 'before start (not read)', 1_764_000_000);
  const seen: Array<[string, number]> = [];
  const src = new JournalSource((line, time) => seen.push([line, time]), { match: '_SYSTEMD_UNIT=ssh.service', args: [`--file=${file}`] });
  src.start();
  await new Promise((r) => setTimeout(r, 1000));
  write('ssh.service', 'Failed password for root from 203.0.113.9 port 22 ssh2', 1_764_000_010);
  write('cron.service', 'not matched', 1_764_000_011);
  for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  src.stop();
  assert.deepEqual(seen, [['Failed password for root from 203.0.113.9 port 22 ssh2', 1_764_000_010_000]]);
});
