/**
 * @module store/health
 * One way to ask any store how it is doing: shared stores (Redis) report their connection,
 * local ones (memory, SQLite) are always connected. The admin metrics and `warden jail
 * status` read this.
 */
import type { Store, StoreHealth } from './types.js';

const started = Date.now();

/**
 * The store's health; `local` names a store that does not report its own (memory, SQLite).
 *
 * @example
 * storeHealth(store, { backend: 'sqlite', target: '/var/lib/warden/warden.db' }).state; // 'connected'
 */
export function storeHealth(store: Pick<Store, 'health'>, local: { backend: 'memory' | 'sqlite'; target: string } = { backend: 'sqlite', target: '' }): StoreHealth {
  return (
    store.health?.() ?? {
      backend: local.backend,
      target: local.target,
      state: 'connected',
      since: started,
      pendingBanWrites: 0,
      pendingCollections: 0,
      lostCollectionWrites: 0,
      reconnects: 0,
      lastError: null,
    }
  );
}
