/**
 * @module engine/regex/emit
 * AST → source text for a linear-time engine, so that it matches bytes as PCRE does:
 * every class is spelled out as byte ranges (no `\s`, `\w`, `.` or `i` flag, whose meaning
 * differs between PCRE, V8 and RE2), case-insensitive letters are already [aA] classes,
 * and `\Z` / `$` (end or before a final newline) at the end of the pattern consumes the
 * optional newline in a hidden group that `exec` trims off again.
 *
 * Two dialects: `js` for V8's Irregexp (no flags; `^`/`$` mean start/end of input) and
 * `re2` for node-re2 (same, plus `(?m:^)`/`(?m:$)` for PCRE's multiline anchors, which V8
 * cannot express without treating CR as a line end).
 */
import type { Node } from './ast.js';
import { complement, rangesOf, sizeOf, type ByteSet } from './byteset.js';

export type Dialect = 'js' | 're2';

export interface EmittedPattern {
  readonly source: string;
  /** Emitted group number of each user group (index 0 unused). */
  readonly groupMap: readonly number[];
  /** Hidden groups holding the optional final newline of a trailing `\Z`/`$`. */
  readonly hidden: ReadonlyArray<{ readonly group: number; readonly enclosing: readonly number[] }>;
}

/** Thrown for a node the dialect cannot express (the caller picks another engine). */
export class NotExpressible extends Error {}

function hex(b: number): string {
  return `\\x${b.toString(16).padStart(2, '0')}`;
}

/** A byte as a pattern atom, the same in V8 and RE2: an ASCII letter or digit as itself, else `\xHH`. */
export function byteText(b: number): string {
  const isAlnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
  return isAlnum ? String.fromCharCode(b) : hex(b);
}

function rangeText(ranges: ReadonlyArray<readonly [number, number]>): string {
  let out = '';
  for (const [lo, hi] of ranges) {
    if (lo === hi) out += byteText(lo);
    else if (hi === lo + 1) out += byteText(lo) + byteText(hi);
    else out += `${byteText(lo)}-${byteText(hi)}`;
  }
  return out;
}

/** A byte set as a single-byte atom. Over byte input `[^…]` and `[…]` agree, so take the shorter. */
export function setText(set: ByteSet): string {
  const size = sizeOf(set);
  if (size === 0) return '[^\\x00-\\xff]';
  if (size === 1) return rangeText(rangesOf(set));
  const pos = rangesOf(set);
  const neg = rangesOf(complement(set));
  if (neg.length === 0) return '[\\x00-\\xff]';
  return neg.length < pos.length ? `[^${rangeText(neg)}]` : `[${rangeText(pos)}]`;
}

class Emitter {
  private next = 1;
  readonly groupMap: number[] = [0];
  readonly hidden: Array<{ group: number; enclosing: number[] }> = [];
  private readonly open: number[] = [];

  constructor(private readonly dialect: Dialect) {}

  /** Emits a node; `atom` asks for a form a quantifier can follow. */
  emit(node: Node, atom = false): string {
    switch (node.kind) {
      case 'empty':
        return atom ? '(?:)' : '';
      case 'set':
        return setText(node.set);
      case 'seq': {
        const s = node.items.map((it) => this.emit(it, it.kind === 'alt')).join('');
        return atom ? `(?:${s})` : s;
      }
      case 'alt': {
        const s = node.alts.map((a) => this.emit(a)).join('|');
        return atom ? `(?:${s})` : s;
      }
      case 'group': {
        const g = this.next++;
        this.groupMap[node.index] = g;
        this.open.push(node.index);
        const body = this.emit(node.body);
        this.open.pop();
        return `(${body})`;
      }
      case 'repeat': {
        const body = this.emit(node.body, true);
        const q = quantifier(node.min, node.max);
        const text = `${body}${q}${node.greedy || node.possessive ? '' : '?'}`;
        return atom ? `(?:${text})` : text;
      }
      case 'atomic':
        // Only reached when analysis proved the group cannot change the result.
        return `(?:${this.emit(node.body)})`;
      case 'assert':
        return this.assertion(node.what);
      case 'look':
      case 'backref':
        throw new NotExpressible(node.kind);
    }
  }

  private assertion(what: Extract<Node, { kind: 'assert' }>['what']): string {
    switch (what) {
      case 'start':
        return '^';
      case 'end':
        return '$';
      case 'wordBoundary':
        return '\\b';
      case 'notWordBoundary':
        return '\\B';
      case 'endZ': {
        // Tail position only (analysis checked): consume the optional final newline.
        const g = this.next++;
        this.hidden.push({ group: g, enclosing: [...this.open] });
        return '(\\x0a?)$';
      }
      case 'lineStart':
        if (this.dialect === 're2') return '(?m:^)';
        throw new NotExpressible('multiline ^');
      case 'lineEnd':
        if (this.dialect === 're2') return '(?m:$)';
        throw new NotExpressible('multiline $');
      case 'searchStart':
        throw new NotExpressible('\\G');
    }
  }
}

function quantifier(min: number, max: number): string {
  if (min === 0 && max === Infinity) return '*';
  if (min === 1 && max === Infinity) return '+';
  if (min === 0 && max === 1) return '?';
  if (max === Infinity) return `{${min},}`;
  if (min === max) return `{${min}}`;
  return `{${min},${max}}`;
}

/** The pattern in the dialect; throws NotExpressible for what it cannot say. */
export function emitPattern(ast: Node, dialect: Dialect): EmittedPattern {
  const e = new Emitter(dialect);
  const source = e.emit(ast);
  return { source, groupMap: e.groupMap, hidden: e.hidden };
}
