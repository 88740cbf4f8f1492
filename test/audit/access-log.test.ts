/**
 * The access log in Apache's (and nginx's) combined format, keyed on the real client
 * address, with Apache's escaping of the quoted fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logRun } from './helpers.js';
import type { TestRequest } from '../support/request.js';

interface Case {
  readonly name: string;
  readonly request: TestRequest & { readonly status?: number; readonly bytesSent?: number };
  /** The line after the time stamp. */
  readonly line: string;
  readonly client?: string;
}

const cases: Case[] = [
  {
    name: 'a page: status, bytes, referer and user agent',
    request: { uri: '/blog/?p=1', headers: [['Host', 'blog.example'], ['Referer', 'https://example.org/'], ['User-Agent', 'Mozilla/5.0 (X11)']], status: 200, bytesSent: 5120 },
    line: '"GET /blog/?p=1 HTTP/1.1" 200 5120 "https://example.org/" "Mozilla/5.0 (X11)"',
  },
  {
    name: 'a blocked request: no body bytes is "-"',
    request: { uri: '/?q=x', status: 403 },
    line: '"GET /?q=x HTTP/1.1" 403 - "-" "-"',
  },
  {
    name: 'quotes, backslashes, control and non-ASCII bytes are escaped',
    request: { uri: '/"a"\\b', headers: [['Host', 'a'], ['User-Agent', 'x"y\ncaf\xc3\xa9']], status: 404 },
    line: String.raw`"GET /\"a\"\\b HTTP/1.1" 404 - "-" "x\"y\ncaf\xc3\xa9"`,
  },
  {
    name: 'the real client, not the forwarding header',
    request: { remoteAddr: '203.0.113.9', headers: [['Host', 'a'], ['X-Forwarded-For', '198.51.100.1']], status: 200, bytesSent: 1 },
    client: '203.0.113.9',
    line: '"GET / HTTP/1.1" 200 1 "-" "-"',
  },
];

for (const c of cases) {
  test(`access log: ${c.name}`, async () => {
    const r = await logRun({ rules: '', requests: [c.request], logs: { access: 'access.log' } });
    const tx = r.txs[0];
    assert.ok(tx !== undefined);
    const d = new Date(tx.timestamp);
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const p = (n: number) => String(n).padStart(2, '0');
    const time = `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
    assert.equal(r.read('access.log'), `${c.client ?? '192.0.2.10'} - - [${time}] ${c.line}\n`);
  });
}
