/**
 * @module jail/filter/filter
 * A loaded filter: fail2ban's Filter.processLine/findFailure (server/filter.py) on
 * Warden's compiled regexes. Per line: find the date and cut it out of the line, keep the
 * last `maxlines` lines, match `prefregex` (its `<F-CONTENT>` replaces the text the
 * failregexes see), try each `failregex` in order, drop what an `ignoreregex` matches, and
 * join lines of one connection by `<F-MLFID>` (with `<F-NOFAIL>`, `<F-MLFFORGET>`,
 * `<F-MLFGAINED>` as fail2ban defines them). Host names are never resolved here: a
 * failure carries the name, and the jail decides (fail2ban's usedns).
 *
 * @example
 * const sshd = loadFilter('sshd', { options: { mode: 'aggressive' } });
 * const f = sshd.match('Aug 14 11:59:58 srv sshd[42]: Failed password for root from 192.0.2.7 port 22 ssh2');
 * f?.id;   // '192.0.2.7'
 * f?.user; // 'root'
 */
import { dirname, resolve, basename, extname, isAbsolute } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FilterError, type SourceLocation } from './errors.js';
import { DateDetector, type DateTemplate } from './date.js';
import { flat, type PyMatch } from './pyregex.js';
import { FailRegex, FilterRegex, tupleLinesBuf, FAILURE_ID_GROUPS, type RegexHit, type TupleLine, type UseDns } from './failregex.js';
import { failureId, type FailureId, type IdReading } from './failure-id.js';
import type { IniCache } from './ini.js';
import { readFilterDefinition, splitFilterSpec, type FilterDefinition } from './reader.js';
import { zoneOffset } from './strptime.js';
import { localTimeZone, timeZoneNamed } from './timezone.js';

/** fail2ban's failure data for one match: named groups plus bookkeeping. */
export type FailData = Record<string, unknown> & {
  matches?: TupleLine[];
  users?: Set<string>;
  nofail?: unknown;
};

/** One result of {@link Filter.processLine}: fail2ban's [failRegexIndex, fid, date, fail]. */
export interface FailureEntry {
  readonly regexIndex: number;
  /** The failure id; null while a multi-line failure waits for its address. */
  readonly id: FailureId | null;
  /** Unix time of the line (null when the line had no date and none could be assumed). */
  readonly time: number | null;
  readonly data: FailData;
}

/** A failure found in the log: what a jail counts and bans. */
export interface FilterMatch {
  /** What the jail counts failures by: an address ("192.0.2.1"), a subnet, a host name, or an F-ID value. */
  readonly id: string;
  /** The address or host name the line named (ip4/ip6/dns groups), normalised for addresses. */
  readonly host: string | undefined;
  /** True when `id` is an IP address or subnet (not a host name or other identifier). */
  readonly isAddress: boolean;
  /** Unix time in seconds, from the line's date (null: no date found, checkFindTime off). */
  readonly time: number | null;
  /** `<F-USER>` (or alt_user) of this failure. */
  readonly user: string | undefined;
  /** Every user seen for a multi-line failure id (`<F-MLFID>`). */
  readonly users: readonly string[] | undefined;
  /** Index of the failregex that matched. */
  readonly regexIndex: number;
  /** Every named group (`<F-…>` fields, lower case), as text. */
  readonly groups: Readonly<Record<string, string | undefined>>;
  /** The log lines of this failure (several for multi-line filters). */
  readonly lines: readonly string[];
}

/** Options for {@link loadFilter} and {@link createFilter}. */
export interface FilterOptions {
  /** The jail's options for the filter, as `filter = sshd[mode=aggressive]` gives them. */
  readonly options?: Readonly<Record<string, string>>;
  /**
   * Folders searched for a filter name, in order. Default: Warden's `filters/`, then
   * `fail2banFilterDir`.
   */
  readonly searchPath?: readonly string[];
  /** fail2ban's filter.d (default: $WARDEN_FAIL2BAN_FILTER_DIR, else /etc/fail2ban/filter.d). */
  readonly fail2banFilterDir?: string;
  /** Overrides the filter's maxlines. */
  readonly maxLines?: number;
  /** Overrides the filter's datepattern. */
  readonly datePattern?: string;
  /** fail2ban's usedns: with "no", `<HOST>` matches addresses only. Default: the filter's, else "warn". */
  readonly useDns?: UseDns;
  /** Zone of log dates without a zone: an IANA name, or "local" (default: the process's). */
  readonly timeZone?: string;
  /** fail2ban's logtimezone: a fixed zone for dates without one ("UTC", "UTC+0200", "CET"). */
  readonly logTimeZone?: string;
  /** The clock (Unix seconds); tests set it. */
  readonly now?: () => number;
  /**
   * fail2ban-regex's mode: try every failregex on every line (and return each match),
   * instead of stopping at the first.
   */
  readonly checkAllRegex?: boolean;
  /**
   * With false, a multi-line failure still waiting for its address is returned (id null)
   * by processLine. Default true, as in fail2ban's server.
   */
  readonly ignorePending?: boolean;
  /** fail2ban's checkFindTime: drop a match whose line has no date (default false). */
  readonly requireDate?: boolean;
  /** Files already parsed, shared between loads. */
  readonly cache?: IniCache;
  /** Called when an ignoreregex matches (index of the ignoreregex). */
  readonly onIgnore?: (index: number) => void;
}

/** Warden's own filters folder (filters/ at the package root). */
export const wardenFilterDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../filters');

/** The default fail2ban filter.d folder. */
export function defaultFail2banFilterDir(): string {
  return process.env.WARDEN_FAIL2BAN_FILTER_DIR ?? '/etc/fail2ban/filter.d';
}

/** Time-to-live and size of the multi-line failure cache, as fail2ban's (5 minutes, 100 ids). */
const MLFID_TTL_MS = 5 * 60 * 1000;
const MLFID_MAX = 100;

/** fail2ban's Utils.Cache: insertion-ordered, entries expire, oldest dropped when full. */
class TtlCache<V> {
  private readonly map = new Map<string, { v: V; until: number }>();
  constructor(
    private readonly max: number,
    private readonly ttl: number,
    private readonly clock: () => number = Date.now,
  ) {}
  get size(): number {
    return this.map.size;
  }
  get(k: string): V | undefined {
    const e = this.map.get(k);
    if (e === undefined) return undefined;
    if (e.until > this.clock()) return e.v;
    this.map.delete(k);
    return undefined;
  }
  set(k: string, v: V): void {
    const t = this.clock();
    if (this.map.size >= this.max) {
      for (const [ck, cv] of this.map) {
        this.map.delete(ck);
        if (cv.until > t && this.map.size < this.max) break;
      }
    }
    const e = this.map.get(k);
    if (e !== undefined) {
      e.v = v;
      e.until = t + this.ttl;
    } else this.map.set(k, { v, until: t + this.ttl });
  }
  delete(k: string): void {
    this.map.delete(k);
  }
  clear(): void {
    this.map.clear();
  }
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Set) return v.size > 0;
  return true;
}

function pop(d: Record<string, unknown>, k: string): unknown {
  const v = d[k];
  delete d[k];
  return v;
}

function lineText(l: TupleLine): string {
  return l[0] + l[1] + l[2];
}

/** Counters a fail2ban-regex-like report needs. */
export interface FilterStats {
  /** Lines the prefregex matched. */
  prefregexMatched: number;
  /** Matches per failregex. */
  readonly failregexHits: number[];
  /** Matches per ignoreregex. */
  readonly ignoreregexHits: number[];
}

/** Characters a JavaScript `u` regex needs escaped to read them as themselves. */
const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/gu;

/** Lines over which the line gate's pass rate is judged (see Filter.gateSkipped). */
const GATE_SAMPLE = 2000;

/** The failregexes' literal gate (see Filter.lineGate). */
interface LiteralGate {
  /** The failregexes' required literals as one alternation. */
  readonly re: RegExp;
  /** The longest literal's length. */
  readonly longest: number;
  /** Each pair of neighbouring UTF-16 units in a literal, as `first * 0x10000 + second`. */
  readonly pairs: ReadonlySet<number>;
}

/** The failregexes' literal gate, when every failregex has a required literal. */
function literalGate(regexes: readonly FailRegex[]): LiteralGate | undefined {
  const literals: string[] = [];
  let longest = 0;
  const pairs = new Set<number>();
  for (const r of regexes) {
    const literal = r.re.prefilterInfo()?.literal;
    if (literal === undefined) return undefined;
    literals.push(literal.replace(REGEX_SYNTAX, '\\$&'));
    longest = Math.max(longest, literal.length);
    for (let i = 1; i < literal.length; i++) pairs.add(literal.charCodeAt(i - 1) * 0x10000 + literal.charCodeAt(i));
  }
  return literals.length === 0 ? undefined : { re: new RegExp(literals.join('|'), 'u'), longest, pairs };
}

/** See Filter.contentGate. */
interface ContentGate {
  /** The failregexes' heads, joined, to test a content with. */
  readonly re: RegExp;
  /** The prefregex's content group. */
  readonly group: number;
  /** The prefregex with the heads marked at its content's start, when it could be built. */
  readonly marked: { re: RegExp; js: readonly number[]; mark: number } | undefined;
}

/**
 * For a prefregex that hands its <F-CONTENT> to the failregexes: the content's group, and
 * the failregexes' heads as one pattern (each has one: else undefined), which any content
 * a failregex matches holds. A line whose content holds none is passed over whole.
 */
function contentGate(prefRegex: FilterRegex | undefined, regexes: readonly FailRegex[]): ContentGate | undefined {
  const group = prefRegex?.re.groupIndex.get('content');
  // A content that alt_ or tuple_ groups could stand in for is left to findFailure.
  if (prefRegex === undefined || group === undefined || prefRegex.re.namedGroups().some(([name]) => /^(?:alt|tuple)_content/iu.test(name))) return undefined;
  const heads: string[] = [];
  const rests: Array<string | undefined> = [];
  const ignoreCase = regexes[0]?.re.jsFlags.includes('i');
  let anchored = true;
  for (const r of regexes) {
    const info = r.re.prefilterInfo();
    if (info?.head === undefined || r.re.jsFlags.includes('i') !== ignoreCase) return undefined;
    heads.push(`(?:${info.head})`);
    rests.push(info.headRest);
    anchored &&= info.anchored;
  }
  if (heads.length === 0) return undefined;
  // Heads that all start with `^` can only match at the content's start: said once, outside.
  const source = anchored ? `^(?:${heads.join('|')})` : heads.join('|');
  // Better, in the prefregex's own search, where the content starts (see PyRegex.marked).
  let marked: ContentGate['marked'];
  if (anchored && rests.every((r) => r !== undefined) && prefRegex.re.jsFlags.includes('i') === ignoreCase) {
    marked = prefRegex.re.marked(group, `(?:${rests.join('|')})`);
  }
  return { re: new RegExp(source, ignoreCase ? 'ui' : 'u'), group, marked };
}

/** What processLine returns for a line nothing matched (never written to). */
const NO_FAILURES: FailureEntry[] = [];
Object.freeze(NO_FAILURES);

/**
 * A compiled filter with its per-log state (line buffer, last date, multi-line failures).
 * One Filter reads one log; load another for another log.
 *
 * @example
 * const apache = loadFilter('warden-apache-auth', { timeZone: 'Europe/Zurich' });
 * for (const failure of apache.matchLines(lines)) jail.count(failure.id, failure.time);
 */
export class Filter {
  readonly name: string;
  readonly definition: FilterDefinition;
  /** Lines kept for multi-line regexes. */
  readonly maxLines: number;
  readonly useDns: UseDns;
  /** journalmatch of the filter, as data (each a list of journalctl match terms). */
  readonly journalMatch: readonly (readonly string[])[];
  readonly prefRegex: FilterRegex | undefined;
  readonly failRegexes: readonly FailRegex[];
  readonly ignoreRegexes: readonly FilterRegex[];
  readonly dateDetector: DateDetector | null;
  readonly stats: FilterStats;
  private readonly checkAllRegex: boolean;
  private readonly ignorePending: boolean;
  private readonly requireDate: boolean;
  private readonly onIgnore: ((index: number) => void) | undefined;
  private readonly now: () => number;
  private lineBuffer: TupleLine[] = [];
  private lastTimeText = '';
  private lastDate: number | null = null;
  private readonly mlfidCache = new TtlCache<[number | null, FailData]>(MLFID_MAX, MLFID_TTL_MS);
  /**
   * One search for the literals the failregexes need (each has one: else undefined). A text
   * that holds none of them cannot match any failregex, which saves trying each in turn on
   * the many lines of a log that no failregex matches.
   */
  private readonly literalGate: RegExp | undefined;
  /**
   * The gate again, when a line it rejects can be passed over before its buffer is split
   * into tuples and its failregexes tried: one line at a time (no multi-line buffer), and
   * no ignoreregex run before the failregexes (their counters count every line). With a
   * prefregex, the passed-over line is still tried against it (no groups taken), so its
   * counter stays fail2ban's.
   */
  private readonly lineGate: LiteralGate | undefined;
  /**
   * With the line gate, for a line it lets through: the prefregex's content and the
   * failregexes' heads (see contentGate). Apache's error lines all hold "client " in
   * `[client …]`, which the literals alone cannot tell from apache-auth's `^client `.
   */
  private readonly contentGate: ContentGate | undefined;
  /**
   * The line gate's record over the first GATE_SAMPLE lines, after which a gate that let
   * nearly every line through is no longer tried before the content gate (it only added a
   * search): Apache's error log, where every line holds apache-auth's "client ".
   */
  private gateTests = 0;
  private gatePasses = 0;
  private gateSkipped = false;
  /**
   * The date of the last dated line, found but not read yet (a line the gate passed over):
   * read only when a later line needs the last date or has another date text, so the
   * lines of one second (most of a busy log) are not read one by one.
   */
  private pendingDate: { template: DateTemplate; match: PyMatch; text: string } | null = null;

  constructor(definition: FilterDefinition, options: FilterOptions = {}) {
    this.name = definition.name;
    this.definition = definition;
    const where = (text: { locationAt(o: number): SourceLocation | undefined } | undefined): SourceLocation | undefined => text?.locationAt(0);
    this.maxLines = options.maxLines ?? definition.maxlines ?? 1;
    if (!Number.isInteger(this.maxLines) || this.maxLines <= 0) {
      throw new FilterError('WARDEN_FILTER_OPTION', `maxlines must be an integer greater than zero, not ${this.maxLines}`);
    }
    const dns = (options.useDns ?? definition.usedns ?? 'warn').toLowerCase();
    if (dns !== 'yes' && dns !== 'warn' && dns !== 'no' && dns !== 'raw') {
      throw new FilterError('WARDEN_FILTER_OPTION', `usedns must be yes, warn, no or raw, not ${JSON.stringify(dns)}`);
    }
    this.useDns = dns;
    this.journalMatch = definition.journalmatch;
    this.checkAllRegex = options.checkAllRegex ?? false;
    this.ignorePending = options.ignorePending ?? true;
    this.requireDate = options.requireDate ?? false;
    this.onIgnore = options.onIgnore;
    this.now = options.now ?? (() => Date.now() / 1000);

    const pref = definition.prefregex;
    this.prefRegex = pref === undefined ? undefined : new FilterRegex(pref.text, { useDns: this.useDns, location: where(pref) });
    const multiline = this.maxLines > 1;
    this.failRegexes = definition.failregex.map(
      (r) => new FailRegex(r.text, { multiline, useDns: this.useDns, location: where(r), prefRegex: this.prefRegex }),
    );
    this.ignoreRegexes = definition.ignoreregex.map((r) => new FilterRegex(r.text, { useDns: this.useDns, location: where(r) }));
    const gate = literalGate(this.failRegexes);
    this.literalGate = gate?.re;
    const ignoreFirst = this.ignoreRegexes.length > 0 && this.ignoreRegexes.length < this.failRegexes.length - 2;
    this.lineGate = this.maxLines === 1 && !ignoreFirst ? gate : undefined;
    this.contentGate = this.lineGate === undefined ? undefined : contentGate(this.prefRegex, this.failRegexes);

    let defaultOffset: number | undefined;
    if (options.logTimeZone !== undefined) {
      defaultOffset = zoneOffset(options.logTimeZone);
      if (defaultOffset === undefined) throw new FilterError('WARDEN_FILTER_OPTION', `unknown or unsupported log time zone ${JSON.stringify(options.logTimeZone)}`);
    }
    const timeZone = options.timeZone === undefined ? localTimeZone : timeZoneNamed(options.timeZone);
    const datePattern = options.datePattern ?? definition.datepattern?.text;
    try {
      this.dateDetector = new DateDetector(datePattern, { now: this.now, timeZone, defaultOffset });
    } catch (err) {
      if (err instanceof FilterError && err.location === undefined) {
        throw new FilterError(err.code, err.message, options.datePattern === undefined ? where(definition.datepattern) : undefined);
      }
      throw err;
    }
    this.stats = {
      prefregexMatched: 0,
      failregexHits: this.failRegexes.map(() => 0),
      ignoreregexHits: this.ignoreRegexes.map(() => 0),
    };
  }

  /** Forgets the line buffer, the last date and pending multi-line failures. */
  reset(): void {
    this.lineBuffer = [];
    this.lastTimeText = '';
    this.lastDate = null;
    this.pendingDate = null;
    this.mlfidCache.clear();
  }

  /** The lines currently buffered (multi-line filters). */
  get bufferedLines(): readonly TupleLine[] {
    return this.lineBuffer;
  }

  /**
   * Feeds one log line (without its newline) and returns the failure it completes, or
   * null. The filter keeps state between calls: the last `maxlines` lines, the last date,
   * and multi-line failures by `<F-MLFID>`; feed the lines of one log in order.
   *
   * @example
   * const f = loadFilter('warden-nginx');
   * f.match('2026/11/25 18:00:00 [error] 7#7: *1 user "bob": password mismatch, client: 192.0.2.4, server: _');
   * // → { id: '192.0.2.4', host: '192.0.2.4', isAddress: true, user: 'bob', time: 1795629600, … }
   */
  match(line: string): FilterMatch | null {
    for (const e of this.processLine(line)) {
      if (e.id !== null && !truthy(e.data.nofail)) return this.toMatch(e);
    }
    return null;
  }

  /** Every failure in `lines`, in order (a streaming multi-line variant of match). */
  *matchLines(lines: Iterable<string>): Generator<FilterMatch> {
    for (const line of lines) {
      const m = this.match(line);
      if (m !== null) yield m;
    }
  }

  /** Every failure in an async stream of lines (for example readline over a growing log). */
  async *matchStream(lines: AsyncIterable<string>): AsyncGenerator<FilterMatch> {
    for await (const line of lines) {
      const m = this.match(line);
      if (m !== null) yield m;
    }
  }

  /** The public form of a processLine entry. */
  toMatch(e: FailureEntry): FilterMatch {
    const d = e.data;
    const groups: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(d)) {
      if (typeof v === 'string') groups[k] = v;
      else if (v === undefined || v === null) groups[k] = undefined;
    }
    const hostText = (d.ip4 ?? d.ip6 ?? d.dns) as string | undefined;
    let host: string | undefined;
    if (hostText !== undefined) host = failureId(hostText, d.ip4 !== undefined ? { family: 4 } : d.ip6 !== undefined ? { family: 6 } : 'raw').text;
    const id = e.id as FailureId;
    return {
      id: id.text,
      host,
      isAddress: id.address !== undefined,
      time: e.time,
      user: typeof d.user === 'string' ? d.user : undefined,
      users: d.users instanceof Set ? [...d.users].map(String) : undefined,
      regexIndex: e.regexIndex,
      groups,
      lines: (d.matches ?? []).map(lineText),
    };
  }

  /**
   * fail2ban's processLine: the date, then findFailure. Returns every entry fail2ban would
   * (with `nofail` ones, and pending ones when ignorePending is off). `time` (Unix seconds)
   * skips date detection, as journal entries come with their time; `line` may then be a
   * [prefix, date text, rest] tuple.
   */
  processLine(lineIn: string | TupleLine, time?: number): FailureEntry[] {
    let tupleLine: TupleLine;
    let date: number | null = null;
    let noDate = false;
    if (time !== undefined) {
      tupleLine = typeof lineIn === 'string' ? ['', '', lineIn] : lineIn;
      this.lastTimeText = tupleLine[1];
      this.lastDate = time;
      this.pendingDate = null;
      date = time;
    } else {
      const line = typeof lineIn === 'string' ? lineIn : lineText(lineIn);
      const tm = this.dateDetector?.matchTime(line) ?? null;
      if (this.lineGate !== undefined && this.passedOver(line, tm)) return NO_FAILURES;
      if (tm !== null) {
        const s = tm.match.start(1);
        const e = tm.match.end(1);
        const m = s < 0 ? '' : line.slice(s, e);
        tupleLine = s < 0 ? ['', '', line] : [line.slice(0, s), m, line.slice(e)];
        if (m !== '') {
          date = this.readDate(tm.template, tm.match);
          if (date !== null) this.noteDate(m, date);
        } else if (this.settleDate() !== null && (this.lastDate as number) > this.now() - 60) {
          // An optional date that is absent: the last one seen, if recent, else now.
          tupleLine = ['', this.lastTimeText, line];
          date = this.lastDate;
        } else {
          date = this.now();
        }
      } else {
        tupleLine = ['', '', line];
      }
      if (date === null) {
        noDate = true;
        if (this.settleDate() !== null && (this.lastDate as number) > this.now() - 60) {
          tupleLine = ['', this.lastTimeText, line];
          date = this.lastDate;
        }
      }
    }
    return this.findFailure(tupleLine, date, noDate);
  }

  /**
   * True when no failregex can match `line`, wherever its date is cut out: the gate finds
   * none of the failregexes' literals in the whole line, nor across the cut (where the
   * text before the date meets the text after it). Such a line only leaves its date
   * behind, to be read if a later line needs it. Every other line goes the whole way.
   */
  private passedOver(line: string, tm: { match: PyMatch; template: DateTemplate } | null): boolean {
    const gate = this.lineGate as LiteralGate;
    if (this.gateSkipped) return this.contentPassedOver(line, tm);
    const pass = gate.re.test(line);
    if (this.contentGate !== undefined && this.gateTests < GATE_SAMPLE) {
      if (pass) this.gatePasses++;
      if (++this.gateTests === GATE_SAMPLE && this.gatePasses >= GATE_SAMPLE * 0.95) this.gateSkipped = true;
    }
    if (pass) return this.contentGate !== undefined && this.contentPassedOver(line, tm);
    const s = tm === null ? -1 : tm.match.start(1);
    const e = tm === null ? -1 : tm.match.end(1);
    if (tm === null || s < 0 || e <= s) {
      // No date to cut out: the buffer is the line.
      if (this.prefRegex !== undefined && this.prefRegex.re.test(line)) this.stats.prefregexMatched++;
      return true;
    }
    // A literal found only across the cut has its two units there as neighbours.
    const k = gate.longest - 1;
    if (k > 0 && gate.pairs.has(line.charCodeAt(s - 1) * 0x10000 + line.charCodeAt(e)) && gate.re.test(line.slice(Math.max(0, s - k), s) + line.slice(e, e + k))) return false;
    const text = line.slice(s, e);
    if (this.prefRegex !== undefined) {
      // The prefregex sees the line without its date only when the date reads as one (as
      // in processLine): so the date is read here, not left pending.
      const date = this.readDate(tm.template, tm.match);
      if (date !== null) this.noteDate(text, date);
      if (this.prefRegex.re.test(date === null ? line : line.slice(0, s) + line.slice(e))) this.stats.prefregexMatched++;
      return true;
    }
    const before = this.pendingDate;
    // A date read as no date (a 31st of June) leaves the one before it as the last date:
    // so the one before is read now, unless it is the same text (read the same way).
    if (before !== null && (before.text !== text || before.template !== tm.template)) this.settleDate();
    this.pendingDate = { template: tm.template, match: tm.match, text };
    return true;
  }

  /**
   * True when the content the prefregex finds in a dated line holds none of the
   * failregexes' heads (the prefregex counted, the date read as processLine reads it);
   * false when the line must go the whole way: no date, or one that reads as none, no
   * content, or a head found.
   */
  private contentPassedOver(line: string, tm: { match: PyMatch; template: DateTemplate } | null): boolean {
    const s = tm === null ? -1 : tm.match.start(1);
    const e = tm === null ? -1 : tm.match.end(1);
    if (tm === null || s < 0 || e <= s) return false;
    const date = this.readDate(tm.template, tm.match);
    if (date === null) return false;
    this.noteDate(line.slice(s, e), date);
    const { re, group, marked } = this.contentGate as ContentGate;
    // The text findFailure searches: the line without its date, ended by "\n".
    const text = flat(`${line.slice(0, s)}${line.slice(e)}\n`);
    if (marked !== undefined) {
      const m = marked.re.exec(text);
      if (m === null) return true;
      let content: string | undefined;
      for (const j of marked.js) content ??= m[j];
      if (content === undefined || content === '' || m[marked.mark] !== undefined) return false;
      this.stats.prefregexMatched++;
      return true;
    }
    const content = (this.prefRegex as FilterRegex).re.searchGroup(text, group);
    if (content === null) return true;
    if (content === undefined || content === '' || re.test(content)) return false;
    this.stats.prefregexMatched++;
    return true;
  }

  /** The last date (reading a date left pending by passed-over lines first). */
  private settleDate(): number | null {
    const p = this.pendingDate;
    if (p !== null) {
      this.pendingDate = null;
      const date = this.readDate(p.template, p.match);
      if (date !== null) this.noteDate(p.text, date);
    }
    return this.lastDate;
  }

  /** A line's date, read: the last date from now on (and nothing left pending before it). */
  private noteDate(text: string, date: number): void {
    this.lastTimeText = text;
    this.lastDate = date;
    this.pendingDate = null;
  }

  private readDate(template: DateTemplate, match: Parameters<DateTemplate['getDate']>[0]): number | null {
    return (this.dateDetector as DateDetector).getTime(template, match);
  }

  private ignoreLine(buf: string, orgBuffer: readonly TupleLine[], failHit?: RegexHit): number | null {
    let b = buf;
    let lines = orgBuffer;
    if (failHit !== undefined && this.maxLines > 1) {
      lines = failHit.matchedLines;
      b = tupleLinesBuf(lines);
    }
    let found: number | null = null;
    for (let i = 0; i < this.ignoreRegexes.length; i++) {
      const hit = (this.ignoreRegexes[i] as FilterRegex).search(b, lines);
      if (hit === null) continue;
      found = i;
      (this.stats.ignoreregexHits[i] as number)++;
      this.onIgnore?.(i);
      if (!this.checkAllRegex || this.maxLines > 1) {
        if (failHit !== undefined) this.lineBuffer = failHit.unmatchedLines;
      }
      if (!this.checkAllRegex) break;
    }
    return found;
  }

  private updateUsers(fail: FailData, user: unknown): Set<string> | undefined {
    let users = fail.users;
    if (truthy(user)) {
      if (!truthy(users)) {
        users = new Set();
        fail.users = users;
      }
      (users as Set<string>).add(user as string);
      return users;
    }
    return users;
  }

  private mergeFailure(mlfid: string, failIn: FailData, hit: RegexHit): FailData {
    let fail = failIn;
    const cached = this.mlfidCache.size > 0 ? this.mlfidCache.get(mlfid) : undefined;
    let users: Set<string> | undefined;
    let flags = 0;
    if (truthy(fail.mlfgained)) {
      flags |= 8 | 1;
      if (!truthy(fail.nofail)) fail.nofail = fail.mlfgained;
    } else if (truthy(fail.nofail)) flags |= 1;
    if (truthy(pop(fail, 'mlfforget'))) flags |= 2;
    if (cached !== undefined) {
      const groups = cached[1];
      users = this.updateUsers(groups, fail.user);
      if (truthy(pop(groups, 'nofail'))) flags |= 4;
      if (truthy(pop(groups, 'mlfgained'))) flags |= 4;
      if (flags & 8) pop(groups, 'mlfpending');
      if ((flags & 4) === 0 && !truthy(groups.mlfpending)) pop(groups, 'matches');
      for (const [k, v] of Object.entries(fail)) if (v !== undefined && v !== null) groups[k] = v;
      fail = groups;
      if (flags & 2) this.mlfidCache.delete(mlfid);
    } else if (!(flags & 2)) {
      users = this.updateUsers(fail, fail.user);
      this.mlfidCache.set(mlfid, [this.settleDate(), fail]);
    }
    if (truthy(pop(fail, 'mlfpending')) || (users !== undefined && users.size > 1)) {
      pop(fail, 'nofail');
      pop(fail, 'mlfgained');
      flags &= ~(8 | 1);
    }
    if ((flags & 1) === 0) {
      const m = (pop(fail, 'nofail-matches') as TupleLine[] | undefined) ?? [];
      m.push(...(fail.matches ?? []));
      if ((flags & 8) === 0) m.push(...hit.matchedLines);
      fail.matches = m;
    } else if ((flags & 3) === 1) {
      fail['nofail-matches'] = [...((fail['nofail-matches'] as TupleLine[] | undefined) ?? []), ...hit.matchedLines];
    }
    return fail;
  }

  /** fail2ban's findFailure on a line split around its date. */
  private findFailure(tupleLine: TupleLine, date: number | null, noDate: boolean): FailureEntry[] {
    const out: FailureEntry[] = [];
    const rawMode = true;
    let orgBuffer: TupleLine[];
    if (this.maxLines > 1) {
      this.lineBuffer.push(tupleLine);
      if (this.lineBuffer.length > this.maxLines) this.lineBuffer = this.lineBuffer.slice(-this.maxLines);
      orgBuffer = this.lineBuffer;
    } else {
      orgBuffer = this.lineBuffer = [tupleLine];
    }
    let buf: string | null = tupleLinesBuf(orgBuffer);

    if (this.ignoreRegexes.length > 0 && this.ignoreRegexes.length < this.failRegexes.length - 2) {
      if (this.ignoreLine(buf, orgBuffer) !== null) return out;
    }

    let preGroups: FailData = {};
    if (this.prefRegex !== undefined) {
      const hit = this.prefRegex.search(buf, orgBuffer);
      if (hit === null) return out;
      this.stats.prefregexMatched++;
      preGroups = this.prefRegex.groups(hit.match);
      const repl = pop(preGroups, 'content');
      if (truthy(repl)) {
        this.lineBuffer = [['', '', repl as string]];
        buf = null;
      }
    }

    if (buf === null) buf = tupleLinesBuf(this.lineBuffer);
    // The buffer changes only after a failregex matched, so a gate that fails here fails all.
    if (this.literalGate !== undefined && !this.literalGate.test(buf)) return out;
    for (let i = 0; i < this.failRegexes.length; i++) {
      const failRegex = this.failRegexes[i] as FailRegex;
      if (buf === null) buf = tupleLinesBuf(this.lineBuffer);
      const hit = failRegex.search(buf, orgBuffer);
      if (hit === null) continue;
      let fail: FailData = failRegex.groups(hit.match);
      if (this.ignoreRegexes.length > 0 && this.ignoreLine(buf, orgBuffer, hit) !== null) {
        buf = null;
        if (!this.checkAllRegex) break;
        continue;
      }
      if (noDate && date === null && this.requireDate) continue;
      if (!this.checkAllRegex || this.maxLines > 1) {
        this.lineBuffer = hit.unmatchedLines;
        buf = null;
      }
      if (Object.keys(preGroups).length > 0) {
        const curr = fail;
        fail = { ...preGroups };
        for (const [k, v] of Object.entries(curr)) if (v !== undefined && v !== null) fail[k] = v;
      }
      const mlfid = fail.mlfid as string | undefined;
      if (mlfid !== undefined && mlfid !== null) {
        fail = this.mergeFailure(mlfid, fail, hit);
        if (truthy(fail.nofail) && !this.checkAllRegex) return out;
      } else {
        fail.matches = [...(fail.matches ?? []), ...hit.matchedLines];
      }
      let fid = fail.fid as string | undefined;
      let ip = fail.ip4 as string | undefined;
      let reading: IdReading = 'raw';
      let raw = rawMode;
      const cidr = truthy(fail.cidr) ? Number(fail.cidr) : undefined;
      if (ip !== undefined && ip !== null) {
        reading = cidr !== undefined ? { cidr } : { family: 4 };
        raw = true;
      } else {
        ip = fail.ip6 as string | undefined;
        if (ip !== undefined && ip !== null) {
          reading = cidr !== undefined ? { cidr } : { family: 6 };
          raw = true;
        } else {
          ip = (fail.dns as string | undefined) ?? undefined;
          if (ip === undefined || ip === null) {
            if ((fid === undefined || fid === null) && (mlfid === undefined || mlfid === null)) {
              // fail2ban's getFailID on the failregex's own groups; none means a broken regex.
              const own = hit.match.groupdict();
              fid = FAILURE_ID_GROUPS.map((g) => own[g]).find((v) => v !== undefined);
              if (fid === undefined) continue;
            }
            ip = fid;
            raw = true;
          }
        }
      }
      let ids: Array<FailureId | null>;
      if ((fid === undefined || fid === null) && (ip === undefined || ip === null)) {
        fail.mlfpending = 1;
        if (!this.checkAllRegex && this.ignorePending) return out;
        ids = [null];
      } else if (raw) {
        if (fid === undefined || fid === null || fid === ip) ids = [failureId(ip as string, reading)];
        else {
          fail.ip = failureId(ip as string, reading);
          ids = [failureId(fid, 'raw')];
        }
      } else {
        ids = [failureId(ip as string, 'raw')];
      }
      if (this.checkAllRegex && mlfid !== undefined && mlfid !== null) fail = { ...fail };
      (this.stats.failregexHits[i] as number)++;
      for (const id of ids) out.push({ regexIndex: i, id, time: date, data: fail });
      if (!this.checkAllRegex) break;
    }
    return out;
  }
}

/**
 * Where a filter name or path is read from: a path (with a `/` or ending in .conf/.local)
 * is read from its folder; a name is looked up in `searchPath`.
 */
export function locateFilter(nameOrPath: string, options: Pick<FilterOptions, 'searchPath' | 'fail2banFilterDir'> = {}): { dir: string; name: string } {
  const looksLikePath = nameOrPath.includes('/') || /\.(conf|local)$/u.test(nameOrPath);
  if (looksLikePath) {
    const path = isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath);
    if (!existsSync(path)) throw new FilterError('WARDEN_FILTER_NOT_FOUND', `no filter file ${path}`);
    return { dir: dirname(path), name: basename(path, extname(path)) };
  }
  const dirs = options.searchPath ?? [wardenFilterDir, options.fail2banFilterDir ?? defaultFail2banFilterDir()];
  for (const dir of dirs) {
    if (existsSync(resolve(dir, `${nameOrPath}.conf`)) || existsSync(resolve(dir, `${nameOrPath}.local`))) return { dir, name: nameOrPath };
  }
  throw new FilterError('WARDEN_FILTER_NOT_FOUND', `no filter named '${nameOrPath}' in ${dirs.join(', ')}`);
}

/**
 * Loads a filter by name (looked up in Warden's filters/, then fail2ban's filter.d) or by
 * path, with the jail's options (`options`, or in the name: `sshd[mode=aggressive]`).
 *
 * @example
 * const f = loadFilter('nginx-limit-req', { timeZone: 'UTC' });
 * for (const m of f.matchLines(lines)) console.log(m.id, new Date((m.time ?? 0) * 1000));
 *
 * @throws FilterError with a stable `code` and the file:line of the bad option
 */
export function loadFilter(nameOrPath: string, options: FilterOptions = {}): Filter {
  const spec = /\[.*\]\s*$/su.test(nameOrPath) ? splitFilterSpec(nameOrPath) : { name: nameOrPath, options: {} };
  const { dir, name } = locateFilter(spec.name, options);
  const definition = readFilterDefinition(dir, name, { ...spec.options, ...options.options }, options.cache);
  return new Filter(definition, options);
}

/** A filter from an already read definition. */
export function createFilter(definition: FilterDefinition, options?: FilterOptions): Filter {
  return new Filter(definition, options);
}
