/**
 * Jail sources: log files followed through rotation, truncation and late creation; WAF
 * events matched against jail conditions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FileSource } from '../../src/jail/sources/file.js';
import { matchesWafCondition, WafSource } from '../../src/jail/sources/waf.js';
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
