/**
 * @module cli/store
 * The store warden.yaml names (`store:`), opened for one process of `warden start`:
 *
 *   primary  the ban engine's store: bans, their history, and with Redis the subscription to
 *            other nodes' bans and the outbox file (<dataDir>/redis-outbox.jsonl) where ban
 *            writes wait while Redis is away, so a restart during an outage keeps them
 *   worker   the engine's persistent collections (IP, GLOBAL, SESSION …) only
 *
 * SQLite lives in the data directory; Redis is shared by every node of a fleet.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { StoreConfig, WardenConfig } from '../config/types.js';
import { openRedisStore } from '../store/redis.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/types.js';

/** Where the SQLite store lives in a data directory. */
export function storePath(dataDir: string): string {
  return join(dataDir, 'warden.db');
}

/** Where the primary keeps ban writes while Redis is unreachable. */
export function outboxPath(dataDir: string): string {
  return join(dataDir, 'redis-outbox.jsonl');
}

/** The TLS options for ioredis from the config's files (read now: a missing file stops the start with its name). */
function tlsOptions(tls: NonNullable<StoreConfig['tls']>): ConnectionOptions {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`store.tls.${what}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    ...(tls.ca !== null ? { ca: read('ca', tls.ca) } : {}),
    ...(tls.cert !== null ? { cert: read('cert', tls.cert) } : {}),
    ...(tls.key !== null ? { key: read('key', tls.key) } : {}),
    ...(tls.serverName !== null ? { servername: tls.serverName } : {}),
  };
}

/**
 * Opens the configured store. With Redis it connects in the background; the primary logs
 * when the connection is lost and when it is back.
 *
 * @example
 * const store = openStore(config, 'primary', (level, message) => console.error(level, message));
 */
export function openStore(config: WardenConfig, role: 'primary' | 'worker', log: (level: 'info' | 'error', message: string) => void): Store {
  const s = config.store;
  if (s.type === 'sqlite') return openSqliteStore(storePath(config.dataDir));
  const outbox = role === 'primary' ? outboxPath(config.dataDir) : null;
  return openRedisStore({
    url: s.url as string,
    prefix: s.prefix,
    outboxPath: outbox,
    ...(s.password !== null ? { password: s.password } : {}),
    ...(s.username !== null ? { username: s.username } : {}),
    ...(s.tls !== null ? { tls: tlsOptions(s.tls) } : {}),
    onError: (message) => log('error', `store: ${message}`),
    onStateChange:
      role === 'primary'
        ? (h) => {
            if (h.state === 'connected') {
              log('info', `store: Redis ${h.target} connected${h.reconnects > 0 ? ' again' : ''}${h.pendingBanWrites > 0 ? `; writing the ${h.pendingBanWrites} ban writes kept meanwhile` : ''}`);
            } else if (h.state === 'disconnected') {
              log('error', `store: Redis ${h.target} unreachable${h.lastError !== null ? ` (${h.lastError})` : ''}; requests go on with the bans known, new bans wait in ${outbox} until it is back`);
            }
          }
        : () => {},
  });
}
