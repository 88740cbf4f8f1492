/**
 * @module engine/regex/byteset
 * Sets of bytes (0–255), the only kind of character a rule regex sees: ModSecurity runs
 * PCRE without UTF-8 mode, so a "character" is a byte and every class, escape and
 * case-folded literal becomes one of these sets. The byte meanings are PCRE's built-in
 * C-locale tables: `\w` `\d` `\s` and POSIX classes are ASCII, case folding is A–Z ↔ a–z.
 */

/** 256 bits, one per byte value. Treat as immutable once built. */
export type ByteSet = Uint32Array;

/** Sets already seen, by their bits: see interned. */
const canonical = new Map<string, ByteSet>();
const INTERNED_LIMIT = 4096;

/**
 * The one set kept for these bits. A pattern's tree keeps a set per literal and class for
 * as long as the pattern lives, and CRS's patterns hold some 70,000 of them (a typed array
 * and its buffer each: 13 MB a worker) with a few hundred distinct values; equal sets are
 * shared instead (sets are never changed once built).
 */
export function interned(set: ByteSet): ByteSet {
  const key = set.join(',');
  const known = canonical.get(key);
  if (known !== undefined) return known;
  if (canonical.size < INTERNED_LIMIT) canonical.set(key, set);
  return set;
}

export function emptySet(): ByteSet {
  return new Uint32Array(8);
}

export function fullSet(): ByteSet {
  return new Uint32Array(8).fill(0xffffffff);
}

export function hasByte(set: ByteSet, b: number): boolean {
  return ((set[b >>> 5] as number) & (1 << (b & 31))) !== 0;
}

export function addByte(set: ByteSet, b: number): void {
  set[b >>> 5] = (set[b >>> 5] as number) | (1 << (b & 31));
}

export function addRange(set: ByteSet, from: number, to: number): void {
  for (let b = from; b <= to; b++) addByte(set, b);
}

export function setOf(...ranges: Array<number | [number, number]>): ByteSet {
  const set = emptySet();
  for (const r of ranges) {
    if (typeof r === 'number') addByte(set, r);
    else addRange(set, r[0], r[1]);
  }
  return set;
}

export function union(a: ByteSet, b: ByteSet): ByteSet {
  const out = emptySet();
  for (let i = 0; i < 8; i++) out[i] = ((a[i] as number) | (b[i] as number)) >>> 0;
  return out;
}

export function addAll(into: ByteSet, from: ByteSet): void {
  for (let i = 0; i < 8; i++) into[i] = ((into[i] as number) | (from[i] as number)) >>> 0;
}

export function complement(a: ByteSet): ByteSet {
  const out = emptySet();
  for (let i = 0; i < 8; i++) out[i] = ~(a[i] as number) >>> 0;
  return out;
}

export function intersects(a: ByteSet, b: ByteSet): boolean {
  for (let i = 0; i < 8; i++) if (((a[i] as number) & (b[i] as number)) !== 0) return true;
  return false;
}

export function isSubset(a: ByteSet, b: ByteSet): boolean {
  for (let i = 0; i < 8; i++) if (((a[i] as number) & ~(b[i] as number)) !== 0) return false;
  return true;
}

export function sizeOf(set: ByteSet): number {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    let w = set[i] as number;
    while (w !== 0) {
      w &= w - 1;
      n++;
    }
  }
  return n;
}

export function isEmptySet(set: ByteSet): boolean {
  for (let i = 0; i < 8; i++) if (set[i] !== 0) return false;
  return true;
}

export function sameSet(a: ByteSet, b: ByteSet): boolean {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The single byte in the set, or -1 when it holds zero or several. */
export function singleByte(set: ByteSet): number {
  let found = -1;
  for (let b = 0; b < 256; b++) {
    if (hasByte(set, b)) {
      if (found >= 0) return -1;
      found = b;
    }
  }
  return found;
}

/** Maximal runs of bytes in the set, as [from, to] pairs in ascending order. */
export function rangesOf(set: ByteSet): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let b = 0;
  while (b < 256) {
    if (!hasByte(set, b)) {
      b++;
      continue;
    }
    const from = b;
    while (b < 256 && hasByte(set, b)) b++;
    out.push([from, b - 1]);
  }
  return out;
}

/** A lookup table (one entry per byte) for the backtracking matcher's hot loop. */
export function toTable(set: ByteSet): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) if (hasByte(set, b)) t[b] = 1;
  return t;
}

/** The other ASCII case of a letter, or the byte itself (C-locale folding, as PCRE's default tables). */
export function otherCase(b: number): number {
  if (b >= 0x41 && b <= 0x5a) return b + 0x20;
  if (b >= 0x61 && b <= 0x7a) return b - 0x20;
  return b;
}

/** The set with every ASCII letter joined by its other case; nothing else changes. */
export function foldCase(set: ByteSet): ByteSet {
  const out = new Uint32Array(set);
  for (let b = 0x41; b <= 0x5a; b++) {
    if (hasByte(set, b) || hasByte(set, b + 0x20)) {
      addByte(out, b);
      addByte(out, b + 0x20);
    }
  }
  return out;
}

// The classes of PCRE's default (C locale) character tables.
export const DIGIT = setOf([0x30, 0x39]);
export const WORD = setOf([0x30, 0x39], [0x41, 0x5a], 0x5f, [0x61, 0x7a]);
/** PCRE's `\s`: HT LF VT FF CR SP (VT included since PCRE 8.34 and in every PCRE2). */
export const SPACE = setOf([0x09, 0x0d], 0x20);
/** `\h` in 8-bit non-UTF mode: HT, SP, NBSP. */
export const HSPACE = setOf(0x09, 0x20, 0xa0);
/** `\v` in 8-bit non-UTF mode: LF VT FF CR NEL. */
export const VSPACE = setOf([0x0a, 0x0d], 0x85);
export const NEWLINE = setOf(0x0a);
export const ANY = fullSet();
export const ANY_BUT_NEWLINE = complement(NEWLINE);

const ALPHA = setOf([0x41, 0x5a], [0x61, 0x7a]);
const ALNUM = union(ALPHA, DIGIT);
const GRAPH = setOf([0x21, 0x7e]);

/** POSIX classes by name, C locale. */
export const POSIX_CLASSES: ReadonlyMap<string, ByteSet> = new Map([
  ['alpha', ALPHA],
  ['digit', DIGIT],
  ['alnum', ALNUM],
  ['upper', setOf([0x41, 0x5a])],
  ['lower', setOf([0x61, 0x7a])],
  ['space', SPACE],
  ['blank', setOf(0x09, 0x20)],
  ['cntrl', setOf([0x00, 0x1f], 0x7f)],
  ['graph', GRAPH],
  ['print', setOf([0x20, 0x7e])],
  ['punct', setOf([0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e])],
  ['xdigit', setOf([0x30, 0x39], [0x41, 0x46], [0x61, 0x66])],
  ['word', WORD],
  ['ascii', setOf([0x00, 0x7f])],
]);
