/**
 * @module engine/regex/analyze
 * Decides what a pattern needs before any engine sees it: which constructs no linear
 * engine can run with PCRE's results, and which possessive/atomic forms can be dropped
 * because they cannot change the result. Also builds the "superset" pattern (every match
 * of the real pattern is a match of it) that screens inputs before the bounded matcher.
 */
import { EMPTY, minLength, seq, walk, type Node } from './ast.js';
import { ANY, intersects, isSubset, WORD, type ByteSet } from './byteset.js';
import { firstBytes } from './backtrack.js';

/** A summary of what may follow a node, up to the end of the pattern. */
interface Continuation {
  /** The nodes that follow, innermost first; null once we only know "something loops". */
  readonly items: readonly Node[];
  /** True when what follows passes through a loop (more may follow than `items`). */
  readonly looped: boolean;
}

const END: Continuation = { items: [], looped: false };

/** Why a pattern must run on the bounded matcher (empty when a linear engine can run it). */
export function vmReasons(ast: Node): string[] {
  const reasons = new Set<string>();
  visit(ast, END, reasons);
  return [...reasons];
}

function visit(node: Node, cont: Continuation, reasons: Set<string>): void {
  switch (node.kind) {
    case 'seq':
      node.items.forEach((it, i) => {
        visit(it, { items: [...node.items.slice(i + 1), ...cont.items], looped: cont.looped }, reasons);
      });
      return;
    case 'alt':
      for (const a of node.alts) visit(a, cont, reasons);
      return;
    case 'group':
      visit(node.body, cont, reasons);
      return;
    case 'repeat': {
      if (node.possessive && !possessiveIsGreedy(node.body, cont)) {
        reasons.add('a possessive quantifier (*+ ++ ?+ {n,m}+) that changes the result');
      }
      // Inside the body, the body itself may follow (another iteration).
      const inner: Continuation = node.max > 1 ? { items: [node.body, ...cont.items], looped: true } : cont;
      visit(node.body, inner, reasons);
      return;
    }
    case 'atomic':
      if (!atomicIsPlain(node.body, cont)) reasons.add('an atomic group (?>…) that changes the result');
      visit(node.body, cont, reasons);
      return;
    case 'look':
      reasons.add(node.behind ? (node.negate ? 'a negative lookbehind (?<!…)' : 'a lookbehind (?<=…)') : node.negate ? 'a negative lookahead (?!…)' : 'a lookahead (?=…)');
      visit(node.body, END, reasons);
      return;
    case 'backref':
      reasons.add(`a back reference (\\${node.index})`);
      return;
    case 'assert':
      if (node.what === 'searchStart') reasons.add('\\G');
      if (node.what === 'endZ' && !isTail(cont)) reasons.add('\\Z or $ (end or before a final newline) followed by more pattern');
      if (node.what === 'lineStart' && minLength(seq([...cont.items])) === 0) {
        reasons.add('(?m)^ where the rest of the pattern can match empty text');
      }
      return;
    default:
      return;
  }
}

function isTail(cont: Continuation): boolean {
  return !cont.looped && cont.items.length === 0;
}

/** First bytes and nullability of a continuation. */
function continuationFirst(cont: Continuation): { set: ByteSet; nullable: boolean } {
  const fs = firstBytes(seq([...cont.items]));
  return { set: fs.set, nullable: fs.nullable || cont.looped };
}

/**
 * `X{n,m}+` behaves as greedy `X{n,m}` when giving bytes back can never help: nothing
 * follows, or what follows can neither start with a byte X matches nor match empty text,
 * or what follows is `\z`/`$`-at-end, or it is `\b` after a run of word bytes.
 */
function possessiveIsGreedy(body: Node, cont: Continuation): boolean {
  if (isTail(cont)) return true;
  if (body.kind !== 'set') return false;
  const next = cont.items[0];
  if (next !== undefined && next.kind === 'assert') {
    if (next.what === 'end') return true;
    if (next.what === 'wordBoundary' && isSubset(body.set, WORD)) return true;
  }
  const f = continuationFirst(cont);
  return !f.nullable && !intersects(f.set, body.set);
}

/** `(?>B)` behaves as `(?:B)` when B has no choices, or when nothing follows it. */
function atomicIsPlain(body: Node, cont: Continuation): boolean {
  if (isTail(cont)) return true;
  if (!hasChoice(body)) return true;
  if (body.kind === 'repeat' && body.min !== body.max) return possessiveIsGreedy(body.body, cont) && !hasChoice(body.body);
  return false;
}

function hasChoice(node: Node): boolean {
  switch (node.kind) {
    case 'alt':
      return true;
    case 'repeat':
      return node.min !== node.max || hasChoice(node.body);
    case 'seq':
      return node.items.some(hasChoice);
    case 'group':
    case 'atomic':
      return hasChoice(node.body);
    case 'look':
    case 'backref':
      return true;
    default:
      return false;
  }
}

/**
 * A pattern that matches wherever the real one does (and maybe more), with nothing a
 * linear engine cannot run: back references become "any bytes", lookarounds are dropped,
 * atomic and possessive forms become plain. Null when no useful superset exists.
 */
export function supersetOf(node: Node): Node | null {
  const out = relax(node);
  return out;
}

function relax(node: Node): Node | null {
  switch (node.kind) {
    case 'seq': {
      const items: Node[] = [];
      for (const it of node.items) {
        const r = relax(it);
        if (r === null) return null;
        items.push(r);
      }
      return seq(items);
    }
    case 'alt': {
      const alts: Node[] = [];
      for (const a of node.alts) {
        const r = relax(a);
        if (r === null) return null;
        alts.push(r);
      }
      return { kind: 'alt', alts };
    }
    case 'group':
      // No groups: the screen only answers "where could a match start".
      return relax(node.body);
    case 'repeat': {
      const body = relax(node.body);
      return body === null ? null : { ...node, possessive: false, body };
    }
    case 'atomic':
      return relax(node.body);
    case 'look':
      return EMPTY;
    case 'backref':
      return { kind: 'repeat', min: 0, max: Infinity, greedy: true, possessive: false, body: { kind: 'set', set: ANY } };
    case 'assert':
      // \G and a non-tail \Z cannot be expressed; "anywhere" is a superset of both.
      return node.what === 'searchStart' || node.what === 'endZ' || node.what === 'lineStart' ? EMPTY : node;
    default:
      return node;
  }
}

/**
 * A superset of a pattern for screening long values, or null when it is its own: a counted
 * repeat of 3 or more whose body repeats without bound (CRS's 942420-942432 count special
 * characters `(?:[!-+…][^!-+…]*?){12}`) keeps 2 iterations, and what follows it is dropped
 * (every match begins with a match of the shortened pattern). RE2 scans a set holding such
 * counters in one DFA whose states multiply: five of them made a long value's pass over
 * 61 screens cost 5.6 ns a byte instead of 1.3. Only repeats on the pattern's own path are
 * cut (not inside another repeat, where a shorter body is no superset).
 */
export function shortenedCounts(node: Node): Node | null {
  const out = shorten(node);
  return out.cut ? out.node : null;
}

function shorten(node: Node): { node: Node; cut: boolean } {
  switch (node.kind) {
    case 'seq':
      for (let i = 0; i < node.items.length; i++) {
        const r = shorten(node.items[i] as Node);
        if (r.cut) return { node: seq([...node.items.slice(0, i), r.node]), cut: true };
      }
      return { node, cut: false };
    case 'alt': {
      const alts = node.alts.map(shorten);
      return alts.some((a) => a.cut) ? { node: { kind: 'alt', alts: alts.map((a) => a.node) }, cut: true } : { node, cut: false };
    }
    case 'group': {
      const body = shorten(node.body);
      return body.cut ? { node: { ...node, body: body.node }, cut: true } : { node, cut: false };
    }
    case 'repeat': {
      let unbounded = false;
      walk(node.body, (n) => {
        if (n.kind === 'repeat' && n.max === Infinity) unbounded = true;
      });
      return node.min >= 3 && unbounded ? { node: { ...node, min: 2, max: 2 }, cut: true } : { node, cut: false };
    }
    default:
      return { node, cut: false };
  }
}

/**
 * True when a linear engine could report another match extent or other groups than PCRE
 * (whether a match exists, and where it starts, never differ):
 * - a group inside a repeat: JavaScript clears it at each iteration, PCRE keeps the last
 *   value; PCRE (unlike RE2 too) also takes one more empty iteration of an unbounded loop;
 * - a repeat whose body can match empty: JavaScript refuses an empty optional iteration
 *   and backtracks into the body for a longer one, PCRE takes the empty iteration.
 */
export function groupsNeedPcreOrder(node: Node, inRepeat = false): boolean {
  switch (node.kind) {
    case 'group':
      return inRepeat || groupsNeedPcreOrder(node.body, inRepeat);
    case 'seq':
      return node.items.some((it) => groupsNeedPcreOrder(it, inRepeat));
    case 'alt':
      return node.alts.some((a) => groupsNeedPcreOrder(a, inRepeat));
    case 'repeat':
      if (node.max > node.min && minLength(node.body) === 0) return true;
      return groupsNeedPcreOrder(node.body, inRepeat || node.max > 1 || node.min === 0);
    case 'atomic':
    case 'look':
      return groupsNeedPcreOrder(node.body, inRepeat);
    default:
      return false;
  }
}
