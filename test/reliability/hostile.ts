/**
 * @module test/reliability/hostile
 * Hostile clients against `warden start` (one worker, Warden's default rules) in front of a
 * recording upstream, over raw TCP: slow headers and bodies (slowloris), huge header counts,
 * request smuggling variants, pipelining, HTTP/1.0 and absolute-form requests, invalid UTF-8
 * and NUL bytes. Each case says what answer it must get, within what time (the configured
 * timeouts plus the listener's checking interval), and what the upstream must have received
 * — nothing, or exactly the requests a strict parser reads one way.
 */
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRecordingUpstream, startWarden, sleep, type RecordingUpstream, type SeenRequest, type WardenProcess } from './warden.js';
import type { HostileCase } from './results.js';

/** The timeouts the hostile cases run with (short, so slow clients are cut quickly). */
export const HOSTILE_TIMEOUTS = { requestHeadersTimeoutMs: 2000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 1000 };

export const HOSTILE_YAML = (upstream: string): string => `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ url: "${upstream}", headersTimeout: 5s, bodyTimeout: 5s }]
proxy:
  requestHeadersTimeout: ${HOSTILE_TIMEOUTS.requestHeadersTimeoutMs}ms
  requestTimeout: ${HOSTILE_TIMEOUTS.requestTimeoutMs}ms
  keepAliveTimeout: ${HOSTILE_TIMEOUTS.keepAliveTimeoutMs}ms
dataDir: data
logs: { error: error.log, access: null }
jails: {}
`;

/** What a client does on its connection. */
type Script = (socket: Socket) => Promise<void>;

export interface HostileCaseDef {
  readonly name: string;
  readonly script: Script;
  /** Final statuses in order, then "close" when the connection must be closed by Warden. */
  readonly expected: readonly string[];
  /** The whole exchange must be over (closed by Warden) within this. */
  readonly withinMs: number;
  /** What the upstream must have received: the method and URL of each request, in order. */
  readonly upstream: readonly string[];
  /** Further checks on what reached the upstream; a message when wrong. */
  readonly checkUpstream?: (seen: readonly SeenRequest[]) => string | null;
}

const send = (bytes: string): Script => async (s) => {
  s.write(Buffer.from(bytes, 'latin1'));
};

const sendAndEnd = (bytes: string): Script => async (s) => {
  s.end(Buffer.from(bytes, 'latin1'));
};

/** Sends `head` then `piece` every `everyMs`, for as long as the connection is open (at most `maxMs`). */
const drip = (head: string, piece: string, everyMs: number, maxMs: number): Script => async (s) => {
  s.write(Buffer.from(head, 'latin1'));
  const t0 = Date.now();
  while (!s.destroyed && s.writable && Date.now() - t0 < maxMs) {
    await sleep(everyMs);
    if (!s.destroyed && s.writable) s.write(Buffer.from(piece, 'latin1'));
  }
};

const GET = (target: string, extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
/** The listener checks its timeouts every requestHeadersTimeout/4; the answer comes by then plus a margin for a loaded machine. */
const SLACK = 1500;
const QUICK = 3000;

const manyHeaders = (n: number, line: (i: number) => string): string => Array.from({ length: n }, (_, i) => line(i)).join('');

export const hostileCases: readonly HostileCaseDef[] = [
  // Slow clients
  { name: 'slowloris: a header byte every 300 ms, never ending the head', script: drip('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ', 'a', 300, 20_000), expected: ['408', 'close'], withinMs: HOSTILE_TIMEOUTS.requestHeadersTimeoutMs + SLACK, upstream: [] },
  { name: 'slowloris: a new header line every 300 ms', script: drip('GET / HTTP/1.1\r\nHost: a\r\n', 'X-A: b\r\n', 300, 20_000), expected: ['408', 'close'], withinMs: HOSTILE_TIMEOUTS.requestHeadersTimeoutMs + SLACK, upstream: [] },
  { name: 'slow head that stops (nothing more sent)', script: send('GET / HTTP/1.1\r\nHost: a\r\n'), expected: ['408', 'close'], withinMs: HOSTILE_TIMEOUTS.requestHeadersTimeoutMs + SLACK, upstream: [] },
  {
    name: 'slow body: Content-Length 100000, a byte every 300 ms',
    script: drip('POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\na=', 'b', 300, 20_000),
    expected: ['408', 'close'],
    withinMs: HOSTILE_TIMEOUTS.requestTimeoutMs + SLACK,
    upstream: [],
  },
  {
    name: 'slow chunked body: a chunk every 300 ms, never the last',
    script: drip('POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n', '1\r\nb\r\n', 300, 20_000),
    expected: ['408', 'close'],
    withinMs: HOSTILE_TIMEOUTS.requestTimeoutMs + SLACK,
    upstream: [],
  },
  { name: 'idle keep-alive connection after one request', script: send(GET('/idle')), expected: ['200', 'close'], withinMs: HOSTILE_TIMEOUTS.keepAliveTimeoutMs + SLACK, upstream: ['GET /idle'] },
  // Header counts and sizes
  { name: '3,000 tiny headers (over maxHeaderSize 16 KiB)', script: send(`GET / HTTP/1.1\r\nHost: a\r\n${manyHeaders(3000, (i) => `X${i}: v\r\n`)}\r\n`), expected: ['431', 'close'], withinMs: QUICK, upstream: [] },
  { name: '2,500 one-letter headers within 16 KiB', script: send(`GET /many HTTP/1.1\r\nHost: a\r\n${manyHeaders(2500, () => 'a:\r\n')}\r\n`), expected: ['200', 'close'], withinMs: QUICK, upstream: ['GET /many'] },
  { name: 'one 20 KiB header value', script: send(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(20_480)}\r\n\r\n`), expected: ['431', 'close'], withinMs: QUICK, upstream: [] },
  { name: '9,000-byte request target', script: send(GET(`/${'a'.repeat(9000)}`)), expected: ['200', 'close'], withinMs: QUICK, upstream: [`GET /${'a'.repeat(9000)}`] },
  // Smuggling
  { name: 'CL.TE: Content-Length and Transfer-Encoding', script: send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'TE.CL: Transfer-Encoding then Content-Length', script: send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'TE.TE: chunked and an obfuscated second Transfer-Encoding', script: send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'TE.TE: "Transfer-Encoding : chunked" (space before the colon)', script: send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'TE.TE: "Transfer-Encoding: xchunked"', script: send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'TE.TE: tab before chunked', script: send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'two different Content-Lengths', script: send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'obs-fold continuing a header', script: send('GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'obs-fold hiding Transfer-Encoding', script: send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'bare LF line ends', script: send('GET / HTTP/1.1\nHost: a\n\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'bare CR inside a header line', script: send('GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'chunk size with a bare LF and a smuggled request', script: send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\nG\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'request smuggled in a chunked body is not a request', script: send('POST /c HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n23\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n\r\n0\r\n\r\n'), expected: ['200', 'close'], withinMs: QUICK, upstream: ['POST /c'], checkUpstream: (seen) => (seen[0]?.bodyLength === 35 ? null : `the body reached the upstream as ${seen[0]?.bodyLength} bytes, not 35`) },
  // Pipelining
  { name: 'three pipelined GETs, answered in order', script: send(GET('/p1') + GET('/p2') + GET('/p3', 'Connection: close\r\n')), expected: ['200', '200', '200', 'close'], withinMs: QUICK, upstream: ['GET /p1', 'GET /p2', 'GET /p3'] },
  { name: 'pipelined: a good request, then CL.TE, then one more', script: send(GET('/ok') + 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' + GET('/after')), expected: ['200', '400', 'close'], withinMs: QUICK, upstream: ['GET /ok'] },
  { name: 'pipelined POST with body, then GET', script: send('POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2' + GET('/next', 'Connection: close\r\n')), expected: ['200', '200', 'close'], withinMs: QUICK, upstream: ['POST /form', 'GET /next'] },
  { name: 'pipelined: an attack between two good requests', script: send(GET('/one') + GET('/?q=1%27%20union%20select%20password%20from%20users--') + GET('/three', 'Connection: close\r\n')), expected: ['200', '403', '200', 'close'], withinMs: QUICK, upstream: ['GET /one', 'GET /three'] },
  // HTTP/1.0 and absolute-form
  { name: 'HTTP/1.0 without Host', script: send('GET /ten HTTP/1.0\r\n\r\n'), expected: ['200', 'close'], withinMs: QUICK, upstream: ['GET /ten'] },
  { name: 'HTTP/1.0 keep-alive, two requests', script: send('GET /k1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /k2 HTTP/1.0\r\n\r\n'), expected: ['200', '200', 'close'], withinMs: QUICK, upstream: ['GET /k1', 'GET /k2'] },
  { name: 'HTTP/1.0 with Transfer-Encoding', script: send('POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'absolute-form agreeing with Host', script: send('GET http://a/abs?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), expected: ['200', 'close'], withinMs: QUICK, upstream: ['GET /abs?x=1'] },
  { name: 'absolute-form disagreeing with Host', script: send('GET http://evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  // llhttp reads a request line without a version as the start of an HTTP/1 head and waits
  // for more: a 0.9 client that waits gets the headers timeout's 408, one that ends its side
  // a 400 (both with an HTTP/1.1 status line), and a blank line after it is a 400 at once.
  { name: 'HTTP/0.9 request line, client waits', script: send('GET /\r\n'), expected: ['408', 'close'], withinMs: HOSTILE_TIMEOUTS.requestHeadersTimeoutMs + SLACK, upstream: [] },
  { name: 'HTTP/0.9 request line, client half-closes', script: sendAndEnd('GET /\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'HTTP/0.9 request line and a blank line', script: send('GET /\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  // Bytes
  { name: 'invalid UTF-8 in the path and query', script: send('GET /caf\xe9/\xff\xfe?q=\xc0\xaf HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'percent-encoded invalid UTF-8 in the query', script: send(GET('/u?q=%C0%AF%FF%FE%ED%A0%80', 'Connection: close\r\n')), expected: ['200', 'close'], withinMs: QUICK, upstream: ['GET /u?q=%C0%AF%FF%FE%ED%A0%80'] },
  { name: 'invalid UTF-8 in a header value', script: send(GET('/h', 'X-Name: \xc3\x28\xff\r\nConnection: close\r\n')), expected: ['200', 'close'], withinMs: QUICK, upstream: ['GET /h'], checkUpstream: (seen) => { const i = seen[0]?.rawHeaders.findIndex((h) => h.toLowerCase() === 'x-name') ?? -1; const v = i >= 0 ? seen[0]?.rawHeaders[i + 1] : undefined; return v === '\xc3\x28\xff' ? null : `X-Name reached the upstream as ${JSON.stringify(v)}`; } },
  { name: 'invalid UTF-8 in a form body', script: send('POST /b HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\nConnection: close\r\n\r\na=\xff\xfe\xc0b'), expected: ['200', 'close'], withinMs: QUICK, upstream: ['POST /b'] },
  { name: 'NUL in the path', script: send('GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'percent-encoded NUL in the query', script: send(GET('/n?q=a%00b', 'Connection: close\r\n')), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'NUL in a header name', script: send('GET / HTTP/1.1\r\nHost: a\r\nX\x00: y\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'NUL in a header value', script: send('GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'NUL in the method', script: send('GE\x00T / HTTP/1.1\r\nHost: a\r\n\r\n'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'NUL in a form body', script: send('POST /z HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\nConnection: close\r\n\r\na=\x00bc'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
  { name: 'NUL bytes in a JSON body', script: send('POST /j HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"a":"\x00"}'), expected: ['400', 'close'], withinMs: QUICK, upstream: [] },
];

/**
 * The final statuses of the responses in `raw`, read one after the other by their framing
 * (Content-Length, chunked, or to the end); 1xx answers are skipped. A response that cannot
 * be read ends the list with "garbled".
 */
export function responseStatuses(raw: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < raw.length) {
    const head = raw.indexOf('\r\n\r\n', at);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw.slice(at, at + 16));
    if (head < 0 || m === null) {
      out.push('garbled');
      break;
    }
    const status = m[1] as string;
    const headers = raw.slice(at, head).toLowerCase();
    at = head + 4;
    if (Number(status) < 200) continue;
    out.push(status);
    const cl = /\r\ncontent-length: *(\d+)/.exec(headers);
    if (/\r\ntransfer-encoding: *chunked/.test(headers)) {
      for (;;) {
        const eol = raw.indexOf('\r\n', at);
        if (eol < 0) return out;
        const size = parseInt(raw.slice(at, eol), 16);
        at = eol + 2 + size + 2;
        if (size === 0 || Number.isNaN(size)) break;
      }
    } else if (cl !== null) {
      at += Number(cl[1]);
    } else if (status !== '204' && status !== '304') {
      break;
    }
  }
  return out;
}

interface Exchange {
  readonly answers: string[];
  readonly closed: boolean;
  readonly ms: number;
}

/** Runs a script on a new connection; reads the answers until Warden closes it (or `limitMs`). */
function exchange(port: number, script: Script, limitMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const statuses = raw.startsWith('HTTP/') ? responseStatuses(raw) : raw.length > 0 ? ['0.9'] : [];
      resolve({ answers: closed ? [...statuses, 'close'] : statuses, closed, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), limitMs);
    socket.on('connect', () => void script(socket).catch(() => {}));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
  });
}

/** Runs every case (`only`: those whose name matches) against a `warden start` made here. */
export async function runHostile(only: RegExp | null = null, log: (line: string) => void = () => {}): Promise<HostileCase[]> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-hostile-'));
  let up: RecordingUpstream | null = null;
  let w: WardenProcess | null = null;
  const out: HostileCase[] = [];
  try {
    up = await startRecordingUpstream();
    w = await startWarden(dir, HOSTILE_YAML(up.url), { workers: 1 });
    const cases = hostileCases.filter((c) => only === null || only.test(c.name));
    // Slow cases wait on timeouts, not CPU: they run side by side, the rest one at a time so
    // the upstream's record is theirs alone.
    const run = async (c: HostileCaseDef, upstream: RecordingUpstream, port: number): Promise<HostileCase> => {
      const before = upstream.seen.length;
      const e = await exchange(port, c.script, c.withinMs + 10_000);
      await sleep(100);
      const seen = upstream.seen.slice(before);
      const got = seen.map((s) => `${s.method} ${s.url}`);
      const problems: string[] = [];
      if (e.answers.join(' ') !== c.expected.join(' ')) problems.push(`answered ${e.answers.join(' ') || 'nothing'}, expected ${c.expected.join(' ')}`);
      if (e.ms > c.withinMs) problems.push(`took ${e.ms.toFixed(0)} ms, bound ${c.withinMs} ms`);
      // Pipelined requests may reach the upstream in another order (each on its own upstream connection); the answers keep theirs.
      if ([...got].sort().join('\n') !== [...c.upstream].sort().join('\n')) problems.push(`upstream got [${got.join(', ')}], expected [${c.upstream.join(', ')}]`);
      if (seen.some((s) => !s.complete)) problems.push('the upstream received a request cut short');
      const extra = c.checkUpstream?.(seen) ?? null;
      if (extra !== null) problems.push(extra);
      const r: HostileCase = { name: c.name, expected: `${c.expected.join(' ')} within ${c.withinMs} ms`, answer: e.answers.join(' ') || 'nothing', ms: e.ms, upstream: got.length === 0 ? 'nothing' : got.map((g) => g.slice(0, 40)).join(', '), ok: problems.length === 0 };
      log(`hostile: ${r.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${r.answer} in ${e.ms.toFixed(0)} ms${problems.length > 0 ? ` — ${problems.join('; ')}` : ''}`);
      return problems.length === 0 ? r : { ...r, answer: `${r.answer} (${problems.join('; ')})` };
    };
    const upstream = up;
    const warden = w;
    const slow = cases.filter((c) => c.withinMs > QUICK);
    const quick = cases.filter((c) => c.withinMs <= QUICK);
    const slowResults = await Promise.all(slow.map(async (c) => {
      const e = await exchange(warden.port, c.script, c.withinMs + 10_000);
      return { c, e };
    }));
    await sleep(100);
    for (const { c, e } of slowResults) {
      // Side by side, each case is checked for its own requests; anything else is caught below.
      const got = upstream.seen.filter((s) => c.upstream.includes(`${s.method} ${s.url}`)).map((s) => `${s.method} ${s.url}`);
      const problems: string[] = [];
      if (e.answers.join(' ') !== c.expected.join(' ')) problems.push(`answered ${e.answers.join(' ') || 'nothing'}, expected ${c.expected.join(' ')}`);
      if (e.ms > c.withinMs) problems.push(`took ${e.ms.toFixed(0)} ms, bound ${c.withinMs} ms`);
      if (got.join('\n') !== c.upstream.join('\n')) problems.push(`upstream got [${got.join(', ')}], expected [${c.upstream.join(', ')}]`);
      const r: HostileCase = { name: c.name, expected: `${c.expected.join(' ')} within ${c.withinMs} ms`, answer: e.answers.join(' ') || 'nothing', ms: e.ms, upstream: got.length === 0 ? 'nothing' : got.join(', '), ok: problems.length === 0 };
      log(`hostile: ${r.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${r.answer} in ${e.ms.toFixed(0)} ms${problems.length > 0 ? ` — ${problems.join('; ')}` : ''}`);
      out.push(problems.length === 0 ? r : { ...r, answer: `${r.answer} (${problems.join('; ')})` });
    }
    if (upstream.seen.length !== slow.reduce((n, c) => n + c.upstream.length, 0)) {
      out.push({ name: 'slow cases forwarded nothing else', expected: 'only the idle request', answer: `${upstream.seen.length} requests`, ms: 0, upstream: upstream.seen.map((s) => `${s.method} ${s.url}`).join(', '), ok: false });
    }
    for (const c of quick) out.push(await run(c, upstream, warden.port));
    if (warden.stderr.some((l) => /worker \d+ died/.test(l))) out.push({ name: 'no worker died', expected: 'no "worker died" in the log', answer: warden.stderr.filter((l) => /died/.test(l)).join(' | '), ms: 0, upstream: '', ok: false });
    if (upstream.parseErrors.length > 0 || upstream.ambiguous.length > 0) out.push({ name: 'upstream parsed everything one way', expected: 'no parse errors, no CL+TE', answer: [...upstream.parseErrors, ...upstream.ambiguous].join(' | '), ms: 0, upstream: '', ok: false });
  } finally {
    await w?.stop();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
