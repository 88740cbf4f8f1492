/**
 * `warden import-jails`: fail2ban 1.1's own jail.conf (../shared/fail2ban/config, read in
 * place with its paths-debian.conf include) and a jail.local of the kind admins write,
 * turned into warden.yaml sections that Warden's config loader accepts as they are; the
 * pieces of the mapping as tables (fail2ban's time words, action specs, port lists).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main, type Io } from '../../src/cli/main.js';
import { readConfigText, finalizeConfig } from '../../src/config/index.js';
import { fail2banSeconds, importFail2banJails, portList, splitWithOptions, wardenDuration } from '../../src/jail/fail2ban-jails.js';
import { sharedSuite } from '../support/shared.js';

const config = sharedSuite('fail2ban/config');
const skip = config === null ? 'needs ../shared/fail2ban' : false;

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: () => '' };
  const code = await main(['import-jails', ...argv], io, {});
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface Yaml {
  jails: Record<string, Record<string, unknown>>;
  actions?: Record<string, Record<string, unknown>>;
  bans?: { filterDirs: string[] };
}

/** The printed sections, checked by Warden's own loader (with an upstream, as a whole file). */
function load(text: string): Yaml {
  const { draft, errors } = readConfigText(`upstreams: [{ url: "http://127.0.0.1:3000" }]\n${text}\n`, 'warden.yaml', tmpdir());
  assert.deepEqual(errors.map((e) => e.message), []);
  const r = finalizeConfig(draft);
  assert.deepEqual('errors' in r ? r.errors.map((e) => e.message) : [], []);
  return parse(text) as Yaml;
}

/** A directory with fail2ban's jail.conf (and what it includes) linked in, and a jail.local of ours. */
function withLocal(local: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-f2b-'));
  for (const f of ['jail.conf', 'paths-common.conf', 'paths-debian.conf', 'action.d', 'filter.d']) symlinkSync(join(config as string, f), join(dir, f));
  writeFileSync(join(dir, 'jail.local'), local);
  return dir;
}

test('fail2ban times → seconds → warden.yaml durations', () => {
  const table: ReadonlyArray<readonly [string, number | null, string]> = [
    ['600', 600, '10m'],
    ['10m', 600, '10m'],
    ['1h', 3600, '1h'],
    ['1d', 86400, '1d'],
    ['1w', 604800, '1w'],
    ['2 weeks', 1209600, '2w'],
    ['1d 3h', 97200, '27h'],
    ['1mo', 2592000, '30d'],
    ['1y', 31536000, '365d'],
    ['90s', 90, '90s'],
    ['1.5h', 5400, '90m'],
    ['-1', -1, 'forever'],
    ['10 minutes', 600, '10m'],
    ['soon', null, ''],
    ['10x', null, ''],
  ];
  for (const [text, seconds, duration] of table) {
    assert.equal(fail2banSeconds(text), seconds, text);
    if (seconds !== null) assert.equal(wardenDuration(seconds), duration, text);
  }
});

test('action and filter specs: name[key=value, key="a, b"]', () => {
  assert.deepEqual(splitWithOptions('sshd[mode=aggressive]'), { name: 'sshd', options: { mode: 'aggressive' } });
  assert.deepEqual(splitWithOptions('nftables[type=multiport, port="http,https", protocol="tcp", chain="<known/chain>"]'), {
    name: 'nftables',
    options: { type: 'multiport', port: 'http,https', protocol: 'tcp', chain: '<known/chain>' },
  });
  assert.deepEqual(splitWithOptions("xarf-login-attack[service=sshd, sender='a, b', port=ssh]"), { name: 'xarf-login-attack', options: { service: 'sshd', sender: 'a, b', port: 'ssh' } });
  assert.deepEqual(splitWithOptions('dummy'), { name: 'dummy', options: {} });
});

test('port lists: service names, numbers, ranges; all ports as []', () => {
  assert.deepEqual(portList('ssh'), { ports: [22] });
  assert.deepEqual(portList('http,https'), { ports: [80, 443] });
  assert.deepEqual(portList('smtp,465,submission'), { ports: [25, 465, 587] });
  assert.deepEqual(portList('0:65535'), { ports: [] });
  assert.deepEqual(portList('8000:8002'), { ports: [8000, 8001, 8002] });
  assert.ok('error' in portList('1000:9000'));
  assert.ok('error' in portList('no-such-service'));
});

test('fail2ban\'s jail.conf with --all: every jail, in a warden.yaml Warden loads', { skip }, async () => {
  const r = await run([join(config as string, 'jail.conf'), '--all']);
  assert.equal(r.code, 0, r.err);
  const y = load(r.out);
  const all = importFail2banJails([join(config as string, 'jail.conf')], { all: true });
  assert.ok(all.jails.length >= 90, `${all.jails.length} jails`);
  assert.deepEqual(Object.keys(y.jails), ['waf', ...all.jails.map(([n]) => n)]);
  for (const [name, jail] of Object.entries(y.jails)) if (name !== 'waf') assert.equal(jail.enabled, false, `${name} is disabled in jail.conf`);
  // Debian's paths: sshd reads the journal (sshd_backend = systemd), with the filter's mode.
  assert.deepEqual(y.jails.sshd, { enabled: false, source: 'journal', filter: 'sshd', filterOptions: { mode: 'normal' }, maxRetry: 5, findTime: '10m', banTime: '10m', actions: ['nftables-22'] });
  assert.deepEqual(y.jails['apache-badbots']?.files, ['/var/log/apache2/*access.log']);
  assert.equal(y.jails['apache-badbots']?.banTime, '2d');
  assert.equal(y.jails['apache-badbots']?.maxRetry, 1);
  assert.deepEqual(y.jails.recidive, { enabled: false, source: 'bans', maxRetry: 5, findTime: '1d', banTime: '1w', actions: ['nftables-all'] });
  assert.deepEqual(y.actions?.['nftables-22'], { type: 'nftables', ports: [22] });
  assert.deepEqual(y.actions?.['nftables-80-443'], { type: 'nftables', ports: [80, 443] });
  assert.deepEqual(y.jails['counter-strike']?.actions, ['nftables-counter-strike', 'nftables-all']);
  assert.deepEqual(y.bans?.filterDirs, [join(config as string, 'filter.d')]);
  // What changes on the way is said, jail by jail.
  assert.match(r.out, /^# {3}xinetd-fail: action iptables-multiport-log becomes Warden's nftables action/m);
  assert.match(r.out, /^# {3}counter-strike: action nftables bans udp ports 1200,27000/m);
  assert.match(r.out, /^# {3}recidive: the recidive filter reads fail2ban's own log/m);
  // An action spread over lines, with two option groups; options that change its meaning are named.
  assert.deepEqual(y.actions?.['nftables-pass2allow-ftp'], { type: 'nftables', ports: [20, 21, 989, 990] });
  assert.match(r.out, /^# {3}pass2allow-ftp: action nftables: blocktype=RETURN, returntype=DROP, actionstart_on_demand=false, actionrepair_on_unban=true not carried over/m);
});

test('without --all only enabled jails; a jail.local as admins write them', { skip }, async () => {
  assert.match((await run([join(config as string, 'jail.conf')])).out, /^# 0 jails imported, \d+ not enabled left out/m);
  const dir = withLocal(`[DEFAULT]
bantime = 1h
bantime.increment = true
bantime.factor = 2
bantime.maxtime = 5w
bantime.overalljails = true
ignoreip = 127.0.0.1/8 ::1, 192.0.2.0/24
banaction = iptables-multiport

[sshd]
enabled = true
mode = aggressive
backend = polling
logpath = /var/log/auth.log
maxretry = 3

[nginx-http-auth]
enabled = true
port = 8080,8443
ignoreself = false

[postfix]
enabled = true
action = %(action_mwl)s

[wordpress]
enabled = true
filter = warden-wordpress
logpath = /var/log/nginx/blog.access.log
          /var/log/nginx/blog-ssl.access.log head
findtime = 1h
bantime = -1
usedns = yes
bantime.formula = ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)
action = abuseipdb[abuseipdb_apikey="secret", abuseipdb_category="18,21"]
         iptables-ipset-proto6[port="http,https"]
`);
  const r = await run([join(dir, 'jail.local'), '--no-waf']);
  assert.equal(r.code, 0, r.err);
  const y = load(r.out);
  assert.deepEqual(Object.keys(y.jails), ['sshd', 'nginx-http-auth', 'postfix', 'wordpress']);
  const increment = { factor: 2, maxTime: '5w', overallJails: true };
  assert.deepEqual(y.jails.sshd, {
    source: 'file',
    files: ['/var/log/auth.log'],
    filter: 'sshd',
    filterOptions: { mode: 'aggressive' },
    maxRetry: 3,
    findTime: '10m',
    banTime: '1h',
    banTimeIncrement: increment,
    ignoreIp: ['127.0.0.1/8', '::1', '192.0.2.0/24'],
    actions: ['nftables-22'],
  });
  assert.deepEqual(y.jails['nginx-http-auth']?.actions, ['nftables-8080-8443']);
  assert.equal(y.jails['nginx-http-auth']?.ignoreSelf, false);
  assert.deepEqual(y.jails.postfix?.actions, ['nftables-25-465-587', 'sendmail-whois-lines']);
  assert.deepEqual(y.jails.wordpress, {
    source: 'file',
    files: ['/var/log/nginx/blog.access.log', '/var/log/nginx/blog-ssl.access.log'],
    filter: 'warden-wordpress',
    fromStart: true,
    maxRetry: 5,
    findTime: '1h',
    banTime: 'forever',
    banTimeIncrement: increment,
    ignoreIp: ['127.0.0.1/8', '::1', '192.0.2.0/24'],
    actions: ['abuseipdb', 'ipset-80-443'],
  });
  assert.deepEqual(y.actions?.abuseipdb, { type: 'fail2ban', file: join(dir, 'action.d', 'abuseipdb.conf'), options: { abuseipdb_apikey: 'secret', abuseipdb_category: '18,21' } });
  assert.deepEqual(y.actions?.['ipset-80-443'], { type: 'ipset', ports: [80, 443] });
  assert.match(r.out, /^# {3}wordpress: usedns not carried over/m);
  assert.match(r.out, /^# {3}wordpress: bantime\.formula .* not carried over/m);
  assert.match(r.out, /^# {3}sshd: action iptables-multiport becomes Warden's nftables action/m);
  assert.doesNotMatch(r.out, /^ {2}waf:/m);
});

test('import-jails: usage and unreadable files', async () => {
  assert.equal((await run([])).code, 2);
  const missing = await run(['/nonexistent/jail.local']);
  assert.equal(missing.code, 1);
  assert.equal(missing.err, 'warden import-jails: /nonexistent/jail.local: no such file');
  const dir = mkdtempSync(join(tmpdir(), 'warden-f2b-'));
  writeFileSync(join(dir, 'jail.local'), '[sshd]\nenabled = true\nenabled = false\n');
  const dup = await run([join(dir, 'jail.local')]);
  assert.equal(dup.code, 1);
  assert.match(dup.err, /jail\.local:3/);
});
