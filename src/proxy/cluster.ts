/**
 * @module proxy/cluster
 * All cores: a primary process and node:cluster workers sharing the listeners. The primary
 * handles no requests; it reads the rule files once (a snapshot every worker compiles
 * from), starts the workers, restarts one that dies, and coordinates reload, log reopening
 * and shutdown. Each worker runs one ProxyServer with its own compiled Waf.
 *
 * Reload is two-phase across workers: every worker first *prepares* (compiles the rules,
 * builds pools and routes, reads TLS files) while still serving with the old generation;
 * only when all of them succeeded does the primary tell them to *commit*; if any failed,
 * all discard and the old ruleset and config stay, everywhere. No listener is closed.
 */
import cluster, { type Worker } from 'node:cluster';
import type { WafLogs } from '../audit/types.js';
import type { WardenConfig } from '../config/types.js';
import { RuleLoadError, formatLocation } from '../seclang/errors.js';
import { Waf } from '../engine/waf.js';
import { snapshotSource, type RuleSnapshot } from './rule-snapshot.js';
import { ProxyServer, type ListeningAddress, type PreparedReload, type ReloadReport } from './server.js';
import type { BanList, ProxyLog, ProxyObserver } from './types.js';
import type { CollectionStore } from '../store/types.js';

/** What a worker needs to serve: the config and the rules (as the primary read them). */
export interface WorkerSetup {
  readonly config: WardenConfig;
  /** SecLang text that Includes the rule files in order (config/rules `rulesTextFor`). */
  readonly rulesText: string;
  /** How errors name that text. */
  readonly rulesFile: string;
  readonly snapshot: RuleSnapshot;
}

/** A ruleset's counts, as workers report them. */
export interface RulesSummary {
  readonly rules: number;
  readonly warnings: number;
}

type ToWorker =
  | { readonly type: 'setup'; readonly id: number; readonly setup: WorkerSetup }
  | { readonly type: 'prepare'; readonly id: number; readonly setup: WorkerSetup }
  | { readonly type: 'commit'; readonly id: number }
  | { readonly type: 'abort'; readonly id: number }
  | { readonly type: 'reopen'; readonly id: number }
  | { readonly type: 'shutdown'; readonly graceMs: number }
  /** For the wiring (ban lists and events): the cluster only carries it. */
  | { readonly type: 'ext'; readonly payload: unknown };

type FromWorker =
  | { readonly type: 'hello'; readonly id: 0 }
  | { readonly type: 'ready'; readonly id: number; readonly addresses: ListeningAddress[]; readonly summary: RulesSummary }
  | { readonly type: 'prepared'; readonly id: number; readonly summary: RulesSummary }
  | { readonly type: 'committed'; readonly id: number; readonly report: ReloadReport }
  | { readonly type: 'reopened'; readonly id: number }
  | { readonly type: 'failed'; readonly id: number; readonly error: string }
  | { readonly type: 'ext'; readonly id: 0; readonly payload: unknown };

/** Builds the Waf a setup describes, from the snapshot. Throws RuleLoadError. */
export function wafFromSetup(setup: WorkerSetup, store?: CollectionStore): Waf {
  return Waf.fromText(setup.rulesText, { file: setup.rulesFile, source: snapshotSource(setup.snapshot), ...(store !== undefined ? { store } : {}) });
}

/** A load error as lines for a person: every problem with file:line:column. */
export function describeLoadError(err: unknown): string {
  if (err instanceof RuleLoadError) {
    const lines = err.errors.map((e) => `${formatLocation(e.location)}: error: ${e.reason}`);
    return `${lines.join('\n')}\n${err.errors.length} error${err.errors.length === 1 ? '' : 's'}; rules not loaded`;
  }
  return (err as Error)?.message ?? String(err);
}

// ---------------------------------------------------------------------- worker

/** What the `warden start` wiring gives a worker. */
export interface WorkerWiring {
  /** The logs for a config and the Waf whose SecAudit* settings they follow. */
  createLogs(config: WardenConfig, waf: Waf): WafLogs;
  readonly bans?: BanList | null;
  readonly log?: ProxyLog;
  /** Where finished and refused requests are reported for metrics. */
  readonly observer?: ProxyObserver | null;
  /** Where the Waf keeps persistent collections (IP, GLOBAL …), opened once for a config. */
  storeFor?(config: WardenConfig): CollectionStore;
  /** Messages the primary's wiring sends (ban lists and ban events). */
  onMessage?(payload: unknown): void;
  /** Last words before the worker exits (its last metrics report), after requests in flight are done. */
  beforeExit?(): Promise<void>;
}

function send(message: FromWorker): void {
  process.send?.(message);
}

/** Sends a message to the primary's wiring (a worker's WAF events); `sent` is called once it is handed to the channel. */
export function sendToPrimary(payload: unknown, sent?: () => void): void {
  if (process.send === undefined || !process.connected) return sent?.();
  process.send({ type: 'ext', id: 0, payload } satisfies FromWorker, () => sent?.());
}

/**
 * The worker's main: waits for its setup from the primary, serves, and follows the
 * primary's reload, reopen and shutdown messages. Exits when the primary goes away.
 */
export function runWorker(wiring: WorkerWiring): void {
  let proxy: ProxyServer | null = null;
  let pending: { id: number; prepared: PreparedReload } | null = null;
  let shuttingDown = false;
  const log = wiring.log;

  const shutdown = (graceMs: number): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    const exit = (): void => process.exit(0);
    // At most a second for the last words: a stuck channel must not keep the worker alive.
    const done = (): void => void Promise.race([wiring.beforeExit?.(), new Promise((r) => setTimeout(r, 1000))]).finally(exit);
    if (proxy === null) return done();
    void proxy.close(graceMs).then(done, done);
  };

  // The primary coordinates these for all workers; a worker reacting on its own (a signal
  // sent to the whole process group) would break that.
  process.on('SIGHUP', () => {});
  process.on('SIGUSR1', () => {});
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => shutdown(10_000));
  process.on('disconnect', () => shutdown(10_000));

  process.on('message', (raw: unknown) => {
    const m = raw as ToWorker;
    switch (m.type) {
      case 'setup': {
        try {
          const waf = wafFromSetup(m.setup, wiring.storeFor?.(m.setup.config));
          proxy = new ProxyServer(m.setup.config, waf, { logs: wiring.createLogs(m.setup.config, waf), bans: wiring.bans ?? null, log, observer: wiring.observer ?? null });
          proxy.listen().then(
            (addresses) => send({ type: 'ready', id: m.id, addresses, summary: { rules: waf.rules.length, warnings: waf.warnings.length } }),
            (err: unknown) => send({ type: 'failed', id: m.id, error: describeLoadError(err) }),
          );
        } catch (err) {
          send({ type: 'failed', id: m.id, error: describeLoadError(err) });
        }
        return;
      }
      case 'prepare': {
        if (proxy === null) return send({ type: 'failed', id: m.id, error: 'worker not started' });
        if (pending !== null) proxy.discard(pending.prepared);
        pending = null;
        try {
          const waf = wafFromSetup(m.setup, wiring.storeFor?.(m.setup.config));
          const logs = wiring.createLogs(m.setup.config, waf);
          try {
            pending = { id: m.id, prepared: proxy.prepare(m.setup.config, waf, logs) };
          } catch (err) {
            void logs.close();
            throw err;
          }
          send({ type: 'prepared', id: m.id, summary: { rules: waf.rules.length, warnings: waf.warnings.length } });
        } catch (err) {
          send({ type: 'failed', id: m.id, error: describeLoadError(err) });
        }
        return;
      }
      case 'commit': {
        if (proxy === null || pending === null || pending.id !== m.id) return send({ type: 'failed', id: m.id, error: 'nothing prepared' });
        const report = proxy.commit(pending.prepared);
        pending = null;
        send({ type: 'committed', id: m.id, report });
        return;
      }
      case 'abort':
        if (proxy !== null && pending !== null && pending.id === m.id) proxy.discard(pending.prepared);
        pending = null;
        return;
      case 'reopen':
        if (proxy === null) return send({ type: 'reopened', id: m.id });
        proxy.generation.logs.reopen().then(
          () => send({ type: 'reopened', id: m.id }),
          (err: unknown) => send({ type: 'failed', id: m.id, error: (err as Error).message }),
        );
        return;
      case 'shutdown':
        shutdown(m.graceMs);
        return;
      case 'ext':
        wiring.onMessage?.(m.payload);
        return;
    }
  });
  // Messages sent before this listener existed would be lost: the primary waits for this.
  send({ type: 'hello', id: 0 });
}

// ---------------------------------------------------------------------- primary

export interface PrimaryOptions {
  /** Worker processes (at least 1). */
  readonly workers: number;
  /** How long requests in flight may take to finish on shutdown (ms). */
  readonly graceMs: number;
  readonly log: ProxyLog;
  /** Messages a new worker gets before its setup (the ban list it must enforce from the start). */
  readonly welcome?: () => unknown[];
  /** Messages from workers' wiring (their WAF events). */
  readonly onMessage?: (payload: unknown) => void;
}

export interface ReloadOutcome {
  readonly ok: boolean;
  /** What happened, for the person who asked (why it failed, or what changed). */
  readonly message: string;
}

/** How long a worker may take to compile the rules and answer. */
const WORKER_ANSWER_MS = 120_000;

export class ClusterPrimary {
  private readonly options: PrimaryOptions;
  private setup: WorkerSetup | null;
  private readonly workers: Set<Worker>;
  /** Workers that said hello: messages sent to them are received. */
  private readonly listening: WeakSet<Worker>;
  /** Workers serving, with the setup they serve. */
  private readonly ready: Map<Worker, WorkerSetup>;
  /** Workers being started (their setup reply pending). */
  private readonly starting: Set<Promise<FromWorker>>;
  /** Workers stopped on purpose (stale after a reload): restarted without an error. */
  private readonly retiring: WeakSet<Worker>;
  private nextId: number;
  private stopping: boolean;
  /** Deaths in the last minute, for restart back-off. */
  private deaths: number[];
  /** One reload at a time. */
  private busy: Promise<unknown>;

  constructor(options: PrimaryOptions) {
    this.options = options;
    this.setup = null;
    this.workers = new Set();
    this.listening = new WeakSet();
    this.ready = new Map();
    this.starting = new Set();
    this.retiring = new WeakSet();
    this.nextId = 1;
    this.stopping = false;
    this.deaths = [];
    this.busy = Promise.resolve();
  }

  /** Worker processes alive now. */
  get size(): number {
    return this.workers.size;
  }

  /** The process ids of the workers (tests kill one to see it come back). */
  get pids(): number[] {
    return [...this.workers].map((w) => w.process.pid ?? 0);
  }

  /**
   * Starts the workers with `setup`; resolves with the addresses and the ruleset's counts
   * once all listen. Rejects (after stopping the workers) when one cannot start.
   */
  async start(setup: WorkerSetup): Promise<{ addresses: ListeningAddress[]; summary: RulesSummary }> {
    this.setup = setup;
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    const starts: Promise<FromWorker>[] = [];
    for (let i = 0; i < Math.max(1, this.options.workers); i++) starts.push(this.fork());
    const replies = await Promise.all(starts);
    const failed = replies.find((r) => r.type === 'failed');
    if (failed !== undefined && failed.type === 'failed') {
      await this.shutdown();
      throw new Error(failed.error);
    }
    const first = replies[0] as Extract<FromWorker, { type: 'ready' }>;
    return { addresses: first.addresses, summary: first.summary };
  }

  private fork(): Promise<FromWorker> {
    const worker = cluster.fork();
    this.workers.add(worker);
    const id = this.nextId++;
    const reply = this.answer(worker, id);
    const setup = this.setup as WorkerSetup;
    const listening = this.listening;
    const welcome = this.options.welcome;
    worker.on('message', function hello(this: Worker, m: FromWorker) {
      if (m.type !== 'hello') return;
      this.removeListener('message', hello);
      listening.add(this);
      for (const payload of welcome?.() ?? []) this.send({ type: 'ext', payload } satisfies ToWorker);
      this.send({ type: 'setup', id, setup } satisfies ToWorker);
    });
    const onMessage = this.options.onMessage;
    if (onMessage !== undefined) worker.on('message', (m: FromWorker) => m.type === 'ext' && onMessage(m.payload));
    const started = reply.then((r) => {
      this.starting.delete(started);
      if (r.type === 'ready') this.ready.set(worker, setup);
      return r;
    });
    this.starting.add(started);
    return started;
  }

  /** The worker's reply to message `id` (a 'failed' reply if it dies or stays silent). */
  private answer(worker: Worker, id: number): Promise<FromWorker> {
    return new Promise((resolve) => {
      const finish = (r: FromWorker): void => {
        clearTimeout(timer);
        worker.removeListener('message', onMessage);
        worker.removeListener('exit', onExit);
        resolve(r);
      };
      const onMessage = (m: FromWorker): void => {
        if (m.id === id) finish(m);
      };
      const onExit = (): void => finish({ type: 'failed', id, error: `worker ${worker.process.pid} exited` });
      const timer = setTimeout(() => finish({ type: 'failed', id, error: `worker ${worker.process.pid} did not answer in time` }), WORKER_ANSWER_MS);
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
  }

  /** Sends a message to every serving worker; resolves with their replies. */
  private async ask(message: (id: number) => ToWorker): Promise<FromWorker[]> {
    const id = this.nextId++;
    const workers = [...this.ready.keys()];
    const replies = workers.map((w) => this.answer(w, id));
    for (const w of workers) w.send(message(id));
    return Promise.all(replies);
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.workers.delete(worker);
    this.ready.delete(worker);
    if (this.stopping || this.setup === null) return;
    if (this.retiring.has(worker)) {
      void this.fork();
      return;
    }
    const now = Date.now();
    this.deaths = this.deaths.filter((t) => now - t < 60_000);
    this.deaths.push(now);
    // Back off when workers keep dying (a crash on every start must not spin the CPU).
    const delay = this.deaths.length <= 3 ? 0 : Math.min(30_000, 250 * 2 ** (this.deaths.length - 3));
    this.options.log('error', `worker ${worker.process.pid} died (${signal !== null ? `signal ${signal}` : `exit code ${code}`}); starting another${delay > 0 ? ` in ${delay} ms` : ''}`);
    setTimeout(() => {
      if (this.stopping) return;
      void this.fork().then((r) => {
        if (r.type === 'failed' && !this.stopping) this.options.log('error', `replacement worker failed to start: ${r.error}`);
      });
    }, delay);
  }

  /**
   * Reloads every worker with `setup`, all or nothing. Resolves with what happened; never
   * rejects.
   */
  reload(setup: WorkerSetup): Promise<ReloadOutcome> {
    const run = async (): Promise<ReloadOutcome> => {
      // A worker still starting would miss the reload: wait for it first.
      await Promise.all(this.starting);
      const workers = [...this.ready.keys()];
      const prepared = await this.ask((id) => ({ type: 'prepare', id, setup }));
      const failed = prepared.find((r) => r.type === 'failed');
      if (failed !== undefined || prepared.length === 0) {
        const id = (prepared[0] as FromWorker | undefined)?.id ?? 0;
        for (const w of workers) if (w.isConnected()) w.send({ type: 'abort', id } satisfies ToWorker);
        const why = failed !== undefined && failed.type === 'failed' ? failed.error : 'no worker is running';
        return { ok: false, message: `reload failed; the running rules and config stay in effect:\n${why}` };
      }
      const id = (prepared[0] as FromWorker).id;
      const committed = await Promise.all(
        workers.map((w) => {
          const reply = this.answer(w, id);
          w.send({ type: 'commit', id } satisfies ToWorker);
          if (this.ready.has(w)) this.ready.set(w, setup);
          return reply;
        }),
      );
      this.setup = setup;
      // A worker started while this ran serves the old setup: it is drained and replaced.
      for (const [w, s] of this.ready) {
        if (s === setup) continue;
        this.retiring.add(w);
        w.process.kill('SIGTERM');
      }
      const report = committed.find((r): r is Extract<FromWorker, { type: 'committed' }> => r.type === 'committed')?.report;
      const summary = (prepared[0] as Extract<FromWorker, { type: 'prepared' }>).summary;
      const lines = [`reloaded: ${summary.rules} rules${summary.warnings > 0 ? ` (${summary.warnings} warnings)` : ''} in ${committed.length} workers`];
      if (report !== undefined) {
        lines.push(`upstreams: ${report.upstreamsKept} kept, ${report.upstreamsNew} new${report.tlsReloaded.length > 0 ? `; TLS reloaded for ${report.tlsReloaded.join(', ')}` : ''}`);
        for (const n of report.needsRestart) lines.push(`needs a restart to take effect: ${n}`);
      }
      return { ok: true, message: lines.join('\n') };
    };
    const result = this.busy.then(run, run);
    this.busy = result;
    return result;
  }

  /** Sends a message to every worker's wiring (ban events); returns how many workers it went to. */
  broadcast(payload: unknown): number {
    let sent = 0;
    for (const w of this.workers) {
      if (this.listening.has(w) && w.isConnected()) {
        w.send({ type: 'ext', payload } satisfies ToWorker);
        sent++;
      }
    }
    return sent;
  }

  /** Every worker reopens its log files (after rotation). */
  async reopenLogs(): Promise<ReloadOutcome> {
    const replies = await this.ask((id) => ({ type: 'reopen', id }));
    const failed = replies.find((r) => r.type === 'failed');
    return failed !== undefined && failed.type === 'failed' ? { ok: false, message: `reopening logs failed: ${failed.error}` } : { ok: true, message: `logs reopened in ${replies.length} workers` };
  }

  /** Drains and stops every worker; resolves when all have exited. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const exits = [...this.workers].map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of this.workers) {
      // A worker still starting would not receive the message; it has nothing in flight.
      if (this.listening.has(w) && w.isConnected()) w.send({ type: 'shutdown', graceMs: this.options.graceMs } satisfies ToWorker);
      else w.process.kill('SIGTERM');
    }
    const killer = setTimeout(() => {
      for (const w of this.workers) w.process.kill('SIGKILL');
    }, this.options.graceMs + 5000);
    await Promise.all(exits);
    clearTimeout(killer);
  }
}
