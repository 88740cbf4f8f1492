/**
 * @module store/memory
 * The in-memory store: one process, nothing survives a restart. Used by tests, by
 * `warden eval`, and wherever no persistence is configured.
 */
import type { SeriesPoint, SeriesStore, SeriesTotal } from './series.js';
import type { BanRecord, CollectionUpdate, Store, StoredCollection, StoredVariable } from './types.js';

interface Record {
  variables: Map<string, StoredVariable>;
  /** Unix ms after which the whole record is gone. */
  expires: number;
}

/**
 * @example
 * const store = createMemoryStore();
 * const waf = await Waf.fromText(rules, { store });
 */
export function createMemoryStore(now: () => number = Date.now): Store & SeriesStore & { size(): number } {
  const records = new Map<string, Record>();
  const id = (collection: string, key: string): string => `${collection}\u0000${key}`;
  /** Every ban ever made (live and ended), oldest first. */
  const bans: Array<BanRecord & { ended: number }> = [];
  /** Series buckets by width, then by start, then by name. */
  const series = new Map<number, Map<number, Map<string, number>>>();
  const bucket = (step: number, t: number): Map<string, number> => {
    let byT = series.get(step);
    if (byT === undefined) series.set(step, (byT = new Map()));
    let b = byT.get(t);
    if (b === undefined) byT.set(t, (b = new Map()));
    return b;
  };
  const inRange = (step: number, from: number, to: number): Array<[number, Map<string, number>]> =>
    [...(series.get(step) ?? [])].filter(([t]) => t >= from && t < to).sort((a, b) => a[0] - b[0]);

  return {
    size: () => records.size,
    close() {},
    saveBan(ban) {
      for (const b of bans) if (b.jail === ban.jail && b.key === ban.key && b.ended === 0) b.ended = ban.since;
      bans.push({ ...ban, ended: 0 });
    },
    endBan(jail, key, at) {
      let ended = false;
      for (const b of bans) {
        if (b.jail === jail && b.key === key && b.ended === 0) {
          b.ended = at;
          ended = true;
        }
      }
      return ended;
    },
    activeBans(t) {
      return bans.filter((b) => b.ended === 0 && (b.until === 0 || b.until > t)).map(({ ended: _e, ...b }) => b);
    },
    banCount(key, jail, since) {
      return bans.filter((b) => b.key === key && (jail === null || b.jail === jail) && b.since >= since).length;
    },
    purgeHistory(before) {
      let n = 0;
      for (let i = bans.length - 1; i >= 0; i--) {
        const b = bans[i] as BanRecord & { ended: number };
        const end = b.ended !== 0 ? b.ended : b.until;
        if (end !== 0 && end < before) {
          bans.splice(i, 1);
          n++;
        }
      }
      return n;
    },
    loadCollection(collection, key): StoredCollection | null {
      const rec = records.get(id(collection, key));
      if (rec === undefined) return null;
      const t = now();
      if (rec.expires !== 0 && rec.expires <= t) {
        records.delete(id(collection, key));
        return null;
      }
      for (const [name, v] of rec.variables) if (v.expires !== 0 && v.expires <= t) rec.variables.delete(name);
      return new Map(rec.variables);
    },
    addSeries(step, t, values) {
      const b = bucket(step, t);
      for (const [name, v] of values) b.set(name, (b.get(name) ?? 0) + v);
    },
    setSeries(step, t, values) {
      const b = bucket(step, t);
      for (const [name, v] of values) b.set(name, v);
    },
    readSeries(step, from, to, names) {
      const out: SeriesPoint[] = [];
      for (const [t, b] of inRange(step, from, to)) {
        for (const name of [...names].sort()) {
          const value = b.get(name);
          if (value !== undefined) out.push({ name, t, value });
        }
      }
      return out;
    },
    sumSeries(step, from, to, prefix, limit) {
      const sums = new Map<string, number>();
      for (const [, b] of inRange(step, from, to)) for (const [name, v] of b) if (name.startsWith(prefix)) sums.set(name, (sums.get(name) ?? 0) + v);
      const out: SeriesTotal[] = [...sums].map(([name, value]) => ({ name, value }));
      out.sort((a, b) => b.value - a.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return out.slice(0, limit);
    },
    purgeSeries(step, before) {
      const byT = series.get(step);
      let n = 0;
      if (byT !== undefined) {
        for (const [t, b] of byT) {
          if (t >= before) continue;
          n += b.size;
          byT.delete(t);
        }
      }
      return n;
    },
    saveCollection(collection, key, update: CollectionUpdate): void {
      const k = id(collection, key);
      const current = records.get(k);
      const merged = new Map<string, StoredVariable>();
      for (const [name, v] of update.variables) {
        const delta = update.deltas.get(name);
        const stored = current?.variables.get(name);
        if (delta !== undefined && stored !== undefined) {
          // Another transaction may have moved the counter since we loaded it: add our change to its value.
          const value = Math.max(0, (parseInt(stored.value, 10) || 0) + delta);
          merged.set(name, { ...v, value: String(value) });
        } else merged.set(name, v);
      }
      if (current !== undefined) {
        for (const [name, v] of current.variables) {
          if (!merged.has(name) && !update.removed.has(name)) merged.set(name, v);
        }
      }
      const expires = update.timeoutSeconds > 0 ? now() + update.timeoutSeconds * 1000 : 0;
      records.set(k, { variables: merged, expires });
    },
  };
}
