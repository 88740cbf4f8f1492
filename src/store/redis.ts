/**
 * @module store/redis
 * The fleet store: several Warden nodes share bans, ban history and persistent collections
 * through one Redis (or Valkey) server, over ioredis. A ban made on one node reaches every
 * other node's ban manager through a pub/sub channel within milliseconds; IP counters add up
 * across nodes because every save merges its counter deltas inside Redis, atomically.
 *
 * Data model (every key starts with `prefix`, `warden:` by default):
 *
 *   ban:<jail>:<key>        hash { r: the BanRecord as JSON, s: its since }; expires (PEXPIREAT)
 *                           a minute after the ban ends, so a node whose timer fires late still
 *                           finds it to end. <jail> is URI-encoded; <key> is the address or prefix.
 *   bans                    sorted set of the live ban keys above, score = until (+inf: for ever)
 *   history:<key>           sorted set "since\njail", score = since: what ban-time increments count
 *   history-ends            sorted set "since\nkey\njail", score = when that ban ended (+inf while
 *                           a ban for ever is live): what purgeHistory forgets
 *   col:<collection>:<key>  hash per persistent collection record: v:<name> value, n:<name> the
 *                           name as written, e:<name> the variable's expiry, `expires` the
 *                           record's (Unix ms, 0: never); PEXPIREAT at that time
 *   epoch                   a random value set once: when it changes, Redis lost its data
 *   channel <prefix>bans    pub/sub, JSON: {"o":origin,"t":"ban","b":record} and
 *                           {"o":origin,"t":"unban","at":ms,"b":record that ended}
 *
 * Three writes run as Lua scripts, so they are atomic and publish in the same step: a ban
 * (replaces the live one of its jail and key unless that one is newer, adds history,
 * publishes), an unban (ends the live ban unless a newer one replaced it, publishes), and a
 * collection save (counter deltas added to the stored values, as ModSecurity v2 merges them).
 *
 * When Redis cannot be reached, requests go on: commands fail at once instead of queueing
 * (no request waits on a dead server), ban writes are kept in an outbox (in memory and, when
 * `outboxPath` is given, appended to a local file, so a restart during the outage keeps
 * them), collection changes are merged into a local buffer that later loads on this node
 * read, and ioredis reconnects with capped exponential backoff. When the connection is back
 * the outbox is written in order, the buffered collection changes are added as deltas, and
 * the live bans are read again and compared with what this node knows: bans and unbans
 * missed while the channel was down reach the watchers then.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createConnection } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { AbstractConnector, Redis, type RedisOptions } from 'ioredis';
import type { BanRecord, CollectionUpdate, Store, StoredBanEvent, StoredCollection, StoredVariable, StoreHealth } from './types.js';
import { restoreFastStringPrototype } from './string-prototype.js';

// ioredis subclasses String when loaded, which slows every string method in V8 (see there).
restoreFastStringPrototype();

/**
 * ioredis's own connector, with one difference: the socket keeps an 'error' listener for its
 * whole life. ioredis listens with once(), and a TLS socket can emit a second error (an alert
 * from the server after a failed or reset handshake, seen once in CI): with no listener left
 * that error is an uncaught exception, which would take the worker down. ioredis still hears
 * the first error of every connection (reconnect, health); later ones are only noted.
 */
class GuardedConnector extends AbstractConnector {
  private readonly options: RedisOptions;

  constructor(options: unknown) {
    const o = options as RedisOptions;
    super(o.disconnectTimeout ?? 2_000);
    this.options = o;
  }

  connect(): ReturnType<AbstractConnector['connect']> {
    this.connecting = true;
    const o = this.options;
    return new Promise((resolve, reject) => {
      // As ioredis does: the socket is made on the next tick, unless disconnect() came first.
      process.nextTick(() => {
        if (!this.connecting) {
          reject(new Error('Connection is closed.'));
          return;
        }
        let stream: ReturnType<typeof createConnection>;
        try {
          const where = o.path !== undefined && o.path !== null ? { path: o.path } : { host: o.host ?? '127.0.0.1', port: o.port ?? 6379, ...(o.family !== undefined ? { family: o.family } : {}) };
          stream = o.tls !== undefined ? tlsConnect({ ...where, ...o.tls }) : createConnection(where);
        } catch (err) {
          reject(err as Error);
          return;
        }
        // firstError is what ioredis reports for a socket already destroyed when it looks:
        // this socket's first error, never an older socket's.
        this.firstError = undefined;
        this.stream = stream;
        stream.on('error', (err: Error) => {
          if (this.stream === stream) this.firstError ??= err;
        });
        resolve(stream);
      });
    });
  }
}

/** A Redis store that cannot be opened as configured (a bad URL). */
export class RedisStoreError extends Error {
  readonly code = 'WARDEN_STORE_REDIS';
  constructor(message: string) {
    super(message);
    this.name = 'RedisStoreError';
  }
}

export interface RedisStoreOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS. */
  readonly url: string;
  /** Overrides the URL's password (AUTH). */
  readonly password?: string;
  readonly username?: string;
  /** TLS towards Redis (CA, client certificate …); `rediss://` alone uses the system's CAs. */
  readonly tls?: ConnectionOptions;
  /** Every key and the channel start with this (several Warden fleets can share one Redis). */
  readonly prefix?: string;
  /** A local file where ban writes wait while Redis is unreachable (the primary's; workers write no bans). */
  readonly outboxPath?: string | null;
  /** How long the first reads wait for the first connection before answering from local knowledge. */
  readonly connectTimeoutMs?: number;
  /** A command without an answer after this long fails (a hung server does not hold up requests). */
  readonly commandTimeoutMs?: number;
  /** The longest wait between reconnection attempts (the backoff doubles from 100 ms up to this). */
  readonly maxBackoffMs?: number;
  /** Collection records buffered while Redis is away, at most. */
  readonly maxPendingCollections?: number;
  readonly now?: () => number;
  /** Told when the connection is lost or back (for the log). */
  readonly onStateChange?: (health: StoreHealth) => void;
  /** Told of problems that lose nothing but someone should read (a write Redis refused, a bad outbox line). */
  readonly onError?: (message: string) => void;
}

/** A ban write as it waits in the outbox (and its file, one JSON object per line). */
type BanWrite = { readonly op: 'ban'; readonly ban: BanRecord } | { readonly op: 'end'; readonly jail: string; readonly key: string; readonly at: number };

/** Collection changes made while Redis was away, merged: replayed as one update. */
interface PendingCollection {
  readonly collection: string;
  readonly key: string;
  readonly variables: Map<string, StoredVariable>;
  /** Net change of counters that were only added to, never set, since buffering began. */
  readonly deltas: Map<string, number>;
  /** Names set outright (or removed) while buffering: their local value wins. */
  readonly absolute: Set<string>;
  readonly removed: Set<string>;
  timeoutSeconds: number;
}

/** A ban ends a minute after its end in Redis, so a node whose timer fires late still finds it. */
const EXPIRY_SLACK_MS = 60_000;

/** Replies that mean "not now" (the write waits in the outbox) rather than "never" (it is dropped and reported). */
const UNAVAILABLE = /^(NOAUTH|WRONGPASS|LOADING|READONLY|OOM|MASTERDOWN|BUSY|NOPERM|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;

function unavailable(err: unknown): boolean {
  const e = err as Error;
  return e.name !== 'ReplyError' || UNAVAILABLE.test(e.message);
}

const SAVE_BAN = `
-- KEYS: ban, index, history, ends
-- ARGV: record, since, index score (until or +inf), history member, ends member, expire-at (0: never),
--       channel, message, key, jail
local prev = redis.call('HGET', KEYS[1], 's')
if prev and tonumber(prev) > tonumber(ARGV[2]) then
  -- A newer ban of this key in this jail is live (made elsewhere while this one waited offline):
  -- it stays; this one is history, ended when the newer one began.
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
  redis.call('ZADD', KEYS[4], prev, ARGV[5])
  return 0
end
if prev and prev ~= ARGV[2] then
  redis.call('ZADD', KEYS[4], ARGV[2], prev .. '\\n' .. ARGV[9] .. '\\n' .. ARGV[10])
end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 's', ARGV[2])
if ARGV[6] ~= '0' then redis.call('PEXPIREAT', KEYS[1], ARGV[6]) else redis.call('PERSIST', KEYS[1]) end
redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[5])
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
`;

const END_BAN = `
-- KEYS: ban, index, ends ; ARGV: at, key, jail, channel, origin (JSON string)
local r = redis.call('HMGET', KEYS[1], 'r', 's')
if not r[1] then return 0 end
-- An unban that waited offline does not end a ban made after it.
if tonumber(r[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], KEYS[1])
redis.call('ZADD', KEYS[3], ARGV[1], r[2] .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])
redis.call('PUBLISH', ARGV[4], '{"o":' .. ARGV[5] .. ',"t":"unban","at":' .. ARGV[1] .. ',"b":' .. r[1] .. '}')
return 1
`;

const SAVE_COLLECTION = `
-- KEYS: record ; ARGV: now, expires-at (0: never), variable count, then per variable
-- (lower-cased name, name, value, expires, delta or ''), then the removed count and names.
local now = tonumber(ARGV[1])
local exp = redis.call('HGET', KEYS[1], 'expires')
if exp and exp ~= '0' and tonumber(exp) <= now then redis.call('DEL', KEYS[1]) end
local i = 4
for _ = 1, tonumber(ARGV[3]) do
  local lname, value, delta = ARGV[i], ARGV[i + 2], ARGV[i + 4]
  if delta ~= '' then
    local s = redis.call('HMGET', KEYS[1], 'v:' .. lname, 'e:' .. lname)
    if s[1] and (not s[2] or s[2] == '0' or tonumber(s[2]) > now) then
      -- parseInt's reading of the stored value, plus this transaction's change, never below 0.
      local v = (tonumber(string.match(s[1], '^%s*([+-]?%d+)')) or 0) + tonumber(delta)
      if v < 0 then v = 0 end
      value = string.format('%d', v)
    end
  end
  redis.call('HSET', KEYS[1], 'v:' .. lname, value, 'n:' .. lname, ARGV[i + 1], 'e:' .. lname, ARGV[i + 3])
  i = i + 5
end
for j = 1, tonumber(ARGV[i]) do
  local lname = ARGV[i + j]
  redis.call('HDEL', KEYS[1], 'v:' .. lname, 'n:' .. lname, 'e:' .. lname)
end
redis.call('HSET', KEYS[1], 'expires', ARGV[2])
if ARGV[2] ~= '0' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
return 1
`;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

const banId = (jail: string, key: string): string => `${jail}\u0000${key}`;

/** The URL as health and logs show it: without its password. */
function displayUrl(url: URL): string {
  const shown = new URL(url.href);
  if (shown.password !== '') shown.password = '***';
  return shown.href;
}

/**
 * The Redis store. `now` is the clock for collection expiry (tests move it); ban times come
 * from the records themselves.
 */
export class RedisStore implements Store {
  private readonly client: Redis;
  private subscriber: Redis | null = null;
  /** Marks this store's own messages on the channel, which it skips. */
  private readonly origin = randomUUID();
  private readonly prefix: string;
  private readonly channel: string;
  private readonly now: () => number;
  private readonly target: string;
  private readonly outboxPath: string | null;
  private readonly outbox: BanWrite[] = [];
  private readonly pending = new Map<string, PendingCollection>();
  private readonly maxPending: number;
  /** The live bans this store knows (its writes, the channel, the last reading): what a resync compares against. */
  private readonly known = new Map<string, BanRecord>();
  /** While a resync reads, which bans changed meanwhile (those the reading may not show yet). */
  private changedDuringResync: Set<string> | null = null;
  private readonly watchers = new Set<(e: StoredBanEvent) => void>();
  private readonly firstConnection: Promise<void>;
  private readonly onStateChange: (h: StoreHealth) => void;
  private readonly onError: (message: string) => void;
  private readonly maxBackoffMs: number;
  private state: StoreHealth['state'] = 'connecting';
  private stateSince: number;
  private reconnects = 0;
  private lostCollectionWrites = 0;
  private lastError: string | null = null;
  /** The `epoch` key's value when last seen: another value means Redis lost its data. */
  private epoch: string | null = null;
  private recovering: Promise<void> | null = null;
  private recoverAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Until then Redis counts as away although the socket is open (it stopped answering). */
  private suspendedUntil = 0;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new RedisStoreError(`${options.url} is not a URL (redis://HOST:PORT/DB or rediss://… for TLS)`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new RedisStoreError(`${displayUrl(url)}: a Redis URL starts with redis:// or rediss:// (TLS)`);
    this.target = displayUrl(url);
    this.prefix = options.prefix ?? 'warden:';
    this.channel = `${this.prefix}bans`;
    this.now = options.now ?? Date.now;
    this.stateSince = Date.now();
    this.outboxPath = options.outboxPath ?? null;
    this.maxPending = options.maxPendingCollections ?? 10_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.onStateChange = options.onStateChange ?? (() => {});
    this.onError = options.onError ?? ((m) => void process.stderr.write(`warden: store: ${m}\n`));
    this.readOutbox();

    const maxBackoff = this.maxBackoffMs;
    const redisOptions: RedisOptions = {
      Connector: GuardedConnector,
      // Fail at once while disconnected: a request must not wait for a server that is away.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // A collection save is not idempotent (it adds deltas): never sent twice behind our back.
      autoResendUnfulfilledCommands: false,
      connectTimeout: options.connectTimeoutMs ?? 3_000,
      commandTimeout: options.commandTimeoutMs ?? 1_000,
      // Capped exponential backoff with jitter, so a fleet does not reconnect in lockstep.
      retryStrategy: (times) => Math.round(Math.min(maxBackoff, 100 * 2 ** Math.min(times - 1, 10)) * (0.8 + Math.random() * 0.4)),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.tls !== undefined ? { tls: options.tls } : url.protocol === 'rediss:' ? { tls: {} } : {}),
    };
    this.client = new Redis(options.url, redisOptions);
    this.client.defineCommand('wardenSaveBan', { numberOfKeys: 4, lua: SAVE_BAN });
    this.client.defineCommand('wardenEndBan', { numberOfKeys: 3, lua: END_BAN });
    this.client.defineCommand('wardenSaveCollection', { numberOfKeys: 1, lua: SAVE_COLLECTION });

    let connected: () => void = () => {};
    const first = new Promise<void>((resolve) => (connected = resolve));
    const timeout = setTimeout(connected, options.connectTimeoutMs ?? 3_000);
    timeout.unref();
    this.firstConnection = first.then(() => clearTimeout(timeout));
    this.client.on('ready', () => {
      if (this.state === 'disconnected') this.reconnects++;
      this.setState('connected');
      connected();
      void this.recover();
    });
    this.client.on('error', (err: Error) => void (this.lastError = err.message));
    this.client.on('close', () => {
      if (this.state === 'connected') this.setState('disconnected');
    });
  }

  // ── health ──────────────────────────────────────────────────────────────────────────

  health(): StoreHealth {
    return {
      backend: 'redis',
      target: this.target,
      state: this.state,
      since: this.stateSince,
      pendingBanWrites: this.outbox.length,
      pendingCollections: this.pending.size,
      lostCollectionWrites: this.lostCollectionWrites,
      reconnects: this.reconnects,
      lastError: this.lastError,
    };
  }

  private setState(state: StoreHealth['state']): void {
    if (state === this.state) return;
    this.state = state;
    this.stateSince = Date.now();
    this.onStateChange(this.health());
  }

  private online(): boolean {
    return this.client.status === 'ready' && Date.now() >= this.suspendedUntil;
  }

  private noteError(err: unknown): void {
    this.lastError = (err as Error).message;
    // A server that takes the connection but does not answer (stopped, swapping, a network
    // that drops packets) keeps the socket "ready": after one command times out, calls are
    // answered locally for a while instead of each waiting for its own timeout.
    if (/timed out/i.test(this.lastError) && this.client.status === 'ready') {
      this.suspendedUntil = Date.now() + this.maxBackoffMs;
      this.setState('disconnected');
      this.scheduleRetry();
    }
  }

  // ── keys ────────────────────────────────────────────────────────────────────────────

  private banKey(jail: string, key: string): string {
    return `${this.prefix}ban:${encodeURIComponent(jail)}:${key}`;
  }
  private historyKey(key: string): string {
    return `${this.prefix}history:${key}`;
  }
  private get indexKey(): string {
    return `${this.prefix}bans`;
  }
  private get endsKey(): string {
    return `${this.prefix}history-ends`;
  }
  private collectionKey(collection: string, key: string): string {
    return `${this.prefix}col:${encodeURIComponent(collection)}:${key}`;
  }

  private script(name: 'wardenSaveBan' | 'wardenEndBan' | 'wardenSaveCollection'): ScriptCall {
    const fn = (this.client as unknown as Record<string, ScriptCall>)[name] as ScriptCall;
    return fn.bind(this.client);
  }

  // ── bans ────────────────────────────────────────────────────────────────────────────

  async saveBan(ban: BanRecord): Promise<void> {
    this.remember({ op: 'ban', ban });
    await this.write({ op: 'ban', ban });
  }

  async endBan(jail: string, key: string, at: number): Promise<boolean> {
    const live = this.known.get(banId(jail, key));
    const wasLive = live !== undefined && live.since <= at;
    this.remember({ op: 'end', jail, key, at });
    const done = await this.write({ op: 'end', jail, key, at });
    return done ?? wasLive;
  }

  async activeBans(now: number): Promise<BanRecord[]> {
    await this.firstConnection;
    let list: BanRecord[];
    if (this.online()) {
      try {
        list = await this.readActive(now);
        const byId = new Map(list.map((b) => [banId(b.jail, b.key), b]));
        // Writes still waiting in the outbox count as done: this node enforces them already.
        for (const w of this.outbox) applyWrite(byId, w);
        list = [...byId.values()];
        this.known.clear();
        for (const [id, b] of byId) this.known.set(id, b);
      } catch (err) {
        this.noteError(err);
        list = [...this.known.values()];
      }
    } else list = [...this.known.values()];
    return list.filter((b) => b.until === 0 || b.until > now).sort((a, b) => a.since - b.since);
  }

  async banCount(key: string, jail: string | null, since: number): Promise<number> {
    await this.firstConnection;
    let queued = 0;
    for (const w of this.outbox) if (w.op === 'ban' && w.ban.key === key && (jail === null || w.ban.jail === jail) && w.ban.since >= since) queued++;
    if (this.online()) {
      try {
        const members = await this.client.zrangebyscore(this.historyKey(key), since, '+inf');
        return queued + members.filter((m) => jail === null || m.slice(m.indexOf('\n') + 1) === jail).length;
      } catch (err) {
        this.noteError(err);
      }
    }
    // Offline, only what this node knows: ban-time increments may come out shorter until Redis is back.
    let n = 0;
    for (const b of this.known.values()) if (b.key === key && (jail === null || b.jail === jail) && b.since >= since) n++;
    return n;
  }

  async purgeHistory(before: number): Promise<number> {
    await this.firstConnection;
    if (!this.online()) return 0;
    const ends = await this.client.zrangebyscore(this.endsKey, '-inf', `(${before}`);
    if (ends.length === 0) return 0;
    const pipe = this.client.pipeline();
    for (const m of ends) {
      const a = m.indexOf('\n');
      const b = m.indexOf('\n', a + 1);
      pipe.zrem(this.historyKey(m.slice(a + 1, b)), `${m.slice(0, a)}\n${m.slice(b + 1)}`);
    }
    pipe.zrem(this.endsKey, ...ends);
    await pipe.exec();
    return ends.length;
  }

  /**
   * Bans and unbans made through other clients of this Redis (other nodes). The first
   * watcher opens the subscription; after every reconnection the live bans are read again
   * and what changed meanwhile is reported.
   */
  watchBans(listener: (e: StoredBanEvent) => void): () => void {
    this.watchers.add(listener);
    if (this.subscriber === null && !this.closed) {
      const sub = this.client.duplicate();
      this.subscriber = sub;
      sub.on('error', (err: Error) => void (this.lastError = err.message));
      sub.on('ready', () => void this.recover());
      sub.on('message', (channel: string, text: string) => {
        if (channel === this.channel) this.receive(text);
      });
    }
    return () => void this.watchers.delete(listener);
  }

  private receive(text: string): void {
    let m: { o?: string; t?: string; at?: number; b?: BanRecord };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      this.onError(`a message on ${this.channel} is not JSON: ${text.slice(0, 200)}`);
      return;
    }
    if (m.o === this.origin || m.b === undefined) return;
    const ban = m.b;
    const id = banId(ban.jail, ban.key);
    const current = this.known.get(id);
    this.changedDuringResync?.add(id);
    if (m.t === 'ban') {
      // Older than what is live here, or the same ban again (written back after Redis lost its data).
      if (current !== undefined && (current.since > ban.since || (current.since === ban.since && current.until === ban.until))) return;
      this.known.set(id, ban);
      this.emit({ type: 'ban', ban });
    } else if (m.t === 'unban') {
      if (current !== undefined && current.since > ban.since) return;
      this.known.delete(id);
      this.emit({ type: 'unban', ban, at: m.at ?? this.now() });
    }
  }

  private emit(e: StoredBanEvent): void {
    for (const w of this.watchers) {
      try {
        w(e);
      } catch (err) {
        this.onError(`a ban watcher failed: ${(err as Error).message}`);
      }
    }
  }

  /** Keeps `known` current with this node's own writes. */
  private remember(w: BanWrite): void {
    const id = w.op === 'ban' ? banId(w.ban.jail, w.ban.key) : banId(w.jail, w.key);
    this.changedDuringResync?.add(id);
    applyWrite(this.known, w);
  }

  /** Writes to Redis when it answers; otherwise into the outbox. Resolves with the script's answer, or null when queued. */
  private async write(w: BanWrite): Promise<boolean | null> {
    await this.firstConnection;
    if (this.outbox.length === 0 && this.online()) {
      try {
        return await this.run(w);
      } catch (err) {
        this.noteError(err);
        if (!unavailable(err)) throw err;
      }
    }
    this.enqueue(w);
    if (this.online()) void this.recover();
    else this.scheduleRetry();
    return null;
  }

  private async run(w: BanWrite): Promise<boolean> {
    if (w.op === 'ban') {
      const b = w.ban;
      const record = JSON.stringify({ jail: b.jail, key: b.key, since: b.since, until: b.until, count: b.count, reason: b.reason });
      const score = b.until === 0 ? '+inf' : String(b.until);
      const r = await this.script('wardenSaveBan')(
        this.banKey(b.jail, b.key), this.indexKey, this.historyKey(b.key), this.endsKey,
        record, String(b.since), score, `${b.since}\n${b.jail}`, `${b.since}\n${b.key}\n${b.jail}`,
        b.until === 0 ? '0' : String(b.until + EXPIRY_SLACK_MS),
        this.channel, JSON.stringify({ o: this.origin, t: 'ban', b: JSON.parse(record) as BanRecord }), b.key, b.jail,
      );
      return r === 1;
    }
    const r = await this.script('wardenEndBan')(this.banKey(w.jail, w.key), this.indexKey, this.endsKey, String(w.at), w.key, w.jail, this.channel, JSON.stringify(this.origin));
    return r === 1;
  }

  private enqueue(w: BanWrite): void {
    this.outbox.push(w);
    if (this.outboxPath === null) return;
    try {
      mkdirSync(dirname(this.outboxPath), { recursive: true });
      appendFileSync(this.outboxPath, `${JSON.stringify(w)}\n`);
    } catch (err) {
      this.onError(`cannot append to the outbox ${this.outboxPath} (the ban waits in memory only): ${(err as Error).message}`);
    }
  }

  private readOutbox(): void {
    if (this.outboxPath === null || !existsSync(this.outboxPath)) return;
    const lines = readFileSync(this.outboxPath, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        const w = JSON.parse(line) as BanWrite;
        this.outbox.push(w);
        applyWrite(this.known, w);
      } catch {
        // A line cut by a crash mid-write: the ban it held was never acknowledged.
        this.onError(`${this.outboxPath}:${i + 1}: not a ban write, skipped`);
      }
    });
  }

  private saveOutbox(): void {
    if (this.outboxPath === null) return;
    try {
      const tmp = `${this.outboxPath}.tmp`;
      writeFileSync(tmp, this.outbox.map((w) => `${JSON.stringify(w)}\n`).join(''));
      renameSync(tmp, this.outboxPath);
    } catch (err) {
      this.onError(`cannot rewrite the outbox ${this.outboxPath}: ${(err as Error).message}`);
    }
  }

  // ── recovery ────────────────────────────────────────────────────────────────────────

  /** After a (re)connection: the outbox in order, the buffered collections, then a resync of the live bans. */
  private recover(): Promise<void> {
    if (this.recovering !== null) {
      this.recoverAgain = true;
      return this.recovering;
    }
    const run = async (): Promise<void> => {
      do {
        this.recoverAgain = false;
        // The socket, not online(): this is also the probe that ends a suspension after a
        // time-out (a Redis still not answering times out here again and is retried later).
        if (this.closed || this.client.status !== 'ready') return;
        await this.checkEpoch();
        this.suspendedUntil = 0;
        // Answered again after a time-out: back to normal.
        if (this.state === 'disconnected') {
          this.reconnects++;
          this.setState('connected');
        }
        const flushed = (await this.flushOutbox()) && (await this.flushPending());
        if (this.watchers.size > 0) await this.resync();
        if (!flushed) this.scheduleRetry();
      } while (this.recoverAgain);
    };
    this.recovering = run()
      .catch((err: unknown) => {
        this.noteError(err);
        this.scheduleRetry();
      })
      .finally(() => (this.recovering = null));
    return this.recovering;
  }

  /**
   * A Redis restarted without persistence has forgotten every ban; an unban-all would follow
   * from the resync. The `epoch` key tells: set once by the first client, it changes only
   * when the data went. Then this node writes back every live ban it knows (the other nodes
   * do the same: the writes are idempotent), before its own waiting writes.
   */
  private async checkEpoch(): Promise<void> {
    const key = `${this.prefix}epoch`;
    let current = await this.client.get(key);
    if (current === null) {
      await this.client.set(key, randomUUID(), 'NX');
      current = await this.client.get(key);
    }
    if (this.epoch !== null && current !== this.epoch) {
      const now = this.now();
      const live = [...this.known.values()].filter((b) => b.until === 0 || b.until > now);
      this.outbox.unshift(...live.map((ban): BanWrite => ({ op: 'ban', ban })));
      this.saveOutbox();
      this.onError(`Redis lost its data (restarted without persistence?); writing back the ${live.length} live bans this node knows`);
    }
    this.epoch = current;
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.recover();
    }, this.maxBackoffMs);
    this.retryTimer.unref();
  }

  private async flushOutbox(): Promise<boolean> {
    if (this.outbox.length === 0) return true;
    let ok = true;
    while (this.outbox.length > 0) {
      const w = this.outbox[0] as BanWrite;
      try {
        await this.run(w);
      } catch (err) {
        this.noteError(err);
        if (unavailable(err)) {
          ok = false;
          break;
        }
        this.onError(`Redis refused a ban write, dropped: ${JSON.stringify(w)}: ${(err as Error).message}`);
      }
      this.outbox.shift();
    }
    // Written again only now: a crash in the middle replays writes that are idempotent.
    this.saveOutbox();
    return ok;
  }

  private async flushPending(): Promise<boolean> {
    for (const [id, p] of [...this.pending]) {
      const deltas = new Map<string, number>();
      for (const [name, d] of p.deltas) if (!p.absolute.has(name)) deltas.set(name, d);
      try {
        await this.saveToRedis(p.collection, p.key, { variables: p.variables, deltas, removed: p.removed, timeoutSeconds: p.timeoutSeconds });
      } catch (err) {
        this.noteError(err);
        if (unavailable(err)) return false;
        this.onError(`Redis refused buffered changes of ${p.collection}:${p.key}, dropped: ${(err as Error).message}`);
      }
      this.pending.delete(id);
    }
    return true;
  }

  /** Reads the live bans and reports to the watchers what this node missed while the channel was down. */
  private async resync(): Promise<void> {
    const sub = this.subscriber;
    if (sub === null || sub.status !== 'ready') return;
    // Subscribed before reading: nothing published after the reading can be missed.
    await sub.subscribe(this.channel);
    const changed = new Set<string>();
    this.changedDuringResync = changed;
    try {
      const now = this.now();
      const byId = new Map((await this.readActive(now)).map((b) => [banId(b.jail, b.key), b]));
      for (const w of this.outbox) applyWrite(byId, w);
      for (const [id, b] of byId) {
        if (changed.has(id)) continue;
        const mine = this.known.get(id);
        if (mine !== undefined && mine.since === b.since && mine.until === b.until) continue;
        this.known.set(id, b);
        this.emit({ type: 'ban', ban: b });
      }
      for (const [id, mine] of [...this.known]) {
        if (byId.has(id) || changed.has(id)) continue;
        this.known.delete(id);
        this.emit({ type: 'unban', ban: mine, at: now });
      }
    } finally {
      this.changedDuringResync = null;
    }
  }

  private async readActive(now: number): Promise<BanRecord[]> {
    const members = await this.client.zrangebyscore(this.indexKey, `(${now}`, '+inf');
    const ended = await this.client.zrangebyscore(this.indexKey, '-inf', now);
    const out: BanRecord[] = [];
    const stale: string[] = [];
    if (members.length + ended.length > 0) {
      const pipe = this.client.pipeline();
      for (const m of members) pipe.hget(m, 'r');
      for (const m of ended) pipe.exists(m);
      const replies = (await pipe.exec()) ?? [];
      replies.forEach(([err, value], i) => {
        if (err !== null) throw err;
        if (i < members.length) {
          if (value === null) stale.push(members[i] as string);
          else out.push(JSON.parse(value as string) as BanRecord);
        } else if (value === 0) stale.push(ended[i - members.length] as string);
      });
    }
    // Index entries whose ban keys expired in Redis go here, lazily.
    if (stale.length > 0) await this.client.zrem(this.indexKey, ...stale);
    return out.filter((b) => b.until === 0 || b.until > now).sort((a, b) => a.since - b.since);
  }

  // ── collections ─────────────────────────────────────────────────────────────────────

  async loadCollection(collection: string, key: string): Promise<StoredCollection | null> {
    await this.firstConnection;
    const pending = this.pending.get(banId(collection, key));
    if (!this.online() || pending !== undefined) {
      // Away (or not yet written back): this node's own view, so its counters go on counting.
      return pending === undefined ? null : live(pending.variables, this.now());
    }
    const h = await this.client.hgetall(this.collectionKey(collection, key));
    if (h.expires === undefined) return null;
    const t = this.now();
    const expires = Number(h.expires);
    if (expires !== 0 && expires <= t) return null;
    const vars = new Map<string, StoredVariable>();
    for (const field of Object.keys(h)) {
      if (!field.startsWith('v:')) continue;
      const lower = field.slice(2);
      const e = Number(h[`e:${lower}`] ?? 0);
      if (e !== 0 && e <= t) continue;
      vars.set(lower, { name: h[`n:${lower}`] ?? lower, value: h[field] as string, expires: e });
    }
    return vars;
  }

  async saveCollection(collection: string, key: string, update: CollectionUpdate): Promise<void> {
    await this.firstConnection;
    const id = banId(collection, key);
    if (this.online() && !this.pending.has(id)) {
      try {
        await this.saveToRedis(collection, key, update);
        return;
      } catch (err) {
        this.noteError(err);
        // Sent and then lost (the connection broke, or no answer in time): it may have been
        // applied, and adding it again could count twice, so it is counted as lost. Only a
        // command refused before it was sent is buffered.
        if (!/Stream isn't writeable/.test((err as Error).message)) {
          this.lostCollectionWrites++;
          throw err;
        }
      }
    }
    this.buffer(id, collection, key, update);
  }

  private buffer(id: string, collection: string, key: string, u: CollectionUpdate): void {
    let p = this.pending.get(id);
    if (p === undefined) {
      if (this.pending.size >= this.maxPending) {
        this.lostCollectionWrites++;
        return;
      }
      p = { collection, key, variables: new Map(), deltas: new Map(), absolute: new Set(), removed: new Set(), timeoutSeconds: u.timeoutSeconds };
      this.pending.set(id, p);
    }
    for (const [name, v] of u.variables) {
      const d = u.deltas.get(name);
      if (d === undefined) {
        p.absolute.add(name);
        p.deltas.delete(name);
      } else if (!p.absolute.has(name)) p.deltas.set(name, (p.deltas.get(name) ?? 0) + d);
      p.variables.set(name, v);
      p.removed.delete(name);
    }
    for (const name of u.removed) {
      if (u.variables.has(name)) continue;
      p.variables.delete(name);
      p.deltas.delete(name);
      p.absolute.add(name);
      p.removed.add(name);
    }
    p.timeoutSeconds = u.timeoutSeconds;
    if (this.online()) void this.recover();
    else this.scheduleRetry();
  }

  private async saveToRedis(collection: string, key: string, u: CollectionUpdate): Promise<void> {
    const args: string[] = [];
    for (const [lower, v] of u.variables) {
      const d = u.deltas.get(lower);
      args.push(lower, v.name, v.value, String(v.expires), d === undefined ? '' : String(d));
    }
    const removed = [...u.removed].filter((n) => !u.variables.has(n));
    const now = this.now();
    const expiresAt = u.timeoutSeconds > 0 ? now + u.timeoutSeconds * 1000 : 0;
    await this.script('wardenSaveCollection')(this.collectionKey(collection, key), String(now), String(expiresAt), String(u.variables.size), ...args, String(removed.length), ...removed);
  }

  // ── life ────────────────────────────────────────────────────────────────────────────

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    await this.recovering;
    if (this.outbox.length > 0 && this.outboxPath === null) this.onError(`${this.outbox.length} ban writes never reached Redis and had no outbox file`);
    const quit = async (c: Redis): Promise<void> => {
      if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
      else c.disconnect();
    };
    await Promise.all([quit(this.client), ...(this.subscriber !== null ? [quit(this.subscriber)] : [])]);
  }
}

/** Applies a ban write to a map of live bans (as Redis's scripts would). */
function applyWrite(map: Map<string, BanRecord>, w: BanWrite): void {
  if (w.op === 'ban') {
    const id = banId(w.ban.jail, w.ban.key);
    const current = map.get(id);
    if (current === undefined || current.since <= w.ban.since) map.set(id, w.ban);
  } else {
    const id = banId(w.jail, w.key);
    const current = map.get(id);
    if (current !== undefined && current.since <= w.at) map.delete(id);
  }
}

function live(vars: ReadonlyMap<string, StoredVariable>, now: number): Map<string, StoredVariable> {
  const out = new Map<string, StoredVariable>();
  for (const [name, v] of vars) if (v.expires === 0 || v.expires > now) out.set(name, v);
  return out;
}

/**
 * Opens a Redis store; it connects in the background (reads wait for the first connection up
 * to connectTimeoutMs, then answer from what this node knows).
 *
 * @example
 * const store = openRedisStore({ url: 'redis://10.0.0.5:6379/0', outboxPath: '/var/lib/warden/redis-outbox.jsonl' });
 * store.watchBans((e) => console.log(e.type, e.ban.key));
 */
export function openRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
