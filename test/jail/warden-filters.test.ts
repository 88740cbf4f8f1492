/**
 * Warden's own filters (filters/warden-*.conf) on their sample logs
 * (test/fixtures/logs/<filter>), annotated as fail2ban's are (`# failJSON:` before each
 * line that must or must not match, `# filterOptions:` for the modes) and checked by the
 * same code as fail2ban's own sample logs: every annotated line must pass, in every mode,
 * and every failregex must be exercised by some line. Then Warden's error log as src/audit
 * writes it, through warden-modsecurity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../support/shared.js';
import { emptyResult, runSampleLog } from '../conformance/fail2ban.js';
import { loadFilter, wardenFilterDir } from '../../src/jail/filter/filter.js';
import { errorLogLine, interceptionSentence } from '../../src/audit/messages.js';

const filterDir = join(projectRoot, 'filters');
const logsDir = join(projectRoot, 'test/fixtures/logs');
const FILTERS = readdirSync(filterDir)
  .filter((f) => f.startsWith('warden-') && f.endsWith('.conf') && f !== 'warden-common.conf')
  .map((f) => f.slice(0, -'.conf'.length));

test('the filters folder is where loadFilter looks first', () => {
  assert.equal(wardenFilterDir, filterDir);
  assert.deepEqual(FILTERS.sort(), ['warden-apache-auth', 'warden-modsecurity', 'warden-nginx', 'warden-squid', 'warden-sshd', 'warden-wordpress']);
});

for (const name of FILTERS) {
  test(`${name}: every annotated line of its sample log, in every mode`, () => {
    const r = emptyResult();
    runSampleLog(name, filterDir, logsDir, r);
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.unusedRegexes, [], 'every failregex has a sample line');
    assert.ok(r.passed >= 15, `${r.passed} lines checked`);
  });
}

test('warden-sshd is found by name and reports the failure the way a jail needs it', () => {
  const sshd = loadFilter('warden-sshd', { now: () => 1124013600, timeZone: 'UTC' });
  const m = sshd.match('Aug 14 11:00:01 web sshd[1001]: Failed password for invalid user admin from 192.0.2.10 port 50110 ssh2');
  assert.ok(m !== null);
  assert.equal(m.id, '192.0.2.10');
  assert.equal(m.host, '192.0.2.10');
  assert.equal(m.isAddress, true);
  assert.equal(m.user, 'admin');
  assert.equal(m.time, Date.UTC(2005, 7, 14, 11, 0, 1) / 1000);
  assert.deepEqual(m.lines, ['Aug 14 11:00:01 web sshd[1001]: Failed password for invalid user admin from 192.0.2.10 port 50110 ssh2']);
});

test("warden-modsecurity reads Warden's own error log lines (src/audit)", () => {
  const flt = loadFilter('warden-modsecurity', { timeZone: 'UTC', now: () => 1764093600 });
  const cases: Array<{ addr: string; port: number; status: number; expect: string }> = [
    { addr: '203.0.113.9', port: 50123, status: 403, expect: '203.0.113.9' },
    { addr: '2001:db8::1', port: 1234, status: 400, expect: '2001:db8::1' },
    { addr: '2001:db8::9', port: 443, status: 403, expect: '2001:db8::9' },
  ];
  for (const c of cases) {
    const text = `${interceptionSentence({ action: 'deny', status: c.status, phase: 2, ruleId: 949110, url: null, message: '' } as never)} Operator GE matched 5 at TX:blocking_inbound_anomaly_score. [file "/rules/REQUEST-949-BLOCKING-EVALUATION.conf"] [line "222"] [id "949110"] [msg "Inbound Anomaly Score Exceeded"]`;
    const line = errorLogLine(
      { time: Date.UTC(2026, 10, 25, 18, 0, 0) * 1000 + 123456, pid: 4242, clientAddress: c.addr, clientPort: c.port, hostname: 'blog.example.com', uri: '/xmlrpc.php', uniqueId: 'ZK3x' },
      text,
    ).replace(/\n$/u, '');
    const m = flt.match(line);
    assert.ok(m !== null, line);
    assert.equal(m.id, c.expect, line);
    assert.equal(m.groups.rule, '949110');
    assert.equal(m.groups.uri, '/xmlrpc.php');
    assert.equal(m.groups.hostname, 'blog.example.com');
  }
  // Warnings are counted in aggressive mode only.
  const warning = errorLogLine(
    { time: Date.UTC(2026, 10, 25, 18, 0, 1) * 1000, pid: 1, clientAddress: '198.51.100.7', clientPort: 1, hostname: 'h', uri: '/', uniqueId: 'u' },
    'Warning. Pattern match "x" at ARGS:q. [id "942100"]',
  ).trimEnd();
  assert.equal(flt.match(warning), null);
  assert.equal(loadFilter('warden-modsecurity[mode=aggressive]').match(warning)?.id, '198.51.100.7');
});
