/**
 * The reverse proxy in-process, against real upstreams on loopback: what the upstream and
 * the client receive, verdicts on the wire, bodies held only within the engine's limits,
 * gateway errors, keep-alive reuse, routing and reload under load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import { Waf } from '../../src/engine/waf.js';
import {
  echoHandler,
  makeConfig,
  rawExchange,
  send,
  startProxy,
  startUpstream,
  upstreamConfig,
  type RunningProxy,
  type Upstream,
} from './support.js';

const RULES = `SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS:q "@contains attack" "id:100,phase:2,deny,status:403,log,msg:'attack in q'"
SecRule ARGS:q "@streq teapot" "id:101,phase:1,deny,status:418,log"
SecRule ARGS:q "@streq drop" "id:102,phase:1,drop,log"
SecRule ARGS:q "@streq moved" "id:103,phase:1,redirect:https://example.com/elsewhere,log"
SecRule REQUEST_BODY "@contains evil" "id:104,phase:2,deny,status:403,log"
SecRule ARGS_POST:x "@contains evil" "id:105,phase:2,deny,status:403,log"
`;

interface Echo {
  method: string;
  url: string;
  headers: string[];
  body: string;
  length: number;
}

function echoed(body: string): Echo & { header(name: string): string[] } {
  const e = JSON.parse(body) as Echo;
  return {
    ...e,
    header: (name: string) => {
      const out: string[] = [];
      for (let i = 0; i + 1 < e.headers.length; i += 2) if ((e.headers[i] as string).toLowerCase() === name) out.push(e.headers[i + 1] as string);
      return out;
    },
  };
}

async function withProxy(rules: string, fn: (p: RunningProxy, up: Upstream) => Promise<void>, handler: (req: IncomingMessage, res: ServerResponse) => void = echoHandler): Promise<void> {
  const up = await startUpstream(handler);
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)] }), rules);
  try {
    await fn(p, up);
  } finally {
    await p.close();
    await up.close();
  }
}

test('a request reaches the upstream with forwarding headers set and hop-by-hop headers removed', async () => {
  await withProxy(RULES, async (p) => {
    const r = await rawExchange(
      p.port,
      'GET /path?a=1 HTTP/1.1\r\nHost: blog.example\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\nTE: trailers\r\nProxy: http://evil/\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n' +
        'X-Forwarded-Host: evil.example\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nVia: 1.0 earlier\r\nX-Kept: yes\r\n\r\n',
    );
    assert.equal(r.status, 200);
    const e = echoed(r.body);
    assert.equal(e.url, '/path?a=1');
    assert.deepEqual(e.header('host'), ['blog.example']);
    assert.deepEqual(e.header('x-kept'), ['yes']);
    for (const gone of ['x-secret-hop', 'keep-alive', 'proxy-connection', 'te', 'proxy', 'forwarded', 'x-real-ip']) assert.deepEqual(e.header(gone), [], gone);
    // An untrusted peer's forwarding headers are replaced, not extended.
    assert.deepEqual(e.header('x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(e.header('x-forwarded-proto'), ['http']);
    assert.deepEqual(e.header('x-forwarded-host'), ['blog.example']);
    assert.deepEqual(e.header('via'), ['1.0 earlier, 1.1 warden']);
    assert.equal(r.headers.get('via'), '1.1 warden');
    await p.logs.until(() => p.logs.done.length === 1);
    assert.equal(p.logs.done[0]?.tx.remoteAddr?.value, '127.0.0.1');
  });
});

test('requests on one keep-alive connection: unchanged headers are carried to the next transaction, a changed one is inspected anew', async () => {
  const rules = `SecRuleEngine On
SecRule REQUEST_HEADERS:X-Probe "@contains attack" "id:110,phase:1,deny,status:403,log"
SecRule REQUEST_COOKIES:s "@contains attack" "id:111,phase:1,deny,status:403,log"`;
  await withProxy(rules, async (p) => {
    const head = (probe: string, cookie: string): string =>
      `GET /k HTTP/1.1\r\nHost: blog.example\r\nUser-Agent: Mozilla/5.0\r\nX-Probe: ${probe}\r\nCookie: s=${cookie}; t=1\r\n\r\n`;
    // Each connection sends its requests one after the other (a refusal closes it).
    const connection = async (requests: string[]): Promise<string[]> => {
      const socket = connect(p.port, '127.0.0.1');
      await once(socket, 'connect');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      // A response follows the previous body directly: status lines are found anywhere.
      const statuses = (): string[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1] as string);
      for (const [i, r] of requests.entries()) {
        socket.write(r);
        while (statuses().length <= i) await once(socket, 'data');
      }
      socket.destroy();
      return statuses();
    };
    assert.deepEqual(await connection([head('fine', 'ok'), head('fine', 'ok'), head('attack', 'ok')]), ['200', '200', '403']);
    assert.deepEqual(await connection([head('fine', 'ok'), head('fine', 'attack')]), ['200', '403']);
    await p.logs.until(() => p.logs.done.length === 5);
    const [a, b, c, , d] = p.logs.done.map((r) => r.tx);
    // The second request's Host, User-Agent, X-Probe and Cookie are the first one's entries (and its cookies).
    assert.deepEqual(
      b?.requestHeaders.map((e, i) => e === a?.requestHeaders[i]),
      b?.requestHeaders.map(() => true),
    );
    assert.equal(b?.requestCookies[0], a?.requestCookies[0]);
    assert.deepEqual([c?.interruption?.ruleId, d?.interruption?.ruleId], [110, 111]);
    assert.notEqual(d?.requestCookies[0], a?.requestCookies[0]);
  });
});

test('response hop-by-hop headers are removed; repeated headers and their bytes are kept', async () => {
  await withProxy(
    RULES,
    async (p) => {
      const r = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(r.status, 200);
      assert.doesNotMatch(r.raw, /X-Hop|Keep-Alive: timeout/i);
      assert.equal((r.raw.match(/^Set-Cookie: /gim) ?? []).length, 2);
      assert.match(r.raw, /\r\nX-Bytes: caf\xe9\r\n/);
      assert.match(r.raw, /\r\nvia: 1\.1 upstream, 1\.1 warden\r\n/i);
    },
    (_req, res) => {
      res.writeHead(200, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Connection', 'X-Hop', 'X-Hop', '1', 'Keep-Alive', 'timeout=9', 'X-Bytes', 'caf\xe9', 'Via', '1.1 upstream']);
      res.end('ok');
    },
  );
});

test('deny answers with the rule status and the error page; the upstream never sees the request', async () => {
  await withProxy(RULES, async (p, up) => {
    const r = await send(`${p.url}/?q=attack`, { headers: { accept: 'text/html' } });
    assert.equal(r.status, 403);
    assert.match(r.body, /403 Forbidden/);
    assert.match(r.body, new RegExp(r.headers['x-warden-transaction'] as string));
    const t = await send(`${p.url}/?q=teapot`, { headers: { accept: 'application/json' } });
    assert.equal(t.status, 418);
    assert.equal(JSON.parse(t.body).status, 418);
    assert.equal(up.connections, 0);
    await p.logs.until(() => p.logs.done.length === 2);
    assert.deepEqual(p.logs.done.map((d) => [d.response.status, d.tx.interruption?.ruleId]), [[403, 100], [418, 101]]);
    assert.ok(p.logs.done.every((d) => d.response.bytesSent > 0 && d.response.headers.some(([k]) => k.toLowerCase() === 'x-warden-transaction')));
  });
});

test('drop closes the connection without an answer', async () => {
  await withProxy(RULES, async (p, up) => {
    const r = await rawExchange(p.port, 'GET /?q=drop HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(r.raw, '');
    assert.equal(up.connections, 0);
    await p.logs.until(() => p.logs.done.length === 1);
    assert.deepEqual(p.logs.done[0]?.response.aborted, true);
  });
});

test('redirect answers with the Location of the rule', async () => {
  await withProxy(RULES, async (p) => {
    const r = await rawExchange(p.port, 'GET /?q=moved HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), 'https://example.com/elsewhere');
  });
});

test('DetectionOnly logs the match and lets the request through', async () => {
  await withProxy(RULES.replace('SecRuleEngine On', 'SecRuleEngine DetectionOnly'), async (p, up) => {
    const r = await send(`${p.url}/?q=attack`);
    assert.equal(r.status, 200);
    assert.equal(up.connections, 1);
    await p.logs.until(() => p.logs.done.length === 1);
    const d = p.logs.done[0];
    assert.equal(d?.tx.interruption, null);
    assert.deepEqual(d?.tx.matches.map((m) => m.ruleId), [100]);
  });
});

test('a chunked request body is inspected whole before anything goes upstream, then sent with its length', async () => {
  await withProxy(RULES, async (p, up) => {
    const ok = await rawExchange(
      p.port,
      'POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '4\r\nx=he\r\n7;ext=1\r\nllo wor\r\n2\r\nld\r\n0\r\n\r\n',
    );
    assert.equal(ok.status, 200);
    const e = echoed(ok.body);
    assert.equal(e.body, 'x=hello world');
    assert.deepEqual(e.header('content-length'), ['13']);
    assert.deepEqual(e.header('transfer-encoding'), []);
    const before = up.connections;
    // "evil" split over two chunks: the engine sees the whole body.
    const blocked = await rawExchange(
      p.port,
      'POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '4\r\nx=ev\r\n2\r\nil\r\n0\r\n\r\n',
    );
    assert.equal(blocked.status, 403);
    assert.equal(up.connections, before);
  });
});

test('nothing is sent upstream before phase 2 decided: a slow upload is held until it ends', async () => {
  let received = 0;
  await withProxy(
    RULES,
    async (p) => {
      const socket = connect(p.port, '127.0.0.1');
      await once(socket, 'connect');
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.write('POST /up HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\nConnection: close\r\n\r\nx=12');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(received, 0, 'the upstream got a request before the body was complete');
      socket.write('345678');
      await once(socket, 'close');
      assert.equal(received, 1);
      assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 200 .*x=12345678/s);
    },
    (req, res) => {
      received++;
      echoHandler(req, res);
    },
  );
});

test('Expect: 100-continue is answered only after phase 1 let the head through', async () => {
  await withProxy(RULES, async (p) => {
    const socket = connect(p.port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.write('POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    for (let i = 0; i < 100 && !text.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(text, 'HTTP/1.1 100 Continue\r\n\r\n');
    socket.write('x=hello');
    await once(socket, 'close');
    assert.match(text, /HTTP\/1\.1 200 OK[\s\S]*"body":"x=hello"/);
    // Refused on its head: the answer comes instead of 100 Continue, and no body is sent.
    const refused = await rawExchange(p.port, 'POST /?q=teapot HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n', { idleMs: 500 });
    assert.equal(refused.status, 418);
    assert.doesNotMatch(refused.raw, /100 Continue/);
  });
});

test('a body over SecRequestBodyLimit is refused with 413 (Reject) without buffering it, and never forwarded', async () => {
  const rules = `${RULES}SecRequestBodyLimit 65536\nSecRequestBodyLimitAction Reject\n`;
  await withProxy(rules, async (p, up) => {
    const body = Buffer.alloc(2 * 1024 * 1024, 'a');
    const r = await send(`${p.url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
    assert.equal(r.status, 413);
    assert.equal(up.connections, 0);
    // Held: the limit plus at most the one socket read that crossed it.
    assert.ok(p.proxy.stats.requestBodyHeldMax <= 65536 + 65536, `held ${p.proxy.stats.requestBodyHeldMax}`);
  });
});

test('ProcessPartial: the first SecRequestBodyLimit bytes are inspected, the rest streams through uninspected', async () => {
  const rules = `${RULES}SecRequestBodyLimit 65536\nSecRequestBodyNoFilesLimit 65536\nSecRequestBodyLimitAction ProcessPartial\n`;
  await withProxy(rules, async (p) => {
    const body = Buffer.alloc(3 * 1024 * 1024, 'b');
    body.write('evil', body.length - 10);
    const r = await send(`${p.url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
    assert.equal(r.status, 200);
    const e = echoed(r.body);
    assert.equal(e.length, body.length);
    assert.equal(e.body, body.toString('latin1'));
    assert.ok(p.proxy.stats.requestBodyHeldMax <= 65536 + 65536, `held ${p.proxy.stats.requestBodyHeldMax}`);
    // The same body chunked (no Content-Length): forwarded chunked.
    async function* chunks(): AsyncIterable<Buffer> {
      for (let i = 0; i < body.length; i += 100_000) yield body.subarray(i, i + 100_000);
    }
    const c = await send(`${p.url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: chunks() });
    assert.equal(c.status, 200);
    const ce = echoed(c.body);
    assert.equal(ce.length, body.length);
    assert.deepEqual(ce.header('transfer-encoding'), ['chunked']);
  });
});

test('phase 4 holds an inspected response until it decides; a deny replaces it; other types stream', async () => {
  const rules = `SecRuleEngine On
SecResponseBodyAccess On
SecResponseBodyMimeType text/html
SecResponseBodyLimit 262144
SecRule RESPONSE_BODY "@contains SECRET-TOKEN" "id:200,phase:4,deny,status:500,log"
`;
  await withProxy(
    rules,
    async (p) => {
      const leak = await send(`${p.url}/leak`);
      assert.equal(leak.status, 500);
      assert.doesNotMatch(leak.body, /SECRET-TOKEN/);
      const fine = await send(`${p.url}/fine`);
      assert.equal(fine.status, 200);
      assert.equal(fine.body, 'x'.repeat(100_000));
      // Not an inspected type: streamed, never held.
      const held = p.proxy.stats.responseBodyHeldMax;
      const binary = await send(`${p.url}/binary`);
      assert.equal(binary.status, 200);
      assert.equal(binary.body.length, 1_000_000);
      assert.equal(p.proxy.stats.responseBodyHeldMax, held);
      // Longer than the limit: held only up to it (plus one read), then streamed.
      const big = await send(`${p.url}/big`);
      assert.equal(big.status, 200);
      assert.equal(big.body.length, 4_000_000);
      assert.ok(p.proxy.stats.responseBodyHeldMax <= 262144 + 65536, `held ${p.proxy.stats.responseBodyHeldMax}`);
    },
    (req, res) => {
      if (req.url === '/leak') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.write('<p>hello</p>');
        setTimeout(() => res.end('<p>SECRET-TOKEN</p>'), 20);
      } else if (req.url === '/fine') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('x'.repeat(100_000));
      } else if (req.url === '/binary') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(1_000_000, 1));
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        for (let i = 0; i < 40; i++) res.write('y'.repeat(100_000));
        res.end();
      }
    },
  );
});

test('streaming 100 MB: the heap stays flat and nothing is held', async () => {
  const total = 100 * 1024 * 1024;
  await withProxy(
    RULES,
    async (p) => {
      const client = new Agent({ connections: 1 });
      const before = process.memoryUsage();
      let heapPeak = before.heapUsed;
      let buffersPeak = before.arrayBuffers;
      const sampler = setInterval(() => {
        const m = process.memoryUsage();
        heapPeak = Math.max(heapPeak, m.heapUsed);
        buffersPeak = Math.max(buffersPeak, m.arrayBuffers);
      }, 5);
      let received = 0;
      try {
        const r = await request(`${p.url}/big`, { dispatcher: client });
        for await (const c of r.body) received += (c as Buffer).length;
      } finally {
        clearInterval(sampler);
        await client.close();
      }
      assert.equal(received, total);
      // Upstream, proxy and client all live in this process and none holds the body.
      assert.ok(heapPeak - before.heapUsed < 16 * 1024 * 1024, `heap grew by ${(heapPeak - before.heapUsed) >> 20} MiB`);
      assert.ok(buffersPeak < 64 * 1024 * 1024, `buffers peaked at ${buffersPeak >> 20} MiB`);
      assert.equal(p.proxy.stats.responseBodyHeldMax, 0);
    },
    (_req, res) => {
      const block = Buffer.alloc(64 * 1024, 'z');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += block.length;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    },
  );
});

test('a chunked response (no Content-Length) reaches the client chunked and complete', async () => {
  await withProxy(
    RULES,
    async (p) => {
      const r = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('transfer-encoding'), 'chunked');
      const chunks = r.body.split('\r\n').filter((_, i) => i % 2 === 1).join('');
      assert.equal(chunks, 'part1-part2-part3');
    },
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part1-');
      setTimeout(() => res.write('part2-'), 10);
      setTimeout(() => res.end('part3'), 20);
    },
  );
});

test('upstream down: 502 with the gateway page and a log record', async () => {
  const up = await startUpstream(echoHandler);
  const url = up.url;
  await up.close();
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('gone', url)] }), RULES);
  try {
    const r = await send(`${p.url}/x`, { headers: { accept: 'text/html' } });
    assert.equal(r.status, 502);
    assert.match(r.body, /502 Bad Gateway/);
    assert.match(r.body, /did not answer/);
    await p.logs.until(() => p.logs.done.length === 1);
    assert.equal(p.logs.done[0]?.response.status, 502);
    assert.ok(p.messages.some((m) => /upstream "gone".*ECONNREFUSED.*502/.test(m)), p.messages.join('\n'));
    assert.equal(p.proxy.stats.upstreamErrors, 1);
  } finally {
    await p.close();
  }
});

test('upstream slow: 504 after the headers timeout', async () => {
  const up = await startUpstream(() => {
    /* never answers */
  });
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('slow', up.url, { headersTimeout: 300 })] }), RULES);
  try {
    const r = await send(`${p.url}/x`, { headers: { accept: 'application/json' } });
    assert.equal(r.status, 504);
    assert.equal(JSON.parse(r.body).status, 504);
    assert.ok(p.messages.some((m) => /upstream "slow".*504/.test(m)), p.messages.join('\n'));
  } finally {
    await p.close();
    await up.close();
  }
});

test('an upstream failing in the middle of the body cuts the client connection (no fake success)', async () => {
  await withProxy(
    RULES,
    async (p) => {
      const r = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-length'), '1000');
      assert.ok(r.body.length < 1000);
    },
    (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.write(Buffer.alloc(100));
      setTimeout(() => req.socket.destroy(), 50);
    },
  );
});

test('keep-alive: sequential requests reuse one upstream connection', async () => {
  await withProxy(RULES, async (p, up) => {
    const client = new Agent({ connections: 1 });
    try {
      for (let i = 0; i < 20; i++) assert.equal((await send(`${p.url}/n${i}`, { dispatcher: client })).status, 200);
    } finally {
      await client.close();
    }
    assert.equal(up.connections, 1);
  });
});

test('routes: by Host (exact and wildcard) and path prefix, first match wins; no route is 404', async () => {
  const a = await startUpstream((_req, res) => res.end('A'));
  const b = await startUpstream((_req, res) => res.end('B'));
  const c = await startUpstream((_req, res) => res.end('C'));
  const config = makeConfig({
    upstreams: [upstreamConfig('a', a.url), upstreamConfig('b', b.url), upstreamConfig('c', c.url)],
    routes: [
      { host: 'api.example', pathPrefix: '/v2/', upstream: 'b' },
      { host: 'api.example', pathPrefix: '/', upstream: 'a' },
      { host: '*.example', pathPrefix: '/', upstream: 'c' },
    ],
  });
  const p = await startProxy(config, RULES);
  try {
    const get = async (host: string, path: string): Promise<string> => {
      const r = await rawExchange(p.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      return r.status === 200 ? r.body : String(r.status);
    };
    assert.equal(await get('api.example', '/v2/users'), 'B');
    assert.equal(await get('API.example:8080', '/v1/users'), 'A');
    assert.equal(await get('www.example', '/'), 'C');
    assert.equal(await get('example', '/'), '404');
    assert.equal(await get('other.test', '/'), '404');
  } finally {
    await p.close();
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('several listeners, each with its own routes', async () => {
  const a = await startUpstream((_req, res) => res.end('A'));
  const b = await startUpstream((_req, res) => res.end('B'));
  const config = makeConfig({
    upstreams: [upstreamConfig('a', a.url), upstreamConfig('b', b.url)],
    listeners: [
      { name: 'one', host: '127.0.0.1', port: 0, tls: null, routes: [{ host: null, pathPrefix: '/', upstream: 'a' }] },
      { name: 'two', host: '127.0.0.1', port: 0, tls: null, routes: [{ host: null, pathPrefix: '/', upstream: 'b' }] },
    ],
  });
  const p = await startProxy(config, RULES);
  try {
    const ports = p.proxy.listeners.map((l) => (l.server.address() as { port: number }).port);
    assert.equal((await send(`http://127.0.0.1:${ports[0]}/`)).body, 'A');
    assert.equal((await send(`http://127.0.0.1:${ports[1]}/`)).body, 'B');
  } finally {
    await p.close();
    await Promise.all([a.close(), b.close()]);
  }
});

test('a banned client is refused before the engine runs', async () => {
  const up = await startUpstream(echoHandler);
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)] }), RULES, { bans: { has: (a) => a === '127.0.0.1' } });
  try {
    const r = await send(`${p.url}/`);
    assert.equal(r.status, 403);
    assert.equal(up.connections, 0);
    assert.equal(p.logs.refused[0]?.reason, 'client address is banned');
  } finally {
    await p.close();
    await up.close();
  }
});

test('a banned client keeps its connection for requests without a body (each retry one lookup), not with a body', async () => {
  const up = await startUpstream(echoHandler);
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)] }), RULES, { bans: { has: (a) => a === '127.0.0.1' } });
  try {
    const two = await rawExchange(p.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n', { idleMs: 500 });
    assert.equal(two.raw.match(/^HTTP\/1\.1 403 /gm)?.length, 2, two.raw);
    assert.notEqual(two.headers.get('connection'), 'close');
    const post = await rawExchange(p.port, 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n', { idleMs: 500 });
    assert.equal(post.raw.match(/^HTTP\/1\.1 403 /gm)?.length, 1, post.raw);
    assert.equal(post.headers.get('connection'), 'close');
    assert.equal(up.connections, 0);
  } finally {
    await p.close();
    await up.close();
  }
});

test('reload under load: every request is answered, new rules apply to new requests, pools are kept', async () => {
  await withProxy(RULES, async (p, up) => {
    const config = p.proxy.generation.config;
    let stop = false;
    const results: number[] = [];
    const client = new Agent({ connections: 8 });
    const worker = async (): Promise<void> => {
      while (!stop) results.push((await send(`${p.url}/load?q=fine`, { dispatcher: client })).status);
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 30));
      const waf = Waf.fromText(`${RULES}SecRule ARGS:q "@streq reload${i}" "id:${300 + i},phase:1,deny,status:403"\n`);
      const report = p.proxy.reload(config, waf, p.logs);
      assert.equal(report.upstreamsKept, 1);
    }
    stop = true;
    await Promise.all(workers);
    await client.close();
    assert.ok(results.length > 50, `only ${results.length} requests`);
    assert.deepEqual([...new Set(results)], [200]);
    assert.equal((await send(`${p.url}/?q=reload9`)).status, 403);
    assert.ok(up.connections <= 9, `${up.connections} upstream connections`);
  });
});

test('a reload that fails (bad upstream URL) changes nothing', async () => {
  await withProxy(RULES, async (p) => {
    const before = p.proxy.generation;
    const bad = { ...before.config, upstreams: [upstreamConfig('app', 'ftp://nope')] };
    assert.throws(() => p.proxy.reload(bad, Waf.fromText(RULES), p.logs), { code: 'WARDEN_PROXY_CONFIG' });
    assert.equal(p.proxy.generation, before);
    assert.equal((await send(`${p.url}/`)).status, 200);
  });
});
