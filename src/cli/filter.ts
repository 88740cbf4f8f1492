/**
 * @module cli/filter
 * `warden filter test FILTER LOG`: Warden's fail2ban-regex. Runs a filter (a name looked up
 * in Warden's filters/ then fail2ban's filter.d, a name with options such as
 * `sshd[mode=aggressive]`, or a path) over a log file and reports matched, missed and
 * ignored lines the way fail2ban-regex counts them (every failregex tried on every line;
 * a line is ignored when an ignoreregex or a <F-NOFAIL> match took it; lines starting
 * with "#" are not counted; lines a multi-line match consumed count as matched).
 */
import { parseArgs } from 'node:util';
import type { Io } from './main.js';
import { FilterError } from '../jail/filter/errors.js';
import { loadFilter, type Filter, type FailureEntry } from '../jail/filter/filter.js';
import { logLineBatches, type LogEncoding } from '../jail/filter/logfile.js';
import type { TupleLine } from '../jail/filter/failregex.js';

const USAGE = `usage:
  warden filter test [options] FILTER LOG
      FILTER  a filter name (Warden's filters/, then fail2ban's filter.d), with options
              as a jail gives them (sshd[mode=aggressive]), or a path to a .conf file
      LOG     a log file
  options:
      --print-matched        print each matched line with the address and time found
      --print-missed         print each missed line
      --print-ignored        print each ignored line
      --json                 counts and lines as JSON
      --fail2ban-dir DIR     fail2ban's filter.d (default $WARDEN_FAIL2BAN_FILTER_DIR or /etc/fail2ban/filter.d)
      --encoding ENC         utf-8 (default) or latin1
      --timezone TZ          zone of dates without one (IANA name; default: local)
      --logtimezone TZ       fail2ban's logtimezone (UTC, UTC+0200, CET …)
      --datepattern PATTERN  override the filter's datepattern
      --maxlines N           override the filter's maxlines`;

/** What a run counted, as fail2ban-regex counts it. */
export interface FilterTestReport {
  filter: string;
  files: string[];
  log: string;
  lines: number;
  matched: number;
  missed: number;
  ignored: number;
  matchedLines: Array<{ line: string; id: string | null; time: number | null; user: string | undefined }>;
  missedLines: string[];
  ignoredLines: string[];
  failregex: Array<{ regex: string; hits: number }>;
  ignoreregex: Array<{ regex: string; hits: number }>;
  prefregex: { regex: string; matched: number } | null;
  dateTemplates: Array<{ name: string; hits: number }>;
}

/** The lines a one-line filter had buffered before a line: none (not one array per line). */
const NOTHING_BUFFERED: readonly TupleLine[] = [];

function sameTuple(a: TupleLine, b: TupleLine): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

/** Which lines {@link runFilterTest} keeps in its report (all by default). */
export interface FilterTestOptions {
  readonly keepMatched?: boolean;
  readonly keepMissed?: boolean;
  readonly keepIgnored?: boolean;
}

/**
 * Runs `filter` over the lines of a log, given in batches (as logLineBatches reads them: a
 * loop over arrays costs nothing per line, where a generator of lines makes a result
 * object for each), and counts as fail2ban-regex does. Lines not asked for are counted,
 * not kept (a log of a million lines would otherwise stay in memory).
 */
export function runFilterTest(filter: Filter, batches: Iterable<readonly string[]>, log: string, options: FilterTestOptions = {}): FilterTestReport {
  const r: FilterTestReport = {
    filter: filter.name,
    files: [...filter.definition.files],
    log,
    lines: 0,
    matched: 0,
    missed: 0,
    ignored: 0,
    matchedLines: [],
    missedLines: [],
    ignoredLines: [],
    failregex: [],
    ignoreregex: [],
    prefregex: null,
    dateTemplates: [],
  };
  const keepMatched = options.keepMatched ?? true;
  const keepMissed = options.keepMissed ?? true;
  const keepIgnored = options.keepIgnored ?? true;
  const multi = filter.maxLines > 1;
  const ignoreHits = filter.stats.ignoreregexHits;
  const sum = (a: readonly number[]): number => {
    let n = 0;
    for (let i = 0; i < a.length; i++) n += a[i] as number;
    return n;
  };
  const step = (line: string): void => {
    if (line === '' || line.charCodeAt(0) === 35 /* # */) return;
    const before = multi ? [...filter.bufferedLines] : NOTHING_BUFFERED;
    const fullBuffer = before.length >= filter.maxLines;
    const ignoredBefore = ignoreHits.length === 0 ? 0 : sum(ignoreHits);
    const found: FailureEntry[] = filter.processLine(line);
    // An ignoreregex that matched makes the line ignored, as fail2ban-regex's callback does.
    const lineIgnored = ignoreHits.length !== 0 && sum(ignoreHits) !== ignoredBefore;
    let isIgnored = false;
    let first: FailureEntry | undefined;
    for (const f of found) {
      if (f.data.nofail === undefined || f.data.nofail === null || f.data.nofail === '') first ??= f;
      else isIgnored = true;
    }
    if (multi) {
      // Buffered lines a match (or ignoreregex) consumed now count as matched.
      const now = filter.bufferedLines;
      for (const b of before.slice(fullBuffer ? 1 : 0)) {
        if (now.some((n) => sameTuple(n, b))) continue;
        const text = b[0] + b[1] + b[2];
        if (keepMissed) {
          const at = r.missedLines.indexOf(text);
          if (at >= 0) r.missedLines.splice(at, 1);
        }
        if (keepMatched) r.matchedLines.push({ line: text, id: null, time: null, user: undefined });
        r.matched++;
        r.missed--;
      }
    }
    if (isIgnored || lineIgnored) {
      r.ignored++;
      if (keepIgnored) r.ignoredLines.push(line);
    } else if (first !== undefined) {
      r.matched++;
      if (keepMatched) r.matchedLines.push({ line, id: first.id?.text ?? null, time: first.time, user: typeof first.data.user === 'string' ? first.data.user : undefined });
    } else {
      r.missed++;
      if (keepMissed) r.missedLines.push(line);
    }
    r.lines++;
  };
  for (const batch of batches) for (let i = 0; i < batch.length; i++) step(batch[i] as string);
  r.failregex = filter.failRegexes.map((x, i) => ({ regex: x.source, hits: filter.stats.failregexHits[i] ?? 0 }));
  r.ignoreregex = filter.ignoreRegexes.map((x, i) => ({ regex: x.source, hits: filter.stats.ignoreregexHits[i] ?? 0 }));
  r.prefregex = filter.prefRegex === undefined ? null : { regex: filter.prefRegex.source, matched: filter.stats.prefregexMatched };
  r.dateTemplates = filter.dateDetector?.templateStats() ?? [];
  return r;
}

function when(t: number | null): string {
  return t === null ? 'no date' : new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

function print(r: FilterTestReport, io: Io, flags: { matched: boolean; missed: boolean; ignored: boolean }): void {
  io.out(`Filter: ${r.filter} (${r.files.join(', ')})`);
  io.out(`Log:    ${r.log}`);
  if (r.prefregex !== null) {
    io.out('');
    io.out(`Prefregex: ${r.prefregex.matched} total`);
    io.out(`  ${r.prefregex.regex}`);
  }
  const list = (title: string, rs: Array<{ regex: string; hits: number }>): void => {
    io.out('');
    io.out(`${title}: ${rs.reduce((a, b) => a + b.hits, 0)} total`);
    rs.forEach((x, i) => {
      if (x.hits > 0) io.out(`  ${String(i + 1).padStart(2)}) [${x.hits}] ${x.regex}`);
    });
  };
  list('Failregex', r.failregex);
  list('Ignoreregex', r.ignoreregex);
  const used = r.dateTemplates.filter((t) => t.hits > 0);
  if (used.length > 0) {
    io.out('');
    io.out('Date template hits:');
    for (const t of used) io.out(`  [${t.hits}] ${t.name}`);
  }
  io.out('');
  io.out(`Lines: ${r.lines} lines, ${r.ignored} ignored, ${r.matched} matched, ${r.missed} missed`);
  if (flags.matched && r.matchedLines.length > 0) {
    io.out('');
    io.out('Matched lines:');
    for (const m of r.matchedLines) {
      io.out(`  ${m.line}`);
      if (m.id !== null) io.out(`    → ${m.id} at ${when(m.time)}${m.user !== undefined ? ` (user ${m.user})` : ''}`);
    }
  }
  if (flags.ignored && r.ignoredLines.length > 0) {
    io.out('');
    io.out('Ignored lines:');
    for (const l of r.ignoredLines) io.out(`  ${l}`);
  }
  if (flags.missed && r.missedLines.length > 0) {
    io.out('');
    io.out('Missed lines:');
    for (const l of r.missedLines) io.out(`  ${l}`);
  }
}

/** `warden filter …`; resolves with the exit code. */
export async function filterCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'test') {
    io.err(sub === undefined || sub === '--help' || sub === '-h' ? USAGE : `unknown filter command "${sub}"\n${USAGE}`);
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        'print-matched': { type: 'boolean', default: false },
        'print-missed': { type: 'boolean', default: false },
        'print-ignored': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'fail2ban-dir': { type: 'string' },
        encoding: { type: 'string', default: 'utf-8' },
        timezone: { type: 'string' },
        logtimezone: { type: 'string' },
        datepattern: { type: 'string' },
        maxlines: { type: 'string' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 2) {
    io.err(USAGE);
    return 2;
  }
  const [spec, log] = positionals as [string, string];
  const encoding = values.encoding === 'latin1' || values.encoding === 'iso-8859-1' ? 'latin1' : values.encoding === 'utf-8' || values.encoding === 'utf8' ? 'utf-8' : null;
  if (encoding === null) {
    io.err(`unsupported encoding ${JSON.stringify(values.encoding)} (utf-8 or latin1)`);
    return 2;
  }
  let filter: Filter;
  try {
    filter = loadFilter(spec, {
      fail2banFilterDir: values['fail2ban-dir'],
      timeZone: values.timezone,
      logTimeZone: values.logtimezone,
      datePattern: values.datepattern,
      maxLines: values.maxlines === undefined ? undefined : Number(values.maxlines),
      checkAllRegex: true,
      ignorePending: false,
    });
  } catch (err) {
    if (err instanceof FilterError) {
      io.err(`filter ${spec}: ${err.message}`);
      return 1;
    }
    throw err;
  }
  let report: FilterTestReport;
  let partial: string | undefined;
  try {
    // Like fail2ban-regex, a last line without a newline is a line still being written.
    const batches = logLineBatches(log, { encoding: encoding as LogEncoding, partialLastLine: 'wait', onPartial: (l) => (partial = l) });
    // Lines are kept only to be printed: fail2ban-regex keeps none it does not print either.
    const json = values.json === true;
    report = runFilterTest(filter, batches, log, {
      keepMatched: json || values['print-matched'] === true,
      keepMissed: json || values['print-missed'] === true,
      keepIgnored: json || values['print-ignored'] === true,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EISDIR' || e.code === 'EACCES') {
      io.err(`log ${log}: ${e.message}`);
      return 1;
    }
    throw err;
  }
  if (values.json) {
    io.out(JSON.stringify({ ...report, partialLastLine: partial ?? null }, null, 2));
    return 0;
  }
  if (partial !== undefined) io.err(`note: the last line of ${log} has no newline and was not read (as fail2ban-regex does): ${partial.slice(0, 80)}`);
  print(report, io, { matched: values['print-matched'] === true, missed: values['print-missed'] === true, ignored: values['print-ignored'] === true });
  return 0;
}
