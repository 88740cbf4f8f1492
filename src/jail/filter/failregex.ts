/**
 * @module jail/filter/failregex
 * fail2ban's regex tags and its Regex/FailRegex wrappers (server/failregex.py):
 *
 * - `<HOST>` (an IPv4, IPv6 or DNS name; without DNS when usedns = no), `<ADDR>` (IPv4 or
 *   IPv6), `<IP4>`, `<IP6>`, `<DNS>`, `<CIDR>`, `<SUBNET>`, their `<F-IP4/>`-style
 *   self-closing forms, `<F-ID/>`, `<F-PORT/>`, `<SKIPLINES>`;
 * - `<F-NAME>…</F-NAME>`: a named group `name` (lower case; F-ID → fid, F-PORT → fport),
 *   whose value goes into the failure's data (F-USER, F-MLFID, F-NOFAIL, F-MLFFORGET,
 *   F-MLFGAINED, F-CONTENT have meanings in the filter; others are just data);
 * - `alt_NAME[_N]` groups fill NAME when it is empty; `tuple_NAME[_N]` groups combine;
 * - a search over a buffer of lines finds which lines the match covered, for multi-line
 *   filters (maxlines > 1), less those `<SKIPLINES>` skipped.
 */
import { FilterError, type SourceLocation } from './errors.js';
import { compilePyRegex, flat, type PyMatch, type PyRegex } from './pyregex.js';

/** A log line split around its date: [before the date, the date, after the date]. */
export type TupleLine = readonly [string, string, string];

const IP_4_RE = String.raw`(?:\d{1,3}\.){3}\d{1,3}`;
const IP_6_RE = String.raw`(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)`;
const R_IPV4 = String.raw`(?:::f{4,6}:)?(?P<ip4>${IP_4_RE})`;
const R_IPV6 = `(?P<ip6>${IP_6_RE})`;
const R_DNS = String.raw`(?P<dns>[\w\-.^_]*\w)`;
const R_ADDR = String.raw`\[?(?:${R_IPV4}|${R_IPV6})\]?`;
const R_HOST = `(?:${R_ADDR}|${R_DNS})`;
const R_CIDR = String.raw`(?P<cidr>\d+)`;
const R_SUBNET = String.raw`\[?(?:${R_IPV4}|${R_IPV6})(?:/${R_CIDR})?\]?`;

/** The regex of fail2ban's `<HOST>` (for tests and tools that need to recognise it). */
export const HOST_REGEX = R_HOST;

const STATIC_TAGS: Record<string, string> = {
  IP4: R_IPV4,
  'F-IP4/': R_IPV4,
  IP6: R_IPV6,
  'F-IP6/': R_IPV6,
  ADDR: R_ADDR,
  'F-ADDR/': R_ADDR,
  CIDR: R_CIDR,
  'F-CIDR/': R_CIDR,
  SUBNET: R_SUBNET,
  'F-SUBNET/': R_SUBNET,
  DNS: R_DNS,
  'F-DNS/': R_DNS,
  'F-ID/': String.raw`(?P<fid>\S+)`,
  'F-PORT/': String.raw`(?P<fport>\w+)`,
};

const GROUP_MAP: Record<string, string> = { id: 'fid', port: 'fport' };
const FTAG = /<\/?[\p{L}\p{N}_-]+\/?>/gu;
const FCUSTNAME = /^(\/?)F-([A-Z0-9_-]+)$/u;
const GLOB2LOCFLAGS = /(?<!\\)\((?:\?:)?(\(\?[a-z]+)\)/gu;
const COMPLNAME = /^(alt_|tuple_)(.*?)(?:_\d+)?$/u;

/** How `<HOST>` resolves: fail2ban's usedns (no: addresses only). */
export type UseDns = 'yes' | 'warn' | 'no' | 'raw';

/** fail2ban's _resolveHostTag: the tags of a filter regex replaced by Python regex text. */
export function resolveTags(regex: string, useDns: UseDns = 'warn'): string {
  const open = new Set<string>();
  let skip = 0;
  return regex.replace(FTAG, (tag) => {
    const tn = tag.slice(1, -1);
    if (tn === 'HOST') return useDns !== 'no' ? R_HOST : R_ADDR;
    if (tn === 'SKIPLINES') return String.raw`\n(?P<skiplines${skip++}>(?:(?:.*\n)*?))`;
    const fixed = STATIC_TAGS[tn];
    if (fixed !== undefined) return fixed;
    const m = FCUSTNAME.exec(tn);
    if (m === null) return tag;
    const name = m[2] as string;
    if (m[1] === '/') return open.has(name) ? ')' : tag;
    open.add(name);
    const lower = name.toLowerCase();
    return `(?P<${GROUP_MAP[lower] ?? lower}>`;
  });
}

/** One search's result over a buffer of lines. */
export interface RegexHit {
  readonly match: PyMatch;
  /** Lines the match covered (without those skipped by <SKIPLINES>). */
  readonly matchedLines: TupleLine[];
  /** The other lines of the buffer. */
  readonly unmatchedLines: TupleLine[];
}

/** The text fail2ban searches: lines without their dates, each ending in "\n". */
export function tupleLinesBuf(lines: readonly TupleLine[]): string {
  let s = '';
  for (const l of lines) s += `${l[0]}${l[2]}\n`;
  return flat(s);
}

/** fail2ban's Regex: a compiled filter regex (prefregex, ignoreregex, or base of failregex). */
export class FilterRegex {
  /** The regex as written in the filter (tags unresolved). */
  readonly source: string;
  /** After tag resolution: the Python regex that is compiled. */
  readonly resolved: string;
  readonly re: PyRegex;
  readonly location: SourceLocation | undefined;
  private readonly altValues: ReadonlyArray<readonly [string, string]>;
  private readonly tupleValues: ReadonlyArray<readonly [string, string]>;
  private readonly skipGroups: number;

  constructor(regex: string, options: { multiline?: boolean; useDns?: UseDns; location?: SourceLocation | undefined } = {}) {
    this.source = regex;
    this.location = options.location;
    let resolved = resolveTags(regex, options.useDns);
    if (resolved.trimStart() === '') throw new FilterError('WARDEN_FILTER_REGEX', 'cannot add empty regex', options.location);
    resolved = resolved.replace(GLOB2LOCFLAGS, '$1:');
    this.resolved = resolved;
    try {
      this.re = compilePyRegex(resolved, { multiline: options.multiline === true, prefilter: true });
    } catch (err) {
      throw new FilterError('WARDEN_FILTER_REGEX', `cannot compile regex ${JSON.stringify(regex)}: ${(err as Error).message}`, options.location);
    }
    const alt: Array<[string, string]> = [];
    const tuple: Array<[string, string]> = [];
    let skip = 0;
    for (const [name] of this.re.namedGroups()) {
      if (/^skiplines\d+$/u.test(name)) skip++;
      if (name.length <= 4) continue;
      const m = COMPLNAME.exec(name);
      if (m === null) continue;
      const target = (m[2] as string).toLowerCase();
      (m[1] === 'alt_' ? alt : tuple).push([name, GROUP_MAP[target] ?? target]);
    }
    const byName = (a: readonly [string, string], b: readonly [string, string]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
    this.altValues = alt.sort(byName);
    this.tupleValues = tuple.sort(byName);
    this.skipGroups = skip;
  }

  hasGroup(name: string): boolean {
    return this.re.groupIndex.has(name);
  }

  /**
   * Searches `buf` (the buffer of `lines`, or a replacement text) and works out which of
   * `lines` the match covered.
   */
  search(buf: string, lines: readonly TupleLine[]): RegexHit | null {
    const match = this.re.search(buf);
    if (match === null) return null;
    if (lines.length <= 1) return { match, matchedLines: [...lines], unmatchedLines: [] };
    const s = match.string;
    const start = match.start();
    const end = match.end();
    const lineStart = s.lastIndexOf('\n', start) + 1;
    // The line the match ends in: from its last character (or its start, when empty).
    const nlAfter = s.indexOf('\n', Math.max(end - 1, 0));
    const lineEnd = nlAfter < 0 ? s.length : nlAfter + 1;
    const count = (to: number): number => {
      let n = 0;
      for (let i = s.indexOf('\n'); i >= 0 && i < to; i = s.indexOf('\n', i + 1)) n++;
      return n;
    };
    const c1 = count(lineStart);
    const c2 = count(lineEnd);
    const matched = lines.slice(c1, c2);
    const unmatched = lines.slice(0, c1);
    let n = 0;
    for (const skipped of this.skippedLines(match)) {
      for (let k = n; k < matched.length; k++) {
        const l = matched[k] as TupleLine;
        if (l[0] + l[2] === skipped) {
          unmatched.push(l);
          matched.splice(k, 1);
          n = k;
          break;
        }
      }
    }
    unmatched.push(...lines.slice(c2));
    return { match, matchedLines: matched, unmatchedLines: unmatched };
  }

  private skippedLines(match: PyMatch): string[] {
    if (this.skipGroups === 0) return [];
    let text = '';
    for (let i = 0; i < this.skipGroups; i++) text += match.group(`skiplines${i}`) ?? '';
    // Python's splitlines(): also \r, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029.
    const parts = text.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/u);
    if (parts[parts.length - 1] === '') parts.pop();
    return parts;
  }

  /** The named groups of a match, with alt_ and tuple_ groups merged as fail2ban does. */
  groups(match: PyMatch): Record<string, unknown> {
    const fail: Record<string, unknown> = match.groupdict();
    for (const [k, n] of this.altValues) {
      const v = fail[k];
      if (v && !fail[n]) fail[n] = v;
    }
    for (const [k, n] of this.tupleValues) {
      const v = fail[k];
      const t = fail[n];
      fail[n] = Array.isArray(t) ? [...t, v] : [t, v];
    }
    return fail;
  }
}

/** Groups that identify a failure, in the order fail2ban looks for one. */
export const FAILURE_ID_GROUPS = ['fid', 'ip4', 'ip6', 'dns'] as const;
const FAILURE_ID_PRESENT = [...FAILURE_ID_GROUPS, 'mlfid'];

/** fail2ban's FailRegex: a failregex, which must have a failure-id group (here or in prefregex). */
export class FailRegex extends FilterRegex {
  constructor(regex: string, options: { multiline?: boolean; useDns?: UseDns; location?: SourceLocation | undefined; prefRegex?: FilterRegex | undefined }) {
    super(regex, options);
    const has = (r: FilterRegex): boolean => FAILURE_ID_PRESENT.some((g) => r.hasGroup(g));
    if (!has(this) && (options.prefRegex === undefined || !has(options.prefRegex))) {
      throw new FilterError(
        'WARDEN_FILTER_NO_FAILURE_ID',
        `no failure-id group in ${JSON.stringify(regex)} (use <HOST>, <ADDR>, <F-ID>…</F-ID> or <F-MLFID>)`,
        options.location,
      );
    }
  }
}
