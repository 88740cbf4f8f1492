/**
 * @module test/reliability/fuzz/worker
 * One fuzz target in a worker thread. Inputs are generated in batches from a fixed seed
 * (input i is batch ⌊i/BATCH⌋, drawn with seed+batch), so the runner can name the input a
 * worker was running when it hung or ran out of memory and ask a fresh worker to generate
 * it again. The index of the input being run is kept in shared memory for the runner's
 * watchdog; exceptions, broken invariants and slow inputs are reported as they happen.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { InvariantError, guardedTime, removeTargetFolders, setGuardProbe, targetNamed } from './targets.js';

/** Inputs drawn per fast-check sample call. */
export const BATCH = 500;

export interface FuzzWorkerData {
  readonly target: string;
  /** The target's seed corpus (read once by the runner). */
  readonly seeds: readonly string[];
  readonly seed: number;
  /** First generated input to run, and the end (exclusive). */
  readonly start: number;
  readonly end: number;
  /** Fixture inputs to replay first (named), before any generated input. */
  readonly fixtures: ReadonlyArray<readonly [string, string]>;
  /** A run longer than this is reported as slow. */
  readonly slowMs: number;
  /** Only generate input `start` and send it back (no run). */
  readonly generateOnly: boolean;
  /** [0]: index of the input running now (fixtures: -1 - k); [1]: 1 while an input runs; [2]: 1 while it is in its guarded part. */
  readonly progress: SharedArrayBuffer;
}

export type FuzzWorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'escape'; readonly index: number; readonly fixture: string | null; readonly kind: 'exception' | 'invariant' | 'slow' | 'guarded'; readonly message: string; readonly ms: number; readonly input: string }
  | { readonly type: 'progress'; readonly done: number; readonly fixturesDone: number; readonly maxMs: number; readonly totalMs: number; readonly heapMb: number; readonly bytes: number }
  | { readonly type: 'input'; readonly index: number; readonly input: string };

const data = workerData as FuzzWorkerData;
const port = parentPort as NonNullable<typeof parentPort>;
const progress = new Int32Array(data.progress);
setGuardProbe((inside) => Atomics.store(progress, 2, inside ? 1 : 0));
const target = targetNamed(data.target);
const arbitrary = target.arbitrary(data.seeds);

function batch(n: number): string[] {
  return fc.sample(arbitrary, { seed: (data.seed + n) | 0, numRuns: BATCH });
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `non-Error thrown: ${String(err)}`;
}

/** CPU time of this thread (Linux /proc/thread-self, 10 ms ticks), ms; -1 where it cannot be read. */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5); here the list starts at field 3.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return -1;
  }
}
const CLOCK_TICKS = 100;

let maxMs = 0;
let totalMs = 0;
let heapMb = 0;
let bytes = 0;

function runOne(index: number, fixture: string | null, input: string): void {
  Atomics.store(progress, 0, index);
  Atomics.store(progress, 1, 1);
  guardedTime.ms = 0;
  const t0 = performance.now();
  let failure: { kind: 'exception' | 'invariant'; message: string } | null = null;
  try {
    target.run(input);
  } catch (err) {
    failure = { kind: err instanceof InvariantError ? 'invariant' : 'exception', message: describe(err) };
  }
  let ms = performance.now() - t0;
  // Time outside the part production guards (all of it for most targets).
  let ownMs = ms - guardedTime.ms;
  // Wall time on a shared machine includes other processes' turns: an input over the slow
  // bound runs again, timed by this thread's own CPU time, and counts with that.
  if (failure === null && ms > data.slowMs) {
    guardedTime.ms = 0;
    const c0 = threadCpuMs();
    const w0 = performance.now();
    try {
      target.run(input);
    } catch {
      // It did not throw the first time; the first run's outcome stands.
    }
    const cpu = threadCpuMs() - c0;
    if (cpu >= 0) ms = Math.min(ms, cpu);
    ownMs = Math.min(ownMs, performance.now() - w0 - guardedTime.ms);
  }
  Atomics.store(progress, 1, 0);
  totalMs += ms;
  bytes += input.length;
  if (ms > maxMs) maxMs = ms;
  if (failure !== null) port.postMessage({ type: 'escape', index, fixture, kind: failure.kind, message: failure.message, ms, input } satisfies FuzzWorkerMessage);
  else if (ms > data.slowMs) {
    // A target run behind a production time guard (log lines: GuardedFilter) reports it as guarded, not slow.
    const kind = target.guard === undefined || ownMs > data.slowMs ? 'slow' : 'guarded';
    port.postMessage({ type: 'escape', index, fixture, kind, message: `ran ${ms.toFixed(0)} ms of its own CPU time (bound ${data.slowMs} ms)`, ms, input } satisfies FuzzWorkerMessage);
  }
}

function report(done: number, fixturesDone: number): void {
  heapMb = Math.max(heapMb, getHeapStatistics().used_heap_size / (1 << 20));
  port.postMessage({ type: 'progress', done, fixturesDone, maxMs, totalMs, heapMb, bytes } satisfies FuzzWorkerMessage);
}

if (data.generateOnly) {
  const input = batch(Math.floor(data.start / BATCH))[data.start % BATCH] as string;
  port.postMessage({ type: 'input', index: data.start, input } satisfies FuzzWorkerMessage);
} else {
  port.postMessage({ type: 'ready' } satisfies FuzzWorkerMessage);
  let fixturesDone = 0;
  data.fixtures.forEach(([name, input], k) => {
    runOne(-1 - k, name, input);
    fixturesDone++;
  });
  let done = 0;
  let lastReport = performance.now();
  let i = data.start;
  while (i < data.end) {
    const b = Math.floor(i / BATCH);
    const inputs = batch(b);
    for (let j = i % BATCH; j < BATCH && i < data.end; j++, i++) {
      runOne(i, null, inputs[j] as string);
      done++;
      if ((done & 255) === 0 && performance.now() - lastReport > 1000) {
        report(done, fixturesDone);
        lastReport = performance.now();
      }
    }
  }
  report(done, fixturesDone);
  Atomics.store(progress, 0, data.end);
  removeTargetFolders();
}
