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

/** A ban as stored: who, by which jail, from when until when, and the how-manyth it is. */
export interface BanRecord {
  readonly jail: string;
  /** The banned address, or IPv6 prefix (`2001:db8:1:2::/64`). */
  readonly key: string;
  /** Unix ms. */
  readonly since: number;
  /** Unix ms when it ends; 0 for never. */
  readonly until: number;
  /** 1 for the first ban of this key, n for the nth (what ban-time increments count). */
  readonly count: number;
  /** Why, for people: the jail's failures, or "manual". */
  readonly reason: string;
}

/**
 * Bans and their history. A ban is written before it is enforced, so a crash between the
 * two loses nothing: on start the live ones are read back and enforced again.
 */
export interface BanStore {
  /** Records a new ban (replacing a live one of the same jail and key). */
  saveBan(ban: BanRecord): MaybePromise<void>;
  /** Ends a live ban at `at` (unban or expiry); the record stays as history. False when none was live. */
  endBan(jail: string, key: string, at: number): MaybePromise<boolean>;
  /** Bans live at `now`. */
  activeBans(now: number): MaybePromise<BanRecord[]>;
  /** Bans of `key` that started at or after `since`, in `jail` or in every jail (null). */
  banCount(key: string, jail: string | null, since: number): MaybePromise<number>;
  /** Forgets history that ended before `before`; returns how many records went. */
  purgeHistory(before: number): MaybePromise<number>;
  /**
   * Shared stores only (Redis): calls `listener` for every ban made or ended through another
   * client of the same store (another node), so it is enforced here too; returns the
   * unsubscribe. Local stores (memory, SQLite) have one writer and leave it out.
   */
  watchBans?(listener: (event: StoredBanEvent) => void): () => void;
}

/** A ban made or ended elsewhere, as a shared store learns of it. */
export type StoredBanEvent =
  | { readonly type: 'ban'; readonly ban: BanRecord }
  /** `ban` is the record that ended, `at` when (Unix ms). */
  | { readonly type: 'unban'; readonly ban: BanRecord; readonly at: number };

/**
 * How a store is doing, for `warden jail status` and the metrics. Local stores are always
 * connected; a Redis store reports its connection and what waits to be written.
 */
export interface StoreHealth {
  readonly backend: 'memory' | 'sqlite' | 'redis';
  /** Where it is (a path, or a Redis URL without its password). */
  readonly target: string;
  /** connecting: before the first connection; disconnected: lost, reconnecting with backoff. */
  readonly state: 'connected' | 'connecting' | 'disconnected';
  /** Unix ms when `state` last changed. */
  readonly since: number;
  /** Ban writes (bans and unbans) kept locally until the store is back. */
  readonly pendingBanWrites: number;
  /** Collection records whose changes are kept locally until the store is back. */
  readonly pendingCollections: number;
  /** Collection writes that could not be kept (sent when the connection broke, or the local buffer full). */
  readonly lostCollectionWrites: number;
  /** Connections re-established after a loss. */
  readonly reconnects: number;
  readonly lastError: string | null;
}

/** Everything Warden keeps: one backend implements both. */
export type Store = CollectionStore & BanStore & {
  /** Releases files and connections. */
  close(): MaybePromise<void>;
  /** The store's connection state (shared stores; read it through `storeHealth`, which fills in local ones). */
  health?(): StoreHealth;
};
