/**
 * fail2ban's own apache-modsecurity filter, run by the real `fail2ban-regex` (Debian's
 * fail2ban package; .ci/run installs it), on an error log Warden wrote: it must find every
 * blocked request, keyed on the real client address, and nothing else — not the warnings,
 * not an address a client wrote into its request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { logRun } from './helpers.js';
import { sharedSuite } from '../support/shared.js';

function fail2banRegex(): string | null {
  const probe = spawnSync('fail2ban-regex', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return 'fail2ban-regex';
  if (process.env.CI === 'true') throw new Error('fail2ban-regex is missing in CI (.ci/run installs Debian\'s fail2ban)');
  return null;
}

const tool = fail2banRegex();
const filter = sharedSuite('fail2ban/config/filter.d/apache-modsecurity.conf');

test('fail2ban-regex with apache-modsecurity.conf finds each blocked request by its real client', { skip: tool === null || filter === null ? 'fail2ban-regex or ../shared/fail2ban missing' : false }, async () => {
  // Clients reach Warden through a proxy; REMOTE_ADDR is the real client the http layer resolved.
  const via = (client: string, uri: string) => ({ uri, remoteAddr: client, headers: [['Host', 'blog.example'], ['X-Forwarded-For', `${client}, 10.0.0.1`]] as const });
  const forged = encodeURIComponent('x"] [client 198.51.100.66] ModSecurity: Access denied with code 403 (phase 2).');
  const r = await logRun({
    rules: String.raw`SecRule ARGS "@rx (?i)union\s+select" "id:942100,phase:2,deny,status:403,log,msg:'SQL Injection Attack Detected',logdata:'Matched Data: %{MATCHED_VAR}',severity:CRITICAL,tag:'attack-sqli'"
      SecRule REQUEST_FILENAME "@endsWith /xmlrpc.php" "id:1100,phase:1,deny,status:400,log,msg:'pingback'"
      SecRule ARGS_NAMES "@rx ." "id:1200,phase:1,pass,log,msg:'argument seen'"`,
    requests: [
      via('203.0.113.9', '/?q=1%20union%20select%20password%20from%20users'),
      via('203.0.113.9', '/xmlrpc.php'),
      via('198.51.100.7', '/?id=2%20UNION%20SELECT%201'),
      via('203.0.113.9', '/?q=union%20select'),
      // Warnings only: a forged "[client …] Access denied" in an argument name and value.
      via('192.0.2.44', `/?${forged}=${forged}`),
      via('192.0.2.45', '/?harmless=1'),
    ],
  });
  const log = join(r.dir, 'error.log');
  const run = spawnSync(tool as string, ['-o', 'ip', log, filter as string], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const hosts = run.stdout.trim().split('\n');
  assert.deepEqual(hosts, ['203.0.113.9', '203.0.113.9', '198.51.100.7', '203.0.113.9']);

  // The summary: four blocked requests and five warnings read, the date understood on each line.
  const summary = spawnSync(tool as string, [log, filter as string], { encoding: 'utf8' });
  assert.match(summary.stdout, /Failregex: 4 total/);
  assert.match(summary.stdout, /Lines: 9 lines, 0 ignored, 4 matched, 5 missed/);
  assert.match(summary.stdout, /\[9\] \{\^LN-BEG\}/);
});

const crs = sharedSuite('crs');

test('fail2ban-regex on the error log of the real CRS v4: one failure per blocked request, warnings ignored', {
  skip: tool === null || filter === null || crs === null ? 'fail2ban-regex, its filter or CRS missing' : false,
}, async () => {
  const browser = [
    ['Host', 'blog.example.com'],
    ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
    ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['Accept-Language', 'en-US,en;q=0.5'],
  ] as const;
  const r = await logRun({
    rules: `Include ${join(crs as string, 'crs-setup.conf.example')}\nInclude ${join(crs as string, 'rules')}/*.conf`,
    requests: [
      { uri: "/?id=1'%20or%201=1--", headers: browser, remoteAddr: '203.0.113.9' },
      { uri: '/?q=%3Cscript%3Ealert(1)%3C/script%3E', headers: browser, remoteAddr: '198.51.100.7' },
      { uri: '/2024/05/hello-world/?replytocom=12', headers: browser, remoteAddr: '192.0.2.1' },
      // One warning (a numeric Host) without reaching the threshold.
      { uri: '/', headers: [['Host', '10.0.0.1'], ...browser.slice(1)], remoteAddr: '192.0.2.2' },
    ],
  });
  const text = r.read('error.log');
  assert.equal([...text.matchAll(/\[id "949110"\]/g)].length, 2);
  assert.ok(text.split('\n').length > 6, 'CRS logs its detections as warnings before 949110');
  const run = spawnSync(tool as string, ['-o', 'ip', join(r.dir, 'error.log'), filter as string], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(run.stdout.trim().split('\n'), ['203.0.113.9', '198.51.100.7']);
});
