/**
 * The error log as a user (and fail2ban, and go-ftw) reads it: one line per logged match in
 * ModSecurity v2's words and order of metadata, the interception as "Access denied …",
 * Apache 2.4's prefix with the real client address, and v2's escaping so no request can
 * break a line apart or forge one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logRun } from './helpers.js';
import type { TestRequest } from '../support/request.js';

const PREFIX = '[Wed Nov 25 18:00:00.123456 2026] [security2:error] [pid 1234] [client 192.0.2.10:40000] ModSecurity: ';

interface Case {
  readonly name: string;
  readonly rules: string;
  readonly request?: TestRequest;
  /** Lines without the prefix; `UID` stands for the transaction's unique id. */
  readonly lines: readonly string[];
  readonly prefix?: string;
}

const host = (uri = '/') => ` [hostname "example.com"] [uri "${uri}"] [unique_id "UID"]`;

const cases: Case[] = [
  {
    name: 'deny: "Access denied with code 403 (phase 2)." and every metadata field in v2 order',
    rules: String.raw`SecRule ARGS:q "@rx (?i)union\s+select" "id:942100,phase:2,deny,status:403,log,capture,msg:'SQL Injection Attack',logdata:'Matched Data: %{TX.0} found within %{MATCHED_VAR_NAME}: %{MATCHED_VAR}',severity:CRITICAL,ver:'OWASP_CRS/4.0.0',rev:'2',maturity:9,accuracy:8,tag:'application-multi',tag:'attack-sqli',tag:'paranoia-level/1'"`,
    request: { uri: '/search?q=1%20UNION%20SELECT%20pw' },
    lines: [
      String.raw`Access denied with code 403 (phase 2). Pattern match "(?i)union\\s+select" at ARGS:q. [file "<inline>"] [line "2"] [id "942100"] [rev "2"] [msg "SQL Injection Attack"] [data "Matched Data: UNION SELECT found within ARGS:q: 1 UNION SELECT pw"] [severity "CRITICAL"] [ver "OWASP_CRS/4.0.0"] [maturity "9"] [accuracy "8"] [tag "application-multi"] [tag "attack-sqli"] [tag "paranoia-level/1"]` +
        host('/search'),
    ],
  },
  {
    name: 'pass: "Warning.", one line per matched value, in order',
    rules: `SecRule ARGS "@contains evil" "id:10,phase:1,pass,log,msg:'evil %{MATCHED_VAR_NAME}',severity:WARNING"`,
    request: { uri: '/?a=evil1&b=2&c=evil3' },
    lines: [
      `Warning. String match "evil" at ARGS:a. [file "<inline>"] [line "2"] [id "10"] [msg "evil ARGS:a"] [severity "WARNING"]${host()}`,
      `Warning. String match "evil" at ARGS:c. [file "<inline>"] [line "2"] [id "10"] [msg "evil ARGS:c"] [severity "WARNING"]${host()}`,
    ],
  },
  {
    name: 'nolog: nothing in the error log, also when it denies',
    rules: `SecRule ARGS "@contains a" "id:11,phase:1,pass,nolog"
            SecRule ARGS "@contains a" "id:12,phase:1,deny,nolog,auditlog"`,
    request: { uri: '/?x=a' },
    lines: [],
  },
  {
    name: 'DetectionOnly: a deny is logged as a warning',
    rules: `SecRuleEngine DetectionOnly
            SecRule ARGS "@streq x" "id:13,phase:1,deny,log"`,
    request: { uri: '/?q=x' },
    lines: [`Warning. String match "x" at ARGS:q. [file "<inline>"] [line "3"] [id "13"]${host()}`],
  },
  {
    name: 'drop: "Access denied with connection close"',
    rules: `SecRule REQUEST_METHOD "@streq TRACE" "id:15,phase:1,drop,log,msg:'no TRACE'"`,
    request: { method: 'TRACE' },
    lines: [`Access denied with connection close (phase 1). String match "TRACE" at REQUEST_METHOD. [file "<inline>"] [line "2"] [id "15"] [msg "no TRACE"]${host()}`],
  },
  {
    name: 'redirect: the expanded URL and status',
    rules: `SecRule ARGS:go "@streq away" "id:16,phase:1,redirect:'http://example.com/blocked?%{ARGS.go}',log"`,
    request: { uri: '/?go=away' },
    lines: [
      `Access denied with redirection to http://example.com/blocked?away using status 302 (phase 1). String match "away" at ARGS:go. [file "<inline>"] [line "2"] [id "16"]${host()}`,
    ],
  },
  {
    name: 'allow: "Access allowed" as v2 logs an allow interception',
    rules: `SecRule REMOTE_ADDR "@ipMatch 192.0.2.0/24" "id:17,phase:1,allow,log,msg:'trusted'"
            SecRule REMOTE_ADDR "@ipMatch 192.0.2.0/24" "id:18,phase:2,allow:phase,log"`,
    request: {},
    lines: [`Access allowed (phase 1). IPmatch: "192.0.2.10" matched at REMOTE_ADDR. [file "<inline>"] [line "2"] [id "17"] [msg "trusted"]${host()}`],
  },
  {
    name: 'escaping: quotes in msg, bytes in data as \\xHH, a newline in an argument name, the uri decoded once',
    rules: String.raw`SecRule ARGS_NAMES "@rx me.$" "id:19,phase:1,pass,log,msg:'say \"hi\" to %{MATCHED_VAR}'"
            SecRule ARGS "@rx ^\xc3" "id:20,phase:1,pass,log,logdata:'%{MATCHED_VAR}'"`,
    request: { uri: '/a%20b/%22x%2522?na%0Ame%22=%C3%A9%22%5C%0A' },
    lines: [
      String.raw`Warning. Pattern match "me.$" at ARGS_NAMES:na\nme\". [file "<inline>"] [line "2"] [id "19"] [msg "say \"hi\" to na\nme\""]` + host(String.raw`/a b/\"x%22`),
      String.raw`Warning. Pattern match "^\\xc3" at ARGS:na\nme\". [file "<inline>"] [line "3"] [id "20"] [data "\xc3\xa9\x22\x5c\x0a"]` + host(String.raw`/a b/\"x%22`),
    ],
  },
  {
    name: '[data] is cut at 512 bytes with "..." as v2 does',
    rules: `SecRule ARGS:q "@rx ^A" "id:21,phase:1,pass,log,logdata:'%{MATCHED_VAR}'"`,
    request: { uri: `/?q=${'A'.repeat(600)}` },
    lines: [`Warning. Pattern match "^A" at ARGS:q. [file "<inline>"] [line "2"] [id "21"] [data "${'A'.repeat(509)}..."]${host()}`],
  },
  {
    name: 'the engine refusing a body over SecRequestBodyLimit: its own message',
    rules: `SecRequestBodyLimit 10`,
    request: { method: 'POST', uri: '/up', headers: [['Host', 'example.com'], ['Content-Length', '20']], body: 'x'.repeat(20) },
    lines: [`Request body (Content-Length) is larger than the configured limit (10).${host('/up')}`],
  },
  {
    name: 'a negated operator: "Match of … required." with the target quoted',
    rules: `SecRule REQUEST_HEADERS:Accept "!@rx ^text/" "id:22,phase:1,pass,log,msg:'odd Accept'"`,
    request: { headers: [['Host', 'example.com'], ['Accept', 'x/"y']] },
    lines: [String.raw`Warning. Match of "rx ^text/" against "REQUEST_HEADERS:Accept" required. [file "<inline>"] [line "2"] [id "22"] [msg "odd Accept"]` + host()],
  },
  {
    name: 'IPv6 client: Apache writes the address and port without brackets',
    rules: `SecRule REMOTE_ADDR "@ipMatch 2001:db8::/32" "id:23,phase:1,deny,log"`,
    request: { remoteAddr: '2001:db8::7' },
    prefix: '[Wed Nov 25 18:00:00.123456 2026] [security2:error] [pid 1234] [client 2001:db8::7:40000] ModSecurity: ',
    lines: [`Access denied with code 403 (phase 1). IPmatch: "2001:db8::7" matched at REMOTE_ADDR. [file "<inline>"] [line "2"] [id "23"]${host()}`],
  },
];

for (const c of cases) {
  test(`error log: ${c.name}`, async () => {
    const r = await logRun({ rules: c.rules, requests: [c.request ?? {}] });
    const id = r.txs[0]?.id ?? '';
    const expected = c.lines.map((l) => `${c.prefix ?? PREFIX}${l.replaceAll('"UID"', `"${id}"`)}\n`).join('');
    assert.equal(r.read('error.log'), expected);
  });
}

test('error log: every line is printable ASCII whatever the request held', async () => {
  const bytes = Array.from({ length: 256 }, (_, i) => `%${i.toString(16).padStart(2, '0')}`).join('');
  const r = await logRun({
    rules: `SecRule ARGS|ARGS_NAMES "@rx ." "id:1,phase:1,pass,log,msg:'%{MATCHED_VAR}',logdata:'%{MATCHED_VAR}',tag:'%{MATCHED_VAR}'"`,
    requests: [{ uri: `/${bytes}?${bytes}=${bytes}` }],
  });
  const text = r.read('error.log');
  const lines = text.split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 2);
  for (const line of lines) assert.match(line, /^[\x20-\x7e]+$/);
});

test('error log: go-ftw finds every logged rule by [id "…"] and the unique id', async () => {
  const r = await logRun({
    rules: `SecRule ARGS "@rx a" "id:920100,phase:1,pass,log"
            SecRule ARGS "@rx b" "id:920200,phase:1,pass,log"
            SecRule ARGS "@rx c" "id:949110,phase:2,deny,log"`,
    requests: [{ uri: '/?x=abc' }],
  });
  const text = r.read('error.log');
  const id = r.txs[0]?.id ?? '';
  assert.deepEqual([...text.matchAll(/\[id "(\d+)"\]/g)].map((m) => m[1]), ['920100', '920200', '949110']);
  assert.equal([...text.matchAll(new RegExp(`\\[unique_id "${id}"\\]`, 'g'))].length, 3);
});

test('error log: the client is REMOTE_ADDR (the real client), never a forwarding header', async () => {
  const r = await logRun({
    rules: `SecRule ARGS "@rx x" "id:1,phase:1,deny,log"`,
    requests: [{ uri: '/?q=x', remoteAddr: '203.0.113.9', headers: [['Host', 'example.com'], ['X-Forwarded-For', '198.51.100.1']] }],
  });
  assert.match(r.read('error.log'), /^\[[^\]]+\] \[security2:error\] \[pid 1234\] \[client 203\.0\.113\.9:40000\] ModSecurity: Access denied/);
});

test('error log: `hostname` names the server instead of the request Host (UseCanonicalName On)', async () => {
  const r = await logRun({
    rules: `SecRule ARGS "@rx x" "id:1,phase:1,deny,log"`,
    requests: [{ uri: '/?q=x' }],
    options: { hostname: 'waf-1.internal' },
  });
  assert.match(r.read('error.log'), / \[hostname "waf-1\.internal"\] /);
});

test('error log: "-" writes to standard error', async () => {
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    written.push(Buffer.from(chunk).toString('latin1'));
    const cb = rest.find((a) => typeof a === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stderr.write;
  try {
    await logRun({ rules: `SecRule ARGS "@rx x" "id:5,phase:1,deny,log"`, requests: [{ uri: '/?q=x' }], logs: { error: '-' } });
  } finally {
    process.stderr.write = original;
  }
  assert.equal(written.length, 1);
  assert.match(written[0] ?? '', /ModSecurity: Access denied with code 403 \(phase 1\)\. .* \[id "5"\] /);
});
