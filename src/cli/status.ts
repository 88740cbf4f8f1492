/**
 * @module cli/status
 * `warden status`: the dashboard's picture in the terminal, for a server without a browser —
 * requests since start, the last hour (day, week) drawn as one line of bars per series,
 * top rules, clients and paths, the latest blocks, bans in force, jails and the store's
 * health.
 *
 * It asks the admin API, not the control socket: requests, blocks and top lists live in
 * the primary's metrics and history, which only the admin listener serves (the control
 * socket is the ban engine's and knows jails and bans only); and the API works the same
 * from another machine and for `warden munin`, which shares the way to find it here.
 *
 *   warden status [--url URL | --config FILE] [--token TOKEN] [--range hour|day|week] [--json]
 */
import { parseArgs } from 'node:util';
import { adminClient, AdminClientError, type AdminClient, type AdminTarget } from '../admin/client.js';
import { ADMIN_DEFAULTS } from '../config/defaults.js';
import { readConfigFile } from '../config/load.js';
import type { StoreHealth } from '../store/types.js';
import { describeStore } from './jail.js';
import type { Io } from './main.js';
import { STATUS_USAGE } from './usage.js';

/** The options every admin-API command takes (status, munin). */
export const TARGET_OPTIONS = {
  url: { type: 'string' },
  config: { type: 'string' },
  token: { type: 'string' },
  user: { type: 'string' },
  ca: { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** Thrown when the options do not say where the admin listener is. */
export class TargetError extends Error {}

/** The host to connect to for a listener bound to `host` (a wildcard address means this machine). */
function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Where the admin listener is and how to log in, from the options and the environment:
 * --url, else WARDEN_ADMIN_URL, else the config file's admin section, else the default
 * address. Credentials: --token, else WARDEN_ADMIN_TOKEN, else the config's (--user with
 * WARDEN_ADMIN_PASSWORD for basic auth).
 */
export function resolveTarget(values: { url?: string; config?: string; token?: string; user?: string; ca?: string; timeout?: string }, env: NodeJS.ProcessEnv): AdminTarget {
  let url = values.url ?? (env.WARDEN_ADMIN_URL || undefined);
  let token = values.token ?? (env.WARDEN_ADMIN_TOKEN || null);
  let basicAuth: AdminTarget['basicAuth'] = null;
  let ca = values.ca ?? null;
  const configFile = values.config ?? (env.WARDEN_CONFIG || undefined);
  if (configFile !== undefined) {
    const { draft, errors } = readConfigFile(configFile);
    if (errors.length > 0) throw new TargetError(errors.map((e) => e.message).join('\n'));
    const a = draft.admin;
    if (!a.enabled && url === undefined) throw new TargetError(`${configFile} has no admin: section, so Warden runs no admin listener (add one, or give --url)`);
    url ??= `${a.tls !== null ? 'https' : 'http'}://${connectHost(a.host)}:${a.port}/`;
    token ??= a.token;
    if (token === null) basicAuth = a.basicAuth;
    // A self-signed listener certificate is its own CA.
    if (ca === null && a.tls !== null && url.startsWith('https:')) ca = a.tls.cert;
  }
  if (values.user !== undefined) {
    const password = env.WARDEN_ADMIN_PASSWORD;
    if (password === undefined || password === '') throw new TargetError('--user needs the password in WARDEN_ADMIN_PASSWORD');
    basicAuth = { user: values.user, password };
    token = values.token ?? null;
  }
  let timeout = 10_000;
  if (values.timeout !== undefined) {
    timeout = Number(values.timeout) * 1000;
    if (!Number.isFinite(timeout) || timeout <= 0) throw new TargetError('--timeout must be a number of seconds');
  }
  return { url: url ?? `http://${ADMIN_DEFAULTS.host}:${ADMIN_DEFAULTS.port}/`, token, basicAuth, ca, timeout };
}

// The API's answers, as far as status reads them (admin/server).
interface Counts {
  readonly requests: number;
  readonly blocked: number;
  readonly banned: number;
  readonly rejected: number;
  readonly upstream: number;
}
export interface StatusAnswer {
  readonly version: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly workers: number;
  readonly rules: number;
  readonly mode: string | null;
  readonly listeners: ReadonlyArray<{ readonly name: string; readonly address: string }>;
  readonly totals: Counts;
  readonly bansActive: number;
  readonly store?: StoreHealth | null;
}
interface SeriesAnswer {
  readonly step: number;
  readonly t: readonly number[];
  readonly series: Readonly<Record<keyof Counts, readonly number[]>>;
}
type Ranked = ReadonlyArray<{ readonly key: string; readonly count: number }>;
interface TopAnswer {
  readonly rules: Ranked;
  readonly clients: Ranked;
  readonly paths: Ranked;
}
export interface BanAnswer {
  readonly jail: string;
  readonly address: string;
  readonly sinceMs: number;
  readonly untilMs: number | null;
  readonly reason: string;
}
export interface JailAnswer {
  readonly jail: string;
  readonly source: string | null;
  readonly failures: number;
  readonly banned: number;
  readonly linesRead: number | null;
  readonly linesMatched: number | null;
}
interface EventAnswer {
  readonly time: number;
  readonly clientAddress: string;
  readonly method: string;
  readonly uri: string;
  readonly action: string;
  readonly status: number;
  readonly ruleId: number;
}

const SERIES: ReadonlyArray<readonly [keyof Counts, string]> = [
  ['requests', 'requests'],
  ['upstream', 'sent upstream'],
  ['blocked', 'blocked by the WAF'],
  ['banned', 'refused: banned'],
  ['rejected', 'refused: malformed'],
];
const BARS = ' ▁▂▃▄▅▆▇█';
/** Columns of the bar lines. */
const COLUMNS = 60;

const fmt = new Intl.NumberFormat('en');

/** Seconds in the largest unit that reads well. */
export function duration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 129_600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/**
 * One line of bars for a series: the buckets summed into at most COLUMNS columns, each
 * column's height against the line's own largest column (a blank: nothing at all).
 */
export function bars(values: readonly number[], columns = COLUMNS): string {
  const per = Math.max(1, Math.ceil(values.length / columns));
  const sums: number[] = [];
  for (let i = 0; i < values.length; i += per) sums.push(values.slice(i, i + per).reduce((a, b) => a + b, 0));
  const max = Math.max(0, ...sums);
  return sums.map((v) => (v <= 0 ? BARS[0] : BARS[Math.max(1, Math.ceil((v / max) * 8))])).join('');
}

function table(rows: string[][], right: ReadonlySet<number> = new Set()): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => `  ${r.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd());
}

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

interface Picture {
  readonly status: StatusAnswer;
  readonly series: SeriesAnswer;
  readonly top: TopAnswer;
  readonly bans: readonly BanAnswer[];
  readonly jails: readonly JailAnswer[];
  readonly events: readonly EventAnswer[];
}

async function fetchPicture(admin: AdminClient, range: string): Promise<Picture> {
  const [status, series, top, bans, jails, events] = await Promise.all([
    admin.get<StatusAnswer>('api/status'),
    admin.get<SeriesAnswer>(`api/series?range=${range}`),
    admin.get<TopAnswer>(`api/top?range=${range}&limit=5`),
    admin.get<BanAnswer[]>('api/bans'),
    admin.get<JailAnswer[]>('api/jails'),
    admin.get<EventAnswer[]>('api/events?limit=5'),
  ]);
  return { status, series, top, bans, jails, events };
}

/** The picture as lines of text. */
export function render(p: Picture, range: string, now = Date.now()): string[] {
  const s = p.status;
  const out: string[] = [];
  out.push(
    [
      s.version,
      `pid ${s.pid}`,
      `up ${duration(s.uptimeSeconds)}`,
      `${s.workers} worker${s.workers === 1 ? '' : 's'}`,
      `${fmt.format(s.rules)} rule${s.rules === 1 ? '' : 's'}${s.mode !== null ? ` (engine ${s.mode})` : ''}`,
    ].join(' · '),
  );
  if (s.listeners.length > 0) out.push(`listeners: ${s.listeners.map((l) => l.address).join(', ')}`);
  if (s.store !== undefined) out.push(describeStore(s.store));
  const t = s.totals;
  out.push(`since start: ${fmt.format(t.requests)} requests, ${fmt.format(t.upstream)} sent upstream, ${fmt.format(t.blocked)} blocked by the WAF, ${fmt.format(t.banned)} refused by bans, ${fmt.format(t.rejected)} refused as malformed`);

  const v = p.series;
  const per = Math.max(1, Math.ceil(v.t.length / COLUMNS));
  out.push('', `last ${range} (one column per ${duration((per * v.step) / 1000)}, each line to its own scale):`);
  const rows = SERIES.map(([key, label]) => {
    const values = v.series[key];
    const sum = values.reduce((a, b) => a + b, 0);
    return [label, fmt.format(sum), `|${bars(values)}|`];
  });
  out.push(...table(rows, new Set([1])));

  const ranked = (title: string, list: Ranked): void => {
    out.push('', `top ${title} (last ${range}):`);
    if (list.length === 0) out.push('  none');
    else out.push(...table(list.map((r) => [clip(r.key, 70), fmt.format(r.count)]), new Set([1])));
  };
  ranked('rules', p.top.rules);
  ranked('clients, blocked or banned', p.top.clients);
  ranked('paths, blocked', p.top.paths);

  out.push('', 'latest blocks:');
  if (p.events.length === 0) out.push('  none');
  else
    out.push(
      ...table(
        p.events.map((e) => [new Date(e.time).toISOString().slice(11, 19), e.clientAddress, `${e.action} ${e.status}`, e.ruleId === 0 ? '–' : String(e.ruleId), clip(`${e.method} ${e.uri}`, 60)]),
      ),
    );

  out.push('', `bans in force: ${p.bans.length}`);
  const shown = p.bans.slice(0, 20);
  if (shown.length > 0) {
    out.push(
      ...table([
        ['address', 'jail', 'since', 'ends', 'reason'],
        ...shown.map((b) => [b.address, b.jail, `${duration((now - b.sinceMs) / 1000)} ago`, b.untilMs === null ? 'never' : `in ${duration(Math.max(0, b.untilMs - now) / 1000)}`, clip(b.reason, 50)]),
      ]),
    );
    if (p.bans.length > shown.length) out.push(`  … and ${p.bans.length - shown.length} more (warden jail list, or the dashboard)`);
  }

  out.push('', 'jails:');
  if (p.jails.length === 0) out.push('  none');
  else
    out.push(
      ...table(
        [
          ['jail', 'source', 'failures', 'banned', 'matched/read'],
          ...p.jails.map((j) => [j.jail, j.source ?? '–', fmt.format(j.failures), fmt.format(j.banned), j.linesRead === null ? '–' : `${fmt.format(j.linesMatched ?? 0)}/${fmt.format(j.linesRead)}`]),
        ],
        new Set([2, 3, 4]),
      ),
    );
  return out;
}

/** Runs an admin-API command with a client made from the options; errors become exit 1 with a message. */
export async function withAdmin(name: string, values: Parameters<typeof resolveTarget>[0], env: NodeJS.ProcessEnv, io: Io, body: (admin: AdminClient) => Promise<number>): Promise<number> {
  let admin: AdminClient;
  try {
    admin = adminClient(resolveTarget(values, env));
  } catch (err) {
    if (err instanceof TargetError || err instanceof AdminClientError) {
      io.err(`warden ${name}: ${err.message}`);
      return err instanceof TargetError ? 2 : 1;
    }
    throw err;
  }
  try {
    return await body(admin);
  } catch (err) {
    if (err instanceof AdminClientError) {
      io.err(`warden ${name}: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await admin.close();
  }
}

export async function statusCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...TARGET_OPTIONS, range: { type: 'string', default: 'hour' }, json: { type: 'boolean', default: false } }, allowPositionals: false }));
  } catch (err) {
    io.err(`warden status: ${(err as Error).message}\nusage:\n${STATUS_USAGE}`);
    return 2;
  }
  const range = values.range;
  if (range !== 'hour' && range !== 'day' && range !== 'week') {
    io.err('warden status: --range must be hour, day or week');
    return 2;
  }
  return withAdmin('status', values, env, io, async (admin) => {
    const picture = await fetchPicture(admin, range);
    if (values.json) io.out(JSON.stringify(picture, null, 2));
    else for (const line of render(picture, range)) io.out(line);
    return 0;
  });
}
