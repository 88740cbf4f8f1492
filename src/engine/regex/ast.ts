/**
 * @module engine/regex/ast
 * The parsed form of a PCRE pattern. Everything byte-level is already resolved here:
 * literals, classes, `.` and case-insensitive letters are all `set` nodes (a byte set),
 * and the flags in force (`(?i)`, `(?s)`, `(?m)`, DOLLAR_ENDONLY) are baked into the nodes,
 * so emitters and the matcher never look at flags again.
 */
import type { ByteSet } from './byteset.js';

export type AssertKind =
  /** `\A`, or `^` without (?m). */
  | 'start'
  /** `^` with (?m): start, or after a newline that is not the last byte. */
  | 'lineStart'
  /** `\z`, or `$` with DOLLAR_ENDONLY and without (?m). */
  | 'end'
  /** `\Z`, or `$` without DOLLAR_ENDONLY and (?m): end, or before a final newline. */
  | 'endZ'
  /** `$` with (?m): end, or before any newline. */
  | 'lineEnd'
  /** `\b` */
  | 'wordBoundary'
  /** `\B` */
  | 'notWordBoundary'
  /** `\G`: where this search started. */
  | 'searchStart';

export type Node =
  | { readonly kind: 'empty' }
  | { readonly kind: 'set'; readonly set: ByteSet }
  | { readonly kind: 'seq'; readonly items: readonly Node[] }
  | { readonly kind: 'alt'; readonly alts: readonly Node[] }
  | { readonly kind: 'group'; readonly index: number; readonly name: string | undefined; readonly body: Node }
  | {
      readonly kind: 'repeat';
      readonly min: number;
      /** Infinity for an open upper bound. */
      readonly max: number;
      readonly greedy: boolean;
      readonly possessive: boolean;
      readonly body: Node;
    }
  | { readonly kind: 'atomic'; readonly body: Node }
  | { readonly kind: 'look'; readonly behind: boolean; readonly negate: boolean; readonly body: Node }
  | { readonly kind: 'backref'; readonly index: number; readonly caseless: boolean }
  | { readonly kind: 'assert'; readonly what: AssertKind };

export type NodeOf<K extends Node['kind']> = Extract<Node, { kind: K }>;

/** A parsed pattern. */
export interface ParsedPattern {
  readonly ast: Node;
  /** Number of capturing groups (group 0, the whole match, not counted). */
  readonly groupCount: number;
  /** Named groups: name → number. */
  readonly names: ReadonlyMap<string, number>;
}

export const EMPTY: Node = { kind: 'empty' };

export function seq(items: Node[]): Node {
  const flat: Node[] = [];
  for (const it of items) {
    if (it.kind === 'seq') flat.push(...it.items);
    else if (it.kind !== 'empty') flat.push(it);
  }
  if (flat.length === 0) return EMPTY;
  if (flat.length === 1) return flat[0] as Node;
  return { kind: 'seq', items: flat };
}

export function alt(alts: Node[]): Node {
  if (alts.length === 1) return alts[0] as Node;
  return { kind: 'alt', alts };
}

/** Calls `fn` on every node, parents before children. */
export function walk(node: Node, fn: (n: Node) => void): void {
  fn(node);
  switch (node.kind) {
    case 'seq':
      for (const it of node.items) walk(it, fn);
      break;
    case 'alt':
      for (const a of node.alts) walk(a, fn);
      break;
    case 'group':
    case 'repeat':
    case 'atomic':
    case 'look':
      walk(node.body, fn);
      break;
    default:
      break;
  }
}

/** Smallest number of bytes the node can match. */
export function minLength(node: Node): number {
  switch (node.kind) {
    case 'set':
      return 1;
    case 'seq':
      return node.items.reduce((n, it) => n + minLength(it), 0);
    case 'alt':
      return Math.min(...node.alts.map(minLength));
    case 'group':
    case 'atomic':
      return minLength(node.body);
    case 'repeat':
      return node.min === 0 ? 0 : node.min * minLength(node.body);
    default:
      // A back reference can match the empty string (its group may be empty).
      return 0;
  }
}

/** Largest number of bytes the node can match (Infinity when unbounded or unknown). */
export function maxLength(node: Node): number {
  switch (node.kind) {
    case 'set':
      return 1;
    case 'seq':
      return node.items.reduce((n, it) => n + maxLength(it), 0);
    case 'alt':
      return Math.max(...node.alts.map(maxLength));
    case 'group':
    case 'atomic':
      return maxLength(node.body);
    case 'repeat': {
      if (node.max === 0) return 0;
      const m = maxLength(node.body);
      return m === 0 ? 0 : m * node.max;
    }
    case 'backref':
      return Infinity;
    default:
      return 0;
  }
}
