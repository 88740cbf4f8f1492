/**
 * The front end's reading of refused heads and its refusals (src/proxy/front-end), as
 * tables: what Node's parser accepts but Warden refuses, with which status, and what a
 * head read from refused bytes holds. The same code decides for `warden start` and for the
 * CRS harness in process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { admit, readHead } from '../../src/proxy/front-end.js';
import { clientErrorAnswer } from '../../src/proxy/client-error.js';

test('a refused head is read: HTTP/0.9 without headers, bare CR as a space, folded lines joined', () => {
  assert.deepEqual(readHead('GET / \r\nHost: a\r\n\r\n'), { method: 'GET', target: '/', protocol: 'HTTP/0.9', headers: [] });
  assert.deepEqual(readHead('TEST /x HTTP/4.0\r\nA: 1\rB: 2\r\nC: 3\r\n 4\r\n\r\nbody'), {
    method: 'TEST',
    target: '/x',
    protocol: 'HTTP/4.0',
    headers: [
      ['A', '1 B: 2'],
      ['C', '3 4'],
    ],
  });
  assert.deepEqual(readHead('GET / HTTP/1.1\nHost: a\n\n')?.headers, [['Host', 'a']], 'lone LF line ends');
  assert.equal(readHead('GET / HTTP/1.1\r\nHost: a\r\n'), null, 'no blank line: no head');
  assert.equal(readHead('GET / HTTP/1.1 extra\r\n\r\n'), null, 'not a version');
  assert.equal(readHead('G@T / HTTP/1.1\r\n\r\n'), null, 'not a method');
  assert.equal(readHead('GET / HTTP/1.1\r\n Host: a\r\n\r\n'), null, 'a continuation with nothing to continue');
  assert.equal(readHead('{"id":1}'), null);
});

const req = (method: string, url: string, httpVersion: string, rawHeaders: string[], headers: Record<string, string> = {}): IncomingMessage => {
  const [major, minor] = httpVersion.split('.').map(Number);
  return { method, url, httpVersion, httpVersionMajor: major, httpVersionMinor: minor, rawHeaders, headers } as unknown as IncomingMessage;
};

const refusals: ReadonlyArray<readonly [string, IncomingMessage, number, RegExp]> = [
  ['HTTP/0.9 named', req('GET', '/', '0.9', ['Host', 'a']), 400, /HTTP\/0\.9/],
  ['HTTP/2.0 in HTTP/1 framing', req('GET', '/', '2.0', ['Host', 'a']), 505, /not supported/],
  ['a fragment', req('GET', '/a?b#frag', '1.1', ['Host', 'a']), 400, /fragment/],
  ['a fragment in an absolute-form target', req('GET', 'http://a/#x', '1.1', ['Host', 'a']), 400, /fragment/],
  ['Host with a percent sign', req('GET', '/', '1.1', ['Host', 'localhost%00']), 400, /invalid Host/],
  ['Host with a space', req('GET', '/', '1.1', ['Host', 'a b']), 400, /invalid Host/],
  ['Host with user info', req('GET', '/', '1.1', ['Host', 'u@a']), 400, /invalid Host/],
  ['empty Host in HTTP/1.1', req('GET', '/', '1.1', ['Host', '']), 400, /without Host/],
  ['no Host in HTTP/1.1', req('GET', '/', '1.1', []), 400, /without Host/],
  ['two Host headers', req('GET', '/', '1.1', ['Host', 'a', 'host', 'a']), 400, /more than one/],
  ['Transfer-Encoding in HTTP/1.0', req('POST', '/', '1.0', ['Transfer-Encoding', 'chunked'], { 'transfer-encoding': 'chunked' }), 400, /HTTP\/1\.0/],
  ['CONNECT without a port', req('CONNECT', 'www.example.org', '1.1', ['Host', 'a']), 400, /host:port/],
  ['CONNECT with a path', req('CONNECT', '/x', '1.1', ['Host', 'a']), 400, /host:port/],
  ['asterisk-form', req('OPTIONS', '*', '1.1', ['Host', 'a']), 400, /asterisk/],
  ['absolute-form naming another host', req('GET', 'http://b/x', '1.1', ['Host', 'a']), 400, /disagree/],
  ['a relative target', req('GET', 'x', '1.1', ['Host', 'a']), 400, /neither/],
];

for (const [name, r, status, reason] of refusals) {
  test(`refused: ${name} (${status})`, () => {
    const a = admit(r);
    assert.ok('status' in a, `admitted: ${JSON.stringify(a)}`);
    assert.equal(a.status, status);
    assert.match(a.reason, reason);
  });
}

test('admitted: where each form of target goes', () => {
  assert.deepEqual(admit(req('GET', '/a?b', '1.1', ['Host', 'localhost:8080'])), { path: '/a?b', host: 'localhost:8080' });
  assert.deepEqual(admit(req('GET', '/', '1.0', [])), { path: '/', host: '' });
  assert.deepEqual(admit(req('GET', '/', '1.0', ['Host', ''])), { path: '/', host: '' }, 'HTTP/1.0 may send an empty Host');
  assert.deepEqual(admit(req('GET', '/', '1.1', ['Host', '[::1]:80'])), { path: '/', host: '[::1]:80' });
  assert.deepEqual(admit(req('GET', 'http://a:80?q', '1.1', ['Host', 'A'])), { path: '/?q', host: 'A' });
  assert.deepEqual(admit(req('CONNECT', 'www.example.org:443', '1.1', ['Host', 'a'])), { path: '/', host: 'a' });
});

test('parser refusals: a version below 1.0 is malformed (400), one above 1.1 unsupported (505)', () => {
  const version = (line: string) => clientErrorAnswer(Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_VERSION', reason: 'Invalid HTTP version', rawPacket: Buffer.from(`${line}\r\nHost: a\r\n\r\n`) }));
  assert.equal(version('GET / HTTP/0.8')?.status, 400);
  assert.equal(version('GET / HTTP/4.0')?.status, 505);
  assert.equal(version('GET / HTTP/1.2')?.status, 505);
  assert.equal(version('GET / JUNK/1.0')?.status, 400);
  assert.equal(version('GET / HTTP/2')?.status, 400, 'not a version at all');
});
