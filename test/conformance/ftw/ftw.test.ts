/**
 * The CRS harness's own pieces: request bytes as go-ftw builds them, albedo's content
 * sniffing and its server, overrides, go-ftw's verdicts, the error log read between
 * markers, and tests run in lanes. (The front end's refusals are the proxy's: test/proxy/front-end.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRequest, expandTemplate } from './request.js';
import { detectContentType } from './albedo.js';
import { applyOverrides, readOverrides, readTestFile, type FtwTest, type Stage, type StageInput, type StageOutput } from './suite.js';
import { startAlbedo } from './albedo-server.js';
import { check, triggeredRules } from './check.js';
import { ClientError, sendRaw } from './client.js';
import { WafLogTail } from './waf-log.js';
import { newResult, runTests } from '../crs.js';

const input = (over: Partial<StageInput>): StageInput => ({
  destAddr: 'localhost',
  port: 80,
  protocol: 'http',
  method: 'GET',
  uri: '/',
  version: 'HTTP/1.1',
  headers: [['Host', 'localhost']],
  data: null,
  encodedData: null,
  encodedRequest: null,
  autocompleteHeaders: true,
  saveCookie: false,
  followRedirect: false,
  ...over,
});

test('go-ftw request bytes: autocompleted headers, form data escaped key by key, left alone once escaped', () => {
  assert.equal(
    buildRequest(input({ method: 'POST', data: 'a b=c&d=<e>&f' })),
    'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\nContent-Length: 17\r\n\r\na+b=c&d=%3Ce%3E&f',
  );
  assert.ok(buildRequest(input({ method: 'POST', data: 'a=%3C+x' })).endsWith('\r\n\r\na=%3C+x'));
  // Without autocompletion nothing is added; a GET without data gets no Content-Length.
  assert.equal(buildRequest(input({ autocompleteHeaders: false, data: 'x' })), 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\nx');
  assert.equal(buildRequest(input({})), 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  // go-ftw's `^POST|PUT|PATCH|DELETE$`: PUT anywhere in the method asks for a length.
  assert.match(buildRequest(input({ method: 'XPUTX' })), /Content-Length: 0\r\n/);
});

test('go-ftw request bytes: multipart gets CRLF, text is UTF-8, encoded_request is sent as is, templates repeat', () => {
  const multipart = buildRequest(input({ method: 'POST', headers: [['Content-Type', 'multipart/form-data; boundary=b']], data: '--b\nx\n--b--' }));
  assert.ok(multipart.endsWith('\r\n\r\n--b\r\nx\r\n--b--'));
  assert.match(buildRequest(input({ uri: '/?q=é' })), /^GET \/\?q=\xc3\xa9 HTTP/);
  assert.equal(buildRequest(input({ encodedRequest: Buffer.from('GET /\xff HTTP/1.0\r\n\r\n', 'latin1').toString('base64') })), 'GET /\xff HTTP/1.0\r\n\r\n');
  assert.equal(expandTemplate('a{{ "1" | repeat 3 }}b'), 'a111b');
  assert.throws(() => expandTemplate('{{ now }}'), /unsupported template/);
});

test('albedo sniffs a reflected body as Go does', () => {
  assert.equal(detectContentType('  <html><body>'), 'text/html; charset=utf-8');
  assert.equal(detectContentType('<?xml version="1.0"?>'), 'text/xml; charset=utf-8');
  assert.equal(detectContentType('<?php echo 1; ?>'), 'text/plain; charset=utf-8');
  assert.equal(detectContentType('\x00\x01'), 'application/octet-stream');
});

test('tests read as go-ftw reads them; an override replaces the expected output and needs a reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftw-'));
  try {
    const file = join(dir, '920100.yaml');
    writeFileSync(file, `rule_id: 920100
tests:
  - test_id: 4
    stages:
      - input:
          headers: {User-Agent: x, Host: localhost, Keep-Alive: 300}
        output:
          log: {expect_ids: [920100]}
  - stages:
      - input: {stop_magic: true}
        output: {status: 200}
`);
    const [first, second] = readTestFile(file);
    assert.deepEqual(first?.stages[0]?.input.headers, [['Host', 'localhost'], ['Keep-Alive', '300'], ['User-Agent', 'x']]);
    assert.equal(second?.testId, 2);
    assert.equal(second?.stages[0]?.input.autocompleteHeaders, false);
    const overrides = join(dir, 'o.yaml');
    writeFileSync(overrides, 'test_overrides:\n  - rule_id: 920100\n    test_ids: [4]\n    reason: because\n    output: {status: 400}\n');
    applyOverrides(first!, readOverrides(overrides));
    assert.equal(first?.overridden, 'because');
    assert.equal(first?.stages[0]?.output.status, 400);
    assert.deepEqual(first?.stages[0]?.output.log.expectIds, []);
    writeFileSync(overrides, 'test_overrides:\n  - rule_id: 920100\n    test_ids: [4]\n    output: {status: 400}\n');
    assert.throws(() => readOverrides(overrides), /has no reason/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the error log followed as it grows: markers found by id, a stage gets the lines of its own connection between them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftw-log-'));
  const file = join(dir, 'error.log');
  const line = (port: number, id: number, msg = 'x'): string =>
    `[Wed Nov 25 18:00:00.000000 2026] [security2:error] [pid 1] [client 127.0.0.1:${port}] ModSecurity: Warning. [id "${id}"] [msg "${msg}"] [unique_id "U"]\n`;
  const marker = (port: number, id: string): string => line(port, 999999, id).replace('ModSecurity:', 'ModSecurity: at REQUEST_HEADERS:X-CRS-Test.');
  try {
    writeFileSync(file, line(1, 1)); // before the tail opens: not read
    const log = new WafLogTail(file);
    log.expect('T-1-S');
    assert.equal(log.marker('T-1-S'), null);
    appendFileSync(file, marker(100, 't-1-s') + line(200, 920100) + line(300, 941100));
    appendFileSync(file, line(200, 949110).slice(0, 40)); // half a line: kept until its end comes
    const start = log.marker('T-1-S');
    assert.equal(start, 0);
    log.expect('t-1-e');
    appendFileSync(file, line(200, 949110).slice(40) + marker(101, 'T-1-E') + line(200, 980170));
    const end = log.marker('t-1-e');
    assert.equal(end, 4);
    // Lines of other connections (another test running at once) are left out; so are the
    // markers' own and whatever came after the end marker.
    assert.deepEqual(
      log.linesBetween(start!, end!, 200).map((l) => /\[id "(\d+)"\]/.exec(l)?.[1]),
      ['920100', '949110'],
    );
    // A marker line naming another id is not this marker.
    log.expect('t-2-s');
    appendFileSync(file, marker(102, 't-3-s'));
    assert.equal(log.marker('t-2-s'), null);
    log.forget('t-2-s');
    // Once its markers are forgotten, a stage's lines can be dropped; a marker still
    // remembered keeps the lines from its own on.
    log.expect('t-4-s');
    appendFileSync(file, marker(103, 't-4-s') + line(400, 920200));
    const start4 = log.marker('t-4-s') as number;
    log.forget('t-1-s');
    log.forget('t-1-e');
    log.dropUnneeded();
    assert.throws(() => log.linesBetween(start!, end!, 200), /dropped/);
    assert.deepEqual(log.linesBetween(start4, log.length, 400).length, 1);
    log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('go-ftw verdicts: expected error, status, ids expected and not, regexes, isolated', () => {
  const out = (over: Partial<StageOutput['log']> & { status?: number; expectError?: boolean; isolated?: boolean } = {}): StageOutput => ({
    status: over.status ?? 0,
    responseContains: '',
    log: { expectIds: over.expectIds ?? [], noExpectIds: over.noExpectIds ?? [], matchRegex: over.matchRegex ?? '', noMatchRegex: over.noMatchRegex ?? '' },
    expectError: over.expectError ?? false,
    retryOnce: false,
    isolated: over.isolated ?? false,
  });
  const ok = { status: 200, raw: 'HTTP/1.1 200 OK\r\n\r\n', localPort: 1 };
  const lines = ['[id "920100"] [msg "a"]', '[id "949110"] [msg "b"]'];
  assert.deepEqual(triggeredRules(lines), [920100, 949110]);
  assert.equal(check(out({ expectIds: [920100] }), ok, null, lines), null);
  assert.match(check(out({ expectIds: [920101] }), ok, null, lines) ?? '', /missing 920101/);
  assert.match(check(out({ noExpectIds: [949110] }), ok, null, lines) ?? '', /unexpected 949110/);
  assert.match(check(out({ status: 403 }), ok, null, lines) ?? '', /status 200, expected 403/);
  assert.match(check(out({ expectIds: [920100], isolated: true }), ok, null, lines) ?? '', /isolated/);
  assert.equal(check(out({ matchRegex: '(?i)MSG "A"' }), ok, null, lines), null);
  assert.match(check(out({ noMatchRegex: 'msg "b"' }), ok, null, lines) ?? '', /matches/);
  assert.match(check(out(), null, new ClientError('read timeout after 10000 ms'), []) ?? '', /unexpected error: read timeout/);
  assert.equal(check(out({ expectError: true }), null, new ClientError('EOF'), []), null);
  assert.match(check(out({ expectError: true }), ok, null, []) ?? '', /expected an error/);
});

test('tests in lanes: every test runs once, its stages in order, and the results come out sorted', async () => {
  const tests: FtwTest[] = [];
  for (let i = 1; i <= 30; i++) {
    const stage = (n: number): Stage => ({ input: input({ uri: `/${i}/${n}` }), output: { status: 0, responseContains: '', log: { expectIds: [], noExpectIds: [], matchRegex: '', noMatchRegex: '' }, expectError: false, retryOnce: false, isolated: false } });
    tests.push({ ruleId: 900000 + (i % 3), testId: i, description: '', file: '', stages: i === 30 ? [] : [stage(1), stage(2)], overridden: null });
  }
  const seen: string[] = [];
  const result = newResult('t', tests.length, 0, []);
  await runTests(
    tests,
    result,
    async (t, s) => {
      await new Promise((r) => setTimeout(r, (t.testId * 7) % 5));
      seen.push(s.input.uri);
      return t.testId % 4 === 0 ? 'no' : null;
    },
    4,
  );
  assert.equal(result.passed + result.failed + result.skipped, 30);
  assert.equal(result.skipped, 1);
  assert.equal(result.failed, 7);
  assert.equal(seen.length, 22 * 2 + 7);
  for (let i = 1; i < 30; i++) if (i % 4 !== 0) assert.ok(seen.indexOf(`/${i}/1`) < seen.indexOf(`/${i}/2`), `test ${i} in order`);
  const ids = result.failures.map((f) => [f.ruleId, f.testId]);
  assert.deepEqual(ids, [...ids].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!));
});

test('the albedo backend over HTTP: an empty 200 for everything, POST /reflect answers as its JSON says', async () => {
  const albedo = await startAlbedo();
  try {
    const plain = await sendRaw('127.0.0.1', albedo.port, 'GET /anything?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.equal(plain.status, 200);
    assert.match(plain.raw, /Content-Length: 0\r\n/i);
    const spec = JSON.stringify({ status: 503, headers: { 'X-Leak': 'yes' }, body: '<html><body>ORA-01756' });
    const r = await sendRaw('127.0.0.1', albedo.port, `POST /reflect HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${spec.length}\r\nConnection: close\r\n\r\n${spec}`);
    assert.equal(r.status, 503);
    assert.match(r.raw, /X-Leak: yes\r\n/i);
    assert.match(r.raw, /Content-Type: text\/html; charset=utf-8\r\n/i);
  } finally {
    await albedo.close();
  }
});
