/**
 * The real client address behind a real reverse proxy: squid (Debian's package) runs on
 * loopback in accel mode in front of Warden, with its own temporary config, pid file, logs
 * and cache directory. Warden trusts only squid's address; the client address it computes
 * from X-Forwarded-For is REMOTE_ADDR for the rules, the key the ban list is asked with,
 * and what the log records show. A client talking to Warden directly from an untrusted
 * address cannot change any of that with a spoofed X-Forwarded-For.
 *
 * Loopback is 127.0.0.0/8: clients bind 127.0.0.5 and friends as their source, squid talks
 * to Warden from 127.0.0.1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { echoHandler, makeConfig, startProxy, startUpstream, upstreamConfig, type RunningProxy, type Upstream } from './support.js';

const squidBinary = spawnSync('sh', ['-c', 'command -v squid || ls /usr/sbin/squid'], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? '';
const isRoot = userInfo().uid === 0;
const why = squidBinary === '' ? 'squid is not installed (apt-get install squid; .ci/run does)' : !isRoot ? 'squid must be started as root (it drops to user proxy)' : null;
if (why !== null && process.env.CI === 'true') throw new Error(`squid test cannot run in CI: ${why}`);

const BANNED = '127.0.0.66';
const RULES = `SecRuleEngine On
SecAction "id:1,phase:1,nolog,pass,initcol:ip=%{REMOTE_ADDR}"
SecAction "id:2,phase:1,nolog,pass,setvar:ip.hits=+1"
SecRule REMOTE_ADDR "@ipMatch 127.0.0.13" "id:3,phase:1,deny,status:403,log,msg:'unlucky client'"
`;

let up: Upstream;
let warden: RunningProxy;
let squid: ChildProcess | null = null;
let squidPort = 0;
let dir = '';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitForPort(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`squid did not open port ${port}`);
}

/** GET through `port` from the source address `from`; resolves with status and body. */
function get(port: number, from: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, localAddress: from, headers: { host: 'warden.test', connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  if (why !== null) return;
  up = await startUpstream(echoHandler);
  warden = await startProxy(
    makeConfig({ upstreams: [upstreamConfig('app', up.url)], proxy: { trustedProxies: ['127.0.0.1'] } }),
    RULES,
    { bans: { has: (a) => a === BANNED } },
  );
  dir = mkdtempSync(join(tmpdir(), 'warden-squid-'));
  squidPort = await freePort();
  writeFileSync(
    join(dir, 'squid.conf'),
    [
      `http_port 127.0.0.1:${squidPort} accel defaultsite=warden.test no-vhost`,
      `cache_peer 127.0.0.1 parent ${warden.port} 0 no-query no-digest originserver name=warden`,
      'cache_peer_access warden allow all',
      'http_access allow all',
      'cache deny all',
      'forwarded_for on',
      'tcp_outgoing_address 127.0.0.1',
      `pid_filename ${dir}/squid.pid`,
      `cache_log ${dir}/cache.log`,
      `access_log stdio:${dir}/access.log`,
      `coredump_dir ${dir}`,
      'cache_effective_user proxy',
      'visible_hostname warden-squid-test',
      'shutdown_lifetime 0 seconds',
      '',
    ].join('\n'),
  );
  const proxyUser = spawnSync('id', ['-u', 'proxy'], { encoding: 'utf8' }).stdout.trim();
  const proxyGroup = spawnSync('id', ['-g', 'proxy'], { encoding: 'utf8' }).stdout.trim();
  chownSync(dir, Number(proxyUser), Number(proxyGroup));
  squid = spawn(squidBinary, ['-N', '-f', join(dir, 'squid.conf')], { stdio: 'ignore' });
  await waitForPort(squidPort, Date.now() + 15_000);
});

after(async () => {
  if (why !== null) return;
  if (squid !== null && squid.exitCode === null) {
    const exited = new Promise((r) => squid?.once('exit', r));
    squid.kill('SIGTERM');
    await exited;
  }
  await warden.close();
  await up.close();
  rmSync(dir, { recursive: true, force: true });
});

test('behind squid, the client address is the one squid saw: REMOTE_ADDR, logs, IP collection', { skip: why ?? false }, async () => {
  const r = await get(squidPort, '127.0.0.5', '/hello');
  assert.equal(r.status, 200);
  const echoed = JSON.parse(r.body) as { headers: string[] };
  const xff = echoed.headers[echoed.headers.indexOf('x-forwarded-for') + 1];
  // Warden extends what squid reported with squid's own address.
  assert.equal(xff, '127.0.0.5, 127.0.0.1');
  await warden.logs.until(() => warden.logs.done.length >= 1);
  const d = warden.logs.done.at(-1);
  assert.equal(d?.tx.remoteAddr?.value, '127.0.0.5');
  assert.equal(d?.tx.collections.get('ip')?.storageKey, '127.0.0.5');
});

test('behind squid, a rule on REMOTE_ADDR and the ban list act on the real client', { skip: why ?? false }, async () => {
  assert.equal((await get(squidPort, '127.0.0.13', '/')).status, 403);
  assert.equal((await get(squidPort, '127.0.0.14', '/')).status, 200);
  assert.equal((await get(squidPort, BANNED, '/')).status, 403);
  const refused = warden.logs.refused.at(-1);
  assert.equal(refused?.clientAddress, BANNED);
  assert.equal(refused?.reason, 'client address is banned');
});

test('a client spoofing X-Forwarded-For through squid is still seen as itself', { skip: why ?? false }, async () => {
  const before = warden.logs.done.length;
  const r = await get(squidPort, '127.0.0.7', '/', { 'x-forwarded-for': `${BANNED}, 127.0.0.13` });
  assert.equal(r.status, 200);
  await warden.logs.until(() => warden.logs.done.length > before);
  assert.equal(warden.logs.done.at(-1)?.tx.remoteAddr?.value, '127.0.0.7');
});

test('a spoofed X-Forwarded-For from an untrusted peer changes nothing', { skip: why ?? false }, async () => {
  const before = warden.logs.done.length;
  // Straight to Warden from 127.0.0.9, which is not a trusted proxy.
  const r = await get(warden.port, '127.0.0.9', '/', { 'x-forwarded-for': '127.0.0.14', forwarded: 'for=127.0.0.14' });
  assert.equal(r.status, 200);
  const echoed = JSON.parse(r.body) as { headers: string[] };
  assert.equal(echoed.headers[echoed.headers.indexOf('x-forwarded-for') + 1], '127.0.0.9');
  assert.equal(echoed.headers.indexOf('forwarded'), -1);
  await warden.logs.until(() => warden.logs.done.length > before);
  assert.equal(warden.logs.done.at(-1)?.tx.remoteAddr?.value, '127.0.0.9');
  // Nor can it claim to be someone the rules or the ban list would let through or block.
  assert.equal((await get(warden.port, BANNED, '/', { 'x-forwarded-for': '127.0.0.14' })).status, 403);
  assert.equal((await get(warden.port, '127.0.0.15', '/', { 'x-forwarded-for': '127.0.0.13' })).status, 200);
});
