/**
 * Every metric family the issue asks for exists on a real `warden start` and moves with what
 * causes it: requests by listener/route/verdict/status, blocks by rule and tag, the anomaly
 * score histogram, WAF time per phase, upstream latency, body-processor errors, bans active,
 * bans and unbans by jail, lines read and matched per jail source (a log file and the WAF),
 * and log write errors (the error log is /dev/full: every write fails with ENOSPC).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { send, startUpstream } from '../proxy/support.js';
import { parseExposition, sampleSum, sampleValue, type Family } from './exposition.js';
import { call, eventually, freePort, startWarden } from './support.js';

const root = mkdtempSync(join(tmpdir(), 'warden-families-'));
after(() => rmSync(root, { recursive: true, force: true }));

const TOKEN = 'families-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

// A CRS-like score: set to 0 in phase 1, +5 by the SQL rule, checked in phase 2 (what the
// histogram observes is TX:blocking_inbound_anomaly_score, as CRS names it).
const RULES = `SecRuleEngine On
SecRequestBodyAccess On
SecAction "id:900,phase:1,nolog,pass,setvar:tx.blocking_inbound_anomaly_score=0"
SecRule REQUEST_HEADERS:Content-Type "@beginsWith application/json" "id:10,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:11,phase:2,deny,status:400,log,msg:'body does not parse',tag:'protocol'"
SecRule ARGS "@contains union select" "id:1001,phase:2,pass,log,msg:'SQL words',tag:'attack-sqli',tag:'paranoia-level/1',t:urlDecodeUni,t:lowercase,setvar:tx.blocking_inbound_anomaly_score=+5"
SecRule TX:blocking_inbound_anomaly_score "@ge 5" "id:949110,phase:2,deny,status:403,log,msg:'score',tag:'anomaly-evaluation'"
`;

type Exposition = Map<string, Family>;

test('every metric family exists and moves with its cause', { skip: existsSync('/dev/full') ? false : 'no /dev/full' }, async () => {
  const upstream = await startUpstream((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.end('ok'), 20));
  });
  const dir = join(root, 'w');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rules.conf'), RULES);
  const authLog = join(dir, 'auth.log');
  writeFileSync(authLog, '');
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    `listeners: [{ name: front, host: 127.0.0.1, port: 0 }]
upstreams: [{ name: blog, url: "${upstream.url}" }]
proxy: { trustedProxies: [127.0.0.1] }
rules: { baseline: false, files: [rules.conf] }
dataDir: data
workers: 2
logs: { error: /dev/full }
admin: { host: 127.0.0.1, port: ${await freePort()}, token: "${TOKEN}" }
jails:
  waf: { when: { tags: [attack-sqli] }, maxRetry: 2, findTime: 10m, banTime: 1h }
  sshd: { source: file, files: [${authLog}], filter: warden-sshd, maxRetry: 2, findTime: 10m, banTime: 1h }
`,
  );
  const w = await startWarden(config);
  try {
    const scrape = async (): Promise<Exposition> => parseExposition((await call(`${w.admin}metrics`, { headers: auth })).text);
    const before = await scrape();
    for (const name of [
      'warden_requests_total',
      'warden_blocks_total',
      'warden_block_tags_total',
      'warden_rule_matches_total',
      'warden_anomaly_score',
      'warden_waf_phase_seconds',
      'warden_upstream_response_seconds',
      'warden_body_processor_errors_total',
      'warden_bans_active',
      'warden_bans_total',
      'warden_unbans_total',
      'warden_jail_lines_read_total',
      'warden_jail_lines_matched_total',
      'warden_log_write_errors_total',
      'warden_log_records_dropped_total',
      'warden_workers',
      'warden_build_info',
    ]) {
      assert.ok(before.has(name), `${name} is exposed`);
    }
    assert.equal(before.get('warden_anomaly_score')?.type, 'histogram');
    assert.equal(before.get('warden_waf_phase_seconds')?.type, 'histogram');
    assert.equal(before.get('warden_upstream_response_seconds')?.type, 'histogram');
    assert.equal(sampleValue(before, 'warden_jail_lines_read_total', { jail: 'sshd', source: 'file' }), 0);
    assert.equal(sampleValue(before, 'warden_log_write_errors_total'), 0);

    const proxy = `http://127.0.0.1:${w.port}`;
    const from = (client: string) => ({ 'x-forwarded-for': client, 'user-agent': 'families' });
    for (let i = 0; i < 6; i++) assert.equal((await send(`${proxy}/p/${i}`, { headers: from('198.51.100.1') })).status, 200);
    const attacker = '203.0.113.5';
    for (let i = 0; i < 2; i++) assert.equal((await send(`${proxy}/s?q=union%20select%20${i}`, { headers: from(attacker) })).status, 403);
    for (let i = 0; i < 2; i++) {
      const bad = await send(`${proxy}/api`, { method: 'POST', headers: { ...from('192.0.2.8'), 'content-type': 'application/json' }, body: '{"x": [' });
      assert.equal(bad.status, 400);
    }
    // The log file: 3 lines, 2 of them failures of one address (a ban), 1 not a failure.
    const stamp = new Date().toString().split(' ').slice(1, 4);
    const time = `${stamp[0]} ${stamp[1]?.padStart(2, ' ')} ${new Date().toTimeString().slice(0, 8)}`;
    appendFileSync(authLog, `${time} host sshd[201]: Failed password for root from 198.51.100.77 port 4242 ssh2\n`);
    appendFileSync(authLog, `${time} host sshd[202]: Accepted publickey for admin from 192.0.2.1 port 50000 ssh2: ED25519 SHA256:x\n`);
    appendFileSync(authLog, `${time} host sshd[203]: Failed password for root from 198.51.100.77 port 4243 ssh2\n`);
    await eventually(async () => ((await send(`${proxy}/after`, { headers: from(attacker) })).status === 403 ? true : undefined), 10_000, 'the WAF ban');

    const m = await eventually(async () => {
      const s = await scrape();
      return sampleValue(s, 'warden_bans_total', { jail: 'sshd' }) === 1 && sampleSum(s, 'warden_requests_total', { verdict: 'banned' }) >= 1 && sampleValue(s, 'warden_anomaly_score_count') >= 10 ? s : undefined;
    }, 15_000, 'the traffic and the log lines in the metrics');
    const label = { listener: 'front', route: '*/' };
    assert.ok(sampleValue(m, 'warden_requests_total', { ...label, verdict: 'pass', status: '200' }) >= 6);
    assert.equal(sampleValue(m, 'warden_requests_total', { ...label, verdict: 'deny', status: '403' }), 2);
    assert.equal(sampleValue(m, 'warden_requests_total', { ...label, verdict: 'deny', status: '400' }), 2);
    assert.ok(sampleValue(m, 'warden_requests_total', { listener: 'front', route: 'none', verdict: 'banned', status: '403' }) >= 1);
    assert.equal(sampleValue(m, 'warden_blocks_total', { rule_id: '949110' }), 2);
    assert.equal(sampleValue(m, 'warden_blocks_total', { rule_id: '11' }), 2);
    assert.equal(sampleValue(m, 'warden_block_tags_total', { tag: 'attack-sqli' }), 2);
    assert.equal(sampleValue(m, 'warden_block_tags_total', { tag: 'anomaly-evaluation' }), 2);
    assert.equal(sampleValue(m, 'warden_block_tags_total', { tag: 'protocol' }), 2);
    assert.equal(sampleValue(m, 'warden_rule_matches_total', { rule_id: '1001' }), 2);
    // The score of every transaction that ran the rules: 0 for the others, 5 for the two attacks.
    const scored = sampleValue(m, 'warden_anomaly_score_count');
    assert.equal(sampleValue(m, 'warden_anomaly_score_sum'), 10);
    assert.equal(sampleValue(m, 'warden_anomaly_score_bucket', { le: '4' }), scored - 2, 'all but the attacks score under 5');
    assert.equal(sampleValue(m, 'warden_anomaly_score_bucket', { le: '+Inf' }), scored);
    for (const phase of ['1', '2', '5']) {
      assert.ok(sampleValue(m, 'warden_waf_phase_seconds_count', { phase }) >= 10, `phase ${phase} timed`);
      assert.ok(sampleValue(m, 'warden_waf_phase_seconds_sum', { phase }) > 0);
    }
    assert.equal(sampleValue(m, 'warden_upstream_response_seconds_count', { upstream: 'blog' }), sampleValue(m, 'warden_requests_total', { ...label, verdict: 'pass', status: '200' }));
    assert.ok(sampleValue(m, 'warden_upstream_response_seconds_sum', { upstream: 'blog' }) >= 0.02 * 6, 'the upstream answers after 20 ms');
    assert.equal(sampleValue(m, 'warden_upstream_response_seconds_bucket', { upstream: 'blog', le: '0.005' }), 0, 'none faster than the upstream waits');
    assert.equal(sampleValue(m, 'warden_body_processor_errors_total', { processor: 'JSON' }), 2);
    assert.equal(sampleValue(m, 'warden_bans_active', { jail: 'waf' }), 1);
    assert.equal(sampleValue(m, 'warden_bans_active', { jail: 'sshd' }), 1);
    assert.equal(sampleValue(m, 'warden_bans_total', { jail: 'waf' }), 1);
    assert.equal(sampleValue(m, 'warden_jail_lines_read_total', { jail: 'sshd', source: 'file' }), 3);
    assert.equal(sampleValue(m, 'warden_jail_lines_matched_total', { jail: 'sshd', source: 'file' }), 2);
    // Workers send only the events some WAF jail's condition can count: the two attacks, not the 400s.
    assert.equal(sampleValue(m, 'warden_jail_lines_read_total', { jail: 'waf', source: 'waf' }), 2);
    assert.equal(sampleValue(m, 'warden_jail_lines_matched_total', { jail: 'waf', source: 'waf' }), 2);
    // Every blocked request writes an error-log line; /dev/full refuses each one.
    const errors = await eventually(async () => {
      const v = sampleValue(await scrape(), 'warden_log_write_errors_total');
      return v >= 4 ? v : undefined;
    }, 10_000, 'log write errors');
    assert.ok(errors >= 4, `${errors} failed writes`);

    // An unban moves the unbans counter and the active gauge.
    assert.equal((await call(`${w.admin}api/bans/198.51.100.77?jail=sshd`, { method: 'DELETE', headers: auth })).status, 200);
    const after1 = await scrape();
    assert.equal(sampleValue(after1, 'warden_unbans_total', { jail: 'sshd', reason: 'manual' }), 1);
    assert.equal(sampleValue(after1, 'warden_bans_active', { jail: 'sshd' }), 0);
  } finally {
    await w.stop();
    await upstream.close();
  }
});
