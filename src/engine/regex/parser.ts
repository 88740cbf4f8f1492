/**
 * @module engine/regex/parser
 * PCRE pattern → AST, as PCRE reads a pattern without UTF-8 mode: every pattern character
 * is a byte, `\x{..}` may not exceed 0xff, classes and case folding use the C locale.
 * Errors name the offset and say what to change.
 */
import { alt, EMPTY, seq, type AssertKind, type Node, type ParsedPattern } from './ast.js';
import {
  addAll,
  addByte,
  addRange,
  ANY,
  ANY_BUT_NEWLINE,
  complement,
  DIGIT,
  emptySet,
  foldCase,
  interned,
  HSPACE,
  NEWLINE,
  POSIX_CLASSES,
  setOf,
  SPACE,
  VSPACE,
  WORD,
  type ByteSet,
} from './byteset.js';
import { RegexSyntaxError } from './errors.js';

/** The options PCRE is called with (PCRE_CASELESS, PCRE_DOTALL, …). */
export interface PatternFlags {
  readonly caseless?: boolean;
  readonly dotAll?: boolean;
  readonly multiline?: boolean;
  readonly extended?: boolean;
  readonly dollarEndOnly?: boolean;
  readonly ungreedy?: boolean;
}

interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
  x: boolean;
  U: boolean;
  n: boolean;
}

/** PCRE's limit on a `{n,m}` bound. */
const MAX_REPEAT = 65535;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isOctal = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '7';
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);
const isWordChar = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

interface PendingRef {
  readonly offset: number;
  readonly name: string | undefined;
  readonly number: number;
  readonly caseless: boolean;
  node: { kind: 'backref'; index: number; caseless: boolean };
}

class Parser {
  private pos = 0;
  private groupCount = 0;
  private readonly names = new Map<string, number>();
  private readonly refs: PendingRef[] = [];
  private readonly dollarEndOnly: boolean;
  /** The last atom was a \Q…\E run. */
  private quoted = false;

  constructor(
    private readonly src: string,
    flags: PatternFlags,
  ) {
    this.dollarEndOnly = flags.dollarEndOnly ?? false;
    for (let i = 0; i < src.length; i++) {
      if (src.charCodeAt(i) > 0xff) {
        throw new RegexSyntaxError(
          `character U+${src.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')} is not a byte: rule patterns are byte strings (write \\xHH for each byte)`,
          i,
        );
      }
    }
  }

  parse(flags: PatternFlags): ParsedPattern {
    const f: Flags = {
      i: flags.caseless ?? false,
      s: flags.dotAll ?? false,
      m: flags.multiline ?? false,
      x: flags.extended ?? false,
      U: flags.ungreedy ?? false,
      n: false,
    };
    this.skipStartVerbs();
    const ast = this.parseAlternation(f);
    if (this.pos < this.src.length) {
      // Only an unmatched ')' stops the top level early.
      throw this.error('unmatched closing parenthesis: remove it or escape it as \\)', this.pos);
    }
    for (const r of this.refs) {
      let index = r.number;
      if (r.name !== undefined) {
        const n = this.names.get(r.name);
        if (n === undefined) throw this.error(`reference to non-existent group name "${r.name}"`, r.offset);
        index = n;
      }
      if (index > this.groupCount || index <= 0) {
        throw this.error(`reference to non-existent group ${index}: the pattern has ${this.groupCount} capturing group(s)`, r.offset);
      }
      r.node.index = index;
    }
    return { ast, groupCount: this.groupCount, names: this.names };
  }

  private error(msg: string, offset = this.pos): RegexSyntaxError {
    return new RegexSyntaxError(`${msg} (at offset ${offset})`, offset);
  }

  private peek(k = 0): string | undefined {
    return this.src[this.pos + k];
  }

  private skipStartVerbs(): void {
    const m = /^\(\*([A-Z_]+)(?:=\d+)?\)/.exec(this.src.slice(this.pos));
    if (m !== null) {
      throw this.error(`start-of-pattern option (*${m[1] ?? ''}) is not supported: ModSecurity matches bytes without UTF or newline conventions`, this.pos);
    }
  }

  /** In (?x) mode, skips white space and #-comments. */
  private skipExtended(f: Flags): void {
    if (!f.x) return;
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
        this.pos++;
      } else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else {
        return;
      }
    }
  }

  private parseAlternation(f: Flags): Node {
    const alts: Node[] = [this.parseSequence(f)];
    while (this.peek() === '|') {
      this.pos++;
      alts.push(this.parseSequence(f));
    }
    return alt(alts);
  }

  private parseSequence(f: Flags): Node {
    const items: Node[] = [];
    for (;;) {
      this.skipExtended(f);
      const c = this.peek();
      if (c === undefined || c === '|' || c === ')') break;
      const atomStart = this.pos;
      const atom = this.parseAtom(f);
      if (atom === null) continue; // a comment, a flag setting or \E: nothing to add
      if (this.quoted && atom.kind === 'seq') {
        // A quantifier after \Q…\E repeats only its last character, as PCRE reads it.
        this.quoted = false;
        items.push(...atom.items.slice(0, -1));
        items.push(this.parseQuantifiers(atom.items[atom.items.length - 1] as Node, f, atomStart));
        continue;
      }
      this.quoted = false;
      items.push(this.parseQuantifiers(atom, f, atomStart));
    }
    return seq(items);
  }

  private parseQuantifiers(atom: Node, f: Flags, atomStart: number): Node {
    this.skipExtended(f);
    const q = this.readQuantifier();
    if (q === null) return atom;
    if (atom.kind === 'assert' && this.src[atomStart] !== '(') {
      throw this.error('quantifier does not follow a repeatable item (an anchor or \\b cannot be repeated)', q.offset);
    }
    let greedy = !f.U;
    let possessive = false;
    if (this.peek() === '?') {
      this.pos++;
      greedy = f.U;
    } else if (this.peek() === '+') {
      this.pos++;
      possessive = true;
      greedy = true;
    }
    this.skipExtended(f);
    const again = this.pos;
    if (this.readQuantifier() !== null) {
      throw this.error('quantifier does not follow a repeatable item (a quantifier cannot be quantified: use (?:…) around it)', again);
    }
    if (atom.kind === 'look') {
      // PCRE: a repeated assertion is either optional ({0,…}) or matched once.
      return q.min === 0 ? EMPTY : atom;
    }
    return { kind: 'repeat', min: q.min, max: q.max, greedy, possessive, body: atom };
  }

  private readQuantifier(): { min: number; max: number; offset: number } | null {
    const offset = this.pos;
    const c = this.peek();
    if (c === '*') {
      this.pos++;
      return { min: 0, max: Infinity, offset };
    }
    if (c === '+') {
      this.pos++;
      return { min: 1, max: Infinity, offset };
    }
    if (c === '?') {
      this.pos++;
      return { min: 0, max: 1, offset };
    }
    if (c === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.src.slice(this.pos, this.pos + 32));
      if (m === null) return null; // not a quantifier: `{` is a literal
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) {
        throw this.error(`number too big in {} quantifier (PCRE allows at most ${MAX_REPEAT})`, offset);
      }
      if (max < min) throw this.error('numbers out of order in {} quantifier', offset);
      this.pos += m[0].length;
      return { min, max, offset };
    }
    return null;
  }

  private parseAtom(f: Flags): Node | null {
    const start = this.pos;
    const c = this.src[this.pos++] as string;
    switch (c) {
      case '(':
        return this.parseGroup(f, start);
      case '[':
        return { kind: 'set', set: interned(this.parseClass(f, start)) };
      case '.':
        return { kind: 'set', set: interned(f.s ? ANY : ANY_BUT_NEWLINE) };
      case '^':
        return { kind: 'assert', what: f.m ? 'lineStart' : 'start' };
      case '$':
        return { kind: 'assert', what: f.m ? 'lineEnd' : this.dollarEndOnly ? 'end' : 'endZ' };
      case '\\':
        return this.parseEscape(f, start);
      case '*':
      case '+':
      case '?':
        throw this.error('quantifier does not follow a repeatable item: escape it (\\' + c + ') to match it literally', start);
      case '{':
        if (/^\{\d+(?:,\d*)?\}/.test(this.src.slice(start, start + 32))) {
          throw this.error('quantifier does not follow a repeatable item: escape it (\\{) to match it literally', start);
        }
        return this.literal(c.charCodeAt(0), f);
      default:
        return this.literal(c.charCodeAt(0), f);
    }
  }

  private literal(b: number, f: Flags): Node {
    const set = setOf(b);
    return { kind: 'set', set: interned(f.i ? foldCase(set) : set) };
  }

  private literalString(s: string, f: Flags): Node {
    return seq(Array.from(s, (ch) => this.literal(ch.charCodeAt(0), f)));
  }

  private parseGroup(f: Flags, start: number): Node | null {
    if (this.peek() === '*') {
      throw this.error('backtracking control verbs (*VERB) are not supported', start);
    }
    if (this.peek() !== '?') {
      // A plain group: capturing unless (?n) is in force.
      if (f.n) return this.groupBody(f, start, (body) => body);
      const index = ++this.groupCount;
      return this.groupBody(f, start, (body) => ({ kind: 'group', index, name: undefined, body }));
    }
    this.pos++; // '?'
    const c = this.peek();
    const rest = this.src.slice(this.pos);
    if (c === '#') {
      const end = this.src.indexOf(')', this.pos);
      if (end < 0) throw this.error('missing ) after (?# comment', start);
      this.pos = end + 1;
      return null;
    }
    if (c === ':') {
      this.pos++;
      return this.groupBody(f, start, (body) => body);
    }
    if (c === '>') {
      this.pos++;
      return this.groupBody(f, start, (body) => ({ kind: 'atomic', body }));
    }
    if (c === '=' || c === '!') {
      this.pos++;
      const negate = c === '!';
      return this.groupBody(f, start, (body) => ({ kind: 'look', behind: false, negate, body }));
    }
    if (rest.startsWith('<=') || rest.startsWith('<!')) {
      const negate = rest[1] === '!';
      this.pos += 2;
      return this.groupBody(f, start, (body) => ({ kind: 'look', behind: true, negate, body }));
    }
    const named = /^(?:P?<([A-Za-z_][A-Za-z0-9_]*)>|'([A-Za-z_][A-Za-z0-9_]*)')/.exec(rest);
    if (named !== null) {
      const name = (named[1] ?? named[2]) as string;
      if (this.names.has(name)) throw this.error(`two named groups have the same name "${name}"`, start);
      this.pos += named[0].length;
      const index = ++this.groupCount;
      this.names.set(name, index);
      return this.groupBody(f, start, (body) => ({ kind: 'group', index, name, body }));
    }
    const pref = /^P=([A-Za-z_][A-Za-z0-9_]*)\)/.exec(rest);
    if (pref !== null) {
      this.pos += pref[0].length;
      return this.backref(start, pref[1], 0, f);
    }
    if (c === '|') throw this.error('branch reset groups (?|…) are not supported', start);
    if (c === '(') throw this.error('conditional groups (?(…)…) are not supported', start);
    if (c === 'R' || c === '&' || isDigit(c) || ((c === '+' || c === '-') && isDigit(this.peek(1))) || rest.startsWith('P>')) {
      throw this.error('recursion and subroutine calls ((?R), (?1), (?&name)) are not supported', start);
    }
    if (c === 'C') throw this.error('callouts (?C) are not supported', start);
    if (c === '<' || c === 'P' || c === "'") throw this.error('invalid group name: use (?<name>…) with letters, digits and _', start);
    // Option settings: (?imsxUn-imsxUn) or (?^…), alone or as (?flags:…)
    const opts = /^(\^)?([imsxUnJ]*)(?:-([imsxUnJ]*))?([:)])/.exec(rest);
    if (opts === null) {
      throw this.error(`unrecognized character after (? : "${c ?? ''}"`, this.pos);
    }
    this.pos += opts[0].length;
    const apply = (target: Flags): void => {
      if (opts[1] !== undefined) {
        target.i = target.m = target.n = target.s = target.x = target.U = false;
      }
      for (const ch of opts[2] ?? '') this.setFlag(target, ch, true);
      for (const ch of opts[3] ?? '') this.setFlag(target, ch, false);
    };
    if (opts[4] === ')') {
      // (?i): changes the flags for the rest of the enclosing group, later branches included.
      apply(f);
      return null;
    }
    const inner: Flags = { ...f };
    apply(inner);
    return this.groupBodyWith(inner, start, (body) => body);
  }

  private setFlag(f: Flags, ch: string, on: boolean): void {
    switch (ch) {
      case 'i':
        f.i = on;
        break;
      case 'm':
        f.m = on;
        break;
      case 's':
        f.s = on;
        break;
      case 'x':
        f.x = on;
        break;
      case 'U':
        f.U = on;
        break;
      case 'n':
        f.n = on;
        break;
      default:
        break; // J (duplicate names) changes nothing we support
    }
  }

  private groupBody(f: Flags, start: number, make: (body: Node) => Node): Node {
    return this.groupBodyWith({ ...f }, start, make);
  }

  private groupBodyWith(inner: Flags, start: number, make: (body: Node) => Node): Node {
    const body = this.parseAlternation(inner);
    if (this.peek() !== ')') throw this.error('missing closing parenthesis for the group opened here', start);
    this.pos++;
    return make(body);
  }

  private backref(offset: number, name: string | undefined, number: number, f: Flags): Node {
    const node = { kind: 'backref' as const, index: number, caseless: f.i };
    this.refs.push({ offset, name, number, caseless: f.i, node });
    return node;
  }

  private parseEscape(f: Flags, start: number): Node | null {
    const c = this.src[this.pos];
    if (c === undefined) throw this.error('\\ at end of pattern: escape it as \\\\ to match a backslash', start);
    this.pos++;
    switch (c) {
      case 'd':
        return { kind: 'set', set: interned(DIGIT) };
      case 'D':
        return { kind: 'set', set: interned(complement(DIGIT)) };
      case 'w':
        return { kind: 'set', set: interned(WORD) };
      case 'W':
        return { kind: 'set', set: interned(complement(WORD)) };
      case 's':
        return { kind: 'set', set: interned(SPACE) };
      case 'S':
        return { kind: 'set', set: interned(complement(SPACE)) };
      case 'h':
        return { kind: 'set', set: interned(HSPACE) };
      case 'H':
        return { kind: 'set', set: interned(complement(HSPACE)) };
      case 'v':
        return { kind: 'set', set: interned(VSPACE) };
      case 'V':
        return { kind: 'set', set: interned(complement(VSPACE)) };
      case 'N':
        if (this.peek() === '{' && !/^\{\d+(?:,\d*)?\}/.test(this.src.slice(this.pos, this.pos + 32))) {
          throw this.error('\\N{name} is not supported', start);
        }
        return { kind: 'set', set: interned(complement(NEWLINE)) };
      case 'R':
        // A newline sequence, atomically: CRLF is never split.
        return {
          kind: 'atomic',
          body: alt([seq([{ kind: 'set', set: interned(setOf(0x0d)) }, { kind: 'set', set: interned(setOf(0x0a)) }]), { kind: 'set', set: interned(setOf([0x0a, 0x0d], 0x85)) }]),
        };
      case 'b':
        return this.anchor('wordBoundary');
      case 'B':
        return this.anchor('notWordBoundary');
      case 'A':
        return this.anchor('start');
      case 'z':
        return this.anchor('end');
      case 'Z':
        return this.anchor('endZ');
      case 'G':
        return this.anchor('searchStart');
      case 'Q': {
        const end = this.src.indexOf('\\E', this.pos);
        const text = this.src.slice(this.pos, end < 0 ? undefined : end);
        this.pos = end < 0 ? this.src.length : end + 2;
        this.quoted = true;
        return text === '' ? null : this.literalString(text, f);
      }
      case 'E':
        return null;
      case 'k': {
        const m = /^(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|\{([A-Za-z_]\w*)\})/.exec(this.src.slice(this.pos));
        if (m === null) throw this.error('\\k must be followed by a group name in <>, \'\' or {}', start);
        this.pos += m[0].length;
        return this.backref(start, m[1] ?? m[2] ?? m[3], 0, f);
      }
      case 'g': {
        const rest = this.src.slice(this.pos);
        if (rest.startsWith('<') || rest.startsWith("'")) {
          throw this.error('subroutine calls \\g<…> are not supported', start);
        }
        const m = /^(?:\{(-?\d+)\}|(-?\d+)|\{([A-Za-z_]\w*)\})/.exec(rest);
        if (m === null) throw this.error('\\g must be followed by a number or a name in {}', start);
        this.pos += m[0].length;
        if (m[3] !== undefined) return this.backref(start, m[3], 0, f);
        let n = Number(m[1] ?? m[2]);
        if (n === 0) throw this.error('a back reference to group 0 is not allowed', start);
        if (n < 0) {
          n = this.groupCount + 1 + n;
          if (n <= 0) throw this.error('relative back reference points before the first group', start);
        }
        return this.backref(start, undefined, n, f);
      }
      case 'K':
        throw this.error('\\K (reset the match start) is not supported', start);
      case 'p':
      case 'P':
      case 'X':
        throw this.error(`\\${c} (Unicode properties) is not supported: ModSecurity matches bytes, write a class of byte values instead`, start);
      case 'C':
        throw this.error('\\C is not supported (it means "one byte", which is what . already matches here)', start);
      case 'L':
      case 'l':
      case 'U':
      case 'u':
        throw this.error(`PCRE does not support \\${c}`, start);
      default:
        break;
    }
    if (c >= '1' && c <= '9') {
      // PCRE: \1–\9 are always back references; \10 and up are when that many groups
      // precede, otherwise octal (if the digits allow it).
      let digits = c;
      while (isDigit(this.peek())) digits += this.src[this.pos++];
      const n = Number(digits);
      if (n < 10 || c === '8' || c === '9' || n <= this.groupCount) {
        return this.backref(start, undefined, n, f);
      }
      this.pos = start + 1;
      return this.literal(this.readOctal(), f);
    }
    this.pos--;
    const b = this.readCharEscape(start, false);
    return this.literal(b, f);
  }

  private anchor(what: AssertKind): Node {
    return { kind: 'assert', what };
  }

  /** Up to three octal digits at pos, as a byte. */
  private readOctal(): number {
    let v = 0;
    let k = 0;
    while (k < 3 && isOctal(this.peek())) {
      v = v * 8 + Number(this.src[this.pos++]);
      k++;
    }
    if (v > 0xff) throw this.error('octal value is greater than \\377 (not a byte)', this.pos - k - 1);
    return v;
  }

  /**
   * A backslash escape that stands for one byte; `pos` is just after the backslash.
   * Shared by the pattern and classes (`inClass` allows octal `\1`–`\7`).
   */
  private readCharEscape(start: number, inClass: boolean): number {
    const c = this.src[this.pos++] as string;
    switch (c) {
      case 'a':
        return 0x07;
      case 'e':
        return 0x1b;
      case 'f':
        return 0x0c;
      case 'n':
        return 0x0a;
      case 'r':
        return 0x0d;
      case 't':
        return 0x09;
      case '0':
        this.pos--;
        return this.readOctal();
      case 'o': {
        const m = /^\{([0-7]+)\}/.exec(this.src.slice(this.pos));
        if (m === null) throw this.error('\\o must be followed by octal digits in {}', start);
        this.pos += m[0].length;
        const v = parseInt(m[1] as string, 8);
        if (v > 0xff) throw this.error('character value in \\o{} is too large (patterns are bytes: at most \\o{377})', start);
        return v;
      }
      case 'x': {
        if (this.peek() === '{') {
          const m = /^\{([0-9a-fA-F]+)\}/.exec(this.src.slice(this.pos));
          if (m === null) throw this.error('\\x{ must be followed by hex digits and }', start);
          this.pos += m[0].length;
          const v = parseInt(m[1] as string, 16);
          if (v > 0xff) {
            throw this.error('character value in \\x{} is too large: without UTF-8 mode a pattern character is one byte (at most \\x{ff})', start);
          }
          return v;
        }
        let v = 0;
        let k = 0;
        while (k < 2 && isHex(this.peek())) {
          v = v * 16 + parseInt(this.src[this.pos++] as string, 16);
          k++;
        }
        return v;
      }
      case 'c': {
        const x = this.src[this.pos++];
        if (x === undefined || x.charCodeAt(0) < 0x20 || x.charCodeAt(0) > 0x7e) {
          throw this.error('\\c must be followed by a printable ASCII character', start);
        }
        return x.toUpperCase().charCodeAt(0) ^ 0x40;
      }
      default:
        break;
    }
    if (inClass && isOctal(c)) {
      this.pos--;
      return this.readOctal();
    }
    if (isWordChar(c)) {
      throw this.error(`unrecognized escape \\${c}: remove the backslash, or escape only punctuation`, start);
    }
    return c.charCodeAt(0);
  }

  private parseClass(f: Flags, start: number): ByteSet {
    const set = emptySet();
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.pos++;
    }
    let first = true;
    // Each item is a byte (may start a range) or a set (cannot).
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw this.error('missing terminating ] for character class', start);
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      const item = this.classItem(start);
      if (item === null) continue;
      if (typeof item !== 'number') {
        if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
          throw this.error('invalid range in character class: a range cannot start with a class like \\d (escape the hyphen)', this.pos);
        }
        addAll(set, item);
        continue;
      }
      // A range?
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        const save = this.pos;
        this.pos++;
        const hi = this.classItem(start);
        if (typeof hi === 'number') {
          if (hi < item) throw this.error('range out of order in character class', save - 1);
          addRange(set, item, hi);
          continue;
        }
        throw this.error('invalid range in character class: a range cannot end with a class like \\d (escape the hyphen)', save);
      }
      addByte(set, item);
    }
    const folded = f.i ? foldCase(set) : set;
    return negate ? complement(folded) : folded;
  }

  /** One class member: a byte, a set (\d, [:alpha:]), or null for nothing (\E, empty \Q\E). */
  private classItem(start: number): number | ByteSet | null {
    const c = this.src[this.pos++] as string;
    if (c === '[') {
      const m = /^([:.=])(\^?)([a-z]*)\1\]/.exec(this.src.slice(this.pos));
      if (m !== null) {
        if (m[1] !== ':') throw this.error('POSIX collating elements [.x.] and [=x=] are not supported', this.pos - 1);
        const cls = POSIX_CLASSES.get(m[3] as string);
        if (cls === undefined) throw this.error(`unknown POSIX class name [:${m[3] ?? ''}:]`, this.pos - 1);
        this.pos += m[0].length;
        return m[2] === '^' ? complement(cls) : cls;
      }
      return 0x5b;
    }
    if (c !== '\\') return c.charCodeAt(0);
    const e = this.peek();
    if (e === undefined) throw this.error('missing terminating ] for character class', start);
    switch (e) {
      case 'd':
        this.pos++;
        return DIGIT;
      case 'D':
        this.pos++;
        return complement(DIGIT);
      case 'w':
        this.pos++;
        return WORD;
      case 'W':
        this.pos++;
        return complement(WORD);
      case 's':
        this.pos++;
        return SPACE;
      case 'S':
        this.pos++;
        return complement(SPACE);
      case 'h':
        this.pos++;
        return HSPACE;
      case 'H':
        this.pos++;
        return complement(HSPACE);
      case 'v':
        this.pos++;
        return VSPACE;
      case 'V':
        this.pos++;
        return complement(VSPACE);
      case 'b':
        this.pos++;
        return 0x08;
      case 'E':
        this.pos++;
        return null;
      case 'Q': {
        this.pos++;
        const end = this.src.indexOf('\\E', this.pos);
        const text = this.src.slice(this.pos, end < 0 ? undefined : end);
        this.pos = end < 0 ? this.src.length : end + 2;
        if (text.length === 0) return null;
        const s = emptySet();
        for (const ch of text) addByte(s, ch.charCodeAt(0));
        return s;
      }
      case '8':
      case '9':
        this.pos++;
        return e.charCodeAt(0);
      case 'N':
      case 'R':
      case 'X':
      case 'B':
      case 'p':
      case 'P':
        throw this.error(`\\${e} is not allowed in a character class`, this.pos - 1);
      default:
        return this.readCharEscape(this.pos - 1, true);
    }
  }
}

/** Parses a PCRE pattern (bytes, one char each) under the given options. */
export function parsePattern(pattern: string, flags: PatternFlags = {}): ParsedPattern {
  return new Parser(pattern, flags).parse(flags);
}

/** `.` outside (?s), for callers that build nodes by hand. */
export const DOT_NO_NEWLINE = ANY_BUT_NEWLINE;
export const DOT_ALL = ANY;
