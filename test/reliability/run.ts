/**
 * `npm run test:reliability`: the long reliability campaigns, on demand (npm test runs the
 * short ones, test/reliability/*.test.ts).
 *
 *   --fuzz [TARGET[:N],…]  fuzz campaigns (default all: seclang, urlencoded, multipart,
 *                       json, xml, cookies, http, filter-files, log-lines); TARGET:N runs
 *                       N inputs for that target instead of --count
 *   --hostile           hostile clients against `warden start`
 *   --faults            kill -9, upstream flapping, unwritable log, broken reload
 *   --soak              steady mixed traffic with a reload every minute
 *   --report            print the table of the last figures (and write RESULTS.md)
 *
 *   --count N           fuzz inputs per target (default 1,000,000)
 *   --seed N            fuzz seed (default: the time)
 *   --jobs N            in-process fuzz targets run at once (default 2)
 *   --concurrency N     HTTP fuzz connections at once (default 16)
 *   --kills N           kill -9 rounds per process kind (default 20)
 *   --minutes N         soak duration (default 30)
 *   --http-minutes N    stop the HTTP campaign after N minutes, whatever its count
 *
 * With no part named, every part runs, then the report. Figures are saved in
 * test/reliability/results/; an escaping input is saved in test/reliability/fixtures/.
 * The exit code is 1 when any part found an escape or a failed case.
 */
import { fixturesDir, saveFaults, saveFuzz, saveHostile, saveSoak, writeReport } from './results.js';
import { runSoak } from './soak.js';
import { runFaults } from './faults.js';
import { runHostile } from './hostile.js';
import { fuzzTargets } from './fuzz/runner.js';
import { targets } from './fuzz/targets.js';
import { fuzzHttp } from './fuzz/http.js';

interface Args {
  readonly parts: Set<string>;
  readonly fuzzOnly: string[] | null;
  readonly count: number;
  readonly seed: number;
  readonly jobs: number;
  readonly concurrency: number;
  readonly kills: number;
  readonly minutes: number;
  readonly httpMinutes: number;
}

function parseArgs(argv: readonly string[]): Args {
  const parts = new Set<string>();
  let fuzzOnly: string[] | null = null;
  const nums: Record<string, number> = { count: 1_000_000, seed: Date.now() % 1_000_000_000, jobs: 2, concurrency: 16, kills: 20, minutes: 30, 'http-minutes': 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const name = a.replace(/^--/, '');
    if (['fuzz', 'hostile', 'faults', 'soak', 'report'].includes(name) && a.startsWith('--')) {
      parts.add(name);
      if (name === 'fuzz' && argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--')) fuzzOnly = (argv[++i] as string).split(',');
    } else if (a.startsWith('--') && name in nums) {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number, got ${JSON.stringify(argv[i])}`);
      nums[name] = v;
    } else {
      throw new Error(`unknown argument ${JSON.stringify(a)}; see the header of test/reliability/run.ts`);
    }
  }
  if (parts.size === 0) for (const p of ['fuzz', 'hostile', 'faults', 'soak', 'report']) parts.add(p);
  return { parts, fuzzOnly, count: nums.count as number, seed: nums.seed as number, jobs: nums.jobs as number, concurrency: nums.concurrency as number, kills: nums.kills as number, minutes: nums.minutes as number, httpMinutes: nums['http-minutes'] as number };
}

const log = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

async function runFuzz(args: Args): Promise<boolean> {
  const known = [...targets.map((t) => t.name), 'http'];
  const counts = new Map<string, number>();
  for (const w of args.fuzzOnly ?? known) {
    const [name, n] = w.split(':') as [string, string | undefined];
    if (!known.includes(name)) throw new Error(`unknown fuzz target ${name}; targets: ${known.join(', ')}`);
    const count = n === undefined ? args.count : Number(n);
    if (!Number.isInteger(count) || count < 0) throw new Error(`--fuzz ${w}: the count must be a whole number`);
    counts.set(name, count);
  }
  let ok = true;
  const inProcess = targets.filter((t) => counts.has(t.name));
  if (inProcess.length > 0) {
    const options = (t: { name: string }) => ({ count: counts.get(t.name) as number, seed: args.seed, slowMs: 1000, hangMs: 20_000, fixturesDir, save: true, log });
    // Each target's figures are saved as it finishes, so a campaign stopped early keeps them.
    await fuzzTargets(inProcess, args.jobs, options, (r) => {
      saveFuzz([{ ...r, examples: r.examples.map((e) => ({ kind: e.kind, message: e.message.split('\n')[0] ?? '', saved: e.saved })), at: new Date().toISOString() }]);
      ok &&= r.escapeTotal === 0;
    });
  }
  const httpCount = counts.get('http');
  if (httpCount !== undefined) {
    log(`fuzz http: ${httpCount.toLocaleString('en-US')} inputs, seed ${args.seed}, ${args.concurrency} connections at once`);
    const r = await fuzzHttp({ count: httpCount, seed: args.seed, concurrency: args.concurrency, hangMs: 30_000, fixturesDir, save: true, log, ...(args.httpMinutes > 0 ? { maxSeconds: args.httpMinutes * 60 } : {}) });
    log(`fuzz http: ${r.inputs.toLocaleString('en-US')} inputs + ${r.fixtures} fixtures in ${r.seconds.toFixed(1)} s, ${r.escapeTotal} escapes; answers ${JSON.stringify(r.answers)}; ${r.forwarded} reached the upstream`);
    saveFuzz([{ ...r, guarded: 0, heapMb: null, examples: r.examples.map((e) => ({ kind: e.kind, message: e.message, saved: e.saved })), at: new Date().toISOString() }]);
    ok &&= r.escapeTotal === 0;
  }
  return ok;
}

const args = parseArgs(process.argv.slice(2));
let ok = true;
if (args.parts.has('fuzz')) ok = (await runFuzz(args)) && ok;
if (args.parts.has('hostile')) {
  const cases = await runHostile(null, log);
  saveHostile({ cases, at: new Date().toISOString() });
  log(`hostile: ${cases.filter((c) => c.ok).length}/${cases.length} cases answered as specified`);
  ok = cases.every((c) => c.ok) && ok;
}
if (args.parts.has('faults')) {
  const f = await runFaults({ rounds: args.kills, log });
  saveFaults(f);
  for (const c of f.cases) log(`faults: ${c.ok ? 'ok' : 'FAILED'} ${c.name}: ${c.detail}`);
  ok = f.cases.every((c) => c.ok) && ok;
}
if (args.parts.has('soak')) {
  log(`soak: ${args.minutes} min with CRS, a reload every minute`);
  const s = await runSoak({ minutes: args.minutes, reloadEveryS: 60, sampleEveryS: 10, concurrency: 8, log });
  saveSoak(s);
  log(`soak: ${s.requests} requests, ${s.unexpected} unexpected, RSS ${s.rssWarmMb.toFixed(0)} → ${s.rssEndMb.toFixed(0)} MB (${s.rssGrowthPct.toFixed(1)} %), fds ${s.fdWarm} → ${s.fdEnd}, ${s.reloads} reloads (${s.reloadsFailed} failed)`);
  ok = s.unexpected === 0 && s.reloadsFailed === 0 && s.rssGrowthPct <= 10 && s.fdEnd <= s.fdWarm + 5 && ok;
}
if (args.parts.has('report')) console.log(writeReport());
process.exitCode = ok ? 0 : 1;
