/**
 * @module jail/ban-set
 * The in-memory set a front end asks before it reads a request: is this client banned?
 * Fed by the ban engine's events (in the same process, or over IPC in cluster workers), it
 * answers in constant time: IPv4 addresses are looked up as they are, IPv6 addresses by
 * each prefix length some ban uses (/64 by default).
 */
import type { BanEvent, BanRecord } from './types.js';
import { banKey } from './ban-key.js';

export class BanSet {
  /** Live bans by key; a key banned by several jails has several. */
  private readonly bans = new Map<string, BanRecord[]>();
  /** IPv6 prefix lengths in use, so a lookup tries only those. */
  private readonly prefixes = new Map<number, number>();

  /** Applies a ban or unban event. */
  apply(event: BanEvent): void {
    const key = event.ban.key;
    const list = this.bans.get(key);
    if (event.type === 'ban') {
      if (list === undefined) {
        this.bans.set(key, [event.ban]);
        this.countPrefix(key, 1);
      } else {
        const i = list.findIndex((b) => b.jail === event.ban.jail);
        if (i >= 0) list[i] = event.ban;
        else list.push(event.ban);
      }
      return;
    }
    if (list === undefined) return;
    const rest = list.filter((b) => b.jail !== event.ban.jail);
    if (rest.length > 0) this.bans.set(key, rest);
    else {
      this.bans.delete(key);
      this.countPrefix(key, -1);
    }
  }

  private countPrefix(key: string, delta: number): void {
    const slash = key.indexOf('/');
    if (slash < 0) return;
    const p = Number(key.slice(slash + 1));
    const n = (this.prefixes.get(p) ?? 0) + delta;
    if (n <= 0) this.prefixes.delete(p);
    else this.prefixes.set(p, n);
  }

  /**
   * The ban that covers `address` at `now`, or null.
   *
   * @example
   * const set = new BanSet();
   * set.apply({ type: 'ban', ban: { jail: 'waf', key: '2001:db8:1:2::/64', since: 0, until: 0, count: 1, reason: '' } });
   * set.lookup('2001:db8:1:2::99', Date.now()); // the ban
   */
  lookup(address: string, now: number): BanRecord | null {
    if (this.bans.size === 0) return null;
    let found = this.live(this.bans.get(address), now);
    if (found === null && address.includes(':')) {
      for (const p of this.prefixes.keys()) {
        const key = banKey(address, p);
        if (key !== null && (found = this.live(this.bans.get(key), now)) !== null) break;
      }
      if (found === null) {
        const canonical = banKey(address, 128);
        if (canonical !== null) found = this.live(this.bans.get(canonical), now);
      }
    }
    return found;
  }

  private live(list: BanRecord[] | undefined, now: number): BanRecord | null {
    if (list === undefined) return null;
    for (const b of list) if (b.until === 0 || b.until > now) return b;
    return null;
  }

  get size(): number {
    return this.bans.size;
  }

  /** Every ban in the set (to hand to a new worker). */
  all(): BanRecord[] {
    return [...this.bans.values()].flat();
  }
}
