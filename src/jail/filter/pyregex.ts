/**
 * @module jail/filter/pyregex
 * Python `re` patterns run on V8's Irregexp. A pattern is parsed as CPython reads it
 * (pyregex-parse.ts) and translated once, at load, into a JavaScript RegExp with the `u`
 * flag that matches exactly what Python's `re` matches on str (text) input:
 *
 * - str semantics, as fail2ban uses: fail2ban decodes every log line to text before
 *   matching, so `\d` is any Unicode decimal digit (`\p{Nd}`), `\w` is Python's
 *   `[\p{L}\p{N}_]`, `\s` Python's whitespace set (which differs from JavaScript's: it has
 *   U+001C–U+001F and U+0085, not U+FEFF), `\b` is a boundary between those `\w` and the
 *   rest, and `.` is one code point. `(?a)` gives the ASCII classes.
 * - `.` stops only at "\n" (JavaScript's also stops at "\r", U+2028, U+2029); `$` matches
 *   at the end or before a final "\n", `(?m)` anchors know only "\n"; `\Z` is the very end.
 * - Scoped flags `(?i:…)` (which Node 20's RegExp lacks) are expanded into case classes;
 *   atomic groups and possessive repeats become `(?=(…))\N`; `(?P=name)` and `\N` point at
 *   the right translated group.
 * - Conditionals `(?(name)yes|no)`, which JavaScript lacks, are removed by splitting the
 *   pattern into variants at the choices that decide whether the group took part (the
 *   optional group, the alternation around it), each variant with its conditionals
 *   resolved, tried in the order Python's backtracking would try them. A group then has
 *   several translated copies; a match reads whichever took part.
 *
 * @example
 * const re = compilePyRegex(String.raw`^(?P<user>\S+) from (?P<ip>\d+(?:\.\d+){3})$`);
 * const m = re.search('root from 192.0.2.1\n');
 * m?.group('ip'); // '192.0.2.1'
 */
import { PyRegexError } from './errors.js';
import { parsePyRegex, type AssertKind, type ClassEscape, type PyNode, type SetItem } from './pyregex-parse.js';

export { PyRegexError };

/** One match, with Python's `re.Match` accessors (groups by number or name). */
export interface PyMatch {
  /** The searched string (up to `endpos` when one was given). */
  readonly string: string;
  /** Start of the whole match, or of a group (-1 when it did not take part). */
  start(group?: number | string): number;
  /** End of the whole match, or of a group (-1 when it did not take part). */
  end(group?: number | string): number;
  /** The whole match (0) or a group's text, undefined when the group did not take part. */
  group(group?: number | string): string | undefined;
  /** Named groups → text (undefined when a group did not take part), like groupdict(). */
  groupdict(): Record<string, string | undefined>;
  /** Whether `other` has the same text as this match in each of `groups` (numbers). */
  sameGroups(other: PyMatch, groups: readonly number[]): boolean;
}

/** Options for {@link compilePyRegex}. */
export interface PyRegexOptions {
  /** Compile as if `re.MULTILINE` were given (fail2ban does for filters with maxlines > 1). */
  readonly multiline?: boolean;
  /** Keep group positions (start/end of groups other than 0); costs a little per match. */
  readonly spans?: boolean;
  /**
   * The one group whose position is needed (a date template's group 1). When it stands at
   * the top level of the pattern, its position is worked out from a group around what
   * precedes it, which is much cheaper than `spans`; otherwise `spans` is used.
   */
  readonly spanOf?: number;
  /**
   * Test each text first for something every match needs (a literal, or the part of the
   * pattern after its last open-ended repeat) and skip the full pattern when it is not
   * there. For patterns tried on every line of a log that most lines do not match.
   */
  readonly prefilter?: boolean;
  /**
   * With `spanOf`: search with a form of the pattern that captures only that group (and the
   * groups backreferences need), and run the whole pattern, where that form matched, only
   * when another group is asked for. Each capture costs a string per match: a date
   * template's search, run on every line, mostly needs only where the date is.
   */
  readonly locate?: boolean;
}

/** The longest text a prefilter's tail is searched in (see PyRegex.mayMatch). */
const TAIL_MAX_TEXT = 1024;

/** A cheap necessary condition for a match (see PyRegexOptions.prefilter). */
interface Prefilter {
  /** A string every match contains. */
  readonly literal: string | undefined;
  /** The pattern's tail, searched anywhere: every match contains a match of it. */
  tail: RegExp | undefined;
  /** Whether the tail holds a repeat with no upper bound. */
  readonly tailOpen: boolean;
  /** The pattern's head (see prefilterInfo), translated; undefined when it has none. */
  readonly head: string | undefined;
  /** Whether the head starts with `^` (`\\A`): it matches at the start of a text or not at all. */
  readonly anchored: boolean;
  /**
   * The head after its leading `^`, without groups, when it looks at nothing before where
   * it starts (see PyRegex.marked).
   */
  readonly headRest: string | undefined;
  /** Tail tests and passes so far: a tail that lets most texts through is dropped. */
  tests: number;
  passes: number;
}

/** The pattern capturing only `spanOf` (see PyRegexOptions.locate), with its own group map. */
interface Locator {
  readonly re: RegExp;
  scanRe: RegExp | undefined;
  readonly pyToJs: readonly (readonly number[])[];
  readonly prefixGroups: readonly number[];
  /** Searches so far, and matches that needed the whole pattern after all. */
  searches: number;
  fullReads: number;
}

/** A compiled Python pattern. */
export class PyRegex {
  /** The Python pattern. */
  readonly source: string;
  /** The translated JavaScript pattern (with the flags in `jsFlags`). */
  readonly jsSource: string;
  readonly jsFlags: string;
  /** Number of capturing groups, as Python counts them. */
  readonly groupCount: number;
  /** Group name → number. */
  readonly groupIndex: ReadonlyMap<string, number>;
  /** Whether the pattern had conditionals and was split into variants. */
  readonly variants: number;
  private readonly re: RegExp;
  private scanRe: RegExp | undefined;
  /** Python group number → translated group numbers (several when the pattern was split). */
  private readonly pyToJs: readonly (readonly number[])[];
  private readonly names: readonly (readonly [string, number])[];
  /** The group whose position comes from `prefixGroups` (see PyRegexOptions.spanOf). */
  readonly spanOf: number | undefined;
  /** Translated groups around what precedes `spanOf`; their lengths add up to its start. */
  readonly prefixGroups: readonly number[];
  private readonly prefilter: Prefilter | undefined;
  private locator: Locator | undefined;
  private stickyRe: RegExp | undefined;
  private readonly multiline: boolean;
  /** searchGroup's patterns: a group → the pattern capturing only it, and its groups there. */
  private groupOnly: Map<number, { re: RegExp; js: readonly number[] }> | undefined;

  constructor(source: string, options: PyRegexOptions = {}) {
    this.source = source;
    this.multiline = options.multiline === true;
    const parsed = parsePyRegex(source, { multiline: this.multiline });
    const t = translate(parsed.ast, parsed.groupCount, source, options.spanOf);
    this.jsSource = t.source;
    this.spanOf = t.prefixGroups === undefined ? undefined : options.spanOf;
    this.prefixGroups = t.prefixGroups ?? [];
    const spans = options.spans === true || (options.spanOf !== undefined && t.prefixGroups === undefined);
    this.jsFlags = `u${t.ignoreCase ? 'i' : ''}${spans ? 'd' : ''}`;
    try {
      this.re = new RegExp(t.source, this.jsFlags);
    } catch (err) {
      throw new PyRegexError(`cannot translate to JavaScript: ${(err as Error).message}`, source);
    }
    this.groupCount = parsed.groupCount;
    this.groupIndex = parsed.names;
    this.pyToJs = t.pyToJs;
    this.names = [...parsed.names];
    this.variants = t.variants;
    this.prefilter = options.prefilter === true ? prefilterOf(parsed.ast, parsed.groupCount, source, t.ignoreCase) : undefined;
    if (options.locate === true && options.spanOf !== undefined && this.spanOf !== undefined && t.variants === 1 && this.prefilter === undefined) {
      const capture = backrefGroups(parsed.ast, new Set([options.spanOf]));
      const l = translate(parsed.ast, parsed.groupCount, source, options.spanOf, capture);
      if (l.prefixGroups !== undefined) {
        const re = new RegExp(l.source, this.jsFlags);
        this.locator = { re, scanRe: undefined, pyToJs: l.pyToJs, prefixGroups: l.prefixGroups, searches: 0, fullReads: 0 };
      }
    }
  }

  /**
   * What the prefilter tests, for tests and reports: the literal, the tail's source, and the
   * head: the pattern up to the end of its first run of three or more literal characters,
   * in JavaScript (with `jsFlags`' case). A text holds the head wherever the pattern matches
   * in it, or in it with a "\n" added (a pattern whose start may look ahead has no head).
   * Filters test the heads of all their failregexes at once.
   */
  prefilterInfo(): { literal: string | undefined; tail: string | undefined; head: string | undefined; anchored: boolean; headRest: string | undefined } | undefined {
    const p = this.prefilter;
    return p === undefined ? undefined : { literal: p.literal, tail: p.tail?.source, head: p.head, anchored: p.anchored, headRest: p.headRest };
  }

  /** False when the prefilter shows `s` cannot match. */
  private mayMatch(s: string): boolean {
    const p = this.prefilter as Prefilter;
    if (p.literal !== undefined && !s.includes(p.literal)) return false;
    const tail = p.tail;
    // The tail is searched at every position: one with an open-ended repeat of its own can
    // cost the square of a text's length where the pattern, anchored, costs its length
    // (openvpn's prefix line, whose optional host part scans a long word to its end from
    // each start). Such a tail tests only texts of a log line's usual length.
    if (tail === undefined || (p.tailOpen && s.length > TAIL_MAX_TEXT)) return true;
    const pass = tail.test(s);
    if (++p.tests === 2000) {
      // Measured on this log: a tail most lines pass costs more than it saves.
      if (p.passes > 600) p.tail = undefined;
    } else if (pass) p.passes++;
    return pass;
  }

  /**
   * Searches `text` like Python's `pattern.search(text, pos, endpos)`: the first match at
   * or after `pos`, seeing the string as if it ended at `endpos`; `^` does not match at
   * `pos` unless it is 0, and look-behinds see the text before `pos`.
   */
  search(text: string, pos = 0, endpos = text.length): PyMatch | null {
    const s = endpos < text.length ? text.slice(0, endpos) : text;
    const loc = this.locator;
    if (loc !== undefined) {
      // Measured on Apache's error log, whose dates (with microseconds) are all read: when
      // most matches need the whole pattern anyway, locating first only adds a search.
      if (++loc.searches === 1000 && loc.fullReads > 300) this.locator = undefined;
      let lm: RegExpExecArray | null;
      if (pos <= 0) lm = loc.re.exec(s);
      else {
        loc.scanRe ??= new RegExp(loc.re.source, `${loc.re.flags}g`);
        loc.scanRe.lastIndex = pos;
        lm = loc.scanRe.exec(s);
      }
      return lm === null ? null : new Match(this, s, lm, loc);
    }
    let m: RegExpExecArray | null;
    if (pos <= 0) m = this.prefilter !== undefined && !this.mayMatch(s) ? null : this.re.exec(s);
    else {
      this.scanRe ??= new RegExp(this.re.source, `${this.re.flags}g`);
      this.scanRe.lastIndex = pos;
      m = this.scanRe.exec(s);
    }
    return m === null ? null : new Match(this, s, m, undefined);
  }

  /** The whole pattern's match starting at `at` in `s`, where its located form matched. */
  matchAt(s: string, at: number): RegExpExecArray {
    this.stickyRe ??= new RegExp(this.re.source, `${this.re.flags}y`);
    this.stickyRe.lastIndex = at;
    const m = this.stickyRe.exec(s);
    // Captures do not change what a pattern matches: the located form's match is this one.
    if (m === null) throw new PyRegexError('the located form matched where the pattern does not', this.source);
    return m;
  }

  /**
   * The text of `group` in the first match in `text` (undefined when the group did not
   * take part), or null when there is no match: `search(text)?.group(group)` without
   * building a match.
   */
  searchGroup(text: string, group: number): string | undefined | null {
    if (this.prefilter !== undefined && !this.mayMatch(text)) return null;
    const only = this.capturingOnly(group);
    const m = only.re.exec(text);
    if (m === null) return null;
    for (const j of only.js) if (m[j] !== undefined) return m[j];
    return undefined;
  }

  /**
   * The pattern with only `group` (and the groups backreferences need) capturing: it matches
   * what the whole pattern matches, without a string for every other group (a prefregex's
   * content is searched for on every line).
   */
  private capturingOnly(group: number): { re: RegExp; js: readonly number[] } {
    this.groupOnly ??= new Map();
    let only = this.groupOnly.get(group);
    if (only === undefined) {
      only = { re: this.re, js: this.jsGroups(group) };
      if (this.variants === 1) {
        const parsed = parsePyRegex(this.source, { multiline: this.multiline });
        const t = translate(parsed.ast, parsed.groupCount, this.source, undefined, backrefGroups(parsed.ast, new Set([group])));
        if (t.variants === 1) only = { re: new RegExp(t.source, this.jsFlags.replace('d', '')), js: t.pyToJs[group] ?? [] };
      }
      this.groupOnly.set(group, only);
    }
    return only;
  }

  /**
   * The pattern with only `group` capturing (as searchGroup uses it) and the look-ahead
   * `lookahead` tried where that group starts, marked by a group of its own: one search
   * tells whether the pattern matches, the group's text, and whether the look-ahead holds
   * at its start (a filter's content gate: the failregexes' heads at the prefregex's
   * content, without a second search). The marker is zero-width and optional, so the
   * pattern matches as it does without it. Undefined when the group is not one of the
   * pattern's top-level items (repeated, or in a conditional's variants).
   */
  marked(group: number, lookahead: string): { re: RegExp; js: readonly number[]; mark: number } | undefined {
    const parsed = parsePyRegex(this.source, { multiline: this.multiline });
    const mark: Mark = { group, lookahead, js: 0 };
    const t = translate(parsed.ast, parsed.groupCount, this.source, undefined, backrefGroups(parsed.ast, new Set([group])), mark);
    if (t.variants !== 1 || mark.js === 0) return undefined;
    return { re: new RegExp(t.source, this.jsFlags.replace('d', '')), js: t.pyToJs[group] ?? [], mark: mark.js };
  }

  /** Whether the pattern matches anywhere in `text` (no match object is built). */
  test(text: string): boolean {
    if (this.prefilter !== undefined && !this.mayMatch(text)) return false;
    return this.re.test(text);
  }

  /** The translated group numbers of a Python group. */
  jsGroups(group: number): readonly number[] {
    return this.pyToJs[group] ?? [];
  }

  /** Resolves a group number or name to the Python number; throws for an unknown group. */
  resolveGroup(group: number | string): number {
    const n = typeof group === 'number' ? group : this.groupIndex.get(group);
    if (n === undefined || n < 0 || n > this.groupCount) throw new PyRegexError(`no such group ${String(group)}`, this.source);
    return n;
  }

  /** [name, number] of the named groups. */
  namedGroups(): readonly (readonly [string, number])[] {
    return this.names;
  }
}

class Match implements PyMatch {
  constructor(
    private readonly re: PyRegex,
    readonly string: string,
    private m: RegExpExecArray,
    /** Set while `m` is the located form's match (see PyRegexOptions.locate). */
    private loc: Locator | undefined,
  ) {}

  private jsIndex(group: number | string): number {
    const n = this.re.resolveGroup(group);
    if (n === 0) return 0;
    if (this.loc !== undefined && n !== this.re.spanOf) this.unlocate();
    const loc = this.loc;
    for (const j of loc === undefined ? this.re.jsGroups(n) : (loc.pyToJs[n] ?? [])) if (this.m[j] !== undefined) return j;
    return -1;
  }

  /** Replaces the located form's match by the whole pattern's, for its other groups. */
  private unlocate(): void {
    (this.loc as Locator).fullReads++;
    this.m = this.re.matchAt(this.string, this.m.index);
    this.loc = undefined;
  }

  /** The start of the group `spanOf`, once worked out (the date's span, read several times). */
  private spanStart = -2;

  group(group: number | string = 0): string | undefined {
    // Group 0 first, without resolving it: a date's text is read for every line.
    if (group === 0) return this.m[0];
    const j = this.jsIndex(group);
    return j < 0 ? undefined : this.m[j];
  }

  start(group: number | string = 0): number {
    if (group === 0) return this.m.index;
    if (group === this.re.spanOf && this.spanStart !== -2) return this.spanStart;
    const s = this.startOf(group);
    if (group === this.re.spanOf) this.spanStart = s;
    return s;
  }

  private startOf(group: number | string): number {
    const j = this.jsIndex(group);
    if (j === 0) return this.m.index;
    if (j < 0) return -1;
    if (this.m.indices === undefined && this.re.spanOf === this.re.resolveGroup(group)) {
      let start = this.m.index;
      for (const p of this.loc?.prefixGroups ?? this.re.prefixGroups) start += this.m[p]?.length ?? 0;
      return start;
    }
    const span = this.m.indices?.[j];
    if (span === undefined) throw new PyRegexError('group positions need the spans option', this.re.source);
    return span[0];
  }

  end(group: number | string = 0): number {
    if (group === 0) return this.m.index + (this.m[0] as string).length;
    const j = this.jsIndex(group);
    if (j === 0) return this.m.index + (this.m[0] as string).length;
    if (j < 0) return -1;
    if (this.m.indices === undefined && this.re.spanOf === this.re.resolveGroup(group)) return this.start(group) + (this.m[j] as string).length;
    const span = this.m.indices?.[j];
    if (span === undefined) throw new PyRegexError('group positions need the spans option', this.re.source);
    return span[1];
  }

  sameGroups(other: PyMatch, groups: readonly number[]): boolean {
    if (!(other instanceof Match) || other.re !== this.re || this.loc !== undefined || other.loc !== undefined) {
      for (let i = 0; i < groups.length; i++) if (this.group(groups[i]) !== other.group(groups[i])) return false;
      return true;
    }
    // Both are the whole pattern's matches: their arrays compare directly (this runs for
    // every line of a log whose dates differ only in a fraction of a second).
    const a = this.m;
    const b = other.m;
    for (let i = 0; i < groups.length; i++) {
      const js = this.re.jsGroups(groups[i] as number);
      if (js.length === 1) {
        const j = js[0] as number;
        if (a[j] !== b[j]) return false;
        continue;
      }
      let va: string | undefined;
      let vb: string | undefined;
      for (const j of js) va ??= a[j];
      for (const j of js) vb ??= b[j];
      if (va !== vb) return false;
    }
    return true;
  }

  groupdict(): Record<string, string | undefined> {
    const out: Record<string, string | undefined> = {};
    if (this.loc !== undefined) this.unlocate();
    for (const [name, n] of this.re.namedGroups()) {
      let v: string | undefined;
      for (const j of this.re.jsGroups(n)) {
        v = this.m[j];
        if (v !== undefined) break;
      }
      out[name] = v;
    }
    return out;
  }
}

/**
 * `s`, laid out flat by V8 if it was a concatenation. Reading a character flattens it in
 * JavaScript's fast path; a regex given the concatenation flattens it in a slower runtime
 * call (a line without its date, searched on every line: 310 → 270 ns per search measured
 * with apache-auth's prefregex).
 */
export function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/** Compiles a Python pattern (see the module notes). @throws PyRegexError */
export function compilePyRegex(source: string, options?: PyRegexOptions): PyRegex {
  return new PyRegex(source, options);
}

// ---------------------------------------------------------------------------------------
// Translation

/** Python's `\s` for str patterns (CPython's Py_UNICODE_ISSPACE), as class contents. */
const PY_SPACE = '\\t-\\r\\u{1c}-\\u{20}\\u{85}\\u{a0}\\u{1680}\\u{2000}-\\u{200a}\\u{2028}\\u{2029}\\u{202f}\\u{205f}\\u{3000}';
/** Python's `\w` for str patterns: str.isalnum() or "_". */
const PY_WORD = '\\p{L}\\p{N}_';
const PY_DIGIT = '\\p{Nd}';
const ASCII_SPACE = ' \\t\\n\\r\\f\\v';
const ASCII_WORD = 'a-zA-Z0-9_';
const ASCII_DIGIT = '0-9';

function classContents(c: ClassEscape): string {
  if (c.ascii) return c.cls === 'd' ? ASCII_DIGIT : c.cls === 'w' ? ASCII_WORD : ASCII_SPACE;
  return c.cls === 'd' ? PY_DIGIT : c.cls === 'w' ? PY_WORD : PY_SPACE;
}

const SYNTAX = new Set([...'^$\\.*+?()[]{}|/'].map((c) => c.codePointAt(0) as number));

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function printable(cp: number): boolean {
  return cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0) && !(cp >= 0xd800 && cp <= 0xdfff) && cp !== 0x2028 && cp !== 0x2029;
}

function literal(cp: number): string {
  if (SYNTAX.has(cp)) return `\\${String.fromCodePoint(cp)}`;
  return printable(cp) ? String.fromCodePoint(cp) : hex(cp);
}

function classLiteral(cp: number): string {
  if (cp === 0x5c || cp === 0x5d || cp === 0x5b || cp === 0x5e || cp === 0x2d) return `\\${String.fromCodePoint(cp)}`;
  return printable(cp) ? String.fromCodePoint(cp) : hex(cp);
}

/** The other-case forms of a code point (simple, one code point each). */
function caseVariants(cp: number): number[] {
  const out = new Set<number>([cp]);
  const add = (s: string): void => {
    const cps = [...s];
    if (cps.length === 1) out.add((cps[0] as string).codePointAt(0) as number);
  };
  for (let round = 0; round < 2; round++) {
    for (const c of [...out]) {
      const s = String.fromCodePoint(c);
      add(s.toLowerCase());
      add(s.toUpperCase());
    }
  }
  return [...out];
}

/** Range items extended by their other-case forms (for a case-insensitive class). */
function caseFoldRanges(items: readonly SetItem[]): SetItem[] {
  const out: SetItem[] = [...items];
  for (const it of items) {
    if (it.kind !== 'range') continue;
    if (it.hi - it.lo <= 1000) {
      for (let cp = it.lo; cp <= it.hi; cp++) for (const v of caseVariants(cp)) if (v < it.lo || v > it.hi) out.push({ kind: 'range', lo: v, hi: v });
    } else {
      // A large range: ASCII letters are what matters in log filters.
      const lo = Math.max(it.lo, 0x41);
      const hi = Math.min(it.hi, 0x7a);
      for (let cp = lo; cp <= hi; cp++) for (const v of caseVariants(cp)) out.push({ kind: 'range', lo: v, hi: v });
    }
  }
  return out;
}

function rangeText(it: { lo: number; hi: number }): string {
  return it.lo === it.hi ? classLiteral(it.lo) : `${classLiteral(it.lo)}-${classLiteral(it.hi)}`;
}

function isWordCp(cp: number): boolean {
  return /[\p{L}\p{N}_]/u.test(String.fromCodePoint(cp));
}

/** What stands on one side of a position: no character, a word character (Python's \w), or another. */
type Neighbour = 'none' | 'word' | 'other';
const NEIGHBOURS: readonly Neighbour[] = ['none', 'word', 'other'];

/**
 * Whether one alternative of a look-ahead holds between `before` and `after`: true, false,
 * or undefined when the neighbours alone do not tell (`$` before a character that is not a
 * word character holds only if that is a final "\n"), or when the node tests more than them.
 */
function holdsBetween(n: PyNode, before: Neighbour, after: Neighbour): boolean | undefined {
  if (n.kind === 'class' && n.cls === 'w' && !n.ascii) return after === (n.negate ? 'other' : 'word');
  if (n.kind !== 'assert' || n.ascii) return undefined;
  switch (n.what) {
    case 'start':
      return before === 'none';
    case 'end':
      return after === 'none';
    case 'endZ':
      return after === 'none' ? true : after === 'word' ? false : undefined;
    case 'wordBoundary':
      return (before === 'word') !== (after === 'word');
    case 'notWordBoundary':
      return (before === 'word') === (after === 'word');
    default:
      return undefined;
  }
}

/**
 * A positive look-ahead whose alternatives test only the characters on either side of the
 * position (`\b`, `\w`, `\W`, `^`, `$`, `\Z`), as the word bounds fail2ban puts around every
 * date template — `(?=^|\b|\W)` and `(?=\b|\W|$)` — rewritten as the one or two pairs of
 * neighbours it refuses: `(?=\b|\W|$)` refuses only a word character after a word character,
 * `(?!(?<=\w)\w)`. Python's \w is a Unicode class V8 builds from its tables for every use, in
 * every regex, on its first match: the two uses instead of five made compiling and first
 * running a log's date templates several times cheaper. Undefined when the alternatives test
 * anything else, or when more than two pairs are refused (left as they are).
 */
function neighbourTest(body: PyNode): string | undefined {
  if (body.kind !== 'alt') return undefined;
  const w = `[${PY_WORD}]`;
  const refused: string[] = [];
  for (const before of NEIGHBOURS) {
    for (const after of NEIGHBOURS) {
      let holds: boolean | undefined = false;
      for (const alt of body.alts) {
        const h = holdsBetween(alt, before, after);
        if (h === true) {
          holds = true;
          break;
        }
        if (h === undefined) holds = undefined;
      }
      // A pair the neighbours alone cannot decide: not for this rewrite.
      if (holds === undefined) return undefined;
      if (holds) continue;
      // Without the m flag, JavaScript's $ is the very end of the text.
      const next = after === 'none' ? '$' : after === 'word' ? w : `(?!${w})[^]`;
      const prev = before === 'none' ? '(?<![^])' : before === 'word' ? `(?<=${w})` : `(?<!${w})(?<=[^])`;
      refused.push(after === 'none' ? `(?!${next}${prev})` : `(?!${prev}${next})`);
    }
  }
  return refused.length <= 2 ? refused.join('') : undefined;
}

/** A look-ahead emitted just before a top-level group (see PyRegex.marked). */
interface Mark {
  readonly group: number;
  readonly lookahead: string;
  /** The translated group that takes part when the look-ahead held (0: not emitted). */
  js: number;
}

interface Translation {
  source: string;
  ignoreCase: boolean;
  pyToJs: number[][];
  variants: number;
  /** See PyRegexOptions.spanOf: groups around what precedes that group, or undefined. */
  prefixGroups?: number[];
}

/** Whether the node is zero-width (an assertion), for the \b neighbour analysis. */
function zeroWidth(n: PyNode): boolean {
  return n.kind === 'assert' || n.kind === 'look' || n.kind === 'empty';
}

/** What the first character a node consumes can be: 'word', 'nonword', or unknown. */
function edgeKind(n: PyNode | undefined, side: 'first' | 'last'): 'word' | 'nonword' | undefined {
  if (n === undefined) return undefined;
  switch (n.kind) {
    case 'char':
      return isWordCp(n.cp) ? 'word' : 'nonword';
    case 'class':
      if (n.ascii) return undefined;
      if (n.cls === 's') return n.negate ? undefined : 'nonword';
      return n.negate ? 'nonword' : 'word';
    case 'set': {
      if (n.negate) return undefined;
      let kind: 'word' | 'nonword' | undefined;
      for (const it of n.items) {
        let k: 'word' | 'nonword' | undefined;
        if (it.kind === 'class') k = edgeKind(it, side);
        else if (it.hi - it.lo > 256) return undefined;
        else {
          for (let cp = it.lo; cp <= it.hi; cp++) {
            const kk = isWordCp(cp) ? 'word' : 'nonword';
            if (k === undefined) k = kk;
            else if (k !== kk) return undefined;
          }
        }
        if (k === undefined) return undefined;
        if (kind === undefined) kind = k;
        else if (kind !== k) return undefined;
      }
      return kind;
    }
    case 'seq': {
      const items = side === 'first' ? n.items : [...n.items].reverse();
      const first = items[0];
      return first !== undefined && !zeroWidth(first) ? edgeKind(first, side) : undefined;
    }
    case 'group':
    case 'nc':
    case 'atomic':
      return edgeKind(n.body, side);
    case 'repeat':
      return n.min >= 1 ? edgeKind(n.body, side) : undefined;
    case 'alt': {
      let kind: 'word' | 'nonword' | undefined;
      for (const a of n.alts) {
        const k = edgeKind(a, side);
        if (k === undefined) return undefined;
        if (kind === undefined) kind = k;
        else if (kind !== k) return undefined;
      }
      return kind;
    }
    default:
      return undefined;
  }
}

/** Collects whether case-insensitive nodes exist and whether case-sensitive ones do. */
function caseUse(n: PyNode, acc: { ci: boolean; cs: boolean }): void {
  switch (n.kind) {
    case 'char':
    case 'set':
    case 'backref':
      if (n.ci) acc.ci = true;
      else acc.cs = true;
      return;
    case 'seq':
      for (const it of n.items) caseUse(it, acc);
      return;
    case 'alt':
      for (const a of n.alts) caseUse(a, acc);
      return;
    case 'group':
    case 'nc':
    case 'look':
    case 'atomic':
    case 'repeat':
      caseUse(n.body, acc);
      return;
    case 'cond':
      caseUse(n.yes, acc);
      caseUse(n.no, acc);
      return;
    default:
  }
}

class Emitter {
  private jsCount = 0;
  readonly pyToJs: number[][];
  /** Python group → translated group of the variant being emitted. */
  current = new Map<number, number>();

  constructor(
    groupCount: number,
    private readonly ciFlag: boolean,
    private readonly pattern: string,
    /** The Python groups translated as groups (default: all); the others do not capture. */
    private readonly capture?: ReadonlySet<number>,
    /** A look-ahead to mark where a group starts (see PyRegex.marked); `js` is set here. */
    private readonly mark?: Mark,
  ) {
    this.pyToJs = Array.from({ length: groupCount + 1 }, () => []);
  }

  newGroup(): number {
    return ++this.jsCount;
  }

  /**
   * Emits the items of a top-level sequence; when group `spanOf` is one of them, what
   * precedes it goes into a group of its own (recorded in `prefixGroups`). Returns false
   * in `found` when the group is not there.
   */
  emitTop(items: readonly PyNode[], spanOf: number | undefined, prefixGroups: number[], prevOuter?: PyNode): { text: string; found: boolean } {
    const k = spanOf === undefined ? -1 : items.findIndex((it) => it.kind === 'group' && it.index === spanOf);
    let out = '';
    const one = (i: number): string => this.emit(items[i] as PyNode, items[i - 1] ?? prevOuter, items[i + 1]);
    if (k < 0) {
      for (let i = 0; i < items.length; i++) out += one(i);
      return { text: out, found: false };
    }
    if (k > 0) {
      const j = this.newGroup();
      prefixGroups.push(j);
      let prefix = '';
      for (let i = 0; i < k; i++) prefix += one(i);
      out += `(${prefix})`;
    }
    for (let i = k; i < items.length; i++) out += one(i);
    return { text: out, found: true };
  }

  private charText(cp: number, ci: boolean): string {
    if (!ci || this.ciFlag) return literal(cp);
    const vs = caseVariants(cp);
    if (vs.length === 1) return literal(cp);
    return `[${vs.map(classLiteral).join('')}]`;
  }

  private setText(negate: boolean, itemsIn: readonly SetItem[], ci: boolean): string {
    const items = ci && !this.ciFlag ? caseFoldRanges(itemsIn) : itemsIn;
    let pos = '';
    const negClasses: ClassEscape[] = [];
    for (const it of items) {
      if (it.kind === 'range') pos += rangeText(it);
      else if (it.negate) negClasses.push(it);
      else pos += classContents(it);
    }
    if (negClasses.length === 0) return `[${negate ? '^' : ''}${pos}]`;
    const negs = negClasses.map((c) => classContents(c));
    if (!negate) {
      // A union, as alternatives that no character matches two of: `[\S.]` as `[.]|[^\s]`
      // would let a run of dots split between them in 2^n ways when the rest fails, where
      // Python's one class tries each character once. So each alternative leaves out what
      // an earlier one takes.
      const parts: string[] = [];
      let before = '';
      if (pos !== '') {
        parts.push(`[${pos}]`);
        before = `(?![${pos}])`;
      }
      for (const c of negs) {
        parts.push(`${before}[^${c}]`);
        before += `(?=[${c}])`;
      }
      return parts.length === 1 ? (parts[0] as string) : `(?:${parts.join('|')})`;
    }
    // Not in the positives and in every class whose complement was listed.
    const last = negs.pop() as string;
    return `(?:${pos !== '' ? `(?![${pos}])` : ''}${negs.map((c) => `(?=[${c}])`).join('')}[${last}])`;
  }

  private assertText(what: AssertKind, ascii: boolean, prev: PyNode | undefined, next: PyNode | undefined): string {
    switch (what) {
      case 'start':
        return '^';
      case 'lineStart':
        return '(?<![^\\n])';
      case 'endZ':
        return '(?=\\n?$)';
      case 'lineEnd':
        return '(?![^\\n])';
      case 'end':
        return '$';
      case 'wordBoundary':
      case 'notWordBoundary': {
        if (ascii) return what === 'wordBoundary' ? '\\b' : '\\B';
        const w = `[${PY_WORD}]`;
        const b = what === 'wordBoundary';
        // A neighbour known to be a word (or non-word) character halves the test.
        const after = edgeKind(next, 'first');
        if (after === 'word') return b ? `(?<!${w})` : `(?<=${w})`;
        if (after === 'nonword') return b ? `(?<=${w})` : `(?<!${w})`;
        const before = edgeKind(prev, 'last');
        if (before === 'word') return b ? `(?!${w})` : `(?=${w})`;
        if (before === 'nonword') return b ? `(?=${w})` : `(?!${w})`;
        return b ? `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))` : `(?:(?<=${w})(?=${w})|(?<!${w})(?!${w}))`;
      }
    }
  }

  /** Emits a node; `prev`/`next` are its neighbours in the enclosing sequence. */
  emit(n: PyNode, prev?: PyNode, next?: PyNode): string {
    switch (n.kind) {
      case 'empty':
        return '';
      case 'fail':
        return '(?!)';
      case 'char':
        return this.charText(n.cp, n.ci);
      case 'class':
        return this.setText(false, [n], false);
      case 'set':
        return this.setText(n.negate, n.items, n.ci);
      case 'any':
        return n.dotall ? '[^]' : '[^\\n]';
      case 'assert':
        return this.assertText(n.what, n.ascii, prev, next);
      case 'seq': {
        let out = '';
        for (let i = 0; i < n.items.length; i++) out += this.emit(n.items[i] as PyNode, n.items[i - 1] ?? prev, n.items[i + 1] ?? next);
        return out;
      }
      case 'alt':
        return n.alts.map((a) => this.emit(a, prev, next)).join('|');
      case 'group': {
        if (this.capture !== undefined && !this.capture.has(n.index)) return `(?:${this.emit(n.body, prev, next)})`;
        let marker = '';
        if (this.mark !== undefined && this.mark.group === n.index) {
          // Zero-width, and an alternative to nothing, tried first: the match is the one
          // without it, and its group takes part when the look-ahead holds where the group
          // starts. (Not `(…)?`: a quantifier does not take an iteration that matched "".)
          this.mark.js = this.newGroup();
          marker = `(?:(?=${this.mark.lookahead})()|)`;
        }
        const j = this.newGroup();
        (this.pyToJs[n.index] as number[]).push(j);
        const body = this.emit(n.body, prev, next);
        this.current.set(n.index, j);
        return `${marker}(${body})`;
      }
      case 'nc':
        return `(?:${this.emit(n.body, prev, next)})`;
      case 'look':
        if (!n.behind && !n.negate) {
          const cheap = neighbourTest(n.body);
          if (cheap !== undefined) return cheap;
        }
        return `(?${n.behind ? '<' : ''}${n.negate ? '!' : '='}${this.emit(n.body)})`;
      case 'atomic': {
        const j = this.newGroup();
        return `(?=(${this.emit(n.body, prev, next)}))\\${j}`;
      }
      case 'repeat': {
        const q =
          n.min === 0 && n.max === Infinity
            ? '*'
            : n.min === 1 && n.max === Infinity
              ? '+'
              : n.min === 0 && n.max === 1
                ? '?'
                : n.max === Infinity
                  ? `{${n.min},}`
                  : n.min === n.max
                    ? `{${n.min}}`
                    : `{${n.min},${n.max}}`;
        if (n.mode === 'possessive') {
          const j = this.newGroup();
          return `(?=((?:${this.emit(n.body)})${q}))\\${j}`;
        }
        return `(?:${this.emit(n.body)})${q}${n.mode === 'lazy' ? '?' : ''}`;
      }
      case 'backref': {
        if (n.ci && !this.ciFlag) throw new PyRegexError('a case-insensitive backreference in a partly case-insensitive pattern is not supported', this.pattern);
        const j = this.current.get(n.index);
        // Python fails a reference to a group that did not take part.
        return j === undefined ? '(?!)' : `(?:\\${j})`;
      }
      case 'cond':
        throw new PyRegexError('conditional left after expansion', this.pattern);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Conditionals: split the pattern into variants in which every conditional is decided.

const MAX_VARIANTS = 64;

interface Variant {
  readonly node: PyNode;
  /** Groups (among those conditionals ask about) that took part on this path. */
  readonly set: ReadonlySet<number>;
}

/** Calls `visit` on `n` and on every node inside it. */
function eachNode(n: PyNode, visit: (n: PyNode) => void): void {
  visit(n);
  switch (n.kind) {
    case 'cond':
      eachNode(n.yes, visit);
      eachNode(n.no, visit);
      break;
    case 'seq':
      for (const it of n.items) eachNode(it, visit);
      break;
    case 'alt':
      for (const a of n.alts) eachNode(a, visit);
      break;
    case 'group':
    case 'nc':
    case 'look':
    case 'atomic':
    case 'repeat':
      eachNode(n.body, visit);
      break;
    default:
  }
}

/** Group numbers that conditionals ask about. */
function condGroups(n: PyNode, acc: Set<number>): Set<number> {
  eachNode(n, (x) => {
    if (x.kind === 'cond') acc.add(x.index);
  });
  return acc;
}

/** Adds the group numbers that backreferences point at to `acc`. */
function backrefGroups(n: PyNode, acc: Set<number>): Set<number> {
  eachNode(n, (x) => {
    if (x.kind === 'backref') acc.add(x.index);
  });
  return acc;
}

class Expander {
  private readonly interestingCache = new Map<PyNode, boolean>();

  constructor(
    private readonly asked: ReadonlySet<number>,
    private readonly pattern: string,
  ) {}

  private unsupported(why: string): never {
    throw new PyRegexError(`conditional pattern not supported: ${why}`, this.pattern);
  }

  /** Whether a node holds a conditional or defines a group a conditional asks about. */
  interesting(n: PyNode): boolean {
    const cached = this.interestingCache.get(n);
    if (cached !== undefined) return cached;
    let r: boolean;
    switch (n.kind) {
      case 'cond':
        r = true;
        break;
      case 'group':
        r = this.asked.has(n.index) || this.interesting(n.body);
        break;
      case 'seq':
        r = n.items.some((it) => this.interesting(it));
        break;
      case 'alt':
        r = n.alts.some((a) => this.interesting(a));
        break;
      case 'nc':
      case 'look':
      case 'atomic':
      case 'repeat':
        r = this.interesting(n.body);
        break;
      default:
        r = false;
    }
    this.interestingCache.set(n, r);
    return r;
  }

  variants(n: PyNode, set: ReadonlySet<number>): Variant[] {
    if (!this.interesting(n)) return [{ node: n, set }];
    let out: Variant[];
    switch (n.kind) {
      case 'cond':
        out = this.variants(set.has(n.index) ? n.yes : n.no, set);
        break;
      case 'seq': {
        let acc: Array<{ items: PyNode[]; set: ReadonlySet<number> }> = [{ items: [], set }];
        for (const it of n.items) {
          const next: typeof acc = [];
          for (const a of acc) {
            const vs = this.variants(it, a.set);
            // One way on: extend this variant in place (a long sequence is not copied item by item).
            if (vs.length === 1) {
              a.items.push((vs[0] as Variant).node);
              next.push({ items: a.items, set: (vs[0] as Variant).set });
            } else for (const v of vs) next.push({ items: [...a.items, v.node], set: v.set });
          }
          if (next.length > MAX_VARIANTS) this.unsupported(`more than ${MAX_VARIANTS} variants`);
          acc = next;
        }
        out = acc.map((a) => ({ node: a.items.length === 1 ? (a.items[0] as PyNode) : { kind: 'seq', items: a.items }, set: a.set }));
        break;
      }
      case 'alt':
        out = n.alts.flatMap((a) => this.variants(a, set));
        break;
      case 'group':
        out = this.variants(n.body, set).map((v) => ({
          node: { kind: 'group', index: n.index, name: n.name, body: v.node },
          set: this.asked.has(n.index) ? new Set([...v.set, n.index]) : v.set,
        }));
        break;
      case 'nc':
        out = this.variants(n.body, set).map((v) => ({ node: { kind: 'nc', body: v.node }, set: v.set }));
        break;
      case 'repeat': {
        if (n.max === 0) return [{ node: { kind: 'empty' }, set }];
        if (n.max > 1 || n.mode === 'possessive') this.unsupported('a group a conditional asks about is inside a repeat');
        const body = this.variants(n.body, set);
        if (n.min === 1) out = body;
        else out = n.mode === 'lazy' ? [{ node: { kind: 'empty' }, set }, ...body] : [...body, { node: { kind: 'empty' }, set }];
        break;
      }
      case 'look':
      case 'atomic': {
        // Look-arounds and atomic groups do not backtrack into themselves: they can only
        // be translated when their conditionals are decided without a choice inside.
        const body = this.variants(n.body, set);
        if (body.length !== 1) this.unsupported('a choice deciding a conditional inside a look-around or atomic group');
        const v = body[0] as Variant;
        const node: PyNode = n.kind === 'look' ? { ...n, body: v.node } : { kind: 'atomic', body: v.node };
        out = [{ node, set: n.kind === 'look' && n.negate ? set : v.set }];
        break;
      }
      default:
        out = [{ node: n, set }];
    }
    if (out.length > MAX_VARIANTS) this.unsupported(`more than ${MAX_VARIANTS} variants`);
    return out;
  }
}

/** Backreferences to groups that may not take part become conditionals, as Python fails them. */
function guardBackrefs(root: PyNode): PyNode {
  // Groups that are certainly set once closed: not under an alternation, optional repeat,
  // conditional branch or negative look-around.
  const certain = new Set<number>();
  // Groups inside a repeat of more than one: JavaScript and Python already differ there
  // (JavaScript clears captures per iteration), and the split cannot reach inside a loop.
  const looped = new Set<number>();
  const walkCertain = (n: PyNode, sure: boolean, loop = false): void => {
    switch (n.kind) {
      case 'group':
        if (sure) certain.add(n.index);
        if (loop) looped.add(n.index);
        walkCertain(n.body, sure, loop);
        break;
      case 'seq':
        for (const it of n.items) walkCertain(it, sure, loop);
        break;
      case 'alt':
        for (const a of n.alts) walkCertain(a, false, loop);
        break;
      case 'nc':
      case 'atomic':
        walkCertain(n.body, sure, loop);
        break;
      case 'look':
        walkCertain(n.body, sure && !n.negate, loop);
        break;
      case 'repeat':
        walkCertain(n.body, sure && n.min >= 1, loop || n.max > 1);
        break;
      case 'cond':
        walkCertain(n.yes, false, loop);
        walkCertain(n.no, false, loop);
        break;
      default:
    }
  };
  walkCertain(root, true);
  let changed = false;
  const rewrite = (n: PyNode, loop: boolean): PyNode => {
    switch (n.kind) {
      case 'backref':
        if (certain.has(n.index) || loop || looped.has(n.index)) return n;
        changed = true;
        return { kind: 'cond', index: n.index, yes: n, no: { kind: 'fail' } };
      case 'seq':
        return { kind: 'seq', items: n.items.map((x) => rewrite(x, loop)) };
      case 'alt':
        return { kind: 'alt', alts: n.alts.map((x) => rewrite(x, loop)) };
      case 'group':
      case 'nc':
      case 'look':
      case 'atomic':
        return { ...n, body: rewrite(n.body, loop) };
      case 'repeat':
        return { ...n, body: rewrite(n.body, loop || n.max > 1) };
      case 'cond':
        return { ...n, yes: rewrite(n.yes, loop), no: rewrite(n.no, loop) };
      default:
        return n;
    }
  };
  const out = rewrite(root, false);
  // Keep the original nodes (and the sharing the variant split relies on) when nothing changed.
  return changed ? out : root;
}

// ---------------------------------------------------------------------------------------
// Prefilter: what every match needs, found in the parsed pattern.

/**
 * The items a node matches in order, every one of them on every match: groups (plain,
 * named, non-capturing, atomic) around a sequence are opened, since their body is matched
 * exactly once where they stand.
 */
function mandatorySequence(n: PyNode, out: PyNode[] = []): PyNode[] {
  if (n.kind === 'seq') for (const it of n.items) mandatorySequence(it, out);
  else if (n.kind === 'group' || n.kind === 'nc' || n.kind === 'atomic') mandatorySequence(n.body, out);
  else out.push(n);
  return out;
}

/** The longest run of case-sensitive characters every match contains. */
function requiredLiteral(items: readonly PyNode[]): string {
  let best = '';
  let run = '';
  const end = (): void => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (const it of items) {
    if (it.kind === 'char' && !it.ci) {
      run += String.fromCodePoint(it.cp);
      continue;
    }
    end();
    // A repeat taken at least once needs its body's literal, apart from its neighbours.
    if (it.kind === 'repeat' && it.min >= 1) {
      const inner = requiredLiteral(mandatorySequence(it.body));
      if (inner.length > best.length) best = inner;
    }
  }
  end();
  return best;
}

/** Whether a node holds a repeat with no upper bound. */
function repeatsWithoutBound(n: PyNode): boolean {
  let found = false;
  eachNode(n, (x) => {
    if (x.kind === 'repeat' && x.max === Infinity) found = true;
  });
  return found;
}

/** Whether a node refers to groups by number (a back reference or a conditional). */
function refersToGroups(n: PyNode): boolean {
  switch (n.kind) {
    case 'backref':
    case 'cond':
      return true;
    case 'seq':
      return n.items.some(refersToGroups);
    case 'alt':
      return n.alts.some(refersToGroups);
    case 'group':
    case 'nc':
    case 'look':
    case 'atomic':
    case 'repeat':
      return refersToGroups(n.body);
    default:
      return false;
  }
}

/**
 * A prefilter for a pattern: its longest required literal (3 characters or more), and the
 * items after its last open-ended repeat (`.*"(?:bot|…)"$` → `"(?:bot|…)"$`), which any
 * match ends with and which, unanchored, is found without the repeat's backtracking.
 * Assertions keep their meaning, since both search the same text.
 */
function prefilterOf(ast: PyNode, groupCount: number, pattern: string, ciFlag: boolean): Prefilter | undefined {
  const items = mandatorySequence(ast);
  const literal = requiredLiteral(items);
  let tail: RegExp | undefined;
  let last = -1;
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as PyNode;
    if (it.kind === 'repeat' && it.max === Infinity) last = i;
  }
  const rest = items.slice(last + 1);
  const consumes = rest.filter((it) => it.kind === 'char' || it.kind === 'set' || it.kind === 'alt' || it.kind === 'class').length;
  if (last >= 0 && consumes >= 2 && !rest.some(refersToGroups)) {
    const emitter = new Emitter(groupCount, ciFlag, pattern);
    // An alternation opened out of its group needs its brackets back.
    const wrapped = rest.map((it): PyNode => (it.kind === 'alt' ? { kind: 'nc', body: it } : it));
    try {
      tail = new RegExp(emitter.emitTop(wrapped, undefined, []).text, ciFlag ? 'ui' : 'u');
    } catch {
      tail = undefined;
    }
  }
  if (literal.length < 3 && tail === undefined) return undefined;
  const first = items[0];
  const anchored = first !== undefined && first.kind === 'assert' && first.what === 'start';
  const head = headOf(items, groupCount, pattern, ciFlag);
  const tailOpen = rest.some(repeatsWithoutBound);
  return { literal: literal.length >= 3 ? literal : undefined, tail, tailOpen, head: head?.head, headRest: head?.rest, anchored, tests: 0, passes: 0 };
}

/**
 * Whether a node, as part of a head, matches the same in a text as in that text with a
 * "\n" added, short of that "\n": nothing that looks ahead (a look-ahead, an end
 * anchor, a multi-line anchor), nothing emitted with a back reference (an atomic group, a
 * possessive repeat) or referring to groups, since heads are joined into one pattern.
 */
function headSafe(n: PyNode): boolean {
  switch (n.kind) {
    case 'empty':
    case 'char':
    case 'set':
    case 'class':
    case 'any':
      return true;
    case 'assert':
      return n.what === 'start' || n.what === 'wordBoundary' || n.what === 'notWordBoundary';
    case 'seq':
      return n.items.every(headSafe);
    case 'alt':
      return n.alts.every(headSafe);
    case 'group':
    case 'nc':
      return headSafe(n.body);
    case 'look':
      return n.behind && headSafe(n.body);
    case 'repeat':
      return n.mode !== 'possessive' && headSafe(n.body);
    default:
      return false;
  }
}

/**
 * The items of a pattern's mandatory sequence up to the end of its first run of three or
 * more case-sensitive characters (not "\n"), translated: every match starts with a match
 * of them. A match in a text with a "\n" added ends with a character of the run, before that
 * "\n", so the head, which looks at nothing after it but a word boundary's neighbour (the
 * same non-word either way), matches in the text alone too.
 */
function headOf(items: readonly PyNode[], groupCount: number, pattern: string, ciFlag: boolean): { head: string; rest: string | undefined } | undefined {
  const literal = (it: PyNode | undefined): boolean => it !== undefined && it.kind === 'char' && !it.ci && it.cp !== 10;
  let run = 0;
  let end = 0;
  while (end < items.length && run < 3) run = literal(items[end++]) ? run + 1 : 0;
  if (run < 3) return undefined;
  // The whole run: the longer the head, the fewer texts hold it.
  while (literal(items[end])) end++;
  const head = items.slice(0, end);
  if (!head.every(headSafe)) return undefined;
  const bracketed = (it: PyNode): PyNode => (it.kind === 'alt' ? { kind: 'nc', body: it } : it);
  const text = new Emitter(groupCount, ciFlag, pattern).emitTop(head.map(bracketed), undefined, []).text;
  // After a leading `^`, a head that looks at nothing before it (no assertion, no look-
  // behind) matches at a position in a text wherever it matches the text from there on.
  const first = head[0] as PyNode;
  let rest: string | undefined;
  if (first.kind === 'assert' && first.what === 'start' && !head.slice(1).some(looksAround)) {
    rest = new Emitter(groupCount, ciFlag, pattern, new Set()).emitTop(head.slice(1).map(bracketed), undefined, []).text;
  }
  return { head: text, rest };
}

/** Whether a node holds an assertion, a look-around or a conditional anywhere. */
function looksAround(n: PyNode): boolean {
  let found = false;
  eachNode(n, (x) => {
    if (x.kind === 'assert' || x.kind === 'look' || x.kind === 'cond') found = true;
  });
  return found;
}

function translate(astIn: PyNode, groupCount: number, pattern: string, spanOf?: number, capture?: ReadonlySet<number>, markIn?: Mark): Translation {
  const acc = { ci: false, cs: false };
  caseUse(astIn, acc);
  const ciFlag = acc.ci && !acc.cs;
  const items = (n: PyNode): readonly PyNode[] => (n.kind === 'seq' ? n.items : [n]);
  const prefixGroups: number[] = [];

  const ast = guardBackrefs(astIn);
  const asked = condGroups(ast, new Set());
  const variants: Variant[] = asked.size === 0 ? [{ node: ast, set: new Set() }] : new Expander(asked, pattern).variants(ast, new Set());
  // A mark goes before a group of the top-level sequence only (not one repeated or split).
  const mark = markIn !== undefined && variants.length === 1 && items((variants[0] as Variant).node).some((it) => it.kind === 'group' && it.index === markIn.group) ? markIn : undefined;
  const emitter = new Emitter(groupCount, ciFlag, pattern, capture, mark);
  if (variants.length === 1) {
    const top = emitter.emitTop(items((variants[0] as Variant).node), spanOf, prefixGroups);
    return { source: top.text, ignoreCase: ciFlag, pyToJs: emitter.pyToJs, variants: 1, prefixGroups: top.found ? prefixGroups : undefined };
  }
  // Items shared by every variant at the front are emitted once, before the split.
  const seqs = variants.map((v) => items(v.node));
  let shared = 0;
  const first = seqs[0] as readonly PyNode[];
  while (shared < first.length && seqs.every((s) => s[shared] === first[shared])) shared++;
  const prefix = first.slice(0, shared);
  const head = emitter.emitTop(prefix, spanOf, prefixGroups);
  let found = head.found;
  let out = head.text;
  if (!found && spanOf !== undefined && shared > 0) {
    // The group comes after the shared part, in every variant: count the part too.
    const j = emitter.newGroup();
    prefixGroups.push(j);
    out = `(${out})`;
  }
  const base = new Map(emitter.current);
  const alts: string[] = [];
  let inAll = true;
  for (const s of seqs) {
    emitter.current = new Map(base);
    const tail = emitter.emitTop(s.slice(shared), found ? undefined : spanOf, prefixGroups, prefix[prefix.length - 1]);
    inAll &&= tail.found;
    alts.push(tail.text);
  }
  found ||= inAll;
  out += `(?:${alts.join('|')})`;
  return { source: out, ignoreCase: ciFlag, pyToJs: emitter.pyToJs, variants: variants.length, prefixGroups: found ? prefixGroups : undefined };
}
