/**
 * @module jail/ban-manager
 * The ban engine's state: the jails, the live bans, their expiry, and the actions that
 * enforce them. A ban is written to the store before anything enforces it, so a crash
 * loses none; on start the live bans are read back and every action applies them again.
 * Actions that fail are retried with backoff and every failure is reported; a slow
 * firewall command never holds up the request path that reported the failure.
 *
 * With a shared store (Redis, a fleet of nodes) bans made or ended on other nodes arrive
 * from the store (`watchBans`) and are enforced here like local ones (ban set, actions,
 * expiry timer) without being written or published again. Failures are counted per node.
 */
import type { BanStore, StoredBanEvent, StoreHealth } from '../store/types.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { Jail, JailError } from './jail.js';
import { jailSettings, type BanAction, type BanEvent, type BanRecord, type Failure, type JailSettings } from './types.js';

/** The jail that always exists, for bans made by hand (CLI, dashboard). */
export const MANUAL_JAIL = 'manual';

/** Why an action call failed, for the logs and metrics. */
export interface ActionFailure {
  readonly action: string;
  readonly operation: 'start' | 'ban' | 'unban' | 'stop';
  readonly ban: BanRecord | null;
  readonly error: Error;
  readonly attempt: number;
  /** True when no more attempts follow. */
  readonly final: boolean;
}

export interface BanManagerOptions {
  readonly store: BanStore;
  readonly clock?: Clock;
  /** Actions by name; jails name the ones they use. */
  readonly actions?: ReadonlyMap<string, BanAction>;
  /** Told of every failed action call. */
  readonly onActionFailure?: (f: ActionFailure) => void;
  /** Attempts per action call before giving up (reported each time). */
  readonly attempts?: number;
}

interface LiveBan {
  readonly record: BanRecord;
  timer: TimerHandle | null;
}

export interface JailStatus {
  readonly name: string;
  readonly failures: number;
  readonly watched: number;
  readonly banned: number;
  readonly settings: JailSettings;
}

const id = (jail: string, key: string): string => `${jail}\u0000${key}`;

export class BanManager {
  private readonly jails = new Map<string, Jail>();
  private readonly live = new Map<string, LiveBan>();
  private readonly listeners: Array<(e: BanEvent) => void> = [];
  private readonly store: BanStore;
  private readonly clock: Clock;
  private readonly actions: ReadonlyMap<string, BanAction>;
  private readonly attempts: number;
  private readonly onActionFailure: (f: ActionFailure) => void;
  private started = false;
  private unwatch: (() => void) | null = null;

  constructor(options: BanManagerOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.actions = options.actions ?? new Map();
    this.attempts = options.attempts ?? 5;
    this.onActionFailure =
      options.onActionFailure ??
      ((f) => process.stderr.write(`warden: action ${f.action} ${f.operation} failed (attempt ${f.attempt}${f.final ? ', giving up' : ''}): ${f.error.message}\n`));
    this.addJail(jailSettings(MANUAL_JAIL, { maxRetry: 1, banTime: -1, ignoreSelf: false }));
  }

  /** Adds a jail; its actions must exist. */
  addJail(settings: JailSettings): Jail {
    if (this.jails.has(settings.name)) throw new JailError(`jail ${settings.name} is defined twice`);
    for (const a of settings.actions) {
      if (!this.actions.has(a)) throw new JailError(`jail ${settings.name}: unknown action "${a}"`);
    }
    const jail = new Jail(settings);
    this.jails.set(settings.name, jail);
    return jail;
  }

  jail(name: string): Jail | undefined {
    return this.jails.get(name);
  }

  /** Listens to bans and unbans (the proxy's ban set, workers, metrics). */
  subscribe(listener: (e: BanEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Starts the actions, then enforces every live ban from the store again. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const action of this.usedActions()) {
      if (action.start === undefined) continue;
      try {
        await action.start();
      } catch (err) {
        this.onActionFailure({ action: action.name, operation: 'start', ban: null, error: err as Error, attempt: 1, final: true });
      }
    }
    // Watching before reading: a ban made elsewhere meanwhile is not missed (duplicates are skipped).
    this.unwatch = this.store.watchBans?.((e) => this.applyExternal(e)) ?? null;
    const now = this.clock.now();
    for (const record of await this.store.activeBans(now)) {
      if (this.live.get(id(record.jail, record.key))?.record.since !== record.since) this.enforce(record);
    }
  }

  /**
   * A ban made or ended on another node (through the shared store): enforced or lifted here,
   * not written again. An older record than the live one, or one already ended, changes nothing.
   */
  applyExternal(e: StoredBanEvent): void {
    const r = e.ban;
    const entry = this.live.get(id(r.jail, r.key));
    if (e.type === 'ban') {
      if (entry !== undefined && (entry.record.since > r.since || (entry.record.since === r.since && entry.record.until === r.until))) return;
      if (r.until !== 0 && r.until <= this.clock.now()) return;
      entry?.timer?.cancel();
      this.enforce(r, true);
      return;
    }
    if (entry === undefined || entry.record.since > r.since) return;
    const expired = entry.record.until !== 0 && e.at >= entry.record.until;
    if (!expired) this.jails.get(r.jail)?.forget(r.key);
    void this.end(entry, expired ? 'expired' : 'manual', false);
  }

  /** The store's health (a shared store's connection; local stores are always connected), or null when it does not say. */
  storeHealth(): StoreHealth | null {
    return (this.store as { health?: () => StoreHealth }).health?.() ?? null;
  }

  /** Reports a failure to a jail; resolves with the ban it caused, if any. */
  async reportFailure(jailName: string, failure: Failure): Promise<BanRecord | null> {
    const jail = this.jails.get(jailName);
    if (jail === undefined || !jail.settings.enabled) return null;
    const key = jail.fail(failure);
    if (key === null) return null;
    // A key already banned in this jail (a request in flight when the ban landed) is not banned again.
    if (this.live.has(id(jailName, key))) return null;
    return this.banKey(jail, key, failure.time, `${jail.settings.maxRetry} failures within ${Math.round(jail.settings.findTime / 1000)} s; last: ${failure.detail}`);
  }

  /**
   * Bans an address by hand (or from the dashboard) in `jailName` (manual by default).
   * `duration` in ms, negative for ever; the jail's banTime when absent.
   */
  async ban(address: string, options: { jail?: string; duration?: number; reason?: string } = {}): Promise<BanRecord> {
    const jail = this.jails.get(options.jail ?? MANUAL_JAIL);
    if (jail === undefined) throw new JailError(`no jail named ${options.jail}`);
    const key = jail.keyOf(address);
    if (key === null) throw new JailError(`"${address}" is not an IP address`);
    return this.banKey(jail, key, this.clock.now(), options.reason ?? 'banned by hand', options.duration);
  }

  private async banKey(jail: Jail, key: string, time: number, reason: string, duration?: number): Promise<BanRecord> {
    const s = jail.settings;
    const previous = await this.store.banCount(key, s.increment.overallJails ? null : s.name, 0);
    const length = duration ?? jail.banDuration(previous);
    const record: BanRecord = { jail: s.name, key, since: time, until: length < 0 ? 0 : time + length, count: previous + 1, reason };
    const existing = this.live.get(id(s.name, key));
    if (existing !== undefined) existing.timer?.cancel();
    // Written before it is enforced: a crash after this line loses nothing.
    await this.store.saveBan(record);
    this.enforce(record);
    return record;
  }

  private enforce(record: BanRecord, external = false): void {
    const entry: LiveBan = { record, timer: null };
    this.live.set(id(record.jail, record.key), entry);
    if (record.until !== 0) entry.timer = this.clock.after(record.until - this.clock.now(), () => void this.expire(record));
    this.emit(external ? { type: 'ban', ban: record, external } : { type: 'ban', ban: record });
    for (const action of this.actionsOf(record.jail)) this.run(action, 'ban', record, 1);
  }

  private async expire(record: BanRecord): Promise<void> {
    const entry = this.live.get(id(record.jail, record.key));
    if (entry === undefined || entry.record !== record) return;
    await this.end(entry, 'expired');
  }

  /** Lifts the ban of an address (or key) in a jail; false when it was not banned there. */
  async unban(jailName: string, addressOrKey: string): Promise<boolean> {
    const jail = this.jails.get(jailName);
    // A jail only another node runs (its bans arrived through a shared store) can be unbanned here too.
    if (jail === undefined && !this.jailNames().includes(jailName)) throw new JailError(`no jail named ${jailName}`);
    const key = jail?.keyOf(addressOrKey) ?? addressOrKey;
    const entry = this.live.get(id(jailName, key)) ?? this.live.get(id(jailName, addressOrKey));
    if (entry === undefined) return false;
    jail?.forget(entry.record.key);
    await this.end(entry, 'manual');
    return true;
  }

  /** Lifts every ban (of one jail, or of all); returns how many. */
  async unbanAll(jailName?: string): Promise<number> {
    const entries = [...this.live.values()].filter((e) => jailName === undefined || e.record.jail === jailName);
    for (const e of entries) await this.end(e, 'manual');
    return entries.length;
  }

  private async end(entry: LiveBan, reason: 'expired' | 'manual', persist = true): Promise<void> {
    const r = entry.record;
    entry.timer?.cancel();
    this.live.delete(id(r.jail, r.key));
    if (persist) await this.store.endBan(r.jail, r.key, this.clock.now());
    this.emit(persist ? { type: 'unban', ban: r, reason } : { type: 'unban', ban: r, reason, external: true });
    for (const action of this.actionsOf(r.jail)) this.run(action, 'unban', r, 1);
  }

  /** The jails configured here and those only other nodes run whose bans are live here. */
  jailNames(): string[] {
    const names = new Set(this.jails.keys());
    for (const e of this.live.values()) names.add(e.record.jail);
    return [...names];
  }

  /** Live bans, oldest first. */
  activeBans(): BanRecord[] {
    return [...this.live.values()].map((e) => e.record).sort((a, b) => a.since - b.since);
  }

  /** The live ban of an address in any jail (keyed by each jail's IPv6 prefix), or null. */
  banOf(address: string): BanRecord | null {
    for (const jail of this.jails.values()) {
      const key = jail.keyOf(address);
      const e = key === null ? undefined : this.live.get(id(jail.settings.name, key));
      if (e !== undefined) return e.record;
    }
    return null;
  }

  status(): JailStatus[] {
    const now = this.clock.now();
    return [...this.jails.values()].map((j) => {
      j.prune(now);
      return {
        name: j.settings.name,
        failures: j.failuresTotal,
        watched: j.watched,
        banned: [...this.live.values()].filter((e) => e.record.jail === j.settings.name).length,
        settings: j.settings,
      };
    });
  }

  /** Stops timers and the actions (bans stay in the store and come back at the next start). */
  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = null;
    for (const e of this.live.values()) e.timer?.cancel();
    for (const action of this.usedActions()) {
      if (action.stop === undefined) continue;
      try {
        await action.stop();
      } catch (err) {
        this.onActionFailure({ action: action.name, operation: 'stop', ban: null, error: err as Error, attempt: 1, final: true });
      }
    }
    this.started = false;
  }

  private emit(e: BanEvent): void {
    for (const l of this.listeners) l(e);
  }

  private actionsOf(jailName: string): BanAction[] {
    const jail = this.jails.get(jailName);
    if (jail === undefined) return [];
    return jail.settings.actions.map((n) => this.actions.get(n)).filter((a): a is BanAction => a !== undefined);
  }

  private usedActions(): BanAction[] {
    const names = new Set<string>();
    for (const j of this.jails.values()) for (const a of j.settings.actions) names.add(a);
    return [...names].map((n) => this.actions.get(n)).filter((a): a is BanAction => a !== undefined);
  }

  /** Runs an action call; on failure retries after 1 s, 2 s, 4 s … and reports every failure. */
  private run(action: BanAction, op: 'ban' | 'unban', record: BanRecord, attempt: number): void {
    action[op](record).catch((err: Error) => {
      const final = attempt >= this.attempts;
      this.onActionFailure({ action: action.name, operation: op, ban: record, error: err, attempt, final });
      if (!final) this.clock.after(1000 * 2 ** (attempt - 1), () => this.run(action, op, record, attempt + 1));
    });
  }
}
