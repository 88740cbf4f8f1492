/**
 * A banned peer's connection is answered without Node's HTTP server (proxy/banned.ts):
 * the same answers, records and connection handling as the per-request refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { echoHandler, makeConfig, rawExchange, send, startProxy, startUpstream, upstreamConfig, type RunningProxy, type Upstream } from './support.js';
import type { ProxyBehaviour } from '../../src/config/types.js';
import type { BanList } from '../../src/proxy/types.js';

const RULES = 'SecRuleEngine On\n';

/** A ban list whose contents the test changes. */
function banList(answer: 'forbidden' | 'close' = 'forbidden'): BanList & { banned: Set<string> } {
  const banned = new Set<string>(['127.0.0.1']);
  return { banned, answer, has: (a) => banned.has(a) };
}

interface RawConnection {
  readonly socket: Socket;
  received(): string;
  closed(): boolean;
  /** Waits until `test` holds for what arrived so far, or the connection closes. */
  waitFor(test: (s: string) => boolean): Promise<void>;
}

/** A raw connection that collects what arrives. */
function openRaw(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    let data = '';
    let isClosed = false;
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.on('close', () => (isClosed = true));
    socket.on('error', () => undefined);
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => data,
        closed: () => isClosed,
        async waitFor(test) {
          const deadline = Date.now() + 3000;
          while (!test(data) && !isClosed) {
            if (Date.now() > deadline) throw new Error(`timed out; received so far: ${JSON.stringify(data)}`);
            await new Promise((r) => setTimeout(r, 10));
          }
        },
      }),
    );
    socket.once('error', reject);
  });
}

/**
 * Runs `body` against a proxy with `bans` in front of an echo upstream; afterwards closes
 * the raw connections `open` made, the proxy and the upstream.
 */
async function withBannedProxy(
  bans: BanList,
  proxy: Partial<ProxyBehaviour>,
  body: (p: RunningProxy, up: Upstream, open: () => Promise<RawConnection>) => Promise<void>,
): Promise<void> {
  const up = await startUpstream(echoHandler);
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)], proxy }), RULES, { bans });
  const opened: RawConnection[] = [];
  try {
    await body(p, up, async () => {
      const c = await openRaw(p.port);
      opened.push(c);
      return c;
    });
  } finally {
    for (const c of opened) c.socket.destroy();
    await p.close();
    await up.close();
  }
}

test('each request of a banned peer is answered 403 and logged with its head; pipelined requests get one answer each', async () => {
  await withBannedProxy(banList(), {}, async (p, up) => {
    const r = await rawExchange(p.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n', { idleMs: 300 });
    assert.equal(r.raw.match(/^HTTP\/1\.1 403 Forbidden\r\n/gm)?.length, 2, r.raw);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('connection'), 'keep-alive');
    assert.match(r.headers.get('date') ?? '', /GMT$/);
    assert.equal(r.body.split('HTTP/1.1')[0], '403 client address is banned\n');
    assert.equal(Number(r.headers.get('content-length')), '403 client address is banned\n'.length);
    assert.deepEqual(
      p.logs.refused.map((x) => [x.rawHead, x.status, x.reason, x.clientAddress]),
      [
        ['GET /a HTTP/1.1\r\nHost: x\r\n\r\n', 403, 'client address is banned', '127.0.0.1'],
        ['GET /b HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n', 403, 'client address is banned', '127.0.0.1'],
      ],
    );
    assert.equal(p.proxy.stats.rejected, 2);
    assert.equal(up.connections, 0);
  });
});

test('a banned peer repeating a request gets the same answer each time, in order, up to one that closes the connection', async () => {
  await withBannedProxy(banList(), {}, async (p, up, open) => {
    const c = await open();
    const head = 'GET /xmlrpc.php HTTP/1.1\r\nHost: x\r\n\r\n';
    c.socket.write(head);
    await c.waitFor((s) => s.endsWith('banned\n'));
    // Three more of the same pipelined, the same again but closing, then one never answered.
    c.socket.write(`${head}${head}${head}${head.replace('Host: x', 'Host: x\r\nConnection: close')}${head}`);
    await c.waitFor(() => c.closed());
    const answers = c.received().split(/(?=HTTP\/1\.1 403)/);
    assert.equal(answers.length, 5, c.received());
    assert.deepEqual(
      answers.map((a) => /\r\nConnection: (\S+)/.exec(a)?.[1]),
      ['keep-alive', 'keep-alive', 'keep-alive', 'keep-alive', 'close'],
    );
    for (const a of answers) assert.ok(a.endsWith('\r\n\r\n403 client address is banned\n'), a);
    assert.equal(p.proxy.stats.rejected, 5);
    assert.equal(up.connections, 0);
  });
});

test('a banned peer\'s head that arrives in pieces is answered once it is whole', async () => {
  await withBannedProxy(banList(), {}, async (p, up, open) => {
    const c = await open();
    c.socket.write('GET / HTTP/1.1\r\nHo');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.received(), '');
    c.socket.write('st: x\r\n\r');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.received(), '');
    c.socket.write('\n');
    await c.waitFor((s) => s.endsWith('banned\n'));
    assert.match(c.received(), /^HTTP\/1\.1 403 /);
    assert.equal(c.closed(), false);
  });
});

test('a banned peer\'s connection closes after the answer to a request with a body, HTTP/1.0, Connection: close, Upgrade or an overlong head', async () => {
  await withBannedProxy(banList(), { maxHeaderSize: 1024 }, async (p, up) => {
    const closing = [
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      'NOT A REQUEST\r\n\r\n',
      `GET /${'a'.repeat(2000)}`,
    ];
    for (const bytes of closing) {
      // Whatever follows on the connection is not answered: the connection is closed.
      const r = await rawExchange(p.port, `${bytes}GET /next HTTP/1.1\r\nHost: x\r\n\r\n`, { idleMs: 2000 });
      assert.equal(r.raw.match(/^HTTP\/1\.1 403 /gm)?.length, 1, `${JSON.stringify(bytes.slice(0, 60))}: ${r.raw}`);
      assert.equal(r.headers.get('connection'), 'close', bytes.slice(0, 60));
    }
    for (const bytes of ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade-Insecure-Requests: 1\r\nX-Close: close\r\n\r\n']) {
      const open = await rawExchange(p.port, bytes, { idleMs: 300 });
      assert.equal(open.headers.get('connection'), 'keep-alive', bytes);
    }
    assert.equal(up.connections, 0);
  });
});

test('when the ban is lifted, the open connection closes without answering and the next connection goes through', async () => {
  const bans = banList();
  await withBannedProxy(bans, {}, async (p, up, open) => {
    const c = await open();
    c.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitFor((s) => s.endsWith('banned\n'));
    bans.banned.clear();
    c.socket.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitFor(() => false);
    assert.equal(c.closed(), true);
    assert.equal(c.received().match(/^HTTP\/1\.1 /gm)?.length, 1);
    assert.equal((await send(`${p.url}/3`)).status, 200);
    assert.equal(p.logs.refused.length, 1);
  });
});

test('a peer banned after its connection opened is refused per request on that connection', async () => {
  const bans = banList();
  bans.banned.clear();
  await withBannedProxy(bans, {}, async (p, up, open) => {
    const c = await open();
    c.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitFor((s) => /\r\n\r\n\{.*\}$/s.test(s));
    assert.match(c.received(), /^HTTP\/1\.1 200 /);
    bans.banned.add('127.0.0.1');
    c.socket.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitFor((s) => s.endsWith('banned\n'));
    assert.match(c.received(), /HTTP\/1\.1 403 /);
  });
});

test('behind a trusted proxy the client each request names is what is banned, not the proxy', async () => {
  const bans = banList();
  bans.banned.clear();
  bans.banned.add('192.0.2.7');
  bans.banned.add('127.0.0.1');
  await withBannedProxy(bans, { trustedProxies: ['127.0.0.1'] }, async (p) => {
    const r = await rawExchange(
      p.port,
      'GET /a HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.7\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.8\r\n\r\n',
      { idleMs: 500 },
    );
    assert.deepEqual(r.raw.match(/^HTTP\/1\.1 \d{3}/gm), ['HTTP/1.1 403', 'HTTP/1.1 200'], r.raw);
    assert.equal(p.logs.refused[0]?.clientAddress, '192.0.2.7');
  });
});

test('with bans.answer close a banned peer\'s connection is closed unanswered; closing the proxy closes idle banned connections', async () => {
  const up = await startUpstream(echoHandler);
  const closing = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)] }), RULES, { bans: banList('close') });
  try {
    const r = await rawExchange(closing.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { idleMs: 2000 });
    assert.equal(r.raw, '');
    assert.equal(closing.proxy.stats.rejected, 1);
  } finally {
    await closing.close();
  }
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('app', up.url)] }), RULES, { bans: banList() });
  const c = await openRaw(p.port);
  try {
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitFor((s) => s.endsWith('banned\n'));
    const started = Date.now();
    await p.close();
    // proxy.close(1000) ends open connections after its grace period at the latest.
    assert.ok(Date.now() - started < 3000);
    await c.waitFor(() => false);
    assert.equal(c.closed(), true);
  } finally {
    c.socket.destroy();
    await up.close();
  }
});

test('a banned peer trickling a head is cut off after requestHeadersTimeout, however often it sends', async () => {
  await withBannedProxy(banList(), { requestHeadersTimeout: 300, keepAliveTimeout: 5000 }, async (p, up, open) => {
    const c = await open();
    const started = Date.now();
    for (let i = 0; i < 20 && !c.closed(); i++) {
      c.socket.write('X');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(c.closed(), true);
    assert.ok(Date.now() - started < 1500, `closed after ${Date.now() - started} ms`);
    assert.equal(c.received(), '');
  });
});
