/**
 * @module jail/types
 * The ban engine's vocabulary, as fail2ban users know it: jails with maxRetry failures
 * within findTime earn a ban for banTime (longer for repeat offenders), ignoreIp holds,
 * actions enforce. Times are milliseconds.
 */
import type { BanRecord } from '../store/types.js';

export type { BanRecord } from '../store/types.js';

/** How ban times grow for repeat offenders (fail2ban's bantime.increment). */
export interface BanTimeIncrement {
  readonly enabled: boolean;
  /** fail2ban's default formula: banTime × 2^min(count, 20) × factor. */
  readonly factor: number;
  /** Instead of the formula: banTime × multipliers[min(count, last)] (fail2ban's bantime.multipliers). */
  readonly multipliers: readonly number[] | null;
  /** The longest ban the increment may reach (0: no cap). */
  readonly maxTime: number;
  /** Count earlier bans in every jail, not only this one (bantime.overalljails). */
  readonly overallJails: boolean;
  /** Up to this much random time is added, so bans do not all end together (bantime.rndtime). */
  readonly rndTime: number;
}

export interface JailSettings {
  readonly name: string;
  readonly enabled: boolean;
  readonly maxRetry: number;
  readonly findTime: number;
  /** Negative: the ban never ends. */
  readonly banTime: number;
  readonly increment: BanTimeIncrement;
  /** Addresses, CIDR blocks and host names whose failures never count. */
  readonly ignoreIp: readonly string[];
  /** Ignore the machine's own addresses too. */
  readonly ignoreSelf: boolean;
  /** IPv6 clients are counted and banned by this prefix length (64 by default). */
  readonly ipv6Prefix: number;
  /** Names of the actions that enforce this jail's bans (the proxy ban set always does). */
  readonly actions: readonly string[];
}

export const DEFAULT_INCREMENT: BanTimeIncrement = Object.freeze({
  enabled: false,
  factor: 1,
  multipliers: null,
  maxTime: 0,
  overallJails: false,
  rndTime: 0,
});

/** fail2ban's defaults (maxretry 5, findtime 10 min, bantime 10 min), no increment. */
export function jailSettings(name: string, overrides: Partial<JailSettings> = {}): JailSettings {
  return {
    name,
    enabled: true,
    maxRetry: 5,
    findTime: 10 * 60_000,
    banTime: 10 * 60_000,
    increment: DEFAULT_INCREMENT,
    ignoreIp: [],
    ignoreSelf: true,
    ipv6Prefix: 64,
    actions: [],
    ...overrides,
  };
}

/** One failure reported to a jail: a rule that refused the client, a log line that matched. */
export interface Failure {
  /** The client address as seen (REMOTE_ADDR, or the host a filter found). */
  readonly address: string;
  /** Unix ms. */
  readonly time: number;
  /** For people: the rule id and message, or the log line. */
  readonly detail: string;
}

/**
 * What the ban engine tells the rest of Warden. `external`: made or ended on another node
 * and learned through the shared store (recidive does not count those: each node counts its own).
 */
export type BanEvent =
  | { readonly type: 'ban'; readonly ban: BanRecord; readonly external?: true }
  | { readonly type: 'unban'; readonly ban: BanRecord; readonly reason: 'expired' | 'manual'; readonly external?: true };

/** Something that enforces bans: the proxy's ban set, nftables, a command, a webhook. */
export interface BanAction {
  readonly name: string;
  /** Before the first ban (create the nftables set …). */
  start?(): Promise<void>;
  ban(ban: BanRecord): Promise<void>;
  unban(ban: BanRecord): Promise<void>;
  /** At shutdown. */
  stop?(): Promise<void>;
}
