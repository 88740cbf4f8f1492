/**
 * The ban engine inside `warden start`, end to end with real processes: clients refused by
 * the WAF often enough are banned in every worker before their next request reaches the
 * upstream; a log file's failures ban through a fail2ban filter; `warden jail` talks to it;
 * a restart (and a SIGKILL) keeps every ban.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { send, startUpstream } from '../proxy/support.js';
import { startWarden, type RunningWarden } from '../support/warden-process.js';

const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'warden-bans-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** `warden start` with two workers, as a user runs it (test/support/warden-process). */
function start(config: string): Promise<RunningWarden> {
  return startWarden(['start', '--config', config, '--workers', '2'], { timeoutMs: 90_000 });
}

function jail(dataDir: string, ...args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry, 'jail', ...args, '--data-dir', dataDir], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The config of a jail `sshd` that reads `log` with warden-sshd and bans on the second failure. */
const sshdJail = (log: string): string => `  sshd:
    source: file
    files: [${log}]
    filter: warden-sshd
    maxRetry: 2
    banTime: 1h
`;

/** Writes two sshd password failures from `address` to `log`; true once `warden jail list` shows the sshd jail's ban (10 s at most). */
async function sshdBans(log: string, dataDir: string, address: string): Promise<boolean> {
  const stamp = new Date().toString().split(' ').slice(1, 4);
  const time = `${stamp[0]} ${stamp[1]?.padStart(2, ' ')} ${new Date().toTimeString().slice(0, 8)}`;
  appendFileSync(log, `${time} host sshd[101]: Failed password for root from ${address} port 4242 ssh2\n`);
  appendFileSync(log, `${time} host sshd[102]: Failed password for root from ${address} port 4243 ssh2\n`);
  const listed = new RegExp(`sshd\\s+${address.replaceAll('.', '\\.')}(?!\\d)`, 'u');
  for (let i = 0; i < 50; i++) {
    await wait(200);
    if (listed.test(jail(dataDir, 'list').out)) return true;
  }
  return false;
}

test('WAF refusals ban a client behind a trusted proxy, in every worker; bans survive restarts and SIGKILL', async () => {
  const seen: string[] = [];
  const upstream = await startUpstream((req, res) => {
    seen.push(String(req.headers['x-forwarded-for']));
    res.end('ok');
  });
  const dir = join(root, 'waf');
  const authLog = join(root, 'auth.log');
  writeFileSync(authLog, '');
  const dataDir = join(dir, 'data');
  const config = join(dir, 'warden.yaml');
  const rules = join(dir, 'rules.conf');
  spawnSync('mkdir', ['-p', dir]);
  writeFileSync(rules, 'SecRule REQUEST_HEADERS:User-Agent "@beginsWith PHP/" "id:5000,phase:1,deny,status:403,msg:\'old PHP client\'"\n');
  writeFileSync(
    config,
    `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ url: "${upstream.url}" }]
proxy:
  trustedProxies: [127.0.0.1]
rules:
  baseline: false
  files: [rules.conf]
dataDir: data
logs: { error: null }
jails:
  waf:
    when: { blocked: true }
    maxRetry: 3
    findTime: 10m
    banTime: 1h
${sshdJail(authLog)}`,
  );
  const attacker = '203.0.113.66';
  const neighbour = '203.0.113.77';
  const via = (client: string, ua = 'Mozilla/5.0') => ({ headers: { 'x-forwarded-for': client, 'user-agent': ua } });
  let w = await start(config);
  try {
    const url = `http://127.0.0.1:${w.port}/xmlrpc.php`;
    for (let i = 0; i < 3; i++) assert.equal((await send(url, via(attacker, 'PHP/5.2.10'))).status, 403);
    // The ban reaches both workers: the next benign request from the attacker never gets upstream.
    let banned = false;
    for (let i = 0; i < 50 && !banned; i++) {
      await wait(100);
      banned = jail(dataDir, 'list').out.includes(attacker);
    }
    assert.ok(banned, `no ban listed:\n${w.output.join('')}`);
    const before = seen.length;
    for (let i = 0; i < 6; i++) assert.equal((await send(url, via(attacker))).status, 403);
    assert.equal(seen.length, before, 'a banned client reached the upstream');
    // Someone else behind the same proxy is not affected.
    assert.equal((await send(url, via(neighbour))).status, 200);

    // A log file's failures ban through a fail2ban-format filter.
    assert.ok(await sshdBans(authLog, dataDir, '198.51.100.9'), `sshd ban missing:\n${jail(dataDir, 'list').out}\n${w.output.join('')}`);
    assert.equal((await send(url, via('198.51.100.9'))).status, 403);

    // A clean restart keeps the bans.
    await w.stop();
    w = await start(config);
    const url2 = `http://127.0.0.1:${w.port}/`;
    assert.equal((await send(url2, via(attacker))).status, 403);
    // So does a SIGKILL of the primary (its workers exit with it).
    await w.stop('SIGKILL');
    await wait(500);
    w = await start(config);
    const url3 = `http://127.0.0.1:${w.port}/`;
    assert.equal((await send(url3, via(attacker))).status, 403);
    const r = jail(dataDir, 'unban', attacker);
    assert.equal(r.code, 0, r.out);
    await wait(300);
    assert.equal((await send(url3, via(attacker))).status, 200);
  } finally {
    await w.stop();
    await upstream.close();
  }
});

test('a filter whose worker cannot be stopped is disabled with a logged reason; the other jails go on; warden start still ends', async () => {
  const upstream = await startUpstream((_req, res) => res.end('ok'));
  const dir = join(root, 'stuck');
  spawnSync('mkdir', ['-p', dir]);
  // V8 never finishes compiling this regex to machine code (its second use), and a worker
  // thread cannot be stopped while it compiles (jail/filter/guard).
  const filter = join(dir, 'compiler-stuck.conf');
  writeFileSync(filter, ['[Definition]', `failregex = ^<HOST> ${'r?'.repeat(1000)}request failed$`, 'datepattern = {NONE}'].join('\n'));
  const stuckLog = join(dir, 'stuck.log');
  const authLog = join(dir, 'auth.log');
  writeFileSync(stuckLog, '');
  writeFileSync(authLog, '');
  const dataDir = join(dir, 'data');
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ url: "${upstream.url}" }]
rules: { baseline: false }
dataDir: data
logs: { error: null }
jails:
  stuck:
    source: file
    files: [${stuckLog}]
    filter: ${filter}
    maxRetry: 2
${sshdJail(authLog)}`,
  );
  const w = await startWarden(['start', '--config', config, '--workers', '1'], { timeoutMs: 90_000 });
  try {
    appendFileSync(stuckLog, '192.0.2.1 request failed\n192.0.2.1 request failed\n192.0.2.1 request failed\n');
    let disabled = false;
    for (let i = 0; i < 150 && !disabled; i++) {
      await wait(200);
      disabled = /jail stuck: filter compiler-stuck is disabled: a line ran past its 1000 ms limit/u.test(w.output.join(''));
    }
    assert.ok(disabled, `no WARDEN_FILTER_STUCK report:\n${w.output.join('')}`);
    // The other jail still reads and bans.
    assert.ok(await sshdBans(authLog, dataDir, '198.51.100.19'), `sshd ban missing:\n${jail(dataDir, 'list').out}\n${w.output.join('')}`);
    // Stopped, the primary cannot end by itself (Node joins the stuck thread): it says so
    // and ends with SIGKILL once all else has stopped.
    const exited = new Promise<NodeJS.Signals | number | null>((r) => w.proc.once('exit', (code, signal) => r(signal ?? code)));
    w.proc.kill('SIGTERM');
    const how = await Promise.race([exited, wait(30_000).then(() => 'still running')]);
    assert.equal(how, 'SIGKILL', w.output.join(''));
    assert.match(w.output.join(''), /warden: stopped; 1 filter thread\(s\) stuck in V8's regex compiler cannot end: exiting by SIGKILL/u);
  } finally {
    await w.stop('SIGKILL');
    await upstream.close();
  }
});
