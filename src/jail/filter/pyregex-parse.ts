/**
 * @module jail/filter/pyregex-parse
 * Python `re` pattern text → syntax tree, read the way CPython 3.11's `sre_parse` reads a
 * str pattern (fail2ban's filters are str patterns run by CPython): the same escapes and
 * errors, `]` first in a class is a literal, `{` that is not a repeat is a literal, global
 * flags only at the very start, scoped flags `(?i:…)`/`(?-i:…)`, verbose mode, atomic
 * groups and possessive repeats (3.11), conditionals `(?(name)yes|no)`.
 *
 * Flags are resolved here and baked into the nodes (a literal knows whether it is
 * case-insensitive, `.` whether it is DOTALL, `$` whether it is MULTILINE), so the
 * translator never looks at flags again.
 */
import { PyRegexError } from './errors.js';

/** A class escape inside or outside `[...]`: \d \w \s, ASCII-only under (?a). */
export interface ClassEscape {
  readonly kind: 'class';
  readonly cls: 'd' | 'w' | 's';
  readonly negate: boolean;
  readonly ascii: boolean;
}

export type SetItem = { readonly kind: 'range'; readonly lo: number; readonly hi: number } | ClassEscape;

export type AssertKind =
  /** `^` without MULTILINE, and `\A`: start of the string. */
  | 'start'
  /** `^` with MULTILINE: start, or after any "\n". */
  | 'lineStart'
  /** `$` without MULTILINE: end, or before a "\n" that ends the string. */
  | 'endZ'
  /** `$` with MULTILINE: end, or before any "\n". */
  | 'lineEnd'
  /** `\Z`: the very end. */
  | 'end'
  | 'wordBoundary'
  | 'notWordBoundary';

export type PyNode =
  | { readonly kind: 'empty' }
  | { readonly kind: 'char'; readonly cp: number; readonly ci: boolean }
  | { readonly kind: 'set'; readonly negate: boolean; readonly items: readonly SetItem[]; readonly ci: boolean }
  | ClassEscape
  | { readonly kind: 'any'; readonly dotall: boolean }
  | { readonly kind: 'assert'; readonly what: AssertKind; readonly ascii: boolean }
  | { readonly kind: 'seq'; readonly items: readonly PyNode[] }
  | { readonly kind: 'alt'; readonly alts: readonly PyNode[] }
  | { readonly kind: 'group'; readonly index: number; readonly name: string | undefined; readonly body: PyNode }
  | { readonly kind: 'nc'; readonly body: PyNode }
  | { readonly kind: 'look'; readonly behind: boolean; readonly negate: boolean; readonly body: PyNode }
  | { readonly kind: 'atomic'; readonly body: PyNode }
  | {
      readonly kind: 'repeat';
      readonly min: number;
      /** Infinity when open. */
      readonly max: number;
      readonly mode: 'greedy' | 'lazy' | 'possessive';
      readonly body: PyNode;
    }
  | { readonly kind: 'backref'; readonly index: number; readonly ci: boolean }
  | { readonly kind: 'cond'; readonly index: number; readonly yes: PyNode; readonly no: PyNode }
  /** Never matches: what a conditional branch or backreference becomes when it cannot. */
  | { readonly kind: 'fail' };

export interface ParsedPyRegex {
  readonly ast: PyNode;
  /** Number of capturing groups. */
  readonly groupCount: number;
  /** Group name → number, in the order Python numbers them. */
  readonly names: ReadonlyMap<string, number>;
  /** Whether the global flags made the whole pattern case-insensitive. */
  readonly globalIgnoreCase: boolean;
}

interface Flags {
  readonly i: boolean;
  readonly m: boolean;
  readonly s: boolean;
  readonly x: boolean;
  readonly a: boolean;
}

const EMPTY: PyNode = { kind: 'empty' };
const MAXREPEAT = 4294967295;
const HEX = /^[0-9a-fA-F]$/;
const OCT = /^[0-7]$/;
const DIGIT = /^[0-9]$/;
const ASCII_LETTER = /^[a-zA-Z]$/;
const FLAG_CHARS = 'iLmsxatu';
/** Python's str.isidentifier() for group names: XID_Start XID_Continue*, or _. */
const IDENTIFIER = /^[\p{XID_Start}_][\p{XID_Continue}]*$/u;

/** Simple escapes shared by patterns and classes (\b is only backspace inside a class). */
const SIMPLE_ESCAPES: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };

function seqOf(items: PyNode[]): PyNode {
  if (items.length === 0) return EMPTY;
  if (items.length === 1) return items[0] as PyNode;
  return { kind: 'seq', items };
}

class Parser {
  private pos = 0;
  private groupCount = 0;
  private readonly names = new Map<string, number>();
  private readonly openGroups = new Set<number>();
  private readonly condRefs: Array<{ index: number; at: number }> = [];
  private globalFlags: Flags = { i: false, m: false, s: false, x: false, a: false };

  constructor(
    private readonly src: string,
    multiline: boolean,
  ) {
    this.globalFlags = { ...this.globalFlags, m: multiline };
  }

  fail(message: string, at = this.pos): never {
    throw new PyRegexError(message, this.src, at);
  }

  parse(): ParsedPyRegex {
    const ast = this.parseAlternation(this.globalFlags, true);
    if (this.pos < this.src.length) {
      // Only a stray ")" stops the top level early.
      this.fail('unbalanced parenthesis');
    }
    for (const ref of this.condRefs) {
      if (ref.index > this.groupCount) this.fail(`invalid group reference ${ref.index}`, ref.at);
    }
    return { ast, groupCount: this.groupCount, names: this.names, globalIgnoreCase: this.globalFlags.i };
  }

  /** One token the way sre's tokenizer sees it: a character or a backslash pair. */
  private peekToken(): string | undefined {
    const c = this.src[this.pos];
    if (c === undefined) return undefined;
    if (c === '\\') {
      const d = this.src[this.pos + 1];
      if (d === undefined) this.fail('bad escape (end of pattern)');
      return c + d;
    }
    // A surrogate pair is one code point, as Python sees it.
    const cp = this.src.codePointAt(this.pos) as number;
    return String.fromCodePoint(cp);
  }

  private getToken(): string | undefined {
    const t = this.peekToken();
    if (t !== undefined) this.pos += t.length;
    return t;
  }

  private matchToken(t: string): boolean {
    if (this.peekToken() === t) {
      this.pos += t.length;
      return true;
    }
    return false;
  }

  private getUntil(terminator: string, what: string): string {
    const start = this.pos;
    const end = this.src.indexOf(terminator, start);
    if (end < 0) this.fail(`missing ${terminator}, unterminated name`, start);
    if (end === start) this.fail(`missing ${what}`, start);
    this.pos = end + 1;
    return this.src.slice(start, end);
  }

  private parseAlternation(flags: Flags, top: boolean): PyNode {
    const alts: PyNode[] = [];
    let first = top;
    for (;;) {
      // Global flags seen in the first branch apply to the branches after it too.
      alts.push(this.parseSequence(top ? this.globalFlags : flags, first));
      first = false;
      if (!this.matchToken('|')) break;
    }
    return alts.length === 1 ? (alts[0] as PyNode) : { kind: 'alt', alts };
  }

  private parseSequence(flagsIn: Flags, first: boolean): PyNode {
    let flags = flagsIn;
    const items: PyNode[] = [];
    // Whether the last item came from a repeat (for "multiple repeat") or is an assertion
    // (for "nothing to repeat").
    let lastIsRepeat = false;
    for (;;) {
      const at = this.pos;
      const t = this.peekToken();
      if (t === undefined || t === '|' || t === ')') break;
      this.pos += t.length;
      if (flags.x) {
        if (/^\s$/.test(t)) continue;
        if (t === '#') {
          const nl = this.src.indexOf('\n', this.pos);
          this.pos = nl < 0 ? this.src.length : nl + 1;
          continue;
        }
      }
      if (t === '*' || t === '+' || t === '?' || t === '{') {
        const q = this.parseRepeat(t, at);
        if (q === null) {
          items.push({ kind: 'char', cp: 123, ci: false });
          lastIsRepeat = false;
          continue;
        }
        const prev = items.pop();
        if (prev === undefined || prev.kind === 'assert') this.fail('nothing to repeat', at);
        if (lastIsRepeat) this.fail('multiple repeat', at);
        // A non-capturing group without flags is transparent to the repeat, as in sre.
        const body = prev.kind === 'nc' ? prev.body : prev;
        items.push({ kind: 'repeat', min: q.min, max: q.max, mode: q.mode, body });
        lastIsRepeat = true;
        continue;
      }
      lastIsRepeat = false;
      if (t[0] === '\\') {
        items.push(this.escape(t, flags, at));
        continue;
      }
      switch (t) {
        case '[':
          items.push(this.parseClass(flags, at));
          break;
        case '.':
          items.push({ kind: 'any', dotall: flags.s });
          break;
        case '^':
          items.push({ kind: 'assert', what: flags.m ? 'lineStart' : 'start', ascii: flags.a });
          break;
        case '$':
          items.push({ kind: 'assert', what: flags.m ? 'lineEnd' : 'endZ', ascii: flags.a });
          break;
        case '(': {
          const r = this.parseGroup(flags, at, first && items.length === 0);
          if (r === 'global') {
            flags = this.globalFlags;
            continue;
          }
          if (r !== null) items.push(r);
          break;
        }
        default:
          items.push({ kind: 'char', cp: t.codePointAt(0) as number, ci: flags.i });
      }
    }
    return seqOf(items);
  }

  private parseRepeat(
    t: string,
    at: number,
  ): { min: number; max: number; mode: 'greedy' | 'lazy' | 'possessive' } | null {
    let min: number;
    let max: number;
    if (t === '*') [min, max] = [0, Infinity];
    else if (t === '+') [min, max] = [1, Infinity];
    else if (t === '?') [min, max] = [0, 1];
    else {
      if (this.src[this.pos] === '}') return null;
      const here = this.pos;
      let lo = '';
      let hi = '';
      while (DIGIT.test(this.src[this.pos] ?? '')) lo += this.src[this.pos++];
      if (this.src[this.pos] === ',') {
        this.pos++;
        while (DIGIT.test(this.src[this.pos] ?? '')) hi += this.src[this.pos++];
      } else hi = lo;
      if (this.src[this.pos] !== '}') {
        this.pos = here;
        return null;
      }
      this.pos++;
      min = lo === '' ? 0 : Number(lo);
      max = hi === '' ? Infinity : Number(hi);
      if (min >= MAXREPEAT || (max !== Infinity && max >= MAXREPEAT)) this.fail('the repetition number is too large', at);
      if (max < min) this.fail('min repeat greater than max repeat', at);
    }
    let mode: 'greedy' | 'lazy' | 'possessive' = 'greedy';
    if (this.matchToken('?')) mode = 'lazy';
    else if (this.matchToken('+')) mode = 'possessive';
    return { min, max, mode };
  }

  /** Returns the group node, null for a comment, or 'global' after global flags. */
  private parseGroup(flags: Flags, at: number, atStart: boolean): PyNode | null | 'global' {
    let capture = true;
    let name: string | undefined;
    let atomic = false;
    let inner = flags;
    if (this.src[this.pos] === '?') {
      this.pos++;
      const c = this.src[this.pos++];
      if (c === undefined) this.fail('unexpected end of pattern');
      if (c === 'P') {
        if (this.src[this.pos] === '<') {
          this.pos++;
          name = this.getUntil('>', 'group name');
          if (!IDENTIFIER.test(name)) this.fail(`bad character in group name '${name}'`, at);
        } else if (this.src[this.pos] === '=') {
          this.pos++;
          const ref = this.getUntil(')', 'group name');
          if (!IDENTIFIER.test(ref)) this.fail(`bad character in group name '${ref}'`, at);
          const index = this.names.get(ref);
          if (index === undefined) this.fail(`unknown group name '${ref}'`, at);
          if (this.openGroups.has(index)) this.fail('cannot refer to an open group', at);
          return { kind: 'backref', index, ci: flags.i };
        } else {
          this.fail(`unknown extension ?P${this.src[this.pos] ?? ''}`, at);
        }
      } else if (c === ':') {
        capture = false;
      } else if (c === '#') {
        const end = this.src.indexOf(')', this.pos);
        if (end < 0) this.fail('missing ), unterminated comment', at);
        this.pos = end + 1;
        return null;
      } else if (c === '=' || c === '!' || c === '<') {
        let behind = false;
        let kind = c;
        if (c === '<') {
          const d = this.src[this.pos++];
          if (d === undefined) this.fail('unexpected end of pattern');
          if (d !== '=' && d !== '!') this.fail(`unknown extension ?<${d}`, at);
          behind = true;
          kind = d;
        }
        const body = this.parseAlternation(flags, false);
        if (!this.matchToken(')')) this.fail('missing ), unterminated subpattern', at);
        return { kind: 'look', behind, negate: kind === '!', body };
      } else if (c === '(') {
        const condName = this.getUntil(')', 'group name');
        let index: number;
        if (IDENTIFIER.test(condName)) {
          const i = this.names.get(condName);
          if (i === undefined) this.fail(`unknown group name '${condName}'`, at);
          index = i;
        } else {
          if (!/^[0-9]+$/.test(condName)) this.fail(`bad character in group name '${condName}'`, at);
          index = Number(condName);
          if (index === 0) this.fail('bad group number', at);
          this.condRefs.push({ index, at });
        }
        const yes = this.parseSequence(flags, false);
        let no: PyNode = EMPTY;
        if (this.matchToken('|')) {
          no = this.parseSequence(flags, false);
          if (this.src[this.pos] === '|') this.fail('conditional backref with more than two branches', at);
        }
        if (!this.matchToken(')')) this.fail('missing ), unterminated subpattern', at);
        return { kind: 'cond', index, yes, no };
      } else if (c === '>') {
        capture = false;
        atomic = true;
      } else if (FLAG_CHARS.includes(c) || c === '-') {
        const r = this.parseFlags(c, at);
        if (r === null) {
          if (!atStart) this.fail('global flags not at the start of the expression', at);
          return 'global';
        }
        capture = false;
        inner = r(flags);
      } else {
        this.fail(`unknown extension ?${c}`, at);
      }
    }
    let index = 0;
    if (capture) {
      index = ++this.groupCount;
      if (name !== undefined) {
        if (this.names.has(name)) this.fail(`redefinition of group name '${name}' as group ${index}; was group ${this.names.get(name)}`, at);
        this.names.set(name, index);
      }
      this.openGroups.add(index);
    }
    const body = this.parseAlternation(inner, false);
    if (!this.matchToken(')')) this.fail('missing ), unterminated subpattern', at);
    if (capture) {
      this.openGroups.delete(index);
      return { kind: 'group', index, name, body };
    }
    if (atomic) return { kind: 'atomic', body };
    return { kind: 'nc', body };
  }

  /** Reads inline flags after "(?c"; null means global flags "(?…)" (already applied). */
  private parseFlags(first: string, at: number): ((f: Flags) => Flags) | null {
    const add = new Set<string>();
    const del = new Set<string>();
    let c: string | undefined = first;
    if (c !== '-') {
      for (;;) {
        if (c === 'L') this.fail("bad inline flags: cannot use 'L' flag with a str pattern", at);
        add.add(c);
        if (add.has('a') && add.has('u')) this.fail("bad inline flags: flags 'a', 'u' and 'L' are incompatible", at);
        c = this.src[this.pos++];
        if (c === undefined) this.fail('missing -, : or )', at);
        if (c === ')' || c === '-' || c === ':') break;
        if (!FLAG_CHARS.includes(c)) this.fail(`unknown flag`, this.pos - 1);
      }
    }
    if (c === ')') {
      const g = this.globalFlags;
      this.globalFlags = {
        i: g.i || add.has('i'),
        m: g.m || add.has('m'),
        s: g.s || add.has('s'),
        x: g.x || add.has('x'),
        a: g.a || add.has('a'),
      };
      return null;
    }
    if (add.has('t')) this.fail('bad inline flags: cannot turn on global flag', at);
    if (c === '-') {
      c = this.src[this.pos++];
      if (c === undefined) this.fail('missing flag', at);
      if (!FLAG_CHARS.includes(c)) this.fail('unknown flag', this.pos - 1);
      for (;;) {
        if (c === 'a' || c === 'u' || c === 'L') this.fail("bad inline flags: cannot turn off flags 'a', 'u' and 'L'", at);
        del.add(c);
        c = this.src[this.pos++];
        if (c === undefined) this.fail('missing :', at);
        if (c === ':') break;
        if (!FLAG_CHARS.includes(c)) this.fail('unknown flag', this.pos - 1);
      }
    }
    for (const f of add) if (del.has(f)) this.fail('bad inline flags: flag turned on and off', at);
    const on = (f: Flags, k: keyof Flags): boolean => (add.has(k) ? true : del.has(k) ? false : f[k]);
    return (f) => ({ i: on(f, 'i'), m: on(f, 'm'), s: on(f, 's'), x: on(f, 'x'), a: f.a || add.has('a') });
  }

  /** Hex digits after \x, \u, \U: exactly `n` of them. */
  private hexEscape(esc: string, n: number, at: number): number {
    let digits = '';
    while (digits.length < n && HEX.test(this.src[this.pos] ?? '')) digits += this.src[this.pos++];
    if (digits.length !== n) this.fail(`incomplete escape ${esc}${digits}`, at);
    const cp = parseInt(digits, 16);
    if (cp > 0x10ffff) this.fail(`bad escape ${esc}${digits}`, at);
    return cp;
  }

  private namedEscape(at: number): number {
    if (this.src[this.pos] !== '{') this.fail('missing {', at);
    const end = this.src.indexOf('}', this.pos);
    if (end < 0) this.fail('missing }, unterminated name', at);
    const name = this.src.slice(this.pos + 1, end);
    this.pos = end + 1;
    // Node has no Unicode name table; the few names a log filter could want are here.
    const known: Record<string, number> = {
      SPACE: 0x20,
      'NO-BREAK SPACE': 0xa0,
      'LINE FEED': 0x0a,
      'CARRIAGE RETURN': 0x0d,
      'CHARACTER TABULATION': 0x09,
      'EM DASH': 0x2014,
      'EN DASH': 0x2013,
      'ZERO WIDTH SPACE': 0x200b,
      'BYTE ORDER MARK': 0xfeff,
      'ZERO WIDTH NO-BREAK SPACE': 0xfeff,
      'REPLACEMENT CHARACTER': 0xfffd,
    };
    const cp = known[name.toUpperCase()];
    if (cp === undefined) this.fail(`undefined (for Warden) character name '${name}'`, at);
    return cp;
  }

  private escape(t: string, flags: Flags, at: number): PyNode {
    const c = t[1] as string;
    switch (c) {
      case 'A':
        return { kind: 'assert', what: 'start', ascii: flags.a };
      case 'Z':
        return { kind: 'assert', what: 'end', ascii: flags.a };
      case 'b':
        return { kind: 'assert', what: 'wordBoundary', ascii: flags.a };
      case 'B':
        return { kind: 'assert', what: 'notWordBoundary', ascii: flags.a };
      case 'd':
      case 'w':
      case 's':
        return { kind: 'class', cls: c, negate: false, ascii: flags.a };
      case 'D':
      case 'W':
      case 'S':
        return { kind: 'class', cls: c.toLowerCase() as 'd' | 'w' | 's', negate: true, ascii: flags.a };
    }
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return { kind: 'char', cp: simple, ci: flags.i };
    if (c === 'x') return { kind: 'char', cp: this.hexEscape('\\x', 2, at), ci: flags.i };
    if (c === 'u') return { kind: 'char', cp: this.hexEscape('\\u', 4, at), ci: flags.i };
    if (c === 'U') return { kind: 'char', cp: this.hexEscape('\\U', 8, at), ci: flags.i };
    if (c === 'N') return { kind: 'char', cp: this.namedEscape(at), ci: flags.i };
    if (c === '0') {
      let digits = '0';
      while (digits.length < 3 && OCT.test(this.src[this.pos] ?? '')) digits += this.src[this.pos++];
      return { kind: 'char', cp: parseInt(digits, 8), ci: flags.i };
    }
    if (DIGIT.test(c)) {
      // Octal escape (three octal digits) or a group reference, as sre decides.
      let digits = c;
      if (DIGIT.test(this.src[this.pos] ?? '')) {
        digits += this.src[this.pos++];
        if (OCT.test(digits[0] as string) && OCT.test(digits[1] as string) && OCT.test(this.src[this.pos] ?? '')) {
          digits += this.src[this.pos++];
          const cp = parseInt(digits, 8);
          if (cp > 0o377) this.fail(`octal escape value \\${digits} outside of range 0-0o377`, at);
          return { kind: 'char', cp, ci: flags.i };
        }
      }
      const index = Number(digits);
      if (index > this.groupCount) this.fail(`invalid group reference ${index}`, at + 1);
      if (this.openGroups.has(index)) this.fail('cannot refer to an open group', at);
      return { kind: 'backref', index, ci: flags.i };
    }
    if (ASCII_LETTER.test(c)) this.fail(`bad escape ${t}`, at);
    return { kind: 'char', cp: t.codePointAt(1) as number, ci: flags.i };
  }

  /** An escape inside [...]: a code point, or a class escape. */
  private classEscape(t: string, flags: Flags, at: number): number | ClassEscape {
    const c = t[1] as string;
    if (c === 'b') return 8;
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return simple;
    switch (c) {
      case 'd':
      case 'w':
      case 's':
        return { kind: 'class', cls: c, negate: false, ascii: flags.a };
      case 'D':
      case 'W':
      case 'S':
        return { kind: 'class', cls: c.toLowerCase() as 'd' | 'w' | 's', negate: true, ascii: flags.a };
    }
    if (c === 'x') return this.hexEscape('\\x', 2, at);
    if (c === 'u') return this.hexEscape('\\u', 4, at);
    if (c === 'U') return this.hexEscape('\\U', 8, at);
    if (c === 'N') return this.namedEscape(at);
    if (OCT.test(c)) {
      let digits = c;
      while (digits.length < 3 && OCT.test(this.src[this.pos] ?? '')) digits += this.src[this.pos++];
      const cp = parseInt(digits, 8);
      if (cp > 0o377) this.fail(`octal escape value \\${digits} outside of range 0-0o377`, at);
      return cp;
    }
    if (DIGIT.test(c) || ASCII_LETTER.test(c)) this.fail(`bad escape ${t}`, at);
    return t.codePointAt(1) as number;
  }

  private parseClass(flags: Flags, at: number): PyNode {
    const items: SetItem[] = [];
    const negate = this.matchToken('^');
    for (;;) {
      const tAt = this.pos;
      const t = this.getToken();
      if (t === undefined) this.fail('unterminated character set', at);
      if (t === ']' && items.length > 0) break;
      const code1 = t[0] === '\\' ? this.classEscape(t, flags, tAt) : (t.codePointAt(0) as number);
      if (this.matchToken('-')) {
        const t2At = this.pos;
        const t2 = this.getToken();
        if (t2 === undefined) this.fail('unterminated character set', at);
        if (t2 === ']') {
          items.push(typeof code1 === 'number' ? { kind: 'range', lo: code1, hi: code1 } : code1);
          items.push({ kind: 'range', lo: 45, hi: 45 });
          break;
        }
        const code2 = t2[0] === '\\' ? this.classEscape(t2, flags, t2At) : (t2.codePointAt(0) as number);
        if (typeof code1 !== 'number' || typeof code2 !== 'number') this.fail(`bad character range ${t}-${t2}`, tAt);
        if (code2 < code1) this.fail(`bad character range ${t}-${t2}`, tAt);
        items.push({ kind: 'range', lo: code1, hi: code2 });
      } else {
        items.push(typeof code1 === 'number' ? { kind: 'range', lo: code1, hi: code1 } : code1);
      }
    }
    return { kind: 'set', negate, items, ci: flags.i };
  }
}

/**
 * Parses a Python `re` str pattern; `multiline` is `re.MULTILINE` given to re.compile.
 * @throws PyRegexError with Python's message and the position, for what `re.compile` rejects.
 */
export function parsePyRegex(pattern: string, options: { multiline?: boolean } = {}): ParsedPyRegex {
  return new Parser(pattern, options.multiline === true).parse();
}
