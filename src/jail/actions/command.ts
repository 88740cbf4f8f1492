/**
 * @module jail/actions/command
 * Shell commands as actions, the way fail2ban's action.d files define them: actionstart,
 * actionstop, actioncheck, actionban and actionunban templates with `<ip>`, `<name>`,
 * `<port>`, `<protocol>`, `<bantime>`, `<failures>`… tags (and the action's own `[Init]`
 * values). Every value put into a command is shell-quoted, so a hostile string (a jail name,
 * a reason) cannot become shell syntax.
 */
import type { BanAction, BanRecord } from '../types.js';
import { run } from './exec.js';

export interface CommandTemplates {
  readonly actionstart?: string;
  readonly actionstop?: string;
  readonly actioncheck?: string;
  readonly actionban: string;
  readonly actionunban: string;
}

export interface CommandActionOptions {
  readonly name: string;
  readonly templates: CommandTemplates;
  /** Values for tags (fail2ban's [Init] and jail parameters: name, port, protocol, chain …). */
  readonly values?: Readonly<Record<string, string>>;
  readonly shell?: string;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/** POSIX shell single-quoting. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_.:/@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Fills `<tag>`s: first the action's own values (trusted configuration; they may refer to
 * other tags, so they go in as written, a bounded number of rounds), then the ban's values
 * (from outside: always shell-quoted). Unknown tags stay as they are, as in fail2ban.
 */
export function fillTags(
  template: string,
  config: Readonly<Record<string, string>>,
  runtime: Readonly<Record<string, string>> = {},
): string {
  let out = template;
  for (let round = 0; round < 10; round++) {
    const next = out.replace(/<([A-Za-z_][A-Za-z0-9_-]*)>/g, (m, tag: string) => (tag in runtime ? m : (config[tag] ?? m)));
    if (next === out) break;
    out = next;
  }
  return out.replace(/<([A-Za-z_][A-Za-z0-9_-]*)>/g, (m, tag: string) => {
    const v = runtime[tag];
    return v === undefined ? m : shellQuote(v);
  });
}

export class CommandAction implements BanAction {
  readonly name: string;

  constructor(private readonly options: CommandActionOptions) {
    this.name = options.name;
  }

  private exec(template: string | undefined, ban: BanRecord | null): Promise<void> {
    if (template === undefined || template.trim() === '') return Promise.resolve();
    const now = (this.options.now ?? Date.now)();
    const runtime: Record<string, string> = {};
    if (ban !== null) {
      Object.assign(runtime, {
        ip: ban.key,
        failures: String(ban.count),
        bantime: ban.until === 0 ? '-1' : String(Math.max(0, Math.round((ban.until - now) / 1000))),
        time: String(Math.floor(ban.since / 1000)),
        jail: ban.jail,
      });
    }
    const command = fillTags(template, { name: 'default', ...this.options.values }, runtime);
    return run([this.options.shell ?? '/bin/sh', '-c', command], { timeoutMs: this.options.timeoutMs ?? 60_000 }).then(() => undefined);
  }

  start(): Promise<void> {
    return this.exec(this.options.templates.actionstart, null);
  }

  stop(): Promise<void> {
    return this.exec(this.options.templates.actionstop, null);
  }

  ban(ban: BanRecord): Promise<void> {
    return this.exec(this.options.templates.actionban, ban);
  }

  unban(ban: BanRecord): Promise<void> {
    return this.exec(this.options.templates.actionunban, ban);
  }
}
