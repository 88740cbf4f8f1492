/**
 * @module store/memory
 * The in-memory store: one process, nothing survives a restart. Used by tests, by
 * `warden eval`, and wherever no persistence is configured.
 */
import type { CollectionStore, CollectionUpdate, StoredCollection, StoredVariable } from './types.js';

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
export function createMemoryStore(now: () => number = Date.now): CollectionStore & { size(): number } {
  const records = new Map<string, Record>();
  const id = (collection: string, key: string): string => `${collection}\u0000${key}`;

  return {
    size: () => records.size,
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
