/**
 * @module engine/collection
 * The values rules look at. An `Entry` is one name/value pair of request data; it never
 * changes once made, which is what lets a transaction cache transformation results on it.
 * A `KeyedCollection` holds variables that rules write (TX, ENV, and the persistent
 * collections IP, GLOBAL, SESSION, USER, RESOURCE), with case-insensitive names as in
 * ModSecurity.
 */
import type { CollectionUpdate, StoredCollection, StoredVariable } from '../store/types.js';

/** One name/value pair (bytes, one char per byte). Immutable. */
export class Entry {
  /** Transformation results of this value, by transformation-chain id (per transaction). */
  tcache: Map<number, string> | null;
  /** Screen answers for this value, indexed by screen group id (engine/prescreen; ids are small). */
  screens: Array<Uint8Array | undefined> | null;
  /** The value's id in the memos across transactions (engine/no-match-memo idOf); 0 until worked out. */
  memoId: number;

  constructor(
    readonly key: string,
    readonly value: string,
  ) {
    this.tcache = null;
    this.screens = null;
    this.memoId = 0;
  }
}

/** Variables by case-insensitive name, in insertion order. */
export class KeyedCollection {
  readonly entries: Map<string, Entry>;

  constructor(readonly name: string) {
    this.entries = new Map();
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key.toLowerCase());
  }

  set(key: string, value: string): void {
    this.setLowered(key.toLowerCase(), key, value);
  }

  /**
   * set() with the key's lower case worked out by the caller (`lower === key.toLowerCase()`),
   * for names known when the rule is loaded. Not for a PersistentCollection, whose set()
   * keeps track of what changed.
   */
  setLowered(lower: string, key: string, value: string): void {
    const existing = this.entries.get(lower);
    // Keep the name as first written (ModSecurity keeps the original record's name).
    this.entries.set(lower, new Entry(existing?.key ?? key, value));
  }

  delete(key: string): void {
    this.entries.delete(key.toLowerCase());
  }

  get size(): number {
    return this.entries.size;
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
      super.set('CREATE_TIME', String(seconds));
      super.set('IS_NEW', '1');
      super.set('KEY', storageKey);
      super.set('LAST_UPDATE_TIME', String(seconds));
      super.set('TIMEOUT', String(timeoutSeconds));
      super.set('UPDATE_COUNTER', '0');
      super.set('UPDATE_RATE', '0');
      this.dirty = true;
    } else {
      for (const v of stored.values()) {
        super.set(v.name, v.value);
        if (v.expires !== 0) this.expiries.set(v.name.toLowerCase(), v.expires);
      }
      super.set('IS_NEW', '0');
    }
  }

  override set(key: string, value: string): void {
    super.set(key, value);
    this.removed.delete(key.toLowerCase());
    this.dirty = true;
  }

  override delete(key: string): void {
    super.delete(key);
    this.removed.add(key.toLowerCase());
    this.deltas.delete(key.toLowerCase());
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
    super.set('UPDATE_COUNTER', String(counter));
    super.set('LAST_UPDATE_TIME', String(Math.floor(now / 1000)));
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
