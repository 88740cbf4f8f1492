/**
 * An Upgrade or CONNECT request pipelined behind a request whose answer is still being
 * sent. Node hands the socket to the upgrade handler while the earlier response still owns
 * it; answering there threw ERR_HTTP_SOCKET_ASSIGNED and killed the worker (found by the
 * reliability suite's HTTP fuzzing: test/reliability/fixtures/http). Now the earlier answer
 * goes out whole, then a 400, and the connection closes; nothing of the pipelined request
 * reaches the upstream.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeConfig, rawExchange, startProxy, startUpstream, upstreamConfig, type RunningProxy, type Upstream } from './support.js';

let up: Upstream;
let p: RunningProxy;
const seen: string[] = [];

before(async () => {
  up = await startUpstream((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    // Slow enough that the pipelined request arrives while this answer is pending.
    req.resume();
    req.on('end', () => setTimeout(() => res.end('first answer'), 150));
  });
  p = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)] }), 'SecRuleEngine On\n');
});

after(async () => {
  await p.close();
  await up.close();
});

const cases: Array<{ name: string; bytes: string }> = [
  { name: 'CONNECT behind a GET', bytes: 'GET /one HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n' },
  { name: 'WebSocket upgrade behind a GET', bytes: 'GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n' },
  { name: 'CONNECT behind two GETs', bytes: 'GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n' },
  // The input the fuzzer found: a PUT expecting 100-continue, then an HTTP/1.0 CONNECT.
  { name: 'CONNECT behind a PUT with Expect: 100-continue', bytes: 'PUT /Uz035+&U HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\nCONNECT /x HTTP/1.0\r\nHost: a\r\n\r\n' },
];

for (const c of cases) {
  test(`${c.name}: the earlier answer, then 400 (or the close it asked for)`, async () => {
    seen.length = 0;
    const r = await rawExchange(p.port, c.bytes, { idleMs: 5000 });
    const statuses = [...r.raw.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
    assert.ok(statuses.length >= 1 && statuses[0] === 200, r.raw);
    if (/^Connection: close/im.test(r.raw.slice(0, r.raw.indexOf('first answer')))) {
      // The earlier answer closed the connection (as Node closes one whose request expected
      // 100-continue and sent no body): nothing may follow it.
      assert.deepEqual(statuses, [200], r.raw);
    } else {
      assert.ok(statuses.slice(0, -1).every((s) => s === 200), r.raw);
      assert.equal(statuses.at(-1), 400, r.raw);
      assert.match(r.raw, /pipelined behind a request still being answered/);
      assert.ok(r.raw.indexOf('first answer') < r.raw.lastIndexOf('HTTP/1.1 400'), 'the 400 comes after the earlier answer');
    }
    assert.ok(seen.every((s) => !s.startsWith('CONNECT') && s !== 'GET /ws'), `the upstream saw ${seen.join(', ')}`);
  });
}

test('an upgrade on an idle kept-alive connection is still handled as before', async () => {
  // After a finished exchange the socket is free again: no pipelining, no refusal.
  const r = await rawExchange(p.port, 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', { idleMs: 3000 });
  assert.doesNotMatch(r.raw, /pipelined/);
});

test('a CONNECT pipelined behind a request refused with Connection: close: no answer into the closed socket, the worker lives', async () => {
  // Found by the reliability suite's long HTTP fuzzing (seed 20261126, inputs 9739 and 9774):
  // the earlier request was refused and its connection closed; the pipelined CONNECT's
  // refusal was then written into the destroyed socket its response still owned
  // (ERR_HTTP_SOCKET_ASSIGNED, an uncaught exception that killed the worker).
  const up2 = await startUpstream((req, res) => res.end('ok'));
  const p2 = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up2.url)] }), 'SecRuleEngine On\nSecRule REQUEST_URI "@beginsWith /deny" "id:1,phase:1,deny,status:403"\n');
  try {
    for (const bytes of [
      'GET /deny HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n',
      'HEAD /deny HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n\x18N\xc9\x93D\xd9\x88\xdfOPTIONS / HTTP/1.1\r\nHost: a\r\n\r\nCONNECT /index.php?id=1 HTTP/1.0\r\nContent-Length: 2\r\n\r\nXE',
    ]) {
      const r = await rawExchange(p2.port, bytes, { idleMs: 2000 });
      assert.match(r.raw, /^HTTP\/1\.1 403/, r.raw);
    }
    await new Promise((r) => setTimeout(r, 300));
    const after = await rawExchange(p2.port, 'GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { idleMs: 2000 });
    assert.match(after.raw, /^HTTP\/1\.1 200/);
  } finally {
    await p2.close();
    await up2.close();
  }
});
