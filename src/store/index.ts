/**
 * @module store
 * State behind one interface: memory, SQLite (one node) and Redis (a fleet) keep the same contract.
 */
export * from './types.js';
export * from './series.js';
export { createMemoryStore } from './memory.js';
export { openSqliteStore, StoreError } from './sqlite.js';
export { openRedisStore, RedisStore, RedisStoreError, type RedisStoreOptions } from './redis.js';
export { storeHealth } from './health.js';
