/**
 * `warden status` against an admin listener with TLS (a self-signed certificate made with
 * openssl): trusted with --ca, or through the config file (its admin.tls certificate is its
 * own CA); refused with a message naming --ca when the certificate is not trusted; basic
 * auth from the config file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecentEvents } from '../../src/admin/events.js';
import { History } from '../../src/admin/history.js';
import { AdminMetrics } from '../../src/admin/metrics.js';
import { startAdminServer } from '../../src/admin/server.js';
import { main, type Io } from '../../src/cli/main.js';
import { BanManager } from '../../src/jail/ban-manager.js';
import { jailSettings } from '../../src/jail/types.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { freePort } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-status-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: () => '' };
  const code = await main(argv, io, {});
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('warden status over TLS: --ca, the config file, and an untrusted certificate', async () => {
  const cert = join(dir, 'admin.crt');
  const key = join(dir, 'admin.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=warden-admin', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const store = createMemoryStore();
  const manager = new BanManager({ store });
  manager.addJail(jailSettings('waf', { maxRetry: 3 }));
  await manager.start();
  await manager.ban('192.0.2.10', { jail: 'waf', reason: 'test ban' });
  const metrics = new AdminMetrics({ manager, version: 'Warden test' });
  const port = await freePort();
  const server = await startAdminServer(
    { host: '127.0.0.1', port, enabled: true, token: null, basicAuth: { user: 'ops', password: 'a-long-password-here' }, tls: { cert, key } },
    {
      manager,
      metrics,
      history: new History(store),
      events: new RecentEvents(),
      explain: async () => null,
      status: () => ({ version: 'Warden test', pid: 1, uptimeSeconds: 42, workers: 2, rules: 7, mode: null, listeners: [{ name: 'web', address: 'http://127.0.0.1:8080' }] }),
    },
  );
  try {
    assert.equal(server.url, `https://127.0.0.1:${port}/`);
    const untrusted = await run(['status', '--url', server.url, '--user', 'ops']);
    assert.equal(untrusted.code, 2, 'no password for --user');
    assert.match(untrusted.err, /--user needs the password in WARDEN_ADMIN_PASSWORD/);

    const noCa = await run(['status', '--url', server.url, '--token', 'whatever-token-0123456789']);
    assert.equal(noCa.code, 1);
    assert.match(noCa.err, /^warden status: https:\/\/127\.0\.0\.1:\d+\/: TLS: .*\(--ca FILE names a CA or the listener's certificate to trust\)$/);

    const wrongAuth = await run(['status', '--url', server.url, '--ca', cert, '--token', 'whatever-token-0123456789']);
    assert.equal(wrongAuth.code, 1);
    assert.match(wrongAuth.err, /wants credentials, and refused the ones given/);

    const config = join(dir, 'warden.yaml');
    writeFileSync(config, `upstreams: [{ url: "http://127.0.0.1:3000" }]\nadmin: { host: 127.0.0.1, port: ${port}, basicAuth: { user: ops, password: a-long-password-here }, tls: { cert: ${cert}, key: ${key} } }\n`);
    const ok = await run(['status', '--config', config]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^Warden test · pid 1 · up 42 s · 2 workers · 7 rules$/m);
    assert.match(ok.out, /^store: SQLite in the data directory$/m);
    assert.match(ok.out, /^bans in force: 1\n {2}address +jail +since +ends +reason\n {2}192\.0\.2\.10 +waf +\d+ s ago +in 10 min +test ban$/m);
    assert.match(ok.out, /^since start: 0 requests, 0 sent upstream, 0 blocked by the WAF, 0 refused by bans, 0 refused as malformed$/m);
    const missingCa = await run(['status', '--url', server.url, '--ca', join(dir, 'nope.pem')]);
    assert.equal(missingCa.code, 1);
    assert.match(missingCa.err, /cannot read the CA file .*nope\.pem/);
  } finally {
    await server.close();
    await manager.stop();
  }
});
