/**
 * @module cli/quickstart
 * `warden quickstart [start flags]`, what `npm start` runs: `warden start` on the embedded
 * defaults (the baseline, Warden's default rules, the `waf` jail, SQLite in the data
 * directory), on this machine only, with a banner that says where everything is and gives
 * curl lines that show a block and a ban.
 *
 * Without --upstream (and without --config or WARDEN_CONFIG) it puts Warden in front of
 * the demo blog (demo/blog), which it serves itself, in the primary process, on a free
 * loopback port: one process tree to stop with Ctrl-C, nothing left behind, and the
 * primary is otherwise idle (it coordinates workers; they carry the traffic). The demo
 * trusts X-Forwarded-For from 127.0.0.1, so one curl can play other clients and show a ban
 * without banning the machine it runs on (its own addresses are exempt: ignoreSelf).
 *
 * With --upstream URL it protects that site instead; with --config (or WARDEN_CONFIG) the
 * file decides everything and the flags are passed on unchanged. Either way the banner
 * prints the `warden start` command line it amounts to.
 */
import cluster from 'node:cluster';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { START_OPTIONS, loadsDefaultRules, type WardenConfig } from '../config/index.js';
import type { JailConfig } from '../config/types.js';
import { startDemoBlog, type DemoBlog } from '../demo/blog.js';
import { QUICKSTART_PORTS } from '../config/defaults.js';
import { start, type StartIo, type StartedWarden } from './start.js';

/** The address the demo's curl lines pretend to come from (TEST-NET-3, RFC 5737). */
export const DEMO_CLIENT = '203.0.113.7';

/** The flags quickstart runs `warden start` with. */
export interface QuickstartPlan {
  /** The arguments for `warden start`, without the demo's --upstream (added once it listens). */
  readonly args: readonly string[];
  /** Whether the demo blog is to be started and put upstream. */
  readonly demo: boolean;
  /** Whether a config file decides (the flags are passed on as given). */
  readonly configFile: boolean;
  /** What the user should know about the choices made (a default port was taken). */
  readonly notes: readonly string[];
}

/**
 * The `warden start` arguments for quickstart's arguments: the user's flags, preceded by
 * the quickstart's defaults for the flags they leave out. `free` says whether the default
 * ports are free (else port 0: the system picks).
 *
 * @example
 * planQuickstart([], {}, { proxy: true, admin: true });
 * // { demo: true, configFile: false, notes: [], args: ['--listen', '127.0.0.1:8080', '--admin', '127.0.0.1:9180',
 * //   '--access-log', 'warden-data/access.log', '--audit-log', 'warden-data/audit.log', '--trusted-proxy', '127.0.0.1'] }
 */
export function planQuickstart(argv: readonly string[], env: NodeJS.ProcessEnv, free: { proxy: boolean; admin: boolean }): QuickstartPlan {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: START_OPTIONS, allowPositionals: false, strict: true }).values;
  } catch {
    // warden start reads the same flags and says what is wrong with them.
    return { args: argv, demo: false, configFile: false, notes: [] };
  }
  if (values.config !== undefined || (env.WARDEN_CONFIG !== undefined && env.WARDEN_CONFIG !== '')) return { args: argv, demo: false, configFile: true, notes: [] };
  const added: string[] = [];
  const notes: string[] = [];
  for (const [flag, port, isFree] of [['listen', QUICKSTART_PORTS.proxy, free.proxy], ['admin', QUICKSTART_PORTS.admin, free.admin]] as const) {
    if (values[flag] !== undefined) continue;
    added.push(`--${flag}`, `127.0.0.1:${isFree ? port : 0}`);
    if (!isFree) notes.push(`port ${port} on 127.0.0.1 is taken; using a free one instead (--${flag} HOST:PORT chooses)`);
  }
  const dataDir = (values['data-dir'] as string | undefined) ?? 'warden-data';
  if (values['access-log'] === undefined) added.push('--access-log', join(dataDir, 'access.log'));
  if (values['audit-log'] === undefined) added.push('--audit-log', join(dataDir, 'audit.log'));
  const demo = values.upstream === undefined;
  if (demo && values['trusted-proxy'] === undefined) added.push('--trusted-proxy', '127.0.0.1');
  return { args: [...added, ...argv], demo, configFile: false, notes };
}

/** Whether `port` on 127.0.0.1 can be listened on now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const s = createServer();
    s.once('error', () => resolveFree(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolveFree(true)));
  });
}

/** `600000` → `10 min`, `3600000` → `1 h`, `604800000` → `7 d`. */
export function humanDuration(ms: number): string {
  if (ms < 0) return 'for ever';
  const units: Array<[number, string]> = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}

/** One jail in words: what counts, how many, and how long a ban lasts. */
export function describeJail(j: JailConfig): string {
  const what =
    j.source === 'waf'
      ? j.when.blocked === true && Object.keys(j.when).length === 1
        ? 'refused by the rules'
        : `matching ${JSON.stringify(j.when)}`
      : j.source === 'bans'
        ? `banned by ${j.fromJails.length > 0 ? j.fromJails.join(', ') : 'other jails'}`
        : `found by filter ${j.filter ?? '?'} in ${j.source === 'file' ? j.files.join(', ') : 'the journal'}`;
  const inc = j.banTimeIncrement;
  let growth = '';
  if (inc.enabled && j.banTime > 0) {
    growth =
      inc.multipliers !== null && inc.multipliers.length > 0
        ? `, then ×${inc.multipliers.slice(1).join(', ×')} for repeat offenders`
        : inc.factor === 1
          ? ', doubling for each repeat offence'
          : `, ×${2 * inc.factor}, ×${4 * inc.factor} … for repeat offenders`;
    if (inc.maxTime > 0) growth += ` up to ${humanDuration(inc.maxTime)}`;
  }
  return `jail "${j.name}": an address ${what} ${j.maxRetry} time${j.maxRetry === 1 ? '' : 's'} within ${humanDuration(j.findTime)} is banned ${j.banTime < 0 ? 'for ever' : `for ${humanDuration(j.banTime)}`}${growth}${j.ignoreSelf ? " (this machine's own addresses are exempt)" : ''}`;
}

/** An argument as a POSIX shell would need it. */
const shellWord = (a: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** A listener URL a client on this machine can use (0.0.0.0 and :: are reached through loopback). */
function reachable(url: string): string {
  return url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
}

/** The malformed pingback of the story: chunked, `&` not escaped, one parameter. */
export const BOGUS_PINGBACK = '<?xml version="1.0"?><methodCall><methodName>pingback.ping</methodName><params><param><value><string>http://cheap-meds.example/?ref=1&id=2</string></value></param></params></methodCall>';

/** A pingback as another WordPress sends it. */
export function goodPingback(proxy: string): string {
  return `<?xml version="1.0"?><methodCall><methodName>pingback.ping</methodName><params><param><value><string>https://bakers.example/2024/03/my-loaf/</string></value></param><param><value><string>${proxy}/2024/03/sourdough-at-altitude/</string></value></param></params></methodCall>`;
}

/** The SQL injection the curl lines send, as a query string. */
export const SQLI_QUERY = '?s=1%27%20OR%201%3D1--';

/** The banner's lines. */
export function banner(w: StartedWarden, plan: QuickstartPlan, demo: DemoBlog | null): string[] {
  const config: WardenConfig = w.config;
  const proxy = reachable(w.listeners[0] ?? '');
  const upstream = config.upstreams.map((u) => u.url).join(', ');
  const rules = config.rules;
  const ruleSet = loadsDefaultRules(rules)
    ? "Warden's default rule set (protocol sanity, XML-RPC abuse, scanners, SQLi/XSS in arguments; rules/default)"
    : rules.crs !== null
      ? `the OWASP CRS in ${rules.crs}${rules.files.length > 0 ? ` and ${rules.files.join(', ')}` : ''}`
      : rules.files.join(', ');
  const refusal = config.bans.answer === 'close' ? 'its connections are closed unanswered' : 'it gets 403 for everything';
  const out = [
    '',
    demo !== null
      ? `Warden is running in front of the demo blog (served by this process on ${demo.url}).`
      : `Warden is running in front of ${upstream}.`,
    '',
    `  the site, through Warden:  ${proxy}/${w.listeners.length > 1 || proxy !== w.listeners[0] ? `   (listening on ${w.listeners.join(', ')})` : ''}`,
    `  dashboard and metrics:     ${w.adminUrl ?? 'off (--admin HOST:PORT turns it on)'}`,
    `  data, bans and logs:       ${config.dataDir}${config.logs.access !== null ? ` (access log ${config.logs.access})` : ''}`,
    `  rules:                     ${w.rules} — ${ruleSet}${rules.mode === 'detection' ? ', detection only: nothing is refused' : ''}`,
    ...config.jails.filter((j) => j.enabled).map((j) => `  ${describeJail(j)}`),
    `  a banned address is refused before its request body is read: ${refusal}`,
    '',
    `Try it (each line is a shell command; after the # what to expect${rules.mode === 'detection' || rules.mode === 'off' ? `, with blocking on: this runs with --mode ${rules.mode}` : ''}):`,
    `  curl -i ${proxy}/${demo !== null ? '2024/03/sourdough-at-altitude/' : ''}  # a page: 200`,
    `  curl -i '${proxy}/${SQLI_QUERY}'  # SQL injection: 403`,
    `  curl -i ${proxy}/xmlrpc.php -A PHP/5.2.10 -H 'Content-Type: text/xml' -H 'Transfer-Encoding: chunked' --data-binary ${shellWord(BOGUS_PINGBACK)}  # a bogus pingback: 400`,
  ];
  if (demo !== null) {
    out.push(
      `  curl -i ${proxy}/xmlrpc.php -A 'WordPress/6.5; https://bakers.example' -H 'Content-Type: text/xml' --data-binary ${shellWord(goodPingback(proxy))}  # a pingback from another blog: 200`,
      '',
      `A ban (this demo believes X-Forwarded-For from 127.0.0.1, so curl can play ${DEMO_CLIENT}):`,
      `  for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%{http_code} ' -H 'X-Forwarded-For: ${DEMO_CLIENT}' '${proxy}/${SQLI_QUERY}'; done; echo  # 5 refusals: 403 403 403 403 403`,
      `  curl -i -H 'X-Forwarded-For: ${DEMO_CLIENT}' ${proxy}/  # banned, refused whatever it asks: 403`,
      `  curl -i ${proxy}/  # everyone else: 200`,
    );
    if (w.adminUrl !== null) {
      const admin = w.adminUrl.replace(/\/$/, '');
      out.push(`  curl ${admin}/api/bans  # the bans (the dashboard shows them too)`, `  curl -X DELETE ${admin}/api/bans/${DEMO_CLIENT}  # lift the ban`);
    }
  }
  out.push(
    '',
    `The same as: warden start ${plan.args.map(shellWord).join(' ')}${demo !== null ? ` --upstream ${demo.url}` : ''}`,
    ...(demo !== null ? ['To protect your own site instead: npm start -- --upstream http://127.0.0.1:3000', 'Ctrl-C stops Warden and the demo blog.'] : ['Ctrl-C stops Warden.']),
    '',
  );
  return out;
}

/** `warden quickstart [start flags]`: resolves with the exit code once Warden has stopped. */
export async function quickstart(argv: readonly string[], env: NodeJS.ProcessEnv, io: StartIo): Promise<number> {
  // A worker gets everything from the primary; the demo blog lives in the primary only.
  if (cluster.isWorker) return start([], env, io);
  const [proxyFree, adminFree] = await Promise.all([portFree(QUICKSTART_PORTS.proxy), portFree(QUICKSTART_PORTS.admin)]);
  const plan = planQuickstart(argv, env, { proxy: proxyFree, admin: adminFree });
  let demo: DemoBlog | null = null;
  if (plan.demo) {
    try {
      demo = await startDemoBlog();
    } catch (err) {
      io.err(`warden: could not start the demo blog: ${(err as Error).message}`);
      return 1;
    }
  }
  const args = demo === null ? plan.args : [...plan.args, '--upstream', demo.url];
  for (const note of plan.notes) io.err(`warden: ${note}`);
  try {
    return await start(args, env, io, (w) => {
      for (const line of banner(w, plan, demo)) io.out(line);
    });
  } finally {
    await demo?.close();
  }
}
