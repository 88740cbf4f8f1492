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
 * cannot screen — @detectSQLi, @validateByteRange … — multiMatch rules, and @rx and @pm
 * rules in groups too small for a set).
 *
 * Values are known by their ids (ValueIds: equal ids, equal characters). A value enters
 * the memo once it has a lasting id (from its second sighting on), so values that never
 * repeat (an attacker's random parameters, a session id) cost nothing beyond their id.
 * What a Waf knows about a value is kept in one place (FactTable: a bit per memo rule, the
 * screen groups' answers), found once per value and transaction.
 *
 * Only "no match" is remembered: a match runs as usual, with its captures and actions. A
 * value whose evaluation ran into the regex match limit is not remembered (the limit sets
 * MSC_PCRE_LIMITS_EXCEEDED, a side effect). Every table is bounded and starts over when
 * full.
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

/**
 * Admission to a memo on the second sighting (a "doorkeeper", as in TinyLFU): a key seen
 * once is only noted, as one bit of a small table indexed by a hash of it, and enters the
 * memo the next time. Keys that never repeat (a session id, a nonce, a search) then cost a
 * hash instead of an insert. A collision only lets a key in early. The table is cleared
 * with its memo, and on its own once an eighth of its bits could be set, so that a key
 * seen once is let in early at most one time in eight (cleared at half, up to half of a
 * never-repeat load got lasting ids and then facts: in process the heap before a full GC
 * was 206 MB against 131-137 MB now, for the same CPU).
 */
export class Doorkeeper {
  private readonly bits: Int32Array;
  private noted = 0;

  /** `size`: bits of the table, a power of two. */
  constructor(private readonly size: number) {
    this.bits = new Int32Array(size >>> 5);
  }

  /** True when the string `s` was seen before (since the last clear); notes it otherwise. */
  admit(s: string): boolean {
    // FNV-1a over the characters (latin1: one byte each).
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return this.seen(h);
  }

  private seen(hash: number): boolean {
    const h = (hash >>> 0) & (this.size - 1);
    const word = h >>> 5;
    const bit = 1 << (h & 31);
    const bits = this.bits;
    if (((bits[word] as number) & bit) !== 0) return true;
    if (++this.noted > this.size >>> 3) this.clear();
    bits[word] = (bits[word] as number) | bit;
    return false;
  }

  clear(): void {
    this.bits.fill(0);
    this.noted = 0;
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
export const SHORT_KEY = 256;
/**
 * Values longer than this get no lasting id (each sighting a fresh one): they are not
 * digested, so a 1 MB body costs no 3 ms of SHA-256, and memos do not know them.
 */
export const MAX_ID_LENGTH = 64 * 1024;
/** What the value interner holds before it starts over: keys, and characters of short keys. */
const IDS_ENTRIES = 65_536;
const IDS_CHARS = 4 * 1024 * 1024;
/** Bits of the interner's doorkeeper. */
const IDS_DOOR_BITS = 1 << 17;

/**
 * Numbers for values: two values get the same id if and only if they have the same
 * characters, so memos compare numbers.
 * A value up to SHORT_KEY characters is looked up by itself, a longer one (a comment, a
 * body, a pingback retried every few minutes) by its SHA-256 over its UTF-16 code units
 * (every JavaScript string has exactly one such encoding: values share a digest only if
 * SHA-256 collides), in a table of their own, so that a short value is never taken for a
 * digest. A digest costs about 3 µs per KB (measured), once per value and transaction.
 *
 * Ids are never reused: when the table is full it starts over and values seen again get
 * new ids, so what a memo remembered under an old id is never mistaken for another value.
 * A value is given a lasting id (positive) on its second sighting (Doorkeeper); the first
 * time it gets a fresh negative one, which memos do not take, so values that never repeat
 * (random parameters) neither fill the table nor the memos, nor push out values that do.
 */
export class ValueIds {
  private short = new Map<string, number>();
  private long = new Map<string, number>();
  private chars = 0;
  private next = 1;
  private readonly door = new Doorkeeper(IDS_DOOR_BITS);

  /** The id of a string value: positive when lasting, negative the first time it is seen. */
  idOf(value: string): number {
    if (value.length > MAX_ID_LENGTH) return -this.next++;
    const long = value.length > SHORT_KEY;
    const key = long ? createHash('sha256').update(value, 'utf16le').digest('binary') : value;
    const table = long ? this.long : this.short;
    const known = table.get(key);
    if (known !== undefined) return known;
    const id = this.next++;
    if (!this.door.admit(key)) return -id;
    if (this.short.size + this.long.size >= IDS_ENTRIES || this.chars >= IDS_CHARS) this.clear();
    table.set(long ? key : detached(key), id);
    this.chars += key.length;
    return id;
  }

  /** Forgets every value (ids given so far are never given again). */
  clear(): void {
    this.short = new Map();
    this.long = new Map();
    this.chars = 0;
    this.door.clear();
  }

  /** Values with a lasting id now (for tests). */
  get size(): number {
    return this.short.size + this.long.size;
  }
}

/** The process's value ids: every Waf's memos use them (an id means the same characters everywhere). */
export const valueIds = new ValueIds();

/** The id of an entry's value, worked out once per entry (0: not yet). */
export function idOf(entry: Entry): number {
  let id = entry.memoId;
  if (id === 0) {
    id = valueIds.idOf(entry.value);
    entry.memoId = id;
  }
  return id;
}

/**
 * Readies an entry that a new transaction takes over from the one before it on the same
 * connection (engine HeaderCarry). A first sighting's id (negative: memos do not take it)
 * is forgotten, so that this transaction's sighting is the value's second and gives it a
 * lasting id, as a new entry of the same value would get; and a fact table that knew
 * nothing about the value is asked again (it may know it by now; facts it gave stay true).
 * Without this, a value first seen on a keep-alive connection kept its first-sighting id
 * there for good, and no memo ever knew it.
 */
export function carriedOver(entry: Entry): void {
  if (entry.memoId < 0) entry.memoId = 0;
  if (entry.facts === null) entry.factTable = null;
}

/** Values a Waf's fact table holds before it starts over. */
export const FACT_VALUES = 16_384;

/** Bits per word of ValueFacts.bits: 30, so that every word stays a small integer in V8. */
const WORD_BITS = 30;

/** Whether fact `bit` is set in `bits` (ValueFacts.bits, or FactTable.common of several). */
function hasFact(bits: readonly number[], bit: number): boolean {
  return (((bits[(bit / WORD_BITS) | 0] as number) >>> bit % WORD_BITS) & 1) === 1;
}

/**
 * What one Waf knows about one value with a lasting id, across transactions: a bit per
 * memo rule that does not match it (NoMatchMemo) and per screen group whose answer is that
 * none of its members may match (the usual answer); the other answers by group id.
 */
export class ValueFacts {
  readonly bits: number[];
  hits: Array<Uint8Array | undefined> | null = null;

  constructor(words: number) {
    this.bits = new Array<number>(words).fill(0);
  }

  has(bit: number): boolean {
    return hasFact(this.bits, bit);
  }

  set(bit: number): void {
    const w = (bit / WORD_BITS) | 0;
    this.bits[w] = (this.bits[w] as number) | (1 << bit % WORD_BITS);
  }
}

/**
 * A Waf's facts about recent values, by value id: one lookup per value and transaction
 * (kept on the Entry), after which each rule's memo is a bit test and each screen answer
 * an array read. (A Map per rule and per screen group, looked up for every rule and value,
 * cost 46 ns a lookup in cache misses: 11 % of a benign GET whose values never repeat.)
 * Values seen only once have no facts. Bounded: when full it starts over (value ids are
 * never given again, so a fact is never mistaken for another value's).
 */
export class FactTable {
  private known = new Map<number, ValueFacts>();
  private bits = 0;

  /** A bit for one more memo rule or screen group; all are handed out before the first transaction. */
  newBit(): number {
    if (this.known.size > 0) throw new Error('FactTable: bits are handed out before the table is used');
    return this.bits++;
  }

  /**
   * The facts of an entry's value: null for a value seen the first time, and (unless
   * `create`) for one nothing is known about yet. Looked up once per entry, then kept on it.
   */
  of(entry: Entry, create: boolean): ValueFacts | null {
    if (entry.factTable === this && (entry.facts !== null || !create)) return entry.facts;
    const id = idOf(entry);
    let facts: ValueFacts | null = null;
    if (id > 0) {
      facts = this.known.get(id) ?? null;
      if (facts === null && create) {
        if (this.known.size >= FACT_VALUES) this.known = new Map();
        facts = new ValueFacts(Math.ceil(this.bits / WORD_BITS));
        this.known.set(id, facts);
      }
    }
    entry.factTable = this;
    entry.facts = facts;
    return facts;
  }

  /**
   * The facts (as ValueFacts.bits) every one of `entries` has: their intersection, or null
   * when some value has none (seen the first time, or nothing known yet).
   */
  common(entries: readonly Entry[], length: number): number[] | null {
    let all: number[] | null = null;
    for (let i = 0; i < length; i++) {
      const facts = this.of(entries[i] as Entry, false);
      if (facts === null) return null;
      if (all === null) all = facts.bits.slice();
      else for (let w = 0; w < all.length; w++) all[w] = (all[w] as number) & (facts.bits[w] as number);
    }
    return all;
  }

  /** Values with facts now (for tests and reports). */
  get size(): number {
    return this.known.size;
  }
}

/**
 * A rule's memory of values it does not match: a bit in the Waf's FactTable (a value seen
 * the first time is not remembered). (Whole target lists it did not match were remembered
 * too, by an id per list from a trie of value ids: working those ids out cost more than the
 * rules it spared: 5 % of a benign GET in process, 7 % of a form, 43 % of a form whose
 * values come back only every 400 requests. Gone.)
 */
export class NoMatchMemo {
  private readonly bit: number;

  constructor(private readonly table: FactTable) {
    this.bit = table.newBit();
  }

  /** True when the entry's value is known not to match. */
  has(entry: Entry): boolean {
    const facts = this.table.of(entry, false);
    return facts !== null && facts.has(this.bit);
  }

  /** True when `common` (FactTable.common of some values) says none of them matches. */
  hasAll(common: readonly number[]): boolean {
    return hasFact(common, this.bit);
  }

  /** Remembers that the entry's value does not match (when it has a lasting id). */
  add(entry: Entry): void {
    this.table.of(entry, true)?.set(this.bit);
  }
}

/**
 * A memo for the rule when its "no match" on a value can be remembered: a fixed operator
 * whose answer depends on the value only, not negated (a negated rule's "no match" is a
 * match), and no screen group (that remembers for screened rules already).
 */
export function noMatchMemoFor(rule: Rule, table: FactTable): NoMatchMemo | null {
  // An operator that matches every value has no "no match" to remember: looking values up would be all cost.
  return rule.screen === null && hasPureVerdict(rule) && rule.operator?.matchesAll !== true ? new NoMatchMemo(table) : null;
}

/**
 * Whether the rule's "no match" on a value holds for every value with the same characters:
 * a fixed operator whose answer depends on the value only, and not negated.
 */
export function hasPureVerdict(rule: Rule): boolean {
  return rule.operator !== null && !rule.negated && PURE_OPERATORS.has(rule.operatorName.toLowerCase());
}
