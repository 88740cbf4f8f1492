/**
 * @module test/adapters/contract
 * One contract every middleware adapter meets, run against each (hono's way): real servers
 * on loopback, a real HTTP client, and the answers a user would see. Each adapter's test
 * file supplies a harness that serves the same small app in its framework's own idiom:
 *
 *   POST /echo      answers the request body exactly as the app read it (octet-stream)
 *   GET  /page      text/html; with ?leak=1 the page holds "SECRET-LEAK" and sets a cookie
 *   GET  /leaky     sets X-Powered-By: LeakyServer/1.0
 *   GET  /stream    application/octet-stream: "first\n", then waits for the test's go, "second\n"
 *   GET  /big       text/html of ?kb= KiB, piped from a Readable in 16 KiB chunks; with
 *                   ?leak=1 its last chunk holds "SECRET-LEAK"
 *   GET  /cut       application/octet-stream with X-Cut: 1, "part\n" then "rest\n"
 *   GET  /late      application/json {"ok":true} with X-Late: 1, sent in one piece
 *   GET  /hello     text/plain "hello"
 *
 * A harness may declare contract items its framework cannot meet, with the reason; they are
 * reported as skipped with that reason, never silently passed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { ResponseSummary } from '../../src/audit/types.js';
import type { WardenMiddlewareOptions } from '../../src/adapters/index.js';
import { Waf, type Transaction } from '../../src/engine/index.js';

/** Where the test app's /stream route waits; the test releases it after the first chunk. */
export interface StreamGate {
  wait(): Promise<void>;
}

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface AdapterHarness {
  readonly name: string;
  /** Serves the contract app behind Warden on 127.0.0.1 (port 0). */
  start(options: WardenMiddlewareOptions, gate: StreamGate): Promise<RunningServer>;
  /** Contract items this framework cannot meet, with the reason. */
  readonly cannot?: Readonly<Record<string, string>>;
}

const RULES = `
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 65536
SecRequestBodyNoFilesLimit 65536
SecRequestBodyLimitAction Reject
SecResponseBodyAccess On
SecResponseBodyMimeTypesClear
SecResponseBodyMimeType text/html text/plain
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/json" "id:10,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule ARGS "@contains <script>" "id:100,phase:2,deny,status:403,log,msg:'Script tag in an argument'"
SecRule ARGS:q "@streq teapot" "id:101,phase:1,deny,status:418,log,msg:'Teapot'"
SecRule REQUEST_HEADERS:X-Attack "@streq 1" "id:102,phase:1,deny,status:403,log,msg:'Attack header'"
SecRule ARGS:drop "@streq 1" "id:103,phase:1,drop,log,msg:'Dropped'"
SecRule ARGS:go "@streq away" "id:104,phase:1,redirect:https://example.com/blocked,log,msg:'Redirected'"
SecRule RESPONSE_HEADERS:X-Powered-By "@contains Leaky" "id:106,phase:3,deny,status:502,log,msg:'Leaky server header'"
SecRule RESPONSE_BODY "@contains SECRET-LEAK" "id:107,phase:4,deny,status:500,log,msg:'Data leak'"
SecRule REMOTE_ADDR "@ipMatch 203.0.113.9" "id:108,phase:1,deny,status:403,log,msg:'Known bad client'"
SecRule RESPONSE_STATUS "@rx ^2" "id:109,phase:5,pass,log,msg:'Logging phase ran'"
SecRule RESPONSE_HEADERS:X-Cut "@streq 1" "id:110,phase:4,deny,status:403,log,msg:'Phase 4 on a streamed response'"
SecRule RESPONSE_HEADERS:X-Late "@streq 1" "id:111,phase:4,deny,status:403,log,msg:'Phase 4 on a response sent whole'"
SecRule RESPONSE_STATUS "@rx ^2" "id:112,phase:4,pass,log,msg:'Response body phase ran'"
`;

const enforcing = Waf.fromText(RULES, { file: 'contract.conf' });
const detecting = Waf.fromText(`${RULES}\nSecRuleEngine DetectionOnly\n`, { file: 'contract.conf' });
const partial = Waf.fromText(`${RULES}\nSecRequestBodyLimitAction ProcessPartial\n`, { file: 'contract.conf' });

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request on a fresh connection; rejects when the connection closes without an answer. */
export function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
  onFirstChunk?: (chunk: Buffer) => void,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (chunks.length === 0) onFirstChunk?.(c);
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Collects what the adapter hands the logs after phase 5. */
function recorder(): { done: Array<{ tx: Transaction; response: ResponseSummary }>; logs: WardenMiddlewareOptions['logs']; next(): Promise<{ tx: Transaction; response: ResponseSummary }> } {
  const done: Array<{ tx: Transaction; response: ResponseSummary }> = [];
  const waiting: Array<(e: { tx: Transaction; response: ResponseSummary }) => void> = [];
  return {
    done,
    logs: {
      transactionDone(tx, response) {
        const e = { tx, response };
        const w = waiting.shift();
        if (w !== undefined) w(e);
        else done.push(e);
      },
    },
    next() {
      const e = done.shift();
      return e !== undefined ? Promise.resolve(e) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

function releasable(): StreamGate & { release(): void } {
  let open: () => void = () => undefined;
  let p = new Promise<void>((r) => (open = r));
  return {
    wait: () => p,
    release() {
      open();
      p = new Promise<void>((r) => (open = r));
    },
  };
}

/** The /big page: `kb` KiB of HTML in 16 KiB chunks, the leak (if any) in the last one. */
export function bigPage(kb: number, leak: boolean): Readable {
  const chunk = 16 * 1024;
  const total = kb * 1024;
  function* pieces(): Generator<Buffer> {
    for (let sent = 0; sent < total; sent += chunk) {
      const size = Math.min(chunk, total - sent);
      const piece = Buffer.alloc(size, 0x2e);
      piece.write('<p>', 0);
      if (leak && sent + size >= total) piece.write('SECRET-LEAK', size - 12);
      yield piece;
    }
  }
  return Readable.from(pieces(), { objectMode: false });
}

const ACCEPT_HTML = { accept: 'text/html,application/xhtml+xml' };

/** Registers the contract tests for one adapter. */
export function runContract(h: AdapterHarness): void {
  const item = (name: string, fn: () => Promise<void>): void => {
    const reason = h.cannot?.[name];
    test(`${h.name}: ${name}`, reason === undefined ? {} : { skip: reason }, fn);
  };

  async function withServer(options: Partial<WardenMiddlewareOptions>, fn: (port: number, rec: ReturnType<typeof recorder>, gate: ReturnType<typeof releasable>) => Promise<void>): Promise<void> {
    const rec = recorder();
    const gate = releasable();
    const server = await h.start({ waf: enforcing, logs: rec.logs, ...options }, gate);
    try {
      await fn(server.port, rec, gate);
    } finally {
      gate.release();
      await server.close();
    }
  }

  item('a benign request passes, and phase 5 runs when the response is done', async () => {
    await withServer({}, async (port, rec) => {
      const r = await send(port, 'GET', '/hello?name=ada', ACCEPT_HTML);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'hello');
      const { tx, response } = await rec.next();
      assert.equal(tx.interruption, null);
      assert.deepEqual(tx.matches.map((m) => m.ruleId), [112, 109]);
      assert.equal(response.status, 200);
      assert.equal(response.aborted, false);
      assert.ok(response.headers.some(([k, v]) => k.toLowerCase() === 'content-type' && v.startsWith('text/plain')));
    });
  });

  item('request bodies reach the app intact: urlencoded, JSON, binary, several chunks', async () => {
    await withServer({}, async (port) => {
      const form = 'a=1&b=%C3%A9t%C3%A9&c=' + 'x'.repeat(100);
      const r1 = await send(port, 'POST', '/echo', { 'content-type': 'application/x-www-form-urlencoded' }, form);
      assert.equal(r1.status, 200);
      assert.equal(r1.body.toString('latin1'), form);
      const json = JSON.stringify({ user: 'ada', tags: ['a', 'b'], note: 'naïve' });
      const r2 = await send(port, 'POST', '/echo', { 'content-type': 'application/json' }, json);
      assert.equal(r2.body.toString('utf8'), json);
      // Every byte value, 60 KB: several socket reads, just under the 64 KiB limit.
      const binary = Buffer.alloc(60_000, 0);
      for (let i = 0; i < binary.length; i++) binary[i] = (i * 7) & 0xff;
      const r3 = await send(port, 'POST', '/echo', { 'content-type': 'application/octet-stream' }, binary);
      assert.equal(r3.status, 200);
      assert.ok(r3.body.equals(binary), 'binary body unchanged');
    });
  });

  item('an attack in the query is blocked with the rule\'s status and the transaction id', async () => {
    await withServer({}, async (port, rec) => {
      const r = await send(port, 'GET', '/hello?q=teapot', ACCEPT_HTML);
      assert.equal(r.status, 418);
      const id = r.headers['x-warden-transaction'];
      assert.equal(typeof id, 'string');
      assert.match(r.headers['content-type'] ?? '', /^text\/html/);
      assert.ok(r.body.toString().includes(id as string), 'the page quotes the transaction id');
      const { tx, response } = await rec.next();
      assert.equal(tx.id, id);
      assert.deepEqual([tx.interruption?.ruleId, tx.interruption?.phase], [101, 1]);
      assert.equal(response.status, 418);
    });
  });

  item('an attack in the body is blocked (urlencoded and JSON)', async () => {
    await withServer({}, async (port) => {
      const r1 = await send(port, 'POST', '/echo', { 'content-type': 'application/x-www-form-urlencoded' }, 'comment=%3Cscript%3Ealert(1)');
      assert.equal(r1.status, 403);
      const r2 = await send(port, 'POST', '/echo', { 'content-type': 'application/json' }, '{"comment":"<script>alert(1)"}');
      assert.equal(r2.status, 403);
      assert.doesNotMatch(r2.body.toString(), /alert/, 'the app never echoed it');
    });
  });

  item('an attack in a header is blocked', async () => {
    await withServer({}, async (port) => {
      const r = await send(port, 'GET', '/hello', { ...ACCEPT_HTML, 'x-attack': '1' });
      assert.equal(r.status, 403);
    });
  });

  item('a client asking for JSON gets the JSON error page', async () => {
    await withServer({}, async (port) => {
      const r = await send(port, 'GET', '/hello?q=teapot', { accept: 'application/json' });
      assert.equal(r.status, 418);
      assert.match(r.headers['content-type'] ?? '', /^application\/json/);
      const page = JSON.parse(r.body.toString()) as { status: number; transaction: string };
      assert.equal(page.status, 418);
      assert.equal(page.transaction, r.headers['x-warden-transaction']);
    });
  });

  item('drop closes the connection without an answer', async () => {
    await withServer({}, async (port, rec) => {
      await assert.rejects(send(port, 'GET', '/hello?drop=1'), (err: NodeJS.ErrnoException) => ['ECONNRESET', 'EPIPE'].includes(err.code ?? '') || /socket hang up/.test(err.message));
      const { tx, response } = await rec.next();
      assert.equal(tx.interruption?.action, 'drop');
      assert.equal(response.aborted, true);
    });
  });

  item('redirect answers with its Location', async () => {
    await withServer({}, async (port) => {
      const r = await send(port, 'GET', '/hello?go=away', ACCEPT_HTML);
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, 'https://example.com/blocked');
    });
  });

  item('a body over the limit is answered 413 (Reject) without the app or a buffer beyond the limit', async () => {
    await withServer({}, async (port, rec) => {
      const r = await send(port, 'POST', '/echo', { 'content-type': 'application/octet-stream' }, Buffer.alloc(200_000, 0x61));
      assert.equal(r.status, 413);
      assert.equal(r.headers.connection, 'close');
      const { tx } = await rec.next();
      assert.ok(tx.requestBodyChunks.join('').length <= 65536, 'the engine kept no more than the limit');
    });
  });

  item('ProcessPartial: a body over the limit reaches the app whole, inspected up to the limit', async () => {
    await withServer({ waf: partial }, async (port, rec) => {
      const body = Buffer.alloc(200_000, 0x62);
      const r = await send(port, 'POST', '/echo', { 'content-type': 'application/octet-stream' }, body);
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(body), 'the whole body, the part past the limit included');
      const { tx } = await rec.next();
      assert.equal(tx.inboundDataError, true);
    });
  });

  item('DetectionOnly lets attacks through and records them', async () => {
    await withServer({ waf: detecting }, async (port, rec) => {
      const r = await send(port, 'POST', '/echo', { 'content-type': 'application/x-www-form-urlencoded' }, 'comment=%3Cscript%3E');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'comment=%3Cscript%3E');
      const { tx } = await rec.next();
      assert.equal(tx.interruption, null);
      assert.ok(tx.matches.some((m) => m.ruleId === 100 && !m.intercepted));
    });
  });

  item('trusted proxies: the client behind them is REMOTE_ADDR; untrusted peers cannot claim one', async () => {
    await withServer({ trustedProxies: ['127.0.0.1', '::1'] }, async (port) => {
      const r = await send(port, 'GET', '/hello', { 'x-forwarded-for': '203.0.113.9' });
      assert.equal(r.status, 403);
    });
    await withServer({}, async (port) => {
      const r = await send(port, 'GET', '/hello', { 'x-forwarded-for': '203.0.113.9' });
      assert.equal(r.status, 200);
    });
  });

  item('phase 3: a response header rule replaces the response', async () => {
    await withServer({}, async (port) => {
      const r = await send(port, 'GET', '/leaky', ACCEPT_HTML);
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-powered-by'], undefined, 'the app\'s headers are gone');
    });
  });

  item('phase 4: a response body rule replaces the page, and the app\'s cookie does not leak', async () => {
    await withServer({}, async (port, rec) => {
      const ok = await send(port, 'GET', '/page', ACCEPT_HTML);
      assert.equal(ok.status, 200);
      assert.match(ok.body.toString(), /<h1>Welcome<\/h1>/);
      await rec.next();
      const r = await send(port, 'GET', '/page?leak=1', ACCEPT_HTML);
      assert.equal(r.status, 500);
      assert.doesNotMatch(r.body.toString(), /SECRET-LEAK/);
      assert.equal(r.headers['set-cookie'], undefined);
      const { tx, response } = await rec.next();
      assert.deepEqual([tx.interruption?.ruleId, tx.interruption?.phase], [107, 4]);
      assert.equal(response.status, 500);
    });
  });

  item('a response of a type not inspected streams: the first chunk arrives before the app ends', async () => {
    await withServer({}, async (port, _rec, gate) => {
      let sawFirst = false;
      const r = await send(port, 'GET', '/stream', {}, undefined, (chunk) => {
        sawFirst = chunk.toString().startsWith('first');
        gate.release();
      });
      assert.ok(sawFirst, 'first chunk came before the app was let go on');
      assert.equal(r.body.toString(), 'first\nsecond\n');
    });
  });

  item('phase 4 on a response sent whole (type not inspected) still replaces it', async () => {
    await withServer({}, async (port) => {
      const r = await send(port, 'GET', '/late', { accept: 'application/json' });
      assert.equal(r.status, 403);
      assert.doesNotMatch(r.body.toString(), /"ok"/);
    });
  });

  item('phase 4 on a streamed response (type not inspected) can only cut it short', async () => {
    await withServer({}, async (port, rec) => {
      await assert.rejects(send(port, 'GET', '/cut'), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET' || /aborted|socket hang up/.test(err.message));
      const { tx, response } = await rec.next();
      assert.deepEqual([tx.interruption?.ruleId, tx.interruption?.phase], [110, 4]);
      assert.equal(response.aborted, true);
    });
  });

  // ModSecurity v2 refuses an over-limit body only when the engine is On.
  item('DetectionOnly: a body over the limit (Reject) still reaches the app whole', async () => {
    await withServer({ waf: detecting }, async (port) => {
      const body = Buffer.alloc(100_000, 0x63);
      const r = await send(port, 'POST', '/echo', { 'content-type': 'application/octet-stream' }, body);
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(body));
    });
  });

  item('inspected responses piped in chunks arrive whole, within and past SecResponseBodyLimit', async () => {
    await withServer({}, async (port) => {
      for (const kb of [300, 900]) {
        const r = await send(port, 'GET', `/big?kb=${kb}`, ACCEPT_HTML);
        assert.equal(r.status, 200, `${kb} KiB`);
        assert.equal(r.body.length, kb * 1024, `${kb} KiB`);
        assert.ok(r.body.subarray(0, 16).toString().startsWith('<p>'), `${kb} KiB`);
      }
      const leak = await send(port, 'GET', '/big?kb=100&leak=1', ACCEPT_HTML);
      assert.equal(leak.status, 500);
    });
  });

  item('keep-alive: a header that comes back unchanged on the connection is the previous transaction\'s entry', async () => {
    await withServer({}, async (port, rec) => {
      const { Agent } = await import('node:http');
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const one = (probe: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port, path: '/hello', agent, headers: { 'x-probe': probe } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        });
      try {
        assert.deepEqual([await one('a'), await one('a'), await one('b')], [200, 200, 200]);
        const txs = [(await rec.next()).tx, (await rec.next()).tx, (await rec.next()).tx];
        const probe = (tx: Transaction) => tx.requestHeaders.find((e) => e.key.toLowerCase() === 'x-probe');
        assert.equal(probe(txs[1] as Transaction), probe(txs[0] as Transaction));
        assert.notEqual(probe(txs[2] as Transaction), probe(txs[1] as Transaction));
        assert.equal(probe(txs[2] as Transaction)?.value, 'b');
      } finally {
        agent.destroy();
      }
    });
  });

  item('keep-alive: blocked and passed requests share a connection correctly', async () => {
    await withServer({}, async (port) => {
      const { Agent } = await import('node:http');
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const one = (path: string, body?: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', agent, headers: body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end(body);
        });
      try {
        assert.deepEqual(
          [await one('/hello'), await one('/hello?q=teapot'), await one('/echo', 'a=1'), await one('/echo', 'a=%3Cscript%3E'), await one('/hello')],
          [200, 418, 200, 403, 200],
        );
      } finally {
        agent.destroy();
      }
    });
  });
}
