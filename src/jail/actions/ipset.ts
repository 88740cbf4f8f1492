/**
 * @module jail/actions/ipset
 * Bans with ipset and iptables/ip6tables, for systems without nftables: per jail one
 * hash:net set per family (with timeouts) and one rule in INPUT that drops its members,
 * optionally on some TCP ports. Bans are batched through `ipset restore`.
 */
import type { BanAction, BanRecord } from '../types.js';
import { Batcher } from './batch.js';
import { CommandError, run } from './exec.js';

export interface IpsetOptions {
  readonly jail: string;
  readonly ports?: readonly number[];
  readonly verdict?: 'DROP' | 'REJECT';
  /** A prefix for every command, e.g. ['ip', 'netns', 'exec', 'test']. */
  readonly prefix?: readonly string[];
  readonly batchMs?: number;
  readonly now?: () => number;
}

function ident(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 24);
}


export class IpsetAction implements BanAction {
  readonly name: string;
  private readonly set4: string;
  private readonly set6: string;
  private readonly batch: Batcher;

  constructor(private readonly options: IpsetOptions) {
    this.name = `ipset:${options.jail}`;
    this.set4 = `warden-${ident(options.jail)}`;
    this.set6 = `warden6-${ident(options.jail)}`;
    this.batch = new Batcher((script) => this.cmd(['ipset', 'restore'], script), options.batchMs ?? 5);
  }

  private cmd(argv: string[], input?: string, allowFailure = false): Promise<unknown> {
    return run([...(this.options.prefix ?? []), ...argv], input === undefined ? { allowFailure } : { input, allowFailure });
  }

  /** The iptables rule (without -I/-D) for a family. */
  private rule(set: string): string[] {
    const ports = this.options.ports !== undefined && this.options.ports.length > 0 ? ['-p', 'tcp', '-m', 'multiport', '--dports', this.options.ports.join(',')] : [];
    return ['INPUT', ...ports, '-m', 'set', '--match-set', set, 'src', '-j', this.options.verdict ?? 'DROP'];
  }

  async start(): Promise<void> {
    await this.cmd(['ipset', 'create', this.set4, 'hash:net', 'family', 'inet', 'timeout', '0', '-exist']);
    await this.cmd(['ipset', 'create', this.set6, 'hash:net', 'family', 'inet6', 'timeout', '0', '-exist']);
    await this.cmd(['ipset', 'flush', this.set4]);
    await this.cmd(['ipset', 'flush', this.set6]);
    for (const [tool, set] of [['iptables', this.set4], ['ip6tables', this.set6]] as const) {
      // -C checks for the rule so a restart does not add it twice.
      const present = (await this.cmd([tool, '-C', ...this.rule(set)], undefined, true)) as { code: number };
      if (present.code !== 0) await this.cmd([tool, '-I', ...this.rule(set)]);
    }
  }

  async stop(): Promise<void> {
    await this.batch.flush();
    for (const [tool, set] of [['iptables', this.set4], ['ip6tables', this.set6]] as const) {
      await this.cmd([tool, '-D', ...this.rule(set)], undefined, true);
      await this.cmd(['ipset', 'destroy', set], undefined, true);
    }
  }

  private setOf(ban: BanRecord): string {
    return ban.key.includes(':') ? this.set6 : this.set4;
  }

  ban(ban: BanRecord): Promise<void> {
    const seconds = ban.until === 0 ? 0 : Math.max(1, Math.ceil((ban.until - (this.options.now ?? Date.now)()) / 1000));
    return this.batch.add(`add ${this.setOf(ban)} ${ban.key} timeout ${seconds} -exist`);
  }

  async unban(ban: BanRecord): Promise<void> {
    try {
      await this.cmd(['ipset', 'del', this.setOf(ban), ban.key]);
    } catch (err) {
      if (err instanceof CommandError && /not added|It's not added/i.test(err.message)) return;
      throw err;
    }
  }

}
