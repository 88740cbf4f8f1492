/**
 * Engine benchmark: OWASP CRS v4 (paranoia level 1, blocking, request body access on)
 * evaluated in-process on the request shapes of the side-by-side HTTP benchmark (issue 10),
 * without any network: this is the WAF's own cost per request, the number the proxy adds to.
 *
 *   node --import tsx bench/engine.ts [--seconds N]
 *
 * Prints requests per second on one core and CPU microseconds per request for each scenario,
 * plus the cost of loading CRS. No assertions: numbers are read, not tested.
 */
import { join } from 'node:path';
import { Waf } from '../src/engine/index.js';
import { sharedSuite } from '../test/support/shared.js';
import { runRequest, type BenchRequest } from './lib/request.js';

type Scenario = BenchRequest;

const browser: Array<[string, string]> = [
  ['Host', 'blog.example.com'],
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'],
  ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'],
  ['Accept-Language', 'en-US,en;q=0.9,de;q=0.8'],
  ['Accept-Encoding', 'gzip, deflate, br, zstd'],
  ['Referer', 'https://blog.example.com/2024/05/hello-world/'],
  ['Cookie', 'wordpress_test_cookie=WP%20Cookie%20check; wp-settings-time-1=1716900000; _ga=GA1.2.123456789.1716900000'],
  ['Sec-Fetch-Dest', 'document'],
  ['Sec-Fetch-Mode', 'navigate'],
  ['Upgrade-Insecure-Requests', '1'],
];

const form = Array.from({ length: 20 }, (_, i) => `field${i}=${'value-'.repeat(7)}${i}`).join('&');
const json = JSON.stringify({ post: { title: 'Hello world', tags: ['a', 'b', 'c'], body: 'Lorem ipsum dolor sit amet, '.repeat(28) } });
const pingback =
  '<?xml version="1.0"?><methodCall><methodName>pingback.ping</methodName><params>' +
  '<param><value><string>https://other.example.org/2024/06/a-post/</string></value></param>' +
  '<param><value><string>https://blog.example.com/2024/05/hello-world/</string></value></param>' +
  '</params></methodCall>';

const scenarios: Scenario[] = [
  { name: 'benign GET, browser headers, query string', method: 'GET', uri: '/2024/05/hello-world/?replytocom=12&utm_source=feed', headers: browser },
  {
    name: '1 KB urlencoded POST, 20 fields',
    method: 'POST',
    uri: '/wp-comments-post.php',
    headers: [...browser, ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', String(form.length)]],
    body: form,
  },
  {
    name: '1 KB JSON POST',
    method: 'POST',
    uri: '/wp-json/wp/v2/posts',
    headers: [...browser, ['Content-Type', 'application/json'], ['Content-Length', String(json.length)]],
    body: json,
  },
  { name: 'blocked SQLi GET', method: 'GET', uri: "/?id=1'%20UNION%20SELECT%20user,password%20FROM%20wp_users--", headers: browser },
  {
    name: 'well-formed XML-RPC pingback',
    method: 'POST',
    uri: '/xmlrpc.php',
    headers: [['Host', 'blog.example.com'], ['User-Agent', 'WordPress/6.5; https://other.example.org'], ['Content-Type', 'text/xml'], ['Content-Length', String(pingback.length)]],
    body: pingback,
  },
];

/**
 * A copy of a string as it would arrive from the network: a new string object each time.
 * (Reusing the scenario's own strings would let V8 and the caches keyed on them skip work a
 * real request pays for: measured, the same benign GET cost 2.4 times less that way.)
 */
const once = runRequest;

export async function benchEngine(seconds: number): Promise<void> {
  const crs = sharedSuite('crs');
  if (crs === null) {
    console.log('engine: CRS not found in ../shared, skipped');
    return;
  }
  const t0 = performance.now();
  const waf = Waf.fromText(
    `SecRuleEngine On\nSecRequestBodyAccess On\nInclude ${join(crs, 'crs-setup.conf.example')}\nInclude ${join(crs, 'rules')}/*.conf\n`,
    { file: join(crs, 'bench.conf'), screening: process.env.WARDEN_SCREENING !== 'off' },
  );
  const loadMs = performance.now() - t0;
  console.log(`engine: CRS v4 loaded in ${loadMs.toFixed(0)} ms (${waf.summary().rules} rules)`);
  console.log('scenario'.padEnd(46), 'status', 'req/s (1 core)'.padStart(15), 'µs CPU/req'.padStart(11));
  for (const s of scenarios) {
    // Warm up the JIT and the regex caches.
    let status = 0;
    for (let i = 0; i < 300; i++) status = await once(waf, s);
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < seconds * 1000) {
      for (let i = 0; i < 50; i++) await once(waf, s);
      n += 50;
    }
    const elapsed = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuPerReq = (cpu.user + cpu.system) / n;
    console.log(s.name.padEnd(46), String(status).padStart(6), (n / elapsed).toFixed(0).padStart(15), cpuPerReq.toFixed(0).padStart(11));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--seconds');
  await benchEngine(i > 0 ? Number(process.argv[i + 1]) : 3);
}
