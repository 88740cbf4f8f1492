/**
 * @module bench/filter
 * Filter throughput: lines per second through Warden's fail2ban-compatible filters, next
 * to Debian's fail2ban-regex on the same input in the same run (its own "[processed in
 * … sec]", which leaves out its start-up; when it is installed). Inputs are written to a
 * temporary folder:
 *
 * - sshd: fail2ban's sshd sample log repeated 600 times, each copy with its own process
 *   ids and addresses (93,000 lines; most lines match or take part in a match),
 * - access: a synthetic combined-format access log, 200,000 lines, about 2% of them POSTs
 *   to wp-login.php or xmlrpc.php,
 * - error: a synthetic Apache 2.4 error log, 100,000 lines, a third of them ModSecurity
 *   refusals in Warden's format.
 *
 * Warden's numbers are matching only (lines already in memory), the best of three runs,
 * each with a fresh filter; "guarded" is the same through GuardedFilter (a worker thread,
 * batches of 1,000 lines). fail2ban-regex runs as `fail2ban-regex --raw` (no DNS), which
 * tries every failregex on every line; Warden's "all" column does the same, the "first"
 * column stops at the first failregex that matches, as a jail does.
 *
 * `node --import tsx bench/filter.ts` (or `npm run bench -- filter`). No number here is
 * asserted anywhere.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFilter } from '../src/jail/filter/filter.js';
import { GuardedFilter } from '../src/jail/filter/guard.js';
import { readLogLines } from '../src/jail/filter/logfile.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(process.env.WARDEN_SHARED ?? join(root, '../shared'));
const fail2banConfig = join(shared, 'fail2ban/config');
const sampleLogs = join(shared, 'fail2ban/fail2ban/tests/files/logs');

/** xorshift32: the same input on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function sshdLog(): string {
  const src = readFileSync(join(sampleLogs, 'sshd'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
  const out: string[] = [];
  for (let r = 0; r < 600; r++) {
    for (const l of src) {
      out.push(
        l
          .replace(/\[(\d+)\]/gu, (_, pid: string) => `[${Number(pid) + r * 100000}]`)
          .replace(/192\.0\.2\.(\d+)/gu, (_, n: string) => `10.${Math.floor(r / 250)}.${r % 250}.${n}`),
      );
    }
  }
  return `${out.join('\n')}\n`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function accessLog(lines: number): string {
  const rand = rng(42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)] as T;
  const paths = ['/', '/index.html', '/feed/', '/about/', '/wp-content/uploads/2025/01/a.jpg', '/?p=123', '/wp-includes/js/jquery.min.js', '/favicon.ico'];
  const agents = ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)', 'curl/8.5.0'];
  const out: string[] = [];
  const t0 = Date.UTC(2025, 5, 1);
  for (let i = 0; i < lines; i++) {
    const d = new Date(t0 + i * 400);
    const stamp = `${String(d.getUTCDate()).padStart(2, '0')}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} +0000`;
    const ip = `${1 + Math.floor(rand() * 223)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
    const r = rand();
    let req: string;
    let status: number;
    if (r < 0.01) [req, status] = ['POST /wp-login.php HTTP/1.1', pick([200, 200, 302])];
    else if (r < 0.02) [req, status] = ['POST /xmlrpc.php HTTP/1.1', pick([200, 400, 403])];
    else [req, status] = [`GET ${pick(paths)} HTTP/1.1`, pick([200, 200, 200, 304, 404])];
    out.push(`${ip} - - [${stamp}] "${req}" ${status} ${Math.floor(rand() * 50000)} "-" "${pick(agents)}"`);
  }
  return `${out.join('\n')}\n`;
}

function errorLog(lines: number): string {
  const rand = rng(7);
  const out: string[] = [];
  const t0 = Date.UTC(2025, 5, 1);
  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  for (let i = 0; i < lines; i++) {
    const d = new Date(t0 + i * 700);
    const stamp = `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, '0')} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')}.${String(i % 1000000).padStart(6, '0')} ${d.getUTCFullYear()}`;
    const ip = `203.0.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
    if (rand() < 0.33) {
      out.push(
        `[${stamp}] [security2:error] [pid 4242] [client ${ip}:${1024 + Math.floor(rand() * 60000)}] ModSecurity: Access denied with code 403 (phase 2). Operator GE matched 5 at TX:blocking_inbound_anomaly_score. [file "/usr/share/modsecurity-crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf"] [line "222"] [id "949110"] [msg "Inbound Anomaly Score Exceeded (Total Score: 5)"] [ver "OWASP_CRS/4.0.0"] [tag "anomaly-evaluation"] [hostname "blog.example.com"] [uri "/xmlrpc.php"] [unique_id "ZK3x0A${i}"]`,
      );
    } else {
      out.push(`[${stamp}] [proxy:error] [pid 4242] [client ${ip}:${1024 + Math.floor(rand() * 60000)}] AH01102: error reading status line from remote server 127.0.0.1:8080`);
    }
  }
  return `${out.join('\n')}\n`;
}

interface Case {
  readonly filter: string;
  readonly log: string;
  /** How fail2ban-regex names the filter (a name under -c, or a path). */
  readonly theirs: string;
}

function best(n: number, run: () => number): number {
  let top = 0;
  for (let i = 0; i < n; i++) top = Math.max(top, run());
  return top;
}

function wardenRate(c: Case, lines: readonly string[], checkAllRegex: boolean): number {
  return best(3, () => {
    const f = loadFilter(c.filter, { fail2banFilterDir: join(fail2banConfig, 'filter.d'), checkAllRegex, ignorePending: !checkAllRegex });
    const t0 = performance.now();
    for (const l of lines) f.processLine(l);
    return lines.length / ((performance.now() - t0) / 1000);
  });
}

async function guardedRate(c: Case, lines: readonly string[]): Promise<number> {
  const f = await GuardedFilter.open(c.filter, { fail2banFilterDir: join(fail2banConfig, 'filter.d') });
  try {
    let top = 0;
    for (let r = 0; r < 2; r++) {
      const t0 = performance.now();
      for (let i = 0; i < lines.length; i += 1000) await f.matchLines(lines.slice(i, i + 1000));
      top = Math.max(top, lines.length / ((performance.now() - t0) / 1000));
    }
    return top;
  } finally {
    await f.close();
  }
}

function fail2banRegexRate(c: Case): number | null {
  const r = spawnSync('fail2ban-regex', ['--raw', '-c', fail2banConfig, c.log, c.theirs], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) return null;
  const secs = /\[processed in ([\d.]+) sec\]/u.exec(r.stdout);
  const lines = /^Lines: (\d+) lines/mu.exec(r.stdout);
  if (secs === null || lines === null) return null;
  return Number(lines[1]) / Math.max(Number(secs[1]), 0.005);
}

const fmt = (n: number | null): string => (n === null ? '—' : Math.round(n).toLocaleString('en-US'));

async function main(): Promise<void> {
  if (!existsSync(sampleLogs)) {
    console.log(`bench/filter: ${sampleLogs} is absent; nothing to run`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-filter-'));
  try {
    const files = {
      sshd: join(dir, 'sshd.log'),
      access: join(dir, 'access.log'),
      error: join(dir, 'error.log'),
    };
    writeFileSync(files.sshd, sshdLog());
    writeFileSync(files.access, accessLog(200_000));
    writeFileSync(files.error, errorLog(100_000));
    const warden = (name: string): string => join(root, 'filters', `${name}.conf`);
    const cases: Case[] = [
      { filter: 'sshd', log: files.sshd, theirs: 'sshd' },
      { filter: warden('warden-sshd'), log: files.sshd, theirs: warden('warden-sshd') },
      { filter: 'nginx-botsearch', log: files.access, theirs: 'nginx-botsearch' },
      { filter: 'apache-badbots', log: files.access, theirs: 'apache-badbots' },
      { filter: warden('warden-wordpress'), log: files.access, theirs: warden('warden-wordpress') },
      { filter: 'apache-modsecurity', log: files.error, theirs: 'apache-modsecurity' },
      { filter: warden('warden-modsecurity'), log: files.error, theirs: warden('warden-modsecurity') },
    ];
    const haveF2b = spawnSync('fail2ban-regex', ['--version']).status === 0;
    console.log(`node ${process.version}; fail2ban-regex ${haveF2b ? 'installed' : 'not installed'}`);
    console.log('filter                | log     |    lines | Warden first | Warden all | guarded | fail2ban-regex | × fail2ban');
    console.log('----------------------|---------|---------:|-------------:|-----------:|--------:|---------------:|----------:');
    for (const c of cases) {
      const lines = readLogLines(c.log);
      const first = wardenRate(c, lines, false);
      const all = wardenRate(c, lines, true);
      const guarded = c.log === files.access ? await guardedRate(c, lines) : null;
      const theirs = haveF2b ? fail2banRegexRate(c) : null;
      const name = c.filter.startsWith('/') ? c.filter.replace(/^.*\//u, '').replace(/\.conf$/u, '') : c.filter;
      const logName = Object.entries(files).find(([, p]) => p === c.log)?.[0] ?? '';
      console.log(
        `${name.padEnd(21)} | ${logName.padEnd(7)} | ${fmt(lines.length).padStart(8)} | ${fmt(first).padStart(12)} | ${fmt(all).padStart(10)} | ${fmt(guarded).padStart(7)} | ${fmt(theirs).padStart(14)} | ${theirs === null ? '—'.padStart(9) : `${(all / theirs).toFixed(1)}×`.padStart(9)}`,
      );
    }
    console.log('lines/s; "× fail2ban" compares "Warden all" with fail2ban-regex, which also tries every failregex.');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
