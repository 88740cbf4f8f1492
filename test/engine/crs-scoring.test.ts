/**
 * Anomaly scoring end to end on the real OWASP CRS v4 (../shared/crs): detection rules add
 * to the inbound score, 949110 blocks at the threshold, and exclusions and thresholds behave
 * as CRS users configure them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Waf } from '../../src/engine/index.js';
import { sharedSuite } from '../support/shared.js';
import { runRequest } from '../support/request.js';

const crs = sharedSuite('crs');
const browser: Array<[string, string]> = [
  ['Host', 'blog.example.com'],
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
  ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
  ['Accept-Language', 'en-US,en;q=0.5'],
  ['Accept-Encoding', 'gzip, deflate, br'],
];

/** CRS v4 with its example setup, and extra directives before it (setup overrides, exclusions). */
function loadCrs(before = ''): Waf {
  const dir = crs as string;
  const text = `${before}\nInclude ${join(dir, 'crs-setup.conf.example')}\nInclude ${join(dir, 'rules')}/*.conf\n`;
  return Waf.fromText(text, { file: join(dir, 'warden-test.conf') });
}

const skip = crs === null ? 'CRS not found in ../shared (outside CI)' : false;
const waf = crs === null ? null : loadCrs();

test('CRS: a benign browser request passes with a zero score', { skip }, async () => {
  const r = await runRequest(waf as Waf, { uri: '/2024/05/hello-world/?replytocom=12', headers: browser });
  assert.equal(r.interruption, null);
  assert.equal(r.tx.tx.get('blocking_inbound_anomaly_score')?.value, '0');
  assert.deepEqual(r.logged, []);
});

test('CRS: SQL injection scores and 949110 blocks with 403', { skip }, async () => {
  const r = await runRequest(waf as Waf, { uri: "/?id=1'%20or%201=1--", headers: browser });
  assert.equal(r.interruption?.ruleId, 949110);
  assert.equal(r.interruption?.status, 403);
  assert.ok(r.logged.includes(942100), `942100 in ${r.logged.join(',')}`);
  assert.ok(Number(r.tx.tx.get('blocking_inbound_anomaly_score')?.value) >= 5);
  const sqli = r.tx.matches.find((m) => m.ruleId === 942100);
  assert.match(sqli?.data ?? '', /Matched Data: \S+ found within ARGS:id/);
});

test('CRS: XSS in a POST form body is detected', { skip }, async () => {
  const r = await runRequest(waf as Waf, {
    method: 'POST',
    uri: '/wp-comments-post.php',
    headers: [...browser, ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', '44']],
    body: 'comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E&x=1',
  });
  assert.equal(r.interruption?.ruleId, 949110);
  assert.ok(r.logged.includes(941100));
  assert.equal(r.tx.reqbodyProcessor, 'URLENCODED');
});

test('CRS: a path traversal in the URL is detected', { skip }, async () => {
  const r = await runRequest(waf as Waf, { uri: '/download?file=../../../../etc/passwd', headers: browser });
  assert.equal(r.interruption?.ruleId, 949110);
  assert.ok(r.logged.includes(930100) || r.logged.includes(930110));
  assert.ok(r.logged.includes(930120));
});

test('CRS: a ctl exclusion before CRS removes one argument from one rule', { skip }, async () => {
  const excluding = loadCrs(
    'SecRule REQUEST_FILENAME "@streq /search" "id:1000,phase:1,pass,nolog,ctl:ruleRemoveTargetById=942100;ARGS:q"',
  );
  const r = await runRequest(excluding, { uri: "/search?q=1'%20or%201=1--", headers: browser });
  assert.ok(!r.logged.includes(942100), `942100 should be excluded: ${r.logged.join(',')}`);
  const elsewhere = await runRequest(excluding, { uri: "/other?q=1'%20or%201=1--", headers: browser });
  assert.ok(elsewhere.logged.includes(942100));
});

test('CRS: a higher inbound threshold lets a single critical match through (logged, not blocked)', { skip }, async () => {
  const lenient = loadCrs(
    'SecAction "id:900110,phase:1,pass,nolog,setvar:tx.inbound_anomaly_score_threshold=10,setvar:tx.outbound_anomaly_score_threshold=4"',
  );
  const r = await runRequest(lenient, { uri: "/?id=1'%20or%201=1--", headers: browser });
  assert.equal(r.interruption, null);
  assert.ok(r.logged.includes(942100));
  assert.ok(!r.logged.includes(949110));
});

test('CRS: DetectionOnly logs the block decision without stopping the request', { skip }, async () => {
  const detect = loadCrs('SecRuleEngine DetectionOnly');
  const r = await runRequest(detect, { uri: "/?id=1'%20or%201=1--", headers: browser });
  assert.equal(r.interruption, null);
  const m = r.tx.matches.find((x) => x.ruleId === 949110);
  assert.ok(m !== undefined && !m.intercepted);
});
