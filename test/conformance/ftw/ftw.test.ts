/**
 * The CRS harness's own pieces: request bytes as go-ftw builds them, albedo's content
 * sniffing, and overrides. (The front end's refusals are the proxy's: test/proxy/front-end.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRequest, expandTemplate } from './request.js';
import { detectContentType } from './albedo.js';
import { applyOverrides, readOverrides, readTestFile, type StageInput } from './suite.js';

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
