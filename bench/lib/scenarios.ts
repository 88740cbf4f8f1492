/**
 * @module bench/lib/scenarios
 * The requests of the side-by-side benchmark (bench/side-by-side.ts): what a WordPress
 * blog receives, as wrk sends them, and the wrk script that sends one.
 */

export interface Scenario {
  readonly key: string;
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  /** The status a WAF answers (a proxy without one answers 200 to everything). */
  readonly wafStatus: 200 | 403;
  /**
   * True when every request differs: each VARY in the path, header values and body is
   * replaced by a number that grows with every request (wrk's `request` hook).
   */
  readonly varied?: boolean;
}

const browser: Record<string, string> = {
  Host: 'blog.example.com',
  'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8',
  'Accept-Language': 'en-US,en;q=0.9,de;q=0.8',
  'Accept-Encoding': 'gzip, deflate, br, zstd',
  Referer: 'https://blog.example.com/2024/05/',
  Cookie: 'wordpress_test_cookie=WP%20Cookie%20check; wp-settings-time-1=1716900000; _ga=GA1.2.123456789.1716900000',
  'Upgrade-Insecure-Requests': '1',
  'Sec-Fetch-Dest': 'document',
  'Sec-Fetch-Mode': 'navigate',
  'Sec-Fetch-Site': 'same-origin',
  'Sec-Fetch-User': '?1',
  'sec-ch-ua': '"Not/A)Brand";v="8", "Chromium";v="126", "Google Chrome";v="126"',
  'sec-ch-ua-mobile': '?0',
  'sec-ch-ua-platform': '"Linux"',
};

/** `n` bytes of plain words, for padding bodies to their size. */
export function words(n: number): string {
  const text = 'the quick brown fox jumps over the lazy dog while a small bird sings in the old garden ';
  return text.repeat(Math.ceil(n / text.length)).slice(0, n).trimEnd().padEnd(n, 'x');
}

/** A comment form of 20 fields, 1024 bytes urlencoded. */
function commentForm(): string {
  const fields: Array<[string, string]> = [
    ['author', 'Alice Example'],
    ['email', 'alice@example.org'],
    ['url', ''],
    ['comment_post_ID', '42'],
    ['comment_parent', '0'],
    ['akismet_comment_nonce', '5d41402abc'],
    ['wp-comment-cookies-consent', 'yes'],
    ['submit', 'Post Comment'],
    ['_wp_unfiltered_html_comment', '0e5b2a1c9f'],
    ['ak_js', '1716900000123'],
    ['ak_hp_textarea', ''],
    ['locale', 'en_US'],
    ['timezone', 'Europe/Berlin'],
    ['screen', '1920x1080'],
    ['theme', 'twentytwentyfour'],
    ['lang', 'en'],
    ['source', 'comment-form'],
    ['subscribe', 'none'],
    ['rating', '5'],
    ['comment', ''],
  ];
  const encode = (): string => fields.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v).replace(/%20/g, '+')}`).join('&');
  const pad = 1024 - encode().length;
  fields[19] = ['comment', words(pad)];
  return encode();
}

/** A comment as JSON (the REST API's shape), 1024 bytes. */
function commentJson(): string {
  const doc = {
    post: 42,
    parent: 0,
    author_name: 'Alice Example',
    author_email: 'alice@example.org',
    author_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
    status: 'hold',
    meta: { consent: true, locale: 'en_US', timezone: 'Europe/Berlin', screen: { width: 1920, height: 1080 } },
    tags: ['garden', 'birds', 'spring'],
    content: '',
  };
  const pad = 1024 - JSON.stringify(doc).length;
  doc.content = words(pad);
  return JSON.stringify(doc);
}

const pingback = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<methodCall>',
  '<methodName>pingback.ping</methodName>',
  '<params>',
  '<param><value><string>https://source.example.org/2024/06/a-reply-to-hello-world/</string></value></param>',
  '<param><value><string>https://blog.example.com/2024/05/hello-world/</string></value></param>',
  '</params>',
  '</methodCall>',
  '',
].join('\n');

export const scenarios: readonly Scenario[] = [
  {
    key: 'get',
    name: 'benign GET, browser headers, query string',
    method: 'GET',
    path: '/2024/05/hello-world/?replytocom=12&utm_source=feed&utm_medium=rss',
    headers: browser,
    body: null,
    wafStatus: 200,
  },
  {
    key: 'form',
    name: '1 KB urlencoded POST, 20 fields',
    method: 'POST',
    path: '/wp-comments-post.php',
    headers: { ...browser, 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://blog.example.com', 'Sec-Fetch-Mode': 'navigate' },
    body: commentForm(),
    wafStatus: 200,
  },
  {
    key: 'json',
    name: '1 KB JSON POST',
    method: 'POST',
    path: '/wp-json/wp/v2/comments',
    headers: { ...browser, Accept: 'application/json, */*;q=0.1', 'Content-Type': 'application/json', Origin: 'https://blog.example.com', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty' },
    body: commentJson(),
    wafStatus: 200,
  },
  {
    key: 'sqli',
    name: "SQLi GET (?id=1' or 1=1--), blocked",
    method: 'GET',
    path: '/?id=1%27%20or%201%3D1--',
    headers: browser,
    body: null,
    wafStatus: 403,
  },
  {
    key: 'xmlrpc',
    name: 'XML-RPC pingback POST (text/xml)',
    method: 'POST',
    path: '/xmlrpc.php',
    headers: { Host: 'blog.example.com', 'User-Agent': 'WordPress/6.5.3; https://source.example.org', Accept: '*/*', 'Accept-Encoding': 'deflate, gzip, br, zstd', 'Content-Type': 'text/xml' },
    body: pingback,
    wafStatus: 200,
  },
  // The five above are sent identical over and over, as wrk does. Warden remembers, per
  // rule, values it did not match (engine/no-match-memo, engine/prescreen): identical
  // requests are its best case. These two are its worst: no value ever repeats.
  {
    key: 'get-new',
    name: 'benign GET, every request new (query, cookie, Referer values never repeat)',
    method: 'GET',
    path: '/2024/05/hello-world-VARY/?replytocom=VARY&utm_source=feedVARY&utm_medium=rss',
    headers: { ...browser, Referer: 'https://blog.example.com/2024/05/?p=VARY', Cookie: 'wordpress_test_cookie=WP%20Cookie%20check; wp-settings-time-1=VARY; _ga=GA1.2.VARY.1716900000' },
    body: null,
    wafStatus: 200,
    varied: true,
  },
  {
    key: 'form-new',
    name: '1 KB urlencoded POST, 20 fields, every value new in every request',
    method: 'POST',
    path: '/wp-comments-post.php',
    headers: { ...browser, 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://blog.example.com', 'Sec-Fetch-Mode': 'navigate' },
    body: commentForm().replace(/=([^&]*)/g, '=$1VARY'),
    wafStatus: 200,
    varied: true,
  },
];

/** A varied scenario's request as sent the n-th time (what the wrk script does). */
export function varyText(text: string, n: number): string {
  return text.replaceAll('VARY', String(n));
}

/** A Lua string literal holding exactly these bytes. */
function luaString(text: string): string {
  let out = '"';
  for (const b of Buffer.from(text, 'latin1')) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** The wrk script of a scenario: the request, and a JSON line with the counts at the end. */
export function wrkLua(s: Scenario): string {
  const lines = [`wrk.method = ${luaString(s.method)}`, `wrk.path = ${luaString(s.path)}`];
  for (const [k, v] of Object.entries(s.headers)) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  if (s.body !== null) lines.push(`wrk.body = ${luaString(s.body)}`);
  if (s.varied === true) {
    // Each thread counts from its own random start, so the two threads do not repeat each other.
    lines.push(
      'local n = 0',
      'init = function(args)',
      '  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "1", 16) % 1000003)',
      '  n = math.random(1, 1000000000)',
      'end',
      'local function vary(text) return (string.gsub(text, "VARY", tostring(n))) end',
      'request = function()',
      '  n = n + 1',
      '  local h = {}',
      '  for k, v in pairs(wrk.headers) do h[k] = vary(v) end',
      '  h["Content-Length"] = nil',
      '  return wrk.format(nil, vary(wrk.path), h, wrk.body and vary(wrk.body) or nil)',
      'end',
    );
  }
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK-RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n\',',
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))',
    'end',
    '',
  );
  return lines.join('\n');
}
