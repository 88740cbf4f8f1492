/**
 * @module engine/collection
 * The values rules look at. An `Entry` is one name/value pair of request data; it never
 * changes once made, which is what lets a transaction cache transformation results on it.
 * A `KeyedCollection` holds variables that rules write (TX, ENV, and the persistent
 * collections IP, GLOBAL, SESSION, USER, RESOURCE), with case-insensitive names as in
 * ModSecurity.
 */
import type { CollectionUpdate, StoredCollection, StoredVariable } from '../store/types.js';
import type { TransformChain } from './transform-chain.js';
import type { FactTable, ValueFacts } from './no-match-memo.js';
import { isAsciiBytes } from './transforms/bytes.js';

/** One name/value pair (bytes, one char per byte). Immutable. */
export class Entry {
  /** Transformation results of this value, by transformation-chain id (per transaction). */
  tcache: Map<number, string> | null;
  /**
   * For a long value: each cached chain's result as the shortest chain that gives it (the
   * steps that changed nothing dropped; null for the value itself). See engine/transform-chain.
   */
  tcanon: Map<number, TransformChain | null> | null;
  /** Screen answers for this value, indexed by screen group id (engine/prescreen; ids are small). */
  screens: Array<Uint8Array | undefined> | null;
  /** The value's id in the memos across transactions (engine/no-match-memo idOf); 0 until worked out. */
  memoId: number;
  /** The table `facts` was looked up in (engine/no-match-memo FactTable.of), null until then. */
  factTable: FactTable | null;
  /** What that table knows about the value (null: a value seen the first time). */
  facts: ValueFacts | null;

  constructor(
    readonly key: string,
    readonly value: string,
    /**
     * When the variable was first written, in a collection with slots (KeyedCollection):
     * its place among the others there. 0 for request data.
     */
    readonly order: number = 0,
  ) {
    this.tcache = null;
    this.tcanon = null;
    this.screens = null;
    this.memoId = 0;
    this.factTable = null;
    this.facts = null;
  }
}

/**
 * A name's slot kept by what looks the same name up request after request (setvar:tx.x, a
 * `TX:x` or `%{tx.x}` selector): see KeyedCollection.slotFor.
 */
export interface SlotMemo {
  /** The slot map `slot` was looked up in (undefined: not yet). */
  slotMap: ReadonlyMap<string, number> | null | undefined;
  slot: number;
}

/**
 * Variables by case-insensitive name, in insertion order. A variable that has a slot (see
 * `slots`) lives there only; every other one in `entries`.
 */
export class KeyedCollection {
  /** The variables without a slot, by lower-cased name, in insertion order. */
  readonly entries: Map<string, Entry>;

  /**
   * Bit n is set once a variable named by the digit n (TX:0 … TX:9, regex captures) was
   * written, cleared when deleted through deleteLowered: the captures a new match clears
   * are only those that may exist.
   */
  digits: number;

  /**
   * The variables of the names given a slot when the rules were loaded (engine/waf
   * txSlots: the TX variables rules read or write by name, and captures). CRS writes about 200 of
   * them per request and reads them about as often: an array costs less than a Map, which
   * would also grow (and be copied) a few times per request. Empty for a collection
   * without slots.
   */
  readonly slots: Array<Entry | undefined>;
  private readonly slotOf: ReadonlyMap<string, number> | null;
  /** How many slots hold a variable. */
  private slotted: number;
  /** Writes of a new variable so far (Entry.order), with slots only: iteration merges by it. */
  private written: number;
  /**
   * Whether a slot holds a variable whose name has a byte beyond ASCII (its slot's name, in
   * lower case, may then differ from it in more than ASCII case: see engine/variables).
   */
  oddSlotNames: boolean;

  constructor(
    readonly name: string,
    slotOf: ReadonlyMap<string, number> | null = null,
  ) {
    this.entries = new Map();
    this.digits = 0;
    this.slotOf = slotOf === null || slotOf.size === 0 ? null : slotOf;
    this.slots = new Array<Entry | undefined>(this.slotOf?.size ?? 0).fill(undefined);
    this.slotted = 0;
    this.written = 0;
    this.oddSlotNames = false;
  }

  /** The slots by name (the same map for every transaction of a Waf), or null. */
  get slotMap(): ReadonlyMap<string, number> | null {
    return this.slotOf;
  }

  /**
   * The slot of a lower-cased name, -1 for none. Writers that name the same variable every
   * time (setvar:tx.x, captures) keep it and pass it to setLowered and deleteLowered, which
   * otherwise look it up.
   */
  slotIndex(lower: string): number {
    return this.slotOf?.get(lower) ?? -1;
  }

  /** The slot of `lower` (-1: none), looked up once per slot map and kept in `memo`. */
  slotFor(memo: SlotMemo, lower: string): number {
    if (memo.slotMap !== this.slotOf) {
      memo.slotMap = this.slotOf;
      memo.slot = this.slotIndex(lower);
    }
    return memo.slot;
  }

  get(key: string): Entry | undefined {
    return this.getLowered(key.toLowerCase());
  }

  /** get() of a name already lower-cased; `slot` as for setLowered. */
  getLowered(lower: string, slot?: number): Entry | undefined {
    if (this.slotOf !== null) {
      const s = slot ?? this.slotIndex(lower);
      if (s >= 0) return this.slots[s];
    }
    return this.entries.get(lower);
  }

  set(key: string, value: string): void {
    this.setLowered(key.toLowerCase(), key, value);
  }

  /**
   * set() with the key's lower case worked out by the caller (`lower === key.toLowerCase()`):
   * a name known when the rule is loaded is lower-cased once, not per request.
   */
  setLowered(lower: string, key: string, value: string, slot?: number): void {
    if (lower.length === 1) {
      const d = lower.charCodeAt(0) - 0x30;
      if (d >= 0 && d <= 9) this.digits |= 1 << d;
    }
    // Keep the name (and place) as first written (ModSecurity keeps the original record's name).
    if (this.slotOf === null) {
      const existing = this.entries.get(lower);
      this.entries.set(lower, new Entry(existing?.key ?? key, value));
      return;
    }
    const s = slot ?? this.slotIndex(lower);
    if (s >= 0) {
      const existing = this.slots[s];
      if (existing === undefined) {
        this.slotted++;
        if (key !== lower && !isAsciiBytes(key)) this.oddSlotNames = true;
      }
      this.slots[s] = existing === undefined ? new Entry(key, value, ++this.written) : new Entry(existing.key, value, existing.order);
      return;
    }
    const existing = this.entries.get(lower);
    this.entries.set(lower, existing === undefined ? new Entry(key, value, ++this.written) : new Entry(existing.key, value, existing.order));
  }

  delete(key: string): void {
    this.deleteLowered(key.toLowerCase());
  }

  /** delete() of a name already lower-cased. */
  deleteLowered(lower: string, slot?: number): void {
    if (lower.length === 1) {
      const d = lower.charCodeAt(0) - 0x30;
      if (d >= 0 && d <= 9) this.digits &= ~(1 << d);
    }
    const s = this.slotOf === null ? -1 : (slot ?? this.slotIndex(lower));
    if (s < 0) {
      this.entries.delete(lower);
    } else if (this.slots[s] !== undefined) {
      this.slots[s] = undefined;
      this.slotted--;
    }
  }

  get size(): number {
    return this.entries.size + this.slotted;
  }
}

/** Built-in variables every persistent collection has (ModSecurity v2 names). */
const BUILT_INS = ['CREATE_TIME', 'IS_NEW', 'KEY', 'LAST_UPDATE_TIME', 'TIMEOUT', 'UPDATE_COUNTER', 'UPDATE_RATE'];

/**
 * A persistent collection loaded by `initcol` (or setsid/setuid/setrsc): a KeyedCollection
 * that remembers what changed so the transaction can write it back and merge counters.
 */
export class PersistentCollection extends KeyedCollection {
  /** Net change per counter (lower-cased name) from `=+`/`=-`. */
  readonly deltas: Map<string, number>;
  /** Expiry (Unix ms) per variable set by `expirevar`. */
  readonly expiries: Map<string, number>;
  readonly removed: Set<string>;
  dirty: boolean;

  constructor(
    name: string,
    readonly storageKey: string,
    stored: StoredCollection | null,
    readonly timeoutSeconds: number,
    now: number,
  ) {
    super(name);
    this.deltas = new Map();
    this.expiries = new Map();
    this.removed = new Set();
    this.dirty = false;
    const seconds = Math.floor(now / 1000);
    if (stored === null) {
      this.load('CREATE_TIME', String(seconds));
      this.load('IS_NEW', '1');
      this.load('KEY', storageKey);
      this.load('LAST_UPDATE_TIME', String(seconds));
      this.load('TIMEOUT', String(timeoutSeconds));
      this.load('UPDATE_COUNTER', '0');
      this.load('UPDATE_RATE', '0');
      this.dirty = true;
    } else {
      for (const v of stored.values()) {
        this.load(v.name, v.value);
        if (v.expires !== 0) this.expiries.set(v.name.toLowerCase(), v.expires);
      }
      this.load('IS_NEW', '0');
    }
  }

  /** A value as loaded or kept by the collection itself: not a change to write back. */
  private load(key: string, value: string): void {
    super.setLowered(key.toLowerCase(), key, value);
  }

  override setLowered(lower: string, key: string, value: string): void {
    super.setLowered(lower, key, value);
    this.removed.delete(lower);
    this.dirty = true;
  }

  override deleteLowered(lower: string): void {
    super.deleteLowered(lower);
    this.removed.add(lower);
    this.deltas.delete(lower);
    this.dirty = true;
  }

  /** Records a relative change (`=+n`), so the store can merge it with concurrent ones. */
  addDelta(key: string, delta: number): void {
    const lower = key.toLowerCase();
    this.deltas.set(lower, (this.deltas.get(lower) ?? 0) + delta);
  }

  /**
   * Applies what rules did to `placeholder` (the empty record that stood in while an async
   * store was loading this one): counters changed with `=+`/`=-` move from the loaded value
   * and keep their delta, values set outright and expiries are set, removals removed.
   * Without it, `initcol:ip=…,setvar:ip.hits=+1` in one rule loses the increment whenever
   * the record already exists.
   */
  replay(placeholder: PersistentCollection): void {
    for (const name of placeholder.removed) this.delete(name);
    for (const [lower, e] of placeholder.entries) {
      if (isBuiltInCollectionVariable(e.key)) continue;
      const delta = placeholder.deltas.get(lower);
      if (delta === undefined) this.set(e.key, e.value);
      else {
        const old = parseInt(this.get(lower)?.value ?? '0', 10) || 0;
        const next = Math.max(0, old + delta);
        this.set(e.key, String(next));
        this.addDelta(lower, next - old);
      }
    }
    for (const [lower, at] of placeholder.expiries) this.expiries.set(lower, at);
  }

  /** What to write back at the end of the transaction. */
  toUpdate(now: number): CollectionUpdate {
    const counter = (parseInt(this.get('UPDATE_COUNTER')?.value ?? '0', 10) || 0) + 1;
    this.load('UPDATE_COUNTER', String(counter));
    this.load('LAST_UPDATE_TIME', String(Math.floor(now / 1000)));
    const variables = new Map<string, StoredVariable>();
    for (const [lower, e] of this.entries) {
      if (lower === 'is_new') continue;
      variables.set(lower, { name: e.key, value: e.value, expires: this.expiries.get(lower) ?? 0 });
    }
    return { variables, deltas: this.deltas, removed: this.removed, timeoutSeconds: this.timeoutSeconds };
  }
}

export function isBuiltInCollectionVariable(name: string): boolean {
  return BUILT_INS.includes(name.toUpperCase());
}
