/**
 * @module store
 * State behind one interface: memory today; SQLite and Redis implement the same contract.
 */
export * from './types.js';
export { createMemoryStore } from './memory.js';
export { openSqliteStore, StoreError } from './sqlite.js';
