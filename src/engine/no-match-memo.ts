/**
 * @module engine/no-match-memo
 * Raw values a rule is known not to match, remembered across transactions.
 *
 * Most requests look like the ones before them: the same Accept, Accept-Language and
 * User-Agent, the same cookie names, the same few paths. A rule whose verdict on a value
 * depends on nothing but that value (a fixed operator, transformations that are pure
 * functions) gives the same "no match" every time it sees it, so the value is remembered
 * and the next time neither its transformations nor the operator run. The screen groups of
 * engine/prescreen do this for screened rules; this memo serves the others (operators RE2
 * cannot screen — @pm, @detectSQLi, @validateByteRange … — multiMatch rules, and @rx rules
 * in groups too small for a set).
 *
 * A value enters the memo the second time it is seen not to match (Doorkeeper), so values
 * that never repeat cost a hash rather than a copy and an insert.
 *
 * Only "no match" is remembered: a match runs as usual, with its captures and actions. A
 * value whose evaluation ran into the regex match limit is not remembered (the limit sets
 * MSC_PCRE_LIMITS_EXCEEDED, a side effect). A value is remembered by its key (memoKeyOf):
 * a short value by a copy of itself (a slice would keep a whole request body alive), a
 * longer one — a comment, a body, a pingback retried every few minutes — by its SHA-256,
 * worked out once per value and transaction. Each memo is bounded in entries and
 * characters and starts over when full.
 *
 * Traffic whose values never repeat (an attacker's random parameters) would make every
 * lookup a miss and every miss an insert: after each window of lookups the memo checks its
 * hit rate, and when it is under MIN_HIT_RATE it rests (no lookups, no inserts) for a
 * while, then tries again. Unhelpful, it costs a few lookups per window.
 */
import { createHash } from 'node:crypto';
import type { Entry } from './collection.js';
import type { Rule } from './rule.js';

/** Operators whose answer depends on the (transformed) value alone, given a fixed parameter. */
const PURE_OPERATORS = new Set([
  'rx',
  'pm',
  'pmf',
  'pmfromfile',
  'detectsqli',
  'detectxss',
  'validatebyterange',
  'validateurlencoding',
  'validateutf8encoding',
  'within',
  'contains',
  'containsword',
  'streq',
  'beginswith',
  'endswith',
  'strmatch',
  'ipmatch',
  'ipmatchf',
  'ipmatchfromfile',
]);

const MAX_ENTRIES = 512;
const MAX_CHARS = 32 * 1024;
/** Lookups per window, the hit rate below which the memo rests, and for how many windows. */
const WINDOW = 512;
const MIN_HIT_RATE = 0.05;
const REST_WINDOWS = 16;

/** Bits of a doorkeeper's table (a power of two). */
const DOOR_BITS = 8192;

/**
 * Admission to a memo on the second sighting (a "doorkeeper", as in TinyLFU): a value seen
 * once is only noted, as one bit of a small table indexed by a hash of its characters, and
 * enters the memo the next time. Values that never repeat (a session id, a nonce, a
 * search) then cost a hash instead of a copy and an insert. A collision only lets a value
 * in early. The table is cleared with the memo.
 */
export class Doorkeeper {
  private readonly bits = new Int32Array(DOOR_BITS >>> 5);

  /** True when `s` was seen before (since the last clear); notes it otherwise. */
  admit(s: string): boolean {
    // FNV-1a over the characters (latin1: one byte each).
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h &= DOOR_BITS - 1;
    const word = h >>> 5;
    const bit = 1 << (h & 31);
    const bits = this.bits;
    if (((bits[word] as number) & bit) !== 0) return true;
    bits[word] = (bits[word] as number) | bit;
    return false;
  }

  clear(): void {
    this.bits.fill(0);
  }
}

/**
 * A copy of `s` that keeps no other string alive. V8 makes a substring of 13 characters or
 * more a view into its parent (an argument into a whole request body); a memo keeping such
 * a key would keep the body. Concatenating makes a new string, and slicing it flattens
 * it into one of the key's own length (measured: about 60 ns for 60 characters, a Buffer
 * round trip about 275).
 */
export function detached(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

/** Values up to this length are their own key; longer ones are keyed by their digest. */
export const SHORT_KEY = 48;
const DIGEST_PREFIX = 'sha256:';

/**
 * The key of an entry's raw value in the memos: the value itself when it has at most
 * SHORT_KEY characters, otherwise `sha256:` and the base64 SHA-256
 * of its UTF-16 code units (every JavaScript string has exactly one such encoding, so two
 * values share a key only if SHA-256 collides). A digest key is longer than SHORT_KEY, so
 * no short value is ever taken for one. Worked out once per entry; the digest of 1 KB
 * costs about 3 µs (measured), a fraction of running one rule's transformations over it.
 */
export function memoKeyOf(entry: Entry): string {
  let key = entry.memoKey;
  if (key === null) {
    const raw = entry.value;
    key = raw.length <= SHORT_KEY ? raw : DIGEST_PREFIX + createHash('sha256').update(raw, 'utf16le').digest('base64');
    entry.memoKey = key;
  }
  return key;
}

/**
 * Recent raw values → what was worked out for them, shared by the screen groups' memos and
 * the rules' no-match memos: keyed by memoKeyOf, taken in on their second sighting
 * (Doorkeeper), and bounded in entries and characters — when a bound is reached it starts
 * over, which costs nothing per call.
 */
export class ValueMemo<V> {
  private known = new Map<string, V>();
  private chars = 0;
  private readonly door = new Doorkeeper();

  constructor(
    private readonly maxEntries: number,
    private readonly maxChars: number,
  ) {}

  /** What is remembered for the key (memoKeyOf), or undefined. */
  get(key: string): V | undefined {
    return this.known.get(key);
  }

  /** Offers key → `value`: remembered if the key was offered before. */
  offer(key: string, value: V): void {
    if (!this.door.admit(key)) return;
    if (this.known.size >= this.maxEntries || this.chars >= this.maxChars) this.clear();
    // A short value's key is the value: copied, so that it keeps no request body alive.
    this.known.set(detached(key), value);
    this.chars += key.length;
  }

  clear(): void {
    this.known = new Map();
    this.chars = 0;
    this.door.clear();
  }

  get size(): number {
    return this.known.size;
  }
}

export class NoMatchMemo {
  private readonly known = new ValueMemo<true>(MAX_ENTRIES, MAX_CHARS);
  /** Lookups and hits in the current window; while resting, lookups skipped so far. */
  private lookups = 0;
  private hits = 0;
  private resting = false;

  /** True when the value of this key (memoKeyOf) is known not to match (false also when the memo does not know or rests). */
  has(key: string): boolean {
    if (this.resting) {
      if (++this.lookups >= WINDOW * REST_WINDOWS) {
        this.resting = false;
        this.lookups = 0;
        this.hits = 0;
      }
      return false;
    }
    if (++this.lookups >= WINDOW) {
      // Below the rate: rest, and forget (what it holds did not help).
      if (this.hits < WINDOW * MIN_HIT_RATE) {
        this.resting = true;
        this.known.clear();
      }
      this.lookups = 0;
      this.hits = 0;
    }
    if (this.known.get(key) === undefined) return false;
    this.hits++;
    return true;
  }

  /** Remembers that the value of this key does not match. */
  add(key: string): void {
    if (!this.resting) this.known.offer(key, true);
  }

  /** Values remembered now (for tests). */
  get size(): number {
    return this.known.size;
  }

  /** Whether the memo is resting (for tests). */
  get isResting(): boolean {
    return this.resting;
  }
}

/**
 * A memo for the rule when its "no match" on a value can be remembered: a fixed operator
 * whose answer depends on the value only, not negated (a negated rule's "no match" is a
 * match), and no screen group (that remembers for screened rules already).
 */
export function noMatchMemoFor(rule: Rule): NoMatchMemo | null {
  if (rule.operator === null || rule.negated || rule.screen !== null) return null;
  if (!PURE_OPERATORS.has(rule.operatorName.toLowerCase())) return null;
  return new NoMatchMemo();
}
