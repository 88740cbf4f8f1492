/**
 * @module seclang/lexer
 * Rule file text → directives (name and arguments), exactly as Apache reads a
 * ModSecurity v2 configuration: a backslash right before the end of a line joins the next
 * line to it (the backslash is dropped, the next line's indentation kept), leading and
 * trailing whitespace of the joined line is dropped, `#` starts a comment line, and
 * arguments are split on whitespace with `"…"` or `'…'` quoting, where a backslash escapes
 * only the quote character and itself.
 *
 * Text is handled as bytes (one char per byte), like everything that reaches a rule.
 */
import { RuleParseError, type RuleWarning, type SourceLocation } from './errors.js';

/** A piece of a logical line that came from one physical line. */
interface Segment {
  /** Offset of this piece in the logical line. */
  readonly start: number;
  /** 1-based physical line number. */
  readonly line: number;
  /** 1-based column of the piece's first char on its physical line. */
  readonly column: number;
}

/** A logical line: physical lines joined by continuation, with the map back to them. */
class LogicalLine {
  constructor(
    readonly file: string,
    readonly text: string,
    private readonly segments: readonly Segment[],
  ) {}

  /** Where the char at `offset` of the logical line sits in the file. */
  locate(offset: number): SourceLocation {
    let seg = this.segments[0] as Segment;
    for (const s of this.segments) {
      if (s.start > offset) break;
      seg = s;
    }
    return { file: this.file, line: seg.line, column: seg.column + (offset - seg.start) };
  }
}

/** One directive as written: its name, its arguments after unquoting, and their positions. */
export interface RawDirective {
  /** The name as written (case preserved). */
  readonly name: string;
  readonly args: readonly string[];
  /** Where the directive name starts. */
  readonly location: SourceLocation;
  /** Where char `charIndex` of argument `argIndex` (after unquoting) was in the file. */
  locate(argIndex: number, charIndex: number): SourceLocation;
}

/** An argument as it stood in the logical line, so positions can be recovered on demand. */
interface ArgSource {
  /** Offset of the first char of the argument's content (after an opening quote). */
  readonly start: number;
  /** The quote character, or '' for a bare word. */
  readonly quote: string;
}

class Directive implements RawDirective {
  constructor(
    readonly name: string,
    readonly args: readonly string[],
    readonly location: SourceLocation,
    private readonly line: LogicalLine,
    private readonly sources: readonly ArgSource[],
  ) {}

  /** Per argument: source offset of each char of the unquoted text (built on first use). */
  private offsets: Array<Int32Array | undefined> = [];

  locate(argIndex: number, charIndex: number): SourceLocation {
    const src = this.sources[argIndex];
    if (src === undefined) return this.location;
    let map = this.offsets[argIndex];
    if (map === undefined) {
      // Replay the unquoting once to map indexes of the unquoted text back to the source.
      const text = this.line.text;
      const length = (this.args[argIndex] as string).length;
      map = new Int32Array(length + 1);
      let raw = src.start;
      for (let out = 0; out < length; out++) {
        map[out] = raw;
        if (text[raw] === '\\' && (text[raw + 1] === '\\' || (src.quote !== '' && text[raw + 1] === src.quote))) raw += 2;
        else raw += 1;
      }
      map[length] = raw;
      this.offsets[argIndex] = map;
    }
    return this.line.locate(map[Math.min(charIndex, map.length - 1)] as number);
  }
}

const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';

/** Splits file text into logical lines, joining continuations as Apache does. */
function logicalLines(file: string, text: string, warnings: RuleWarning[]): LogicalLine[] {
  const physical = text.split('\n');
  // A final newline does not start another line.
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  const out: LogicalLine[] = [];
  let parts: string[] = [];
  let segments: Segment[] = [];
  let length = 0;
  for (let i = 0; i < physical.length; i++) {
    let line = physical[i] as string;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const continued = line.endsWith('\\');
    if (continued) line = line.slice(0, -1);
    else if (/\\[ \t]+$/.test(line)) {
      warnings.push({
        location: { file, line: i + 1, column: line.lastIndexOf('\\') + 1 },
        message: 'backslash followed by whitespace at the end of the line: this is not a line continuation',
      });
    }
    segments.push({ start: length, line: i + 1, column: 1 });
    parts.push(line);
    length += line.length;
    if (continued && i + 1 < physical.length) continue;
    // Apache continues a comment line that ends in a backslash: the following lines become
    // part of the comment. Warn when a swallowed line does not look like a comment itself.
    if (/^\s*#/.test(parts[0] as string)) {
      for (let k = 1; k < parts.length; k++) {
        const swallowed = parts[k] as string;
        if (swallowed.trim() !== '' && !/^\s*#/.test(swallowed)) {
          warnings.push({
            location: { file, line: (segments[k] as Segment).line, column: 1 },
            message: 'this line is part of the comment above it, which ends in a backslash (line continuation)',
          });
          break;
        }
      }
    }
    out.push(new LogicalLine(file, parts.join(''), segments));
    parts = [];
    segments = [];
    length = 0;
  }
  return out;
}

/**
 * Reads the directives of one file's text. Problems (an unterminated quote) are added to
 * `errors`; the directive they occur in is skipped and reading goes on.
 *
 * @example
 * const { directives } = lexSecLang('rules.conf', 'SecRule ARGS "@rx a" "id:1,deny"');
 * directives[0].args; // ['ARGS', '@rx a', 'id:1,deny']
 */
export function lexSecLang(
  file: string,
  text: string,
): { directives: RawDirective[]; errors: RuleParseError[]; warnings: RuleWarning[] } {
  const directives: RawDirective[] = [];
  const errors: RuleParseError[] = [];
  const warnings: RuleWarning[] = [];
  const lines = logicalLines(file, text, warnings);
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li] as LogicalLine;
    const t = line.text;
    let p = 0;
    while (p < t.length && isSpace(t[p])) p++;
    if (p >= t.length) continue;
    if (t[p] === '#') continue;
    const words: string[] = [];
    const sources: ArgSource[] = [];
    let nameAt = -1;
    let failed = false;
    while (p < t.length) {
      while (p < t.length && isSpace(t[p])) p++;
      if (p >= t.length) break;
      const q = t[p] as string;
      if (q === '"' || q === "'") {
        const open = p;
        let end = p + 1;
        let word = '';
        while (end < t.length && t[end] !== q) {
          if (t[end] === '\\' && (t[end + 1] === q || t[end + 1] === '\\')) {
            word += t[end + 1];
            end += 2;
          } else {
            word += t[end];
            end += 1;
          }
        }
        if (end >= t.length) {
          errors.push(new RuleParseError(line.locate(open), `unterminated quoted argument: no closing ${q}`));
          failed = true;
          break;
        }
        if (nameAt < 0) nameAt = open;
        else sources.push({ start: open + 1, quote: q });
        words.push(word);
        p = end + 1;
      } else {
        const start = p;
        let word = '';
        while (p < t.length && !isSpace(t[p])) {
          if (t[p] === '\\' && t[p + 1] === '\\') {
            word += '\\';
            p += 2;
          } else {
            word += t[p];
            p += 1;
          }
        }
        if (nameAt < 0) nameAt = start;
        else sources.push({ start, quote: '' });
        words.push(word);
      }
    }
    if (failed || words.length === 0) continue;
    const [name, ...args] = words as [string, ...string[]];
    directives.push(new Directive(name, args, line.locate(nameAt), line, sources));
  }
  return { directives, errors, warnings };
}
