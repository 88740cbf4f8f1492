/**
 * @module cli/start
 * `warden start`: the reverse proxy on all cores, and `warden reload`.
 *
 * The primary process resolves the config (warden.yaml, environment, flags), reads the rule
 * files once, starts the workers (node:cluster, sharing the listeners) and stays to
 * coordinate: it restarts a worker that dies, and answers signals and `warden reload`:
 *
 *   SIGHUP, `warden reload`  re-read config and rules, reload all workers atomically
 *                            (a reload that fails changes nothing and says why)
 *   SIGUSR1                  reopen log files (after rotation)
 *   SIGTERM, SIGINT          stop accepting, let requests in flight finish, exit
 *
 * `warden reload` reaches the primary through a control socket, `<dataDir>/warden.sock`,
 * and prints its answer; `<dataDir>/warden.pid` holds the primary's pid for signals.
 */
import cluster from 'node:cluster';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogs } from '../audit/index.js';
import { errorLogTime } from '../audit/time.js';
import { readConfigFile, resolveStartConfig, rulesTextFor, RULES_TEXT_NAME, defaults, type WardenConfig } from '../config/index.js';
import { RuleLoadError } from '../seclang/errors.js';
import { parseSecLangText } from '../seclang/parser.js';
import { ClusterPrimary, describeLoadError, runWorker, sendToPrimary, type ReloadOutcome, type WorkerSetup } from '../proxy/cluster.js';
import { recordingSource } from '../proxy/rule-snapshot.js';
import { listeningUrl, type ListeningAddress } from '../proxy/server.js';
import type { ProxyLog } from '../proxy/types.js';
import { controlRequest, controlSocketPath, handleControl, serveControl, socketAnswers, type AnyControlRequest, type ControlRequest as JailRequest, type ControlResponse } from '../jail/control.js';
import { BanSet } from '../jail/ban-set.js';
import type { BanEvent, BanRecord } from '../jail/types.js';
import { matchesWafCondition, matchesWafOutcome } from '../jail/sources/waf.js';
import { wafEvent } from '../engine/events.js';
import { RELOAD_USAGE } from './usage.js';
import type { Store } from '../store/types.js';
import { abandonedWorkers } from '../jail/filter/index.js';
import { createBanEngine, type BanEngine } from './ban-engine.js';
import { openStore } from './store.js';

import { startPrimaryAdmin, workerAdmin, type PrimaryAdmin } from './admin-wiring.js';

/** Output sinks (the same shape as cli/main's Io). */
export interface StartIo {
  out(line: string): void;
  err(line: string): void;
}

/** How long requests in flight may take to finish on SIGTERM, at most. */
const MAX_GRACE_MS = 30_000;

/** `[Wed Nov 25 19:06:09.123456 2026] [proxy:error] [pid 12] message`: the error log's (Apache's) shape. */
function logLine(level: string, message: string): string {
  return `[${errorLogTime((performance.timeOrigin + performance.now()) * 1000)}] [proxy:${level}] [pid ${process.pid}] ${message}`;
}

const stderrLog: ProxyLog = (level, message) => void process.stderr.write(`${logLine(level, message)}\n`);

/** The control socket and pid file of a data directory. */
export function controlPaths(dataDir: string): { socket: string; pid: string } {
  return { socket: controlSocketPath(dataDir), pid: join(dataDir, 'warden.pid') };
}

/**
 * Reads the rule files the config names (once, for every worker) and checks they parse.
 * Returns the setup, or the problems with file:line:column.
 */
export function setupFor(config: WardenConfig): { setup: WorkerSetup } | { error: string } {
  const rulesText = rulesTextFor(config);
  const { source, snapshot } = recordingSource();
  const parsed = parseSecLangText(rulesText, RULES_TEXT_NAME, source);
  if (parsed.errors.length > 0) return { error: describeLoadError(new RuleLoadError(parsed.errors)) };
  return { setup: { config, rulesText, rulesFile: RULES_TEXT_NAME, snapshot } };
}

/** The config and rule snapshot for `argv`, or why not. */
function resolveSetup(argv: readonly string[], env: NodeJS.ProcessEnv): { setup: WorkerSetup } | { error: string } {
  const r = resolveStartConfig(argv, env);
  if ('errors' in r) return { error: `${r.errors.join('\n')}\n${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; configuration not usable` };
  return setupFor(r.config);
}

/** What the primary's ban engine tells workers. */
type ToWorkerWiring = { readonly kind: 'bans'; readonly bans: readonly BanRecord[] } | { readonly kind: 'ban-event'; readonly event: BanEvent };

/** What workers tell the ban engine: finished transactions that some WAF jail may count. */
type FromWorkerWiring = { readonly kind: 'waf-events'; readonly events: ReadonlyArray<ReturnType<typeof wafEvent>> };

/**
 * How long a worker gathers WAF events before it sends them to the ban engine in one
 * message, and how many it sends at most in one. Under a flood of blocked requests a
 * message per request cost about a tenth of a worker's time (serialising, the channel's
 * write, the primary's parse); a ban now comes at most this much later.
 */
const WAF_EVENT_FLUSH_MS = 10;
const WAF_EVENT_BATCH = 256;

/**
 * A worker's side of the ban engine: the ban set the proxy asks before reading a request
 * (kept current by the primary), the WAF events it sends back (only those some WAF jail's
 * condition can count, so benign traffic costs no IPC), and the store (SQLite, or the
 * fleet's Redis) for the engine's persistent collections.
 */
function workerWiring(): Parameters<typeof runWorker>[0] {
  const set = new BanSet();
  const banList = { has: (address: string) => set.lookup(address, Date.now()) !== null, answer: 'forbidden' as 'forbidden' | 'close' };
  let conditions: Array<WardenConfig['jails'][number]['when']> = [];
  let store: Store | null = null;
  const admin = workerAdmin(sendToPrimary);
  let pending: Array<ReturnType<typeof wafEvent>> = [];
  let flushTimer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    if (flushTimer !== null) clearTimeout(flushTimer);
    flushTimer = null;
    if (pending.length === 0) return;
    sendToPrimary({ kind: 'waf-events', events: pending } satisfies FromWorkerWiring);
    pending = [];
  };
  const report = (event: ReturnType<typeof wafEvent>): void => {
    pending.push(event);
    if (pending.length >= WAF_EVENT_BATCH) flush();
    else flushTimer ??= setTimeout(flush, WAF_EVENT_FLUSH_MS);
  };
  return {
    bans: banList,
    log: stderrLog,
    observer: admin.observer,
    beforeExit: () => {
      flush();
      return admin.beforeExit();
    },
    storeFor(config) {
      banList.answer = config.bans.answer;
      conditions = config.jails.filter((j) => j.enabled && j.source === 'waf').map((j) => j.when);
      store ??= openStore(config, 'worker', stderrLog);
      return store;
    },
    onMessage(payload) {
      if (admin.onMessage(payload)) return;
      const m = payload as ToWorkerWiring;
      if (m.kind === 'bans') for (const ban of m.bans) set.apply({ type: 'ban', ban });
      else if (m.kind === 'ban-event') set.apply(m.event);
    },
    createLogs(config, waf) {
      const logs = workerLogs(config, waf.config);
      admin.configure(config, waf, logs);
      return {
        transactionDone(tx, response) {
          logs.transactionDone(tx, response);
          if (conditions.length === 0 || tx.remoteAddr === null) return;
          // The event's blocked, bodyError and status, without making it (see matchesWafOutcome).
          const it = tx.interruption;
          const status = it?.status ?? response.status;
          if (!conditions.some((c) => matchesWafOutcome(c, it !== null, tx.reqbodyError, status))) return;
          const event = wafEvent(tx, response.status);
          if (conditions.some((c) => matchesWafCondition(c, event))) report(event);
        },
        rejected: (r) => logs.rejected(r),
        takesRejected: () => logs.takesRejected(),
        reopen: () => logs.reopen(),
        close: () => logs.close(),
        get writeErrors() {
          return logs.writeErrors;
        },
      };
    },
  };
}

/** The logs a worker writes, for a config and the Waf whose SecAudit* settings they follow. */
function workerLogs(config: WardenConfig, waf: Parameters<typeof createLogs>[0]['config']): ReturnType<typeof createLogs> {
  return createLogs({ config: waf, logs: config.logs, report: (m) => stderrLog('error', m) });
}

/** What a started Warden listens on and runs, for a front end that explains it (cli/quickstart). */
export interface StartedWarden {
  readonly config: WardenConfig;
  /** The listeners' URLs, with the ports the system chose for port 0. */
  readonly listeners: readonly string[];
  /** The admin listener's URL, or null without one. */
  readonly adminUrl: string | null;
  readonly rules: number;
  readonly workers: number;
}

/**
 * `warden start [flags]`. In the primary, resolves when Warden has stopped (the exit code);
 * in a worker, never resolves (the worker exits by itself). `onStarted` is called once
 * everything listens, after the lines saying so.
 */
export async function start(argv: readonly string[], env: NodeJS.ProcessEnv, io: StartIo, onStarted?: (w: StartedWarden) => void): Promise<number> {
  if (cluster.isWorker) {
    runWorker(workerWiring());
    return new Promise<number>(() => {});
  }
  const first = resolveSetup(argv, env);
  if ('error' in first) {
    io.err(first.error);
    return 1;
  }
  const config = first.setup.config;
  const paths = controlPaths(config.dataDir);
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (err) {
    io.err(`cannot create the data directory ${config.dataDir}: ${(err as Error).message}`);
    return 1;
  }
  if (await socketAnswers(paths.socket)) {
    io.err(`another Warden is running with the data directory ${config.dataDir} (${paths.socket} answers); stop it first or use another --data-dir`);
    return 1;
  }
  rmSync(paths.socket, { force: true });

  const workers = config.workers > 0 ? config.workers : availableParallelism();
  const graceMs = Math.min(config.proxy.requestTimeout > 0 ? config.proxy.requestTimeout : MAX_GRACE_MS, MAX_GRACE_MS);
  // The ban engine runs here, in the primary: jails see every worker's events, bans reach
  // every worker, and the store has one writer for bans.
  let bans: BanEngine;
  try {
    bans = createBanEngine(config, stderrLog);
    await bans.start();
  } catch (err) {
    io.err(`warden: could not start the ban engine: ${(err as Error).message}`);
    return 1;
  }
  let primaryRef: ClusterPrimary | null = null;
  let admin: PrimaryAdmin | null = null;
  let rules = 0;
  /** Where the listeners are bound (port 0 in the config gets its real port here), once started. */
  let listening: readonly ListeningAddress[] | null = null;
  bans.manager.subscribe((event) => primaryRef?.broadcast({ kind: 'ban-event', event } satisfies ToWorkerWiring));
  const primary = new ClusterPrimary({
    workers,
    graceMs,
    log: stderrLog,
    welcome: () => [{ kind: 'bans', bans: bans.manager.activeBans() } satisfies ToWorkerWiring],
    onMessage: (payload) => {
      const m = payload as FromWorkerWiring;
      if (m.kind === 'waf-events') for (const event of m.events) bans.reportWafEvent(event);
      else admin?.onMessage(payload);
    },
  });
  primaryRef = primary;
  if (config.admin.enabled) {
    try {
      admin = await startPrimaryAdmin(config, { bans, primary: () => primaryRef, rules: () => rules, listening: () => listening, log: stderrLog });
    } catch (err) {
      await bans.stop();
      io.err(`warden: could not start the admin listener: ${(err as Error).message}`);
      return 1;
    }
  }
  let started;
  try {
    started = await primary.start(first.setup);
  } catch (err) {
    await admin?.stop();
    await bans.stop();
    io.err(`warden: could not start:\n${(err as Error).message}`);
    return 1;
  }
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => (resolveExit = r));
  let stopping = false;
  let control: Server | null = null;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    io.out('warden: stopping (requests in flight may finish)');
    void primary.shutdown().then(async () => {
      await admin?.stop();
      await bans.stop();
      control?.close();
      rmSync(paths.socket, { force: true });
      rmSync(paths.pid, { force: true });
      if (abandonedWorkers() > 0) {
        // Node joins every thread as a process exits, and a filter's worker stuck in V8's
        // regex compiler never ends (jail/filter/guard): nothing else is left to stop.
        io.out(`warden: stopped; ${abandonedWorkers()} filter thread(s) stuck in V8's regex compiler cannot end: exiting by SIGKILL`);
        process.kill(process.pid, 'SIGKILL');
      }
      io.out('warden: stopped');
      resolveExit(0);
    });
  };
  const reload = async (): Promise<ReloadOutcome> => {
    const next = resolveSetup(argv, env);
    if ('error' in next) return { ok: false, message: `reload failed; the running rules and config stay in effect:\n${next.error}` };
    return primary.reload(next.setup);
  };
  const report = (o: ReloadOutcome): void => {
    for (const line of o.message.split('\n')) stderrLog(o.ok ? 'info' : 'error', line);
  };
  const other = (req: AnyControlRequest): Promise<ControlResponse> => handleControl(bans.manager, req as unknown as JailRequest);
  // The socket and the signals before the ready lines: whoever reads them may run
  // `warden jail`, `warden reload` or kill at once.
  try {
    control = await serveControl(paths.socket, (req) => answerControl(req, { reload, reopen: () => primary.reopenLogs(), stop, other }));
  } catch (err) {
    stderrLog('error', `control socket ${paths.socket}: ${(err as Error).message}; warden reload and warden jail will not reach this process (SIGHUP still does)`);
  }
  process.on('SIGHUP', () => void reload().then(report));
  process.on('SIGUSR1', () => void primary.reopenLogs().then(report));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  rules = started.summary.rules;
  listening = started.addresses;
  for (const a of started.addresses) io.out(`warden: listening on ${listeningUrl(a)} (${a.name})`);
  io.out(`warden: ${workers} worker${workers === 1 ? '' : 's'}, ${started.summary.rules} rules${started.summary.warnings > 0 ? ` (${started.summary.warnings} warnings)` : ''}; pid ${process.pid}`);
  if (admin !== null) {
    const how = admin.server.auth === 'none' ? 'no authentication: this machine only' : admin.server.auth === 'token' ? 'token (Bearer, or as the Basic password)' : 'basic authentication';
    io.out(`warden: admin on ${admin.server.url} (dashboard, /metrics, /api; ${how})`);
  }
  writeFileSync(paths.pid, `${process.pid}\n`);
  onStarted?.({
    config,
    listeners: started.addresses.map(listeningUrl),
    adminUrl: admin?.server.url ?? null,
    rules: started.summary.rules,
    workers,
  });
  return exited;
}

interface ControlCommands {
  reload(): Promise<ReloadOutcome>;
  reopen(): Promise<ReloadOutcome>;
  stop(): void;
  /** Everything else (the jails' status, ban, unban …): the ban engine's. */
  other(req: AnyControlRequest): Promise<ControlResponse>;
}

function outcome(o: ReloadOutcome): ControlResponse {
  return o.ok ? { ok: true, result: o.message } : { ok: false, error: o.message };
}

async function answerControl(req: AnyControlRequest, commands: ControlCommands): Promise<ControlResponse> {
  switch (req.cmd) {
    case 'reload':
      return outcome(await commands.reload());
    case 'reopen':
      return outcome(await commands.reopen());
    case 'stop':
      setImmediate(commands.stop);
      return { ok: true, result: 'stopping' };
    default:
      return commands.other(req);
  }
}

/** Sends one command to a running Warden; resolves with its answer. */
export function sendControl(dataDir: string, cmd: 'reload' | 'reopen' | 'stop', timeoutMs = 180_000): Promise<ControlResponse> {
  return controlRequest(controlSocketPath(dataDir), { cmd }, timeoutMs);
}

/** `warden reload`: asks the running primary to reload; exit 0 when it did, 1 when not. */
export async function reloadCommand(argv: readonly string[], env: NodeJS.ProcessEnv, io: StartIo): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: [...argv], options: { config: { type: 'string' }, 'data-dir': { type: 'string' } }, allowPositionals: false }).values;
  } catch (err) {
    io.err(`${(err as Error).message}\nusage:\n${RELOAD_USAGE}`);
    return 2;
  }
  let dataDir: string;
  if (values['data-dir'] !== undefined) dataDir = resolve(values['data-dir']);
  else {
    const file = values.config ?? (env.WARDEN_CONFIG !== undefined && env.WARDEN_CONFIG !== '' ? env.WARDEN_CONFIG : undefined);
    if (file === undefined) dataDir = resolve(defaults.DATA_DIR_DEFAULT);
    else {
      const { draft, errors } = readConfigFile(file);
      if (errors.length > 0) {
        for (const e of errors) io.err(e.message);
        return 1;
      }
      dataDir = draft.dataDir;
    }
  }
  try {
    const o = await sendControl(dataDir, 'reload');
    if (o.ok) io.out(String(o.result));
    else io.err(o.error);
    return o.ok ? 0 : 1;
  } catch (err) {
    io.err((err as Error).message);
    return 1;
  }
}
