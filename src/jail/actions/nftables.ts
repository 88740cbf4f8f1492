/**
 * @module jail/actions/nftables
 * Bans in the kernel firewall with nftables: per jail, one set per address family (with
 * timeouts, so the kernel lifts a ban on time even if Warden is down, and intervals, so an
 * IPv6 /64 is one element) and one input chain that drops (or rejects) their traffic,
 * optionally on some ports only. Bans are batched into one `nft -f -` call, so restoring
 * thousands of bans at start is one command, not thousands.
 */
import type { BanAction, BanRecord } from '../types.js';
import { Batcher } from './batch.js';
import { CommandError, run } from './exec.js';

export interface NftablesOptions {
  /** The jail whose bans this instance enforces (names its sets and chain). */
  readonly jail: string;
  /** nftables table (family inet). */
  readonly table?: string;
  /** Only these destination ports (TCP); all traffic when absent. */
  readonly ports?: readonly number[];
  /** drop (default) or reject. */
  readonly verdict?: 'drop' | 'reject';
  /** Hook priority of the chain (before most firewalls: -10). */
  readonly priority?: number;
  /** A prefix for the command, e.g. ['ip', 'netns', 'exec', 'test'] (tests, containers). */
  readonly prefix?: readonly string[];
  /** The nft binary. */
  readonly nft?: string;
  /** Milliseconds to gather bans into one batch. */
  readonly batchMs?: number;
  readonly now?: () => number;
}

/** A name nftables accepts (letters, digits, underscore). */
function ident(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40);
}


export class NftablesAction implements BanAction {
  readonly name: string;
  private readonly table: string;
  private readonly set4: string;
  private readonly set6: string;
  private readonly chain: string;
  private readonly batch: Batcher;

  constructor(private readonly options: NftablesOptions) {
    const jail = ident(options.jail);
    this.name = `nftables:${options.jail}`;
    this.table = ident(options.table ?? 'warden');
    this.set4 = `${jail}_v4`;
    this.set6 = `${jail}_v6`;
    this.chain = `in_${jail}`;
    this.batch = new Batcher((script) => this.nft(script), options.batchMs ?? 5);
  }

  private nft(input: string): Promise<unknown> {
    return run([...(this.options.prefix ?? []), this.options.nft ?? 'nft', '-f', '-'], { input });
  }

  /** The ruleset this jail needs, created idempotently; its sets start empty (live bans are added after). */
  script(): string {
    const t = `inet ${this.table}`;
    const verdict = this.options.verdict ?? 'drop';
    const ports = this.options.ports !== undefined && this.options.ports.length > 0 ? `tcp dport { ${this.options.ports.join(', ')} } ` : '';
    return [
      `add table ${t}`,
      `add set ${t} ${this.set4} { type ipv4_addr; flags interval, timeout; }`,
      `add set ${t} ${this.set6} { type ipv6_addr; flags interval, timeout; }`,
      `add chain ${t} ${this.chain} { type filter hook input priority ${this.options.priority ?? -10}; policy accept; }`,
      `flush chain ${t} ${this.chain}`,
      `flush set ${t} ${this.set4}`,
      `flush set ${t} ${this.set6}`,
      `add rule ${t} ${this.chain} ip saddr @${this.set4} ${ports}${verdict}`,
      `add rule ${t} ${this.chain} ip6 saddr @${this.set6} ${ports}${verdict}`,
      '',
    ].join('\n');
  }

  async start(): Promise<void> {
    await this.nft(this.script());
  }

  async stop(): Promise<void> {
    const t = `inet ${this.table}`;
    await this.batch.flush();
    await this.nft(`delete chain ${t} ${this.chain}\ndelete set ${t} ${this.set4}\ndelete set ${t} ${this.set6}\n`).catch(() => undefined);
  }

  private element(ban: BanRecord, withTimeout: boolean): string {
    const set = ban.key.includes(':') ? this.set6 : this.set4;
    let timeout = '';
    if (withTimeout && ban.until !== 0) timeout = ` timeout ${Math.max(1, Math.ceil((ban.until - (this.options.now ?? Date.now)()) / 1000))}s`;
    return `${set} { ${ban.key}${timeout} }`;
  }

  ban(ban: BanRecord): Promise<void> {
    return this.batch.add(`add element inet ${this.table} ${this.element(ban, true)}`);
  }

  async unban(ban: BanRecord): Promise<void> {
    try {
      await this.nft(`delete element inet ${this.table} ${this.element(ban, false)}\n`);
    } catch (err) {
      // The kernel already dropped it (its timeout ran out first): nothing to undo.
      if (err instanceof CommandError && /does not exist|No such file/.test(err.message)) return;
      throw err;
    }
  }


}
