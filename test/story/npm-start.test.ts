/**
 * `npm start` as a newcomer runs it: npm, then Warden (its primary and a worker) on the
 * embedded defaults in front of the demo blog. The test reads the URLs the banner prints,
 * runs the banner's own shell lines (curl) and checks each gives what its comment says —
 * a page, a SQL injection refused, a malformed chunked pingback refused, a well-formed one
 * registered by the blog, five refusals and then a ban that other clients do not feel, the
 * ban listed and lifted through the admin API — then stops it as Ctrl-C does (SIGINT to
 * the process group) and checks no process and no listener is left.
 *
 * Then `npm start -- --upstream URL` in front of a site that counts its requests: what
 * passes reaches it, what is refused does not, and SIGTERM to npm alone (as a service
 * manager sends it) stops Warden too.
 *
 * Fixed ports would collide with other tests: --listen and --admin ask for free ones, and
 * --data-dir keeps the state out of the clone.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../support/shared.js';

const curlMissing = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim() === '' ? 'curl is not installed (the banner gives curl lines; .ci/run installs it)' : null;
if (curlMissing !== null && process.env.CI === 'true') throw new Error(`the npm start test cannot run in CI: ${curlMissing}`);

const root = mkdtempSync(join(tmpdir(), 'warden-npm-start-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface NpmStart {
  readonly proc: ChildProcess;
  /** Standard output so far. */
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | null>;
}

/** `npm start -- ARGS` in its own process group, resolved once the banner is printed. */
async function npmStart(args: readonly string[]): Promise<NpmStart> {
  const proc = spawn('npm', ['start', '--', ...args], { cwd: projectRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no banner in 120 s:\n${out}\n${err}`)), 120_000);
    const check = (): void => {
      if (/^Ctrl-C stops/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited ${code} before its banner:\n${out}\n${err}`));
    });
  });
  try {
    await ready;
  } catch (e) {
    if (groupAlive(proc.pid as number)) process.kill(-(proc.pid as number), 'SIGKILL');
    throw e;
  }
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Whether any process of the group `pgid` is still alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

async function stopped(p: NpmStart, timeoutMs = 30_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
  clearTimeout(timer);
  assert.notEqual(code, 'timeout', `npm start did not stop:\n${p.stdout()}\n${p.stderr()}`);
  // The workers and the primary leave after npm itself at most a moment later.
  const pgid = p.proc.pid as number;
  for (let i = 0; i < 50 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 100));
  return code as number | null;
}

/** Whether something accepts connections on a URL's host and port. */
function listening(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/**
 * Runs one of the banner's shell lines as printed (with curl's progress meter off and a
 * time limit); its standard output. Asynchronously: the site behind Warden may be this process.
 */
function shell(line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', line.replace(/\bcurl /g, 'curl -s --max-time 20 ')], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${line}\nexit ${String(err.code)}: ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The first status code in curl -i output. */
const statusOf = (out: string): number => Number(/^HTTP\/[\d.]+ (\d{3})/m.exec(out)?.[1] ?? 0);

/** A banner line `LABEL:  VALUE`. */
function field(banner: string, label: string): string {
  const m = new RegExp(`^  ${label}:\\s+(\\S+)`, 'm').exec(banner);
  assert.ok(m !== null, `the banner has no "${label}" line:\n${banner}`);
  return m[1] as string;
}

/** The banner's shell lines: command and the comment saying what to expect. */
function commands(banner: string): Array<{ cmd: string; expect: string }> {
  return [...banner.matchAll(/^ {2}((?:curl|for) .*?) {2}# (.*)$/gm)].map((m) => ({ cmd: m[1] as string, expect: m[2] as string }));
}

test('npm start: Warden on its defaults in front of the demo blog; the banner\'s curl lines do what they say; Ctrl-C leaves nothing behind', { skip: curlMissing ?? false, timeout: 5 * 60_000 }, async (t) => {
  const dataDir = join(root, 'demo-data');
  const w = await npmStart(['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--data-dir', dataDir, '--workers', '1']);
  let stopSent = false;
  try {
    const banner = w.stdout();
    const proxy = field(banner, 'the site, through Warden').replace(/\/$/, '');
    const admin = field(banner, 'dashboard and metrics').replace(/\/$/, '');
    assert.match(proxy, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(field(banner, 'data, bans and logs'), dataDir);
    assert.match(banner, /^ {2}rules: +\d+ — Warden's default rule set/m);
    assert.match(banner, /jail "waf": an address refused by the rules 5 times within 10 min is banned for 1 h, doubling for each repeat offence up to 7 d/);
    assert.match(banner, /a banned address is refused before its request body is read/);
    const demo = /in front of the demo blog \(served by this process on (http:\/\/127\.0\.0\.1:\d+)\)/.exec(banner)?.[1];
    assert.ok(demo !== undefined, banner);

    const lines = commands(banner);
    const find = (expect: string): string => {
      const c = lines.find((l) => l.expect === expect);
      assert.ok(c !== undefined, `no line with "# ${expect}" in:\n${banner}`);
      return c.cmd;
    };
    const page = find('a page: 200');
    const sqli = find('SQL injection: 403');
    const bogus = find('a bogus pingback: 400');
    const pingback = find('a pingback from another blog: 200');
    const refusals = find('5 refusals: 403 403 403 403 403');
    const banned = find('banned, refused whatever it asks: 403');
    const others = find('everyone else: 200');
    const list = find('the bans (the dashboard shows them too)');
    const lift = find('lift the ban');
    assert.equal(lines.length, 9, 'every shell line of the banner is checked here');

    await t.test('the demo blog through Warden: a page passes, an injection and a malformed pingback are refused, a real pingback is registered', async () => {
      const p = await shell(page);
      assert.equal(statusOf(p), 200);
      assert.match(p, /Sourdough at altitude/);
      assert.match(p, /<form method="post" action="\/wp-comments-post.php">/);
      const s = await shell(sqli);
      assert.equal(statusOf(s), 403);
      assert.match(s, /blocked by the site's web application firewall/);
      assert.equal(statusOf(await shell(bogus)), 400);
      const g = await shell(pingback);
      assert.equal(statusOf(g), 200);
      assert.match(g, /Pingback from https:\/\/bakers\.example\/2024\/03\/my-loaf\/ to .* registered/);
      // Straight from the blog: the good pingback is there, the bogus one never arrived.
      const direct = await shell(`curl ${demo}/2024/03/sourdough-at-altitude/`);
      assert.match(direct, /<h2>1 responses<\/h2>/);
      assert.match(direct, /bakers\.example/);
      assert.doesNotMatch(direct, /cheap-meds/);
    });

    await t.test('five refusals ban the client; other clients still pass; the admin API lists and lifts the ban', async () => {
      assert.equal(await shell(refusals), '403 403 403 403 403 \n');
      // The 5th refusal reaches the ban engine in the primary; the ban reaches the worker.
      let b = '';
      for (let i = 0; i < 100 && !/client address is banned/.test(b); i++) {
        await new Promise((r) => setTimeout(r, 100));
        b = await shell(banned);
      }
      assert.equal(statusOf(b), 403);
      assert.match(b, /403 client address is banned/);
      assert.equal(statusOf(await shell(others)), 200);
      const bans = JSON.parse(await shell(list)) as Array<{ jail: string; address: string; sinceMs: number; untilMs: number }>;
      assert.deepEqual(
        bans.map((x) => [x.jail, x.address, x.untilMs - x.sinceMs]),
        [['waf', '203.0.113.7', 3_600_000]],
      );
      assert.deepEqual(JSON.parse(await shell(lift)), { unbanned: 1 });
      assert.equal(statusOf(await shell(banned)), 200, 'after the ban is lifted');
    });

    await t.test('Ctrl-C (SIGINT to the process group) stops npm, Warden and the demo blog; nothing is left', async () => {
      process.kill(-(w.proc.pid as number), 'SIGINT');
      stopSent = true;
      const code = await stopped(w);
      assert.equal(code, 0, w.stderr());
      assert.match(w.stdout(), /^warden: stopped$/m);
      assert.equal(groupAlive(w.proc.pid as number), false, 'no process of npm start is left');
      for (const url of [proxy, admin, demo]) assert.equal(await listening(url), false, `${url} still answers`);
      assert.ok(existsSync(join(dataDir, 'access.log')), 'the access log is in the data directory');
      assert.ok(!existsSync(join(dataDir, 'warden.pid')), 'the pid file is removed');
      const access = readFileSync(join(dataDir, 'access.log'), 'utf8');
      assert.match(access, /^203\.0\.113\.7 .* 403 /m, 'the access log names the client X-Forwarded-For gave');
    });
  } finally {
    if (!stopSent || groupAlive(w.proc.pid as number)) {
      try {
        process.kill(-(w.proc.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

test('npm start -- --upstream URL protects that site instead of the demo; SIGTERM to npm stops it all', { skip: curlMissing ?? false, timeout: 5 * 60_000 }, async () => {
  const hits: string[] = [];
  const site: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('my own site\n');
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  const upstream = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  const dataDir = join(root, 'upstream-data');
  let w: NpmStart | null = null;
  try {
    w = await npmStart(['--upstream', upstream, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--data-dir', dataDir, '--workers', '1']);
    const banner = w.stdout();
    assert.match(banner, new RegExp(`Warden is running in front of ${upstream.replace(/\./g, '\\.')}\\.`));
    assert.doesNotMatch(banner, /demo blog|X-Forwarded-For/, 'no demo, and X-Forwarded-For is not believed');
    assert.match(banner, /--upstream http:\/\/127\.0\.0\.1:\d+ /);
    const lines = commands(banner);
    assert.deepEqual(
      lines.map((l) => l.expect),
      ['a page: 200', 'SQL injection: 403', 'a bogus pingback: 400'],
    );
    const [page, sqli, bogus] = lines.map((l) => l.cmd) as [string, string, string];
    const p = await shell(page);
    assert.equal(statusOf(p), 200);
    assert.match(p, /my own site/);
    assert.equal(statusOf(await shell(sqli)), 403);
    assert.equal(statusOf(await shell(bogus)), 400);
    assert.deepEqual(hits, ['GET /'], 'only the page reached the site');

    const proxy = field(banner, 'the site, through Warden').replace(/\/$/, '');
    w.proc.kill('SIGTERM');
    assert.equal(await stopped(w), 0, w.stderr());
    assert.match(w.stdout(), /^warden: stopped$/m);
    assert.equal(groupAlive(w.proc.pid as number), false, 'no process of npm start is left');
    assert.equal(await listening(proxy), false);
  } finally {
    if (w !== null && groupAlive(w.proc.pid as number)) process.kill(-(w.proc.pid as number), 'SIGKILL');
    await new Promise((r) => site.close(r));
  }
});
