/**
 * @module jail/sources/bans
 * Bans as failures of another jail: fail2ban's `recidive` jail reads fail2ban's own log to
 * ban for a week those banned often in a day; here it listens to the ban engine directly.
 */
import type { BanEvent, Failure } from '../types.js';

/**
 * A listener for BanManager.subscribe that reports each ban from `fromJails` (all but
 * `toJail` when empty) as a failure of `toJail`.
 *
 * @example
 * manager.subscribe(recidive('recidive', [], (jail, f) => void manager.reportFailure(jail, f)));
 */
export function recidive(toJail: string, fromJails: readonly string[], report: (jail: string, failure: Failure) => void): (e: BanEvent) => void {
  return (e) => {
    // A ban another node made counts there (its own recidive sees it): counting it on every
    // node too would ban the same address once per node.
    if (e.type !== 'ban' || e.external === true || e.ban.jail === toJail) return;
    if (fromJails.length > 0 && !fromJails.includes(e.ban.jail)) return;
    // The banned key is an address, or an IPv6 prefix whose network address stands for it.
    const address = e.ban.key.replace(/\/\d+$/, '');
    report(toJail, { address, time: e.ban.since, detail: `banned by ${e.ban.jail}: ${e.ban.reason}` });
  };
}
