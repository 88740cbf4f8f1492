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
import { request as httpRequest } from 'node:http';
import { squidUnavailable, startSquid, type RunningSquid } from '../support/squid.js';
import { echoHandler, makeConfig, startProxy, startUpstream, upstreamConfig, type RunningProxy, type Upstream } from './support.js';

const why = squidUnavailable;
if (why !== null && process.env.CI === 'true') throw new Error(`squid test cannot run in CI: ${why}`);

const BANNED = '127.0.0.66';
const RULES = `SecRuleEngine On
SecAction "id:1,phase:1,nolog,pass,initcol:ip=%{REMOTE_ADDR}"
SecAction "id:2,phase:1,nolog,pass,setvar:ip.hits=+1"
SecRule REMOTE_ADDR "@ipMatch 127.0.0.13" "id:3,phase:1,deny,status:403,log,msg:'unlucky client'"
`;

let up: Upstream;
let warden: RunningProxy;
let squid: RunningSquid | null = null;
let squidPort = 0;

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
  squid = await startSquid(warden.port, 'warden.test');
  squidPort = squid.port;
});

after(async () => {
  if (why !== null) return;
  await squid?.stop();
  await warden.close();
  await up.close();
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
