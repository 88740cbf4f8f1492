/**
 * @module test/conformance/fail2ban
 * fail2ban's own filter tests, run on Warden's filter engine: every sample log in
 * ../shared/fail2ban/fail2ban/tests/files/logs against the filter of the same name (from
 * ../shared/fail2ban/config/filter.d, and the zzz-* test filters from tests/config), read
 * in place. Each `# failJSON: {...}` line says whether the next log line must match, and
 * what it must yield (host, time, user, attempts, custom fields); `# filterOptions:` starts
 * runs of the following lines with other filter options (each option set a separate run),
 * `# fileOptions:` sets options for the whole file, `# addFILE:` adds another log.
 *
 * This follows fail2ban/tests/samplestestcase.py: the clock is fail2ban's test time
 * (2005-08-14 12:00 CEST) in fail2ban's test zone (CET with EU daylight saving, which is
 * Europe/Zurich for every year the logs use); every failregex is tried on every line
 * (checkAllRegex); host names are not resolved; a `logtype: journal` run gives each line
 * the test time instead of looking for a date, as the journal backend does. Times compare
 * exactly, after reading the expected local time in the test zone (fail2ban's mktime).
 *
 * `node --import tsx test/conformance/fail2ban.ts [--verbose] [FILTER...]`
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sharedSuite } from '../support/shared.js';
import { Filter, createFilter, type FailureEntry } from '../../src/jail/filter/filter.js';
import { readFilterDefinition } from '../../src/jail/filter/reader.js';
import { sameFailureId } from '../../src/jail/filter/failure-id.js';
import { timeZoneNamed } from '../../src/jail/filter/timezone.js';
import type { IniCache } from '../../src/jail/filter/ini.js';

/** fail2ban's TEST_NOW: Sun Aug 14 12:00:00 CEST 2005. */
export const TEST_NOW = 1124013600;
const TEST_NOW_STR = '2005-08-14T10:00:00';
const TEST_ZONE = 'Europe/Zurich';

/**
 * Annotated lines Warden does not run, by filter, with the reason. Every skip is listed
 * here and nowhere else.
 */
export const SKIPPED: ReadonlyMap<string, string> = new Map<string, string>([]);

/** The minimum share of annotated lines that must pass. */
export const REQUIRED_PASS_RATE = 0.98;

export interface Fail2banResult {
  passed: number;
  failed: number;
  skipped: number;
  /** One line per failed check. */
  failures: string[];
  /** Filters with no sample log (fail2ban's own test would fail them too). */
  withoutLog: string[];
  /** Failregexes no sample line exercised, as fail2ban's test reports them. */
  unusedRegexes: string[];
  skips: Array<[string, string]>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Opts = Record<string, string>;

/** The few Python expressions the logs use in "constraint" and "test.condition". */
function evalCondition(expr: string, name: string, opts: Readonly<Record<string, Json>>): boolean {
  const e = expr.trim();
  const m = /^(name|opts\.get\('([^']+)'\))\s*(==|!=)\s*'([^']*)'$/u.exec(e);
  if (m === null) throw new Error(`cannot evaluate test condition ${JSON.stringify(expr)}`);
  const left = m[1] === 'name' ? name : ((opts[m[2] as string] ?? null) as Json);
  return m[3] === '==' ? left === m[4] : left !== m[4];
}

/** Local time text (fail2ban's JSON "time") → Unix seconds in the test zone. */
function expectedTime(t: string): number {
  // Python's strptime("%Y-%m-%dT%H:%M:%S") also takes one-digit fields.
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?$/u.exec(t);
  if (m === null) throw new Error(`bad time ${t}`);
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  const micro = m[7] === undefined ? 0 : Number(m[7].padEnd(6, '0')) / 1e6;
  return timeZoneNamed(TEST_ZONE).toEpoch(wall) + micro;
}

/** Python equality of a failure value and a JSON value (sets and lists compare sorted). */
function sameValue(got: unknown, want: Json): boolean {
  if (got instanceof Set || Array.isArray(got)) {
    if (!Array.isArray(want)) return false;
    const a = [...(got as Iterable<unknown>)].map(String).sort();
    const b = want.map(String).sort();
    return a.length === b.length && a.every((v, i) => v === b[i]);
  }
  if (got === undefined || got === null) return want === null;
  return got === want;
}

function lines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const out = text.split('\n').map((l) => l.replace(/[\r\n]+$/u, ''));
  if (out[out.length - 1] === '') out.pop();
  return out;
}

interface Run {
  readonly fltName: string;
  readonly filter: Filter;
  readonly opts: Readonly<Record<string, Json>>;
  readonly used: Set<number>;
}

/**
 * Runs the sample log `name` (in `logsDir`) against filter `name` (in `filterDir`) as
 * fail2ban's samplestestcase does, adding to `result`. Warden's own filters are tested
 * with this too (test/jail/warden-filters.test.ts).
 */
export function runSampleLog(name: string, filterDir: string, logsDir: string, result: Fail2banResult, cache: IniCache = new Map(), verbose = false): void {
  runFilter(name, filterDir, logsDir, result, cache, verbose);
}

/** An empty result to add runs to. */
export function emptyResult(): Fail2banResult {
  return { passed: 0, failed: 0, skipped: 0, failures: [], withoutLog: [], unusedRegexes: [], skips: [] };
}

function runFilter(name: string, filterDir: string, logsDir: string, result: Fail2banResult, cache: IniCache, verbose: boolean): void {
  const filters = new Map<string, Run>();
  const readFilter = (fltName: string, opts: Readonly<Record<string, Json>>): Run => {
    const hit = filters.get(fltName);
    if (hit !== undefined) return hit;
    const fltOpts: Opts = {};
    for (const [k, v] of Object.entries(opts)) if (!k.startsWith('test.')) fltOpts[k] = String(v);
    const def = readFilterDefinition(filterDir, name, fltOpts, cache);
    const filter = createFilter(def, { checkAllRegex: true, timeZone: TEST_ZONE, now: () => TEST_NOW });
    const run: Run = { fltName, filter, opts, used: new Set() };
    filters.set(fltName, run);
    return run;
  };
  const files = [name];
  let commonOpts: Record<string, Json> = {};
  let runs: Run[] | null = null;
  for (let fi = 0; fi < files.length; fi++) {
    const file = files[fi] as string;
    const all = lines(join(logsDir, file));
    let ignoreBlock = false;
    for (let ln = 0; ln < all.length; ln++) {
      let line = all[ln] as string;
      let faildata: Record<string, Json> = {};
      let annotated = false;
      const jm = /^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$/u.exec(line);
      if (jm !== null) {
        const data = JSON.parse(jm[2] as string) as Json;
        if (jm[1] === 'fileOptions') {
          commonOpts = data as Record<string, Json>;
          continue;
        }
        if (jm[1] === 'filterOptions') {
          runs = [];
          ignoreBlock = false;
          for (const fd of Array.isArray(data) ? data : [data]) {
            const opts = { ...commonOpts, ...(fd as Record<string, Json>) };
            const cond = opts['test.condition'];
            if (typeof cond === 'string' && cond !== '') ignoreBlock = !evalCondition(cond, name, opts);
            if (!ignoreBlock) {
              const fltOpts = Object.fromEntries(Object.entries(opts).filter(([k]) => !k.startsWith('test.')));
              let fltName = typeof opts['test.filter-name'] === 'string' ? (opts['test.filter-name'] as string) : '';
              if (fltName === '') fltName = Object.keys(fltOpts).length > 0 ? JSON.stringify(fltOpts) : '';
              runs.push(readFilter(name + fltName, fltOpts));
            }
          }
          continue;
        }
        if (jm[1] === 'addFILE') {
          files.push(data as string);
          continue;
        }
        faildata = data as Record<string, Json>;
        annotated = true;
        ln++;
        line = all[ln] ?? '';
      } else if (ignoreBlock || line.startsWith('#') || line.trim() === '') {
        continue;
      }
      if (ignoreBlock) continue;
      if (runs === null) runs = [readFilter(name, {})];
      for (const run of runs) {
        if (typeof faildata.constraint === 'string' && !evalCondition(faildata.constraint, name, run.opts)) continue;
        const where = `${run.fltName}: ${file}:${ln + 1}`;
        const skipReason = SKIPPED.get(name);
        if (skipReason !== undefined) {
          if (annotated) {
            result.skipped++;
            result.skips.push([where, skipReason]);
          }
          continue;
        }
        let problem: string | null;
        try {
          let found: FailureEntry[];
          if (run.opts.logtype !== 'journal') found = run.filter.processLine(line);
          else {
            const prefix = run.opts['test.prefix-line'];
            if (typeof prefix === 'string' && prefix !== '') line = prefix + line;
            found = run.filter.processLine(['', TEST_NOW_STR, line], TEST_NOW);
          }
          problem = check(found, faildata, run);
        } catch (err) {
          problem = `error: ${(err as Error).message}`;
        }
        if (problem === null) {
          if (annotated) result.passed++;
        } else {
          if (annotated) result.failed++;
          result.failures.push(`${where}: ${problem}${verbose ? `\n    line: ${line}\n    expected: ${JSON.stringify(faildata)}` : ''}${annotated ? '' : ' (line without failJSON)'}`);
        }
      }
    }
  }
  // As fail2ban's test: a failregex is exercised when some run used it (by index in its
  // own run, or the same regex text in another run of this filter).
  const usedText = new Set<string>();
  for (const run of filters.values()) for (const i of run.used) usedText.add(run.filter.failRegexes[i]?.source ?? '');
  for (const run of filters.values()) {
    run.filter.failRegexes.forEach((r, i) => {
      if (!run.used.has(i) && !usedText.has(r.source)) result.unusedRegexes.push(`${run.fltName}: failregex ${i}: ${r.source}`);
    });
  }
}

/** fail2ban's checks of one line's result; null when it passes. */
function check(foundIn: FailureEntry[], faildata: Record<string, Json>, run: Run): string | null {
  const found: FailureEntry[] = [];
  for (const e of foundIn) {
    run.used.add(e.regexIndex);
    if (e.id === null || isTrue(e.data.nofail)) continue;
    found.push(e);
  }
  if (found.length === 0) return faildata.match === true ? 'line not matched when it should have been' : null;
  if (faildata.match !== true) return `line matched when it should not have been (failregex ${found[0]?.regexIndex})`;
  if (found.length !== 1) return `several failregexes matched: ${found.map((f) => f.regexIndex).join(', ')}`;
  const f = found[0] as FailureEntry;
  for (const [k, v] of Object.entries(faildata)) {
    if (k === 'time' || k === 'match' || k === 'desc' || k === 'constraint') continue;
    let got: unknown = f.data[k];
    if (got === undefined || got === null) {
      if (k === 'host') {
        if (f.id === null || typeof v !== 'string' || !sameFailureId(f.id, v)) return `host: got ${f.id?.text}, expected ${JSON.stringify(v)}`;
        continue;
      }
      if (k === 'attempts') got = (f.data.matches ?? []).length;
    }
    if (!sameValue(got, v)) return `${k}: got ${JSON.stringify(got instanceof Set ? [...got] : got)}, expected ${JSON.stringify(v)}`;
  }
  const t = faildata.time;
  if (typeof t === 'string') {
    const want = expectedTime(t);
    if (f.time !== want) return `time: got ${f.time === null ? 'none' : new Date(f.time * 1000).toISOString()}, expected ${new Date(want * 1000).toISOString()} (${t} local)`;
  }
  return null;
}

function isTrue(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false && v !== '' && v !== 0;
}

/** Runs the suite; null when ../shared/fail2ban is absent outside CI. */
export function runFail2ban(options: { only?: readonly string[]; verbose?: boolean } = {}): Fail2banResult | null {
  const root = sharedSuite('fail2ban');
  if (root === null) return null;
  const logsDir = join(root, 'fail2ban/tests/files/logs');
  const sets: Array<[string, string[]]> = [
    [join(root, 'config/filter.d'), readdirSync(join(root, 'config/filter.d')).filter((f) => f.endsWith('.conf') && !f.endsWith('common.conf'))],
    [join(root, 'fail2ban/tests/config/filter.d'), readdirSync(join(root, 'fail2ban/tests/config/filter.d')).filter((f) => f.startsWith('zzz-') && f.endsWith('.conf'))],
  ];
  const result = emptyResult();
  const cache: IniCache = new Map();
  // fail2ban's unittest runs its test methods sorted by name (testSampleRegexs + NAME).
  const all = sets.flatMap(([dir, files]) => files.map((f) => [dir, f.slice(0, -'.conf'.length)] as const));
  all.sort((a, b) => (a[1].toUpperCase() < b[1].toUpperCase() ? -1 : a[1].toUpperCase() > b[1].toUpperCase() ? 1 : 0));
  for (const [dir, name] of all) {
    if (options.only !== undefined && options.only.length > 0 && !options.only.includes(name)) continue;
    if (!existsSync(join(logsDir, name))) {
      result.withoutLog.push(name);
      continue;
    }
    try {
      runFilter(name, dir, logsDir, result, cache, options.verbose === true);
    } catch (err) {
      result.failed++;
      result.failures.push(`${name}: cannot run: ${(err as Error).message}`);
    }
  }
  return result;
}

/** The count line. */
export function summaryLine(r: Fail2banResult): string {
  return `fail2ban: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`;
}

/** Whether enough passed. */
export function fail2banOk(r: Fail2banResult): boolean {
  const ran = r.passed + r.failed;
  return ran > 0 && r.passed / (ran + r.skipped) >= REQUIRED_PASS_RATE;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const verbose = args.includes('--verbose');
  const r = runFail2ban({ only: args.filter((a) => !a.startsWith('--')), verbose });
  if (r === null) {
    console.log('fail2ban: suite absent, skipped (not in CI)');
  } else {
    for (const f of r.failures) console.log(`  FAIL ${f}`);
    for (const [what, why] of r.skips) console.log(`  skipped ${what}: ${why}`);
    if (verbose) for (const u of r.unusedRegexes) console.log(`  no sample for ${u}`);
    if (r.withoutLog.length > 0) console.log(`  filters without a sample log (not counted): ${r.withoutLog.join(', ')}`);
    console.log(summaryLine(r));
    if (!fail2banOk(r)) {
      console.log(`fail2ban: below the required ${REQUIRED_PASS_RATE * 100}% pass rate`);
      process.exitCode = 1;
    }
  }
}
