/**
 * Ban actions for real: nftables and ipset in network namespaces this test creates (a
 * client namespace is refused by the server namespace's firewall once banned, and let in
 * again after the unban), fail2ban-style commands, and a webhook to a real HTTP server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { NftablesAction } from '../../src/jail/actions/nftables.js';
import { IpsetAction } from '../../src/jail/actions/ipset.js';
import { CommandAction, fillTags, shellQuote } from '../../src/jail/actions/command.js';
import { WebhookAction } from '../../src/jail/actions/webhook.js';
import { loadFail2banAction } from '../../src/jail/actions/fail2ban.js';
import { sharedDir } from '../support/shared.js';
import type { BanRecord } from '../../src/jail/types.js';

const NOW = Date.now();
const ban = (key: string, until = NOW + 3_600_000, jail = 'waf'): BanRecord => ({ jail, key, since: NOW, until, count: 1, reason: 'test' });

/** Two namespaces joined by a veth pair: server 10.231.0.1, client 10.231.0.2. Null when the kernel refuses. */
function namespaces(tag: string): { server: string; client: string; cleanup: () => void } | string {
  const server = `wsrv${tag}`;
  const client = `wcli${tag}`;
  const sh = (cmd: string): boolean => spawnSync('/bin/sh', ['-c', cmd], { stdio: 'ignore' }).status === 0;
  const cleanup = (): void => void sh(`ip netns del ${server} 2>/dev/null; ip netns del ${client} 2>/dev/null`);
  cleanup();
  const ok =
    sh(`ip netns add ${server}`) &&
    sh(`ip netns add ${client}`) &&
    sh(`ip link add v${tag}s netns ${server} type veth peer name v${tag}c netns ${client}`) &&
    sh(`ip -n ${server} addr add 10.231.0.1/24 dev v${tag}s && ip -n ${server} link set v${tag}s up && ip -n ${server} link set lo up`) &&
    sh(`ip -n ${client} addr add 10.231.0.2/24 dev v${tag}c && ip -n ${client} link set v${tag}c up && ip -n ${client} link set lo up`);
  if (!ok) {
    cleanup();
    return 'network namespaces are not permitted here';
  }
  return { server, client, cleanup };
}

/** Whether the client namespace can open a TCP connection to the server's port. */
function canConnect(client: string, port: number): boolean {
  const script = `const s=require('net').connect(${port},'10.231.0.1');s.setTimeout(700);s.on('connect',()=>{process.exit(0)});s.on('timeout',()=>process.exit(2));s.on('error',()=>process.exit(3));`;
  return spawnSync('ip', ['netns', 'exec', client, process.execPath, '-e', script], { timeout: 5000 }).status === 0;
}

/** A TCP server in the server namespace, resolved once the client can reach it. */
async function serve(ns: { server: string; client: string }, port: number) {
  const child = spawn('ip', ['netns', 'exec', ns.server, process.execPath, '-e', `require('net').createServer(s=>{s.on('error',()=>{});s.end('hi')}).listen(${port},'10.231.0.1')`], { stdio: 'ignore' });
  for (let i = 0; i < 50 && !canConnect(ns.client, port); i++) await new Promise((r) => setTimeout(r, 100));
  return child;
}

const hasTool = (t: string): boolean => spawnSync('/bin/sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status === 0;

test('nftables: a banned client is refused at the firewall until the unban', { skip: hasTool('nft') ? false : 'nft is not installed' }, async (t) => {
  const ns = namespaces('n');
  if (typeof ns === 'string') return t.skip(ns);
  const srv = await serve(ns, 8080);
  try {
    const action = new NftablesAction({ jail: 'waf', prefix: ['ip', 'netns', 'exec', ns.server], ports: [8080] });
    await action.start();
    assert.equal(canConnect(ns.client, 8080), true);
    await action.ban(ban('10.231.0.2'));
    await action.ban(ban('2001:db8:1:2::/64'));
    await action.ban(ban('198.51.100.9', 0));
    const listed = execFileSync('ip', ['netns', 'exec', ns.server, 'nft', 'list', 'table', 'inet', 'warden'], { encoding: 'utf8' });
    assert.match(listed, /10\.231\.0\.2 timeout/);
    assert.match(listed, /2001:db8:1:2::\/64 timeout/);
    assert.match(listed, /198\.51\.100\.9[,\s}]/);
    assert.equal(canConnect(ns.client, 8080), false);
    await action.unban(ban('10.231.0.2'));
    await action.unban(ban('10.231.0.2')); // already gone: not an error
    assert.equal(canConnect(ns.client, 8080), true);
    // Restoring many bans at start is one batch.
    await Promise.all(Array.from({ length: 500 }, (_, i) => action.ban(ban(`203.0.${i >> 8}.${i & 255}`))));
    const count = execFileSync('ip', ['netns', 'exec', ns.server, 'nft', 'list', 'set', 'inet', 'warden', 'waf_v4'], { encoding: 'utf8' }).match(/203\.0\./g)?.length;
    assert.equal(count, 500);
    await action.stop();
    assert.doesNotMatch(execFileSync('ip', ['netns', 'exec', ns.server, 'nft', 'list', 'ruleset'], { encoding: 'utf8' }), /in_waf/);
  } finally {
    srv.kill();
    ns.cleanup();
  }
});

test('ipset + iptables: a banned client is refused until the unban', { skip: hasTool('ipset') && hasTool('iptables') ? false : 'ipset/iptables not installed' }, async (t) => {
  const ns = namespaces('i');
  if (typeof ns === 'string') return t.skip(ns);
  const srv = await serve(ns, 8081);
  try {
    const action = new IpsetAction({ jail: 'waf', prefix: ['ip', 'netns', 'exec', ns.server] });
    await action.start();
    await action.start(); // idempotent: one rule, not two
    const rules = execFileSync('ip', ['netns', 'exec', ns.server, 'iptables', '-S', 'INPUT'], { encoding: 'utf8' });
    assert.equal(rules.match(/warden-waf/g)?.length, 1);
    await action.ban(ban('10.231.0.2'));
    assert.equal(canConnect(ns.client, 8081), false);
    await action.unban(ban('10.231.0.2'));
    assert.equal(canConnect(ns.client, 8081), true);
    await action.stop();
  } finally {
    srv.kill();
    ns.cleanup();
  }
});

test('command actions: fail2ban tags filled, values from outside shell-quoted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cmd-'));
  const out = join(dir, 'out.txt');
  const action = new CommandAction({
    name: 'echo',
    templates: {
      actionstart: `echo start <name> >> ${out}`,
      actionban: `echo ban <ip> <bantime> <port> >> ${out}`,
      actionunban: `echo unban <ip> >> ${out}`,
    },
    values: { name: 'wp', port: '<http>', http: '80,443' },
    now: () => NOW,
  });
  await action.start();
  await action.ban(ban('203.0.113.9'));
  await action.unban(ban('2001:db8::/64'));
  assert.equal(readFileSync(out, 'utf8'), 'start wp\nban 203.0.113.9 3600 80,443\nunban 2001:db8::/64\n');
  assert.equal(shellQuote("a'; rm -rf / #"), `'a'\\''; rm -rf / #'`);
  assert.equal(fillTags('x <ip>', {}, { ip: '$(reboot)' }), "x '$(reboot)'");
  await assert.rejects(new CommandAction({ name: 'f', templates: { actionban: 'exit 3', actionunban: '' } }).ban(ban('1.2.3.4')), /exit 3/);
});

test('webhook: a JSON POST per ban and unban; a non-2xx answer is a failure', async () => {
  const received: unknown[] = [];
  let status = 200;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ auth: req.headers.authorization, ...(JSON.parse(body) as object) });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  try {
    const hook = new WebhookAction({ url: `http://127.0.0.1:${port}/bans`, headers: { authorization: 'Bearer t' } });
    await hook.ban(ban('203.0.113.9', 0));
    assert.deepEqual(received[0], { auth: 'Bearer t', event: 'ban', jail: 'waf', address: '203.0.113.9', since: new Date(NOW).toISOString(), until: null, count: 1, reason: 'test' });
    status = 503;
    await assert.rejects(hook.unban(ban('203.0.113.9')), /answered 503/);
  } finally {
    server.close();
  }
});

test("fail2ban action.d files run as fail2ban runs them (its dummy action)", async (t) => {
  const dummy = join(sharedDir, 'fail2ban/config/action.d/dummy.conf');
  if (!existsSync(dummy)) {
    if (process.env.CI === 'true') assert.fail(`fail2ban's actions missing in CI: ${dummy}`);
    return t.skip('fail2ban suite not in ../shared');
  }
  const target = join(mkdtempSync(join(tmpdir(), 'warden-f2b-')), 'dummy.txt');
  const action = loadFail2banAction(dummy, { name: 'dummy', jail: 'sshd', options: { target } });
  await action.start?.();
  await action.ban(ban('203.0.113.9'));
  await action.unban(ban('203.0.113.9'));
  assert.equal(readFileSync(target, 'utf8'), '123\n+203.0.113.9\n-203.0.113.9\n');
  await action.stop?.();
  assert.equal(existsSync(target), false);
});
