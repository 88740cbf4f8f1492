/**
 * @module cli/ban-engine
 * The ban engine as `warden start` runs it in the primary process, assembled from
 * warden.yaml: the store (SQLite, or a fleet's Redis), the jails, their actions (nftables,
 * ipset, webhook, commands, fail2ban action.d files), and their sources (Warden's own WAF
 * events, log files and the journal through fail2ban filters, other jails' bans).
 */
import type { ActionConfig, JailConfig, WardenConfig } from '../config/types.js';
import type { WafEvent } from '../engine/events.js';
import { BanManager } from '../jail/ban-manager.js';
import { CommandAction } from '../jail/actions/command.js';
import { IpsetAction } from '../jail/actions/ipset.js';
import { NftablesAction } from '../jail/actions/nftables.js';
import { WebhookAction } from '../jail/actions/webhook.js';
import { loadFail2banAction } from '../jail/actions/fail2ban.js';
import { FilterError, GuardedFilter, loadFilter, wardenFilterDir, type Filter, type GuardedFilterOptions } from '../jail/filter/index.js';
import { recidive } from '../jail/sources/bans.js';
import { FileSource } from '../jail/sources/file.js';
import { JournalSource } from '../jail/sources/journal.js';
import { WafSource } from '../jail/sources/waf.js';
import { DEFAULT_INCREMENT, jailSettings, type BanAction, type JailSettings } from '../jail/types.js';
import type { Store } from '../store/types.js';
import { openStore, storePath } from './store.js';

/**
 * A jail's log lines, matched in batches by its filter in a worker thread (GuardedFilter):
 * lines gather while a batch runs, so a burst costs one round trip, not one per line.
 */
class LineBatcher {
  private filter: GuardedFilter | null = null;
  private queue: string[] = [];
  private running = false;
  private disabled = false;

  constructor(
    readonly jail: JailConfig,
    private readonly report: (jail: string, failure: { address: string; time: number; detail: string }) => void,
    private readonly log: (level: 'info' | 'error', message: string) => void,
    private readonly stats: JailSourceStats,
  ) {}

  async open(options: GuardedFilterOptions): Promise<void> {
    this.filter = await GuardedFilter.open(this.jail.filter as string, options, {
      onTimeout: (e) => this.log('error', `jail ${this.jail.name}: filter ${e.filter} gave up on a line after ${e.elapsedMs} ms (skipped): ${e.line.slice(0, 200)}`),
    });
  }

  push(line: string): void {
    this.stats.read++;
    // A filter disabled for good (its worker could not be stopped) reads nothing more.
    if (this.disabled) return;
    this.queue.push(line);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0 && this.filter !== null) {
      const batch = this.queue.splice(0, 1000);
      try {
        for (const m of await this.filter.matchLines(batch)) {
          if (!m.isAddress) continue;
          this.stats.matched++;
          this.report(this.jail.name, { address: m.host ?? m.id, time: m.time !== null ? m.time * 1000 : Date.now(), detail: (m.lines[m.lines.length - 1] ?? '').slice(0, 300) });
        }
      } catch (err) {
        this.log('error', `jail ${this.jail.name}: ${(err as Error).message}`);
        if (err instanceof FilterError && err.code === 'WARDEN_FILTER_STUCK') {
          this.disabled = true;
          this.queue = [];
        }
      }
    }
    this.running = false;
  }

  async close(): Promise<void> {
    await this.filter?.close();
    this.filter = null;
  }
}

export { storePath };

/** What a jail's source has read and matched since start (metrics). */
export interface JailSourceStats {
  readonly jail: string;
  readonly source: JailConfig['source'];
  /** Lines read (file, journal), or WAF events received (waf: those some WAF jail may count). */
  read: number;
  /** Lines the filter matched with an address, or WAF events that met this jail's condition. */
  matched: number;
}

export interface BanEngine {
  readonly manager: BanManager;
  readonly store: Store;
  /** Per jail with a log or WAF source: lines read and matched. */
  readonly sources: readonly JailSourceStats[];
  /** Counts a finished transaction against the WAF jails. */
  reportWafEvent(event: WafEvent): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The action instances one jail uses (firewall actions are per jail: their sets are named after it). */
function buildAction(a: ActionConfig, jail: string): BanAction {
  const name = `${a.name}:${jail}`;
  switch (a.type) {
    case 'nftables':
      return Object.assign(new NftablesAction({ jail, ports: a.ports, verdict: a.verdict }), { name });
    case 'ipset':
      return Object.assign(new IpsetAction({ jail, ports: a.ports, verdict: a.verdict === 'reject' ? 'REJECT' : 'DROP' }), { name });
    case 'webhook':
      return new WebhookAction({ name, url: a.url as string, headers: a.headers });
    case 'command':
      return new CommandAction({
        name,
        templates: { actionban: a.ban as string, actionunban: a.unban as string, ...(a.start !== null ? { actionstart: a.start } : {}), ...(a.stop !== null ? { actionstop: a.stop } : {}) },
        values: { name: jail, ...a.options },
      });
    case 'fail2ban':
      return loadFail2banAction(a.file as string, { name, jail, options: a.options });
  }
}

function settingsOf(j: JailConfig, actionNames: string[]): JailSettings {
  return jailSettings(j.name, {
    enabled: j.enabled,
    maxRetry: j.maxRetry,
    findTime: j.findTime,
    banTime: j.banTime,
    increment: { ...DEFAULT_INCREMENT, ...j.banTimeIncrement },
    ignoreIp: j.ignoreIp,
    ignoreSelf: j.ignoreSelf,
    ipv6Prefix: j.ipv6Prefix,
    actions: actionNames,
  });
}

/**
 * Builds the ban engine; throws an Error naming the jail and setting for a problem only
 * found here (a filter that does not exist or does not compile).
 */
export function createBanEngine(config: WardenConfig, log: (level: 'info' | 'error', message: string) => void, store?: Store): BanEngine {
  const db = store ?? openStore(config, 'primary', log);
  const actions = new Map<string, BanAction>();
  const perJail = new Map<string, string[]>();
  for (const j of config.jails) {
    const names: string[] = [];
    for (const n of j.actions) {
      const a = config.actions.find((x) => x.name === n) as ActionConfig;
      const action = buildAction(a, j.name);
      actions.set(action.name, action);
      names.push(action.name);
    }
    perJail.set(j.name, names);
  }
  const manager = new BanManager({
    store: db,
    actions,
    onActionFailure: (f) => log('error', `ban action ${f.action} ${f.operation}${f.ban !== null ? ` ${f.ban.key}` : ''} failed (attempt ${f.attempt}${f.final ? ', giving up' : ', will retry'}): ${f.error.message}`),
  });
  const report = (jail: string, failure: Parameters<BanManager['reportFailure']>[1]): void => {
    void manager.reportFailure(jail, failure).then(
      (ban) => ban !== null && log('info', `ban ${ban.key} in ${ban.jail} until ${ban.until === 0 ? 'never' : new Date(ban.until).toISOString()} (${ban.reason})`),
      (err: Error) => log('error', `jail ${jail}: ${err.message}`),
    );
  };

  const filterOptions = (j: JailConfig) => ({ options: j.filterOptions, searchPath: [wardenFilterDir, ...config.bans.filterDirs] });
  const batchers: LineBatcher[] = [];
  const files: FileSource[] = [];
  const journals: JournalSource[] = [];
  const wafJails: Array<{ jail: string; condition: JailConfig['when'] }> = [];
  const sources: JailSourceStats[] = [];
  for (const j of config.jails) {
    manager.addJail(settingsOf(j, perJail.get(j.name) ?? []));
    if (!j.enabled) continue;
    if (j.source !== 'bans') sources.push({ jail: j.name, source: j.source, read: 0, matched: 0 });
    if (j.source === 'waf') wafJails.push({ jail: j.name, condition: j.when });
    else if (j.source === 'bans') manager.subscribe(recidive(j.name, j.fromJails, report));
    else {
      // Checked here, so a filter that does not exist or compile stops the start with its name;
      // run below in a worker thread with a time limit per line (a ReDoS in a filter, as
      // fail2ban had, must not stall the primary that serves the ban engine).
      let filter: Filter;
      try {
        filter = loadFilter(j.filter as string, filterOptions(j));
      } catch (err) {
        throw new Error(`jails.${j.name}.filter: ${(err as Error).message}`, { cause: err });
      }
      const lines = new LineBatcher(j, report, log, sources[sources.length - 1] as JailSourceStats);
      batchers.push(lines);
      if (j.source === 'file') {
        files.push(new FileSource(j.files, (line) => lines.push(line), { fromStart: j.fromStart, onError: (file, err) => log('error', `jail ${j.name}: ${file}: ${err.message}`) }));
      } else {
        // fail2ban's journalmatch: terms of one line together, lines as alternatives (+).
        const match = j.journalMatch ?? filter.journalMatch.map((terms) => terms.join(' ')).join(' + ');
        journals.push(new JournalSource((line) => lines.push(line), { match, onError: (err) => log('error', `jail ${j.name}: ${err.message}`) }));
      }
    }
  }
  const wafStats = new Map(sources.filter((s) => s.source === 'waf').map((s) => [s.jail, s]));
  const waf =
    wafJails.length > 0
      ? new WafSource(wafJails, (jail, failure) => {
          const stats = wafStats.get(jail);
          if (stats !== undefined) stats.matched++;
          report(jail, failure);
        })
      : null;

  return {
    manager,
    store: db,
    sources,
    reportWafEvent: (e) => {
      for (const s of wafStats.values()) s.read++;
      waf?.handle(e);
    },
    async start() {
      for (const j of config.jails) await manager.jail(j.name)?.resolveIgnoredHosts((host, err) => log('error', `jail ${j.name}: ignoreIp ${host}: ${err.message}`));
      await manager.start();
      for (const b of batchers) await b.open(filterOptions(b.jail));
      for (const f of files) await f.start();
      for (const s of journals) s.start();
    },
    async stop() {
      for (const f of files) await f.stop();
      for (const s of journals) s.stop();
      for (const b of batchers) await b.close();
      await manager.stop();
      if (store === undefined) await db.close();
    },
  };
}
