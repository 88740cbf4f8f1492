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

const entries = new Map<string, number>();
for (const [word, type] of sqlKeywords) entries.set(word.toUpperCase(), type.charCodeAt(0));
for (const fp of sqlFingerprints) entries.set(`0${fp.toUpperCase()}`, FINGERPRINT_TYPE);

let slotCount = 1;
while (slotCount < entries.size * 3) slotCount <<= 1;
const slotMask = slotCount - 1;
/** Slot → entry index + 1 (0 = empty). */
const slots = new Int32Array(slotCount);
let packedSize = 0;
for (const key of entries.keys()) packedSize += key.length;
const keyBytes = new Uint8Array(packedSize);
const keyStart = new Int32Array(entries.size);
const keyLength = new Uint8Array(entries.size);
const keyType = new Uint8Array(entries.size);

function mix(h: number, byte: number): number {
  return Math.imul(h ^ byte, 0x01000193);
}

function finish(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) & slotMask;
}

{
  let n = 0;
  let at = 0;
  for (const [key, type] of entries) {
    if (key.length > MAX_KEY) throw new Error(`SQL word table: ${key} is longer than ${MAX_KEY} bytes`);
    keyStart[n] = at;
    keyLength[n] = key.length;
    keyType[n] = type;
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      keyBytes[at++] = c;
      h = mix(h, c);
    }
    let slot = finish(h);
    while (slots[slot] !== 0) slot = (slot + 1) & slotMask;
    slots[slot] = n + 1;
    n++;
  }
}

function upper(c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
}

/**
 * Type character of the word `s[start, start+len)` (a byte string), or 0 when it is not
 * in the table.
 */
export function lookupWord(s: string, start: number, len: number): number {
  if (len === 0 || len > MAX_KEY) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = mix(h, upper(s.charCodeAt(start + i)));
  for (let slot = finish(h); ; slot = (slot + 1) & slotMask) {
    const e = (slots[slot] ?? 0) - 1;
    if (e < 0) return 0;
    if (keyLength[e] !== len) continue;
    const at = keyStart[e] ?? 0;
    let i = 0;
    while (i < len && keyBytes[at + i] === upper(s.charCodeAt(start + i))) i++;
    if (i === len) return keyType[e] ?? 0;
  }
}

/**
 * Type character of the word held in `bytes[0, len)`, optionally preceded by the byte
 * `prefix` (pass -1 for none), or 0 when it is not in the table.
 */
export function lookupBytes(bytes: Uint8Array, len: number, prefix: number): number {
  const total = prefix < 0 ? len : len + 1;
  if (total === 0 || total > MAX_KEY) return 0;
  let h = 0x811c9dc5;
  if (prefix >= 0) h = mix(h, upper(prefix));
  for (let i = 0; i < len; i++) h = mix(h, upper(bytes[i] ?? 0));
  for (let slot = finish(h); ; slot = (slot + 1) & slotMask) {
    const e = (slots[slot] ?? 0) - 1;
    if (e < 0) return 0;
    if (keyLength[e] !== total) continue;
    let at = keyStart[e] ?? 0;
    if (prefix >= 0 && keyBytes[at++] !== upper(prefix)) continue;
    let i = 0;
    while (i < len && keyBytes[at + i] === upper(bytes[i] ?? 0)) i++;
    if (i === len) return keyType[e] ?? 0;
  }
}
