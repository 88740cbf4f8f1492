/**
 * @module jail/jail
 * One jail's judgement, without I/O: it counts each key's failures within findTime, says
 * when maxRetry is reached, decides how long the ban lasts (with fail2ban's increments for
 * repeat offenders), and ignores the addresses it must never ban.
 */
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { IPSet, parseIP, parseIPNetwork, unmapIPv4 } from '../net/ipaddr.js';
import { banKey } from './ban-key.js';
import type { Failure, JailSettings } from './types.js';

/** A jail setting that cannot work, with the setting named. */
export class JailError extends Error {
  readonly code = 'WARDEN_JAIL';
  constructor(message: string) {
    super(message);
    this.name = 'JailError';
  }
}

/** The machine's own addresses (ignoreSelf), loopback included. */
function ownAddresses(): string[] {
  const out = ['127.0.0.0/8', '::1'];
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.push(i.address);
  return out;
}

export class Jail {
  /** Failure times per key, oldest first. */
  private readonly failures = new Map<string, number[]>();
  private readonly ignored = new IPSet();
  /** Host names in ignoreIp, resolved by resolveIgnoredHosts(). */
  readonly ignoredHosts: string[] = [];
  /** Failures counted since start (for status). */
  failuresTotal = 0;

  constructor(readonly settings: JailSettings) {
    if (!(settings.maxRetry >= 1)) throw new JailError(`jail ${settings.name}: maxRetry must be at least 1`);
    if (!(settings.findTime > 0)) throw new JailError(`jail ${settings.name}: findTime must be positive`);
    if (settings.ipv6Prefix < 1 || settings.ipv6Prefix > 128) throw new JailError(`jail ${settings.name}: ipv6Prefix must be 1–128`);
    for (const entry of [...settings.ignoreIp, ...(settings.ignoreSelf ? ownAddresses() : [])]) this.addIgnored(entry);
  }

  private addIgnored(entry: string): void {
    const e = entry.trim();
    if (e === '') return;
    if (/^[\d.]+(\/\d+)?$/.test(e) || e.includes(':')) {
      try {
        this.ignored.add(parseIPNetwork(e.includes('/') ? e : `${e}/${e.includes(':') ? 128 : 32}`));
      } catch (err) {
        throw new JailError(`jail ${this.settings.name}: ignoreIp "${e}": ${(err as Error).message}`);
      }
    } else this.ignoredHosts.push(e);
  }

  /** Adds the addresses a host name of ignoreIp resolves to. */
  ignoreResolved(addresses: readonly string[]): void {
    for (const a of addresses) this.addIgnored(a);
  }

  /**
   * Resolves the host names of ignoreIp (at start and on reload; a name that does not
   * resolve is reported and skipped, so a DNS outage cannot stop the jail).
   */
  async resolveIgnoredHosts(onError: (host: string, err: Error) => void = () => undefined): Promise<void> {
    for (const host of this.ignoredHosts) {
      try {
        this.ignoreResolved((await lookup(host, { all: true })).map((r) => r.address));
      } catch (err) {
        onError(host, err as Error);
      }
    }
  }

  isIgnored(address: string): boolean {
    const ip = parseIP(address);
    if (ip === null) return false;
    return this.ignored.has(unmapIPv4(ip) ?? ip);
  }

  /** The key failures and bans of `address` are counted under (null: not an address). */
  keyOf(address: string): string | null {
    return banKey(address, this.settings.ipv6Prefix);
  }

  /**
   * Counts a failure. Returns the key when this failure reaches maxRetry within findTime
   * (the caller bans it; the count starts over), else null.
   */
  fail(failure: Failure): string | null {
    const key = this.keyOf(failure.address);
    if (key === null || this.isIgnored(failure.address)) return null;
    this.failuresTotal++;
    const horizon = failure.time - this.settings.findTime;
    let times = this.failures.get(key);
    if (times === undefined) this.failures.set(key, (times = []));
    times.push(failure.time);
    while (times.length > 0 && (times[0] as number) <= horizon) times.shift();
    if (times.length < this.settings.maxRetry) return null;
    this.failures.delete(key);
    return key;
  }

  /** Forgets failures older than findTime (called now and then; memory stays bounded). */
  prune(now: number): void {
    const horizon = now - this.settings.findTime;
    for (const [key, times] of this.failures) {
      while (times.length > 0 && (times[0] as number) <= horizon) times.shift();
      if (times.length === 0) this.failures.delete(key);
    }
  }

  /** Keys with failures being counted. */
  get watched(): number {
    return this.failures.size;
  }

  /** Forgets a key's failures (after a manual unban, a fresh start). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /**
   * How long the ban of a key with `previousBans` earlier bans lasts (ms; negative for ever).
   * fail2ban: banTime × 2^min(count, 20) × factor, or banTime × multipliers[count], capped
   * at maxTime, plus up to rndTime at random.
   */
  banDuration(previousBans: number, random: () => number = Math.random): number {
    const s = this.settings;
    if (s.banTime < 0) return -1;
    const inc = s.increment;
    if (!inc.enabled || previousBans <= 0) return s.banTime;
    let t: number;
    if (inc.multipliers !== null && inc.multipliers.length > 0) {
      t = s.banTime * (inc.multipliers[Math.min(previousBans, inc.multipliers.length - 1)] as number);
    } else {
      t = s.banTime * 2 ** Math.min(previousBans, 20) * inc.factor;
    }
    if (inc.maxTime > 0) t = Math.min(t, inc.maxTime);
    if (inc.rndTime > 0) t += Math.floor(random() * inc.rndTime);
    return t;
  }
}
