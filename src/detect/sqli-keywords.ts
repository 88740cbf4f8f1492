/**
 * @module detect/sqli-keywords
 * The SQL word table (keywords, functions, operators and the fingerprint set) as an
 * open-addressing hash table over bytes, so a lookup never builds a string.
 *
 * Lookups fold only ASCII a-z to upper case, like libinjection's comparison; no entry
 * holds a NUL byte, so a word with a NUL in it is never found (as in libinjection,
 * whose comparison treats an embedded NUL as a mismatch). Fingerprints live in the same
 * table as `0` + the upper-cased fingerprint with type `F`, as libinjection stores them.
 */
import { sqlFingerprints, sqlKeywords } from './sqli-data.js';

/** Type character of fingerprint entries. */
export const FINGERPRINT_TYPE = 0x46; // 'F'

/** No entry is longer than this (the table's own limit). */
const MAX_KEY = 31;

/** Keys (upper case, at most 31 bytes) → a nonzero byte, packed for hashing. */
interface ByteTable {
  readonly mask: number;
  /** Slot → entry index + 1 (0 = empty). */
  readonly slots: Int32Array;
  readonly bytes: Uint8Array;
  readonly start: Int32Array;
  readonly length: Uint8Array;
  readonly value: Uint8Array;
}

function mix(h: number, byte: number): number {
  return Math.imul(h ^ byte, 0x01000193);
}

const SEED = 0x811c9dc5;

function slotOf(h: number, mask: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) & mask;
}

function upper(c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
}

function buildTable(entries: Map<string, number>): ByteTable {
  let size = 1;
  while (size < entries.size * 3) size <<= 1;
  let packed = 0;
  for (const key of entries.keys()) packed += key.length;
  const t: ByteTable = {
    mask: size - 1,
    slots: new Int32Array(size),
    bytes: new Uint8Array(packed),
    start: new Int32Array(entries.size),
    length: new Uint8Array(entries.size),
    value: new Uint8Array(entries.size),
  };
  let n = 0;
  let at = 0;
  for (const [key, value] of entries) {
    if (key.length > MAX_KEY) throw new Error(`SQL word table: ${key} is longer than ${MAX_KEY} bytes`);
    t.start[n] = at;
    t.length[n] = key.length;
    t.value[n] = value;
    let h = SEED;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      t.bytes[at++] = c;
      h = mix(h, c);
    }
    let slot = slotOf(h, t.mask);
    while (t.slots[slot] !== 0) slot = (slot + 1) & t.mask;
    t.slots[slot] = n + 1;
    n++;
  }
  return t;
}

/** The value of `s[start, start+len)` in the table, or 0. */
function findInString(t: ByteTable, s: string, start: number, len: number): number {
  if (len === 0 || len > MAX_KEY) return 0;
  let h = SEED;
  for (let i = 0; i < len; i++) h = mix(h, upper(s.charCodeAt(start + i)));
  for (let slot = slotOf(h, t.mask); ; slot = (slot + 1) & t.mask) {
    const e = (t.slots[slot] ?? 0) - 1;
    if (e < 0) return 0;
    if (t.length[e] !== len) continue;
    const at = t.start[e] ?? 0;
    let i = 0;
    while (i < len && t.bytes[at + i] === upper(s.charCodeAt(start + i))) i++;
    if (i === len) return t.value[e] ?? 0;
  }
}

/** The value of `bytes[0, len)`, after the byte `prefix` unless it is -1, or 0. */
function findInBytes(t: ByteTable, bytes: Uint8Array, len: number, prefix: number): number {
  const total = prefix < 0 ? len : len + 1;
  if (total === 0 || total > MAX_KEY) return 0;
  let h = SEED;
  if (prefix >= 0) h = mix(h, upper(prefix));
  for (let i = 0; i < len; i++) h = mix(h, upper(bytes[i] ?? 0));
  for (let slot = slotOf(h, t.mask); ; slot = (slot + 1) & t.mask) {
    const e = (t.slots[slot] ?? 0) - 1;
    if (e < 0) return 0;
    if (t.length[e] !== total) continue;
    let at = t.start[e] ?? 0;
    if (prefix >= 0 && t.bytes[at++] !== upper(prefix)) continue;
    let i = 0;
    while (i < len && t.bytes[at + i] === upper(bytes[i] ?? 0)) i++;
    if (i === len) return t.value[e] ?? 0;
  }
}

const words = new Map<string, number>();
for (const [word, type] of sqlKeywords) words.set(word.toUpperCase(), type.charCodeAt(0));
for (const fp of sqlFingerprints) words.set(`0${fp.toUpperCase()}`, FINGERPRINT_TYPE);
const WORDS = buildTable(words);

// Every word sequence that a multi-word entry ("NATURAL LEFT OUTER JOIN") continues:
// folding tries to merge two tokens only after the first of them is one of these.
const prefixes = new Map<string, number>();
for (const key of words.keys()) {
  for (let i = key.indexOf(' '); i > 0; i = key.indexOf(' ', i + 1)) prefixes.set(key.slice(0, i), 1);
}
const PHRASE_PREFIXES = buildTable(prefixes);

/**
 * Type character of the word `s[start, start+len)` (a byte string), or 0 when it is not
 * in the table.
 */
export function lookupWord(s: string, start: number, len: number): number {
  return findInString(WORDS, s, start, len);
}

/**
 * Type character of the word held in `bytes[0, len)`, optionally preceded by the byte
 * `prefix` (pass -1 for none), or 0 when it is not in the table.
 */
export function lookupBytes(bytes: Uint8Array, len: number, prefix: number): number {
  return findInBytes(WORDS, bytes, len, prefix);
}

/** Some multi-word entry starts with the words in `bytes[0, len)` and a space. */
export function startsPhrase(bytes: Uint8Array, len: number): boolean {
  return findInBytes(PHRASE_PREFIXES, bytes, len, -1) !== 0;
}
