/**
 * Requests that are malformed or ambiguous, sent as raw TCP bytes: each gets a defined status
 * with `Connection: close`, the connection is closed, and nothing reaches the upstream —
 * Warden never forwards a request two parsers could read differently. When the refused
 * request's head can be read it still runs phases 1, 2 and 5 and is logged as a transaction
 * (the rules see it, with the real client); otherwise a `rejected` record is written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { echoHandler, makeConfig, rawExchange, startProxy, startUpstream, upstreamConfig, type RunningProxy, type Upstream } from './support.js';

const CRLF = '\r\n';

interface Case {
  readonly name: string;
  readonly bytes: string;
  readonly status: number;
  /** The reason the answer (and a `rejected` record) gives. */
  readonly reason: RegExp;
  /** False when no head can be read from the bytes: a `rejected` record, no transaction. */
  readonly inspected?: false;
}

const cases: Case[] = [
  // Request line
  { name: 'extra token after the version', bytes: 'GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n', status: 400, reason: /CRLF after version/, inspected: false },
  { name: 'invalid character in the method', bytes: 'G@T / HTTP/1.1\r\nHost: a\r\n\r\n', status: 400, reason: /Invalid method/, inspected: false },
  { name: 'unknown method', bytes: 'FOO / HTTP/1.1\r\nHost: a\r\n\r\n', status: 501, reason: /method "FOO" not supported/ },
  { name: 'HTTP/1.2', bytes: 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', status: 505, reason: /HTTP\/1\.2 is not supported/ },
  { name: 'HTTP/2.0 request line in HTTP/1 framing', bytes: 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', status: 505, reason: /HTTP\/2\.0 is not supported/ },
  { name: 'HTTP/4.0', bytes: 'GET / HTTP/4.0\r\nHost: a\r\n\r\n', status: 505, reason: /HTTP\/4\.0 is not supported/ },
  { name: 'HTTP/0.9 named in the request line', bytes: 'GET / HTTP/0.9\r\nHost: a\r\n\r\n', status: 400, reason: /naming HTTP\/0\.9/ },
  { name: 'HTTP/0.8', bytes: 'GET / HTTP/0.8\r\nHost: a\r\n\r\n', status: 400, reason: /version/ },
  { name: 'fragment in the target', bytes: 'GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n', status: 400, reason: /fragment/ },
  { name: 'HTTP/2 connection preface', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 505, reason: /HTTP\/2 is not supported/, inspected: false },
  { name: 'control character in the target', bytes: 'GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n', status: 400, reason: /Invalid char in url/ },
  { name: 'bare LF after the request line', bytes: 'GET / HTTP/1.1\nHost: a\r\n\r\n', status: 400, reason: /CRLF/ },
  // Headers
  { name: 'bare LF after a header', bytes: 'GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n', status: 400, reason: /CR/ },
  { name: 'space before the colon', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n', status: 400, reason: /Invalid header field char/ },
  { name: 'obsolete line folding', bytes: 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', status: 400, reason: /whitespace/ },
  { name: 'NUL in a header value', bytes: 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n', status: 400, reason: /Invalid header value char/ },
  { name: 'space before the first header', bytes: 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', status: 400, reason: /space/, inspected: false },
  { name: 'over-long head', bytes: `GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, reason: /maxHeaderSize/ },
  { name: 'HTTP/1.1 without Host', bytes: 'GET / HTTP/1.1\r\nX: y\r\n\r\n', status: 400, reason: /without Host/ },
  { name: 'two Host headers', bytes: 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', status: 400, reason: /more than one Host/ },
  { name: 'empty Host in HTTP/1.1', bytes: 'GET / HTTP/1.1\r\nHost: \r\n\r\n', status: 400, reason: /without Host/ },
  { name: 'Host that is not a host name', bytes: 'GET / HTTP/1.1\r\nHost: localhost%00\r\n\r\n', status: 400, reason: /invalid Host/ },
  { name: 'absolute-form target disagreeing with Host', bytes: 'GET http://evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n', status: 400, reason: /disagree/ },
  { name: 'asterisk-form target', bytes: 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n', status: 400, reason: /asterisk-form/ },
  { name: 'CONNECT target without a port', bytes: 'CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n', status: 400, reason: /host:port/ },
  // Framing (request smuggling)
  { name: 'Content-Length then Transfer-Encoding', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, reason: /Transfer-Encoding can't be present with Content-Length/ },
  { name: 'Transfer-Encoding then Content-Length', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', status: 400, reason: /Content-Length can't be present with Transfer-Encoding/ },
  { name: 'duplicate Content-Length (different)', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', status: 400, reason: /Duplicate Content-Length/ },
  { name: 'duplicate Content-Length (same)', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello', status: 400, reason: /Duplicate Content-Length/ },
  { name: 'Content-Length list', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello', status: 400, reason: /Invalid character in Content-Length/ },
  { name: 'signed Content-Length', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello', status: 400, reason: /Invalid character in Content-Length/ },
  { name: 'Transfer-Encoding not ending in chunked', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc', status: 400, reason: /invalid `Transfer-Encoding`/, inspected: false },
  { name: 'Transfer-Encoding chunked, identity', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', status: 400, reason: /Transfer-Encoding/ },
  { name: 'Transfer-Encoding twice', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, reason: /Transfer-Encoding/ },
  { name: 'Transfer-Encoding in HTTP/1.0', bytes: 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, reason: /HTTP\/1\.0/ },
  // Chunked bodies
  { name: 'bad chunk size', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', status: 400, reason: /Invalid character in chunk size/, inspected: false },
  { name: 'chunk size overflow', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n', status: 400, reason: /Chunk size overflow/, inspected: false },
  { name: 'chunk longer than its size', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n', status: 400, reason: /LF after chunk data/, inspected: false },
  { name: 'bare LF after a chunk size', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n', status: 400, reason: /CR/, inspected: false },
  { name: 'over-long chunk extension', bytes: `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;${'x'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`, status: 413, reason: /Chunk extensions overflow/, inspected: false },
];

let up: Upstream;
let p: RunningProxy;
let seen = 0;

before(async () => {
  up = await startUpstream((req, res) => {
    seen++;
    echoHandler(req, res);
  });
  p = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)], proxy: { maxHeaderSize: 16384 } }), 'SecRuleEngine On\nSecRequestBodyAccess On\n');
});

after(async () => {
  await p.close();
  await up.close();
});

for (const c of cases) {
  test(`${c.name}: ${c.status}`, async () => {
    const refused = p.logs.refused.length;
    const done = p.logs.done.length;
    const r = await rawExchange(p.port, c.bytes);
    assert.equal(r.status, c.status, r.raw.slice(0, 200));
    assert.equal(r.headers.get('connection')?.toLowerCase(), 'close');
    assert.match(r.body, c.reason);
    if (c.inspected === false) {
      await p.logs.until(() => p.logs.refused.length > refused, 'the rejected record');
      const record = p.logs.refused[refused];
      assert.equal(record?.status, c.status);
      assert.match(record?.reason ?? '', c.reason);
      assert.equal(record?.clientAddress, '127.0.0.1');
    } else {
      await p.logs.until(() => p.logs.done.length > done, 'the transaction record');
      const record = p.logs.done[done];
      assert.equal(record?.response.status, c.status);
      assert.equal(record?.tx.remoteAddr?.value, '127.0.0.1');
      assert.equal(record?.tx.requestLine?.value, c.bytes.slice(0, c.bytes.search(/\r?\n/)));
      assert.equal(p.logs.refused.length, refused, 'one record per request');
    }
    assert.equal(seen, 0, 'the upstream received a request');
  });
}

test('after a bad chunk, the request that was being read is not forwarded, even partly', async () => {
  // ProcessPartial with a tiny limit would stream the body; the chunk error must still
  // abort the upstream request rather than complete it.
  const upstreamBodies: string[] = [];
  const up2 = await startUpstream((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      upstreamBodies.push(body);
      res.end('done');
    });
    req.on('error', () => upstreamBodies.push(`aborted after ${JSON.stringify(body)}`));
  });
  const p2 = await startProxy(
    makeConfig({ upstreams: [upstreamConfig('app', up2.url)] }),
    'SecRuleEngine On\nSecRequestBodyAccess On\nSecRequestBodyLimit 8\nSecRequestBodyLimitAction ProcessPartial\n',
  );
  try {
    const socket = connect(p2.port, '127.0.0.1');
    await once(socket, 'connect');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.write(`POST / HTTP/1.1${CRLF}Host: a${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}10${CRLF}0123456789abcdef${CRLF}`);
    await new Promise((r) => setTimeout(r, 200));
    socket.write(`zz${CRLF}more${CRLF}0${CRLF}${CRLF}`);
    await once(socket, 'close');
    const text = Buffer.concat(received).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 400 /);
    await new Promise((r) => setTimeout(r, 100));
    // The inspected part had been streamed on (ProcessPartial); the upstream saw the request
    // aborted, never completed.
    assert.deepEqual(upstreamBodies, ['aborted after "0123456789abcdef"']);
    assert.deepEqual(p2.messages, [], 'a client error is not an upstream failure');
    await p2.logs.until(() => p2.logs.refused.length === 1);
    assert.equal(p2.logs.done.length, 0, 'one record per request: the rejected one');
  } finally {
    await p2.close();
    await up2.close();
  }
});

test('a request head not received in time gets 408', async () => {
  const p3 = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)], proxy: { requestHeadersTimeout: 300, requestTimeout: 300 } }), 'SecRuleEngine On\n');
  try {
    const socket = connect(p3.port, '127.0.0.1');
    await once(socket, 'connect');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.write('GET / HTTP/1.1\r\nHost: a\r\n');
    await once(socket, 'close');
    assert.match(Buffer.concat(received).toString('latin1'), /^HTTP\/1\.1 408 /);
    await p3.logs.until(() => p3.logs.refused.length === 1);
    assert.equal(p3.logs.refused[0]?.status, 408);
  } finally {
    await p3.close();
  }
});

test('a refused request is seen by the rules (phases 1, 2 and 5) and keeps its refusal whatever they decide', async () => {
  const rules = [
    'SecRuleEngine On',
    'SecRule REQUEST_PROTOCOL "@streq HTTP/0.9" "id:10,phase:1,log,pass,msg:\'old protocol\'"',
    'SecRule REQUEST_METHOD "@streq FOO" "id:11,phase:1,log,deny,status:403,msg:\'odd method\'"',
    'SecRule REQUEST_HEADERS:Host "@contains %" "id:12,phase:1,log,pass,msg:\'odd host\'"',
    'SecAction "id:20,phase:2,log,pass,msg:\'phase 2 ran\'"',
    'SecAction "id:50,phase:5,log,pass,msg:\'phase 5 ran\'"',
  ].join('\n');
  const p4 = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)] }), rules);
  try {
    const exchange = async (bytes: string): Promise<{ raw: string; ids: string[] }> => {
      const done = p4.logs.done.length;
      const r = await rawExchange(p4.port, bytes);
      await p4.logs.until(() => p4.logs.done.length > done, 'the transaction record');
      const tx = p4.logs.done[done]?.tx;
      return { raw: r.raw, ids: (tx?.matches ?? []).map((m) => String(m.ruleId)) };
    };
    // Named HTTP/0.9 (Node accepts it; Warden refuses it): phases 1, 2 and 5 ran.
    let r = await exchange('GET / HTTP/0.9\r\nHost: a\r\n\r\n');
    assert.match(r.raw, /^HTTP\/1\.1 400 /);
    assert.deepEqual(r.ids, ['10', '20', '50']);
    // An unknown method (Node refuses it): a deny in phase 1 is logged; the answer stays 501.
    r = await exchange('FOO / HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(r.raw, /^HTTP\/1\.1 501 /);
    assert.deepEqual(r.ids, ['11', '50']);
    r = await exchange('GET / HTTP/1.1\r\nHost: a%00\r\n\r\n');
    assert.match(r.raw, /^HTTP\/1\.1 400 /);
    assert.deepEqual(r.ids, ['12', '20', '50']);
    // A request line without a version is an HTTP/0.9 request: the answer is a body alone.
    r = await exchange('GET /x \r\n\r\n');
    assert.match(r.raw, /^400 Bad Request: /);
    assert.deepEqual(r.ids, ['10', '20', '50']);
    assert.equal(p4.logs.refused.length, 0);
    assert.equal(seen, 0, 'the upstream received a request');
  } finally {
    await p4.close();
  }
});

test('CONNECT host:port is inspected and passed to the upstream, which answers it', async () => {
  const heads: string[] = [];
  const up5 = await startUpstream(echoHandler);
  up5.server.on('connect', (req: { method?: string; url?: string }, socket: import('node:net').Socket) => {
    heads.push(`${req.method} ${req.url}`);
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  const p5 = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up5.url)] }), 'SecRuleEngine On\nSecRule REQUEST_METHOD "@streq CONNECT" "id:1,phase:1,log,pass"\n');
  try {
    const r = await rawExchange(p5.port, 'CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n');
    assert.equal(r.status, 405);
    assert.deepEqual(heads, ['CONNECT example.org:443']);
    await p5.logs.until(() => p5.logs.done.length === 1);
    assert.deepEqual(p5.logs.done[0]?.tx.matches.map((m) => m.ruleId), [1]);
  } finally {
    await p5.close();
    await up5.close();
  }
});

test('bytes that cannot be parsed after a whole request: that request is answered and logged first, then the refusal', async () => {
  // Found by the CRS suite over HTTP (920180-1, 920400-1): a POST without Content-Length
  // whose body the client sends anyway, and a body longer than its Content-Length. The
  // refusal used to be sent at once, as the answer to the first request (a 501 naming its
  // method), and the first request's transaction was never logged.
  const bodies: string[] = [];
  const up6 = await startUpstream((req, res) => {
    bodies.push(`${req.method} ${req.url}`);
    echoHandler(req, res);
  });
  const p6 = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up6.url)] }), 'SecRuleEngine On\nSecRule REQUEST_METHOD "@streq POST" "id:1,phase:1,log,pass"\n');
  try {
    const cases = [
      { bytes: 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nhi=test', length: 0 },
      { bytes: 'POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc{not a request}', length: 3 },
    ];
    for (const c of cases) {
      const done = p6.logs.done.length;
      const refused = p6.logs.refused.length;
      const r = await rawExchange(p6.port, c.bytes);
      assert.equal(r.status, 200, r.raw.slice(0, 300));
      const echoed = JSON.parse(r.body.slice(0, r.body.indexOf('}') + 1)) as { length: number };
      assert.equal(echoed.length, c.length);
      // The refusal of what followed comes second, on the same connection, which then closes.
      const second = r.raw.slice(r.raw.indexOf('}') + 1);
      assert.match(second, /^HTTP\/1\.1 400 Bad Request\r\n(?:.*\r\n)*Connection: close\r\n/);
      await p6.logs.until(() => p6.logs.done.length > done && p6.logs.refused.length > refused);
      assert.equal(p6.logs.done[done]?.response.status, 200);
      assert.deepEqual(p6.logs.done[done]?.tx.matches.map((m) => m.ruleId), [1]);
      assert.equal(p6.logs.refused[refused]?.status, 400);
    }
    // Two whole requests pipelined before the bad bytes: both answered in order, then the refusal.
    const r = await rawExchange(p6.port, 'GET /c HTTP/1.1\r\nHost: a\r\n\r\nGET /d HTTP/1.1\r\nHost: a\r\n\r\n{not a request}');
    assert.deepEqual([...r.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]), ['200', '200', '400']);
    assert.ok(r.raw.indexOf('"url":"/c"') < r.raw.indexOf('"url":"/d"'), r.raw);
    assert.deepEqual(bodies, ['POST /a', 'POST /b', 'GET /c', 'GET /d']);
  } finally {
    await p6.close();
    await up6.close();
  }
});
