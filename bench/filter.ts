/**
 * @module bench/filter
 * `warden filter test` next to Debian's `fail2ban-regex`, whole processes as a user runs
 * them, on the same generated logs with the same filter files:
 *
 * - access.log: a combined-format access log (bench/lib/logs accessLines), 1,000,000 lines,
 *   read with fail2ban's nginx-botsearch and apache-badbots and Warden's warden-wordpress
 *   (failed WordPress logins and refused XML-RPC calls);
 * - error.log: an Apache 2.4 error log (errorLines), 1,000,000 lines, read with fail2ban's
 *   apache-auth.
 *
 * Warden runs compiled to JavaScript (bench/lib/build: `node dist/cli/entry.js`, what
 * bin/warden.js starts), `warden filter test --fail2ban-dir ../shared/fail2ban/config/filter.d
 * FILTER LOG`; fail2ban-regex runs as `fail2ban-regex --raw -c ../shared/fail2ban/config LOG
 * FILTER` (no DNS; it keeps at most 20 missed lines, Warden keeps none it does not print).
 * Both try every failregex on every line. Each process runs under bench/lib/rusage.py: wall
 * time from fork to exit, user + system CPU time, the kernel's peak RSS and the peak of its
 * private memory. Lines/s are given over wall time and over CPU time (on a machine shared
 * with other work, wall time measures the neighbours too). Rounds are interleaved (Warden,
 * then fail2ban-regex, filter after filter) and the median round is reported; fail2ban-regex's
 * own "[processed in … s]" (its matching alone, without start-up and the report) is shown
 * too. The matched counts of both must agree, or the run fails.
 *
 * Options: `--smoke` (3,000 lines, one round: checks the script and the agreement, in
 * seconds), `--lines N`, `--rounds N`, `--markdown FILE` (also write the table there).
 * `node --import tsx bench/filter.ts` or `npm run bench -- filter`. No number here is
 * asserted anywhere.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWarden, projectRoot } from './lib/build.js';
import { accessLines, errorLines, writeLines } from './lib/logs.js';

const shared = join(projectRoot, '..', 'shared');
const fail2banConfig = process.env.WARDEN_FAIL2BAN_CONFIG ?? join(shared, 'fail2ban/config');
const rusage = join(projectRoot, 'bench/lib/rusage.py');

interface Cost {
  readonly wall: number;
  readonly maxrss_kb: number;
  readonly anon_kb: number;
  readonly user: number;
  readonly sys: number;
  readonly status: number;
}

interface Run {
  readonly cost: Cost;
  readonly lines: number;
  readonly matched: number;
  /** fail2ban-regex's own matching time, seconds. */
  readonly processed: number | null;
}

interface Case {
  /** How the table names it. */
  readonly label: string;
  /** The filter as both programs are given it: a name in filter.d or a path. */
  readonly filter: string;
  readonly log: 'access' | 'error';
}

function measured(argv: readonly string[]): { stdout: string; cost: Cost } {
  const r = spawnSync('python3', [rusage, ...argv], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  let cost: Cost;
  try {
    cost = JSON.parse(last) as Cost;
  } catch {
    throw new Error(`${argv.join(' ')}: no cost report (${r.error?.message ?? r.stderr.slice(-500)})`);
  }
  if (cost.status !== 0) throw new Error(`${argv.join(' ')} exited with ${cost.status}:\n${r.stdout.slice(-1000)}\n${r.stderr.slice(-1000)}`);
  return { stdout: r.stdout, cost };
}

/** "Lines: 1000 lines, 0 ignored, 25 matched, 975 missed" — both programs print it. */
function counts(stdout: string, who: string): { lines: number; matched: number } {
  const m = /^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/mu.exec(stdout);
  if (m === null) throw new Error(`${who}: no "Lines:" summary in its output:\n${stdout.slice(-1500)}`);
  return { lines: Number(m[1]), matched: Number(m[3]) };
}

function runWarden(entry: string, c: Case, log: string): Run {
  const { stdout, cost } = measured([process.execPath, entry, 'filter', 'test', '--fail2ban-dir', join(fail2banConfig, 'filter.d'), c.filter, log]);
  return { cost, ...counts(stdout, 'warden filter test'), processed: null };
}

function runFail2banRegex(c: Case, log: string): Run {
  const { stdout, cost } = measured(['fail2ban-regex', '--raw', '-c', fail2banConfig, log, c.filter]);
  const secs = /\[processed in ([\d.]+) sec\]/u.exec(stdout);
  return { cost, ...counts(stdout, 'fail2ban-regex'), processed: secs === null ? null : Number(secs[1]) };
}

function median<T>(runs: readonly T[], key: (r: T) => number): T {
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)] as T;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const mb = (kb: number): string => (kb / 1024).toFixed(0);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      lines: { type: 'string' },
      rounds: { type: 'string' },
      markdown: { type: 'string' },
    },
  });
  const smoke = values.smoke === true;
  const lines = Number(values.lines ?? (smoke ? 3000 : 1_000_000));
  const rounds = Number(values.rounds ?? (smoke ? 1 : 3));
  if (!Number.isInteger(lines) || lines < 1 || !Number.isInteger(rounds) || rounds < 1) {
    console.error('bench/filter: --lines and --rounds take a positive whole number');
    return 2;
  }
  if (!existsSync(join(fail2banConfig, 'filter.d'))) {
    console.error(`bench/filter: fail2ban's filters are not at ${fail2banConfig} (set WARDEN_FAIL2BAN_CONFIG)`);
    return 2;
  }
  const haveF2b = spawnSync('fail2ban-regex', ['--version'], { encoding: 'utf8' });
  const f2bVersion = haveF2b.status === 0 ? haveF2b.stdout.trim() : null;
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-filter-'));
  const warden = await buildWarden();
  try {
    const logs = { access: join(dir, 'access.log'), error: join(dir, 'error.log') };
    writeLines(logs.access, accessLines(lines));
    writeLines(logs.error, errorLines(lines));
    const cases: Case[] = [
      { label: 'apache-auth', filter: 'apache-auth', log: 'error' },
      { label: 'nginx-botsearch', filter: 'nginx-botsearch', log: 'access' },
      { label: 'apache-badbots', filter: 'apache-badbots', log: 'access' },
      { label: 'warden-wordpress (xmlrpc)', filter: join(projectRoot, 'filters/warden-wordpress.conf'), log: 'access' },
    ];
    const ours = new Map<Case, Run[]>(cases.map((c) => [c, []]));
    const theirs = new Map<Case, Run[]>(cases.map((c) => [c, []]));
    for (let r = 0; r < rounds; r++) {
      for (const c of cases) {
        (ours.get(c) as Run[]).push(runWarden(warden.entry, c, logs[c.log]));
        if (f2bVersion !== null) (theirs.get(c) as Run[]).push(runFail2banRegex(c, logs[c.log]));
      }
    }
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const out: string[] = [];
    out.push(`Ban-engine filters, ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpu}, node ${process.version}, ${f2bVersion ?? 'fail2ban-regex not installed'}.`);
    out.push(`Logs: ${int(lines)} lines each (access ${mb(statSync(logs.access).size / 1024)} MB, error ${mb(statSync(logs.error).size / 1024)} MB); median of ${rounds} round${rounds === 1 ? '' : 's'}, whole process (start to exit).`);
    out.push('');
    out.push('| filter | log | matched | Warden lines/s | Warden lines/CPU-s | Warden peak RSS (private) | fail2ban-regex lines/s | fail2ban-regex lines/CPU-s | (its matching alone) | fail2ban-regex peak RSS (private) | × lines/s | × lines/CPU-s | × peak RSS | × private |');
    out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    let failed = 0;
    const cpuOf = (x: Run): number => x.cost.user + x.cost.sys;
    for (const c of cases) {
      const runsW = ours.get(c) as Run[];
      const w = median(runsW, (x) => x.cost.wall);
      const wCpu = median(runsW, cpuOf);
      const wRate = w.lines / w.cost.wall;
      const wCpuRate = wCpu.lines / cpuOf(wCpu);
      const wRss = Math.max(...runsW.map((x) => x.cost.maxrss_kb));
      const wAnon = Math.max(...runsW.map((x) => x.cost.anon_kb));
      let cells = `| ${c.label} | ${c.log} | ${int(w.matched)} | ${int(wRate)} | ${int(wCpuRate)} | ${mb(wRss)} MB (${mb(wAnon)} MB) |`;
      const runsF = theirs.get(c) as Run[];
      if (runsF.length === 0) cells += ' — | — | — | — | — | — | — | — |';
      else {
        const f = median(runsF, (x) => x.cost.wall);
        const fCpu = median(runsF, cpuOf);
        const fRate = f.lines / f.cost.wall;
        const fCpuRate = fCpu.lines / cpuOf(fCpu);
        const fRss = Math.max(...runsF.map((x) => x.cost.maxrss_kb));
        const fAnon = Math.max(...runsF.map((x) => x.cost.anon_kb));
        const agree = runsF.every((x) => x.lines === w.lines && x.matched === w.matched) && runsW.every((x) => x.lines === w.lines && x.matched === w.matched);
        if (!agree) {
          failed++;
          console.error(`bench/filter: ${c.label}: Warden counted ${w.lines} lines, ${w.matched} matched; fail2ban-regex ${f.lines} lines, ${f.matched} matched`);
        }
        cells += ` ${int(fRate)} | ${int(fCpuRate)} | ${f.processed === null ? '—' : int(f.lines / Math.max(f.processed, 0.001))} | ${mb(fRss)} MB (${mb(fAnon)} MB) |`;
        cells += ` ${(wRate / fRate).toFixed(1)}× | ${(wCpuRate / fCpuRate).toFixed(1)}× | ${(wRss / fRss).toFixed(2)}× | ${(wAnon / Math.max(fAnon, 1)).toFixed(2)}×${agree ? '' : ' COUNTS DIFFER'} |`;
      }
      out.push(cells);
    }
    out.push('');
    out.push("lines/s: lines over the process's wall time; lines/CPU-s: over its user + system CPU time, which a machine shared with other work disturbs less. Peak RSS: the kernel's high-water mark (wait4), with the executable's and libraries' shared pages; private: the peak of RssAnon, sampled every 10 ms. \"×\": Warden over fail2ban-regex (below 1 for memory: Warden uses less). The matched counts of both agree on every filter, or the run fails.");
    const text = out.join('\n');
    console.log(text);
    if (values.markdown !== undefined) writeFileSync(values.markdown, `${text}\n`);
    return failed === 0 ? 0 : 1;
  } finally {
    warden.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
