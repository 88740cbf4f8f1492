/**
 * @module jail/fail2ban-jails
 * fail2ban's jail configuration (jail.conf, jail.d/*.conf, jail.local, jail.d/*.local, read
 * as fail2ban reads them with the INI reader of jail/filter/ini) turned into warden.yaml's
 * `jails:` and `actions:` sections, for moving a host from fail2ban to Warden. Every option
 * fail2ban's JailReader takes is either carried over or named in a note saying why not —
 * nothing is dropped silently.
 *
 * - enabled, maxretry, findtime, bantime (fail2ban's time words: 10m, 1h, 1d, 1w, 1mo,
 *   "1d 3h", -1 for ever), bantime.increment/.factor/.multipliers/.maxtime/.rndtime/
 *   .overalljails, ignoreip, ignoreself carry over as they are;
 * - filter `name[opt=value]` becomes filter + filterOptions; Warden reads the same filter
 *   files (bans.filterDirs says where, when not /etc/fail2ban/filter.d);
 * - backend systemd becomes the journal source (journalmatch carried over); any other
 *   backend reads logpath's files (globs kept);
 * - recidive (fail2ban reading its own log for bans) becomes Warden's `bans` source,
 *   which sees the other jails' bans directly;
 * - actions: the firewall ones (iptables*, nftables*, firewallcmd*, ufw, shorewall …)
 *   become Warden's nftables action, the ipset ones its ipset action, with the ports of
 *   `port` (names from /etc/services) or all ports for *-allports; anything else (mail,
 *   abuse reports, Cloudflare …) runs as the same action.d file through Warden's
 *   `fail2ban` action type.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigReader, configFiles } from './filter/ini.js';
import { FilterError } from './filter/errors.js';
import { LocatedText } from './filter/located.js';

/** An action as warden.yaml's `actions:` takes it. */
export interface ImportedAction {
  readonly type: 'nftables' | 'ipset' | 'fail2ban';
  readonly ports?: readonly number[];
  readonly file?: string;
  readonly options?: Readonly<Record<string, string>>;
}

/** A jail as warden.yaml's `jails:` takes it (durations as text: 10m, 1h, forever). */
export type ImportedJail = Record<string, unknown>;

export interface ImportedJails {
  /** Files read, in fail2ban's order. */
  readonly files: readonly string[];
  readonly jails: ReadonlyArray<readonly [string, ImportedJail]>;
  readonly actions: ReadonlyArray<readonly [string, ImportedAction]>;
  /** Where filters are looked up, when not fail2ban's default directory. */
  readonly filterDirs: readonly string[] | null;
  /** What was not carried over, per jail, and why. */
  readonly notes: readonly string[];
  /** Jails left out because they are not enabled (unless all were asked for). */
  readonly skipped: readonly string[];
}

/** The reason a jail file cannot be imported; `code` is stable. */
export class JailImportError extends Error {
  constructor(
    readonly code: 'WARDEN_IMPORT_NO_FILE' | 'WARDEN_IMPORT_READ',
    message: string,
  ) {
    super(message);
    this.name = 'JailImportError';
  }
}

const NOT_JAILS = new Set(['INCLUDES', 'DEFAULT', 'Definition', 'Init']);

/** fail2ban's MyTime.str2seconds units (30-day months, 365-day years). */
const TIME_UNITS: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(?:years?|yy?)$/, 365 * 86400],
  [/^(?:months?|mo)$/, 30 * 86400],
  [/^(?:weeks?|ww?)$/, 7 * 86400],
  [/^(?:days?|dd?)$/, 86400],
  [/^(?:hours?|hh?)$/, 3600],
  [/^(?:minutes?|mins?|mm?)$/, 60],
  [/^(?:seconds?|secs?|ss?)$/, 1],
];

/** Seconds for a fail2ban time ("10m", "1d 3h", "3600", "-1"), or null when unreadable. */
export function fail2banSeconds(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (/^-?\d+(?:\.\d+)?$/.test(t)) return Number(t);
  let total = 0;
  let any = false;
  for (const m of t.matchAll(/(-?\d+(?:\.\d+)?)\s*([a-z]*)|(\S)/g)) {
    if (m[3] !== undefined) return null;
    const unit = m[2] ?? '';
    const factor = unit === '' ? 1 : TIME_UNITS.find(([re]) => re.test(unit))?.[1];
    if (factor === undefined) return null;
    total += Number(m[1]) * factor;
    any = true;
  }
  return any ? total : null;
}

/** Seconds as warden.yaml writes durations: the largest unit that divides them. */
export function wardenDuration(seconds: number): string {
  if (seconds < 0) return 'forever';
  for (const [unit, size] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}

/** fail2ban's boolean words. */
function bool(text: string): boolean | null {
  const t = text.trim().toLowerCase();
  if (['true', 'yes', 'on', '1', 'enabled'].includes(t)) return true;
  if (['false', 'no', 'off', '0', 'disabled'].includes(t)) return false;
  return null;
}

/** The inside of one `[…]`: `key=value, key="a, b"` (quotes keep commas and brackets). */
function optionsBody(body: string, into: Record<string, string>): void {
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf('=', i);
    if (eq < 0) break;
    const key = body.slice(i, eq).replace(/^[\s,]+/, '').trim();
    let j = eq + 1;
    while (body[j] === ' ' || body[j] === '\t' || body[j] === '\n') j++;
    let value: string;
    const q = body[j];
    if (q === '"' || q === "'") {
      const end = body.indexOf(q, j + 1);
      value = body.slice(j + 1, end < 0 ? undefined : end);
      j = end < 0 ? body.length : end + 1;
      const comma = body.indexOf(',', j);
      i = comma < 0 ? body.length : comma + 1;
    } else {
      const comma = body.indexOf(',', j);
      value = body.slice(j, comma < 0 ? undefined : comma).trim();
      i = comma < 0 ? body.length : comma + 1;
    }
    if (key !== '') into[key] = value;
  }
}

/** Where the `]` closing the `[` at `open` is (quoted text skipped), or -1. */
function closing(text: string, open: number): number {
  let quote: string | null = null;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ']') return i;
  }
  return -1;
}

/**
 * Action or filter specs as fail2ban splits them (OPTION_SPLIT_CRE and extractOptions):
 * `name[key=value, key="a, b"]`, separated by white space or new lines, options possibly
 * spread over several lines and in several bracket groups (`%(action_)s[more=options]`
 * makes `name[…][…]`; later groups add to and override earlier ones).
 */
export function splitSpecs(text: string): Array<{ name: string; options: Record<string, string> }> {
  const out: Array<{ name: string; options: Record<string, string> }> = [];
  let i = 0;
  const space = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  while (i < text.length) {
    while (space(text[i])) i++;
    if (i >= text.length) break;
    let j = i;
    while (j < text.length && !space(text[j]) && text[j] !== '[') j++;
    const name = text.slice(i, j);
    const options: Record<string, string> = {};
    for (;;) {
      let k = j;
      while (space(text[k])) k++;
      if (text[k] !== '[') break;
      const end = closing(text, k);
      optionsBody(text.slice(k + 1, end < 0 ? text.length : end), options);
      j = end < 0 ? text.length : end + 1;
    }
    out.push({ name, options });
    i = j;
  }
  return out;
}

/** One spec: `sshd[mode=aggressive]` → the name and its options. */
export function splitWithOptions(spec: string): { name: string; options: Record<string, string> } {
  return splitSpecs(spec)[0] ?? { name: '', options: {} };
}

/** Lines of a multi-line option, comments and blanks left out. */
function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

let services: Map<string, number> | null = null;
/** Port numbers by service name (/etc/services, with the common ones when it is missing). */
function serviceNames(): Map<string, number> {
  if (services !== null) return services;
  services = new Map([
    ['ssh', 22], ['ftp', 21], ['ftp-data', 20], ['ftps', 990], ['ftps-data', 989], ['smtp', 25], ['submission', 587], ['smtps', 465], ['http', 80],
    ['https', 443], ['pop3', 110], ['pop3s', 995], ['imap', 143], ['imap2', 143], ['imaps', 993], ['sieve', 4190], ['domain', 53], ['mysql', 3306], ['ms-sql-s', 1433],
  ]);
  try {
    for (const line of readFileSync('/etc/services', 'utf8').split('\n')) {
      const m = /^([A-Za-z0-9_.+-]+)\s+(\d+)\/tcp\b(.*)$/.exec(line.replace(/#.*/, ''));
      if (m === null) continue;
      for (const n of [m[1] as string, ...(m[3] as string).trim().split(/\s+/)]) if (n !== '' && !services.has(n)) services.set(n, Number(m[2]));
    }
  } catch {
    // The built-in names are enough for the jails fail2ban ships.
  }
  return services;
}

/** fail2ban's `port` ("ssh", "http,https", "0:65535", "8000:8010") → TCP ports, [] for all, or why not. */
export function portList(text: string): { ports: number[] } | { error: string } {
  const ports: number[] = [];
  for (const item of text.split(/[\s,]+/).filter((p) => p !== '')) {
    const range = /^(\d+):(\d+)$/.exec(item);
    if (range !== null) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (lo <= 1 && hi >= 65535) return { ports: [] };
      if (hi - lo > 64) return { error: `port range ${item} is too wide to list (Warden's firewall actions take port lists)` };
      for (let p = lo; p <= hi; p++) ports.push(p);
      continue;
    }
    if (/^\d+$/.test(item)) ports.push(Number(item));
    else {
      const n = serviceNames().get(item);
      if (n === undefined) return { error: `unknown service name "${item}" in port` };
      ports.push(n);
    }
  }
  return { ports: [...new Set(ports)].sort((a, b) => a - b) };
}

/** fail2ban ban actions that put the address in the host firewall. */
const FIREWALL = /^(?:iptables(?:-multiport|-allports|-new|-multiport-log|-xt_recent-echo)?|nftables(?:-multiport|-allports)?|firewallcmd-(?:multiport|allports|new|rich-rules|rich-logging)|ufw|shorewall|apf|csf|pf|npf|bsd-ipfw|ipfw|ipfilter)$/;
const IPSET = /^(?:iptables-ipset(?:-proto4|-proto6|-proto6-allports)?|firewallcmd-ipset|shorewall-ipset-proto6)$/;

/** Firewall action options whose meaning the Warden action keeps (where, not what). */
const FIREWALL_OPTIONS = new Set(['port', 'protocol', 'type', 'name', 'chain', 'actname', 'bantime', 'table', 'table_family', 'chain_hook', 'chain_priority', 'addr_family', 'ipsetname', 'lockingopt', 'iptables']);

interface JailContext {
  readonly reader: ConfigReader;
  readonly jail: string;
  readonly notes: string[];
  readonly actionDir: string;
}

function note(ctx: JailContext, text: string): void {
  ctx.notes.push(`${ctx.jail}: ${text}`);
}

/** An action of a jail → a Warden action (and a note when something changes on the way). */
function mapAction(ctx: JailContext, name: string, options: Readonly<Record<string, string>>): ImportedAction | null {
  if (name === '') return null;
  // Tags fail2ban resolves to the action's own default (`<known/chain>`) say nothing here.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => !/^<known\/[^>]+>$/.test(v)));
  const firewall = FIREWALL.test(name);
  if (firewall || IPSET.test(name)) {
    const allPorts = /allports/.test(name) || given.type === 'allports';
    let ports: number[] = [];
    if (!allPorts) {
      const portText = given.port ?? ctx.reader.get(ctx.jail, 'port')?.text ?? '0:65535';
      const p = portList(portText);
      if ('error' in p) note(ctx, `${p.error}; the ban covers all ports`);
      else ports = p.ports;
    }
    const protocol = (given.protocol ?? ctx.reader.get(ctx.jail, 'protocol')?.text ?? 'tcp').trim().toLowerCase();
    if (protocol !== 'tcp' && ports.length > 0) {
      note(ctx, `action ${name} bans ${protocol} ports ${ports.join(',')}: Warden's firewall actions list TCP ports, so this one covers all ports`);
      ports = [];
    }
    if (firewall && !/^nftables/.test(name)) note(ctx, `action ${name} becomes Warden's nftables action (its own table and set)`);
    // Options that change what the action does (pass2allow's blocktype=RETURN makes a "ban" let
    // the address in) have no equivalent: Warden's firewall actions only ever block.
    const other = Object.entries(given).filter(([k]) => !FIREWALL_OPTIONS.has(k));
    if (other.length > 0) note(ctx, `action ${name}: ${other.map(([k, v]) => `${k}=${v}`).join(', ')} not carried over (Warden's ${firewall ? 'nftables' : 'ipset'} action blocks the banned address, nothing else): review this jail`);
    return { type: firewall ? 'nftables' : 'ipset', ports };
  }
  const file = join(ctx.actionDir, `${name}.conf`);
  if (!existsSync(file)) note(ctx, `action ${name}: ${file} does not exist here; copy it there or change the path`);
  return { type: 'fail2ban', file, options: given };
}

/** A name for an action in `actions:`, from what it does (long port lists: from the jail). */
function actionName(a: ImportedAction, jail: string): string {
  if (a.type === 'fail2ban') return basename(a.file ?? 'action', '.conf');
  const ports = a.ports ?? [];
  return `${a.type}-${ports.length === 0 ? 'all' : ports.length <= 3 ? ports.join('-') : jail}`;
}

function getText(ctx: JailContext, option: string): string | undefined {
  try {
    return ctx.reader.getEx(ctx.jail, option)?.text;
  } catch (err) {
    if (err instanceof FilterError) {
      note(ctx, `${option} not carried over: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}

/** Options fail2ban reads that have no place in Warden, with the reason a note gives. */
const NOT_CARRIED: Readonly<Record<string, string>> = {
  usedns: 'Warden bans addresses only, never host names from logs (usedns = no)',
  maxmatches: 'Warden keeps the detail of each failure in the ban reason instead',
  logencoding: 'Warden reads logs as UTF-8 (bytes that are not are replaced)',
  logtimezone: 'set it in the filter (filterOptions) if the log has no zone',
  datepattern: 'set it in the filter (filterOptions: { datepattern: … })',
  ignorecommand: 'Warden has no ignore command; list the addresses in ignoreIp',
  failregex: 'a jail-level failregex: put it in a filter file of its own',
  ignoreregex: 'a jail-level ignoreregex: put it in a filter file of its own',
  prefregex: 'a jail-level prefregex: put it in a filter file of its own',
  maxlines: 'set it in the filter (filterOptions: { maxlines: … })',
};

function importJail(ctx: JailContext, actions: Map<string, ImportedAction>): ImportedJail {
  const text = (option: string): string | undefined => getText(ctx, option);
  const out: ImportedJail = {};
  const enabled = bool(text('enabled') ?? 'false') ?? false;
  if (!enabled) out.enabled = false;

  const filterSpec = text('filter') ?? ctx.jail;
  const { name: filterName, options: filterOptions } = splitWithOptions(filterSpec);
  const backend = splitWithOptions(text('backend') ?? 'auto').name.toLowerCase();
  const recidive = filterName === 'recidive';
  if (recidive) {
    out.source = 'bans';
    note(ctx, "the recidive filter reads fail2ban's own log for bans; Warden's `bans` source sees the other jails' bans directly (logpath not needed)");
  } else if (backend === 'systemd') {
    out.source = 'journal';
    out.filter = filterName;
    const match = text('journalmatch');
    if (match !== undefined && match.trim() !== '') out.journalMatch = lines(match).join(' ');
  } else {
    out.source = 'file';
    const logpath = text('logpath');
    // A path may be followed by `head` or `tail` (where fail2ban starts reading).
    const files = logpath === undefined ? [] : lines(logpath).map((l) => l.replace(/\s+(?:head|tail)$/i, ''));
    if (files.length === 0) note(ctx, 'no logpath: add files for this jail');
    out.files = files;
    out.filter = filterName;
    if (logpath !== undefined && /\s+head$/im.test(logpath)) out.fromStart = true;
  }
  const options = Object.entries(filterOptions).filter(([, v]) => v !== '');
  if (!recidive && options.length > 0) out.filterOptions = Object.fromEntries(options);

  const maxretry = text('maxretry');
  if (maxretry !== undefined) {
    const n = Number(maxretry.trim());
    if (Number.isInteger(n) && n >= 1) out.maxRetry = n;
    else note(ctx, `maxretry "${maxretry}" is not a number of at least 1; Warden's default (5) applies`);
  }
  for (const [option, key] of [['findtime', 'findTime'], ['bantime', 'banTime']] as const) {
    const v = text(option);
    if (v === undefined) continue;
    const seconds = fail2banSeconds(v);
    if (seconds === null || (seconds === 0 && key === 'findTime')) note(ctx, `${option} "${v}" is not a time fail2ban reads; Warden's default applies`);
    else out[key] = key === 'banTime' && seconds < 0 ? 'forever' : wardenDuration(seconds);
  }

  if (bool(text('bantime.increment') ?? 'false') === true) {
    const inc: Record<string, unknown> = {};
    const factor = text('bantime.factor');
    if (factor !== undefined && factor.trim() !== '' && Number(factor) !== 1) inc.factor = Number(factor);
    const multipliers = text('bantime.multipliers');
    if (multipliers !== undefined && multipliers.trim() !== '') inc.multipliers = multipliers.trim().split(/\s+/).map(Number);
    for (const [option, key] of [['bantime.maxtime', 'maxTime'], ['bantime.rndtime', 'rndTime']] as const) {
      const v = text(option);
      if (v === undefined || v.trim() === '') continue;
      const seconds = fail2banSeconds(v);
      if (seconds === null) note(ctx, `${option} "${v}" is not a time; left out`);
      else inc[key] = wardenDuration(seconds);
    }
    if (bool(text('bantime.overalljails') ?? 'false') === true) inc.overallJails = true;
    const formula = text('bantime.formula');
    if (formula !== undefined && formula.trim() !== '' && !/ban\.Time \* \(1<<\(ban\.Count if ban\.Count<20 else 20\)\) \* banFactor/.test(formula)) {
      note(ctx, `bantime.formula "${formula.trim()}" not carried over: Warden grows bans as banTime × 2^count × factor (fail2ban's default formula) or by multipliers`);
    }
    out.banTimeIncrement = inc;
  }

  const ignoreip = text('ignoreip');
  if (ignoreip !== undefined && ignoreip.trim() !== '') out.ignoreIp = ignoreip.trim().split(/[\s,]+/);
  const ignoreself = text('ignoreself');
  if (ignoreself !== undefined && bool(ignoreself) === false) out.ignoreSelf = false;

  for (const [option, why] of Object.entries(NOT_CARRIED)) {
    const v = ctx.reader.get(ctx.jail, option, true);
    // Only what this jail sets (or the defaults set to something that matters) is worth a note.
    if (v === undefined || v.text.trim() === '') continue;
    const inJail = ctx.reader.sections.get(ctx.jail)?.has(option) === true;
    const harmless = (option === 'usedns' && !inJail) || (option === 'logencoding' && /^(?:auto|utf-?8)$/i.test(v.text.trim())) || (option === 'maxmatches' && !inJail);
    if (!harmless) note(ctx, `${option} not carried over: ${why}`);
  }

  const actionText = text('action');
  const names: string[] = [];
  // Comment lines inside a multi-line value are not actions.
  const actionSpecs = actionText === undefined ? [] : splitSpecs(lines(actionText).join('\n'));
  for (const spec of actionSpecs) {
    const a = mapAction(ctx, spec.name, spec.options);
    if (a === null) continue;
    const json = JSON.stringify(a);
    let name = actionName(a, ctx.jail);
    for (let n = 2; actions.has(name) && JSON.stringify(actions.get(name)) !== json; n++) name = `${actionName(a, ctx.jail)}-${n}`;
    actions.set(name, a);
    if (!names.includes(name)) names.push(name);
  }
  if (names.length > 0) out.actions = names;
  return out;
}

/**
 * Reads fail2ban jail files and returns the equivalent warden.yaml sections. Given
 * jail.conf or jail.local, the whole set fail2ban reads beside it is read (jail.conf,
 * jail.d/*.conf, jail.local, jail.d/*.local, each with its includes); other files are
 * read after those, in the order given.
 *
 * @example
 * const r = importFail2banJails(['/etc/fail2ban/jail.local']);
 * r.jails; // [['sshd', { source: 'journal', filter: 'sshd', maxRetry: 5, … }], …]
 */
export function importFail2banJails(paths: readonly string[], options: { all?: boolean } = {}): ImportedJails {
  const files: string[] = [];
  for (const p of paths.map((x) => resolve(x))) {
    if (!existsSync(p)) throw new JailImportError('WARDEN_IMPORT_NO_FILE', `${p}: no such file`);
    const set = /^jail\.(?:conf|local)$/.test(basename(p)) ? configFiles(dirname(p), 'jail') : [p];
    for (const f of set) if (!files.includes(f)) files.push(f);
  }
  const reader = new ConfigReader();
  try {
    reader.read(files);
  } catch (err) {
    if (err instanceof FilterError) throw new JailImportError('WARDEN_IMPORT_READ', err.message);
    throw err;
  }
  // fail2ban sets this one itself; action shortcuts use it.
  if (!reader.defaults.has('fail2ban_version')) reader.defaults.set('fail2ban_version', LocatedText.plain('1.1.0'));
  const base = dirname(resolve(paths[0] ?? '.'));
  const notes: string[] = [];
  const skipped: string[] = [];
  const jails: Array<readonly [string, ImportedJail]> = [];
  const actions = new Map<string, ImportedAction>();
  for (const name of reader.sections.keys()) {
    if (NOT_JAILS.has(name) || name.startsWith('KNOWN/')) continue;
    const enabled = bool(reader.get(name, 'enabled')?.text ?? 'false') === true;
    if (!enabled && options.all !== true) {
      skipped.push(name);
      continue;
    }
    jails.push([name, importJail({ reader, jail: name, notes, actionDir: join(base, 'action.d') }, actions)]);
  }
  const filterDir = join(base, 'filter.d');
  return {
    files: reader.files,
    jails,
    actions: [...actions],
    filterDirs: filterDir === '/etc/fail2ban/filter.d' ? null : [filterDir],
    notes,
    skipped,
  };
}
