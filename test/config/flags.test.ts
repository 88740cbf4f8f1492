/**
 * `warden start` flags and environment over warden.yaml over defaults: what a user gets
 * from the minimal command line, which source wins, and flag mistakes named by flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveStartConfig } from '../../src/config/index.js';
import { defaultWafJail } from '../../src/config/resolve.js';
import { configOf, errorsOf, resolveYaml, tempDir, writeTree } from './support.js';

const FILE = `listeners:
  - name: public
    host: 0.0.0.0
    port: 80
    routes: [{ pathPrefix: /, upstream: app }]
upstreams:
  - name: app
    url: http://127.0.0.1:3000
    connectTimeout: 1s
proxy:
  trustedProxies: [10.0.0.0/8]
rules:
  files: [file.conf]
  mode: on
logs:
  error: error.log
  access: access.log
workers: 4
dataDir: state
`;

test('the minimal command line: `warden start --upstream URL` and every default', () => {
  const cwd = tempDir();
  const config = configOf(resolveStartConfig(['--upstream', 'http://127.0.0.1:3000'], {}, cwd));
  assert.deepEqual(config, {
    file: null,
    listeners: [{ name: 'listener0', host: '0.0.0.0', port: 8080, tls: null, routes: [{ host: null, pathPrefix: '/', upstream: 'upstream0' }] }],
    upstreams: [
      { name: 'upstream0', url: 'http://127.0.0.1:3000', connections: 64, connectTimeout: 10000, headersTimeout: 60000, bodyTimeout: 60000, keepAliveTimeout: 4000 },
    ],
    proxy: {
      trustedProxies: [],
      clientAddressHeader: 'x-forwarded-for',
      forwardedHeaders: 'x-forwarded',
      requestHeadersTimeout: 60000,
      requestTimeout: 300000,
      keepAliveTimeout: 5000,
      maxHeaderSize: 16384,
      errorPageHtml: null,
      errorPageJson: null,
    },
    rules: { files: [], crs: null, crsSetup: null, plugins: [], before: [], baseline: true, defaults: 'auto', mode: null },
    logs: { error: '-', audit: null, auditFormat: null, auditType: null, auditStorageDir: null, access: null, rotateBytes: 0 },
    dataDir: join(cwd, 'warden-data'),
    workers: 0,
    admin: { host: '127.0.0.1', port: 9180, enabled: false, token: null, basicAuth: null, tls: null },
    jails: [defaultWafJail()],
    actions: [],
    bans: { answer: 'forbidden', filterDirs: ['/etc/fail2ban/filter.d'] },
    store: { type: 'sqlite', url: null, password: null, username: null, tls: null, prefix: 'warden:' },
  });
});

test('without any upstream there is nothing to run', () => {
  assert.deepEqual(errorsOf(resolveStartConfig([], {}, tempDir())), [
    'upstreams must list at least one upstream (or give --upstream URL): Warden needs to know where to send requests',
  ]);
});

test('flags override the file; what no flag names keeps the file\'s value', () => {
  const dir = writeTree({ 'warden.yaml': FILE, 'file.conf': '', 'flag.conf': '', 'flag2.conf': '' });
  const r = resolveStartConfig(
    [
      '--config', 'warden.yaml',
      '--listen', '127.0.0.1:9000',
      '--upstream', 'https://10.1.1.1:8443',
      '--rules', 'flag.conf', '--rules', 'flag2.conf',
      '--mode', 'detection',
      '--trusted-proxy', '192.168.0.0/16', '--trusted-proxy', 'loopback',
      '--error-log', '-',
      '--access-log', 'off',
      '--audit-log', 'audit.log',
      '--workers', '2',
      '--data-dir', '/var/lib/warden',
      '--admin', '127.0.0.1:9901',
    ],
    {},
    dir,
  );
  const config = configOf(r);
  // --listen changes where the one listener binds; its name and routes stay.
  assert.deepEqual(config.listeners, [{ name: 'public', host: '127.0.0.1', port: 9000, tls: null, routes: [{ host: null, pathPrefix: '/', upstream: 'app' }] }]);
  // --upstream changes the one upstream's URL; its name and timeouts stay.
  assert.deepEqual(config.upstreams.map((u) => [u.name, u.url, u.connectTimeout]), [['app', 'https://10.1.1.1:8443', 1000]]);
  // Repeatable flags replace the file's whole list.
  assert.deepEqual(config.rules.files, [join(dir, 'flag.conf'), join(dir, 'flag2.conf')]);
  assert.deepEqual(config.proxy.trustedProxies, ['192.168.0.0/16', '127.0.0.0/8', '::1/128']);
  assert.equal(config.rules.mode, 'detection');
  assert.deepEqual(config.logs, { ...config.logs, error: '-', access: null, audit: join(dir, 'audit.log') });
  assert.equal(config.workers, 2);
  assert.equal(config.dataDir, '/var/lib/warden');
  assert.deepEqual([config.admin.enabled, config.admin.host, config.admin.port], [true, '127.0.0.1', 9901]);
});

test('without flags the file wins over defaults, relative paths against the file\'s directory', () => {
  const dir = writeTree({ 'conf/warden.yaml': FILE, 'conf/file.conf': '' });
  const config = configOf(resolveStartConfig(['--config', 'conf/warden.yaml'], {}, dir));
  assert.equal(config.file, 'conf/warden.yaml');
  assert.deepEqual(config.rules.files, [join(dir, 'conf/file.conf')]);
  assert.equal(config.logs.error, join(dir, 'conf/error.log'));
  assert.equal(config.dataDir, join(dir, 'conf/state'));
  assert.equal(config.workers, 4);
  assert.equal(config.rules.mode, 'on');
});

test('WARDEN_CONFIG names the file when --config does not; --config wins over it', () => {
  const dir = writeTree({
    'a.yaml': 'upstreams: [{ url: "http://127.0.0.1:3001" }]\n',
    'b.yaml': 'upstreams: [{ url: "http://127.0.0.1:3002" }]\n',
  });
  const env = { WARDEN_CONFIG: join(dir, 'a.yaml') };
  assert.equal(configOf(resolveStartConfig([], env, dir)).upstreams[0]?.url, 'http://127.0.0.1:3001');
  assert.equal(configOf(resolveStartConfig(['--config', 'b.yaml'], env, dir)).upstreams[0]?.url, 'http://127.0.0.1:3002');
});

test('WARDEN_ADMIN_TOKEN supplies the admin token, which lets --admin listen beyond loopback', () => {
  const cwd = tempDir();
  const base = ['--upstream', 'http://127.0.0.1:3000', '--admin', '0.0.0.0:9443'];
  assert.deepEqual(errorsOf(resolveStartConfig(base, {}, cwd)), [
    '--admin 0.0.0.0 is reachable from other machines: set admin.token (or WARDEN_ADMIN_TOKEN) or admin.basicAuth, or listen on 127.0.0.1',
  ]);
  const config = configOf(resolveStartConfig(base, { WARDEN_ADMIN_TOKEN: 'a'.repeat(32) }, cwd));
  assert.deepEqual([config.admin.host, config.admin.port, config.admin.token], ['0.0.0.0', 9443, 'a'.repeat(32)]);
});

test('--listen and --upstream refuse to guess among several listeners or upstreams', () => {
  const yaml = `upstreams:
  - { name: a, url: "http://127.0.0.1:3001" }
  - { name: b, url: "http://127.0.0.1:3002" }
listeners:
  - { port: 8080, routes: [{ upstream: a }] }
  - { port: 8081, routes: [{ upstream: b }] }
`;
  const { result } = resolveYaml(yaml, ['--listen', '9000', '--upstream', 'http://127.0.0.1:4000']);
  assert.deepEqual(errorsOf(result), [
    '--listen cannot choose among the 2 listeners of warden.yaml: change them there',
    '--upstream cannot choose among the 2 upstreams of warden.yaml: change them there',
  ]);
});

test('flag mistakes are named by the flag', () => {
  const cwd = tempDir();
  const cases: ReadonlyArray<readonly [readonly string[], readonly string[]]> = [
    [['--upstrem', 'http://x'], ['--upstrem is not an option (did you mean --upstream?)']],
    [['--upstream'], ['--upstream needs a value']],
    [['start'], ['start is not an option (every setting is given as --name VALUE)']],
    [['--upstream', 'localhost:3000'], ['--upstream must be an http:// or https:// URL']],
    [['--upstream', 'http://127.0.0.1:3000', '--listen', 'localhost'], ['--listen must be HOST:PORT, [IPv6]:PORT or PORT (127.0.0.1:8080)']],
    [['--upstream', 'http://127.0.0.1:3000', '--listen', '99999'], ['--listen must be a port number from 0 to 65535']],
    [['--upstream', 'http://127.0.0.1:3000', '--mode', 'detect'], ['--mode must be one of on, detection, off (did you mean detection?)']],
    [
      ['--upstream', 'http://127.0.0.1:3000', '--trusted-proxy', '10.0.0.0/8', '--trusted-proxy', '10.0.0'],
      ['--trusted-proxy must be an IP address, a CIDR block (10.0.0.0/8) or one of loopback, private, linklocal'],
    ],
    [['--upstream', 'http://127.0.0.1:3000', '--workers', 'lots'], ['--workers must be a number of worker processes from 0 to 1024, or auto (one per core)']],
    [['--upstream', 'http://127.0.0.1:3000', '--crs', '/nonexistent'], ['--crs must be a CRS directory (/nonexistent is not a directory)']],
    [['--upstream', 'http://127.0.0.1:3000', '--listen', '9180', '--admin', '9180'], ['--admin 9180 on 127.0.0.1 is also where listeners[0] listens']],
    [['--config', 'missing.yaml'], ['cannot read config file missing.yaml: no such file']],
  ];
  for (const [argv, expected] of cases) assert.deepEqual(errorsOf(resolveStartConfig(argv, {}, cwd)), expected, argv.join(' '));
});

test('--listen takes [::]:PORT and a bare port; --workers auto is 0', () => {
  const cwd = tempDir();
  const a = configOf(resolveStartConfig(['--upstream', 'http://127.0.0.1:3000', '--listen', '[::]:8443', '--workers', 'auto'], {}, cwd));
  assert.deepEqual([a.listeners[0]?.host, a.listeners[0]?.port, a.workers], ['::', 8443, 0]);
  const b = configOf(resolveStartConfig(['--upstream', 'http://127.0.0.1:3000', '--listen', '3128'], {}, cwd));
  assert.deepEqual([b.listeners[0]?.host, b.listeners[0]?.port], ['0.0.0.0', 3128]);
});
