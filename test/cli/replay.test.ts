/**
 * `warden replay` as a user runs it: a HAR recording (test/fixtures/blog) through the
 * default rules, counts by rule and the refused requests listed; an audit log written by
 * Warden itself (`warden start` with a JSON audit log, real requests on loopback) replayed
 * to the same verdicts, and against other rules to show what would change; the HAR and
 * audit-log readers on the shapes exporters produce; mistakes answered with their reason.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, type Io } from '../../src/cli/main.js';
import { parseAuditLog, parseHar, readRecording, RecordingError } from '../../src/http/recorded.js';
import { startUpstream } from '../proxy/support.js';
import { sendRecorded } from '../support/recorded-client.js';

const fixtures = fileURLToPath(new URL('../fixtures/blog/', import.meta.url));
const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'warden-replay-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: () => '' };
  // No WARDEN_CONFIG from the environment: the rules are the ones the flags name.
  const code = await main(['replay', ...argv], io, {});
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface ReplayJson {
  total: number;
  passed: number;
  refused: number;
  byStatus: Record<string, number>;
  refusedBy: Array<{ id: number; count: number; msg: string }>;
  requests: Array<{ index: number; verdict: string; status: number | null; ruleId: number | null; clientAddress: string; recorded?: { status: number | null; intercepted: boolean | null; ruleIds: number[] }; notes: string[] }>;
}

test('replay of a HAR file: the benign corpus would all pass under the default rules', async () => {
  const r = await run([join(fixtures, 'benign.har')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Replayed 234 requests from .*benign\.har \(HAR\)$/m);
  assert.match(r.out, /^Rules: 5 files, \d+ rules, SecRuleEngine On$/m);
  assert.match(r.out, /^ {2}would pass {3}234$/m);
  assert.match(r.out, /^ {2}would refuse 0$/m);
  assert.doesNotMatch(r.out, /Requests that would be refused/);
});

test('replay of a HAR file: attacks counted by the rule that refuses them, each one listed', async () => {
  const r = await run([join(fixtures, 'attacks.har'), '--list', 'all']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^ {2}would refuse 22 {2}\(400: 10, 403: 9, 405: 1, 413: 1, 416: 1\)$/m);
  assert.match(r.out, /^ {3}1000010 {6}3 {2}Failed to parse request body\.$/m);
  assert.match(r.out, /^ {3}1003000 {6}3 {2}Security scanner User-Agent: %\{MATCHED_VAR\}$/m);
  assert.match(r.out, /^ {2}#1 POST \/xmlrpc\.php from 192\.0\.2\.1 → 400 by rule 1000010 {2}\(a bogus pingback: unescaped & in the source \(not XML\)\)$/m);
  assert.match(r.out, /^ {2}#18 TRACE \/ from 192\.0\.2\.1 → 405 by rule 1001000/m);
  const json = JSON.parse((await run([join(fixtures, 'attacks.har'), '--json', '--remote-addr', '203.0.113.5'])).out) as ReplayJson;
  assert.equal(json.total, 22);
  assert.equal(json.refused, 22);
  assert.ok(json.requests.every((q) => q.clientAddress === '203.0.113.5'));
  assert.deepEqual(
    json.refusedBy.map((b) => b.id).sort(),
    [1000010, 1001000, 1001010, 1001050, 1001060, 1001070, 1002011, 1002020, 1002021, 1002022, 1002031, 1003000, 1003001, 1004000, 1004001],
  );
});

test('replay lists the first refused requests only, unless asked for all', async () => {
  const r = await run([join(fixtures, 'attacks.har'), '--list', '3']);
  assert.match(r.out, /Requests that would be refused \(first 3 of 22; --list all for every one\):/);
  assert.equal(r.out.split('\n').filter((l) => /^ {2}#\d+ /.test(l)).length, 3);
});

test('replay with rules of your own: --rules replaces the default set (the baseline stays)', async () => {
  const rules = join(root, 'only-scanners.conf');
  writeFileSync(rules, 'SecRule REQUEST_HEADERS:User-Agent "@contains sqlmap" "id:9001,phase:1,deny,status:403,msg:\'sqlmap\'"\n');
  const json = JSON.parse((await run([join(fixtures, 'attacks.har'), '--rules', rules, '--json'])).out) as ReplayJson;
  // The baseline still refuses the bodies that do not parse; of the rest only sqlmap.
  assert.deepEqual(json.refusedBy.map((b) => [b.id, b.count]), [[1000010, 3], [9001, 1]]);
});

test('replay of an audit log Warden wrote: the same verdicts as live, and what other rules would change', async () => {
  const seen: string[] = [];
  const upstream = await startUpstream((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const dir = mkdtempSync(join(root, 'audit-'));
  const audit = join(dir, 'audit.log');
  // Every transaction in the audit log (the baseline logs only the relevant ones).
  writeFileSync(join(dir, 'audit-all.conf'), 'SecAuditEngine On\n');
  writeFileSync(
    join(dir, 'warden.yaml'),
    `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ url: "${upstream.url}" }]
rules: { defaults: true, files: [audit-all.conf] }
logs: { error: null, audit: audit.log, auditFormat: json }
dataDir: data
jails: {}
`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, 'start', '--config', join(dir, 'warden.yaml'), '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  proc.stderr.setEncoding('utf8').on('data', (d: string) => output.push(d));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`warden did not start:\n${output.join('')}`)), 90_000);
      let listening = 0;
      proc.stdout.setEncoding('utf8').on('data', (d: string) => {
        output.push(d);
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(d);
        if (m !== null) listening = Number(m[1]);
        if (/ rules.*; pid \d+/.test(d)) {
          clearTimeout(timer);
          resolve(listening);
        }
      });
      proc.once('exit', (code) => reject(new Error(`warden exited ${code}:\n${output.join('')}`)));
    });
    const benign = parseHar(readFileSync(join(fixtures, 'benign.har'), 'utf8'), 'benign.har').requests;
    const attacks = parseHar(readFileSync(join(fixtures, 'attacks.har'), 'utf8'), 'attacks.har').requests;
    // A slice of each, uploads included, from a few client addresses.
    const sent = [...benign.filter((_, i) => i % 6 === 0), ...attacks.filter((q) => q.method !== 'TRACE')];
    const live: number[] = [];
    for (let i = 0; i < sent.length; i++) live.push((await sendRecorded(port, sent[i] as (typeof sent)[number], { localAddress: `127.0.4.${(i % 5) + 1}` })).status);
    const refusedLive = live.filter((s) => s >= 400).length;
    assert.equal(refusedLive, attacks.length - 1, `live statuses: ${live.join(' ')}`);

    // Records are written in the background: wait until all are there.
    let records = 0;
    for (let i = 0; i < 100 && records < sent.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        records = readFileSync(audit, 'utf8').split('\n').filter((l) => l !== '').length;
      } catch {
        records = 0;
      }
    }
    assert.equal(records, sent.length, output.join(''));

    const same = JSON.parse((await run([audit, '--json'])).out) as ReplayJson;
    assert.equal(same.total, sent.length);
    assert.equal(same.refused, refusedLive);
    for (const q of same.requests) {
      assert.equal(q.verdict === 'refuse', q.recorded?.intercepted, `record ${q.index}: replayed ${q.verdict}, recorded ${JSON.stringify(q.recorded)}`);
      if (q.verdict === 'refuse') assert.equal(q.status, q.recorded?.status);
      assert.match(q.clientAddress, /^127\.0\.4\.[1-5]$/, 'the client address comes from the record');
    }
    // Multipart uploads come back without their files (the audit log keeps only the fields).
    assert.ok(same.requests.some((q) => q.notes.some((n) => n.startsWith('multipart body not in the audit log'))));

    const text = await run([audit]);
    assert.match(text.out, /\(JSON audit log\)/);
    assert.match(text.out, /^Verdicts that differ from the audit log: 0$/m);

    // The same traffic under other rules: what would have changed.
    const lenient = join(dir, 'lenient.conf');
    writeFileSync(lenient, '# nothing of my own yet\n');
    const other = await run([audit, '--rules', lenient]);
    assert.match(other.out, new RegExp(`^Verdicts that differ from the audit log: ${refusedLive - 3}$`, 'm'));
    assert.match(other.out, /^ {2}#\d+ GET \/\?s=1%27\+union\S* from 127\.0\.4\.\d → pass {2}\(\w+\); recorded: refused 403$/m);
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    await upstream.close();
  }
});

test('HAR readers: HTTP/2 pseudo-headers, a form kept only as params, binary bodies in base64', () => {
  const har = {
    log: {
      entries: [
        {
          request: {
            method: 'POST',
            url: 'https://blog.example.org/wp-login.php?x=1#frag',
            httpVersion: 'h2',
            headers: [
              { name: ':authority', value: 'blog.example.org' },
              { name: ':method', value: 'POST' },
              { name: 'content-type', value: 'application/x-www-form-urlencoded' },
            ],
            postData: { mimeType: 'application/x-www-form-urlencoded', params: [{ name: 'log', value: 'anna' }, { name: 'pwd', value: 'a b&c' }] },
          },
          response: { status: 302 },
        },
        { request: { method: 'PUT', url: '/up', headers: [], postData: { mimeType: 'image/png', text: Buffer.from([0x89, 0x50, 0xff, 0x00]).toString('base64'), encoding: 'base64' } } },
      ],
    },
  };
  const [a, b] = parseHar(JSON.stringify(har), 'x.har').requests;
  assert.deepEqual(a?.headers, [['Host', 'blog.example.org'], ['content-type', 'application/x-www-form-urlencoded'], ['Content-Length', '22']]);
  assert.equal(a?.target, '/wp-login.php?x=1');
  assert.equal(a?.protocol, 'HTTP/1.1');
  assert.equal(a?.body, 'log=anna&pwd=a%20b%26c');
  assert.deepEqual(a?.notes, ['body rebuilt from postData.params']);
  assert.equal(a?.recorded.status, 302);
  assert.equal(b?.body, '\x89\x50\xff\x00');
  assert.equal(b?.clientAddress, null);
});

test('audit-log reader: request line, headers, body bytes, what was recorded', () => {
  const record = {
    transaction: { time: '25/Nov/2026:10:00:00.000000 +0000', transaction_id: 'abc', remote_address: '203.0.113.9', remote_port: 5000, local_address: '127.0.0.1', local_port: 8080 },
    request: { request_line: 'POST /xmlrpc.php HTTP/1.1', headers: { Host: 'blog', 'Content-Type': 'text/xml' }, body: ['<methodCall>caf\u00e9'] },
    response: { protocol: 'HTTP/1.1', status: 400, headers: {} },
    audit_data: { action: { intercepted: true, phase: 2, message: 'x' } },
    matched_rules: [{ chain: false, rules: [{ actionset: { id: '1000010' } }] }],
  };
  const [r] = parseAuditLog(`${JSON.stringify(record)}\n\n`, 'audit.log').requests;
  assert.equal(r?.method, 'POST');
  assert.equal(r?.target, '/xmlrpc.php');
  assert.equal(r?.body, '<methodCall>caf\xc3\xa9', 'text back to its UTF-8 bytes');
  assert.equal(r?.clientAddress, '203.0.113.9');
  assert.deepEqual(r?.recorded, { status: 400, intercepted: true, ruleIds: [1000010] });
  assert.equal(r?.label, 'abc');
});

test('replay: mistakes are answered with what to do', async () => {
  const native = join(root, 'native-audit.log');
  writeFileSync(native, '--a1b2c3d4-A--\n[25/Nov/2026:10:00:00 +0000] abc 127.0.0.1 5000 127.0.0.1 80\n');
  assert.throws(() => readRecording(native), (e: unknown) => e instanceof RecordingError && e.code === 'WARDEN_RECORDING_FORMAT' && /set logs\.auditFormat: json/.test(e.message));
  const notHar = join(root, 'not.har');
  writeFileSync(notHar, '{"entries": []}');
  const r = await run([notHar]);
  assert.equal(r.code, 1);
  assert.equal(r.err, `${notHar}: not a HAR file (no log.entries)`);
  assert.equal((await run([join(root, 'missing.har')])).code, 1);
  const usage = await run([]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /warden replay FILE/);
  assert.equal((await run(['a', 'b'])).code, 2);
  assert.equal((await run([notHar, '--list', 'many'])).code, 2);
});
