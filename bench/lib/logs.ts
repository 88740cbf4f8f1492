/**
 * @module bench/lib/logs
 * Synthetic log files for the ban-engine benchmarks (bench/filter.ts, bench/ban-engine.ts):
 * the same deterministic input on every run (a seeded xorshift), generated line by line so
 * that a million-line log never sits in memory as one string.
 *
 * - {@link accessLines}: a combined-format access log (Apache and nginx write the same
 *   shape): browsers, crawlers and feed readers on pages, assets and feeds, with a few per
 *   cent of what the filters look for — failed WordPress logins and refused XML-RPC calls
 *   (warden-wordpress), 404s on /wp-login.php, phpMyAdmin, webmail and cgi-bin (fail2ban's
 *   nginx-botsearch), and the user agents fail2ban's apache-badbots lists.
 * - {@link errorLines}: an Apache 2.4 error log: authentication failures as mod_auth_basic,
 *   mod_auth_digest and mod_authz_core write them (fail2ban's apache-auth), ModSecurity
 *   refusals as mod_security2 writes them, and the everyday rest (PHP warnings, proxy_fcgi,
 *   bad URIs, TLS and mpm notices, mod_evasive).
 * - {@link sshdLines}: fail2ban's sshd sample log, copied with fresh pids and addresses.
 *
 * @example
 * await writeLines('/tmp/access.log', accessLines(1_000_000));
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/** xorshift32: the same numbers on every run. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Fractions of an access log's lines that each filter should find. */
export interface AccessMix {
  /** POST /wp-login.php answered 200 (the form again: a failed login). */
  readonly wpLogin: number;
  /** POST /xmlrpc.php, a third of them refused (400/403/405). */
  readonly xmlrpc: number;
  /** 404s on paths bots probe (wp-login.php, phpMyAdmin, webmail, cgi-bin). */
  readonly botsearch: number;
  /** Requests from a user agent apache-badbots lists. */
  readonly badbots: number;
}

/** A few per cent for each filter. */
export const DEFAULT_ACCESS_MIX: AccessMix = { wpLogin: 0.01, xmlrpc: 0.015, botsearch: 0.02, badbots: 0.01 };

export interface LogOptions {
  readonly seed?: number;
  /** Unix ms of the first line (default 2025-06-01T00:00:00Z). */
  readonly start?: number;
  /** Milliseconds between lines. */
  readonly step?: number;
}

const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
];
const CRAWLERS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)',
  'WordPress/6.5.4; https://friends.example.org',
  'curl/8.8.0',
  'python-requests/2.32.3',
];
/** User agents fail2ban's apache-badbots lists (its badbots and badbotscustom). */
const BAD_BOTS = ['EmailCollector', 'Atomic_Email_Hunter/4.0', 'ContactBot/0.2', 'WebEMailExtrac', 'Mozilla/5.0 Jorgee', 'EmailSiphon', 'TrackBack/1.02', 'autoemailspider'];
const PAGES = [
  '/',
  '/2025/05/hello-world/',
  '/2025/04/notes-on-tls/',
  '/category/news/',
  '/about/',
  '/feed/',
  '/?s=fail2ban',
  '/?p=123',
  '/page/2/',
  '/2025/05/hello-world/?replytocom=12#respond',
  '/tag/nginx/?utm_source=feed&utm_medium=rss',
];
const ASSETS = [
  '/wp-content/themes/twentytwentyfour/style.css?ver=1.1',
  '/wp-includes/js/jquery/jquery.min.js?ver=3.7.1',
  '/wp-content/uploads/2025/05/header-1024x576.jpg',
  '/wp-content/plugins/jetpack/css/jetpack.css?ver=13.5',
  '/favicon.ico',
  '/wp-includes/css/dist/block-library/style.min.css?ver=6.5.4',
  '/robots.txt',
];
/** What nginx-botsearch's <block> covers: webmail, phpMyAdmin, WordPress admin, cgi-bin, mysqladmin. */
const PROBES = [
  '/wp-login.php',
  '/phpmyadmin/index.php',
  '/pma/',
  '/myadmin/scripts/setup.php',
  '/roundcube/',
  '/webmail/',
  '/cgi-bin/luci',
  '/mysqladmin/',
  '/wp-admin.php',
  '/typo3/phpmyadmin/',
];
const REFERERS = ['-', '-', '-', 'https://blog.example.com/', 'https://www.google.com/', 'https://blog.example.com/2025/05/hello-world/', 'https://duckduckgo.com/'];

/** A client address: most from a pool of returning visitors, some IPv6, some one-off. */
function address(rand: () => number, pool: readonly string[]): string {
  const r = rand();
  if (r < 0.6) return pool[Math.floor(rand() * pool.length)] as string;
  if (r < 0.67) return `2001:db8:${Math.floor(rand() * 0xffff).toString(16)}::${Math.floor(rand() * 0xffff).toString(16)}`;
  return `${1 + Math.floor(rand() * 223)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
}

function addressPool(rand: () => number, n: number): string[] {
  return Array.from({ length: n }, () => `${1 + Math.floor(rand() * 223)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`);
}

/**
 * A combined-format access log, `count` lines:
 * `203.0.113.9 - - [01/Jun/2025:00:00:00 +0000] "GET / HTTP/1.1" 200 5120 "-" "Mozilla/5.0 …"`.
 */
export function* accessLines(count: number, options: LogOptions & { readonly mix?: AccessMix } = {}): Generator<string> {
  const rand = rng(options.seed ?? 42);
  const mix = options.mix ?? DEFAULT_ACCESS_MIX;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)] as T;
  const pool = addressPool(rand, 5000);
  const t0 = options.start ?? Date.UTC(2025, 5, 1);
  const step = options.step ?? 40;
  // The stamp changes once a second: build it only then, as a server's logger does.
  let second = -1;
  let stamp = '';
  const c1 = mix.wpLogin;
  const c2 = c1 + mix.xmlrpc;
  const c3 = c2 + mix.botsearch;
  const c4 = c3 + mix.badbots;
  for (let i = 0; i < count; i++) {
    const ms = t0 + i * step;
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      const d = new Date(s * 1000);
      stamp = `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
    }
    const ip = address(rand, pool);
    const r = rand();
    let method = 'GET';
    let path: string;
    let status: number;
    let size = Math.floor(rand() * 60000);
    let referer = pick(REFERERS);
    let agent = rand() < 0.85 ? pick(BROWSERS) : pick(CRAWLERS);
    if (r < c1) {
      [method, path, status, referer] = ['POST', '/wp-login.php', rand() < 0.8 ? 200 : 302, 'https://blog.example.com/wp-login.php'];
      size = status === 200 ? 4310 : 0;
    } else if (r < c2) {
      [method, path, status, size] = ['POST', '/xmlrpc.php', pick([200, 200, 400, 403, 405, 200]), 370];
      agent = rand() < 0.5 ? 'WordPress/6.5.4; https://friends.example.org' : 'PHP/5.2.10';
    } else if (r < c3) {
      [method, path, status, size] = [pick(['GET', 'GET', 'POST', 'HEAD']), pick(PROBES), 404, 153];
      agent = pick([...CRAWLERS.slice(4), 'Mozilla/5.0 zgrab/0.x', BROWSERS[0] as string]);
    } else if (r < c4) {
      [path, status] = [pick(PAGES), 200];
      agent = pick(BAD_BOTS);
    } else if (r < 0.8) {
      [path, status] = [rand() < 0.7 ? pick(ASSETS) : pick(PAGES), pick([200, 200, 200, 200, 304, 304, 206])];
      if (status === 304) size = 0;
    } else {
      [path, status] = [pick(PAGES), pick([200, 200, 200, 200, 301, 404, 500])];
      if (rand() < 0.05) [method, path] = ['POST', '/wp-comments-post.php'];
    }
    yield `${ip} - - [${stamp}] "${method} ${path} HTTP/${rand() < 0.3 ? '2.0' : '1.1'}" ${status} ${size} "${referer}" "${agent}"`;
  }
}

/** Fractions of an error log's lines of each kind. */
export interface ErrorMix {
  /** mod_auth_basic / mod_auth_digest / mod_authz_core refusals (fail2ban's apache-auth). */
  readonly auth: number;
  /** ModSecurity "Access denied" lines (apache-modsecurity, warden-modsecurity). */
  readonly modsecurity: number;
}

export const DEFAULT_ERROR_MIX: ErrorMix = { auth: 0.03, modsecurity: 0.1 };

/**
 * An Apache 2.4 error log, `count` lines:
 * `[Sun Jun 01 00:00:00.000123 2025] [auth_basic:error] [pid 4242:tid 1402] [client 203.0.113.9:50123] AH01618: user bob not found: /private/`.
 */
export function* errorLines(count: number, options: LogOptions & { readonly mix?: ErrorMix } = {}): Generator<string> {
  if (count <= 0) return;
  let n = 0;
  for (const line of errorStream(options)) {
    yield line;
    if (++n === count) return;
  }
}

/** Error log lines without end (a refusal may come with its warning: two lines). */
function* errorStream(options: LogOptions & { readonly mix?: ErrorMix }): Generator<string> {
  const rand = rng(options.seed ?? 7);
  const mix = options.mix ?? DEFAULT_ERROR_MIX;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)] as T;
  const pool = addressPool(rand, 2000);
  const t0 = options.start ?? Date.UTC(2025, 5, 1);
  const step = options.step ?? 70;
  const users = ['admin', 'root', 'test', 'alice', 'bob', 'webmaster', 'info', 'user1'];
  const rules = [
    ['REQUEST-942-APPLICATION-ATTACK-SQLI', '942100', 'SQL Injection Attack Detected via libinjection', 'detected SQLi using libinjection with fingerprint \'s&sos\'', '/?id=1%27%20or%201=1--'],
    ['REQUEST-941-APPLICATION-ATTACK-XSS', '941100', 'XSS Attack Detected via libinjection', 'detected XSS using libinjection.', '/?s=%3Cscript%3Ealert(1)%3C/script%3E'],
    ['REQUEST-930-APPLICATION-ATTACK-LFI', '930120', 'OS File Access Attempt', 'Matched phrase "etc/passwd" at ARGS:file.', '/download.php?file=../../etc/passwd'],
    ['REQUEST-913-SCANNER-DETECTION', '913100', 'Found User-Agent associated with security scanner', 'Matched phrase "nikto" at REQUEST_HEADERS:User-Agent.', '/'],
  ] as const;
  let second = -1;
  let head = '';
  let year = '';
  for (let i = 0; ; i++) {
    const ms = t0 + i * step;
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      const d = new Date(s * 1000);
      head = `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.`;
      year = ` ${d.getUTCFullYear()}`;
    }
    const stamp = `${head}${String((ms % 1000) * 1000 + (i % 1000)).padStart(6, '0')}${year}`;
    const ip = address(rand, pool);
    // Apache writes an IPv6 client without brackets: [client 2001:db8::1:50123].
    const client = `${ip}:${1024 + Math.floor(rand() * 60000)}`;
    const pid = `[pid ${4200 + Math.floor(rand() * 8)}:tid ${140234500000000 + Math.floor(rand() * 1000)}]`;
    const r = rand();
    if (r < mix.auth) {
      const user = pick(users);
      const k = Math.floor(rand() * 5);
      const text =
        k === 0
          ? `[auth_basic:error] ${pid} [client ${client}] AH01618: user ${user} not found: /private/`
          : k === 1
            ? `[auth_basic:error] ${pid} [client ${client}] AH01617: user ${user}: authentication failure for "/private/": Password Mismatch`
            : k === 2
              ? `[authz_core:error] ${pid} [client ${client}] AH01630: client denied by server configuration: /var/www/html/.git/config`
              : k === 3
                ? `[auth_digest:error] ${pid} [client ${client}] AH01790: user \`${user}' in realm \`Private' not found: /private/`
                : `[auth_basic:error] ${pid} [client ${client}] AH01614: client used wrong authentication scheme: /private/`;
      yield `[${stamp}] ${text}`;
    } else if (r < mix.auth + mix.modsecurity) {
      // CRS in anomaly mode: the rule that matched logs a warning, 949110 the refusal.
      const [file, id, msg, data, uri] = pick(rules);
      const unique = `ZK3x0A${i.toString(36)}`;
      const tail = `[hostname "blog.example.com"] [uri "${uri}"] [unique_id "${unique}"]`;
      if (rand() < 0.5) {
        yield `[${stamp}] [security2:error] ${pid} [client ${client}] [client ${ip}] ModSecurity: Warning. ${data} [file "/usr/share/modsecurity-crs/rules/${file}.conf"] [line "${40 + Math.floor(rand() * 900)}"] [id "${id}"] [msg "${msg}"] [severity "CRITICAL"] [ver "OWASP_CRS/4.0.0"] [tag "application-multi"] [tag "paranoia-level/1"] ${tail}`;
      }
      yield `[${stamp}] [security2:error] ${pid} [client ${client}] [client ${ip}] ModSecurity: Access denied with code 403 (phase 2). Operator GE matched 5 at TX:blocking_inbound_anomaly_score. [file "/usr/share/modsecurity-crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf"] [line "222"] [id "949110"] [msg "Inbound Anomaly Score Exceeded (Total Score: 5)"] [ver "OWASP_CRS/4.0.0"] [tag "anomaly-evaluation"] ${tail}`;
    } else {
      const k = rand();
      if (k < 0.35) {
        yield `[${stamp}] [php:warn] ${pid} [client ${client}] PHP Warning:  Undefined array key "page" in /var/www/html/wp-content/themes/twentytwentyfour/functions.php on line ${10 + Math.floor(rand() * 400)}, referer: https://blog.example.com/`;
      } else if (k < 0.6) {
        yield `[${stamp}] [proxy_fcgi:error] ${pid} [client ${client}] AH01071: Got error 'Primary script unknown'`;
      } else if (k < 0.75) {
        yield `[${stamp}] [core:error] ${pid} [client ${client}] AH00126: Invalid URI in request GET /..%2f..%2fetc/passwd HTTP/1.1`;
      } else if (k < 0.85) {
        yield `[${stamp}] [ssl:info] ${pid} [client ${client}] AH01964: Connection to child 12 established (server blog.example.com:443)`;
      } else if (k < 0.92) {
        yield `[${stamp}] [evasive20:error] ${pid} [client ${client}] client denied by server configuration: /var/www/html/index.php`;
      } else if (k < 0.97) {
        yield `[${stamp}] [core:info] ${pid} [client ${client}] AH00128: File does not exist: /var/www/html/apple-touch-icon.png`;
      } else {
        yield `[${stamp}] [mpm_event:notice] [pid 4199:tid 140234511111111] AH00489: Apache/2.4.62 (Debian) OpenSSL/3.0.15 configured -- resuming normal operations`;
      }
    }
  }
}

/**
 * fail2ban's sshd sample log (`sample`, its text) copied `copies` times, each copy with
 * its own process ids and addresses; comment lines are left out.
 */
export function* sshdLines(sample: string, copies: number): Generator<string> {
  const src = sample.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  for (let r = 0; r < copies; r++) {
    for (const l of src) {
      yield l
        .replace(/\[(\d+)\]/gu, (_, pid: string) => `[${Number(pid) + r * 100000}]`)
        .replace(/192\.0\.2\.(\d+)/gu, (_, n: string) => `10.${Math.floor(r / 250)}.${r % 250}.${n}`);
    }
  }
}

/** Reads fail2ban's sshd sample log for {@link sshdLines}. */
export function readSample(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Writes lines to `path` (each ended by "\n") in large chunks; resolves with the line count. */
export function writeLines(path: string, lines: Iterable<string>): number {
  const fd = openSync(path, 'w');
  let n = 0;
  try {
    let chunk: string[] = [];
    for (const l of lines) {
      chunk.push(l);
      n++;
      if (chunk.length === 10_000) {
        writeSync(fd, `${chunk.join('\n')}\n`);
        chunk = [];
      }
    }
    if (chunk.length > 0) writeSync(fd, `${chunk.join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
  return n;
}
