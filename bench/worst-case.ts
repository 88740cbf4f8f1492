/**
 * @module bench/worst-case
 * Adversarial requests through the WAF: what one request can cost at most, and whether a
 * worker keeps answering while such requests arrive.
 *
 * 1. In process (no HTTP): OWASP CRS v4 from ../shared/crs, blocking, request body access on,
 *    at paranoia level 1 and 4; after a warm-up (200 rounds of the side-by-side benchmark's
 *    requests with changing values and of the requests below cut to 256-byte probes, as a
 *    running server has seen its site's traffic and scanners before an attack comes: the
 *    JIT has compiled what they run), each request below goes through every phase (1-5)
 *    five times; the table gives the WAF time of the slowest run and the median, with the
 *    status the WAF answered. WAF time runs from the request line handed to the engine to
 *    the end of phase 5 (the request's strings and body Buffer, as the network would deliver
 *    them, are made before the clock starts), as wall time and as the process's CPU time
 *    over the same span (on a machine shared with other work, wall time also counts the
 *    neighbours). The requests: long
 *    values that go through every transformation CRS uses (URL, HTML entity, JS and CSS
 *    escapes, comments, whitespace, case, path normalisation), thousands of arguments (form,
 *    JSON, query string), deeply nested JSON and XML, a large multipart body, many cookies
 *    and headers, and inputs shaped against CRS's heaviest regexes (SQL, XSS, RCE, PHP and
 *    path rules: long runs of quotes, brackets, tags, separators that make a backtracking
 *    engine retry at every position).
 * 2. Through `warden start` (one worker, CRS PL1, a trivial upstream): the same requests sent
 *    over and over from 4 connections while a benign GET is sent every 20 ms on its own
 *    connection; the benign GET's latency (median, p99, max) is printed next to its latency
 *    with no attack running, and every answer's status is checked (a 5xx or a dropped
 *    connection fails the run). Then the same through nginx + ModSecurity (one worker, the
 *    same CRS and limits), where a request not answered in time is counted, not a failure.
 * 3. The peer: the same requests through nginx + ModSecurity (Debian's libmodsecurity3, the
 *    same CRS and paranoia levels, the same body limits, nginx's own size limits raised so
 *    that every request reaches it) and through the same nginx without it, in turns, one
 *    request at a time: ModSecurity's time is the difference of the two latencies, next to
 *    Warden's WAF time from part 1. Missing nginx or its ModSecurity module is said in the
 *    table, and in CI is a failure.
 *
 * `node --import tsx bench/worst-case.ts [--smoke] [--no-live] [--no-modsecurity] [--rules] [--markdown FILE]`.
 * `--smoke` runs each request once at PL1 (ModSecurity too) and the live part for 2 seconds; `--rules` names,
 * for each request over 50 ms of CPU, the rules that spent most of it. No number is asserted
 * anywhere; the script fails only when a request is not answered or answered with a 5xx.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, Agent } from 'node:http';
import { type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Waf } from '../src/engine/index.js';
import { startBuiltWarden, buildWarden, projectRoot } from './lib/build.js';
import { freePort, missingNginx, withNginxFarm, type ModSecurityLimits, type NginxProxy } from './lib/nginx.js';
import { arrive, runArrived, runRequest, type BenchRequest } from './lib/request.js';
import { scenarios, varyText } from './lib/scenarios.js';

const CRS = join(projectRoot, '..', 'shared', 'crs');

type Attack = BenchRequest;

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const base: Array<[string, string]> = [
  ['Host', 'blog.example.com'],
  ['User-Agent', UA],
  ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
  ['Accept-Language', 'en-US,en;q=0.9'],
];

const post = (name: string, uri: string, type: string, body: string, extra: Array<[string, string]> = []): Attack => ({
  name,
  method: 'POST',
  uri,
  headers: [...base, ...extra, ['Content-Type', type], ['Content-Length', String(Buffer.byteLength(body, 'latin1'))]],
  body,
});
/** What node:http refuses in a path (controls, space, beyond latin1) percent-encoded; the rest raw. */
/** A character as a percent escape (`%0A`). */
const pct = (c: string): string => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`;
const rawUri = (uri: string): string => uri.replace(/[^\u0021-\u00ff]/gu, pct);
const get = (name: string, uri: string, extra: Array<[string, string]> = []): Attack => ({ name, method: 'GET', uri: rawUri(uri), headers: [...base, ...extra] });
const kb = (s: string, bytes: number): string => s.repeat(Math.ceil(bytes / s.length)).slice(0, bytes);
/** A value percent-encoded where the form syntax would cut it (`&`, `=`, `+`, `#`, and `%` itself): it arrives as one value. */
const oneValue = (s: string): string => s.replace(/[%&=+#]/gu, pct);
/** How many arguments `a=b&c…` parses into. */
const argCount = (s: string): string => (s.split('&').length).toLocaleString('en-US');

/** Escapes of every kind CRS decodes, nested: %25 over %u, entities, JS/CSS escapes, comments. */
const EVERY_TRANSFORMATION = "%2527%u0027&#x27;&#39;&apos;\\x27\\u0027\\27 /*c*/--%0a#\r\n\t+UNION%09SeLeCt/**/../..\\\\./%2e%2e%c0%af<sCrIpT>&lt;img src=x&gt;\\0${IFS}`\\'\"";

export function attacks(): Attack[] {
  const form5000 = Array.from({ length: 5000 }, (_, i) => `a${i}=${i % 7 === 0 ? "1'" : 'v'}${i}`).join('&');
  const json10000 = JSON.stringify(Object.fromEntries(Array.from({ length: 10000 }, (_, i) => [`k${i}`, i % 5 === 0 ? '<b>' : `v${i}`])));
  const boundary = '----WardenWorstCase7MA4YWxkTrZu0gW';
  const parts: string[] = [];
  for (let i = 0; i < 100; i++) parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nvalue ${i} ${kb("' or 1=1 -- ", 200)}\r\n`);
  parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n${kb('\x00\x01binary<?php ', 900_000)}\r\n`);
  const multipart = `${parts.join('')}--${boundary}--\r\n`;
  const cookies = Array.from({ length: 1000 }, (_, i) => `c${i}=${i % 3 === 0 ? '%27or%27' : 'x'}${i}`).join('; ');
  const manyHeaders: Array<[string, string]> = Array.from({ length: 100 }, (_, i) => [`X-Custom-${i}`, kb(`v${i} ;|& $(id) `, 100)]);
  const query8k = `q=${kb(EVERY_TRANSFORMATION, 8000)}`;
  const form128k = `comment=${kb(EVERY_TRANSFORMATION, 128_000)}`;
  const form1m = `c=${kb('%u0027%2527&#x3c;\\x3c', 1_000_000)}`;
  return [
    get('8 KB query value through every transformation (one value)', `/?q=${oneValue(kb(EVERY_TRANSFORMATION, 8000))}`),
    get(`8 KB query of every transformation's escapes, raw (${argCount(query8k)} arguments)`, `/?${query8k}`),
    post('128 KB form value through every transformation (one value)', '/wp-comments-post.php', 'application/x-www-form-urlencoded', `comment=${oneValue(kb(EVERY_TRANSFORMATION, 128_000))}`),
    post(`128 KB form of every transformation's escapes, raw (${argCount(form128k)} arguments)`, '/wp-comments-post.php', 'application/x-www-form-urlencoded', form128k),
    post('900 KB form value of escapes (%u, &#, \\x; one value)', '/wp-comments-post.php', 'application/x-www-form-urlencoded', `c=${oneValue(kb('%u0027%2527&#x3c;\\x3c', 900_000))}`),
    post(`1 MB form of escapes (%u, &#, \\x), raw (${argCount(form1m)} arguments)`, '/wp-comments-post.php', 'application/x-www-form-urlencoded', form1m),
    get('1,000 query arguments', `/?${Array.from({ length: 1000 }, (_, i) => `p${i}=${i}`).join('&')}`),
    post('5,000 form arguments', '/wp-admin/admin-ajax.php', 'application/x-www-form-urlencoded', form5000),
    post('10,000 JSON keys', '/wp-json/wp/v2/posts', 'application/json', json10000),
    post('JSON nested 10,000 deep (arrays)', '/wp-json/wp/v2/posts', 'application/json', `${'['.repeat(10000)}1${']'.repeat(10000)}`),
    post('JSON nested 2,000 deep (objects)', '/wp-json/wp/v2/posts', 'application/json', `${'{"a":'.repeat(2000)}"x"${'}'.repeat(2000)}`),
    post('XML nested 5,000 deep', '/xmlrpc.php', 'text/xml', `<?xml version="1.0"?>${'<a>'.repeat(5000)}x${'</a>'.repeat(5000)}`),
    post('1 MB multipart: 100 fields and a 900 KB file', '/wp-admin/async-upload.php', `multipart/form-data; boundary=${boundary}`, multipart),
    get('1,000 cookies', '/', [['Cookie', cookies]]),
    get('100 headers of 100 bytes with shell syntax', '/', manyHeaders),
    get('SQL: 4 KB of quotes and spaces', `/?id=${kb("'\" ", 4000)}`),
    get('SQL: 4 KB of open brackets', `/?id=${kb('(', 4000)}`),
    get('SQL: 4 KB of "or 1=1" runs', `/?id=${kb("1' or '1'='1' or ", 4000)}`),
    post('SQL: 64 KB of comment openers and selects', '/', 'application/x-www-form-urlencoded', `q=${kb('/*!select/*', 64_000)}`),
    get('XSS: 4 KB of unclosed tags and attributes', `/?s=${kb('<a href=javascript:', 4000)}`),
    post('XSS: 64 KB of on-handlers', '/', 'application/x-www-form-urlencoded', `q=${kb('<x onx=', 64_000)}`),
    get('RCE: 4 KB of command separators', `/?cmd=${kb(';|&`$(', 4000)}`),
    post('RCE: 64 KB of words and separators', '/', 'application/x-www-form-urlencoded', `q=${kb('cat /etc/passwd;', 64_000)}`),
    get('PHP: 4 KB of <?php and wrappers', `/?f=${kb('<?php php://filter/', 4000)}`),
    get('path: 4 KB of ../ and encodings', `/${kb('..%2f..%c0%af./', 4000)}x`),
    get('8 KB User-Agent of scanner names', '/', [['User-Agent', kb('nikto sqlmap ', 8000)]]),
    get('8 KB Referer and Accept of commas', '/', [['Referer', kb('http://a/?,', 8000)], ['Accept', kb(',', 8000)]]),
  ];
}

const runOnce = runRequest;

function loadCrs(paranoia: number): Waf {
  return Waf.fromText(
    [
      'SecRuleEngine On',
      'SecRequestBodyAccess On',
      `SecRequestBodyLimit ${WORST_CASE_LIMITS.requestBodyLimit}`,
      `SecRequestBodyNoFilesLimit ${WORST_CASE_LIMITS.requestBodyNoFilesLimit}`,
      `Include ${join(CRS, 'crs-setup.conf.example')}`,
      `SecAction "id:900000,phase:1,pass,nolog,t:none,setvar:tx.blocking_paranoia_level=${paranoia}"`,
      `Include ${join(CRS, 'rules')}/*.conf`,
    ].join('\n'),
    { file: join(CRS, 'bench-worst-case.conf') },
  );
}

interface Timing {
  readonly status: number;
  readonly maxWall: number;
  readonly maxCpu: number;
  readonly medianWall: number;
  readonly medianCpu: number;
}

async function time(waf: Waf, a: Attack, runs: number): Promise<Timing> {
  const walls: number[] = [];
  const cpusUsed: number[] = [];
  let status = 0;
  for (let i = 0; i < runs; i++) {
    const arrived = arrive(a);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    status = await runArrived(waf, arrived);
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpusUsed.push((c.user + c.system) / 1000);
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)] as number;
  return { status, maxWall: Math.max(...walls), maxCpu: Math.max(...cpusUsed), medianWall: median(walls), medianCpu: median(cpusUsed) };
}

const ms = (n: number): string => n.toFixed(n < 10 ? 2 : 1);

/**
 * Where a request's time goes, rule by rule: the request is run again with the engine's trace
 * on, and the CPU time between two trace events (one per value a rule evaluated) is put on
 * the rule of the later one, which spent it transforming and matching that value; what the
 * engine does between phases (reading the body, building collections) lands on the phase's
 * first rule. With the trace on, the engine does not skip rules its prescreen shows cannot
 * match, and each event costs a little: the sum is larger than the request's time without
 * it; the ranking is what it is for.
 */
async function slowestRules(waf: Waf, a: Attack, top: number): Promise<string> {
  const spent = new Map<number, { ms: number; values: number }>();
  let last = process.cpuUsage();
  await runOnce(waf, a, (e) => {
    const used = process.cpuUsage(last);
    const r = spent.get(e.ruleId) ?? { ms: 0, values: 0 };
    r.ms += (used.user + used.system) / 1000;
    r.values++;
    spent.set(e.ruleId, r);
    last = process.cpuUsage();
  });
  const where = new Map(waf.rules.map((r) => [r.id, r.location]));
  return [...spent]
    .sort((x, y) => y[1].ms - x[1].ms)
    .slice(0, top)
    .map(([id, r]) => {
      const loc = where.get(id);
      return `${id} (${loc === undefined ? '?' : `${loc.file.replace(/^.*\//u, '')}:${loc.line}`}) ${ms(r.ms)} ms over ${r.values} value${r.values === 1 ? '' : 's'}`;
    })
    .join('; ');
}

// ---------------------------------------------------------------------------------------
// Live: warden start under the worst cases, a benign GET on the side.

interface Live {
  readonly idle: number[];
  readonly loaded: number[];
  readonly attacksSent: number;
  readonly statuses: Map<number, number>;
  /** Each request's answers through the proxy (-1: the connection was closed). */
  readonly byAttack: Map<string, Set<number>>;
}

function send(port: number, a: Attack, agent: Agent | false, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of a.headers) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    const req = httpRequest({ host: '127.0.0.1', port, method: a.method, path: a.uri, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${timeoutMs / 1000} s to "${a.name}"`), { code: NO_ANSWER })));
    req.on('error', reject);
    req.end(a.body === undefined ? undefined : Buffer.from(a.body, 'latin1'));
  });
}

/** The code of send()'s error when no answer came in time. */
const NO_ANSWER = 'NO_ANSWER';

/**
 * send(), with a connection closed before the answer as status -1 (a refusal may close it
 * before the whole body was sent) and, when `timeouts`, no answer in time as -2.
 */
function sendCounted(port: number, a: Attack, agent: Agent, timeoutMs: number, timeouts: boolean): Promise<number> {
  return send(port, a, agent, timeoutMs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ECONNRESET') return -1;
    if (timeouts && err.code === NO_ANSWER) return -2;
    throw err;
  });
}

/** An answer's status as the tables show it (-1: the connection was closed; -2: no answer in time). */
const statusText = (s: number): string => (s === -1 ? 'closed' : s === -2 ? 'none in time' : String(s));

const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
};

/**
 * The worst cases sent over and over from 4 connections to the proxy on `port` for
 * `seconds`, a benign GET every 20 ms on a fifth, after the benign GET alone for half as
 * long. `peer`: a request not answered within `timeoutMs` is counted (status -2) rather than
 * failing the run, and so is a 5xx; for Warden either fails it.
 */
async function measureLive(port: number, seconds: number, list: readonly Attack[], peer: boolean, timeoutMs: number): Promise<Live> {
  const benign = get('benign GET', '/2025/05/hello-world/?replytocom=12');
  const keep = new Agent({ keepAlive: true, maxSockets: 1 });
  const benignLatencies = async (until: number, into: number[]): Promise<void> => {
    while (Date.now() < until) {
      const t0 = performance.now();
      const status = await sendCounted(port, benign, keep, timeoutMs, peer);
      if (status !== 200 && status !== -2) throw new Error(`the benign GET was answered ${statusText(status)}`);
      into.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  // Warm up, then the benign GET alone, then with the worst cases.
  for (let i = 0; i < 20; i++) await send(port, benign, keep);
  const idle: number[] = [];
  await benignLatencies(Date.now() + seconds * 500, idle);
  const loaded: number[] = [];
  const statuses = new Map<number, number>();
  const byAttack = new Map<string, Set<number>>();
  let sent = 0;
  const until = Date.now() + seconds * 1000;
  const attacker = async (offset: number): Promise<void> => {
    let agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = offset; Date.now() < until; i++) {
        const a = list[i % list.length] as Attack;
        const status = await sendCounted(port, a, agent, timeoutMs, peer);
        if (status >= 500 && !peer) throw new Error(`"${a.name}" was answered ${status}`);
        if (status === -2) {
          agent.destroy();
          agent = new Agent({ keepAlive: true, maxSockets: 1 });
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (!byAttack.has(a.name)) byAttack.set(a.name, new Set());
        byAttack.get(a.name)?.add(status);
        sent++;
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all([benignLatencies(until, loaded), attacker(0), attacker(6), attacker(12), attacker(18)]);
  keep.destroy();
  return { idle, loaded, attacksSent: sent, statuses, byAttack };
}

async function live(seconds: number, list: readonly Attack[]): Promise<Live> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-worst-case-'));
  const children: ChildProcess[] = [];
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok\n'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const build = await buildWarden();
  try {
    const port = await freePort();
    const config = join(dir, 'warden.yaml');
    writeFileSync(
      config,
      `listeners: [{ host: 127.0.0.1, port: ${port} }]
upstreams: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
workers: 1
rules:
  crs: ${JSON.stringify(CRS)}
  mode: on
logs:
  error: ${JSON.stringify(join(dir, 'error.log'))}
dataDir: ${JSON.stringify(join(dir, 'data'))}
`,
    );
    const proc = await startBuiltWarden(build, config, join(dir, 'warden.out'));
    children.push(proc);
    return await measureLive(port, seconds, list, false, 30_000);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await new Promise<void>((r) => upstream.close(() => r()));
    build.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * As live(), through nginx + ModSecurity: one worker, CRS PL1, and modsecurity.conf-
 * recommended's limits, which are Warden's baseline's (what `warden start` runs with).
 */
function liveModSecurity(seconds: number, list: readonly Attack[], timeoutMs: number): Promise<Live> {
  return withNginxFarm(CRS, async (farm) => {
    const upstream = await farm.upstream('ok');
    const modsec = await farm.proxy('modsecurity', 'nginx + ModSecurity', upstream.port, true, PEER_NGINX);
    return measureLive(modsec.port, seconds, list, true, timeoutMs);
  });
}

/** Rounds of warm-up traffic run through a Waf before its worst cases are timed. */
const WARM_UP_ROUNDS = 200;
/** A probe: an attack's request with its query, headers and urlencoded body cut to this many bytes. */
const PROBE_BYTES = 256;

/**
 * The attacks as a scanner's probes: the same payloads, small. A site sees such probes
 * every day; they exercise the branches of the transformations and detectors that
 * benign values never reach (V8 compiles a function for what it has seen run: a branch
 * first taken inside a loop over 128 KB sends the loop back to the interpreter).
 */
export function probes(list: readonly Attack[]): Attack[] {
  const cut = (t: string): string => t.slice(0, PROBE_BYTES);
  const out: Attack[] = [];
  for (const a of list) {
    const type = a.headers.find(([k]) => k === 'Content-Type')?.[1];
    if (a.body !== undefined && type !== 'application/x-www-form-urlencoded') continue;
    const body = a.body === undefined ? undefined : cut(a.body);
    const headers = a.headers.map(([k, v]) => [k, k === 'Content-Length' && body !== undefined ? String(body.length) : cut(v)] as [string, string]);
    out.push({ ...a, uri: cut(a.uri), headers, body });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The peer: nginx + ModSecurity (libmodsecurity3) with the same CRS, on the same requests.

interface PeerTiming {
  /** The status answered, -1 when the connection was closed before an answer, -2 when none came in time. */
  readonly status: number;
  readonly medianMs: number;
  readonly maxMs: number;
}

/** How long nginx + ModSecurity may take to answer one request before it is given up on (smoke: 10 s). */
const PEER_TIMEOUT_MS = 60_000;
const PEER_SMOKE_TIMEOUT_MS = 10_000;

/** A request ModSecurity takes longer than this on is timed once (not once per run). */
const PEER_SLOW_MS = 2000;

/** nginx's own limits raised, so that every request reaches ModSecurity as it reaches Warden; one worker. */
const PEER_NGINX = { workers: 1, clientMaxBody: '16m', headerBuffers: '4 64k' };

/** The worst-case body limits: Warden's (loadCrs) and ModSecurity's. */
const WORST_CASE_LIMITS: ModSecurityLimits = { requestBodyLimit: 13107200, requestBodyNoFilesLimit: 1310720, argumentsLimit: null };

/**
 * Each request through nginx + ModSecurity and through the same nginx without it, in turns
 * on one keep-alive connection each: ModSecurity's time is the first's latency less the
 * median latency of the second (what nginx itself and the upstream cost). A request that
 * ModSecurity refuses is not passed upstream, which the second still does, so its figure
 * is if anything low. One nginx worker each, one request at a time. A request not answered
 * within PEER_TIMEOUT_MS is recorded as such, and that nginx is killed (its worker would go
 * on with the request) and started again for the next one.
 */
function throughModSecurity(list: readonly Attack[], levels: readonly number[], runs: number, timeoutMs: number): Promise<{ timings: Map<string, PeerTiming>; rules: string }> {
  return withNginxFarm(CRS, async (farm) => {
    const upstream = await farm.upstream('ok');
    const plain = await farm.proxy('nginx', 'nginx, no WAF', upstream.port, false, PEER_NGINX);
    const timings = new Map<string, PeerTiming>();
    let rules = '?';
    let started = 0;
    const timed = async (port: number, a: Attack, agent: Agent): Promise<{ status: number; ms: number }> => {
      const t0 = performance.now();
      const status = await sendCounted(port, a, agent, timeoutMs, true);
      return { status, ms: performance.now() - t0 };
    };
    const base = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const pl of levels) {
        const extra = pl === 1 ? [] : [`SecAction "id:900000,phase:1,pass,nolog,t:none,setvar:tx.blocking_paranoia_level=${pl}"`];
        let modsec: NginxProxy | null = null;
        let agent = new Agent({ keepAlive: true, maxSockets: 1 });
        const waf = async (a: Attack): Promise<{ status: number; ms: number }> => {
          if (modsec === null) {
            modsec = await farm.proxy(`modsecurity-${++started}`, `nginx + ModSecurity PL${pl}`, upstream.port, true, { ...PEER_NGINX, limits: WORST_CASE_LIMITS, extra });
            await new Promise((r) => setTimeout(r, 300)); // its error log is written asynchronously
            const loaded = /rules loaded inline\/local\/remote: \d+\/(\d+)\/\d+/.exec(readFileSync(modsec.errorLog, 'utf8'));
            if (loaded === null) throw new Error(`nginx + ModSecurity PL${pl}: no "rules loaded" line in its error log`);
            rules = loaded[1] as string;
          }
          const r = await timed(modsec.port, a, agent);
          if (r.status === -2) {
            await modsec.kill();
            modsec = null;
            agent.destroy();
            agent = new Agent({ keepAlive: true, maxSockets: 1 });
          }
          return r;
        };
        try {
          // Once through each first (not in a smoke run), as Warden's warm-up: the first
          // request of a kind pays for nginx's buffers and temp files. A request ModSecurity
          // spends seconds on is then timed once only, one it does not answer in time not again.
          const slow = new Set<string>();
          for (const a of runs > 1 ? list : []) {
            await timed(plain.port, a, base);
            const w = await waf(a);
            if (w.status === -2) timings.set(`${pl}/${a.name}`, { status: -2, medianMs: w.ms, maxMs: w.ms });
            else if (w.ms > PEER_SLOW_MS) slow.add(a.name);
          }
          for (const a of list) {
            if (timings.has(`${pl}/${a.name}`)) continue;
            const plainMs: number[] = [];
            const wafMs: number[] = [];
            let status = 0;
            for (let i = 0; i < (slow.has(a.name) ? 1 : runs) && status !== -2; i++) {
              plainMs.push((await timed(plain.port, a, base)).ms);
              const r = await waf(a);
              status = r.status;
              wafMs.push(r.ms);
            }
            const baseline = percentile(plainMs, 50);
            timings.set(`${pl}/${a.name}`, { status, medianMs: Math.max(0, percentile(wafMs, 50) - baseline), maxMs: Math.max(0, Math.max(...wafMs) - baseline) });
          }
        } finally {
          agent.destroy();
          await (modsec as NginxProxy | null)?.stop();
        }
      }
    } finally {
      base.destroy();
    }
    await plain.stop();
    await upstream.stop();
    return { timings, rules };
  });
}

/** Warden's times next to nginx + ModSecurity's on the same requests (Markdown lines). */
async function peerTable(list: readonly Attack[], levels: readonly number[], runs: number, ours: ReadonlyMap<string, Timing>): Promise<string[]> {
  const timeoutMs = runs > 1 ? PEER_TIMEOUT_MS : PEER_SMOKE_TIMEOUT_MS;
  const { timings, rules } = await throughModSecurity(list, levels, runs, timeoutMs);
  const out = [
    `The same requests through nginx + ModSecurity (libmodsecurity3, ${rules} rules: the same CRS, the same body limits, SecPcreMatchLimit 1000 as modsecurity.conf-recommended has it; one nginx worker), each ${runs === 1 ? 'once' : `${runs} times (once when it took ModSecurity over ${PEER_SLOW_MS / 1000} s) after once unmeasured`}: its time is the latency through nginx + ModSecurity less the median latency of the same request through the same nginx without it. A request not answered in ${timeoutMs / 1000} s is given up on (and that nginx killed and started again). Warden's column is the table above's (WAF time in process, wall).`,
    '',
    '| request | PL | Warden status | Warden max ms | Warden median ms | nginx + ModSecurity status | ModSecurity max ms | ModSecurity median ms | ModSecurity / Warden (max) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const pl of levels) {
    for (const a of list) {
      const w = ours.get(`${pl}/${a.name}`);
      const m = timings.get(`${pl}/${a.name}`);
      if (w === undefined || m === undefined) continue;
      if (m.status === -2) {
        out.push(`| ${a.name} | ${pl} | ${w.status} | ${ms(w.maxWall)} | ${ms(w.medianWall)} | none in ${timeoutMs / 1000} s | > ${timeoutMs.toLocaleString('en-US')} | — | > ${Math.floor(timeoutMs / w.maxWall).toLocaleString('en-US')}× |`);
        continue;
      }
      const ratio = w.maxWall > 0 ? `${(m.maxMs / w.maxWall).toFixed(1)}×` : '—';
      out.push(`| ${a.name} | ${pl} | ${w.status} | ${ms(w.maxWall)} | ${ms(w.medianWall)} | ${statusText(m.status)} | ${ms(m.maxMs)} | ${ms(m.medianMs)} | ${ratio} |`);
    }
  }
  return out;
}

/**
 * As on a server that has been answering its site's traffic before an attack comes: the
 * side-by-side benchmark's requests (GET, form, JSON, pingback, SQLi) with values that
 * change from request to request, and the attacks as small probes.
 */
async function warmUp(waf: Waf, rounds: number, list: readonly Attack[]): Promise<void> {
  const small = probes(list);
  for (let n = 0; n < rounds; n++) {
    for (const s of scenarios) {
      const text = (t: string): string => (s.varied === true ? varyText(t, n) : t.replace(/=([^&;,\s]*)/, `=$1${n}`));
      const headers = Object.entries(s.headers).map(([k, v]) => [k, text(v)] as const);
      await runOnce(waf, { name: s.key, method: s.method, uri: text(s.path), headers, body: s.body === null ? undefined : text(s.body) });
    }
    for (const p of small) await runOnce(waf, p);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      'no-live': { type: 'boolean', default: false },
      'no-modsecurity': { type: 'boolean', default: false },
      rules: { type: 'boolean', default: false },
      markdown: { type: 'string' },
    },
  });
  const smoke = values.smoke === true;
  if (!existsSync(join(CRS, 'rules'))) {
    console.error(`bench/worst-case: CRS is not at ${CRS}`);
    return 2;
  }
  const list = attacks();
  const out: string[] = [];
  out.push(`Worst cases, ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}; OWASP CRS ${readFileSync(join(CRS, 'VERSION'), 'utf8').trim()}, blocking, request body access on.`);
  out.push('');
  out.push('| request | body | PL | status | max WAF ms (wall) | max WAF ms (CPU) | median ms (wall) | median ms (CPU) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  let worst = { ms: 0, what: '' };
  const over: string[] = [];
  const levels = smoke ? [1] : [1, 4];
  const ours = new Map<string, Timing>();
  for (const pl of levels) {
    const t0 = performance.now();
    const waf = loadCrs(pl);
    console.error(`CRS at PL${pl} loaded in ${(performance.now() - t0).toFixed(0)} ms`);
    // The JIT has compiled the engine's paths before the first attack, as in a running server.
    await warmUp(waf, smoke ? 5 : WARM_UP_ROUNDS, list);
    for (const a of list) {
      const t = await time(waf, a, smoke ? 1 : 5);
      ours.set(`${pl}/${a.name}`, t);
      if (t.maxCpu > worst.ms) worst = { ms: t.maxCpu, what: `${a.name} at PL${pl}` };
      const size = Buffer.byteLength(a.uri, 'latin1') + a.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0) + (a.body?.length ?? 0);
      out.push(`| ${a.name} | ${(size / 1024).toFixed(0)} KB | ${pl} | ${t.status} | ${ms(t.maxWall)} | ${ms(t.maxCpu)} | ${ms(t.medianWall)} | ${ms(t.medianCpu)} |`);
      if (values.rules === true && t.maxCpu > 50) over.push(`- ${a.name} at PL${pl} (${ms(t.maxCpu)} ms CPU): ${await slowestRules(waf, a, 4)}`);
    }
  }
  out.push('');
  if (over.length > 0) {
    out.push('Over 50 ms of CPU, the rules that spent most (trace-based attribution of CPU time; rule id, file:line, time, values evaluated):');
    out.push('');
    out.push(...over);
    out.push('');
  }
  out.push(`Slowest: ${worst.what}, ${ms(worst.ms)} ms of CPU. Each request ${smoke ? 'once' : 'five times'}, phases 1-5 in process (the clock starts once its strings and body Buffer exist, as the network would hand them over), after ${smoke ? 5 : WARM_UP_ROUNDS} rounds of warm-up (the side-by-side benchmark's requests with changing values, and these requests cut to ${PROBE_BYTES}-byte probes); "body": request line, headers and body. CPU: the process's user + system time over the request (1 ms resolution or better).`);
  let failed = 0;
  if (values['no-modsecurity'] !== true) {
    const missing = missingNginx();
    if (missing.length > 0) {
      out.push('');
      out.push(`nginx + ModSecurity: missing ${missing.join(', ')} (Debian: apt-get install nginx libnginx-mod-http-modsecurity)${process.env.CI === 'true' ? '; in CI this is a failure' : '; not measured'}.`);
      if (process.env.CI === 'true') failed++;
    } else {
      try {
        out.push('');
        out.push(...(await peerTable(list, levels, smoke ? 1 : 5, ours)));
      } catch (err) {
        failed++;
        out.push(`nginx + ModSecurity: FAILED: ${(err as Error).message}`);
      }
    }
  }
  if (values['no-live'] !== true) {
    const seconds = smoke ? 2 : 20;
    try {
      const l = await live(seconds, list);
      out.push('');
      out.push(`Through \`warden start\` (1 worker, CRS PL1): ${l.attacksSent} worst-case requests in ${seconds} s from 4 connections (statuses ${[...l.statuses].map(([s, n]) => `${statusText(s)}: ${n}`).join(', ')}); a benign GET every 20 ms on a fifth connection:`);
      out.push('');
      out.push('| benign GET | answered | median ms | p99 ms | max ms |');
      out.push('|---|---:|---:|---:|---:|');
      for (const [name, xs] of [['alone', l.idle], ['during the worst cases', l.loaded]] as const) {
        out.push(`| ${name} | ${xs.length} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 99))} | ${ms(Math.max(...xs))} |`);
      }
      out.push('');
      out.push(`Answers through the proxy: ${[...l.byAttack].map(([name, st]) => `${name}: ${[...st].map(statusText).join('/')}`).join('; ')}.`);
    } catch (err) {
      failed++;
      out.push('');
      out.push(`Through warden start: FAILED: ${(err as Error).message}`);
    }
    if (values['no-modsecurity'] !== true && missingNginx().length === 0) {
      const timeoutMs = smoke ? PEER_SMOKE_TIMEOUT_MS : PEER_TIMEOUT_MS;
      try {
        const l = await liveModSecurity(seconds, list, timeoutMs);
        out.push('');
        out.push(`The same through nginx + ModSecurity (1 worker, CRS PL1, the body and argument limits of modsecurity.conf-recommended, which are Warden's baseline's): ${l.attacksSent} worst-case requests in ${seconds} s and until the last was answered or given up on after ${timeoutMs / 1000} s (statuses ${[...l.statuses].map(([s, n]) => `${statusText(s)}: ${n}`).join(', ')}); the benign GET as above (one not answered in ${timeoutMs / 1000} s counts with that time):`);
        out.push('');
        out.push('| benign GET | answered | median ms | p99 ms | max ms |');
        out.push('|---|---:|---:|---:|---:|');
        for (const [name, xs] of [['alone, nginx + ModSecurity', l.idle], ['during the worst cases, nginx + ModSecurity', l.loaded]] as const) {
          out.push(`| ${name} | ${xs.length} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 99))} | ${ms(Math.max(...xs))} |`);
        }
      } catch (err) {
        failed++;
        out.push('');
        out.push(`Through nginx + ModSecurity: FAILED: ${(err as Error).message}`);
      }
    }
  }
  const text = out.join('\n');
  console.log(text);
  if (values.markdown !== undefined) writeFileSync(values.markdown, `${text}\n`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
