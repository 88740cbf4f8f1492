/**
 * @module jail/filter/guard
 * Filters as the ban engine runs them: in a worker thread, with a time limit per line.
 *
 * fail2ban's filters are backtracking regexes, and a bad one can take exponential time on
 * a crafted line (GHSA-33wh-ccjc-p397: domino-smtp's `(?:[^\[]+ )*` took 3.5 s on Irregexp
 * for 24 words, doubling per word). Warden cannot move them to a linear-time engine: 212 of
 * the 221 regexes of fail2ban's stock filters need look-arounds in JavaScript (Python's `$`,
 * `\b` and the IPv6 part of `<HOST>`), and 21 need real ones, 6 back-references and 5
 * conditionals, which neither RE2 nor V8's linear engine run. So the regexes keep Python's
 * semantics on Irregexp, and the guard bounds the damage instead:
 *
 * - matching runs in a worker thread, so the main thread (the proxy) never waits on it;
 * - the worker marks in shared memory which line it is on; the main thread looks every
 *   `lineTimeoutMs` (default 1 s; a normal line takes microseconds), and a line it finds
 *   twice in a row — so after one to two `lineTimeoutMs` — stops the worker, is reported
 *   through `onTimeout` and skipped, and a fresh worker runs the batch again without it
 *   (the multi-line buffer and pending `<F-MLFID>` failures of that filter are lost).
 *   Measured with the built code: a 200 ms limit stops domino-smtp's old regex on a 40-word
 *   line (hours of backtracking) after about 400 ms, and the new worker has loaded the
 *   filter and finished the batch about 100 ms later;
 * - a worker that does not stop within `max(1 s, 2 × lineTimeoutMs)` of being told to is
 *   left behind (unreferenced) and the filter is disabled: every pending and later batch
 *   is refused with a FilterError (WARDEN_FILTER_STUCK) that says why. V8 checks for
 *   termination while it runs a regex, not while it compiles one to machine code, and a
 *   regex can take that compilation forever (a fuzzed filter's `r?` written a thousand
 *   times: its first line ran interpreted, the second never came back from the compiler).
 *   A new worker would compile it again and be stuck too, each one a core lost, so the
 *   ban engine is told instead of the jail silently waiting for an answer that never comes
 *   (and the process, which Node cannot end while the thread runs, is ended by `warden
 *   start` with SIGKILL once all else has stopped: abandonedWorkers);
 * - lines longer than `maxLineLength` (default 16 KiB) are cut before matching: quadratic
 *   regexes (`\s+$`) cost 0.6 s at 16 KiB and 7.4 s at 64 KiB, while every line of
 *   fail2ban's sample logs is under 2 KiB and the failure's address comes early in a line.
 *
 * @example
 * const sshd = await GuardedFilter.open('sshd', { options: { mode: 'aggressive' } }, {
 *   onTimeout: (e) => log.warn(`filter ${e.filter}: line skipped after ${e.elapsedMs} ms`),
 * });
 * const failures = await sshd.matchLines(lines);
 * await sshd.close();
 */
import { Worker } from 'node:worker_threads';
import { FilterError, type FilterErrorCode } from './errors.js';
import type { FilterMatch, FilterOptions } from './filter.js';
import type { GuardReply, GuardRequest, GuardWorkerData } from './guard-worker.js';

let abandoned = 0;

/**
 * Workers of this process that could not be stopped. Node joins every worker thread as the
 * process exits (process.exit included), so while one is stuck the process cannot end by
 * itself: `warden start` ends with SIGKILL then, once everything else has stopped.
 */
export function abandonedWorkers(): number {
  return abandoned;
}

/** Stops `worker`; false when it has not stopped after `ms` (it is then unreferenced and left to end). */
async function stopWithin(worker: Worker, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const stopped = worker.terminate().then(
    () => true,
    () => true,
  );
  const result = await Promise.race([stopped, late]);
  clearTimeout(timer);
  if (!result) {
    worker.unref();
    abandoned++;
  }
  return result;
}

/** Options of the guard itself. */
export interface GuardOptions {
  /** How long one line may run before it is skipped (ms). Default 1000. */
  readonly lineTimeoutMs?: number;
  /** Longer lines are cut to this many characters; 0 for no limit. Default 16384. */
  readonly maxLineLength?: number;
  /** Called for each line skipped because it ran too long. */
  readonly onTimeout?: (event: GuardTimeout) => void;
}

/** A line that took too long. */
export interface GuardTimeout {
  readonly filter: string;
  readonly line: string;
  /** How long it had run when the worker was stopped. */
  readonly elapsedMs: number;
}

/** Filter options that can cross to a worker (no functions). */
export type GuardedFilterOptions = Omit<FilterOptions, 'now' | 'onIgnore' | 'cache'>;

interface Pending {
  readonly id: number;
  readonly lines: readonly string[];
  /** Lines that ran too long, left out when the batch runs again. */
  readonly skip: number[];
  resolve(v: FilterMatch[]): void;
  reject(e: Error): void;
}

function workerEntry(): { url: URL; tsx: string | undefined } {
  // Under tsx (tests) the sources are .ts and the worker needs tsx's loader; built, .js.
  const ts = import.meta.url.endsWith('.ts');
  return {
    url: new URL(`./guard-worker.${ts ? 'ts' : 'js'}`, import.meta.url),
    tsx: ts ? import.meta.resolve('tsx/esm/api') : undefined,
  };
}

/**
 * A filter in a worker thread with a time limit per line.
 *
 * @example
 * const wp = await GuardedFilter.open('warden-wordpress', {}, { lineTimeoutMs: 500 });
 * const failures = await wp.matchLines(batch);   // in order; a hanging line is skipped
 */
export class GuardedFilter {
  private worker: Worker | undefined;
  private readonly progress = new Int32Array(new SharedArrayBuffer(8));
  private nextId = 1;
  private pending: Pending | undefined;
  private readonly queue: Array<{ run(): void; reject(e: Error): void }> = [];
  private closed = false;
  /** Set when a worker could not be stopped: the filter is disabled, this says why. */
  private stuck: FilterError | undefined;
  /** Lines skipped for running too long. */
  timeouts = 0;
  /** The filter's name, once loaded. */
  name = '';
  maxLines = 1;

  private constructor(
    private readonly spec: string,
    private readonly options: GuardedFilterOptions,
    private readonly guard: Required<Omit<GuardOptions, 'onTimeout'>> & Pick<GuardOptions, 'onTimeout'>,
  ) {}

  /**
   * Loads filter `spec` (as {@link loadFilter} takes it) in a worker.
   * @throws FilterError when the filter cannot be loaded
   */
  static async open(spec: string, options: GuardedFilterOptions = {}, guard: GuardOptions = {}): Promise<GuardedFilter> {
    const g = new GuardedFilter(spec, options, {
      lineTimeoutMs: guard.lineTimeoutMs ?? 1000,
      maxLineLength: guard.maxLineLength ?? 16384,
      onTimeout: guard.onTimeout,
    });
    await g.start();
    return g;
  }

  private start(): Promise<void> {
    const { url, tsx } = workerEntry();
    const data: GuardWorkerData = { spec: this.spec, options: this.options, progress: this.progress.buffer as SharedArrayBuffer, maxLineLength: this.guard.maxLineLength };
    Atomics.store(this.progress, 0, 0);
    Atomics.store(this.progress, 1, -1);
    const worker =
      tsx === undefined
        ? new Worker(url, { workerData: data })
        : new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true, workerData: data });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: GuardReply) => {
        if (msg.type === 'ready') {
          ready = true;
          this.name = msg.name;
          this.maxLines = msg.maxLines;
          resolve();
        } else if (msg.type === 'error') {
          reject(new FilterError(msg.code as FilterErrorCode, msg.message));
          void worker.terminate();
        } else this.onReply(worker, msg);
      });
      worker.on('error', (err) => {
        if (!ready) reject(err);
        else this.fail(err);
      });
      worker.on('exit', () => {
        if (!ready) reject(new Error(`filter worker for ${this.spec} exited before it was ready`));
      });
    });
  }

  private onReply(from: Worker, msg: GuardReply): void {
    const p = this.pending;
    if (from !== this.worker || p === undefined || msg.type !== 'done' || msg.id !== p.id) return;
    this.pending = undefined;
    p.resolve(msg.found.map(([, m]) => m as FilterMatch));
    this.queue.shift()?.run();
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
    if (this.closed) for (const q of this.queue.splice(0)) q.reject(new Error('guarded filter is closed'));
    else this.queue.shift()?.run();
  }

  /**
   * Matches a batch of consecutive log lines; resolves with the failures found, in order.
   * Batches run one after another, in the order given.
   */
  matchLines(lines: readonly string[]): Promise<FilterMatch[]> {
    if (this.stuck !== undefined) return Promise.reject(this.stuck);
    if (this.closed) return Promise.reject(new Error('guarded filter is closed'));
    return new Promise((resolve, reject) => {
      const run = (): void => {
        const p: Pending = { id: this.nextId++, lines, skip: [], resolve, reject };
        this.pending = p;
        this.send(p);
      };
      if (this.pending === undefined) run();
      else this.queue.push({ run, reject });
    });
  }

  private send(p: Pending): void {
    const worker = this.worker as Worker;
    worker.postMessage({ type: 'batch', id: p.id, lines: p.lines, skip: p.skip } satisfies GuardRequest);
    // Watchdog: the same line seen on two ticks a timeout apart has run at least that long.
    let seen = -2;
    let since = performance.now();
    const timer = setInterval(() => {
      if (this.pending !== p || this.worker !== worker) {
        clearInterval(timer);
        return;
      }
      const onBatch = Atomics.load(this.progress, 0) === p.id;
      const index = onBatch ? Atomics.load(this.progress, 1) : -2;
      if (index < 0 || index !== seen) {
        seen = index;
        since = performance.now();
        return;
      }
      clearInterval(timer);
      void this.skip(p, index, performance.now() - since + this.guard.lineTimeoutMs);
    }, this.guard.lineTimeoutMs);
    timer.unref();
  }

  /**
   * Stops the stuck worker, reports the line, and runs the batch again without it in a new
   * worker (the lines before it again too: the new worker starts with a fresh filter, and
   * the old one's results for them never came back).
   */
  private async skip(p: Pending, index: number, elapsedMs: number): Promise<void> {
    const old = this.worker;
    this.worker = undefined;
    const stopWithinMs = Math.max(1000, 2 * this.guard.lineTimeoutMs);
    const stopped = old === undefined || (await stopWithin(old, stopWithinMs));
    this.timeouts++;
    this.guard.onTimeout?.({ filter: this.name || this.spec, line: p.lines[index] ?? '', elapsedMs: Math.round(elapsedMs) });
    if (!stopped) {
      this.stuck = new FilterError(
        'WARDEN_FILTER_STUCK',
        `filter ${this.name || this.spec} is disabled: a line ran past its ${this.guard.lineTimeoutMs} ms limit and its worker ` +
          `did not stop within ${stopWithinMs} ms (V8 cannot interrupt the compilation of a regex; simplify the filter's regexes)`,
      );
      const stuck = this.stuck;
      this.pending = undefined;
      p.reject(stuck);
      for (const q of this.queue.splice(0)) q.reject(stuck);
      return;
    }
    try {
      await this.start();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.closed) {
      // close() ran while the new worker was starting: it must not outlive the filter.
      const w = this.worker as Worker | undefined;
      this.worker = undefined;
      await w?.terminate();
      this.fail(new Error('guarded filter is closed'));
      return;
    }
    p.skip.push(index);
    this.send(p);
  }

  /** Stops the worker; pending batches are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    this.fail(new Error('guarded filter is closed'));
    await w?.terminate();
  }
}
