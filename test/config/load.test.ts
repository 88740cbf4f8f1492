/**
 * warden.yaml as a user writes it: a complete file read into the config it describes, and
 * broken files each answered with the exact `file:line: path problem` a user sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigLoadError, loadConfigFile } from '../../src/config/index.js';
import { draftJail } from '../../src/config/resolve.js';
import { configOf, errorsOf, resolveYaml, writeTree } from './support.js';

const CRS = '/work/shared/crs';

test('a complete warden.yaml loads into the config it describes', () => {
  const dir = writeTree({
    'tls/cert.pem': 'cert',
    'tls/key.pem': 'key',
    'pages/blocked.html': '<h1>{{status}}</h1> {{id}}',
    'local.conf': 'SecRule ARGS "@streq x" "id:1,phase:2,deny"\n',
    'warden.yaml': `# Warden in front of a blog and a shop
listeners:
  - name: public
    host: 0.0.0.0
    port: 443
    tls: { cert: tls/cert.pem, key: tls/key.pem }
    routes:
      - host: shop.example.com
        upstream: shop
      - host: "*.example.com"
        pathPrefix: /api/
        upstream: shop
      - upstream: blog
upstreams:
  - name: blog
    url: http://127.0.0.1:3000/
    connections: 16
    connectTimeout: 2s
    headersTimeout: 30000
  - name: shop
    url: https://10.0.0.5:8443
    bodyTimeout: 2m
proxy:
  trustedProxies: [loopback, 10.0.0.0/8]
  clientAddressHeader: forwarded
  forwardedHeaders: both
  requestTimeout: 1m
  maxHeaderSize: 32KiB
  errorPageHtml: pages/blocked.html
rules:
  crs: ${CRS}
  files: [local.conf]
  mode: detection
logs:
  error: /var/log/warden/error.log
  audit: logs/audit.log
  auditFormat: json
  auditType: concurrent
  auditStorageDir: logs/audit
  access: "-"
  rotateBytes: 100MiB
dataDir: /var/lib/warden
workers: auto
admin:
  host: 0.0.0.0
  port: 9443
  token: "0123456789abcdef0123"
  tls: { cert: tls/cert.pem, key: tls/key.pem }
jails:
  xmlrpc:
    when: { blocked: true, status: [400], tags: [attack-*] }
    maxRetry: 3
    findTime: 10m
    banTime: 1h
    banTimeIncrement: { maxTime: 1w, multipliers: [1, 5, 30] }
    ignoreIp: [192.0.2.0/24, office.example.com]
    actions: [nft]
  sshd:
    source: journal
    filter: sshd
    filterOptions: { mode: aggressive }
    banTime: forever
    ipv6Prefix: 56
actions:
  nft: { type: nftables, ports: [80, 443] }
  hook: { type: webhook, url: "https://hooks.example.com/bans", headers: { authorization: Bearer x } }
bans:
  answer: close
store:
  type: redis
  url: redis://10.0.0.7:6379/2
  password: "s3cret"
  tls: { ca: tls/cert.pem }
  prefix: "site:"
`,
  });
  const config = loadConfigFile(join(dir, 'warden.yaml'));
  assert.deepEqual(config, {
    file: join(dir, 'warden.yaml'),
    listeners: [
      {
        name: 'public',
        host: '0.0.0.0',
        port: 443,
        tls: { cert: join(dir, 'tls/cert.pem'), key: join(dir, 'tls/key.pem') },
        routes: [
          { host: 'shop.example.com', pathPrefix: '/', upstream: 'shop' },
          { host: '*.example.com', pathPrefix: '/api/', upstream: 'shop' },
          { host: null, pathPrefix: '/', upstream: 'blog' },
        ],
      },
    ],
    upstreams: [
      { name: 'blog', url: 'http://127.0.0.1:3000', connections: 16, connectTimeout: 2000, headersTimeout: 30000, bodyTimeout: 60000, keepAliveTimeout: 4000 },
      { name: 'shop', url: 'https://10.0.0.5:8443', connections: 64, connectTimeout: 10000, headersTimeout: 60000, bodyTimeout: 120000, keepAliveTimeout: 4000 },
    ],
    proxy: {
      trustedProxies: ['127.0.0.0/8', '::1/128', '10.0.0.0/8'],
      clientAddressHeader: 'forwarded',
      forwardedHeaders: 'both',
      requestHeadersTimeout: 60000,
      requestTimeout: 60000,
      keepAliveTimeout: 5000,
      maxHeaderSize: 32768,
      errorPageHtml: '<h1>{{status}}</h1> {{id}}',
      errorPageJson: null,
    },
    rules: { files: [join(dir, 'local.conf')], crs: CRS, crsSetup: null, plugins: [], before: [], baseline: true, defaults: 'auto', mode: 'detection' },
    logs: {
      error: '/var/log/warden/error.log',
      audit: join(dir, 'logs/audit.log'),
      auditFormat: 'json',
      auditType: 'concurrent',
      auditStorageDir: join(dir, 'logs/audit'),
      access: '-',
      rotateBytes: 100 * 1024 * 1024,
    },
    dataDir: '/var/lib/warden',
    workers: 0,
    admin: {
      host: '0.0.0.0',
      port: 9443,
      enabled: true,
      token: '0123456789abcdef0123',
      basicAuth: null,
      tls: { cert: join(dir, 'tls/cert.pem'), key: join(dir, 'tls/key.pem') },
    },
    jails: [
      {
        ...draftJail('xmlrpc'),
        when: { blocked: true, status: [400], tags: ['attack-*'] },
        maxRetry: 3,
        findTime: 600_000,
        banTime: 3_600_000,
        banTimeIncrement: { enabled: true, factor: 1, multipliers: [1, 5, 30], maxTime: 604_800_000, overallJails: false, rndTime: 0 },
        ignoreIp: ['192.0.2.0/24', 'office.example.com'],
        actions: ['nft'],
      },
      { ...draftJail('sshd'), source: 'journal', filter: 'sshd', filterOptions: { mode: 'aggressive' }, banTime: -1, ipv6Prefix: 56 },
    ],
    actions: [
      { name: 'nft', type: 'nftables', ports: [80, 443], verdict: 'drop', url: null, headers: {}, start: null, stop: null, ban: null, unban: null, file: null, options: {} },
      { name: 'hook', type: 'webhook', ports: [], verdict: 'drop', url: 'https://hooks.example.com/bans', headers: { authorization: 'Bearer x' }, start: null, stop: null, ban: null, unban: null, file: null, options: {} },
    ],
    bans: { answer: 'close', filterDirs: ['/etc/fail2ban/filter.d'] },
    store: { type: 'redis', url: 'redis://10.0.0.7:6379/2', password: 's3cret', username: null, tls: { ca: join(dir, 'tls/cert.pem'), cert: null, key: null, serverName: null }, prefix: 'site:' },
  });
});

test('an empty file with --upstream is a whole config of defaults', () => {
  const { dir, result } = resolveYaml('', ['--upstream', 'http://127.0.0.1:3000']);
  const config = configOf(result);
  assert.equal(config.file, 'warden.yaml');
  assert.deepEqual(config.listeners, [{ name: 'listener0', host: '0.0.0.0', port: 8080, tls: null, routes: [{ host: null, pathPrefix: '/', upstream: 'upstream0' }] }]);
  assert.equal(config.dataDir, join(dir, 'warden-data'));
});

test('a comment-only or null document is empty too; `admin: {}` turns the admin listener on with its defaults', () => {
  const config = configOf(resolveYaml('# nothing yet\nadmin: {}\n', ['--upstream', 'http://127.0.0.1:3000']).result);
  assert.deepEqual(config.admin, { host: '127.0.0.1', port: 9180, enabled: true, token: null, basicAuth: null, tls: null });
});

test('basic auth for the admin listener; `enabled: false` keeps the settings but no listener', () => {
  const yaml = `upstreams: [{ url: "http://127.0.0.1:3000" }]
admin:
  enabled: false
  host: 0.0.0.0
  basicAuth: { user: ops, password: "s3cret" }
`;
  const config = configOf(resolveYaml(yaml).result);
  assert.deepEqual(config.admin, { host: '0.0.0.0', port: 9180, enabled: false, token: null, basicAuth: { user: 'ops', password: 's3cret' }, tls: null });
});

test('YAML anchors and aliases are followed', () => {
  const yaml = `upstreams:
  - name: a
    url: http://127.0.0.1:3001
    connectTimeout: &fast 500ms
  - name: b
    url: http://127.0.0.1:3002
    connectTimeout: *fast
listeners:
  - routes: [{ pathPrefix: /b/, upstream: b }, { upstream: a }]
`;
  const config = configOf(resolveYaml(yaml).result);
  assert.deepEqual(config.upstreams.map((u) => u.connectTimeout), [500, 500]);
});

/** Broken files: the file, and every message a user sees for it, exactly. */
const BROKEN: ReadonlyArray<{ readonly name: string; readonly yaml: string; readonly errors: readonly string[] }> = [
  {
    name: 'upstream URL with another scheme',
    yaml: 'upstreams:\n  - name: blog\n    url: ftp://127.0.0.1:3000\n',
    errors: ['warden.yaml:3: upstreams[0].url must be an http:// or https:// URL'],
  },
  {
    name: 'upstream URL with a path',
    yaml: 'upstreams:\n  - url: http://127.0.0.1:3000/blog\n',
    errors: ['warden.yaml:2: upstreams[0].url must be an origin (scheme, host, port): requests keep their own path, so "/blog" cannot be added'],
  },
  {
    name: 'misspelt key in an upstream (and so no url)',
    yaml: 'upstreams:\n  - name: blog\n    ulr: http://127.0.0.1:3000\n',
    errors: [
      'warden.yaml:2: upstreams[0] must give its url (url: http://127.0.0.1:3000)',
      'warden.yaml:3: upstreams[0].ulr is not a setting (did you mean upstreams[0].url?)',
    ],
  },
  {
    name: 'misspelt top-level section',
    yaml: 'upstream:\n  - url: http://127.0.0.1:3000\n',
    errors: ['warden.yaml:1: upstream is not a setting (did you mean upstreams?)'],
  },
  {
    name: 'unknown key with nothing near it',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nlogs:\n  colour: true\n',
    errors: ['warden.yaml:3: logs.colour is not a setting (settings here: error, audit, auditFormat, auditType, auditStorageDir, access, rotateBytes)'],
  },
  {
    name: 'port out of range',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nlisteners:\n  - host: 0.0.0.0\n    port: 80800\n',
    errors: ['warden.yaml:4: listeners[0].port must be a port number from 0 to 65535'],
  },
  {
    name: 'route to an upstream that does not exist',
    yaml: `upstreams:
  - name: blog
    url: http://127.0.0.1:3000
listeners:
  - port: 8080
    routes:
      - pathPrefix: /
        upstream: blgo
`,
    errors: ['warden.yaml:8: listeners[0].routes[0].upstream names no upstream: "blgo" (did you mean blog?)'],
  },
  {
    name: 'route path without its slash, and a host with a port',
    yaml: `upstreams: [{ url: "http://127.0.0.1:3000" }]
listeners:
  - routes:
      - host: blog.example.com:8080
        pathPrefix: api
        upstream: upstream0
`,
    errors: [
      'warden.yaml:4: listeners[0].routes[0].host must be a host name without port (blog.example.com or *.example.com); routes match every port of a listener',
      'warden.yaml:5: listeners[0].routes[0].pathPrefix must be a path starting with / (/, /api/), without ? or #',
    ],
  },
  {
    name: 'engine mode in SecRuleEngine words',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nrules:\n  mode: DetectionOnly\n',
    errors: ['warden.yaml:3: rules.mode must be one of on, detection, off (did you mean detection?)'],
  },
  {
    name: 'trusted proxy with an impossible prefix and one with host bits set',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nproxy:\n  trustedProxies:\n    - 127.0.0.1\n    - 10.0.0.0/33\n    - 192.168.1.1/16\n',
    errors: [
      'warden.yaml:5: proxy.trustedProxies[1] must be an IP address, a CIDR block (10.0.0.0/8) or one of loopback, private, linklocal: prefix length "/33" must be a number from 0 to 32',
      'warden.yaml:6: proxy.trustedProxies[2] must be an IP address, a CIDR block (10.0.0.0/8) or one of loopback, private, linklocal; "192.168.1.1/16" has host bits set past /16',
    ],
  },
  {
    name: 'a timeout in words',
    yaml: 'upstreams:\n  - url: http://127.0.0.1:3000\n    connectTimeout: 10 seconds\n',
    errors: ['warden.yaml:3: upstreams[0].connectTimeout must be a duration: milliseconds, or a number with ms, s, m, h, d or w (30s, 500ms, 1d)'],
  },
  {
    name: 'a section that is not a map',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nrules: /etc/warden/rules.conf\n',
    errors: ['warden.yaml:2: rules must be a map of settings (files, crs, crsSetup, plugins, before, baseline, defaults, mode)'],
  },
  {
    name: 'the same key twice',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nworkers: 2\nworkers: 4\n',
    errors: ['warden.yaml:3: YAML syntax: Map keys must be unique'],
  },
  {
    name: 'a tab-indented line',
    yaml: 'upstreams:\n\t- url: http://127.0.0.1:3000\n',
    errors: ['warden.yaml:2: YAML syntax: Tabs are not allowed as indentation'],
  },
  {
    name: 'admin API open to the network without auth',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nadmin:\n  host: 0.0.0.0\n  port: 9180\n',
    errors: ['warden.yaml:3: admin.host 0.0.0.0 is reachable from other machines: set admin.token (or WARDEN_ADMIN_TOKEN) or admin.basicAuth, or listen on 127.0.0.1'],
  },
  {
    name: 'admin token too short to be a secret',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nadmin:\n  token: hunter2\n',
    errors: ['warden.yaml:3: admin.token must be at least 16 characters (a long random string: openssl rand -hex 24)'],
  },
  {
    name: 'CRS directory that is not there',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nrules:\n  crs: /nonexistent/coreruleset\n',
    errors: ['warden.yaml:3: rules.crs must be a CRS directory (/nonexistent/coreruleset is not a directory)'],
  },
  {
    name: 'several upstreams and a listener without routes',
    yaml: 'upstreams:\n  - { name: blog, url: "http://127.0.0.1:3000" }\n  - { name: shop, url: "http://127.0.0.1:3001" }\nlisteners:\n  - port: 8080\n',
    errors: ['warden.yaml:5: listeners[0].routes must say which upstream gets which requests: there are 2 upstreams (blog, shop)'],
  },
  {
    name: 'two listeners on one port, the same upstream name twice',
    yaml: `upstreams:
  - { name: blog, url: "http://127.0.0.1:3000" }
  - { name: blog, url: "http://127.0.0.1:3001" }
listeners:
  - { port: 8080, routes: [{ upstream: blog }] }
  - { host: 127.0.0.1, port: 8080, routes: [{ upstream: blog }] }
`,
    errors: [
      'warden.yaml:3: upstreams[1].name "blog" is already the name of upstreams[0]',
      'warden.yaml:6: listeners[1].port 8080 on 127.0.0.1 is also where listeners[0] listens',
    ],
  },
  {
    name: 'workers below zero, a boolean written as a word',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nworkers: -1\nrules:\n  baseline: off\n',
    errors: [
      'warden.yaml:2: workers must be a number of worker processes from 0 to 1024, or auto (one per core)',
      'warden.yaml:4: rules.baseline must be true or false',
    ],
  },
  {
    name: 'no upstream anywhere',
    yaml: 'listeners:\n  - port: 8080\n',
    errors: ['warden.yaml:1: upstreams must list at least one upstream (or give --upstream URL): Warden needs to know where to send requests'],
  },
  {
    name: 'jails: a misspelt setting, a bad count, an action that is not defined',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\njails:\n  waf:\n    maxretry: 3\n    maxRetry: 0\n    actions: [nft]\n',
    errors: [
      'warden.yaml:4: jails.waf.maxretry is not a setting (did you mean jails.waf.maxRetry?)',
      'warden.yaml:5: jails.waf.maxRetry must be a number of failures of at least 1',
    ],
  },
  {
    name: 'jails: a jail naming an action that does not exist',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nactions:\n  nftables: { type: nftables }\njails:\n  waf:\n    actions: [nftable]\n',
    errors: ['warden.yaml:6: jails.waf.actions[0] names no action: "nftable" (did you mean nftables?)'],
  },
  {
    name: 'jails: a file jail needs files and a filter; ban times are durations or forever',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\njails:\n  squid:\n    source: file\n    banTime: 0\n  sshd:\n    source: file\n    files: [/var/log/auth.log]\n    banTime: 2 days\n',
    errors: [
      'warden.yaml:5: jails.squid.banTime must be longer than 0 (use -1 or forever for bans that never end)',
      'warden.yaml:9: jails.sshd.banTime must be a duration: milliseconds, or a number with ms, s, m, h, d or w (30s, 500ms, 1d)',
    ],
  },
  {
    name: 'jails: source-specific needs are checked once the jail is read',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\njails:\n  squid:\n    source: file\n  manual: {}\n',
    errors: [
      'warden.yaml:4: jails.squid.files must list the log files a file jail reads',
      'warden.yaml:4: jails.squid.filter must name the filter that finds failures in the log lines (a fail2ban filter name or file)',
      'warden.yaml:5: jails.manual is the name of the jail for bans made by hand, which always exists: choose another name',
    ],
  },
  {
    name: 'actions: a type is required, and one Warden knows',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nactions:\n  a: { ports: [80] }\n  c: { type: firewall }\n',
    errors: [
      'warden.yaml:3: actions.a must say its type (nftables, ipset, webhook, command or fail2ban)',
      'warden.yaml:4: actions.c.type must be one of nftables, ipset, webhook, command, fail2ban',
    ],
  },
  {
    name: 'actions: a webhook needs its URL',
    yaml: 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nactions:\n  b: { type: webhook }\n',
    errors: ['warden.yaml:3: actions.b.url is needed by a webhook action (url: https://…)'],
  },
];

for (const c of BROKEN) {
  test(`broken warden.yaml: ${c.name}`, () => {
    assert.deepEqual(errorsOf(resolveYaml(c.yaml).result), c.errors);
  });
}

test('a missing TLS file is named with its line and absolute path', () => {
  const { dir, result } = resolveYaml('upstreams: [{ url: "http://127.0.0.1:3000" }]\nlisteners:\n  - port: 8443\n    tls:\n      cert: cert.pem\n      key: key.pem\n');
  assert.deepEqual(errorsOf(result), [
    `warden.yaml:5: listeners[0].tls.cert names ${join(dir, 'cert.pem')}, which does not exist (a PEM certificate)`,
    `warden.yaml:6: listeners[0].tls.key names ${join(dir, 'key.pem')}, which does not exist (a PEM private key)`,
  ]);
});

test('loadConfigFile throws one ConfigLoadError with every problem, each with file, line and path', () => {
  const dir = writeTree({ 'warden.yaml': 'upstreams:\n  - url: nope\nworkers: many\n' });
  const file = join(dir, 'warden.yaml');
  assert.throws(
    () => loadConfigFile(file),
    (err: unknown) => {
      assert.ok(err instanceof ConfigLoadError);
      assert.equal(err.code, 'WARDEN_CONFIG_INVALID');
      assert.deepEqual(
        err.errors.map((e) => [e.code, e.file, e.line, e.path]),
        [
          ['WARDEN_CONFIG', file, 2, 'upstreams[0].url'],
          ['WARDEN_CONFIG', file, 3, 'workers'],
        ],
      );
      assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace in the message');
      return true;
    },
  );
});
