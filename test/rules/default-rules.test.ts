/**
 * Warden's default rule set (rules/default) as a table: request → the verdict a user would
 * see (status and the rule that decided) or a pass, with the baseline loaded first as
 * `warden start` loads them. Every refusing rule has at least one row that it decides and
 * rows of near misses that must pass; the whole benign corpus of test/fixtures/blog passes.
 * Also: the file layout (ids in each file's documented range, msg, tags) and how the set
 * composes with rules.baseline, rules.crs and rules.files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Waf } from '../../src/engine/index.js';
import { BASELINE_RULES, DEFAULT_RULES, resolveStartConfig, ruleFilesFor } from '../../src/config/index.js';
import { parseHar } from '../../src/http/recorded.js';
import { replayRequest } from '../../src/cli/replay.js';
import { runRequest, type TestRequest } from '../support/request.js';
import { sharedSuite } from '../support/shared.js';
import { configOf, tempDir } from '../config/support.js';

const waf = Waf.fromFiles([BASELINE_RULES, ...DEFAULT_RULES]);

/** Each file's id range, as its header documents it. */
const RANGES: Record<string, readonly [number, number, string]> = {
  'protocol.conf': [1001000, 1001999, 'protocol'],
  'xmlrpc.conf': [1002000, 1002999, 'xmlrpc'],
  'scanners.conf': [1003000, 1003999, 'scanner'],
  'injection.conf': [1004000, 1004999, 'injection'],
};

const HOST = ['Host', 'blog.example.org'] as const;
const UA = ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0'] as const;

function get(uri: string, ...headers: ReadonlyArray<readonly [string, string]>): TestRequest {
  return { method: 'GET', uri, headers: [HOST, UA, ...headers] };
}
function post(uri: string, type: string, body: string, ...headers: ReadonlyArray<readonly [string, string]>): TestRequest {
  return { method: 'POST', uri, headers: [HOST, UA, ['Content-Type', type], ['Content-Length', String(body.length)], ...headers], body };
}
const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

/** An XML-RPC call as WordPress writes it. */
function call(method: string, ...params: string[]): string {
  return `<?xml version="1.0"?>\n<methodCall>\n<methodName>${method}</methodName>\n<params>\n${params.map((p) => `<param><value>${p}</value></param>\n`).join('')}</params></methodCall>\n`;
}
const s = (v: string): string => `<string>${v}</string>`;
/** The body as UTF-8 bytes (requests carry bytes as latin1 strings). */
const xmlrpc = (body: string, type = 'text/xml', uri = '/xmlrpc.php'): TestRequest =>
  post(uri, type, Buffer.from(body, 'utf8').toString('latin1'), ['User-Agent', 'WordPress/6.5.3; https://other.example']);
const pingback = (source: string, target = 'https://blog.example.org/2024/03/sourdough-at-altitude/'): TestRequest => xmlrpc(call('pingback.ping', s(source), s(target)));
function multicall(methods: string[]): string {
  const calls = methods.map((m, i) => `<value><struct><member><name>methodName</name><value><string>${m}</string></value></member><member><name>params</name><value><array><data><value><string>admin</string></value><value><string>guess${i}</string></value></data></array></value></member></struct></value>`);
  return call('system.multicall', `<array><data>${calls.join('')}</data></array>`);
}

type Expect = 'pass' | readonly [status: number, ruleId: number];

const TABLE: ReadonlyArray<readonly [string, TestRequest, Expect]> = [
  // ------------------------------------------------------------ protocol sanity
  ['an ordinary page view', get('/2024/03/sourdough-at-altitude/'), 'pass'],
  ['TRACE', { method: 'TRACE', uri: '/', headers: [HOST, UA] }, [405, 1001000]],
  ['TRACK', { method: 'TRACK', uri: '/', headers: [HOST, UA] }, [405, 1001000]],
  ['PROPFIND (WebDAV)', { method: 'PROPFIND', uri: '/', headers: [HOST, UA] }, [405, 1001000]],
  ['a made-up method', { method: 'JEFF', uri: '/', headers: [HOST, UA] }, [405, 1001000]],
  ['PUT, PATCH, DELETE, OPTIONS and HEAD are methods a REST API uses', { method: 'OPTIONS', uri: '/wp-json/', headers: [HOST, UA] }, 'pass'],
  ['DELETE', { method: 'DELETE', uri: '/wp-json/wp/v2/posts/12', headers: [HOST, UA] }, 'pass'],
  ['HEAD', { method: 'HEAD', uri: '/', headers: [HOST, UA] }, 'pass'],
  ['a GET with a Content-Length body', { method: 'GET', uri: '/', headers: [HOST, UA, ['Content-Length', '12']], body: 'hello world!' }, [400, 1001010]],
  ['a GET with a chunked body', { method: 'GET', uri: '/', headers: [HOST, UA, ['Transfer-Encoding', 'chunked']], body: 'x' }, [400, 1001010]],
  ['a HEAD with a body', { method: 'HEAD', uri: '/', headers: [HOST, UA, ['Content-Length', '3']], body: 'abc' }, [400, 1001010]],
  ['a GET with Content-Length: 0 passes', get('/', ['Content-Length', '0']), 'pass'],
  ['Transfer-Encoding: gzip, chunked', { ...post('/wp-json/x', 'application/json', '{}'), headers: [HOST, UA, ['Content-Type', 'application/json'], ['Transfer-Encoding', 'gzip, chunked']] }, [501, 1001020]],
  ['Transfer-Encoding: Chunked (any case) passes', { ...post('/wp-json/x', 'application/json', '{}'), headers: [HOST, UA, ['Content-Type', 'application/json'], ['Transfer-Encoding', 'Chunked']] }, 'pass'],
  ['a gzip request body', post('/wp-json/x', 'application/json', '\x1f\x8b\x08\x00', ['Content-Encoding', 'gzip']), [415, 1001030]],
  ['Content-Encoding: identity passes', post('/wp-json/x', 'application/json', '{"a":1}', ['Content-Encoding', 'identity']), 'pass'],
  ['two Content-Type headers', { method: 'POST', uri: '/wp-login.php', headers: [HOST, UA, ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Type', 'application/json'], ['Content-Length', '5']], body: 'log=a' }, [400, 1001040]],
  ['a Content-Type that is not type/subtype', post('/wp-json/x', 'json', '{}'), [400, 1001041]],
  ['a Content-Type with a space in the type', post('/wp-json/x', 'application/ json', '{}'), [400, 1001041]],
  ['Content-Type with parameters and odd case passes', post('/wp-json/x', 'Application/JSON ; charset="UTF-8"', '{}'), 'pass'],
  ['a multipart Content-Type passes', post('/upload', 'multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW', '------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n'), 'pass'],
  ['a bare % in the query', get('/?s=100%'), [400, 1001050]],
  ['%zz in the path', get('/wp-content/%zz.php'), [400, 1001050]],
  ['%u0027 (IIS-style) in the query', get('/?s=%u0027'), [400, 1001050]],
  ['a correctly encoded 100% passes', get('/?s=100%25+rye'), 'pass'],
  ['invalid encoding in a urlencoded body', post('/wp-comments-post.php', 'application/x-www-form-urlencoded', 'comment=50%+off&author=x'), [400, 1001051]],
  ['invalid encoding in a JSON body is not urlencoding', post('/wp-json/x', 'application/json', '{"discount":"50% off"}'), 'pass'],
  ['a NUL byte in an argument', get('/download.php?file=invoice.pdf%00.jpg'), [400, 1001060]],
  ['a NUL byte in an argument name', get('/?a%00b=1'), [400, 1001060]],
  ['a NUL byte in a urlencoded body', post('/wp-login.php', 'application/x-www-form-urlencoded', 'log=admin%00&pwd=x'), [400, 1001060]],
  ['six ranges', get('/video.mp4', ['Range', 'bytes=0-1,2-3,4-5,6-7,8-9,10-11']), [416, 1001070]],
  ['Request-Range with many ranges', get('/video.mp4', ['Request-Range', 'bytes=0-,0-,0-,0-,0-,0-,0-']), [416, 1001070]],
  ['one range passes', get('/video.mp4', ['Range', 'bytes=1048576-']), 'pass'],
  ['five ranges pass', get('/video.mp4', ['Range', 'bytes=0-1,2-3,4-5,6-7,8-9']), 'pass'],

  // ------------------------------------------------------------ XML-RPC
  ['a well-formed pingback from a WordPress site', pingback('https://other.example/2024/02/links/'), 'pass'],
  ['a pingback with a port, query and fragment', pingback('http://garden.example.com:8443/?p=1219&amp;lang=en#c12'), 'pass'],
  ['a pingback from an IPv6 literal', pingback('http://[2001:db8::7]/post/'), 'pass'],
  ['a pingback whose URL has raw UTF-8 in the path', pingback('https://other.example/2024/ümlaut/'), 'pass'],
  ['a pingback with untyped values (XML-RPC default string)', xmlrpc('<?xml version="1.0"?><methodCall><methodName>pingback.ping</methodName><params><param><value>https://a.example/x</value></param><param><value>https://blog.example.org/y</value></param></params></methodCall>'), 'pass'],
  ['a chunked, malformed pingback from PHP/5.2.10 (the story)', { ...pingback('http://spam.example/?a=1&b=2'), headers: [HOST, ['User-Agent', 'PHP/5.2.10'], ['Content-Type', 'text/xml'], ['Transfer-Encoding', 'chunked']] }, [400, 1000010]],
  ['a truncated methodCall', xmlrpc('<?xml version="1.0"?>\n<methodCall>\n<methodName>pingback.ping</methodName>\n<params><param><value><string>http://a'), [400, 1000010]],
  ['form-encoded junk to xmlrpc.php is parsed as XML anyway', xmlrpc('source=http://spam.example&target=x', 'application/x-www-form-urlencoded'), [400, 1000010]],
  ['no Content-Type at all: still XML', { method: 'POST', uri: '/xmlrpc.php', headers: [HOST, UA, ['Content-Length', '5']], body: 'hello' }, [400, 1000010]],
  ['xmlrpc.php/anything (PATH_INFO) is the same script', xmlrpc('not xml', 'text/plain', '/xmlrpc.php/x'), [400, 1000010]],
  ['a blog in a subdirectory, name in upper case', xmlrpc('not xml', 'text/plain', '/blog/XMLRPC.PHP'), [400, 1000010]],
  ['an entity bomb', xmlrpc(`<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "${'a'.repeat(50)}">${Array.from({ length: 6 }, (_, i) => `<!ENTITY ${'b'.repeat(i + 1)} "${`&${i === 0 ? 'a' : 'b'.repeat(i)};`.repeat(10)}">`).join('')}]><methodCall><methodName>x</methodName><params><param><value>&bbbbbb;</value></param></params></methodCall>`), [400, 1000010]],
  ['a POST to xmlrpc.php without a body', xmlrpc(''), [400, 1002010]],
  ['a GET of xmlrpc.php is left to WordPress', get('/xmlrpc.php'), 'pass'],
  ['a GET of xmlrpc.php?rsd passes', get('/xmlrpc.php?rsd'), 'pass'],
  ['a methodResponse', xmlrpc('<?xml version="1.0"?><methodResponse><params><param><value>1</value></param></params></methodResponse>'), [400, 1002011]],
  ['an RSS feed', xmlrpc('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'), [400, 1002011]],
  ['two methodNames', xmlrpc('<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>'), [400, 1002011]],
  ['a methodCall in a namespace is not XML-RPC', xmlrpc('<methodCall xmlns="urn:x"><methodName>a</methodName></methodCall>'), [400, 1002011]],
  ['a methodName with a quote', xmlrpc(call("wp.getPosts'--")), [400, 1002012]],
  ['an empty methodName', xmlrpc(call('')), [400, 1002012]],
  ['a methodName with spaces inside', xmlrpc(call('pingback ping')), [400, 1002012]],
  ['system.listMethods passes', xmlrpc(call('system.listMethods')), 'pass'],
  ['a methodName padded with white space passes', xmlrpc(call('  demo.sayHello\n')), 'pass'],
  ['pingback.ping with one parameter', xmlrpc(call('pingback.ping', s('https://a.example/'))), [400, 1002020]],
  ['pingback.ping with three parameters', xmlrpc(call('pingback.ping', s('https://a.example/'), s('https://blog.example.org/'), s('x'))), [400, 1002020]],
  ['pingback.ping with none', xmlrpc(call('pingback.ping')), [400, 1002020]],
  ['a pingback padded past 8 KB', pingback(`https://a.example/${'x'.repeat(8200)}`), [413, 1002021]],
  ['a pingback of 2000-character URLs passes', pingback(`https://a.example/${'x'.repeat(2000)}`, `https://blog.example.org/${'y'.repeat(2000)}`), 'pass'],
  ['a source that is spam text', pingback('cheap pills online'), [400, 1002022]],
  ['a source that is a file: URL', pingback('file:///etc/passwd'), [400, 1002022]],
  ['a gopher: URL', pingback('gopher://127.0.0.1:6379/_FLUSHALL'), [400, 1002022]],
  ['an empty source', pingback(''), [400, 1002022]],
  ['a source with a space in the path', pingback('https://a.example/buy now'), [400, 1002022]],
  ['a source with user@ in the authority', pingback('http://blog.example.org@evil.example/'), [400, 1002022]],
  ['a source that is a struct', xmlrpc(call('pingback.ping', '<struct><member><name>u</name><value>x</value></member></struct>', s('https://blog.example.org/'))), [400, 1002022]],
  ['a target that is not a URL', pingback('https://a.example/post/', 'my-post'), [400, 1002023]],
  ['a target with javascript:', pingback('https://a.example/post/', 'javascript:alert(1)'), [400, 1002023]],
  ['system.multicall guessing passwords', xmlrpc(multicall(['wp.getUsersBlogs', 'wp.getUsersBlogs', 'wp.getUsersBlogs'])), [403, 1002031]],
  ['guessing with the metaWeblog and Blogger twins', xmlrpc(multicall(['metaWeblog.getUsersBlogs', 'blogger.getUsersBlogs'])), [403, 1002031]],
  ['one login call in a multicall passes', xmlrpc(multicall(['wp.getUsersBlogs', 'wp.getOptions', 'wp.getPostFormats'])), 'pass'],
  ['the apps\' settings batch passes', xmlrpc(multicall(['wp.getOptions', 'wp.getProfile', 'wp.getPostFormats', 'wp.getCategories'])), 'pass'],
  ['a multicall of 21 calls', xmlrpc(multicall(Array.from({ length: 21 }, () => 'wp.getPost'))), [403, 1002032]],
  ['a multicall of 20 calls passes', xmlrpc(multicall(Array.from({ length: 20 }, () => 'wp.getPost'))), 'pass'],
  ['a single wp.getUsersBlogs (the apps log in) passes', xmlrpc(call('wp.getUsersBlogs', s('editor'), s('correct horse battery staple'))), 'pass'],

  // ------------------------------------------------------------ scanners
  ['sqlmap', get('/?p=1', ['User-Agent', 'sqlmap/1.8.4#stable (https://sqlmap.org)']), [403, 1003000]],
  ['Nikto', get('/', ['User-Agent', 'Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)']), [403, 1003000]],
  ['WPScan', get('/wp-json/wp/v2/users', ['User-Agent', 'WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)']), [403, 1003000]],
  ['the Nmap Scripting Engine', get('/', ['User-Agent', 'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)']), [403, 1003000]],
  ['Nuclei', get('/', ['User-Agent', 'Nuclei - Open-source project (github.com/projectdiscovery/nuclei)']), [403, 1003000]],
  ['ffuf', get('/FUZZ', ['User-Agent', 'Fuzz Faster U Fool v2.1.0-dev']), [403, 1003000]],
  ['masscan', get('/', ['User-Agent', 'masscan/1.3 (https://github.com/robertdavidgraham/masscan)']), [403, 1003000]],
  ['zgrab', get('/', ['User-Agent', 'Mozilla/5.0 zgrab/0.x']), [403, 1003000]],
  ['Hydra', get('/wp-login.php', ['User-Agent', 'Mozilla/4.0 (Hydra)']), [403, 1003000]],
  ['ZmEu', get('/phpMyAdmin/scripts/setup.php', ['User-Agent', 'ZmEu']), [403, 1003000]],
  ['an Acunetix header', get('/', ['Acunetix-Product', 'WVS/14.0']), [403, 1003001]],
  ['WebInspect\'s memo header', get('/', ['X-Scan-Memo', 'Category="Audit.Attack"']), [403, 1003001]],
  ['Googlebot passes', get('/', ['User-Agent', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)']), 'pass'],
  ['curl passes', get('/', ['User-Agent', 'curl/8.5.0']), 'pass'],
  ['python-requests passes', get('/wp-json/', ['User-Agent', 'python-requests/2.31.0']), 'pass'],
  ['a sitemap generator passes', get('/sitemap.xml', ['User-Agent', 'Screaming Frog SEO Spider/19.8']), 'pass'],
  ['a WordPress pingback UA passes', get('/', ['User-Agent', 'WordPress/6.5.3; https://hydrangea.example.com']), 'pass'],

  // ------------------------------------------------------------ SQL injection and XSS
  ['SQL injection in the search', get("/?s=1'+union+select+user_login,user_pass+from+wp_users--+-"), [403, 1004000]],
  ['a tautology', get("/?id=1'+or+'1'='1"), [403, 1004000]],
  ['SQL injection in an argument name', get("/?1'+or+1=1--=x"), [403, 1004000]],
  ['SQL injection in a JSON value', post('/wp-json/x', 'application/json', '{"id":"1 AND 1=1 UNION SELECT password FROM users"}'), [403, 1004000]],
  ['SQL injection in an XML-RPC parameter', xmlrpc(call('wp.getPost', s("1' or 1=1-- -"), s('editor'), s('x'))), [403, 1004000]],
  ['SQL injection in a comment form\'s author', post('/wp-comments-post.php', 'application/x-www-form-urlencoded', form({ comment: 'hi', author: "x' AND 1=(SELECT COUNT(*) FROM wp_users)-- -" })), [403, 1004000]],
  ['SQL injection in a multipart field', post('/upload', 'multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="id"\r\n\r\n1;DROP TABLE users--\r\n--b--\r\n'), [403, 1004000]],
  ['prose with quotes and "and" in a comment passes', post('/wp-comments-post.php', 'application/x-www-form-urlencoded', form({ comment: 'The "<" and ">" in your snippet got eaten: it should be `cmd > out.log 2>&1`.', author: 'Priya' })), 'pass'],
  ['the same prose in another form is read as SQL', post('/contact', 'application/x-www-form-urlencoded', form({ message: 'The "<" and ">" in your snippet got eaten: it should be `cmd > out.log 2>&1`.' })), [403, 1004000]],
  ['a password that looks like SQL passes', post('/wp-login.php', 'application/x-www-form-urlencoded', form({ log: 'anna', pwd: "x' or 1=1-- -" })), 'pass'],
  ['WordPress\'s new-password fields pass', post('/wp-login.php?action=resetpass', 'application/x-www-form-urlencoded', form({ pass1: "<script>'1'='1'", pass2: "<script>'1'='1'" })), 'pass'],
  ['a search for o\'reilly passes', get("/?s=o'reilly+sql+book"), 'pass'],
  ['a search for "select best" passes', get('/?s=select+the+best+bike'), 'pass'],
  ['a script tag in a comment', post('/wp-comments-post.php', 'application/x-www-form-urlencoded', form({ comment: 'Great!<script>alert(document.cookie)</script>', author: 'x' })), [403, 1004001]],
  ['an event handler in a JSON value', post('/wp-json/x', 'application/json', '{"name":"<img src=x onerror=alert(1)>"}'), [403, 1004001]],
  ['a javascript: link in the query', get('/?u=%3Ca+href%3D%22javascript%3Aalert(1)%22%3Ex%3C%2Fa%3E'), [403, 1004001]],
  ['XSS in an argument name', get('/?%3Csvg%2Fonload%3Dalert(1)%3E=1'), [403, 1004001]],
  ['HTML entity-encoded XSS', get('/?q=%26lt%3Bscript%26gt%3Balert(1)%26lt%3B%2Fscript%26gt%3B'), [403, 1004001]],
  ['XSS in an XML-RPC comment', xmlrpc(call('wp.newComment', '<int>1</int>', s(''), s(''), '<int>3</int>', `<struct><member><name>content</name><value>${s('&lt;script&gt;alert(1)&lt;/script&gt;')}</value></member></struct>`)), [403, 1004001]],
  ['links, bold and emphasis in a comment pass', post('/wp-comments-post.php', 'application/x-www-form-urlencoded', form({ comment: 'See <a href="https://x.example/">this</a>, <strong>really</strong> <em>good</em>.', author: 'a' })), 'pass'],
  ['block editor content passes', post('/wp-json/wp/v2/posts/1', 'application/json', JSON.stringify({ content: '<!-- wp:image {"id":5} -->\n<figure class="wp-block-image"><img src="https://blog.example.org/a.jpg" alt=""/></figure>\n<!-- /wp:image -->' })), 'pass'],
];

for (const [name, req, expect] of TABLE) {
  test(`default rules: ${name} → ${expect === 'pass' ? 'pass' : `${expect[0]} by ${expect[1]}`}`, async () => {
    const r = await runRequest(waf, req);
    const got = r.interruption === null ? 'pass' : [r.interruption.status, r.interruption.ruleId];
    assert.deepEqual(got, expect, `matched: ${r.tx.matches.map((m) => `${m.ruleId} ${m.msg}`).join('; ')}`);
  });
}

test('default rules: every rule that refuses decides at least one row of the table', () => {
  const decided = new Set(TABLE.flatMap(([, , e]) => (e === 'pass' ? [] : [e[1]])));
  const refusing = waf.rules.filter((r) => r.starter === r && r.id >= 1001000 && r.disruptive !== 'pass');
  assert.ok(refusing.length >= 20, `${refusing.length} refusing rules`);
  // 1002013 is the fallback for rules.baseline: false (tested below).
  const missing = refusing.map((r) => r.id).filter((id) => !decided.has(id) && id !== 1002013);
  assert.deepEqual(missing, []);
});

test('default rules: files, id ranges, msg and tags', () => {
  for (const file of DEFAULT_RULES) {
    const [low, high, family] = RANGES[basename(file)] ?? [0, 0, ''];
    const one = Waf.fromFiles([file]);
    assert.deepEqual(one.warnings, [], `${basename(file)} loads without warnings`);
    const starters = one.rules.filter((r) => r.starter === r);
    assert.ok(starters.length > 0);
    for (const r of starters) {
      assert.ok(r.id >= low && r.id <= high, `${basename(file)}: id ${r.id} in ${low}–${high}`);
      assert.notEqual(r.msg, null, `rule ${r.id} has a msg`);
      const tags = r.tags.map((t) => t.source);
      assert.ok(tags.includes('warden-default') && tags.includes(`warden-default/${family}`), `rule ${r.id} tags: ${tags.join(', ')}`);
      const refuses = r.disruptive !== 'pass';
      if (refuses) assert.ok(tags.some((t) => t.startsWith('attack-')), `refusing rule ${r.id} has an attack-* tag for jails`);
    }
  }
  // Nothing in the set collides with the baseline's ids or with another file's.
  const ids = waf.rules.filter((r) => r.starter === r).map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
});

test('default rules: the scanner list is Warden\'s own file, one name a line', () => {
  const data = readFileSync(new URL('../../rules/default/scanner-user-agents.data', import.meta.url), 'utf8');
  const names = data.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  assert.ok(names.length >= 25);
  for (const n of names) assert.equal(n, n.toLowerCase().trim(), `"${n}" is lower case (the rule lower-cases the header)`);
});

test('default rules: without the baseline, a malformed XML-RPC body is still refused (1002013)', async () => {
  const alone = Waf.fromFiles(DEFAULT_RULES);
  const r = await runRequest(alone, pingback('http://spam.example/?a=1&b=2'));
  assert.deepEqual([r.interruption?.status, r.interruption?.ruleId], [400, 1002013]);
  const ok = await runRequest(alone, pingback('https://other.example/a/'));
  assert.equal(ok.interruption, null);
});

test('default rules: the whole benign corpus passes, the attack corpus is refused', async () => {
  const dir = new URL('../fixtures/blog/', import.meta.url);
  const benign = parseHar(readFileSync(new URL('benign.har', dir), 'utf8'), 'benign.har').requests;
  assert.ok(benign.length >= 200, `${benign.length} benign requests`);
  const falsePositives: string[] = [];
  for (const req of benign) {
    const v = await replayRequest(waf, req, '198.51.100.7');
    if (v.interruption !== null) falsePositives.push(`#${req.index} ${req.label}: ${v.interruption.status} by ${v.interruption.ruleId}`);
  }
  assert.deepEqual(falsePositives, []);
  const attacks = parseHar(readFileSync(new URL('attacks.har', dir), 'utf8'), 'attacks.har').requests;
  for (const req of attacks) {
    const v = await replayRequest(waf, req, '198.51.100.66');
    assert.notEqual(v.interruption, null, `attack #${req.index} (${req.label}) passed`);
  }
});

// ------------------------------------------------------------ composition with warden.yaml

function filesFor(argv: readonly string[], yaml?: string): string[] {
  const dir = tempDir();
  const args = ['--upstream', 'http://127.0.0.1:3000', ...argv];
  if (yaml !== undefined) {
    writeFileSync(`${dir}/warden.yaml`, yaml);
    args.push('--config', `${dir}/warden.yaml`);
  }
  return ruleFilesFor(configOf(resolveStartConfig(args, {}, dir)));
}

const crs = sharedSuite('crs');

test('rules.defaults: auto loads the set when no CRS and no rule files are configured', () => {
  assert.deepEqual(filesFor([]), [BASELINE_RULES, ...DEFAULT_RULES]);
  assert.deepEqual(filesFor([], 'rules: { baseline: false }\n'), [...DEFAULT_RULES]);
});

test('rules.defaults: auto steps aside for rule files of your own; true keeps it, before them', () => {
  const dir = tempDir();
  const mine = `${dir}/mine.conf`;
  writeFileSync(mine, '');
  assert.deepEqual(filesFor(['--rules', mine]), [BASELINE_RULES, mine]);
  assert.deepEqual(filesFor(['--rules', mine], 'rules: { defaults: true }\n'), [BASELINE_RULES, ...DEFAULT_RULES, mine]);
  assert.deepEqual(filesFor([], 'rules: { defaults: false }\n'), [BASELINE_RULES]);
});

test('rules.defaults: CRS configured → only the baseline stays (or the set after CRS with true)', { skip: crs === null ? 'needs ../shared/crs' : false }, () => {
  const withCrs = filesFor(['--crs', crs as string]);
  assert.equal(withCrs[0], BASELINE_RULES);
  assert.ok(!withCrs.some((f) => DEFAULT_RULES.includes(f)));
  const both = filesFor(['--crs', crs as string], 'rules: { defaults: true }\n');
  assert.deepEqual(both.slice(-DEFAULT_RULES.length), [...DEFAULT_RULES]);
});

test('rules.defaults: a value other than auto, true or false is named with its line', () => {
  const dir = tempDir();
  writeFileSync(`${dir}/warden.yaml`, 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nrules:\n  defaults: yes please\n');
  const r = resolveStartConfig(['--config', 'warden.yaml'], {}, dir);
  assert.deepEqual('errors' in r ? r.errors : [], [
    'warden.yaml:3: rules.defaults must be auto (Warden\'s default rules only when no crs and no files are configured), true or false',
  ]);
});
