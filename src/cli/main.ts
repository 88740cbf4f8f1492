/**
 * @module cli/main
 * The `warden` command. Subcommands:
 *   check-rules FILE...            load rules as the engine would; report every error with
 *                                  file:line:column, or the rule counts by phase
 *   eval --rules FILE... [REQUEST] evaluate one raw HTTP request (file or stdin) offline and
 *                                  explain the verdict rule by rule (--json for machines)
 *   check-config [--config FILE] [start flags]
 *                                  resolve warden.yaml and the flags as `warden start` would;
 *                                  print the result and the rule files in load order, then
 *                                  load those rules; every problem with file:line
 *   start [--config FILE] [flags]  the reverse proxy on all cores (cli/start)
 *   quickstart [start flags]       what `npm start` runs: start on the defaults, on this machine,
 *                                  in front of a demo blog unless --upstream names a site
 *                                  (cli/quickstart)
 *   reload [--config FILE | --data-dir DIR]
 *                                  reload the running Warden's config and rules
 *   replay FILE [rule flags]       recorded requests (HAR, JSON audit log) through the rules
 *                                  offline: what would pass, what would be refused (cli/replay)
 *   import-jails FILE...           fail2ban's jail.conf/jail.local as warden.yaml jails: and
 *                                  actions: sections (cli/import-jails)
 *   status                         the running Warden's picture in the terminal (cli/status)
 *   munin [GRAPH] [config]         a munin plugin (cli/munin)
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Waf } from '../engine/waf.js';
import type { TraceEvent } from '../engine/transaction.js';
import type { WardenConfig } from '../config/index.js';
import { IMPORT_JAILS_USAGE, MUNIN_USAGE, QUICKSTART_USAGE, RELOAD_USAGE, REPLAY_USAGE, START_USAGE, STATUS_USAGE } from './usage.js';

// Each command loads only the modules it runs: `warden jail ban` or a munin poll should not
// pay for the proxy, the engine and the stores (measured: 0.11 s and 52 MB for `warden jail`'s
// modules against 0.29 s and 102 MB for all of them).

/** The usage text: every command's (cli/usage, which loads nothing else). */
const USAGE = `usage:
  warden check-rules FILE...
  warden eval --rules FILE [--rules FILE...] [--remote-addr ADDR] [--all] [--json] [REQUEST_FILE]
      (the request is read from standard input when no REQUEST_FILE is given)
  warden check-config [--json] [--config FILE] [start flags]
  warden jail status|list|ban|unban …   (warden jail for details)
  warden start [--config FILE] [flags]   the reverse proxy; flags (also for check-config):
${START_USAGE}
${QUICKSTART_USAGE}
${RELOAD_USAGE}
${REPLAY_USAGE}
${IMPORT_JAILS_USAGE}
${STATUS_USAGE}
${MUNIN_USAGE}`;

/** Output sinks, replaceable in tests. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  readStdin(): string;
}

const defaultIo: Io = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  readStdin: () => readFileSync(0, 'latin1'),
};

/** Rules loaded as the engine loads them, or null after their errors were printed. */
async function loadRules(files: readonly string[], io: Io, text?: string): Promise<Waf | null> {
  const [{ Waf }, { RuleLoadError, formatLocation }, { RULES_TEXT_NAME }] = await Promise.all([
    import('../engine/waf.js'),
    import('../seclang/errors.js'),
    import('../config/index.js'),
  ]);
  try {
    return text === undefined ? Waf.fromFiles(files) : Waf.fromText(text, { file: RULES_TEXT_NAME });
  } catch (err) {
    if (err instanceof RuleLoadError) {
      for (const e of err.errors) io.err(`${formatLocation(e.location)}: error: ${e.reason}`);
      io.err(`${err.errors.length} error${err.errors.length === 1 ? '' : 's'}; rules not loaded`);
      return null;
    }
    throw err;
  }
}

async function checkRules(files: string[], io: Io): Promise<number> {
  if (files.length === 0) {
    io.err(USAGE);
    return 2;
  }
  const waf = await loadRules(files, io);
  if (waf === null) return 1;
  const { formatLocation } = await import('../seclang/errors.js');
  for (const w of waf.warnings) io.err(`${formatLocation(w.location)}: warning: ${w.message}`);
  const s = waf.summary();
  io.out(`${s.files} file${s.files === 1 ? '' : 's'}, ${s.rules} rules (${s.chainLinks} chained rules), ${s.markers} markers`);
  io.out(s.byPhase.slice(1).map((n, i) => `phase ${i + 1}: ${n}`).join(', '));
  io.out(`Test ok.${waf.warnings.length > 0 ? ` (${waf.warnings.length} warning${waf.warnings.length === 1 ? '' : 's'})` : ''}`);
  return 0;
}

/** Text for a person: bytes shown printable, long values cut. */
function show(value: string, max = 120): string {
  const printable = value.replace(/[\x00-\x1f\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return JSON.stringify(printable.length > max ? `${printable.slice(0, max)}…` : printable);
}

async function evaluate(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      rules: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      'remote-addr': { type: 'string', default: '127.0.0.1' },
    },
    allowPositionals: true,
  });
  const ruleFiles = values.rules ?? [];
  if (ruleFiles.length === 0 || positionals.length > 1) {
    io.err(USAGE);
    return 2;
  }
  const waf = await loadRules(ruleFiles, io);
  if (waf === null) return 1;
  const [{ parseRawRequest, RawRequestError }, { SEVERITY_NAMES }] = await Promise.all([import('../http/raw-request.js'), import('../engine/rule.js')]);
  const raw = positionals[0] === undefined ? io.readStdin() : readFileSync(positionals[0], 'latin1');
  let req;
  try {
    req = parseRawRequest(raw);
  } catch (err) {
    if (err instanceof RawRequestError) {
      io.err(`request: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const trace: TraceEvent[] = [];
  const tx = waf.newTransaction({ trace: (e) => trace.push(e) });
  tx.processConnection(values['remote-addr'] as string, 50000, '127.0.0.1', 80);
  tx.processRequestLine(req.method, req.target, req.protocol);
  for (const [k, v] of req.headers) tx.addRequestHeader(k, v);
  let it = await tx.processRequestHeaders();
  if (it === null) {
    tx.appendRequestBody(req.body);
    it = await tx.processRequestBody();
  }
  await tx.processLogging();

  const starters = new Map(waf.rules.filter((r) => r.starter === r).map((r) => [r.id, r]));
  // Only rules whose whole chain matched count as matched; a chain's first rule matching alone does not.
  const complete = new Set(tx.matchedRules.map((r) => r.id));
  const matched = trace.filter((e) => e.matched && complete.has(e.ruleId));
  const verdict = it === null ? { action: 'pass' } : it;
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          verdict,
          request: { method: req.method, target: req.target, protocol: req.protocol, remoteAddr: values['remote-addr'] },
          bodyProcessor: tx.reqbodyProcessor,
          bodyError: tx.reqbodyError ? tx.reqbodyErrorMsg : null,
          argsGet: tx.argsGet.map((e) => [e.key, e.value]),
          argsPost: tx.argsPost.map((e) => [e.key, e.value]),
          matches: matched.map((e) => ({ ...e, msg: starters.get(e.ruleId)?.msg?.source ?? null })),
          logged: tx.matches,
          anomalyScore: tx.tx.get('blocking_inbound_anomaly_score')?.value ?? null,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  io.out(
    it === null
      ? 'Verdict: pass (no rule stopped the request)'
      : `Verdict: ${it.action} with status ${it.status} by rule ${it.ruleId} in phase ${it.phase}${it.url ? ` → ${it.url}` : ''}`,
  );
  io.out(`Request: ${req.method} ${show(req.target, 200)} ${req.protocol} from ${values['remote-addr']}`);
  if (tx.reqbodyProcessor !== null || req.body !== '') {
    io.out(`Body: ${req.body.length} bytes, processor ${tx.reqbodyProcessor ?? 'none'}${tx.reqbodyError ? ` (error: ${tx.reqbodyErrorMsg})` : ''}`);
  }
  for (const [label, list] of [['ARGS_GET', tx.argsGet], ['ARGS_POST', tx.argsPost]] as const) {
    if (list.length > 0) io.out(`${label}: ${list.map((e) => `${show(e.key, 40)}=${show(e.value, 60)}`).join(', ')}`);
  }
  if (matched.length === 0) {
    io.out('No rule matched.');
    return 0;
  }
  // Rules without msg and log (setup and bookkeeping, like CRS's 901xxx) are listed by id
  // unless --all asks for their details too.
  const detailed = (id: number): boolean => {
    const rule = starters.get(id);
    return values.all === true || rule === undefined || rule.msg !== null || (it !== null && it.ruleId === id);
  };
  const quiet = [...new Set(matched.filter((e) => !detailed(e.ruleId)).map((e) => e.ruleId))];
  const loud = matched.filter((e) => detailed(e.ruleId));
  io.out(`Matched ${new Set(matched.map((e) => e.ruleId)).size} rules${quiet.length > 0 ? ` (${quiet.length} without msg listed at the end; --all shows them in full)` : ''}:`);
  let last = -1;
  for (const e of loud) {
    const rule = starters.get(e.ruleId);
    if (e.ruleId !== last) {
      const sev = rule !== undefined && rule.severity >= 0 ? ` [${SEVERITY_NAMES[rule.severity]}]` : '';
      const logged = tx.matches.find((m) => m.ruleId === e.ruleId);
      const msg = logged?.msg || rule?.msg?.source || '';
      io.out(`  rule ${e.ruleId}${sev}${msg ? ` ${msg}` : ''}`);
      if (logged?.data) io.out(`    data: ${show(logged.data, 200)}`);
      if (rule !== undefined) io.out(`    at ${rule.location.file}:${rule.location.line}`);
      last = e.ruleId;
    }
    const link = e.chainLink ? '(chained) ' : '';
    if (e.variable !== '') {
      const tf = e.transforms.length > 0 ? ` after t:${e.transforms.join(',t:')} (raw ${show(e.rawValue, 60)})` : '';
      io.out(`    ${link}${e.variable} = ${show(e.value)}${tf}`);
    }
    io.out(`      ${link && e.variable === '' ? link : ''}${e.operator.length > 100 ? `${e.operator.slice(0, 100)}…` : e.operator} → match`);
  }
  if (quiet.length > 0) io.out(`  also matched: ${quiet.join(', ')}`);
  const score = tx.tx.get('blocking_inbound_anomaly_score');
  if (score !== undefined) io.out(`Inbound anomaly score: ${score.value}`);
  return 0;
}

/** The config as printed: secrets replaced, `file` left to the header line. */
function printable(config: WardenConfig): Record<string, unknown> {
  const { file: _file, ...rest } = config;
  const hide = (s: string | null): string | null => (s === null ? null : `(${s.length} characters, hidden)`);
  return {
    ...rest,
    proxy: {
      ...rest.proxy,
      errorPageHtml: rest.proxy.errorPageHtml === null ? null : `(template, ${rest.proxy.errorPageHtml.length} characters)`,
      errorPageJson: rest.proxy.errorPageJson === null ? null : `(template, ${rest.proxy.errorPageJson.length} characters)`,
    },
    admin: {
      ...rest.admin,
      token: hide(rest.admin.token),
      basicAuth: rest.admin.basicAuth === null ? null : { user: rest.admin.basicAuth.user, password: hide(rest.admin.basicAuth.password) },
    },
    store: { ...rest.store, url: hideUrlPassword(rest.store.url), password: hide(rest.store.password) },
  };
}

/** A Redis URL with its password (if any) replaced. */
function hideUrlPassword(url: string | null): string | null {
  if (url === null) return null;
  const u = new URL(url);
  if (u.password === '') return url;
  u.password = 'hidden';
  return u.href;
}

async function checkConfig(argv: string[], io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  const [{ resolveStartConfig, ruleFilesFor, rulesTextFor }, { stringify: toYaml }, { formatLocation }] = await Promise.all([
    import('../config/index.js'),
    import('yaml'),
    import('../seclang/errors.js'),
  ]);
  const json = argv.includes('--json');
  const r = resolveStartConfig(argv.filter((a) => a !== '--json'), env);
  if ('errors' in r) {
    for (const e of r.errors) io.err(e);
    io.err(`${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; configuration not usable`);
    return 1;
  }
  const config = r.config;
  const files = ruleFilesFor(config);
  if (json) {
    io.out(JSON.stringify({ file: config.file, config: printable(config), ruleFiles: files }, null, 2));
  } else {
    io.out(`# Warden configuration from ${config.file ?? 'defaults'}${config.file === null ? '' : ', defaults'} and flags`);
    io.out(toYaml(printable(config)).trimEnd());
    io.out('# Rule files, in load order:');
    for (const f of files) io.out(`#   ${f}`);
    if (config.rules.mode !== null) io.out(`#   then SecRuleEngine from rules.mode (${config.rules.mode})`);
  }
  const waf = await loadRules(files, io, rulesTextFor(config));
  if (waf === null) return 1;
  for (const w of waf.warnings) io.err(`${formatLocation(w.location)}: warning: ${w.message}`);
  const s = waf.summary();
  const summary = `${s.files} rule file${s.files === 1 ? '' : 's'}, ${s.rules} rules (${s.chainLinks} chained rules), engine ${waf.config.ruleEngine}`;
  if (json) io.err(summary);
  else io.out(`# ${summary}\n# Configuration ok.`);
  return 0;
}

/** Runs the command line; resolves with the exit code. */
export async function main(argv: string[], io: Io = defaultIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Linked into /etc/munin/plugins as warden_*: munin runs the link with `config` or nothing.
  if (/^warden_\w+$/.test(basename(process.argv[1] ?? ''))) return (await import('./munin.js')).muninCommand(argv, io, env);
  const [command, ...rest] = argv;
  switch (command) {
    case 'check-rules':
      return checkRules(rest, io);
    case 'check-config':
      return checkConfig(rest, io, env);
    case 'jail':
      return (await import('./jail.js')).jailCommand(rest, io);
    case 'filter':
      return (await import('./filter.js')).filterCommand(rest, io);
    case 'start':
      return (await import('./start.js')).start(rest, env, io);
    case 'quickstart':
      return (await import('./quickstart.js')).quickstart(rest, env, io);
    case 'reload':
      return (await import('./start.js')).reloadCommand(rest, env, io);
    case 'eval':
      return evaluate(rest, io);
    case 'replay':
      return (await import('./replay.js')).replayCommand(rest, io, env);
    case 'import-jails':
      return (await import('./import-jails.js')).importJailsCommand(rest, io);
    case 'status':
      return (await import('./status.js')).statusCommand(rest, io, env);
    case 'munin':
      return (await import('./munin.js')).muninCommand(rest, io, env);
    case '--help':
    case '-h':
    case 'help':
      io.out(USAGE);
      return 0;
    default:
      io.err(command === undefined ? USAGE : `unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}
