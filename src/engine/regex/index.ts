/**
 * @module engine/regex
 * Compiles a PCRE pattern, as SecLang rules write it, into a matcher that attackers cannot
 * stall, with PCRE's byte semantics (no UTF-8 mode, C-locale classes and case folding).
 *
 * The pattern is parsed once (parser.ts) and translated for one of three engines:
 * - `irregexp`: V8's own engine, for patterns V8's linear engine accepts after translation
 *   and with fewer than IRREGEXP_MAX_ALTERNATIVES alternatives, on inputs of at most
 *   IRREGEXP_MAX_INPUT bytes (longer inputs go to the pattern's RE2 twin). V8 falls back
 *   to its linear engine on excessive backtracking (v8flags.ts), so it cannot stall; that
 *   engine is slow, hence the input cap.
 * - `re2`: the `re2` package, linear time, for everything else a linear engine can run.
 * - `backtrack`: Warden's bounded backtracking matcher (backtrack.ts), for back
 *   references, lookarounds and atomic/possessive forms that change the result. It stops
 *   after `matchLimit` steps (SecPcreMatchLimit) and reports that; such patterns carry a
 *   `warning` for the rule loader. A linear "superset" pattern on RE2 screens inputs first.
 * bench/regex.ts has the measurements behind these choices.
 *
 * @example
 * ```ts
 * const re = compileRegex('(?i)union\\s+select', MODSECURITY_RX_FLAGS);
 * re.test('1 UNION  SELECT 2'); // true
 * ```
 */
import RE2 from 're2';
import { parsePattern, type PatternFlags } from './parser.js';
import { minLength, walk, type Node, type ParsedPattern } from './ast.js';
import { groupsNeedPcreOrder, vmReasons, shortenedCounts, supersetOf } from './analyze.js';
import { emitPattern, NotExpressible, type Dialect, type EmittedPattern } from './emit.js';
import { BacktrackMatcher, LIMIT } from './backtrack.js';
import { linearEngineAccepts, v8RegexFlags } from './v8flags.js';
import { RegexSyntaxError } from './errors.js';

export { RegexSyntaxError } from './errors.js';
export { parsePattern, type PatternFlags } from './parser.js';
export { v8RegexFlags } from './v8flags.js';

export type RegexEngine = 'irregexp' | 're2' | 'backtrack';

/**
 * PCRE's compiled-in default match limit in ModSecurity v2 (configure.ac:
 * MODSEC_PCRE_MATCH_LIMIT=1500; modsecurity.conf-recommended sets 1000).
 */
export const DEFAULT_MATCH_LIMIT = 1500;

/** The options ModSecurity v2 compiles `@rx` with: PCRE_DOTALL | PCRE_DOLLAR_ENDONLY. */
export const MODSECURITY_RX_FLAGS: RegexOptions = Object.freeze({ dotAll: true, dollarEndOnly: true });

export interface RegexOptions extends PatternFlags {
  /** Step budget of the bounded matcher per search (SecPcreMatchLimit). */
  readonly matchLimit?: number;
  /** Force an engine (benchmarks, tests). Patterns an engine cannot run still go elsewhere. */
  readonly engine?: RegexEngine;
}

/** One match: offsets of the whole match and the groups' text (undefined: did not take part). */
export interface RegexMatch {
  readonly index: number;
  readonly end: number;
  /** [whole match, group 1, …, group n]. */
  readonly groups: ReadonlyArray<string | undefined>;
}

/** What a search found: a match, nothing, or the step budget ran out (counts as no match). */
export type MatchOutcome = RegexMatch | 'nomatch' | 'limit';

export interface MatchOptions {
  /** Match only at `from` (PCRE_ANCHORED). */
  readonly anchored?: boolean;
  /** No empty match at `from` (PCRE_NOTEMPTY_ATSTART). */
  readonly notEmptyAtStart?: boolean;
}

/** A compiled rule regex. Inputs are byte strings (one char per byte). */
export interface CompiledRegex {
  /** The pattern as the rule wrote it. */
  readonly source: string;
  /** The engine that runs it. */
  readonly engine: RegexEngine;
  /** Number of capturing groups. */
  readonly groupCount: number;
  /** Named groups → numbers. */
  readonly names: ReadonlyMap<string, number>;
  /** For the rule loader: why this pattern runs on the bounded matcher, if it does. */
  readonly warning: string | undefined;
  /** The translated source the engine runs (empty for the bounded matcher). */
  readonly translated: string;
  /**
   * An RE2 pattern that matches every input this pattern matches (exactly the same inputs,
   * or more for the bounded matcher's screen), for one-pass screening of many patterns with
   * RE2.Set; null when there is none.
   */
  readonly screenSource: string | null;
  /**
   * screenSource, or a looser RE2 pattern for screening long values in a set with others
   * (analyze shortenedCounts); null when there is no screen.
   */
  readonly longScreenSource: string | null;
  /** True when the pattern matches somewhere in `input` (false when the budget ran out). */
  test(input: string): boolean;
  /** Like test, but tells a spent budget apart from no match. */
  check(input: string): 'match' | 'nomatch' | 'limit';
  /** The first match: index 0 the whole match, then the groups ('' for a group that did not take part). */
  exec(input: string): string[] | null;
  /** The leftmost match starting at or after `from`. */
  match(input: string, from?: number, opts?: MatchOptions): MatchOutcome;
}

class LinearProgram {
  private globalRe: RegExp | RE2 | undefined;
  private stickyRe: RegExp | RE2 | undefined;

  constructor(
    readonly engine: 'irregexp' | 're2',
    readonly emitted: EmittedPattern,
    /** Non-global: test and search from 0. */
    readonly base: RegExp | RE2,
  ) {}

  /**
   * Global clone for searches from an offset (lastIndex), made when first needed: an RE2
   * object holds its own compiled program, and CRS's few hundred patterns rarely search
   * from an offset or anchored (each clone made up front cost a worker megabytes).
   */
  get global(): RegExp | RE2 {
    return (this.globalRe ??= this.clone('g'));
  }

  get sticky(): RegExp | RE2 {
    return (this.stickyRe ??= this.clone('y'));
  }

  private clone(flag: 'g' | 'y'): RegExp | RE2 {
    return this.engine === 're2' ? new RE2(this.emitted.source, flag) : new RegExp(this.emitted.source, flag);
  }
}

/**
 * RE2 works on UTF-8, so a byte ≥ 0x80 of ours is two bytes there, and `\B` holds between
 * them: a pattern that can match empty text through `\B` would match inside a character.
 */
function re2MidCharHazard(ast: Node): boolean {
  if (minLength(ast) > 0) return false;
  let found = false;
  walk(ast, (n) => {
    if (n.kind === 'assert' && n.what === 'notWordBoundary') found = true;
  });
  return found;
}

/**
 * Irregexp runs only inputs up to this many bytes. Past V8's backtrack threshold it
 * re-runs the search on its linear engine, which measured 50 µs–15 ms per KB on CRS
 * patterns (RE2: 1–100 µs per KB), so an attacker who forces the fallback gets the most
 * out of long inputs; short ones are where Irregexp is ~2x faster than RE2.
 */
export const IRREGEXP_MAX_INPUT = 256;

/**
 * Patterns with this many alternatives or more run on RE2 at every input length:
 * measured on CRS v4, RE2 is faster for them from 1 KB on (median 1.4x at 20+, 2.2x at
 * 50+), Irregexp at best even on 100 bytes.
 */
export const IRREGEXP_MAX_ALTERNATIVES = 20;

/**
 * The UTF-8 bytes RE2 sees for a byte string (each char ≥ 0x80 is two bytes there, which the
 * translated patterns expect). node-re2 converts a JS string on every call at a cost of
 * about 1.4 µs (measured; it pins the string with persistent handles), ten times a typical
 * match; a Buffer costs nothing to pass. Rules look at the same values one rule after
 * another, so recent conversions are kept (small values only, a bounded number).
 */
let utf8Cache = new Map<string, Buffer>();
let utf8CacheBytes = 0;
/**
 * Bounds of the cache: a request with a thousand arguments looks at a few thousand values
 * (names, values, their transformed forms), rule after rule; a cache smaller than that
 * misses on every call (each rule walks them all before the next starts over). When a
 * bound is reached the whole cache starts over, which costs nothing per call.
 */
const UTF8_CACHE_ENTRIES = 16384;
const UTF8_CACHE_BYTES = 4 << 20;
const UTF8_CACHE_MAX_LENGTH = 8192;

/**
 * Long values (a request body, its transformed forms) are screened and then matched by
 * several rules in a row: the last few conversions are kept, up to a total size, and found
 * by identity first (a long string's content is compared only when lengths agree).
 */
const UTF8_LONG_KEPT = 4;
const UTF8_LONG_BYTES = 16 << 20;
const utf8Long: { input: string; buf: Buffer }[] = [];

function utf8OfLong(input: string): Buffer {
  for (const e of utf8Long) if (e.input === input) return e.buf;
  const buf = Buffer.from(input, 'utf8');
  if (input.length + buf.length > UTF8_LONG_BYTES) return buf;
  utf8Long.push({ input, buf });
  let bytes = 0;
  for (const e of utf8Long) bytes += e.input.length + e.buf.length;
  while (utf8Long.length > UTF8_LONG_KEPT || bytes > UTF8_LONG_BYTES) {
    const gone = utf8Long.shift()!;
    bytes -= gone.input.length + gone.buf.length;
  }
  return buf;
}

export function utf8Of(input: string): Buffer {
  if (input.length > UTF8_CACHE_MAX_LENGTH) return utf8OfLong(input);
  let buf = utf8Cache.get(input);
  if (buf === undefined) {
    buf = Buffer.from(input, 'utf8');
    if (utf8Cache.size >= UTF8_CACHE_ENTRIES || utf8CacheBytes >= UTF8_CACHE_BYTES) {
      utf8Cache = new Map();
      utf8CacheBytes = 0;
    }
    utf8Cache.set(input, buf);
    utf8CacheBytes += input.length + buf.length;
  }
  return buf;
}

function alternativeCount(ast: Node): number {
  let n = 0;
  walk(ast, (x) => {
    if (x.kind === 'alt') n += x.alts.length;
  });
  return n;
}

function compileLinear(ast: Node, prefer: RegexEngine | undefined): LinearProgram | string {
  const tryIrregexp =
    v8RegexFlags.irregexpSafe &&
    (re2MidCharHazard(ast) || (prefer !== 're2' && (prefer === 'irregexp' || alternativeCount(ast) < IRREGEXP_MAX_ALTERNATIVES)));
  if (tryIrregexp) {
    try {
      const emitted = emitPattern(ast, 'js');
      if (linearEngineAccepts(emitted.source)) {
        return new LinearProgram('irregexp', emitted, new RegExp(emitted.source));
      }
    } catch (err) {
      if (!(err instanceof NotExpressible)) throw err;
    }
  }
  if (re2MidCharHazard(ast)) return 'RE2 would let \\B match inside a UTF-8 sequence';
  try {
    const emitted = emitPattern(ast, 're2' satisfies Dialect);
    return new LinearProgram('re2', emitted, new RE2(emitted.source));
  } catch (err) {
    if (err instanceof NotExpressible) return `cannot express ${err.message}`;
    return `RE2 rejected the translation: ${(err as Error).message}`;
  }
}

/** Inputs longer than this are matched by RE2 in their (cached) UTF-8, see match(). */
const UTF8_EXEC_MIN_LENGTH = 1024;

/**
 * RE2's match in `bytes` (the UTF-8 of `input`) as the match in `input` would be: groups
 * as strings, the index in chars. Null when RE2 finds none (it found one in the test).
 */
function execBytes(re: RegExp, bytes: Buffer, input: string): RegExpExecArray | null {
  const m = re.exec(bytes as unknown as string) as unknown as (Buffer | undefined)[] & { index: number } | null;
  if (m === null) return null;
  // Without a char over 0x7f each char is one byte; otherwise the groups are decoded and
  // the index counts the bytes that start a char.
  const oneByte = bytes.length === input.length;
  const out = new Array<string | undefined>(m.length) as unknown as RegExpExecArray;
  for (let i = 0; i < m.length; i++) {
    const g = m[i];
    out[i] = g === undefined ? (undefined as unknown as string) : g.toString(oneByte ? 'latin1' : 'utf8');
  }
  let index = m.index;
  if (!oneByte) {
    index = 0;
    for (let i = 0; i < m.index; i++) if (((bytes[i] as number) & 0xc0) !== 0x80) index++;
  }
  out.index = index;
  return out;
}

/** Maps an engine's exec result back to the user's groups, trimming a consumed final newline. */
function toMatch(prog: LinearProgram, groupCount: number, m: RegExpExecArray): RegexMatch {
  const { groupMap, hidden } = prog.emitted;
  const groups: Array<string | undefined> = new Array<string | undefined>(groupCount + 1);
  groups[0] = m[0];
  for (let i = 1; i <= groupCount; i++) groups[i] = m[groupMap[i] as number];
  let end = m.index + m[0].length;
  for (const h of hidden) {
    if (m[h.group] === '\n') {
      // `$`/`\Z` matched before the final newline: the newline is not part of the match.
      end--;
      groups[0] = (groups[0] as string).slice(0, -1);
      for (const g of h.enclosing) {
        const v = groups[g];
        if (v !== undefined) groups[g] = v.slice(0, -1);
      }
      break;
    }
  }
  return { index: m.index, end, groups };
}

function fromCaps(input: string, caps: Int32Array, groupCount: number): RegexMatch {
  const groups: Array<string | undefined> = new Array<string | undefined>(groupCount + 1);
  for (let i = 0; i <= groupCount; i++) {
    const s = caps[2 * i] as number;
    const e = caps[2 * i + 1] as number;
    groups[i] = s < 0 || e < 0 ? undefined : input.slice(s, e);
  }
  return { index: caps[0] as number, end: caps[1] as number, groups };
}

function asStrings(m: RegexMatch): string[] {
  return m.groups.map((g) => g ?? '');
}

/** The pattern in RE2's dialect, or null when RE2 cannot say it as PCRE means it. */
function re2Source(tree: Node): string | null {
  if (re2MidCharHazard(tree)) return null;
  try {
    return emitPattern(tree, 're2').source;
  } catch (err) {
    if (!(err instanceof NotExpressible)) throw err;
    return null;
  }
}

class LinearRegex implements CompiledRegex {
  readonly warning = undefined;
  readonly engine: 'irregexp' | 're2';
  readonly translated: string;
  private vm: BacktrackMatcher | undefined;
  /** Groups inside repeats: PCRE's values need the bounded matcher (see match). */
  private readonly groupHazard: boolean;

  /** RE2 for inputs longer than IRREGEXP_MAX_INPUT when `prog` is Irregexp (null: none). */
  private readonly long: LinearProgram | null;
  readonly groupCount: number;
  readonly names: ReadonlyMap<string, number>;
  /**
   * The pattern's tree, needed again only for the screens (once, when a Waf is built) and
   * the bounded matcher (rare): held weakly, and parsed again if it was collected. CRS's
   * trees held some 11 MB in every worker for the life of the process.
   */
  private treeRef: WeakRef<Node>;

  constructor(
    readonly source: string,
    parsed: ParsedPattern,
    private readonly prog: LinearProgram,
    private readonly matchLimit: number,
    pinned: boolean,
    private readonly flags: PatternFlags,
  ) {
    this.groupCount = parsed.groupCount;
    this.names = parsed.names;
    this.treeRef = new WeakRef(parsed.ast);
    this.engine = prog.engine;
    this.translated = prog.emitted.source;
    this.groupHazard = groupsNeedPcreOrder(parsed.ast);
    let long: LinearProgram | null = null;
    if (prog.engine === 'irregexp' && !pinned && !re2MidCharHazard(parsed.ast)) {
      const twin = compileLinear(parsed.ast, 're2');
      if (typeof twin !== 'string') long = twin;
    }
    this.long = long;
  }

  private get tree(): Node {
    const known = this.treeRef.deref();
    if (known !== undefined) return known;
    const again = parsePattern(this.source, this.flags).ast;
    this.treeRef = new WeakRef(again);
    return again;
  }

  private screen: string | null | undefined;

  get screenSource(): string | null {
    if (this.screen === undefined) {
      if (this.prog.engine === 're2') this.screen = this.prog.emitted.source;
      else if (this.long !== null) this.screen = this.long.emitted.source;
      else this.screen = re2Source(this.tree);
    }
    return this.screen;
  }

  get longScreenSource(): string | null {
    const screen = this.screenSource;
    if (screen === null) return null;
    const shorter = shortenedCounts(this.tree);
    if (shorter === null || re2MidCharHazard(shorter)) return screen;
    try {
      return emitPattern(shorter, 're2').source;
    } catch (err) {
      if (!(err instanceof NotExpressible)) throw err;
      return screen;
    }
  }

  private pick(input: string): LinearProgram {
    return this.long !== null && input.length > IRREGEXP_MAX_INPUT ? this.long : this.prog;
  }

  test(input: string): boolean {
    const prog = this.pick(input);
    return prog.engine === 're2' ? prog.base.test(utf8Of(input) as unknown as string) : prog.base.test(input);
  }

  check(input: string): 'match' | 'nomatch' {
    return this.test(input) ? 'match' : 'nomatch';
  }

  exec(input: string): string[] | null {
    const m = this.match(input);
    return typeof m === 'string' ? null : asStrings(m);
  }

  private bounded(): BacktrackMatcher {
    this.vm ??= new BacktrackMatcher(this.tree, this.groupCount);
    return this.vm;
  }

  match(input: string, from = 0, opts: MatchOptions = {}): MatchOutcome {
    if (opts.notEmptyAtStart === true) {
      // No linear engine can ask for "a non-empty match here"; the bounded matcher can.
      const r = this.bounded().search(input, from, this.matchLimit, opts);
      if (r.status === LIMIT) return 'limit';
      return r.status < 0 ? 'nomatch' : fromCaps(input, r.caps, this.groupCount);
    }
    const prog = this.pick(input);
    let m: RegExpExecArray | null = null;
    if (prog.engine === 're2' && from === 0 && opts.anchored !== true) {
      // Most values do not match: answer those with the cheap Buffer test first (RE2).
      const bytes = utf8Of(input);
      if (!prog.base.test(bytes as unknown as string)) return 'nomatch';
      // A long value is matched in the UTF-8 made for the test: given the string, RE2
      // would convert all of it again for every rule that matches.
      if (input.length > UTF8_EXEC_MIN_LENGTH) m = execBytes(prog.base, bytes, input);
    }
    if (m === null) {
      let re = prog.base;
      if (opts.anchored === true) {
        re = prog.sticky;
        re.lastIndex = from;
      } else if (from > 0) {
        re = prog.global;
        re.lastIndex = from;
      }
      m = re.exec(input);
      if (m === null) return 'nomatch';
    }
    const found = toMatch(prog, this.groupCount, m);
    if (!this.groupHazard) return found;
    // Where repeats are involved, V8 and RE2 may report another extent or other groups
    // than PCRE (see groupsNeedPcreOrder); the bounded matcher, run only at the start the
    // linear engine found, reports PCRE's. If it runs out of steps, keep the engine's.
    const r = this.bounded().search(input, found.index, this.matchLimit * 10, { anchored: true });
    return r.status === found.index ? fromCaps(input, r.caps, this.groupCount) : found;
  }
}

class BoundedRegex implements CompiledRegex {
  readonly engine = 'backtrack' as const;
  readonly translated = '';
  private readonly vm: BacktrackMatcher;

  constructor(
    readonly source: string,
    private readonly parsed: ParsedPattern,
    readonly warning: string,
    /** Every match of the pattern is a match of this (null: no screen). */
    private readonly screen: LinearProgram | null,
    private readonly matchLimit: number,
  ) {
    this.vm = new BacktrackMatcher(parsed.ast, parsed.groupCount);
  }

  get groupCount(): number {
    return this.parsed.groupCount;
  }

  get names(): ReadonlyMap<string, number> {
    return this.parsed.names;
  }

  get screenSource(): string | null {
    return this.screen?.engine === 're2' ? this.screen.emitted.source : null;
  }

  get longScreenSource(): string | null {
    return this.screenSource;
  }

  test(input: string): boolean {
    return this.check(input) === 'match';
  }

  check(input: string): 'match' | 'nomatch' | 'limit' {
    const r = this.match(input);
    return typeof r === 'string' ? r : 'match';
  }

  exec(input: string): string[] | null {
    const r = this.match(input);
    return typeof r === 'string' ? null : asStrings(r);
  }

  match(input: string, from = 0, opts: MatchOptions = {}): MatchOutcome {
    let start = from;
    if (this.screen !== null && opts.notEmptyAtStart !== true) {
      // The real pattern cannot match before the screen's leftmost match.
      const re = this.screen.global;
      re.lastIndex = from;
      const m = re.exec(input);
      if (m === null) return 'nomatch';
      if (opts.anchored === true && m.index !== from) return 'nomatch';
      start = m.index;
    }
    const r = this.vm.search(input, start, this.matchLimit, { ...opts, origin: from });
    if (r.status === LIMIT) return 'limit';
    return r.status < 0 ? 'nomatch' : fromCaps(input, r.caps, this.parsed.groupCount);
  }
}

/** Compiled patterns by pattern and options; CRS repeats many patterns across rules. */
const memo = new Map<string, CompiledRegex>();
/** Patterns built at run time (macros) must not grow the memo without bound. */
const MEMO_LIMIT = 5000;

function memoKey(pattern: string, o: RegexOptions): string {
  const f = (b: boolean | undefined): string => (b === true ? '1' : '0');
  return `${f(o.caseless)}${f(o.dotAll)}${f(o.multiline)}${f(o.extended)}${f(o.dollarEndOnly)}${f(o.ungreedy)}:${o.matchLimit ?? DEFAULT_MATCH_LIMIT}:${o.engine ?? ''}:${pattern}`;
}

/**
 * Compiles a PCRE pattern (a byte string). Identical pattern and options share one
 * compiled regex. Throws RegexSyntaxError with the offset and the reason.
 */
export function compileRegex(pattern: string, options: RegexOptions = {}): CompiledRegex {
  const key = memoKey(pattern, options);
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const compiled = build(pattern, options);
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
  memo.set(key, compiled);
  return compiled;
}

function build(pattern: string, options: RegexOptions): CompiledRegex {
  const parsed = parsePattern(pattern, options);
  const matchLimit = options.matchLimit ?? DEFAULT_MATCH_LIMIT;
  if (!(matchLimit > 0)) throw new RegexSyntaxError(`matchLimit must be a positive number, got ${matchLimit}`);
  const reasons = vmReasons(parsed.ast);
  if (reasons.length === 0 && options.engine !== 'backtrack') {
    const prog = compileLinear(parsed.ast, options.engine);
    if (typeof prog !== 'string') return new LinearRegex(pattern, parsed, prog, matchLimit, options.engine !== undefined, options);
    reasons.push(prog);
  }
  if (reasons.length === 0) reasons.push('the backtracking engine was asked for');
  const sup = supersetOf(parsed.ast);
  // RE2 for the screen: the relaxed pattern ("any bytes" for a back reference) is the
  // kind that drives Irregexp into its slow fallback, and RE2 finds match bounds with a DFA.
  const screen = sup === null || options.engine === 'backtrack' ? null : compileLinear(sup, 're2');
  const warning =
    `runs on the bounded backtracking matcher because of ${reasons.join(', ')}; ` +
    `a search stops after ${matchLimit} steps (SecPcreMatchLimit) and then counts as no match`;
  return new BoundedRegex(pattern, parsed, warning, typeof screen === 'string' ? null : screen, matchLimit);
}

/** How many compiled patterns are memoized (for diagnostics). */
export function memoizedCount(): number {
  return memo.size;
}
