/**
 * `warden status` and `warden munin` against a real `warden start` under traffic: the
 * terminal picture shows the numbers the traffic made; the munin plugin's config follows
 * munin's plugin protocol and its values move with the traffic; the plugin linked as
 * warden_requests (as in /etc/munin/plugins) draws that graph alone; failures are said.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { main, type Io } from '../../src/cli/main.js';
import { fieldName } from '../../src/cli/munin.js';
import { bars } from '../../src/cli/status.js';
import { send, startUpstream, type Upstream } from '../proxy/support.js';
import { call, eventually, freePort, startWarden, type RunningWarden } from './support.js';

const root = mkdtempSync(join(tmpdir(), 'warden-status-'));
const TOKEN = 'status-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const attacker = '203.0.113.9';

let upstream: Upstream;
let w: RunningWarden;
let config: string;
let proxy: string;
/** Requests of the banned client that got through while its ban was on its way to the worker. */
let passedBeforeBan = 0;

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(...l.split('\n')), err: (l) => errors.push(l), readStdin: () => '' };
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; lines: string[]; errors: string[] }> {
  const io = capture();
  const code = await main(argv, io, env);
  return { code, lines: io.lines, errors: io.errors };
}

const from = (client: string) => ({ 'x-forwarded-for': client, 'user-agent': 'status-test' });

async function reported(requests: number): Promise<void> {
  await eventually(async () => ((await call(`${w.admin}api/status`, { headers: auth })).json<{ totals: { requests: number } }>().totals.requests >= requests ? true : undefined), 10_000, `${requests} requests reported`);
}

before(async () => {
  upstream = await startUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const dir = join(root, 'w');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rules.conf'), `SecRuleEngine On
SecRule ARGS "@contains union select" "id:1001,phase:2,deny,status:403,log,msg:'SQL words',t:urlDecodeUni,t:lowercase"
`);
  config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ name: blog, url: "${upstream.url}" }]
proxy: { trustedProxies: [127.0.0.1] }
rules: { baseline: false, files: [rules.conf] }
dataDir: data
workers: 1
logs: { error: null }
admin: { host: 127.0.0.1, port: ${await freePort()}, token: "${TOKEN}" }
jails:
  waf: { when: { blocked: true }, maxRetry: 2, findTime: 10m, banTime: 1h }
`,
  );
  w = await startWarden(config);
  proxy = `http://127.0.0.1:${w.port}`;
  for (let i = 0; i < 12; i++) assert.equal((await send(`${proxy}/post/${i % 3}`, { headers: from(`198.51.100.${i}`) })).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await send(`${proxy}/search?q=union%20select%20${i}`, { headers: from(attacker) })).status, 403);
  await eventually(async () => {
    const status = (await send(`${proxy}/`, { headers: from(attacker) })).status;
    if (status === 200) passedBeforeBan++;
    return status === 403 ? true : undefined;
  }, 10_000, 'the ban');
  // 12 + 2 + the refusals while waiting for the ban (at least one).
  await reported(15);
});

after(async () => {
  await w?.stop();
  await upstream?.close();
  rmSync(root, { recursive: true, force: true });
});

test('warden status prints the running Warden: totals, bars, top rules, blocks, bans, jails, store', async () => {
  const s = (await call(`${w.admin}api/status`, { headers: auth })).json<{ totals: { requests: number; banned: number } }>();
  const r = await run(['status', '--url', w.admin, '--token', TOKEN]);
  assert.deepEqual(r.errors, []);
  assert.equal(r.code, 0);
  const text = r.lines.join('\n');
  assert.match(r.lines[0] ?? '', /^Warden \S+ · pid \d+ · up \d+ s · 1 worker · 1 rule$/);
  // The port the listener is bound to (the config says 0).
  assert.match(text, new RegExp(`^listeners: http://127\\.0\\.0\\.1:${w.port}$`, 'm'));
  assert.match(text, /^store: SQLite in the data directory$/m);
  assert.match(text, new RegExp(`^since start: ${s.totals.requests} requests, ${12 + passedBeforeBan} sent upstream, 2 blocked by the WAF, ${s.totals.banned} refused by bans, 0 refused as malformed$`, 'm'));
  assert.match(text, /^last hour \(one column per 60 s, each line to its own scale\):$/m);
  // One bar line per series: the total, then 60 columns; the last column (now) is full height.
  const line = (label: string) => r.lines.find((l) => l.trimStart().startsWith(label)) ?? '';
  assert.match(line('requests'), new RegExp(`^  requests +${s.totals.requests}  \\|[ ▁-█]{60}\\|$`));
  assert.match(line('blocked by the WAF'), /^ {2}blocked by the WAF +2 {2}\|[ ▁-█]{60}\|$/);
  // The traffic of the last seconds is in the last column, or the last two when a minute began since.
  for (const label of ['requests', 'sent upstream', 'blocked by the WAF', 'refused: banned']) {
    const columns = line(label).slice(line(label).indexOf('|') + 1, -1);
    assert.match(columns, /^ {58}[ ▁-█]█$|^ {58}█[ ▁-█]$/, `${label}: ${columns}`);
  }
  assert.match(line('refused: malformed'), /^ {2}refused: malformed +0 {2}\| {60}\|$/);
  assert.match(text, /^top rules \(last hour\):\n {2}1001 {2}2$/m);
  assert.match(text, new RegExp(`^top clients, blocked or banned \\(last hour\\):\\n {2}${attacker.replace(/\./g, '\\.')} +${2 + s.totals.banned}$`, 'm'));
  assert.match(text, /^top paths, blocked \(last hour\):\n {2}\/search {2}2$/m);
  assert.match(text, /^latest blocks:\n {2}\d\d:\d\d:\d\d {2}203\.0\.113\.9 {2}deny 403 {2}1001 {2}GET \/search\?q=union%20select%201$/m);
  assert.match(text, /^bans in force: 1\n {2}address +jail +since +ends +reason\n {2}203\.0\.113\.9 +waf +\d+ s ago +in 60 min +/m);
  assert.match(text, /^jails:\n {2}jail +source +failures +banned +matched\/read\n(?: {2}manual[^\n]*\n)? {2}waf +waf +\d+ +1 +2\/2$/m);

  // The same from the config file (address and token from its admin: section), and as JSON.
  const viaConfig = await run(['status', '--config', config, '--json']);
  assert.equal(viaConfig.code, 0, viaConfig.errors.join('\n'));
  const json = JSON.parse(viaConfig.lines.join('\n')) as { status: { totals: { blocked: number } }; bans: Array<{ address: string }>; top: { rules: Array<{ key: string }> } };
  assert.equal(json.status.totals.blocked, 2);
  assert.deepEqual(json.bans.map((b) => b.address), [attacker]);
  assert.deepEqual(json.top.rules.map((x) => x.key), ['1001']);
  // WARDEN_ADMIN_TOKEN, as warden start reads it.
  assert.equal((await run(['status', '--url', w.admin], { WARDEN_ADMIN_TOKEN: TOKEN })).code, 0);
});

test('warden status says what is wrong: no credentials, wrong token, nothing listening, bad options', async () => {
  const none = await run(['status', '--url', w.admin]);
  assert.equal(none.code, 1);
  assert.match(none.errors.join('\n'), /^warden status: http:\/\/127\.0\.0\.1:\d+\/ wants credentials: --token TOKEN, WARDEN_ADMIN_TOKEN or --config FILE/);
  const wrong = await run(['status', '--url', w.admin, '--token', 'not-the-token-at-all']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.errors.join('\n'), /wants credentials, and refused the ones given/);
  const port = await freePort();
  const down = await run(['status', '--url', `http://127.0.0.1:${port}/`, '--token', TOKEN]);
  assert.equal(down.code, 1);
  assert.match(down.errors.join('\n'), new RegExp(`nothing listens at http://127\\.0\\.0\\.1:${port}/ \\(is warden start running`));
  assert.equal((await run(['status', '--range', 'year'])).code, 2);
  assert.equal((await run(['status', '--bogus'])).code, 2);
  const noAdmin = join(root, 'no-admin.yaml');
  writeFileSync(noAdmin, 'upstreams: [{ name: a, url: "http://127.0.0.1:1" }]\n');
  const off = await run(['status', '--config', noAdmin]);
  assert.equal(off.code, 2);
  assert.match(off.errors.join('\n'), /has no admin: section/);
  assert.equal((await run(['status', '--url', 'ftp://x/'])).code, 1);
});

/** Munin's plugin protocol for config output: each graph's attributes and each field's. */
function checkMuninConfig(lines: string[]): Map<string, Map<string, Record<string, string>>> {
  const graphs = new Map<string, Map<string, Record<string, string>>>();
  let graph = '';
  const attrs = new Map<string, Map<string, string>>();
  for (const l of lines) {
    const m = /^multigraph (\w+)$/.exec(l);
    if (m !== null) {
      graph = m[1] as string;
      assert.ok(!graphs.has(graph), `graph ${graph} once`);
      graphs.set(graph, new Map());
      attrs.set(graph, new Map());
      continue;
    }
    const g = /^(graph_\w+) (.+)$/.exec(l);
    if (g !== null) {
      attrs.get(graph)?.set(g[1] as string, g[2] as string);
      continue;
    }
    const f = /^([A-Za-z_][A-Za-z0-9_]*)\.(label|type|min|info|draw) (.+)$/.exec(l);
    assert.ok(f !== null, `a munin config line: ${JSON.stringify(l)}`);
    const fields = graphs.get(graph) as Map<string, Record<string, string>>;
    const rec = fields.get(f[1] as string) ?? {};
    rec[f[2] as string] = f[3] as string;
    fields.set(f[1] as string, rec);
  }
  for (const [name, fields] of graphs) {
    const a = attrs.get(name) as Map<string, string>;
    for (const k of ['graph_title', 'graph_vlabel', 'graph_category']) assert.ok((a.get(k) ?? '') !== '', `${name}: ${k}`);
    assert.deepEqual(a.get('graph_order')?.split(' '), [...fields.keys()], `${name}: graph_order names every field`);
    for (const [field, rec] of fields) {
      assert.ok((rec.label ?? '') !== '', `${name}.${field}.label`);
      assert.ok(rec.type === 'DERIVE' || rec.type === 'GAUGE', `${name}.${field}.type`);
      assert.equal(rec.min, '0', `${name}.${field}.min`);
    }
  }
  return graphs;
}

function values(lines: string[]): Map<string, number> {
  const out = new Map<string, number>();
  let graph = '';
  for (const l of lines) {
    const m = /^multigraph (\w+)$/.exec(l);
    if (m !== null) {
      graph = `${m[1]}.`;
      continue;
    }
    const v = /^([A-Za-z_][A-Za-z0-9_]*)\.value (\d+)$/.exec(l);
    assert.ok(v !== null, `a munin value line: ${JSON.stringify(l)}`);
    out.set(`${graph}${v[1]}`, Number(v[2]));
  }
  return out;
}

test('warden munin: config follows the plugin protocol, fetched values move with the traffic', async () => {
  const env = { WARDEN_ADMIN_URL: w.admin, WARDEN_ADMIN_TOKEN: TOKEN };
  const config1 = await run(['munin', 'config'], env);
  assert.equal(config1.code, 0, config1.errors.join('\n'));
  const graphs = checkMuninConfig(config1.lines);
  assert.deepEqual([...graphs.keys()], ['warden_requests', 'warden_blocks', 'warden_bans']);
  assert.deepEqual([...(graphs.get('warden_requests')?.keys() ?? [])], ['requests', 'upstream']);
  assert.deepEqual([...(graphs.get('warden_blocks')?.keys() ?? [])], ['blocked', 'banned', 'rejected']);
  assert.deepEqual([...(graphs.get('warden_bans')?.keys() ?? [])], ['active', 'jail_manual', 'jail_waf']);
  assert.equal(graphs.get('warden_requests')?.get('requests')?.type, 'DERIVE');
  assert.equal(graphs.get('warden_bans')?.get('jail_waf')?.type, 'GAUGE');
  assert.equal(graphs.get('warden_bans')?.get('jail_waf')?.label, 'waf');

  const first = await run(['munin'], env);
  assert.equal(first.code, 0);
  const v1 = values(first.lines);
  assert.equal(v1.get('warden_requests.upstream'), 12 + passedBeforeBan);
  assert.equal(v1.get('warden_blocks.blocked'), 2);
  assert.equal(v1.get('warden_bans.active'), 1);
  assert.equal(v1.get('warden_bans.jail_waf'), 1);

  // More traffic: 5 readers, 1 attack from another address, 3 refusals of the banned one.
  for (let i = 0; i < 5; i++) assert.equal((await send(`${proxy}/about`, { headers: from('198.51.100.200') })).status, 200);
  assert.equal((await send(`${proxy}/search?q=union%20select`, { headers: from('192.0.2.70') })).status, 403);
  for (let i = 0; i < 3; i++) assert.equal((await send(`${proxy}/`, { headers: from(attacker) })).status, 403);
  await reported((v1.get('warden_requests.requests') as number) + 9);
  const v2 = values((await run(['munin'], env)).lines);
  assert.equal((v2.get('warden_requests.requests') as number) - (v1.get('warden_requests.requests') as number), 9);
  assert.equal((v2.get('warden_requests.upstream') as number) - (v1.get('warden_requests.upstream') as number), 5);
  assert.equal((v2.get('warden_blocks.blocked') as number) - (v1.get('warden_blocks.blocked') as number), 1);
  assert.equal((v2.get('warden_blocks.banned') as number) - (v1.get('warden_blocks.banned') as number), 3);
  assert.equal(v2.get('warden_blocks.rejected'), 0);

  // One graph alone, by argument; autoconf and suggest as munin-node-configure asks them.
  const bans = await run(['munin', 'bans', '--config', config]);
  assert.deepEqual(bans.lines, ['active.value 1', 'jail_manual.value 0', 'jail_waf.value 1']);
  assert.deepEqual((await run(['munin', 'autoconf'], env)).lines, ['yes']);
  assert.deepEqual((await run(['munin', 'suggest'], env)).lines, ['requests', 'blocks', 'bans']);
  assert.equal((await run(['munin', 'nosuch'], env)).code, 2);
});

test('warden munin linked as warden_requests (as in /etc/munin/plugins) draws that graph; a Warden down gives U', async () => {
  const plugins = join(root, 'plugins');
  mkdirSync(plugins, { recursive: true });
  const link = join(plugins, 'warden_requests');
  symlinkSync(fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url)), link);
  const env = { ...process.env, WARDEN_ADMIN_URL: w.admin, WARDEN_ADMIN_TOKEN: TOKEN };
  const plugin = (args: string[], e: NodeJS.ProcessEnv = env) => spawnSync(process.execPath, ['--import', 'tsx', link, ...args], { env: e, encoding: 'utf8', timeout: 60_000 });
  const cfg = plugin(['config']);
  assert.equal(cfg.status, 0, cfg.stderr);
  const lines = cfg.stdout.trimEnd().split('\n');
  assert.ok(!lines.some((l) => l.startsWith('multigraph')), 'one graph, no multigraph sections');
  assert.equal(lines[0], 'graph_title Warden requests');
  assert.ok(lines.includes('requests.type DERIVE') && lines.includes('upstream.min 0'));
  const fetched = plugin([]);
  assert.equal(fetched.status, 0, fetched.stderr);
  assert.match(fetched.stdout, /^requests\.value \d+\nupstream\.value \d+\n$/);

  const port = await freePort();
  const down = plugin([], { ...env, WARDEN_ADMIN_URL: `http://127.0.0.1:${port}/` });
  assert.equal(down.status, 1);
  assert.equal(down.stdout, 'requests.value U\nupstream.value U\n');
  assert.match(down.stderr, /nothing listens at/);
  const auto = plugin(['autoconf'], { ...env, WARDEN_ADMIN_URL: `http://127.0.0.1:${port}/` });
  assert.equal(auto.status, 0);
  assert.match(auto.stdout, /^no \(nothing listens at http:\/\/127\.0\.0\.1:\d+\/ /);
});

const MUNIN_RUN = '/usr/sbin/munin-run';
const noMunin = existsSync(MUNIN_RUN) ? null : `${MUNIN_RUN} is not installed (Debian package munin-node)`;
if (noMunin !== null && process.env.CI === 'true') throw new Error(`the munin test cannot run in CI: ${noMunin} — .ci/run installs it`);

test("munin's own munin-run runs the plugin from a plugins directory, configured by plugin-conf.d", { skip: noMunin ?? (process.getuid?.() !== 0 ? 'munin-run changes user: needs root' : false) }, async () => {
  // What bin/warden.js is to dist/, this is to src/ (through tsx): an executable the links point at.
  const dir = join(root, 'munin');
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  mkdirSync(join(dir, 'plugin-conf.d'), { recursive: true });
  const warden = join(dir, 'warden.mjs');
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  writeFileSync(warden, `#!/usr/bin/env -S ${process.execPath} --import ${tsx}\nimport ${JSON.stringify(fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url)))};\n`);
  chmodSync(warden, 0o755);
  for (const g of ['requests', 'blocks', 'bans', 'munin']) symlinkSync(warden, join(dir, 'plugins', `warden_${g}`));
  writeFileSync(join(dir, 'plugin-conf.d', 'warden'), `[warden_*]\nuser root\nenv.WARDEN_CONFIG ${config}\n`);
  const muninRun = (plugin: string, ...args: string[]) =>
    spawnSync(MUNIN_RUN, ['--ignore-systemd-properties', '--servicedir', join(dir, 'plugins'), '--sconfdir', join(dir, 'plugin-conf.d'), plugin, ...args], { encoding: 'utf8', timeout: 60_000 });

  const cfg = muninRun('warden_blocks', 'config');
  assert.equal(cfg.status, 0, cfg.stderr);
  const graphs = checkMuninConfig(['multigraph warden_blocks', ...cfg.stdout.trimEnd().split('\n')]);
  assert.deepEqual([...(graphs.get('warden_blocks')?.keys() ?? [])], ['blocked', 'banned', 'rejected']);
  const before = values(['multigraph warden_blocks', ...muninRun('warden_blocks').stdout.trimEnd().split('\n')]);
  assert.equal((await send(`${proxy}/`, { headers: from(attacker) })).status, 403);
  await reported((await call(`${w.admin}api/status`, { headers: auth })).json<{ totals: { requests: number } }>().totals.requests + 1);
  const fetched = muninRun('warden_blocks');
  assert.equal(fetched.status, 0, fetched.stderr);
  const now = values(['multigraph warden_blocks', ...fetched.stdout.trimEnd().split('\n')]);
  assert.equal((now.get('warden_blocks.banned') as number) - (before.get('warden_blocks.banned') as number), 1, 'the refusal of the banned client counted');
  const bans = muninRun('warden_bans');
  assert.equal(bans.stdout, 'active.value 1\njail_manual.value 0\njail_waf.value 1\n');
  const all = muninRun('warden_munin', 'config');
  assert.deepEqual([...checkMuninConfig(all.stdout.trimEnd().split('\n')).keys()], ['warden_requests', 'warden_blocks', 'warden_bans']);
});

test('bars and field names', () => {
  assert.equal(bars([0, 0, 0, 8, 4, 0], 6), '   █▄ ');
  assert.equal(bars([1, 1, 0, 0, 2, 2], 3), '▄ █');
  assert.equal(bars([0, 0]), '  ');
  assert.equal(fieldName('jail_nginx-4xx'), 'jail_nginx_4xx');
  assert.equal(fieldName('1abc'), '_1abc');
});
