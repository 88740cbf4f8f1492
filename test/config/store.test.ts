/**
 * The store in warden.yaml and on the command line: SQLite by default, Redis for a fleet
 * (URL, password from the file, the URL or WARDEN_REDIS_PASSWORD, TLS files), and each
 * mistake answered at its line or flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveStartConfig } from '../../src/config/index.js';
import { configOf, errorsOf, resolveYaml, writeTree } from './support.js';

const UP = 'upstreams: [{ url: "http://127.0.0.1:3000" }]\n';

test('without a store section the store is SQLite in the data directory', () => {
  const config = configOf(resolveYaml(UP).result);
  assert.deepEqual(config.store, { type: 'sqlite', url: null, password: null, username: null, tls: null, prefix: 'warden:' });
});

test('a Redis store with a password, an ACL user, TLS files and a prefix', () => {
  const dir = writeTree({
    'pki/ca.pem': 'ca',
    'pki/node.pem': 'cert',
    'pki/node.key': 'key',
    'warden.yaml': `${UP}store:
  type: redis
  url: rediss://redis.internal:6380/3
  username: warden
  password: "correct horse"
  tls: { ca: pki/ca.pem, cert: pki/node.pem, key: pki/node.key, serverName: redis.internal }
  prefix: "shop:"
`,
  });
  const config = configOf(resolveStartConfig(['--config', 'warden.yaml'], {}, dir));
  assert.deepEqual(config.store, {
    type: 'redis',
    url: 'rediss://redis.internal:6380/3',
    password: 'correct horse',
    username: 'warden',
    tls: { ca: join(dir, 'pki/ca.pem'), cert: join(dir, 'pki/node.pem'), key: join(dir, 'pki/node.key'), serverName: 'redis.internal' },
    prefix: 'shop:',
  });
});

test('tls: true uses the system CAs; the password may come from WARDEN_REDIS_PASSWORD', () => {
  const { result } = resolveYaml(`${UP}store: { type: redis, url: "redis://10.0.0.5:6379/0", tls: true }\n`, [], { WARDEN_REDIS_PASSWORD: 'from-env' });
  const store = configOf(result).store;
  assert.deepEqual(store.tls, { ca: null, cert: null, key: null, serverName: null });
  assert.equal(store.password, 'from-env');
});

test('--store redis://HOST:PORT/DB chooses Redis; --store sqlite overrides a file that says redis', () => {
  const cwd = writeTree({});
  const flag = configOf(resolveStartConfig(['--upstream', 'http://127.0.0.1:3000', '--store', 'redis://127.0.0.1:6379/1'], {}, cwd));
  assert.deepEqual([flag.store.type, flag.store.url], ['redis', 'redis://127.0.0.1:6379/1']);
  const { result } = resolveYaml(`${UP}store: { type: redis, url: "redis://10.0.0.5:6379" }\n`, ['--store', 'sqlite']);
  assert.deepEqual([configOf(result).store.type, configOf(result).store.url], ['sqlite', null]);
});

test('store mistakes are answered at their line or flag', () => {
  const cases: Array<{ yaml: string; flags?: string[]; errors: string[] }> = [
    { yaml: `${UP}store:\n  type: redis\n`, errors: ['warden.yaml:3: store.url is needed by a redis store (url: redis://HOST:PORT/DB)'] },
    { yaml: `${UP}store:\n  type: mysql\n`, errors: ['warden.yaml:3: store.type must be one of sqlite, redis'] },
    { yaml: `${UP}store:\n  type: redis\n  url: http://10.0.0.5:6379\n`, errors: ['warden.yaml:4: store.url must be a redis:// or rediss:// URL (redis://HOST:PORT/DB)'] },
    {
      yaml: `${UP}store:\n  type: redis\n  url: redis://10.0.0.5:6379/zero\n`,
      errors: ['warden.yaml:4: store.url must be a redis:// or rediss:// URL (redis://HOST:PORT/DB): the path is the database number, "/zero" is not one'],
    },
    { yaml: `${UP}store:\n  url: redis://10.0.0.5:6379\n`, errors: ['warden.yaml:3: store.url is for type: redis (the SQLite store lives in dataDir)'] },
    { yaml: `${UP}store:\n  type: redis\n  urls: redis://x\n`, errors: ['warden.yaml:4: store.urls is not a setting (did you mean store.url?)'] },
    {
      yaml: `${UP}store:\n  type: redis\n  url: redis://x:6379\n  tls:\n    cert: c.pem\n`,
      errors: ['warden.yaml:6: store.tls must give both cert and key (a client certificate), or neither'],
    },
    { yaml: UP, flags: ['--store', 'memcached://x'], errors: ['--store must be sqlite or a redis:// or rediss:// URL (redis://HOST:PORT/DB)'] },
  ];
  for (const c of cases) assert.deepEqual(errorsOf(resolveYaml(c.yaml, c.flags ?? []).result), c.errors, c.yaml);
});

test('a missing TLS file of the store is named with its line and absolute path', () => {
  const { dir, result } = resolveYaml(`${UP}store:\n  type: redis\n  url: rediss://x:6379\n  tls:\n    ca: missing-ca.pem\n`);
  assert.deepEqual(errorsOf(result), [`warden.yaml:6: store.tls.ca names ${join(dir, 'missing-ca.pem')}, which does not exist (a PEM CA certificate)`]);
});

test('warden check-config hides the Redis password, in the file and in the URL', async () => {
  const { main } = await import('../../src/cli/main.js');
  const dir = writeTree({ 'warden.yaml': `${UP}store: { type: redis, url: "redis://:in-url-secret@10.0.0.5:6379/0", password: "file-secret" }\n` });
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['check-config', '--config', join(dir, 'warden.yaml'), '--json'], { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: () => '' }, {});
  assert.equal(code, 0, err.join('\n'));
  const store = (JSON.parse(out.join('\n')) as { config: { store: { url: string; password: string } } }).config.store;
  assert.deepEqual([store.url, store.password], ['redis://:hidden@10.0.0.5:6379/0', '(11 characters, hidden)']);
  assert.doesNotMatch(`${out.join('\n')}${err.join('\n')}`, /secret/);
});
