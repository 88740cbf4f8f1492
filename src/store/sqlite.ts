/**
 * @module store/sqlite
 * The embedded default store: one SQLite database (better-sqlite3, WAL) in the data
 * directory holding bans, ban history, persistent collections and the dashboard's counter
 * series (store/series). Every write is a
 * committed transaction before the caller goes on, so a `kill -9` loses nothing that was
 * acknowledged; WAL lets cluster workers read while one writes, and a busy timeout makes
 * concurrent writers wait instead of failing.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SeriesPoint, SeriesStore, SeriesTotal } from './series.js';
import type { BanRecord, CollectionUpdate, Store, StoredCollection, StoredVariable } from './types.js';

// The series table is additive (CREATE IF NOT EXISTS, nothing else reads it): a Warden
// without it opens a database that has it, so it does not bump the version.
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bans (
  id INTEGER PRIMARY KEY,
  jail TEXT NOT NULL,
  key TEXT NOT NULL,
  since INTEGER NOT NULL,
  until INTEGER NOT NULL,
  count INTEGER NOT NULL,
  reason TEXT NOT NULL,
  ended INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS bans_live ON bans (ended, jail, key);
CREATE INDEX IF NOT EXISTS bans_history ON bans (key, since);
CREATE TABLE IF NOT EXISTS collections (
  name TEXT NOT NULL,
  key TEXT NOT NULL,
  variables TEXT NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (name, key)
);
CREATE TABLE IF NOT EXISTS series (
  step INTEGER NOT NULL,
  t INTEGER NOT NULL,
  name TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (step, t, name)
) WITHOUT ROWID;
`;

/** A store problem with the path, for messages a user can act on. */
export class StoreError extends Error {
  readonly code = 'WARDEN_STORE';
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

type Row = { jail: string; key: string; since: number; until: number; count: number; reason: string };

/**
 * Opens (creating when needed) the database at `path`.
 *
 * @example
 * const store = openSqliteStore('/var/lib/warden/warden.db');
 * store.saveBan({ jail: 'waf', key: '203.0.113.9', since: Date.now(), until: 0, count: 1, reason: 'manual' });
 */
export function openSqliteStore(path: string, now: () => number = Date.now): Store & SeriesStore {
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed transaction survives a process crash; only a power
    // loss may take the last ones (the ban is enforced again by the firewall action anyway).
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
  } catch (err) {
    throw new StoreError(`cannot open the SQLite store ${path}: ${(err as Error).message}`);
  }
  const version = (db.prepare('SELECT value FROM meta WHERE name = ?').get('schema') as { value: string } | undefined)?.value;
  if (version === undefined) db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)').run('schema', String(SCHEMA_VERSION));
  else if (Number(version) > SCHEMA_VERSION) {
    throw new StoreError(`${path} was written by a newer Warden (schema ${version}; this one knows ${SCHEMA_VERSION})`);
  }

  const q = {
    endLive: db.prepare('UPDATE bans SET ended = ? WHERE jail = ? AND key = ? AND ended = 0'),
    insertBan: db.prepare('INSERT INTO bans (jail, key, since, until, count, reason) VALUES (?, ?, ?, ?, ?, ?)'),
    active: db.prepare('SELECT jail, key, since, until, count, reason FROM bans WHERE ended = 0 AND (until = 0 OR until > ?) ORDER BY since'),
    countAll: db.prepare('SELECT COUNT(*) AS n FROM bans WHERE key = ? AND since >= ?'),
    countJail: db.prepare('SELECT COUNT(*) AS n FROM bans WHERE key = ? AND jail = ? AND since >= ?'),
    purge: db.prepare('DELETE FROM bans WHERE (ended <> 0 AND ended < ?) OR (ended = 0 AND until <> 0 AND until < ?)'),
    loadColl: db.prepare('SELECT variables, expires FROM collections WHERE name = ? AND key = ?'),
    saveColl: db.prepare('INSERT OR REPLACE INTO collections (name, key, variables, expires) VALUES (?, ?, ?, ?)'),
    deleteColl: db.prepare('DELETE FROM collections WHERE name = ? AND key = ?'),
    addSeries: db.prepare('INSERT INTO series (step, t, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (step, t, name) DO UPDATE SET value = value + excluded.value'),
    setSeries: db.prepare('INSERT OR REPLACE INTO series (step, t, name, value) VALUES (?, ?, ?, ?)'),
    readSeries: db.prepare('SELECT name, t, value FROM series WHERE step = ? AND t >= ? AND t < ? AND name IN (SELECT value FROM json_each(?)) ORDER BY t, name'),
    sumSeries: db.prepare(
      'SELECT name, SUM(value) AS value FROM series WHERE step = ? AND t >= ? AND t < ? AND substr(name, 1, ?) = ? GROUP BY name ORDER BY value DESC, name LIMIT ?',
    ),
    purgeSeries: db.prepare('DELETE FROM series WHERE step = ? AND t < ?'),
  };

  // One transaction per bucket written: a flush of every series costs one commit.
  const writeSeries = db.transaction((stmt: Database.Statement, step: number, t: number, values: ReadonlyMap<string, number>) => {
    for (const [name, value] of values) stmt.run(step, t, name, value);
  });

  const saveBan = db.transaction((ban: BanRecord) => {
    q.endLive.run(ban.since, ban.jail, ban.key);
    q.insertBan.run(ban.jail, ban.key, ban.since, ban.until, ban.count, ban.reason);
  });

  const load = (collection: string, key: string): Map<string, StoredVariable> | null => {
    const row = q.loadColl.get(collection, key) as { variables: string; expires: number } | undefined;
    if (row === undefined) return null;
    const t = now();
    if (row.expires !== 0 && row.expires <= t) {
      q.deleteColl.run(collection, key);
      return null;
    }
    const vars = new Map<string, StoredVariable>();
    for (const v of JSON.parse(row.variables) as StoredVariable[]) {
      if (v.expires !== 0 && v.expires <= t) continue;
      vars.set(v.name.toLowerCase(), v);
    }
    return vars;
  };

  // Read-merge-write in one transaction: counters changed by concurrent transactions (other
  // workers) add up instead of overwriting each other, as ModSecurity v2 merges them.
  const saveCollection = db.transaction((collection: string, key: string, update: CollectionUpdate) => {
    const current = load(collection, key);
    const merged = new Map<string, StoredVariable>();
    for (const [name, v] of update.variables) {
      const delta = update.deltas.get(name);
      const stored = current?.get(name);
      if (delta !== undefined && stored !== undefined) {
        merged.set(name, { ...v, value: String(Math.max(0, (parseInt(stored.value, 10) || 0) + delta)) });
      } else merged.set(name, v);
    }
    if (current !== null) for (const [name, v] of current) if (!merged.has(name) && !update.removed.has(name)) merged.set(name, v);
    const expires = update.timeoutSeconds > 0 ? now() + update.timeoutSeconds * 1000 : 0;
    q.saveColl.run(collection, key, JSON.stringify([...merged.values()]), expires);
  });

  return {
    saveBan: (ban) => void saveBan(ban),
    endBan: (jail, key, at) => q.endLive.run(at, jail, key).changes > 0,
    activeBans: (t) => q.active.all(t) as Row[],
    banCount: (key, jail, since) =>
      ((jail === null ? q.countAll.get(key, since) : q.countJail.get(key, jail, since)) as { n: number }).n,
    purgeHistory: (before) => q.purge.run(before, before).changes,
    loadCollection: (collection, key): StoredCollection | null => load(collection, key),
    saveCollection: (collection, key, update) => void saveCollection(collection, key, update),
    addSeries: (step, t, values) => void writeSeries(q.addSeries, step, t, values),
    setSeries: (step, t, values) => void writeSeries(q.setSeries, step, t, values),
    readSeries: (step, from, to, names) => q.readSeries.all(step, from, to, JSON.stringify(names)) as SeriesPoint[],
    sumSeries: (step, from, to, prefix, limit) => q.sumSeries.all(step, from, to, prefix.length, prefix, limit) as SeriesTotal[],
    purgeSeries: (step, before) => q.purgeSeries.run(step, before).changes,
    close: () => void db.close(),
  };
}
