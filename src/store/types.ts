/**
 * @module store/types
 * The state Warden keeps beyond one request, behind one interface: persistent SecLang
 * collections (IP, GLOBAL, SESSION, USER, RESOURCE) today; bans and counters join them.
 * Backends: memory (here), SQLite (the default for one node), Redis (a fleet). A backend
 * may answer synchronously (memory, SQLite) or with a Promise (Redis); callers handle both.
 */

/** One variable of a stored collection. `expires` is a Unix time in ms, or 0 for never. */
export interface StoredVariable {
  readonly name: string;
  readonly value: string;
  readonly expires: number;
}

/** A stored collection record: its variables by lower-cased name. */
export type StoredCollection = ReadonlyMap<string, StoredVariable>;

/**
 * What a transaction writes back: the final variables, and for counters changed with
 * `=+`/`=-` the net change, so that concurrent transactions add up instead of overwriting
 * each other (ModSecurity v2 merges the same way).
 */
export interface CollectionUpdate {
  readonly variables: ReadonlyMap<string, StoredVariable>;
  /** Lower-cased variable name → net numeric change made by this transaction. */
  readonly deltas: ReadonlyMap<string, number>;
  /** Names removed by this transaction (`setvar:!ip.x`). */
  readonly removed: ReadonlySet<string>;
  /** The record expires this many seconds after its last update. */
  readonly timeoutSeconds: number;
}

export type MaybePromise<T> = T | Promise<T>;

export interface CollectionStore {
  /** The record of `collection` (lower-cased name) for `key`, or null; expired records are null. */
  loadCollection(collection: string, key: string): MaybePromise<StoredCollection | null>;
  /** Writes a transaction's changes, merging counter deltas with the current record. */
  saveCollection(collection: string, key: string, update: CollectionUpdate): MaybePromise<void>;
}
