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
 * Values are known by their ids (ValueIds: equal ids, equal characters). A value enters
 * the memo once it has a lasting id (from its second sighting on), so values that never
 * repeat cost a lookup rather than an insert. Rules that share their targets (the same
 * arguments, cookies and headers for dozens of CRS rules) also remember whole lists of
 * values they did not match: a request like an earlier one costs such a rule one lookup.
 *
 * Only "no match" is remembered: a match runs as usual, with its captures and actions. A
 * value whose evaluation ran into the regex match limit is not remembered (the limit sets
 * MSC_PCRE_LIMITS_EXCEEDED, a side effect). Each memo is bounded in entries and starts
 * over when full.
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
const MAX_LISTS = 256;
/** Lookups per window, the hit rate below which the memo rests, and for how many windows. */
const WINDOW = 512;
const MIN_HIT_RATE = 0.05;
const REST_WINDOWS = 16;

/**
 * Admission to a memo on the second sighting (a "doorkeeper", as in TinyLFU): a key seen
 * once is only noted, as one bit of a small table indexed by a hash of it, and enters the
 * memo the next time. Keys that never repeat (a session id, a nonce, a search) then cost a
 * hash instead of an insert. A collision only lets a key in early. The table is cleared
 * with its memo, and on its own once half its bits could be set (it would admit nearly
 * everything after that).
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
    if (++this.noted > this.size >>> 1) this.clear();
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
 * characters, so memos compare numbers, and a list of values has a short key (its ids).
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

/** How many list prefixes ListIds holds before it starts over. */
const LIST_NODES = 65_536;

interface ListNode {
  /** The list ending here: its id, 0 until one is asked for. */
  id: number;
  /** Longer lists through this one, by their next value's id. */
  next: Map<number, ListNode> | null;
}

/**
 * Numbers for lists of values: two lists get the same id if and only if they hold the same
 * values in the same order. A trie over value ids, so that a list seen before costs one
 * Map lookup per value and allocates nothing. Only lists of lasting value ids have one (a
 * value seen for the first time makes its list new too). Bounded; when full it starts
 * over, and like value ids, list ids are never given again.
 */
export class ListIds {
  private root = new Map<number, ListNode>();
  private nodes = 0;
  private next = 1;

  /** The id of the values of `entries[0 … length)`, or -1 (empty, or a value seen the first time). */
  idOf(entries: readonly Entry[], length: number): number {
    if (length === 0) return -1;
    let level = this.root;
    let node: ListNode | undefined;
    for (let i = 0; i < length; i++) {
      const v = idOf(entries[i] as Entry);
      if (v < 0) return -1;
      node = level.get(v);
      if (node === undefined) {
        if (++this.nodes > LIST_NODES) {
          this.clear();
          return -1;
        }
        node = { id: 0, next: null };
        level.set(v, node);
      }
      if (i + 1 < length) level = node.next ??= new Map();
    }
    const last = node as ListNode;
    if (last.id === 0) last.id = this.next++;
    return last.id;
  }

  clear(): void {
    this.root = new Map();
    this.nodes = 0;
  }
}

/** The process's list ids (see ListIds). */
export const listIds = new ListIds();

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
 * Recent value ids → what was worked out for their values, shared by the screen groups'
 * memos and the rules' no-match memos: lasting ids only (a value seen the first time is
 * not taken), bounded in entries — when full it starts over, which costs nothing per call.
 */
export class ValueMemo<V> {
  private known = new Map<number, V>();

  constructor(private readonly maxEntries: number) {}

  /** What is remembered for the id, or undefined. */
  get(id: number): V | undefined {
    return id > 0 ? this.known.get(id) : undefined;
  }

  /** Remembers id → `value` (a lasting id; a first sighting's is ignored). */
  offer(id: number, value: V): void {
    if (id <= 0) return;
    if (this.known.size >= this.maxEntries) this.clear();
    this.known.set(id, value);
  }

  clear(): void {
    this.known = new Map();
  }

  get size(): number {
    return this.known.size;
  }
}

export class NoMatchMemo {
  private readonly known = new ValueMemo<true>(MAX_ENTRIES);
  /** Whole target lists (listIds) the rule did not match. */
  private readonly lists = new ValueMemo<true>(MAX_LISTS);
  /** Lookups and hits in the current window; while resting, lookups skipped so far. */
  private lookups = 0;
  private hits = 0;
  private resting = false;

  /** True when the value of this id (idOf) is known not to match (false also when the memo does not know or rests). */
  has(id: number): boolean {
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
    if (this.known.get(id) === undefined) return false;
    this.hits++;
    return true;
  }

  /** Remembers that the value of this id does not match. */
  add(id: number): void {
    if (!this.resting) this.known.offer(id, true);
  }

  /** True when no value of this list of values (listIds) matches: the rule can be skipped. */
  hasList(id: number): boolean {
    return this.lists.get(id) !== undefined;
  }

  /** Remembers that no value of the list matched. */
  addList(id: number): void {
    this.lists.offer(id, true);
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
  return rule.screen === null && hasPureVerdict(rule) ? new NoMatchMemo() : null;
}

/**
 * Whether the rule's "no match" on a value holds for every value with the same characters:
 * a fixed operator whose answer depends on the value only, and not negated.
 */
export function hasPureVerdict(rule: Rule): boolean {
  return rule.operator !== null && !rule.negated && PURE_OPERATORS.has(rule.operatorName.toLowerCase());
}
