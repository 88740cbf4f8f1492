/**
 * @module cli/admin-wiring
 * `warden start`'s metrics and dashboard, both sides of node:cluster:
 *
 * - in each worker, the admin recorder is the proxy's observer; once a second it sends what
 *   it counted to the primary (one IPC message, none when idle), and it answers the
 *   primary's requests to explain a transaction it keeps;
 * - in the primary, the reports feed the Prometheus metrics, the dashboard's history (in
 *   the SQLite store of the data directory) and the live list, and the admin listener
 *   serves them with the ban engine's jails and bans.
 */
import { readFileSync } from 'node:fs';
import type { Logs } from '../audit/logs.js';
import { RecentEvents } from '../admin/events.js';
import { History } from '../admin/history.js';
import { AdminMetrics } from '../admin/metrics.js';
import { WorkerRecorder } from '../admin/recorder.js';
import { startAdminServer, type AdminServer } from '../admin/server.js';
import type { FromWorkerAdmin, ToWorkerAdmin } from '../admin/delta.js';
import type { WardenConfig } from '../config/types.js';
import type { Waf } from '../engine/waf.js';
import type { ClusterPrimary } from '../proxy/cluster.js';
import { listeningUrl, type ListeningAddress } from '../proxy/server.js';
import { hasSeries, type SeriesStore } from '../store/series.js';
import { openSqliteStore } from '../store/sqlite.js';
import { storePath, type BanEngine } from './ban-engine.js';

/** How often a worker reports, ms. */
const REPORT_MS = 1000;
/** How often the primary writes the history, ms. */
const HISTORY_MS = 5000;
/** How long the primary waits for workers to explain a transaction, ms. */
const EXPLAIN_MS = 10_000;

function version(): string {
  try {
    // The same relative place from src/cli and dist/cli.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return `Warden ${pkg.version ?? '?'}`;
  } catch {
    return 'Warden';
  }
}

export interface WorkerAdmin {
  /** The proxy's observer. */
  readonly observer: WorkerRecorder;
  /** For each config the worker loads (setup and every reload), with the Waf and logs built for it. */
  configure(config: WardenConfig, waf: Waf, logs: Pick<Logs, 'writeErrors' | 'dropped'>): void;
  /** Handles a message of the primary's admin; false when the message is not one. */
  onMessage(payload: unknown): boolean;
  /** The last report, before the worker exits (resolves once it is handed to the channel). */
  beforeExit(): Promise<void>;
}

/** A worker's side. `send` reaches the primary's wiring (cluster's sendToPrimary). */
export function workerAdmin(send: (payload: FromWorkerAdmin, sent?: () => void) => void): WorkerAdmin {
  const recorder = new WorkerRecorder();
  recorder.enabled = false;
  // Every logs object this worker made: their counters only grow, so the sum does too.
  const logs: Array<Pick<Logs, 'writeErrors' | 'dropped'>> = [];
  let sent = { writeErrors: 0, dropped: 0 };
  let current: Waf | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  const report = (whenSent?: () => void): void => {
    let writeErrors = 0;
    let dropped = 0;
    for (const l of logs) {
      writeErrors += l.writeErrors;
      dropped += l.dropped;
    }
    const delta = recorder.take({ writeErrors: writeErrors - sent.writeErrors, dropped: dropped - sent.dropped });
    sent = { writeErrors, dropped };
    if (delta !== null) send({ kind: 'admin-metrics', delta }, whenSent);
    else whenSent?.();
  };
  return {
    observer: recorder,
    configure(config, waf, l) {
      current = waf;
      logs.push(l);
      recorder.enabled = config.admin.enabled;
      if (config.admin.enabled && timer === null) {
        timer = setInterval(() => report(), REPORT_MS);
        timer.unref();
      }
    },
    onMessage(payload) {
      const m = payload as ToWorkerAdmin;
      if (m?.kind !== 'admin-explain') return false;
      recorder.recent.explain(m.id, current).then(
        (result) => send({ kind: 'admin-explained', request: m.request, result }),
        (err: unknown) => send({ kind: 'admin-explained', request: m.request, result: { error: (err as Error).message } }),
      );
      return true;
    },
    beforeExit() {
      if (timer === null) return Promise.resolve();
      clearInterval(timer);
      return new Promise((resolve) => report(resolve));
    },
  };
}

export interface PrimaryAdmin {
  readonly server: AdminServer;
  /** Handles a worker's admin message; false when the message is not one. */
  onMessage(payload: unknown): boolean;
  stop(): Promise<void>;
}

export interface PrimaryAdminDeps {
  readonly bans: BanEngine;
  /** Resolved once the cluster exists (explanations are asked of its workers). */
  readonly primary: () => ClusterPrimary | null;
  /** Rules loaded in each worker (the last start or reload). */
  readonly rules: () => number;
  /** The addresses the listeners are bound to, once the workers listen (null before). */
  readonly listening?: () => readonly ListeningAddress[] | null;
  readonly log: (level: 'info' | 'error', message: string) => void;
}

/**
 * The primary's side: metrics, history, live list and the admin listener. Throws AdminError
 * when the listener cannot start (address in use, TLS files).
 */
export async function startPrimaryAdmin(config: WardenConfig, deps: PrimaryAdminDeps): Promise<PrimaryAdmin> {
  const { bans } = deps;
  const started = Date.now();
  // History is this node's own: in the SQLite file of the data directory even when bans live elsewhere.
  let own: (SeriesStore & { close(): unknown }) | null = null;
  const store: SeriesStore = hasSeries(bans.store) ? bans.store : (own = openSqliteStore(storePath(config.dataDir)));
  const metrics = new AdminMetrics({ manager: bans.manager, sources: () => bans.sources, workers: () => deps.primary()?.size ?? 0, version: version() });
  const history = new History(store, { report: (m) => deps.log('error', m) });
  const events = new RecentEvents();
  const unsubscribe = bans.manager.subscribe((e) => metrics.onBanEvent(e));
  const flush = setInterval(() => void history.flush(), HISTORY_MS);
  flush.unref();

  let nextRequest = 1;
  const waiting = new Map<number, { left: number; resolve: (r: unknown | null) => void }>();
  const explain = (id: string): Promise<unknown | null> => {
    const primary = deps.primary();
    if (primary === null) return Promise.resolve(null);
    const request = nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(null), EXPLAIN_MS);
      const done = (r: unknown | null): void => {
        clearTimeout(timer);
        waiting.delete(request);
        resolve(r);
      };
      // The worker that served it answers with the explanation, the others with null.
      waiting.set(request, { left: 0, resolve: done });
      const sent = primary.broadcast({ kind: 'admin-explain', request, id } satisfies ToWorkerAdmin);
      const w = waiting.get(request);
      if (w !== undefined) w.left = sent;
      if (sent === 0) done(null);
    });
  };

  const server = await startAdminServer(config.admin, {
    manager: bans.manager,
    metrics,
    history,
    events,
    sources: () => bans.sources,
    explain,
    status: () => ({
      version: version(),
      pid: process.pid,
      startedAt: new Date(started).toISOString(),
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      workers: deps.primary()?.size ?? 0,
      rules: deps.rules(),
      /** rules.mode (on, detection, off), or null: SecRuleEngine as the rule files set it. */
      mode: config.rules.mode,
      // As bound (a port 0 in the config is the port the system gave), else as configured.
      listeners:
        deps.listening?.()?.map((a) => ({ name: a.name, address: listeningUrl(a) })) ??
        config.listeners.map((l) => ({ name: l.name, address: listeningUrl({ proto: l.tls === null ? 'http' : 'https', address: l.host, port: l.port }) })),
      dataDir: config.dataDir,
    }),
  }).catch((err: unknown) => {
    clearInterval(flush);
    unsubscribe();
    void own?.close();
    throw err;
  });

  return {
    server,
    onMessage(payload) {
      const m = payload as FromWorkerAdmin;
      if (m?.kind === 'admin-metrics') {
        metrics.apply(m.delta);
        history.add(m.delta.counts, m.delta.tops);
        events.add(m.delta.events);
        return true;
      }
      if (m?.kind === 'admin-explained') {
        const w = waiting.get(m.request);
        if (w === undefined) return true;
        if (m.result !== null) w.resolve(m.result);
        else if (--w.left <= 0) w.resolve(null);
        return true;
      }
      return false;
    },
    async stop() {
      clearInterval(flush);
      unsubscribe();
      await server.close();
      await history.flush();
      await own?.close();
    },
  };
}
