/**
 * @module jail/filter/guard-worker
 * The worker thread behind {@link GuardedFilter} (guard.ts): holds one Filter, matches the
 * batches of lines it is sent, and marks in shared memory which line it is on, so the
 * main thread can tell a line that hangs (a regex backtracking without end) from a batch
 * that is merely long, stop this thread, and run the batch again in a new one without that
 * line (results come back once per batch, so nothing of a stopped batch is half-delivered).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadFilter, type FilterOptions } from './filter.js';
import { FilterError } from './errors.js';

/** What the main thread sends. */
export type GuardRequest = {
  readonly type: 'batch';
  readonly id: number;
  readonly lines: readonly string[];
  /** Lines not to match (they ran too long in an earlier worker). */
  readonly skip: readonly number[];
};

/** What the worker answers. */
export type GuardReply =
  | { readonly type: 'ready'; readonly name: string; readonly maxLines: number }
  | { readonly type: 'error'; readonly code: string; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly found: ReadonlyArray<readonly [number, unknown]> };

/** The data a worker starts with. */
export interface GuardWorkerData {
  readonly spec: string;
  readonly options: Omit<FilterOptions, 'now' | 'onIgnore' | 'cache'>;
  /** [batch id, line index] the worker is on. */
  readonly progress: SharedArrayBuffer;
  readonly maxLineLength: number;
}

const port = parentPort;
if (port !== null) {
  const data = workerData as GuardWorkerData;
  const progress = new Int32Array(data.progress);
  try {
    const filter = loadFilter(data.spec, data.options);
    port.postMessage({ type: 'ready', name: filter.name, maxLines: filter.maxLines } satisfies GuardReply);
    port.on('message', (req: GuardRequest) => {
      const max = data.maxLineLength;
      const skip = new Set(req.skip);
      const found: Array<readonly [number, unknown]> = [];
      Atomics.store(progress, 0, req.id);
      for (let i = 0; i < req.lines.length; i++) {
        if (skip.has(i)) continue;
        Atomics.store(progress, 1, i);
        const line = req.lines[i] as string;
        const match = filter.match(max > 0 && line.length > max ? line.slice(0, max) : line);
        if (match !== null) found.push([i, match]);
      }
      Atomics.store(progress, 1, -1);
      port.postMessage({ type: 'done', id: req.id, found } satisfies GuardReply);
    });
  } catch (err) {
    const code = err instanceof FilterError ? err.code : 'WARDEN_FILTER_OPTION';
    port.postMessage({ type: 'error', code, message: (err as Error).message } satisfies GuardReply);
  }
}
