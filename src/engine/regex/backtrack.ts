/**
 * @module engine/regex/backtrack
 * The bounded backtracking matcher: a small VM over the AST for the patterns no linear
 * engine can run (back references, lookarounds, atomic groups and possessive repeats that
 * change the result, `\G`). It follows PCRE's matching order exactly and counts its work
 * like PCRE's match limit (one step per backtracking point entered, per start position tried
 * and per assertion evaluated, plus one per 256 bytes a repeat scans); the count runs across
 * all start positions of one search, so a search never does more than `limit` steps however
 * long the input is. When the budget is
 * spent the search reports LIMIT and the caller treats it as "no match" (ModSecurity's
 * MSC_PCRE_LIMITS_EXCEEDED).
 *
 * The program is flat (an op array with operands), the backtrack stack an array of
 * four-number records, so deep inputs never recurse in JavaScript; only assertions and
 * atomic groups run as nested sub-searches, as deep as the pattern nests them.
 */
import { maxLength, minLength, type AssertKind, type Node } from './ast.js';
import { hasByte, isSubset, toTable, WORD, type ByteSet } from './byteset.js';
import { RegexSyntaxError } from './errors.js';

/** Outcome of a search besides a match. */
export const NO_MATCH = -1;
export const LIMIT = -2;

const enum Op {
  Set,
  Split,
  Jmp,
  Save,
  Assert,
  Match,
  RepSet,
  Mark,
  Progress,
  Sub,
  LookBehind,
  SubMatch,
  BackRef,
}

const enum Frame {
  /** Resume at pc with pos. */
  Choice,
  /** caps[extra] = pos-field (undo of a Save). */
  RestoreCap,
  /** regs[extra] = pos-field (undo of a Mark). */
  RestoreReg,
  /** Greedy single-set repeat: give back one byte, down to extra. */
  RepGreedy,
  /** Lazy single-set repeat: take one more byte, up to extra. */
  RepLazy,
}

const enum Mode {
  Greedy,
  Lazy,
  Possessive,
}

const enum SubKind {
  Atomic,
  Ahead,
  NotAhead,
}

const ASSERT_CODES: Record<AssertKind, number> = {
  start: 0,
  lineStart: 1,
  end: 2,
  endZ: 3,
  lineEnd: 4,
  wordBoundary: 5,
  notWordBoundary: 6,
  searchStart: 7,
};

/** Most instructions a pattern may compile to (counted repeats are unrolled). */
const MAX_PROGRAM = 200_000;

interface Program {
  readonly op: Int32Array;
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly c: Int32Array;
  readonly d: Int32Array;
  readonly tables: readonly Uint8Array[];
  /** Lookbehind alternatives: [subStart, length] pairs per lookbehind. */
  readonly behind: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  readonly regCount: number;
}

class ProgramBuilder {
  op: number[] = [];
  a: number[] = [];
  b: number[] = [];
  c: number[] = [];
  d: number[] = [];
  tables: Uint8Array[] = [];
  private readonly tableIndex = new Map<string, number>();
  behind: Array<Array<readonly [number, number]>> = [];
  regCount = 0;
  private readonly pending: Array<{ node: Node; patch: (pc: number) => void }> = [];

  build(ast: Node): Program {
    this.emit(ast);
    this.add(Op.Match);
    while (this.pending.length > 0) {
      const p = this.pending.shift() as { node: Node; patch: (pc: number) => void };
      p.patch(this.op.length);
      this.emit(p.node);
      this.add(Op.SubMatch);
    }
    return {
      op: Int32Array.from(this.op),
      a: Int32Array.from(this.a),
      b: Int32Array.from(this.b),
      c: Int32Array.from(this.c),
      d: Int32Array.from(this.d),
      tables: this.tables,
      behind: this.behind,
      regCount: this.regCount,
    };
  }

  private add(op: Op, a = 0, b = 0, c = 0, d = 0): number {
    if (this.op.length >= MAX_PROGRAM) {
      throw new RegexSyntaxError('pattern is too large for the bounded matcher (reduce counted repeats such as {1,1000} around groups)');
    }
    this.op.push(op);
    this.a.push(a);
    this.b.push(b);
    this.c.push(c);
    this.d.push(d);
    return this.op.length - 1;
  }

  private table(set: ByteSet): number {
    const key = Array.from(set).join(',');
    let i = this.tableIndex.get(key);
    if (i === undefined) {
      i = this.tables.length;
      this.tables.push(toTable(set));
      this.tableIndex.set(key, i);
    }
    return i;
  }

  private defer(node: Node, patch: (pc: number) => void): void {
    this.pending.push({ node, patch });
  }

  private emit(node: Node): void {
    switch (node.kind) {
      case 'empty':
        return;
      case 'set':
        this.add(Op.Set, this.table(node.set));
        return;
      case 'seq':
        for (const it of node.items) this.emit(it);
        return;
      case 'alt': {
        const jumps: number[] = [];
        node.alts.forEach((alt, i) => {
          if (i < node.alts.length - 1) {
            const split = this.add(Op.Split, 0, 0);
            this.a[split] = this.op.length;
            this.emit(alt);
            jumps.push(this.add(Op.Jmp));
            this.b[split] = this.op.length;
          } else {
            this.emit(alt);
          }
        });
        for (const j of jumps) this.a[j] = this.op.length;
        return;
      }
      case 'group':
        this.add(Op.Save, node.index * 2);
        this.emit(node.body);
        this.add(Op.Save, node.index * 2 + 1);
        return;
      case 'repeat':
        this.emitRepeat(node);
        return;
      case 'atomic': {
        const at = this.add(Op.Sub, SubKind.Atomic, 0);
        this.defer(node.body, (pc) => (this.b[at] = pc));
        return;
      }
      case 'look': {
        if (node.behind) {
          const alts = node.body.kind === 'alt' ? node.body.alts : [node.body];
          const list: Array<readonly [number, number]> = [];
          const idx = this.behind.length;
          this.behind.push(list);
          this.add(Op.LookBehind, node.negate ? 1 : 0, idx);
          for (const alt of alts) {
            const len = minLength(alt);
            if (len !== maxLength(alt)) {
              throw new RegexSyntaxError('lookbehind assertion is not fixed length: each alternative of (?<=…) / (?<!…) must match a fixed number of bytes');
            }
            const slot = list.length;
            list.push([0, len]);
            this.defer(alt, (pc) => (list[slot] = [pc, len]));
          }
          return;
        }
        const at = this.add(Op.Sub, node.negate ? SubKind.NotAhead : SubKind.Ahead, 0);
        this.defer(node.body, (pc) => (this.b[at] = pc));
        return;
      }
      case 'backref':
        this.add(Op.BackRef, node.index, node.caseless ? 1 : 0);
        return;
      case 'assert':
        this.add(Op.Assert, ASSERT_CODES[node.what]);
        return;
    }
  }

  private emitRepeat(node: Extract<Node, { kind: 'repeat' }>): void {
    const { min, max, body } = node;
    if (body.kind === 'set') {
      const mode = node.possessive ? Mode.Possessive : node.greedy ? Mode.Greedy : Mode.Lazy;
      this.add(Op.RepSet, this.table(body.set), min, max === Infinity ? -1 : max, mode);
      return;
    }
    if (node.possessive) {
      this.emit({ kind: 'atomic', body: { ...node, possessive: false } });
      return;
    }
    for (let i = 0; i < min; i++) this.emit(body);
    if (max === min) return;
    if (max === Infinity) {
      // L: SPLIT body, exit (greedy) | SPLIT exit, body (lazy); body: MARK r; <B>; PROGRESS r → L
      const reg = this.regCount++;
      const loop = this.add(Op.Split, 0, 0);
      const start = this.op.length;
      this.add(Op.Mark, reg);
      this.emit(body);
      this.add(Op.Progress, reg, loop);
      const exit = this.op.length;
      if (node.greedy) {
        this.a[loop] = start;
        this.b[loop] = exit;
      } else {
        this.a[loop] = exit;
        this.b[loop] = start;
      }
      return;
    }
    // Up to (max - min) optional copies, nested: (?:B(?:B(?:B)?)?)?
    const splits: number[] = [];
    for (let i = min; i < max; i++) {
      const split = this.add(Op.Split, 0, 0);
      splits.push(split);
      const start = this.op.length;
      if (node.greedy) this.a[split] = start;
      else this.b[split] = start;
      this.emit(body);
    }
    const exit = this.op.length;
    for (const s of splits) {
      if (node.greedy) this.b[s] = exit;
      else this.a[s] = exit;
    }
  }
}

/** A search's outcome: the match (caps filled) or NO_MATCH / LIMIT. */
export interface BacktrackSearch {
  /** Start of the match, NO_MATCH or LIMIT. */
  readonly status: number;
  /** Capture offsets, [start0, end0, start1, end1, …]; -1 for a group that did not take part. */
  readonly caps: Int32Array;
  /** Steps spent. */
  readonly steps: number;
}

export interface SearchOptions {
  /** Only try a match that starts at `from` (PCRE_ANCHORED). */
  readonly anchored?: boolean;
  /** Reject an empty match at `from` (PCRE_NOTEMPTY_ATSTART). */
  readonly notEmptyAtStart?: boolean;
  /** Where `\G` holds, when the search starts later than the caller asked (default: from). */
  readonly origin?: number;
}

/** A pattern compiled for the bounded matcher. */
export class BacktrackMatcher {
  private readonly prog: Program;
  private readonly caps: Int32Array;
  private readonly regs: Int32Array;
  private stack: number[] = [];
  private input = '';
  private n = 0;
  private steps = 0;
  private limit = 0;
  private searchStart = 0;
  private matchStart = 0;
  private notEmpty = false;
  /** Bytes that can start a match (null when the pattern can match empty, so any position can). */
  private readonly first: Uint8Array | null;
  /** The pattern can only match at offset 0. */
  private readonly anchoredAtStart: boolean;

  constructor(
    ast: Node,
    readonly groupCount: number,
  ) {
    this.prog = new ProgramBuilder().build(ast);
    this.caps = new Int32Array((groupCount + 1) * 2);
    this.regs = new Int32Array(this.prog.regCount);
    const fs = firstBytes(ast);
    this.first = fs.nullable ? null : toTable(fs.set);
    this.anchoredAtStart = startsAnchored(ast);
  }

  /**
   * Finds the leftmost match starting at or after `from`. The budget `limit` counts
   * steps across every start position tried.
   */
  search(input: string, from: number, limit: number, opts: SearchOptions = {}): BacktrackSearch {
    this.input = input;
    this.n = input.length;
    this.steps = 0;
    this.limit = limit;
    this.searchStart = opts.origin ?? from;
    const anchored = opts.anchored === true;
    const first = this.first;
    let status = NO_MATCH;
    for (let start = from; start <= this.n; start++) {
      if (this.anchoredAtStart && start > 0) break;
      if (!anchored && first !== null && (start === this.n || first[input.charCodeAt(start)] === 0)) continue;
      if (++this.steps > limit) {
        status = LIMIT;
        break;
      }
      this.caps.fill(-1);
      this.stack.length = 0;
      this.matchStart = start;
      this.notEmpty = opts.notEmptyAtStart === true && start === from;
      const end = this.run(0, start);
      if (end === LIMIT) {
        status = LIMIT;
        break;
      }
      if (end >= 0) {
        this.caps[0] = start;
        this.caps[1] = end;
        status = start;
        break;
      }
      if (anchored) break;
    }
    this.stack.length = 0;
    this.input = '';
    return { status, caps: this.caps, steps: this.steps };
  }

  private isWordAt(pos: number): boolean {
    return pos >= 0 && pos < this.n && WORD_TABLE[this.input.charCodeAt(pos)] === 1;
  }

  private assert(code: number, pos: number): boolean {
    const input = this.input;
    const n = this.n;
    switch (code) {
      case 0:
        return pos === 0;
      case 1:
        return pos === 0 || (pos < n && input.charCodeAt(pos - 1) === 0x0a);
      case 2:
        return pos === n;
      case 3:
        return pos === n || (pos === n - 1 && input.charCodeAt(pos) === 0x0a);
      case 4:
        return pos === n || input.charCodeAt(pos) === 0x0a;
      case 5:
        return this.isWordAt(pos - 1) !== this.isWordAt(pos);
      case 6:
        return this.isWordAt(pos - 1) === this.isWordAt(pos);
      default:
        return pos === this.searchStart;
    }
  }

  private push(type: Frame, pc: number, pos: number, extra: number): void {
    const s = this.stack;
    s.push(type, pc, pos, extra);
  }

  /** Runs from pc at pos until Match/SubMatch (returns the end), failure (NO_MATCH) or LIMIT. */
  private run(startPc: number, startPos: number): number {
    const { op, a, b, c, d, tables } = this.prog;
    const input = this.input;
    const n = this.n;
    const stack = this.stack;
    const caps = this.caps;
    const regs = this.regs;
    const base = stack.length;
    let pc = startPc;
    let pos = startPos;
    for (;;) {
      let ok = true;
      switch (op[pc] as Op) {
        case Op.Set:
          if (pos < n && (tables[a[pc] as number] as Uint8Array)[input.charCodeAt(pos)] === 1) {
            pos++;
            pc++;
          } else ok = false;
          break;
        case Op.Split:
          if (++this.steps > this.limit) return LIMIT;
          this.push(Frame.Choice, b[pc] as number, pos, 0);
          pc = a[pc] as number;
          break;
        case Op.Jmp:
          pc = a[pc] as number;
          break;
        case Op.Save: {
          const k = a[pc] as number;
          this.push(Frame.RestoreCap, 0, caps[k] as number, k);
          caps[k] = pos;
          pc++;
          break;
        }
        case Op.Assert:
          if (this.assert(a[pc] as number, pos)) pc++;
          else ok = false;
          break;
        case Op.Match:
          if (this.notEmpty && pos === this.matchStart) {
            ok = false;
            break;
          }
          return pos;
        case Op.SubMatch:
          return pos;
        case Op.RepSet: {
          const table = tables[a[pc] as number] as Uint8Array;
          const min = b[pc] as number;
          const max = c[pc] === -1 ? n - pos : Math.min(c[pc] as number, n - pos);
          const mode = d[pc] as Mode;
          if (mode === Mode.Lazy) {
            let k = 0;
            while (k < min && pos + k < n && table[input.charCodeAt(pos + k)] === 1) k++;
            if (k < min) {
              ok = false;
              break;
            }
            pos += k;
            if (min < max) {
              if (++this.steps > this.limit) return LIMIT;
              this.push(Frame.RepLazy, pc, pos, pos - min + max);
            }
            pc++;
            break;
          }
          let k = 0;
          while (k < max && table[input.charCodeAt(pos + k)] === 1) k++;
          // A long run is work too: one step per 256 bytes scanned keeps the total bounded.
          if (k > 255 && (this.steps += k >>> 8) > this.limit) return LIMIT;
          if (k < min) {
            ok = false;
            break;
          }
          if (mode === Mode.Greedy && k > min) {
            if (++this.steps > this.limit) return LIMIT;
            this.push(Frame.RepGreedy, pc + 1, pos + k, pos + min);
          }
          pos += k;
          pc++;
          break;
        }
        case Op.Mark: {
          const r = a[pc] as number;
          this.push(Frame.RestoreReg, 0, regs[r] as number, r);
          regs[r] = pos;
          pc++;
          break;
        }
        case Op.Progress:
          // PCRE leaves an unbounded loop once an iteration matched the empty string.
          pc = pos === regs[a[pc] as number] ? pc + 1 : (b[pc] as number);
          break;
        case Op.Sub: {
          if (++this.steps > this.limit) return LIMIT;
          const kind = a[pc] as SubKind;
          const saved = caps.slice();
          const h = stack.length;
          const end = this.run(b[pc] as number, pos);
          if (end === LIMIT) return LIMIT;
          // A successful sub-search leaves its choice points above h: an atomic group or an
          // assertion never backtracks into them. The captures it set stay (PCRE keeps those
          // of atomic groups and positive assertions), with undo records pushed below.
          stack.length = h;
          if (kind === SubKind.NotAhead) {
            if (end >= 0) {
              caps.set(saved);
              ok = false;
            } else pc++;
            break;
          }
          if (end < 0) {
            ok = false;
            break;
          }
          for (let k = 0; k < caps.length; k++) {
            if (caps[k] !== saved[k]) this.push(Frame.RestoreCap, 0, saved[k] as number, k);
          }
          if (kind === SubKind.Atomic) pos = end;
          pc++;
          break;
        }
        case Op.LookBehind: {
          const negate = a[pc] === 1;
          const alts = this.prog.behind[b[pc] as number] as ReadonlyArray<readonly [number, number]>;
          const saved = caps.slice();
          let found = false;
          for (const [subPc, len] of alts) {
            if (pos - len < 0) continue;
            if (++this.steps > this.limit) return LIMIT;
            const h = stack.length;
            const end = this.run(subPc, pos - len);
            if (end === LIMIT) return LIMIT;
            stack.length = h;
            if (end >= 0) {
              found = true;
              break;
            }
          }
          if (found === negate) {
            caps.set(saved);
            ok = false;
            break;
          }
          if (found) {
            for (let k = 0; k < caps.length; k++) {
              if (caps[k] !== saved[k]) this.push(Frame.RestoreCap, 0, saved[k] as number, k);
            }
          }
          pc++;
          break;
        }
        case Op.BackRef: {
          const g = a[pc] as number;
          const s = caps[g * 2] as number;
          const e = caps[g * 2 + 1] as number;
          if (s < 0 || e < 0) {
            ok = false;
            break;
          }
          const len = e - s;
          if (len > 255 && (this.steps += len >>> 8) > this.limit) return LIMIT;
          if (pos + len > n) {
            ok = false;
            break;
          }
          const caseless = b[pc] === 1;
          for (let k = 0; k < len; k++) {
            let x = input.charCodeAt(s + k);
            let y = input.charCodeAt(pos + k);
            if (caseless) {
              if (x >= 0x41 && x <= 0x5a) x += 0x20;
              if (y >= 0x41 && y <= 0x5a) y += 0x20;
            }
            if (x !== y) {
              ok = false;
              break;
            }
          }
          if (ok) {
            pos += len;
            pc++;
          }
          break;
        }
      }
      if (ok) continue;
      // Backtrack: pop frames until a resumable one.
      let resumed = false;
      while (stack.length > base) {
        const extra = stack.pop() as number;
        const fpos = stack.pop() as number;
        const fpc = stack.pop() as number;
        const type = stack.pop() as Frame;
        if (type === Frame.RestoreCap) {
          caps[extra] = fpos;
          continue;
        }
        if (type === Frame.RestoreReg) {
          regs[extra] = fpos;
          continue;
        }
        if (type === Frame.Choice) {
          pc = fpc;
          pos = fpos;
          resumed = true;
          break;
        }
        if (++this.steps > this.limit) return LIMIT;
        if (type === Frame.RepGreedy) {
          const p = fpos - 1;
          if (p > extra) this.push(Frame.RepGreedy, fpc, p, extra);
          pc = fpc;
          pos = p;
          resumed = true;
          break;
        }
        // RepLazy: fpc is the RepSet instruction; take one more byte if it fits.
        const table = tables[a[fpc] as number] as Uint8Array;
        if (fpos < extra && fpos < n && table[input.charCodeAt(fpos)] === 1) {
          const p = fpos + 1;
          if (p < extra) this.push(Frame.RepLazy, fpc, p, extra);
          pc = fpc + 1;
          pos = p;
          resumed = true;
          break;
        }
      }
      if (!resumed) return NO_MATCH;
    }
  }

}

const WORD_TABLE = toTable(WORD);

/** Bytes that can begin a match of the node, and whether it can match the empty string. */
export function firstBytes(node: Node): { set: ByteSet; nullable: boolean } {
  const set = new Uint32Array(8);
  const nullable = collectFirst(node, set);
  return { set, nullable };
}

function collectFirst(node: Node, into: ByteSet): boolean {
  switch (node.kind) {
    case 'empty':
    case 'assert':
    case 'look':
      return true;
    case 'set':
      for (let i = 0; i < 8; i++) into[i] = ((into[i] as number) | (node.set[i] as number)) >>> 0;
      return false;
    case 'seq':
      for (const it of node.items) if (!collectFirst(it, into)) return false;
      return true;
    case 'alt': {
      let nullable = false;
      for (const a of node.alts) if (collectFirst(a, into)) nullable = true;
      return nullable;
    }
    case 'group':
    case 'atomic':
      return collectFirst(node.body, into);
    case 'repeat':
      return collectFirst(node.body, into) || node.min === 0;
    case 'backref':
      // Could start with anything, or be empty.
      into.fill(0xffffffff);
      return true;
  }
}

/** True when every alternative begins with `\A` (or `^` outside (?m)). */
export function startsAnchored(node: Node): boolean {
  switch (node.kind) {
    case 'assert':
      return node.what === 'start';
    case 'seq':
      return node.items.length > 0 && startsAnchored(node.items[0] as Node);
    case 'alt':
      return node.alts.every(startsAnchored);
    case 'group':
    case 'atomic':
      return startsAnchored(node.body);
    case 'repeat':
      return node.min > 0 && startsAnchored(node.body);
    default:
      return false;
  }
}

/** True when the set's bytes are all word bytes (used by callers deciding on simplifications). */
export function allWordBytes(set: ByteSet): boolean {
  return isSubset(set, WORD);
}

export { hasByte };
