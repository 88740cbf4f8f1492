/**
 * @module test/reliability/fuzz/http
 * HTTP framing through the real listener: `warden start` (one worker, Warden's default
 * rules) in front of a recording upstream, fed raw bytes over TCP, one connection per input
 * (an input may hold several pipelined requests), many connections at once. The client
 * sends, reads the answers, half-closes, and reads until the server closes.
 *
 * Every input must end in a defined answer (an HTTP status Warden documents, or the
 * answer-less close of a request cut short) within the bound; escapes are: no close within
 * the bound (hang), a 5xx other than 501/505 (the proxy failed or forwarded something its
 * upstream could not read), a reset without an answer, the upstream's own parser refusing
 * what Warden forwarded, a request reaching the upstream with two framings, or a worker
 * dying (counted from the primary's log).
 */
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { COMMON_TOKENS, bytes, mutated } from './mutate.js';
import { rawRequestSeeds } from './seeds.js';
import { projectRoot } from '../../support/shared.js';
import { loadFixtures, saveFixture, type EscapeRecord } from './runner.js';
import { startRecordingUpstream, startWarden, type RecordingUpstream, type WardenProcess } from '../warden.js';

export type HttpEscapeKind = 'hang' | 'server-error' | 'reset' | 'upstream-parse' | 'ambiguous' | 'worker-died';
export const HTTP_ESCAPE_KINDS: readonly HttpEscapeKind[] = ['hang', 'server-error', 'reset', 'upstream-parse', 'ambiguous', 'worker-died'];

export interface HttpFuzzResult {
  readonly name: 'http';
  readonly what: string;
  readonly inputs: number;
  readonly fixtures: number;
  readonly escapes: Record<HttpEscapeKind, number>;
  readonly escapeTotal: number;
  readonly examples: readonly (EscapeRecord | { kind: HttpEscapeKind; index: number | null; fixture: string | null; message: string; ms: number; saved: string | null })[];
  /** Answers by status ("close" for a close without an answer, "0.9" for an HTTP/0.9 body). */
  readonly answers: Record<string, number>;
  readonly forwarded: number;
  readonly seconds: number;
  readonly maxMs: number;
  readonly seed: number;
  readonly seedCount: number;
  readonly concurrency: number;
}

export interface HttpFuzzOptions {
  readonly count: number;
  readonly seed: number;
  readonly concurrency: number;
  /** A connection not closed by the server this long after the input was sent (and half-closed) is a hang. */
  readonly hangMs: number;
  readonly fixturesDir: string;
  readonly save: boolean;
  readonly log: (line: string) => void;
  /** Stop taking new inputs after this long (the figures then say how many ran). */
  readonly maxSeconds?: number;
}

/**
 * Statuses Warden answers malformed, refused or forwarded requests with (the upstream
 * answers 200; 417 is Node's answer to an Expect other than 100-continue, RFC 9110
 * §10.1.1), and those its default rules set (`status:NNN` in rules/, read at start).
 */
const DEFINED = new Set([200, 400, 403, 404, 405, 408, 413, 414, 417, 431, 501, 505]);

function ruleStatuses(): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.conf')) for (const m of readFileSync(join(d, e.name), 'utf8').matchAll(/status:(\d{3})/g)) out.push(Number(m[1]));
    }
  };
  walk(join(projectRoot, 'rules'));
  return out;
}
const BATCH = 200;
const MAX_INPUT = 64 * 1024;

// ------------------------------------------------------------------- generator

/** Mostly well-formed pieces, sometimes odd ones: most requests then carry one anomaly, not five. */
function mostly<T>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 5, arbitrary: usual }, { weight: 1, arbitrary: odd });
}
const methods = mostly(fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'OPTIONS', 'DELETE', 'PATCH'), fc.constantFrom('CONNECT', 'TRACE', 'FOO', 'get', 'G ET', '', 'GET\0', 'PRI'));
const targets = mostly(
  fc.oneof(fc.constantFrom('/', '/index.php?id=1', '/a/b.html', '/search?q=caf%C3%A9&x=1', '/xmlrpc.php', '/?a[]=1&a[]=2'), fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`))),
  fc.oneof(
    fc.constantFrom('/a%00b', '/%zz', '//double', '/../../etc/passwd', 'http://a/', 'http://b:80/x', 'https://a/', '*', 'a:443', '/a b', '/\xff\xfe', '/?q=\x00', '/\u00e9', '/' + 'a'.repeat(9000)),
    fc.string({ maxLength: 20 }).map((s) => `/${s}`),
    bytes(12).map((s) => `/${s}`),
  ),
);
const versions = mostly(fc.constantFrom('HTTP/1.1', 'HTTP/1.0'), fc.constantFrom('HTTP/0.9', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/1.10', 'http/1.1', 'HTTP/1.1 ', '', 'HTTP/1'));
const oddHeader: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.constantFrom<[string, string]>(
    ['Host', 'a'], ['Host', 'b'], ['Host', ''], ['Host', 'a b'], ['host', 'a'],
    ['Content-Length', '-1'], ['Content-Length', '+5'], ['Content-Length', '5, 5'], ['Content-Length', ' 5'], ['Content-Length', '99999999999999999999'], ['Content-Length', '0x5'], ['Content-Length', ''], ['Content-Length', '5'],
    ['Transfer-Encoding', 'chunked, gzip'], ['Transfer-Encoding', 'gzip, chunked'], ['Transfer-Encoding', ' chunked'], ['Transfer-Encoding', 'chunked\t'], ['Transfer-Encoding', 'xchunked'], ['Transfer-Encoding', 'identity'], ['Transfer-Encoding\t', 'chunked'], ['Transfer-Encoding ', 'chunked'], [' Transfer-Encoding', 'chunked'], ['Transfer-encoding', 'cHuNkEd'], ['Transfer-Encoding', 'chunked'],
    ['Connection', 'content-length'], ['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Upgrade', 'h2c'], ['Expect', 'x'], ['X-Forwarded-For', 'x, y, ::1'], ['Forwarded', 'for="[::1]"'],
    ['Range', 'bytes=0-1,2-3'], ['Trailer', 'X'], ['TE', 'trailers'], ['Proxy-Connection', 'keep-alive'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
  ),
  fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 })),
  fc.tuple(bytes(8), bytes(16)),
);
const usualHeader: fc.Arbitrary<[string, string]> = fc.constantFrom<[string, string]>(
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0'], ['Accept', 'text/html,application/xhtml+xml,*/*;q=0.8'], ['Accept-Language', 'en-US,en;q=0.5'], ['Accept-Encoding', 'gzip, deflate'],
  ['Cookie', 'a=b; session=123'], ['Connection', 'keep-alive'], ['Connection', 'close'], ['Content-Type', 'application/json'], ['Content-Type', 'multipart/form-data; boundary=x'], ['Content-Type', 'text/xml'],
  ['Content-Type', 'application/x-www-form-urlencoded'], ['X-Forwarded-For', '203.0.113.1'], ['Referer', 'http://a/'], ['Expect', '100-continue'], ['User-Agent', 'PHP/5.2.10'],
);
const headerArb = mostly(usualHeader, oddHeader);
const eol = mostly(fc.constant('\r\n'), fc.constantFrom('\n', '\r', '\r\r\n'));
const chunked = fc.oneof(
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }).map((cs) => cs.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n'),
  fc.constantFrom('0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\nx\r\n0\r\n\r\n', 'ffffffffffffffffff\r\nx\r\n0\r\n\r\n', '5;ext=1\r\nhello\r\n0\r\nX: y\r\n\r\n', '5\r\nhelloXX\r\n0\r\n\r\n', '5\nhello\n0\n\n', '-1\r\n\r\n', '5\r\nhel', '0\r\n', '\r\n0\r\n\r\n', '1\r\nG\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'),
);
const body = fc.oneof(fc.constant(''), fc.constant(''), fc.string({ maxLength: 40 }), bytes(40), chunked, fc.constantFrom('{"a":1}', '<a>x</a>', 'a=1&b=2', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n', "id=1' or 1=1--"));
const request = fc
  .tuple(methods, targets, versions, fc.boolean(), fc.array(headerArb, { maxLength: 8 }), eol, body, fc.nat(9))
  .map(([m, t, v, host, hs, e, b, frame]) => {
    let head = `${m} ${t}${v === '' ? '' : ` ${v}`}${e}`;
    if (host) head += `Host: a${e}`;
    for (const [k, val] of hs) head += `${k}: ${val}${e}`;
    // Usually framed as a client would frame it; sometimes left to the odd headers (or to nothing).
    if (b !== '' && frame < 7 && !hs.some(([k]) => /content-length|transfer-encoding/i.test(k))) {
      head += /^[0-9a-f]+(;[^\r\n]*)?\r?\n/.test(b) && frame < 3 ? `Transfer-Encoding: chunked${e}` : `Content-Length: ${b.length}${e}`;
    }
    return `${head}${e}${b}`;
  });
const grammar = fc.array(request, { minLength: 1, maxLength: 3 }).map((rs) => rs.join(''));

const HTTP_TOKENS = [...COMMON_TOKENS, '\r\n\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 0\r\n', 'Content-Length: 1\r\n', 'Host: b\r\n', ' HTTP/1.1\r\n', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', '0\r\n\r\n', ': ', '\r\n ', 'Expect: 100-continue\r\n'];

/** The HTTP input generator: mutated CRS requests and requests built from HTTP's grammar. */
export function httpArbitrary(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 1, arbitrary: mutated(seeds, HTTP_TOKENS, MAX_INPUT) }, { weight: 1, arbitrary: grammar.map((s) => s.slice(0, MAX_INPUT)) });
}

// ------------------------------------------------------------------- exchange

interface Outcome {
  readonly answer: string;
  readonly reset: boolean;
  readonly hung: boolean;
  readonly ms: number;
  readonly firstLine: string;
}

/** How long the client waits for a first answer before it half-closes, and the quiet after an answer that ends it. */
const FIRST_ANSWER_MS = 500;
const QUIET_MS = 50;

/**
 * Sends one input. The client half-closes once the server has answered and gone quiet (or
 * has said nothing for FIRST_ANSWER_MS): a request cut short then meets the end of the
 * stream, and a kept-alive connection is closed by the server at once. (Half-closing right
 * after the input would not do: Node's HTTP server, like Warden's listener, drops a request
 * whose client half-closed before it was answered.)
 */
function exchange(port: number, input: string, hangMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    let reset = false;
    let settled = false;
    let quiet: NodeJS.Timeout | null = null;
    const socket = connect(port, '127.0.0.1');
    const halfClose = (): void => {
      if (!socket.destroyed && socket.writable) socket.end();
    };
    const finish = (hung: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (quiet !== null) clearTimeout(quiet);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      // 1xx answers (100 Continue) are interim: the first final status is the answer.
      const statuses = raw.startsWith('HTTP/') ? [...raw.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/g)] : [];
      const final = statuses.find((m) => Number(m[1]) >= 200);
      const answer = raw.length === 0 ? 'close' : final !== undefined ? (final[1] as string) : statuses.length > 0 ? 'close' : '0.9';
      resolve({ answer, reset, hung, ms: performance.now() - t0, firstLine: (final?.[0] ?? raw.split('\r\n')[0] ?? '').trim().slice(0, 120) });
    };
    const timer = setTimeout(() => finish(true), hangMs);
    socket.on('connect', () => {
      socket.write(Buffer.from(input, 'latin1'));
      quiet = setTimeout(halfClose, FIRST_ANSWER_MS);
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (quiet !== null) clearTimeout(quiet);
      quiet = setTimeout(halfClose, QUIET_MS);
    });
    socket.on('error', () => {
      reset = true;
    });
    socket.on('close', () => finish(false));
  });
}

// ------------------------------------------------------------------- campaign

const WARDEN_YAML = (upstream: string): string => `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ url: "${upstream}", headersTimeout: 5s, bodyTimeout: 5s }]
proxy:
  requestHeadersTimeout: 5s
  requestTimeout: 10s
  keepAliveTimeout: 2s
dataDir: data
logs: { error: error.log, access: null }
jails: {}
`;

/**
 * Runs the HTTP framing campaign: `warden start` is started and stopped here.
 *
 * @example
 * const r = await fuzzHttp({ count: 2000, seed: 1, concurrency: 16, hangMs: 20_000, fixturesDir, save: true, log: console.log });
 */
export async function fuzzHttp(options: HttpFuzzOptions): Promise<HttpFuzzResult> {
  const t0 = Date.now();
  for (const s of ruleStatuses()) DEFINED.add(s);
  const dir = mkdtempSync(join(tmpdir(), 'warden-fuzz-http-'));
  const seeds = rawRequestSeeds();
  const arb = httpArbitrary(seeds.length > 0 ? seeds : ['GET / HTTP/1.1\r\nHost: a\r\n\r\n']);
  const escapes: Record<HttpEscapeKind, number> = { hang: 0, 'server-error': 0, reset: 0, 'upstream-parse': 0, ambiguous: 0, 'worker-died': 0 };
  const examples: HttpFuzzResult['examples'][number][] = [];
  const answers: Record<string, number> = {};
  const savedPerKey = new Map<string, number>();
  let maxMs = 0;
  let up: RecordingUpstream | null = null;
  let w: WardenProcess | null = null;
  const fixtures = loadFixtures(options.fixturesDir, 'http', 'latin1');
  let inputs = 0;
  try {
    up = await startRecordingUpstream();
    w = await startWarden(dir, WARDEN_YAML(up.url), { workers: 1 });
    const warden = w;
    const upstream = up;
    const record = (kind: HttpEscapeKind, index: number | null, fixture: string | null, message: string, ms: number, input: string | null): void => {
      escapes[kind]++;
      let saved: string | null = null;
      const key = `${kind}:${message.slice(0, 60)}`;
      if (options.save && fixture === null && input !== null && (savedPerKey.get(key) ?? 0) < 5) {
        savedPerKey.set(key, (savedPerKey.get(key) ?? 0) + 1);
        saved = saveFixture(options.fixturesDir, 'http', kind, input, 'latin1');
      }
      if (examples.length < 20) examples.push({ kind, index, fixture, message, ms, saved });
      options.log(`fuzz http: ESCAPE ${kind} at ${fixture ?? `input ${index}`}: ${message}${saved !== null ? ` (saved ${saved})` : ''}`);
    };
    let diedSeen = 0;
    let parseSeen = 0;
    let ambiguousSeen = 0;
    const check = (index: number | null, fixture: string | null, input: string, o: Outcome): void => {
      answers[o.answer] = (answers[o.answer] ?? 0) + 1;
      if (process.env.WARDEN_FUZZ_SHOW === o.answer) options.log(`fuzz http: ${o.answer}${o.reset ? ' (reset)' : ''}: ${JSON.stringify(input.slice(0, 300))}`);
      maxMs = Math.max(maxMs, o.ms);
      if (o.hung) record('hang', index, fixture, `no close within ${options.hangMs} ms (answer so far: ${o.firstLine || 'none'})`, o.ms, input);
      else if (/^5\d\d$/.test(o.answer) && !DEFINED.has(Number(o.answer))) record('server-error', index, fixture, `answered ${o.firstLine}`, o.ms, input);
      else if (o.answer === 'close' && o.reset) record('reset', index, fixture, 'connection reset without an answer', o.ms, input);
      else if (/^\d{3}$/.test(o.answer) && !DEFINED.has(Number(o.answer))) record('server-error', index, fixture, `undocumented status: ${o.firstLine}`, o.ms, input);
      const died = warden.stderr.filter((l) => /worker \d+ died/.test(l)).length;
      if (died > diedSeen) {
        diedSeen = died;
        record('worker-died', index, fixture, warden.stderr.filter((l) => /died|Error|error/.test(l)).slice(-3).join(' | '), o.ms, input);
      }
      if (upstream.parseErrors.length > parseSeen) {
        record('upstream-parse', index, fixture, upstream.parseErrors.slice(parseSeen).join(' | ').slice(0, 300), o.ms, input);
        parseSeen = upstream.parseErrors.length;
      }
      if (upstream.ambiguous.length > ambiguousSeen) {
        record('ambiguous', index, fixture, upstream.ambiguous.slice(ambiguousSeen).join(' | ').slice(0, 300), o.ms, input);
        ambiguousSeen = upstream.ambiguous.length;
      }
    };
    // Fixtures one at a time, so what the upstream and the primary report is theirs.
    for (const [name, input] of fixtures) check(null, name, input, await exchange(warden.port, input, options.hangMs));
    let lastLog = Date.now();
    // A stream of inputs (sampled a batch at a time, input i from batch ⌊i/BATCH⌋) that
    // every lane pulls from, so one slow exchange never holds up the others.
    let batchNo = -1;
    let batch: string[] = [];
    const inputAt = (i: number): string => {
      const b = Math.floor(i / BATCH);
      if (b !== batchNo) {
        batchNo = b;
        batch = fc.sample(arb, { seed: (options.seed + b) | 0, numRuns: BATCH });
      }
      return batch[i % BATCH] as string;
    };
    let next = 0;
    const lanes = Array.from({ length: options.concurrency }, async () => {
      for (let i = next++; i < options.count; i = next++) {
        if (options.maxSeconds !== undefined && Date.now() - t0 > options.maxSeconds * 1000) break;
        if (warden.exited) throw new Error(`warden exited during the campaign:\n${warden.stderr.slice(-20).join('\n')}`);
        const input = inputAt(i);
        check(i, null, input, await exchange(warden.port, input, options.hangMs));
        inputs++;
        if (Date.now() - lastLog > 15_000) {
          lastLog = Date.now();
          options.log(`fuzz http: ${inputs.toLocaleString('en-US')}/${options.count.toLocaleString('en-US')} inputs, ${Math.round(inputs / ((Date.now() - t0) / 1000))}/s, escapes ${Object.values(escapes).reduce((x, c) => x + c, 0)}`);
        }
      }
    });
    await Promise.all(lanes);
  } finally {
    await w?.stop();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const escapeTotal = Object.values(escapes).reduce((a, b) => a + b, 0);
  return {
    name: 'http',
    what: 'raw bytes to `warden start` (1 worker, default rules) over TCP, one connection per input (1–3 pipelined requests), half-closed after the answers',
    inputs,
    fixtures: fixtures.length,
    escapes,
    escapeTotal,
    examples,
    answers,
    forwarded: up?.seen.length ?? 0,
    seconds: (Date.now() - t0) / 1000,
    maxMs,
    seed: options.seed,
    seedCount: seeds.length,
    concurrency: options.concurrency,
  };
}
