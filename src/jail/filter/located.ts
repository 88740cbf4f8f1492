/**
 * @module jail/filter/located
 * Text that remembers where each part came from. A filter's failregex is assembled from
 * several options in several files (`%(cmnfailre)s`, `<mdre-<mode>>`, …); keeping the
 * file and line of every piece through interpolation lets a bad regex be reported at the
 * line that wrote it, not at the `failregex =` line that pulled it in.
 */
import type { SourceLocation } from './errors.js';

interface Mark {
  readonly offset: number;
  readonly loc: SourceLocation;
}

/** An immutable string with source locations attached to its parts. */
export class LocatedText {
  private constructor(
    readonly text: string,
    /** Sorted by offset; a mark applies from its offset to the next mark. */
    private readonly marks: readonly Mark[],
  ) {}

  static plain(text: string, loc?: SourceLocation): LocatedText {
    return new LocatedText(text, loc === undefined ? [] : [{ offset: 0, loc }]);
  }

  /** Lines joined by "\n", each with its own location. */
  static lines(lines: ReadonlyArray<readonly [string, SourceLocation]>): LocatedText {
    const marks: Mark[] = [];
    let text = '';
    lines.forEach(([line, loc], i) => {
      if (i > 0) text += '\n';
      marks.push({ offset: text.length, loc });
      text += line;
    });
    return new LocatedText(text, marks);
  }

  get length(): number {
    return this.text.length;
  }

  /** The location of the character at `offset` (or the nearest known before it). */
  locationAt(offset: number): SourceLocation | undefined {
    let found: SourceLocation | undefined;
    for (const m of this.marks) {
      if (m.offset > offset) break;
      found = m.loc;
    }
    return found ?? this.marks[0]?.loc;
  }

  slice(start: number, end = this.text.length): LocatedText {
    const marks: Mark[] = [];
    const first = this.locationAt(start);
    if (first !== undefined) marks.push({ offset: 0, loc: first });
    for (const m of this.marks) if (m.offset > start && m.offset < end) marks.push({ offset: m.offset - start, loc: m.loc });
    return new LocatedText(this.text.slice(start, end), marks);
  }

  static concat(parts: readonly LocatedText[]): LocatedText {
    let text = '';
    const marks: Mark[] = [];
    for (const p of parts) {
      for (const m of p.marks) marks.push({ offset: text.length + m.offset, loc: m.loc });
      text += p.text;
    }
    return new LocatedText(text, marks);
  }

  /** Every occurrence of `needle` replaced by `repl` (as Python's str.replace does). */
  replaceAll(needle: string, repl: LocatedText): LocatedText {
    const parts: LocatedText[] = [];
    let from = 0;
    for (;;) {
      const at = this.text.indexOf(needle, from);
      if (at < 0) break;
      parts.push(this.slice(from, at), repl);
      from = at + needle.length;
    }
    if (parts.length === 0) return this;
    parts.push(this.slice(from));
    return LocatedText.concat(parts);
  }

  /** Split at "\n", each line keeping the location of its first character. */
  splitLines(): LocatedText[] {
    const out: LocatedText[] = [];
    let from = 0;
    for (;;) {
      const nl = this.text.indexOf('\n', from);
      if (nl < 0) {
        out.push(this.slice(from));
        return out;
      }
      out.push(this.slice(from, nl));
      from = nl + 1;
    }
  }

  /** Without trailing whitespace, as Python's rstrip(). */
  rstrip(): LocatedText {
    let end = this.text.length;
    while (end > 0 && isPySpace(this.text.charCodeAt(end - 1))) end--;
    return end === this.text.length ? this : this.slice(0, end);
  }
}

/** Python's str.isspace() for one UTF-16 unit (all of its space characters are in the BMP). */
export function isPySpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    (c >= 0x1c && c <= 0x20) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Python's str.strip() (no argument). */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isPySpace(s.charCodeAt(start))) start++;
  while (end > start && isPySpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}
