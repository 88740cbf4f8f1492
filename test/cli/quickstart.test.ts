/**
 * warden quickstart (npm start): which `warden start` flags it adds to the user's, and the
 * demo blog it serves when no upstream is given, answering as WordPress does. The whole
 * program is run by test/story/npm-start.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { planQuickstart, humanDuration, describeJail } from '../../src/cli/quickstart.js';
import { startDemoBlog, type DemoBlog } from '../../src/demo/blog.js';
import type { JailConfig } from '../../src/config/types.js';

const FREE = { proxy: true, admin: true };

test('planQuickstart: defaults on loopback, the data directory, the demo and its trusted proxy, for the flags left out', () => {
  const table: Array<[string, readonly string[], NodeJS.ProcessEnv, { proxy: boolean; admin: boolean }, ReturnType<typeof planQuickstart>]> = [
    [
      'nothing given: the demo',
      [],
      {},
      FREE,
      {
        args: ['--listen', '127.0.0.1:8080', '--admin', '127.0.0.1:9180', '--access-log', 'warden-data/access.log', '--audit-log', 'warden-data/audit.log', '--trusted-proxy', '127.0.0.1'],
        demo: true,
        configFile: false,
        notes: [],
      },
    ],
    [
      'taken ports: free ones, and a note',
      [],
      {},
      { proxy: false, admin: true },
      {
        args: ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:9180', '--access-log', 'warden-data/access.log', '--audit-log', 'warden-data/audit.log', '--trusted-proxy', '127.0.0.1'],
        demo: true,
        configFile: false,
        notes: ['port 8080 on 127.0.0.1 is taken; using a free one instead (--listen HOST:PORT chooses)'],
      },
    ],
    [
      'an upstream: no demo, X-Forwarded-For not believed; the user\'s flags last',
      ['--upstream', 'http://127.0.0.1:3000', '--data-dir', '/var/lib/warden', '--admin', '127.0.0.1:9191'],
      {},
      { proxy: true, admin: false },
      {
        args: ['--listen', '127.0.0.1:8080', '--access-log', '/var/lib/warden/access.log', '--audit-log', '/var/lib/warden/audit.log', '--upstream', 'http://127.0.0.1:3000', '--data-dir', '/var/lib/warden', '--admin', '127.0.0.1:9191'],
        demo: false,
        configFile: false,
        notes: [],
      },
    ],
    [
      'the user\'s own trusted proxy and logs are kept',
      ['--trusted-proxy', '10.0.0.0/8', '--access-log', 'off', '--audit-log', 'off', '--listen', '0.0.0.0:80'],
      {},
      FREE,
      { args: ['--admin', '127.0.0.1:9180', '--trusted-proxy', '10.0.0.0/8', '--access-log', 'off', '--audit-log', 'off', '--listen', '0.0.0.0:80'], demo: true, configFile: false, notes: [] },
    ],
    ['--config: the file decides', ['--config', 'warden.yaml', '--workers', '2'], {}, FREE, { args: ['--config', 'warden.yaml', '--workers', '2'], demo: false, configFile: true, notes: [] }],
    ['WARDEN_CONFIG: the file decides', [], { WARDEN_CONFIG: '/etc/warden.yaml' }, FREE, { args: [], demo: false, configFile: true, notes: [] }],
    ['a mistake is left to warden start to explain', ['--upstrem', 'x'], {}, FREE, { args: ['--upstrem', 'x'], demo: false, configFile: false, notes: [] }],
  ];
  for (const [name, argv, env, free, expected] of table) assert.deepEqual(planQuickstart(argv, env, free), expected, name);
});

test('humanDuration and describeJail say a jail in words', () => {
  assert.deepEqual([600_000, 3_600_000, 90_000, 1500, 604_800_000, -1].map(humanDuration), ['10 min', '1 h', '90 s', '1500 ms', '7 d', 'for ever']);
  const jail: JailConfig = {
    name: 'sshd',
    enabled: true,
    source: 'file',
    when: {},
    files: ['/var/log/auth.log'],
    fromStart: false,
    filter: 'sshd',
    filterOptions: {},
    journalMatch: null,
    fromJails: [],
    maxRetry: 3,
    findTime: 600_000,
    banTime: -1,
    banTimeIncrement: { enabled: false, factor: 1, multipliers: null, maxTime: 0, overallJails: false, rndTime: 0 },
    ignoreIp: [],
    ignoreSelf: false,
    ipv6Prefix: 64,
    actions: [],
  };
  assert.equal(describeJail(jail), 'jail "sshd": an address found by filter sshd in /var/log/auth.log 3 times within 10 min is banned for ever');
  assert.equal(
    describeJail({ ...jail, name: 'waf', source: 'waf', when: { blocked: true, status: [400] }, banTime: 3_600_000, banTimeIncrement: { ...jail.banTimeIncrement, enabled: true, multipliers: [1, 5, 30] } }),
    'jail "waf": an address matching {"blocked":true,"status":[400]} 3 times within 10 min is banned for 1 h, then ×5, ×30 for repeat offenders',
  );
});

/** One request to the demo blog: status, content type and body. */
function send(blog: DemoBlog, method: string, path: string, body?: string, type?: string): Promise<{ status: number; type: string; body: string; location: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, blog.url);
    const req = request({ host: u.hostname, port: u.port, method, path: `${u.pathname}${u.search}`, headers: type === undefined ? {} : { 'Content-Type': type } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: text, location: String(res.headers.location ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const call = (method: string, ...params: string[]): string =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value><string>${p}</string></value></param>`).join('')}</params></methodCall>`;

test('the demo blog answers like WordPress: pages, comments, login, REST, and XML-RPC with its faults', async () => {
  const blog = await startDemoBlog();
  try {
    const post = '/2024/03/sourdough-at-altitude/';
    const home = await send(blog, 'GET', '/');
    assert.equal(home.status, 200);
    assert.match(home.body, new RegExp(`href="${post}"`));
    assert.match((await send(blog, 'GET', '/?s=starter')).body, /A starter in seven days/);
    assert.doesNotMatch((await send(blog, 'GET', '/?s=starter')).body, /Sourdough at altitude<\/a>/);
    assert.equal((await send(blog, 'GET', '/nothing-here')).status, 404);

    // A comment, escaped on the page.
    const posted = await send(blog, 'POST', '/wp-comments-post.php', 'author=Ann&comment=%3Cb%3ELovely%3C%2Fb%3E+loaf&comment_post_ID=12', 'application/x-www-form-urlencoded');
    assert.deepEqual([posted.status, posted.location], [302, `${post}#comments`]);
    const page = await send(blog, 'GET', post);
    assert.match(page.body, /<b>Ann<\/b>: &#60;b&#62;Lovely&#60;\/b&#62; loaf/);
    assert.equal((await send(blog, 'POST', '/wp-comments-post.php', 'author=&comment=x&comment_post_ID=12', 'application/x-www-form-urlencoded')).status, 400);

    assert.match((await send(blog, 'POST', '/wp-login.php', 'log=admin&pwd=guess', 'application/x-www-form-urlencoded')).body, /password you entered for the username <strong>admin<\/strong> is incorrect/);
    const rest = await send(blog, 'GET', '/wp-json/wp/v2/posts');
    assert.match(rest.type, /^application\/json/);
    assert.deepEqual((JSON.parse(rest.body) as Array<{ id: number }>).map((p) => p.id), [12, 9]);

    // XML-RPC.
    const get = await send(blog, 'GET', '/xmlrpc.php');
    assert.deepEqual([get.status, get.body], [405, 'XML-RPC server accepts POST requests only.']);
    const target = `${blog.url}${post}`;
    const ping = await send(blog, 'POST', '/xmlrpc.php', call('pingback.ping', 'https://bakers.example/a/', target), 'text/xml');
    assert.equal(ping.status, 200);
    assert.match(ping.body, /Pingback from https:\/\/bakers\.example\/a\/ to .* registered/);
    const faults: Array<[string, number]> = [
      [call('pingback.ping', 'https://bakers.example/a/', target), 48],
      [call('pingback.ping', 'https://bakers.example/b/', `${blog.url}/no-such-post/`), 33],
      [call('pingback.ping', 'https://bakers.example/b/'), -32602],
      [call('wp.getUsersBlogs', 'admin', 'guess'), -32601],
      ['not xml at all', -32700],
    ];
    for (const [body, code] of faults) {
      const r = await send(blog, 'POST', '/xmlrpc.php', body, 'text/xml');
      assert.match(r.body, new RegExp(`<name>faultCode</name><value><int>${code}</int>`), body);
    }
    // A javascript: source is shown, never linked.
    await send(blog, 'POST', '/xmlrpc.php', call('pingback.ping', 'javascript:alert(1)', target), 'text/xml');
    const after = (await send(blog, 'GET', post)).body;
    assert.match(after, /<li>Pingback: javascript:alert\(1\)<\/li>/);
    assert.match(after, /<li>Pingback: <a href="https:\/\/bakers\.example\/a\/" rel="nofollow">/);
    assert.equal(blog.requests.get('/xmlrpc.php'), 8);
  } finally {
    await blog.close();
  }
});
