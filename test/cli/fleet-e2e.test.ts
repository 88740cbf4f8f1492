/**
 * A fleet, end to end with real processes: two `warden start` nodes (two workers each,
 * their own ports and data directories) share one real redis-server, over TLS with a
 * password (CA and client certificate from warden.yaml, password from the file on one node
 * and WARDEN_REDIS_PASSWORD on the other). A ban on node A (by the WAF jail or `warden jail
 * ban`) is refused by node B within a second, an unban likewise; an IP collection counter
 * incremented through both nodes under concurrent load adds up exactly and a rule on it
 * fires on either node; Redis killed in the middle: traffic flows on the bans known, a ban
 * made meanwhile is kept and reaches Redis and node B when Redis is back, nothing is lost.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { send, startUpstream } from '../proxy/support.js';
import { skipWithoutRedis, startRedis, type RedisServer } from '../support/redis.js';

const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'warden-fleet-'));
after(() => rmSync(root, { recursive: true, force: true }));

const PASSWORD = 'fleet secret';
const PREFIX = 'fleet:';

interface Node {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  readonly output: string[];
  stop(): Promise<void>;
}

async function startNode(name: string, yaml: string, env: NodeJS.ProcessEnv = {}): Promise<Node> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'warden.yaml');
  writeFileSync(config, yaml);
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entry, 'start', '--config', config, '--workers', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const output: string[] = [];
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => output.push(d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output.join('')}`)), 90_000);
    let listening = 0;
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output.push(d);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(d);
      if (m !== null) listening = Number(m[1]);
      if (/ rules.*; pid \d+/.test(d)) {
        clearTimeout(timer);
        resolve(listening);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited ${code}:\n${output.join('')}`));
    });
  });
  return {
    name,
    port,
    dataDir: join(dir, 'data'),
    output,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

function jail(node: Node, ...args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry, 'jail', ...args, '--data-dir', node.dataDir], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const via = (client: string, ua = 'Mozilla/5.0') => ({ headers: { 'x-forwarded-for': client, 'user-agent': ua } });

/** Sends from `client` to `node` until the status is `status`; resolves with the milliseconds it took. */
async function untilStatus(node: Node, client: string, status: number, timeoutMs: number, path = '/'): Promise<number> {
  const start = performance.now();
  for (;;) {
    const r = await send(`http://127.0.0.1:${node.port}${path}`, via(client));
    const ms = performance.now() - start;
    if (r.status === status) return Math.round(ms);
    if (ms > timeoutMs) throw new Error(`${node.name} still answers ${r.status} for ${client} after ${Math.round(ms)} ms (want ${status})\n${node.output.join('').slice(-3000)}`);
    await wait(10);
  }
}

/** Every worker (new connection each, so both workers answer) gives `status`. */
async function allAnswer(node: Node, client: string, status: number, n = 6): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal((await send(`http://127.0.0.1:${node.port}/`, via(client))).status, status, `${node.name}, request ${i + 1} from ${client}`);
}

const skip = skipWithoutRedis();

test('two Warden nodes share bans and IP counters through Redis (TLS, password), and ride out Redis going away', { skip, timeout: 300_000 }, async (t) => {
  const redis: RedisServer = await startRedis({ tls: true, password: PASSWORD, persistent: true });
  const seen: string[] = [];
  const upstream = await startUpstream((req, res) => {
    seen.push(String(req.headers['x-forwarded-for']));
    res.end('ok');
  });
  const rules = join(root, 'rules.conf');
  mkdirSync(root, { recursive: true });
  writeFileSync(
    rules,
    `SecRule REQUEST_HEADERS:User-Agent "@beginsWith PHP/" "id:5000,phase:1,deny,status:403,msg:'old PHP client'"
SecRule REQUEST_URI "@beginsWith /count" "id:6000,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR},setvar:ip.hits=+1"
SecRule REQUEST_URI "@beginsWith /count" "id:6001,phase:1,deny,status:429,msg:'too many requests across the fleet',chain"
  SecRule IP:HITS "@gt 80" ""
`,
  );
  const yaml = (extra: string) => `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ url: "${upstream.url}" }]
proxy: { trustedProxies: [127.0.0.1] }
rules: { baseline: false, files: [${rules}] }
dataDir: data
logs: { error: null }
jails:
  waf: { when: { ruleIds: [5000] }, maxRetry: 3, findTime: 10m, banTime: 1h }
store:
  type: redis
  url: ${redis.url}
  prefix: "${PREFIX}"
${extra}`;
  // A: client certificate, password from the environment; B: CA only, password in the file.
  const a = await startNode('a', yaml(`  tls: { ca: ${redis.ca}, cert: ${redis.clientCert}, key: ${redis.clientKey} }\n`), { WARDEN_REDIS_PASSWORD: PASSWORD });
  const b = await startNode('b', yaml(`  tls: { ca: ${redis.ca} }\n  password: "${PASSWORD}"\n`));
  const direct = new Redis(redis.url, { password: PASSWORD, tls: { ca: readFileSync(redis.ca as string) }, maxRetriesPerRequest: 0, lazyConnect: true });
  direct.on('error', () => {});
  await direct.connect();
  const times: Record<string, number> = {};
  try {
    // Warm both nodes' workers up, so the times below are propagation, not a first request.
    const cold: number[] = [];
    for (const node of [a, b]) {
      for (let i = 0; i < 4; i++) {
        const t0 = performance.now();
        assert.equal((await send(`http://127.0.0.1:${node.port}/`, via('198.51.100.1'))).status, 200);
        cold.push(Math.round(performance.now() - t0));
      }
    }
    console.log(`# first requests (ms): ${cold.join(' ')}`);

    await t.test('warden jail status shows the store', () => {
      const s = jail(a, 'status');
      assert.equal(s.code, 0, s.out);
      assert.match(s.out, new RegExp(`store: redis ${redis.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} connected`));
    });

    await t.test('a ban made by node A\'s WAF jail is refused by node B within a second, in both workers', async () => {
      const attacker = '203.0.113.66';
      for (let i = 0; i < 3; i++) assert.equal((await send(`http://127.0.0.1:${a.port}/xmlrpc.php`, via(attacker, 'PHP/5.2.10'))).status, 403);
      times.wafBanAtoB = await untilStatus(b, attacker, 403, 1000);
      await allAnswer(b, attacker, 403);
      assert.equal(await direct.exists(`${PREFIX}ban:waf:${attacker}`), 1);
    });

    await t.test('warden jail ban on node B is enforced by node A within a second; unban on A lifts it on B', async () => {
      const r = jail(b, 'ban', '192.0.2.44');
      assert.equal(r.code, 0, r.out);
      times.manualBanBtoA = await untilStatus(a, '192.0.2.44', 403, 1000);
      await allAnswer(a, '192.0.2.44', 403);
      assert.match(jail(a, 'list').out, /manual\s+192\.0\.2\.44/);
      const u = jail(a, 'unban', '203.0.113.66');
      assert.equal(u.code, 0, u.out);
      times.unbanAtoB = await untilStatus(b, '203.0.113.66', 200, 1000);
      await allAnswer(b, '203.0.113.66', 200);
    });

    await t.test('an IP counter incremented through both nodes under concurrent load adds up exactly; its rule fires on either node', async () => {
      const client = '198.51.100.20';
      const statuses = await Promise.all(Array.from({ length: 80 }, (_, i) => send(`http://127.0.0.1:${(i % 2 === 0 ? a : b).port}/count/${i}`, via(client)).then((r) => r.status)));
      assert.deepEqual([...new Set(statuses)], [200]);
      // Collections are saved after the response (phase 5): wait for the last ones.
      let hits = '';
      for (let i = 0; i < 100 && hits !== '80'; i++) {
        hits = (await direct.hget(`${PREFIX}col:ip:${client}`, 'v:hits')) ?? '';
        if (hits !== '80') await wait(20);
      }
      assert.equal(hits, '80', '40 requests through each node');
      // Either node sees the fleet's count: the 81st request is refused by B (which saw 40).
      assert.equal((await send(`http://127.0.0.1:${b.port}/count/x`, via(client))).status, 429);
      assert.equal((await send(`http://127.0.0.1:${a.port}/count/y`, via(client))).status, 429);
    });

    await t.test('Redis killed: traffic flows on the known bans, a ban made meanwhile reaches Redis and node B when it is back', async () => {
      await redis.kill();
      const start = Date.now();
      let errors = 0;
      // Requests keep flowing on both nodes, and the ban set stays as it was.
      for (const node of [a, b]) {
        for (let i = 0; i < 10; i++) {
          const r = await send(`http://127.0.0.1:${node.port}/page/${i}`, via('198.51.100.40')).catch(() => null);
          if (r?.status !== 200) errors++;
          const c = await send(`http://127.0.0.1:${node.port}/count/${i}`, via('198.51.100.41')).catch(() => null);
          if (c?.status !== 200) errors++;
        }
        await allAnswer(node, '192.0.2.44', 403, 4);
      }
      assert.equal(errors, 0, 'no request failed while Redis was down');
      const outage = Date.now() - start;
      // A bans someone while Redis is away: enforced on A at once, kept for Redis.
      const late = '203.0.113.99';
      for (let i = 0; i < 3; i++) assert.equal((await send(`http://127.0.0.1:${a.port}/xmlrpc.php`, via(late, 'PHP/5.2.10'))).status, 403);
      await untilStatus(a, late, 403, 1000);
      assert.equal((await send(`http://127.0.0.1:${b.port}/`, via(late))).status, 200, 'B cannot know yet');
      const status = jail(a, 'status').out;
      assert.match(status, /store: redis \S+ disconnected since \S+ \(1 ban writes waiting/, status);
      assert.match(readFileSync(join(a.dataDir, 'redis-outbox.jsonl'), 'utf8'), /203\.0\.113\.99/);

      await redis.restart();
      const back = performance.now();
      await untilStatus(b, late, 403, 15_000);
      times.outageBanAfterRestart = Math.round(performance.now() - back);
      await allAnswer(b, late, 403);
      assert.equal(await (async () => {
        await direct.ping().catch(() => null);
        for (let i = 0; i < 50; i++) {
          if ((await direct.exists(`${PREFIX}ban:waf:${late}`).catch(() => 0)) === 1) return 1;
          await wait(100);
        }
        return 0;
      })(), 1, 'the ban made during the outage is in Redis');
      // Nothing was lost: the manual ban from before is still enforced everywhere.
      await allAnswer(a, '192.0.2.44', 403, 2);
      await allAnswer(b, '192.0.2.44', 403, 2);
      assert.match(jail(a, 'status').out, /store: redis \S+ connected since \S+ \(1 reconnections\)/);
      console.log(`# outage: ${outage} ms of requests without Redis, all answered`);
    });
    console.log(`# fleet propagation: WAF ban A→B ${times.wafBanAtoB} ms, warden jail ban B→A ${times.manualBanBtoA} ms, unban A→B ${times.unbanAtoB} ms; ban made during a Redis outage reached B ${times.outageBanAfterRestart} ms after Redis restarted`);
  } finally {
    direct.disconnect();
    await Promise.all([a.stop(), b.stop()]);
    await upstream.close();
    await redis.stop();
  }
});
