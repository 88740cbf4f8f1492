/**
 * @module engine/operators/pm
 * `@pm` and `@pmFromFile` (alias `@pmf`): does the value contain any of a list of phrases,
 * ignoring ASCII case? The phrases become an Aho–Corasick automaton at load, so a value is
 * read once, byte by byte, however many phrases there are. The phrases also give a screen
 * (an RE2 alternation), so @pm rules join engine/prescreen's groups with the @rx rules that
 * read the same values through the same transformations: one set pass for all of them.
 *
 * The phrase syntax is ModSecurity v2's (parse_pm_content): `|41 42|` hex bytes, `\"`
 * `\\` `\:` `\;` escapes, optional surrounding double quotes. For `@pm` the processed text
 * is then split on whitespace (quotes do not group words); for files each line is one
 * phrase, trimmed, with `#` comment lines and blank lines skipped.
 */
import { byteText } from '../regex/emit.js';
import { OperatorParamError, type MatchContext, type OperatorContext, type OperatorFactory } from './types.js';

/** C isspace in the C locale. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Cuts a C string at its first NUL: v2 copies processed phrases with strdup. */
function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** A string from char codes, in chunks (a spread of a long list would overflow the stack). */
function fromCodes(codes: readonly number[]): string {
  let s = '';
  for (let i = 0; i < codes.length; i += 4096) s += String.fromCharCode(...codes.slice(i, i + 4096));
  return s;
}

/**
 * ModSecurity v2's content syntax (parse_pm_content), shared by `@pm`, `@pmFromFile` and
 * `@strmatch`. Returns the processed bytes, or null where v2 reports an error: the content
 * is empty, or it uses an escape other than `\:` `\;` `\\` `\"`.
 *
 * Faithful to v2 in its corners: leading whitespace is dropped; surrounding quotes are
 * removed only when the (untrimmed) text ends with `"`; inside `|…|` pairs of hex digits
 * become bytes, spaces and other bytes are dropped; when nothing was converted or escaped
 * the text keeps its original length (so an unclosed `|` leaves the tail as written).
 */
export function parsePmContent(text: string): string | null {
  // v2 works on a C string copy.
  const content = cString(text);
  let offset = 0;
  while (offset < content.length && isSpace(content.charCodeAt(offset))) offset++;
  let parm: string;
  if (offset < content.length && content.charCodeAt(offset) === 0x22 && content.charCodeAt(content.length - 1) === 0x22) {
    // A lone `"` has nothing between its quotes.
    parm = content.length - offset >= 2 ? content.slice(offset + 1, content.length - 1) : '';
  } else {
    parm = content.slice(offset);
  }
  if (parm.length === 0) return null;

  // v2 rewrites the buffer in place: out[0, x) is written, the rest keeps the original.
  const out: number[] = [];
  let converted = false;
  let bin = false;
  let esc = false;
  let hexHigh = -1;
  for (let i = 0; i < parm.length; i++) {
    const c = parm.charCodeAt(i);
    if (c === 0x7c /* | */) {
      bin = !bin;
    } else if (!esc && c === 0x5c /* \ */) {
      esc = true;
    } else if (bin) {
      if (isHexDigit(c)) {
        if (hexHigh < 0) {
          hexHigh = parseInt(parm[i] as string, 16);
        } else {
          out.push((hexHigh << 4) | parseInt(parm[i] as string, 16));
          hexHigh = -1;
          converted = true;
        }
      }
      // Anything else inside |…| (spaces included) is dropped.
    } else if (esc) {
      if (c === 0x3a || c === 0x3b || c === 0x5c || c === 0x22) out.push(c);
      else return null;
      esc = false;
      converted = true;
    } else {
      out.push(c);
    }
  }
  const written = fromCodes(out);
  return converted ? written : written + parm.slice(written.length);
}

/** Folds ASCII upper case to lower case, byte by byte (acmp uses tolower in the C locale). */
const FOLD = new Uint8Array(256);
for (let b = 0; b < 256; b++) FOLD[b] = b >= 0x41 && b <= 0x5a ? b + 0x20 : b;

/** A compiled phrase list. */
export interface PhraseMatcher {
  /**
   * End offset (exclusive) of the first place in `input` where some phrase ends, or -1.
   * `lastLength` then gives that phrase's length.
   */
  findEnd(input: string): number;
  /** Length of the longest phrase ending at the position `findEnd` last returned. */
  readonly lastLength: number;
  /** Number of automaton states (for tests and sizing). */
  readonly states: number;
  /** True when the automaton is a full transition table (the fast form). */
  readonly dense: boolean;
}

/** Above this many table cells (states × byte classes) the automaton stays sparse. */
const DENSE_CELL_LIMIT = 1 << 22;

/**
 * Builds an Aho–Corasick automaton for `phrases`, matching ASCII case-insensitively.
 * Small automata (most rule lists) become a full DFA over byte classes: one table lookup
 * per input byte. Huge lists keep a sparse trie with failure links, still linear time.
 */
export function compilePhrases(phrases: readonly string[], denseCellLimit = DENSE_CELL_LIMIT): PhraseMatcher {
  // 1. The trie. Children are kept in one map keyed by state * 256 + byte during the build.
  const child = new Map<number, number>();
  const depth: number[] = [0];
  const terminal: boolean[] = [false];
  const used = new Uint8Array(256);
  for (const phrase of phrases) {
    if (phrase.length === 0) continue;
    let s = 0;
    for (let i = 0; i < phrase.length; i++) {
      const b = FOLD[phrase.charCodeAt(i) & 0xff] as number;
      used[b] = 1;
      const key = s * 256 + b;
      let t = child.get(key);
      if (t === undefined) {
        t = depth.length;
        depth.push((depth[s] as number) + 1);
        terminal.push(false);
        child.set(key, t);
      }
      s = t;
    }
    terminal[s] = true;
  }
  const states = depth.length;

  // 2. Byte classes: each byte that occurs in a phrase is its own class (case folded);
  //    every other byte is class 0, which leads back towards the root.
  const classOf = new Uint8Array(256);
  const classByte: number[] = [-1];
  for (let b = 0; b < 256; b++) {
    if (used[b] === 1) {
      classOf[b] = classByte.length;
      classByte.push(b);
    }
  }
  const classes = classByte.length;
  const byteClass = new Uint8Array(256);
  for (let b = 0; b < 256; b++) byteClass[b] = classOf[FOLD[b] as number] as number;

  // 3. Failure links and outputs, breadth first. `out[s]` is the length of the longest
  //    phrase that ends at state s (its own, else the one its failure chain reaches).
  const fail = new Int32Array(states);
  const out = new Int32Array(states);
  const order: number[] = [0];
  const childrenOf: number[][] = Array.from({ length: states }, () => []);
  for (const [key, t] of child) childrenOf[Math.floor(key / 256)]?.push(key % 256, t);
  for (let q = 0; q < order.length; q++) {
    const s = order[q] as number;
    const kids = childrenOf[s] as number[];
    for (let k = 0; k < kids.length; k += 2) {
      const b = kids[k] as number;
      const t = kids[k + 1] as number;
      if (s !== 0) {
        let f = fail[s] as number;
        for (;;) {
          const next = child.get(f * 256 + b);
          if (next !== undefined) {
            fail[t] = next;
            break;
          }
          if (f === 0) {
            fail[t] = 0;
            break;
          }
          f = fail[f] as number;
        }
      }
      out[t] = terminal[t] ? (depth[t] as number) : (out[fail[t] as number] as number);
      order.push(t);
    }
  }

  if (states * classes <= denseCellLimit) return denseMatcher(states, classes, byteClass, classOf, childrenOf, fail, out, order);
  return sparseMatcher(states, childrenOf, fail, out);
}

function denseMatcher(
  states: number,
  classes: number,
  byteClass: Uint8Array,
  classOf: Uint8Array,
  childrenOf: readonly number[][],
  fail: Int32Array,
  out: Int32Array,
  order: readonly number[],
): PhraseMatcher {
  // Renumber so that states where a phrase ends come last, and store each target as the
  // start of its row (id × classes): the scan is then one load and one compare per byte.
  // A table too large for row starts in 16 bits but with at most 65,536 states stores
  // state numbers in 16 bits instead, and multiplies per byte (CRS's largest list, as row
  // starts in 32 bits, took 13 MB a worker; scanning 900 KB with each of CRS's phrase
  // files took 1-2 % longer in all this way).
  const id = new Int32Array(states);
  let next = 0;
  for (const s of order) if (out[s] === 0) id[s] = next++;
  const matchFrom = next;
  for (const s of order) if (out[s] !== 0) id[s] = next++;
  const lengthOf = new Int32Array(states);
  for (let s = 0; s < states; s++) lengthOf[id[s] as number] = out[s] as number;

  const cells = states * classes;
  const byNumber = cells > 0x10000 && states <= 0x10000;
  const unit = byNumber ? 1 : classes;
  const delta = cells <= 0x10000 || byNumber ? new Uint16Array(cells) : new Uint32Array(cells);
  // A state's row is its failure state's row with its own trie edges written over it; in
  // breadth-first order the failure state's row is complete by then. The root's row is
  // its edges and zeros (the root itself) elsewhere, class 0 included: a byte in no
  // phrase always leads back to the root.
  for (const s of order) {
    const row = (id[s] as number) * classes;
    if (s !== 0) {
      const failRow = (id[fail[s] as number] as number) * classes;
      delta.copyWithin(row, failRow, failRow + classes);
    }
    const kids = childrenOf[s] as number[];
    for (let k = 0; k < kids.length; k += 2) {
      delta[row + (classOf[kids[k] as number] as number)] = (id[kids[k + 1] as number] as number) * unit;
    }
  }
  const rowFrom = matchFrom * classes;
  const matcher = {
    lastLength: 0,
    states,
    dense: true,
    findEnd: byNumber
      ? (input: string): number => {
          let state = 0;
          for (let i = 0; i < input.length; i++) {
            state = delta[state * classes + (byteClass[input.charCodeAt(i) & 0xff] as number)] as number;
            if (state >= matchFrom) {
              matcher.lastLength = lengthOf[state] as number;
              return i + 1;
            }
          }
          return -1;
        }
      : (input: string): number => {
          let row = 0;
          for (let i = 0; i < input.length; i++) {
            row = delta[row + (byteClass[input.charCodeAt(i) & 0xff] as number)] as number;
            if (row >= rowFrom) {
              matcher.lastLength = lengthOf[row / classes] as number;
              return i + 1;
            }
          }
          return -1;
        },
  };
  return matcher;
}

function sparseMatcher(states: number, childrenOf: readonly number[][], fail: Int32Array, out: Int32Array): PhraseMatcher {
  // Edges in compressed rows: the labels of state s are labels[first[s], first[s + 1]).
  const first = new Int32Array(states + 1);
  let edges = 0;
  for (let s = 0; s < states; s++) {
    first[s] = edges;
    edges += (childrenOf[s] as number[]).length / 2;
  }
  first[states] = edges;
  const labels = new Uint8Array(edges);
  const targets = new Int32Array(edges);
  for (let s = 0; s < states; s++) {
    const kids = childrenOf[s] as number[];
    const pairs: [number, number][] = [];
    for (let k = 0; k < kids.length; k += 2) pairs.push([kids[k] as number, kids[k + 1] as number]);
    pairs.sort((a, b) => a[0] - b[0]);
    let e = first[s] as number;
    for (const [b, t] of pairs) {
      labels[e] = b;
      targets[e++] = t;
    }
  }
  // The root is visited most: give it a full table.
  const rootNext = new Int32Array(256);
  for (let e = first[0] as number; e < (first[1] as number); e++) rootNext[labels[e] as number] = targets[e] as number;

  const step = (s: number, b: number): number => {
    let lo = first[s] as number;
    let hi = (first[s + 1] as number) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const l = labels[mid] as number;
      if (l === b) return targets[mid] as number;
      if (l < b) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };

  const matcher = {
    lastLength: 0,
    states,
    dense: false,
    findEnd(input: string): number {
      let s = 0;
      for (let i = 0; i < input.length; i++) {
        const b = FOLD[input.charCodeAt(i) & 0xff] as number;
        // Each failure step moves to a shallower state, so this is amortised linear.
        for (;;) {
          if (s === 0) {
            s = rootNext[b] as number;
            break;
          }
          const t = step(s, b);
          if (t >= 0) {
            s = t;
            break;
          }
          s = fail[s] as number;
        }
        const len = out[s] as number;
        if (len !== 0) {
          matcher.lastLength = len;
          return i + 1;
        }
      }
      return -1;
    },
  };
  return matcher;
}

/** Above this many pattern chars a phrase list gets no screen (RE2 would spend memory on it). */
const SCREEN_MAX_CHARS = 1 << 17;

/**
 * The phrases as an RE2 pattern (engine/prescreen) that matches whenever the automaton
 * would: an alternation of the phrases with ASCII letters as `[aA]`, every other byte as
 * engine/regex/emit writes one (a digit as itself, else `\xHH`). Null for an empty list
 * or a very long one.
 */
export function phraseScreen(phrases: readonly string[]): string | null {
  const alts: string[] = [];
  let size = 0;
  for (const phrase of phrases) {
    if (phrase.length === 0) continue;
    let alt = '';
    for (let i = 0; i < phrase.length; i++) {
      const b = phrase.charCodeAt(i) & 0xff;
      const lower = FOLD[b] as number;
      alt += lower >= 0x61 && lower <= 0x7a ? `[${String.fromCharCode(lower - 0x20)}${String.fromCharCode(lower)}]` : byteText(b);
    }
    size += alt.length + 1;
    if (size > SCREEN_MAX_CHARS) return null;
    alts.push(alt);
  }
  return alts.length === 0 ? null : alts.join('|');
}

/**
 * Compiled phrase lists by their phrases: CRS gives several rules the same file (each
 * automaton up to megabytes, in every worker). Cleared when full (a reload with other
 * lists does not grow it without bound); a matcher is only read, so sharing one is safe.
 */
const compiled = new Map<string, { matcher: PhraseMatcher; screen: string | null }>();
const COMPILED_LIMIT = 256;

function phraseOperator(phrases: string[]): ReturnType<OperatorFactory> {
  // A phrase may hold any byte (`|0a|` in a file is a newline): the list as JSON is unambiguous.
  const key = JSON.stringify(phrases);
  let entry = compiled.get(key);
  if (entry === undefined) {
    if (compiled.size >= COMPILED_LIMIT) compiled.clear();
    entry = { matcher: compilePhrases(phrases), screen: phraseScreen(phrases) };
    compiled.set(key, entry);
  }
  const { matcher } = entry;
  return {
    screen: entry.screen,
    evaluate(input: string, m: MatchContext): boolean {
      // v2: "Nothing to read".
      if (input.length === 0) return false;
      const end = matcher.findEnd(input);
      if (end < 0) return false;
      // TX:0 is the phrase as the input wrote it (its case), not as the list did.
      if (m.capturing) m.capture(0, input.slice(end - matcher.lastLength, end));
      return true;
    },
  };
}

/** Splits on C whitespace, dropping empty words. */
function words(text: string): string[] {
  const result: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    const start = i;
    while (i < text.length && !isSpace(text.charCodeAt(i))) i++;
    if (i > start) result.push(text.slice(start, i));
  }
  return result;
}

/**
 * `@pm phrase phrase …`. As in v2, when the content syntax is invalid (an unknown escape)
 * the parameter is used as written rather than refused.
 */
export const pm: OperatorFactory = (param) => {
  if (param.length === 0) throw new OperatorParamError('@pm needs a space-separated list of phrases');
  const text = cString(parsePmContent(param) ?? param);
  const phrases = words(text);
  if (phrases.length === 0) throw new OperatorParamError('@pm needs a space-separated list of phrases; none were given');
  return phraseOperator(phrases);
};

/** The phrases of one file, as v2 reads them (see the module comment). */
export function parsePhraseFile(text: string): string[] {
  const phrases: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    end = end < 0 ? text.length : end + 1;
    // v2 hands the line to parse_pm_content with its newline, so quotes are only removed
    // from a last line that has none; the line is a C string, cut at a NUL.
    const line = cString(text.slice(start, end));
    start = end;
    const processed = cString(parsePmContent(line) ?? line);
    let a = 0;
    let b = processed.length;
    while (a < b && isSpace(processed.charCodeAt(a))) a++;
    while (b > a && isSpace(processed.charCodeAt(b - 1))) b--;
    if (a === b || processed.charCodeAt(a) === 0x23 /* # */) continue;
    // v2 also drops one-byte phrases here (an off-by-one in its trimming); we keep them,
    // as ModSecurity v3 does, rather than silently ignore a line of the file.
    phrases.push(processed.slice(a, b));
  }
  return phrases;
}

/** `@pmFromFile file [file …]`: phrases from files, paths relative to the rule file. */
export const pmFromFile: OperatorFactory = (param, ctx: OperatorContext) => {
  const files = words(param);
  if (files.length === 0) throw new OperatorParamError('@pmFromFile needs the path of a phrase file');
  const phrases: string[] = [];
  for (const file of files) {
    if (/^https?:\/\//i.test(file)) {
      throw new OperatorParamError(`@pmFromFile reads local files only; download "${file}" and give its path`);
    }
    let text: string;
    try {
      text = ctx.readFile(file);
    } catch (err) {
      throw new OperatorParamError(`could not read phrase file "${file}": ${(err as Error).message}`);
    }
    for (const p of parsePhraseFile(text)) phrases.push(p);
  }
  // Files with no phrases are allowed (v2 loads them); the rule then never matches.
  return phraseOperator(phrases);
};
