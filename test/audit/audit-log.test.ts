/**
 * The audit log as ModSecurity v2 writes it and tools read it: which transactions are
 * recorded (SecAuditEngine, "relevant", ctl), which parts and in which order
 * (SecAuditLogParts, ctl:auditLogParts), the exact native record, the concurrent layout with
 * its index, the JSON form, masking by the sanitise actions, and records for requests Node
 * refused before the engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLOCK, logRun, parseNative, tempDir } from './helpers.js';
import { auditLogTime } from '../../src/audit/time.js';
import { createLogs } from '../../src/audit/logs.js';
import { Waf } from '../../src/engine/index.js';
import type { TestRequest } from '../support/request.js';

const SERIAL = { audit: 'audit.log' };

test('native serial record of a blocked POST, exactly as written', async () => {
  const r = await logRun({
    rules: `SecAuditEngine RelevantOnly
            SecAuditLogParts ABCFHKZ
            SecComponentSignature "OWASP_CRS/4.0.0"
            SecRule ARGS:q "@contains select" "id:942100,phase:2,deny,status:403,log,msg:'SQL Injection',severity:CRITICAL,tag:'attack-sqli'"`,
    requests: [
      {
        method: 'POST',
        uri: '/login?next=%2F',
        headers: [['Host', 'blog.example'], ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', '15']],
        body: 'q=select+1&x=2',
        remoteAddr: '203.0.113.9',
        responseHeaders: [['Content-Type', 'text/html'], ['Content-Length', '199']],
        bytesSent: 199,
      },
    ],
    logs: SERIAL,
  });
  const tx = r.txs[0];
  assert.ok(tx !== undefined);
  const text = r.read('audit.log');
  const b = /^--([0-9a-f]{8})-A--\n/.exec(text)?.[1] ?? 'missing';
  const start = tx.timestamp * 1000;
  assert.equal(
    text,
    `--${b}-A--
[${auditLogTime(start)}] ${tx.id} 203.0.113.9 40000 127.0.0.1 80
--${b}-B--
POST /login?next=%2F HTTP/1.1
Host: blog.example
Content-Type: application/x-www-form-urlencoded
Content-Length: 15

--${b}-C--
q=select+1&x=2
--${b}-F--
HTTP/1.1 403 Forbidden
Content-Type: text/html
Content-Length: 199

--${b}-H--
Message: Access denied with code 403 (phase 2). String match "select" at ARGS:q. [file "<inline>"] [line "5"] [id "942100"] [msg "SQL Injection"] [severity "CRITICAL"] [tag "attack-sqli"]
Action: Intercepted (phase 2)
Apache-Handler: proxy-server
Stopwatch: ${start} ${Math.max(0, Math.round(CLOCK - start))} (- - -)
Producer: Warden/0.1.0; OWASP_CRS/4.0.0.
Server: Warden/0.1.0
Engine-Mode: "ENABLED"

--${b}-K--
SecRule "ARGS:q" "@contains select" "id:942100,phase:2,deny,status:403,log,msg:'SQL Injection',severity:CRITICAL,tag:'attack-sqli'"

--${b}-Z--

`,
  );
});

interface PartsCase {
  readonly name: string;
  readonly rules: string;
  readonly request: TestRequest;
  /** The part letters written, in order. */
  readonly parts: string;
}

const form = { method: 'POST', uri: '/f', headers: [['Host', 'a'], ['Content-Type', 'application/x-www-form-urlencoded']], body: 'a=1&b=2' } as const;
const multipart = {
  method: 'POST',
  uri: '/upload',
  headers: [['Host', 'a'], ['Content-Type', 'multipart/form-data; boundary=XX']],
  body: '--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\n1 2\r\n--XX\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\nContent-Type: text/plain\r\n\r\nfile content\r\n--XX--\r\n',
} as const;
const page = { status: 200, headers: [['Content-Type', 'text/html']], body: '<p>hi</p>' } as const;

const partsCases: PartsCase[] = [
  { name: 'A and Z are always written', rules: 'SecAuditLogParts Z', request: {}, parts: 'AZ' },
  { name: 'ABZ', rules: 'SecAuditLogParts ABZ', request: form, parts: 'ABZ' },
  { name: 'the default ABCFHZ on a GET: no body, no C', rules: '', request: {}, parts: 'ABFHZ' },
  { name: 'the default ABCFHZ on a POST', rules: '', request: form, parts: 'ABCFHZ' },
  { name: 'C only with request body access', rules: 'SecRequestBodyAccess Off', request: form, parts: 'ABFHZ' },
  { name: 'D and G are reserved: never written', rules: 'SecAuditLogParts ABDGFHZ', request: form, parts: 'ABFHZ' },
  { name: 'I stands for C when the body is not multipart', rules: 'SecAuditLogParts ABIFHZ', request: form, parts: 'ABCFHZ' },
  { name: 'I and J for a multipart body, in v2 order', rules: 'SecAuditLogParts ABCIJFEHKZ', request: multipart, parts: 'ABCIFHJKZ' },
  { name: 'E when the response body was inspected', rules: 'SecResponseBodyAccess On\nSecAuditLogParts ABEFHZ', request: { response: page }, parts: 'ABFEHZ' },
  {
    name: 'no E when the type is not inspected',
    rules: 'SecResponseBodyAccess On\nSecAuditLogParts ABEFHZ',
    request: { response: { status: 200, headers: [['Content-Type', 'application/json']], body: '{}' } },
    parts: 'ABFHZ',
  },
  { name: 'ctl:auditLogParts=+E adds a part for this transaction', rules: 'SecResponseBodyAccess On\nSecAction "id:1,phase:1,pass,nolog,ctl:auditLogParts=+EK"', request: { response: page }, parts: 'ABFEHKZ' },
  { name: 'ctl:auditLogParts=-B removes one', rules: 'SecAction "id:1,phase:1,pass,nolog,ctl:auditLogParts=-BF"', request: form, parts: 'ACHZ' },
  { name: 'ctl:auditLogParts=ABZ replaces them', rules: 'SecAction "id:1,phase:1,pass,nolog,ctl:auditLogParts=ABZ"', request: form, parts: 'ABZ' },
];

for (const c of partsCases) {
  test(`audit parts: ${c.name}`, async () => {
    const r = await logRun({ rules: `SecAuditEngine On\n${c.rules}`, requests: [c.request], logs: SERIAL });
    const records = parseNative(r.read('audit.log'));
    assert.equal(records.length, 1);
    assert.equal(records[0]?.parts.map(([p]) => p).join(''), c.parts);
  });
}

test('audit parts: E, I and J hold what v2 writes', async () => {
  const r = await logRun({
    rules: 'SecAuditEngine On\nSecResponseBodyAccess On\nSecAuditLogParts ABCIJFEHZ',
    requests: [multipart, { response: page }],
    logs: SERIAL,
  });
  const [up, get] = parseNative(r.read('audit.log'));
  assert.equal(up?.part('I'), 'a=1+2');
  assert.equal(up?.part('J'), '2,12,"x.txt","text/plain"\nTotal,12\n');
  assert.equal(up?.part('C'), `${multipart.body}`);
  assert.equal(get?.part('E'), '<p>hi</p>');
  assert.match(get?.part('H') ?? '', /^Response-Body-Transformed: Dechunked$/m);
});

interface EngineCase {
  readonly name: string;
  readonly rules: string;
  readonly request?: TestRequest;
  readonly status?: number;
  readonly recorded: boolean;
}

const hit = (actions: string) => `SecRule ARGS:q "@streq x" "id:100,phase:1,${actions}"`;
const engineCases: EngineCase[] = [
  { name: 'Off: nothing, even for a blocked request', rules: `SecAuditEngine Off\n${hit('deny,log')}`, request: { uri: '/?q=x' }, recorded: false },
  { name: 'On: every transaction', rules: 'SecAuditEngine On', recorded: true },
  { name: 'RelevantOnly: not a clean request', rules: 'SecAuditEngine RelevantOnly', recorded: false },
  { name: 'RelevantOnly: a warning is relevant', rules: `SecAuditEngine RelevantOnly\n${hit('pass,log')}`, request: { uri: '/?q=x' }, recorded: true },
  { name: 'RelevantOnly: a deny is relevant', rules: `SecAuditEngine RelevantOnly\n${hit('deny,log')}`, request: { uri: '/?q=x' }, recorded: true },
  { name: 'RelevantOnly: noauditlog makes a match irrelevant', rules: `SecAuditEngine RelevantOnly\n${hit('pass,log,noauditlog')}`, request: { uri: '/?q=x' }, recorded: false },
  { name: 'RelevantOnly: nolog implies noauditlog', rules: `SecAuditEngine RelevantOnly\n${hit('deny,nolog')}`, request: { uri: '/?q=x' }, recorded: false },
  { name: 'RelevantOnly: nolog,auditlog is relevant', rules: `SecAuditEngine RelevantOnly\n${hit('pass,nolog,auditlog')}`, request: { uri: '/?q=x' }, recorded: true },
  { name: 'RelevantOnly: a status matching SecAuditLogRelevantStatus', rules: 'SecAuditEngine RelevantOnly\nSecAuditLogRelevantStatus "^(?:5|4(?!04))"', status: 503, recorded: true },
  { name: 'RelevantOnly: a status not matching it', rules: 'SecAuditEngine RelevantOnly\nSecAuditLogRelevantStatus "^(?:5|4(?!04))"', status: 404, recorded: false },
  {
    name: 'RelevantOnly: the engine refusing a body over its limit',
    rules: 'SecAuditEngine RelevantOnly\nSecRequestBodyLimit 4',
    request: { method: 'POST', uri: '/', headers: [['Host', 'a'], ['Content-Length', '10']], body: '0123456789' },
    recorded: true,
  },
  { name: 'ctl:auditEngine=On turns it on for one transaction', rules: `SecAuditEngine Off\n${hit('pass,nolog,ctl:auditEngine=On')}`, request: { uri: '/?q=x' }, recorded: true },
  { name: 'ctl:auditEngine=Off turns it off', rules: `SecAuditEngine On\n${hit('pass,nolog,ctl:auditEngine=Off')}`, request: { uri: '/?q=x' }, recorded: false },
  {
    name: 'ctl:auditEngine=RelevantOnly then a relevant match',
    rules: `SecAuditEngine Off\n${hit('pass,nolog,ctl:auditEngine=RelevantOnly')}\nSecRule ARGS:q "@streq x" "id:101,phase:2,pass,log"`,
    request: { uri: '/?q=x' },
    recorded: true,
  },
];

for (const c of engineCases) {
  test(`SecAuditEngine: ${c.name}`, async () => {
    const r = await logRun({ rules: c.rules, requests: [{ ...(c.request ?? {}), status: c.status }], logs: SERIAL });
    assert.equal(parseNative(r.read('audit.log')).length, c.recorded ? 1 : 0);
  });
}

test('part H: nolog,auditlog messages are in the audit log but not the error log', async () => {
  const r = await logRun({
    rules: `SecAuditEngine RelevantOnly\n${hit('pass,nolog,auditlog,msg:quiet')}`,
    requests: [{ uri: '/?q=x' }],
    logs: { ...SERIAL, error: 'error.log' },
  });
  assert.equal(r.read('error.log'), '');
  assert.match(parseNative(r.read('audit.log'))[0]?.part('H') ?? '', /^Message: Warning\. String match "x" at ARGS:q\. \[file "<inline>"\] \[line "\d+"\] \[id "100"\] \[msg "quiet"\]$/m);
});

test('part H: DetectionOnly, sensor and web application', async () => {
  const r = await logRun({
    rules: `SecRuleEngine DetectionOnly\nSecAuditEngine On\nSecSensorId sensor-7\nSecWebAppId blog\n${hit('deny,log')}`,
    requests: [{ uri: '/?q=x' }],
    logs: SERIAL,
    options: { handler: null, server: 'nginx' },
  });
  const h = parseNative(r.read('audit.log'))[0]?.part('H') ?? '';
  assert.match(h, /^Message: Warning\. /m);
  assert.doesNotMatch(h, /^Action:|^Apache-Handler:/m);
  assert.match(h, /\nServer: nginx\nWebApp-Info: "blog" "-" "-"\nSensor-Id: "sensor-7"\nEngine-Mode: "DETECTION_ONLY"\n$/);
});

test('sanitise: arguments in the query and the body, headers by name and by match, listed in part H', async () => {
  const r = await logRun({
    rules: `SecAuditEngine On
            SecAuditLogParts ABCFHZ
            SecAction "id:1,phase:1,pass,nolog,sanitiseArg:token,sanitiseRequestHeader:Authorization,sanitiseResponseHeader:Set-Cookie"
            SecRule ARGS:password|REQUEST_HEADERS:X-Api-Key "@rx ." "id:2,phase:2,pass,log,sanitiseMatched"`,
    requests: [
      {
        method: 'POST',
        uri: '/login?token=abc%20def&keep=1',
        headers: [['Host', 'a'], ['Authorization', 'Basic Zm9vOmJhcg=='], ['X-Api-Key', 'k-123'], ['Content-Type', 'application/x-www-form-urlencoded']],
        body: 'user=bob&password=hunter%202&Token=t',
        responseHeaders: [['Set-Cookie', 'sid=1'], ['Content-Type', 'text/html']],
      },
    ],
    logs: SERIAL,
  });
  const [rec] = parseNative(r.read('audit.log'));
  assert.equal(rec?.part('B'), 'POST /login?token=*********&keep=1 HTTP/1.1\nHost: a\nAuthorization: ******************\nX-Api-Key: *****\nContent-Type: application/x-www-form-urlencoded\n');
  assert.equal(rec?.part('C'), 'user=bob&password=**********&Token=*');
  assert.equal(rec?.part('F'), 'HTTP/1.1 200 OK\nSet-Cookie: *****\nContent-Type: text/html\n');
  const h = rec?.part('H') ?? '';
  assert.match(h, /^Sanitised-Args: "token", "password", "Token"\.\nSanitised-Request-Headers: "Authorization", "X-Api-Key"\.\nSanitised-Response-Headers: "Set-Cookie"\.\n/m);
});

test('sanitise: multipart and JSON bodies have the sanitised values masked wherever they appear', async () => {
  const r = await logRun({
    rules: `SecAuditEngine On
            SecAuditLogParts ABCIFHZ
            SecRequestBodyAccess On
            SecRule REQUEST_HEADERS:Content-Type "@rx json" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
            SecAction "id:2,phase:2,pass,nolog,sanitiseArg:password,sanitiseArg:json.password"`,
    requests: [
      { method: 'POST', uri: '/m', headers: [['Host', 'a'], ['Content-Type', 'multipart/form-data; boundary=XX']], body: '--XX\r\nContent-Disposition: form-data; name="password"\r\n\r\nhunter2\r\n--XX--\r\n' },
      { method: 'POST', uri: '/j', headers: [['Host', 'a'], ['Content-Type', 'application/json']], body: '{"user":"bob","password":"hunter2"}' },
    ],
    logs: SERIAL,
  });
  const [m, j] = parseNative(r.read('audit.log'));
  assert.equal(m?.part('C'), '--XX\r\nContent-Disposition: form-data; name="password"\r\n\r\n*******\r\n--XX--\r\n');
  assert.equal(m?.part('I'), 'password=*******');
  assert.equal(j?.part('C'), '{"user":"bob","password":"*******"}');
});

test('concurrent: one file per transaction below the storage folder, then its index line', async () => {
  const r = await logRun({
    rules: `SecAuditEngine RelevantOnly
            SecAuditLogType Concurrent
            SecAuditLog index.log
            SecAuditLog2 index2.log
            SecAuditLogStorageDir $DIR/store
            SecAuditLogDirMode 0750
            SecAuditLogFileMode 0644
            ${hit('deny,log')}`,
    requests: [{ uri: '/?q=x', remoteAddr: '203.0.113.9', bytesSent: 0 }],
    logs: {},
  });
  const tx = r.txs[0];
  assert.ok(tx !== undefined);
  const file = `/20261125/20261125-1800/20261125-180000-${tx.id}`;
  const data = readFileSync(join(r.dir, 'store', file));
  const record = parseNative(data.toString('latin1'));
  assert.equal(record.length, 1);
  assert.ok(data.toString('latin1').endsWith('-Z--\n'), 'a concurrent entry has no blank line after Z');
  const md5 = createHash('md5').update(data).digest('hex');
  const line = `example.com 203.0.113.9 - - [25/Nov/2026:18:00:00.123456 +0000] "GET /?q=x HTTP/1.1" 403 0 "-" "-" ${tx.id} "-" ${file} 0 ${data.length} md5:${md5} \n`;
  assert.equal(r.read('index.log'), line);
  assert.equal(r.read('index2.log'), line);
  assert.equal(statSync(join(r.dir, 'store', '20261125')).mode & 0o777, 0o750);
  assert.equal(statSync(join(r.dir, 'store', '20261125', '20261125-1800')).mode & 0o777, 0o750);
  assert.equal(statSync(join(r.dir, 'store', file)).mode & 0o777, 0o644);
  assert.deepEqual(readdirSync(join(r.dir, 'store', '20261125', '20261125-1800')), [`20261125-180000-${tx.id}`]);
});

test('JSON: one object per line in ModSecurity v2\'s shape', async () => {
  const r = await logRun({
    rules: `SecAuditEngine RelevantOnly
            SecAuditLogFormat JSON
            SecAuditLogParts ABCFHKZ
            SecRule ARGS:q "@contains select" "id:942100,phase:2,deny,status:403,log,msg:'SQL Injection',severity:CRITICAL,tag:'attack-sqli'"`,
    requests: [
      { method: 'POST', uri: '/s', headers: [['Host', 'a'], ['Content-Type', 'application/x-www-form-urlencoded']], body: 'q=select', responseHeaders: [['Content-Type', 'text/html']] },
      { uri: '/?q=select%0A%FF', headers: [['Host', 'a'], ['X-Bin', 'caf\xc3\xa9 \xff']] },
    ],
    logs: SERIAL,
  });
  const lines = r.read('audit.log').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 2);
  const [first, second] = lines.map((l) => JSON.parse(Buffer.from(l, 'latin1').toString('utf8')) as Record<string, unknown>);
  const tx = r.txs[0];
  assert.ok(tx !== undefined);
  assert.deepEqual(first, {
    transaction: { time: auditLogTime(tx.timestamp * 1000), transaction_id: tx.id, remote_address: '192.0.2.10', remote_port: 40000, local_address: '127.0.0.1', local_port: 80 },
    request: { request_line: 'POST /s HTTP/1.1', headers: { Host: 'a', 'Content-Type': 'application/x-www-form-urlencoded' }, body: ['q=select'] },
    response: { protocol: 'HTTP/1.1', status: 403, headers: { 'Content-Type': 'text/html' } },
    audit_data: {
      messages: ['Access denied with code 403 (phase 2). String match "select" at ARGS:q. [file "<inline>"] [line "5"] [id "942100"] [msg "SQL Injection"] [severity "CRITICAL"] [tag "attack-sqli"]'],
      action: { intercepted: true, phase: 2, message: 'String match "select" at ARGS:q.' },
      handler: 'proxy-server',
      stopwatch: { start: tx.timestamp * 1000, duration: Math.max(0, Math.round(CLOCK - tx.timestamp * 1000)) },
      producer: 'Warden/0.1.0',
      server: 'Warden/0.1.0',
      engine_mode: 'ENABLED',
    },
    matched_rules: [
      {
        chain: false,
        rules: [
          {
            actionset: { id: '942100', severity: 2, phase: 2, is_chained: false, tags: ['attack-sqli'] },
            operator: { operator: 'contains', operator_param: 'select', target: 'ARGS:q', negated: false },
            config: { filename: '<inline>', line_num: 5 },
            unparsed: `SecRule "ARGS:q" "@contains select" "id:942100,phase:2,deny,status:403,log,msg:'SQL Injection',severity:CRITICAL,tag:'attack-sqli'"`,
            is_matched: true,
          },
        ],
      },
    ],
  });
  // Bytes that are not UTF-8 still make valid JSON (as U+FFFD); UTF-8 stays readable.
  const request = second?.request as { request_line: string; headers: Record<string, string> };
  assert.equal(request.request_line, 'GET /?q=select%0A%FF HTTP/1.1');
  assert.equal(request.headers['X-Bin'], 'café \ufffd');
});

test('warden.yaml\'s logs override SecAuditLog, SecAuditLogFormat and SecAuditLogType', async () => {
  const r = await logRun({
    rules: `SecAuditEngine On\nSecAuditLog $DIR/directive.log\nSecAuditLogType Concurrent\nSecAuditLogFormat Native`,
    requests: [{}],
    logs: { audit: 'yaml.log', auditFormat: 'json', auditType: 'serial' },
  });
  assert.equal(r.read('directive.log'), '');
  const line = r.read('yaml.log');
  assert.equal((JSON.parse(line) as { transaction: { transaction_id: string } }).transaction.transaction_id, r.txs[0]?.id);
});

test('rejected(): a record with parts A, B (what could be read), F and H with the reason; an access line', async () => {
  const dir = tempDir();
  const waf = Waf.fromText('SecAuditEngine RelevantOnly\nSecAuditLogParts ABCFHKZ');
  const logs = createLogs({ config: waf.config, logs: { audit: 'audit.log', access: 'access.log' }, baseDir: dir, hostname: 'waf-1', clock: () => CLOCK });
  const time = Date.UTC(2026, 10, 25, 17, 59, 59, 500);
  logs.rejected({
    clientAddress: '203.0.113.9',
    clientPort: 50123,
    localAddress: '10.0.0.2',
    localPort: 443,
    rawHead: 'POST /xmlrpc.php HTTP/1.1\r\nHost: blog.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nUser-Agent: PHP/5.2.10\r\n\r\n',
    status: 400,
    reason: 'both Content-Length and Transfer-Encoding',
    timestamp: time,
  });
  await logs.close();
  const [rec] = parseNative(readFileSync(join(dir, 'audit.log'), 'latin1'));
  assert.deepEqual(rec?.parts.map(([p]) => p), ['A', 'B', 'F', 'H', 'Z']);
  assert.match(rec?.part('A') ?? '', /^\[25\/Nov\/2026:17:59:59\.500000 \+0000\] [0-9A-Z]+ 203\.0\.113\.9 50123 10\.0\.0\.2 443$/);
  assert.equal(rec?.part('B'), 'POST /xmlrpc.php HTTP/1.1\nHost: blog.example\nContent-Length: 5\nTransfer-Encoding: chunked\nUser-Agent: PHP/5.2.10\n');
  assert.equal(rec?.part('F'), 'HTTP/1.1 400 Bad Request\n');
  assert.match(rec?.part('H') ?? '', /^Message: Request rejected with code 400 before the rules ran: both Content-Length and Transfer-Encoding\.\n/);
  assert.equal(
    readFileSync(join(dir, 'access.log'), 'latin1'),
    '203.0.113.9 - - [25/Nov/2026:17:59:59 +0000] "POST /xmlrpc.php HTTP/1.1" 400 - "-" "PHP/5.2.10"\n',
  );
});
