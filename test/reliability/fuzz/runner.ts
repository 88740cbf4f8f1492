/**
 * @module test/reliability/fuzz/runner
 * Runs the in-process fuzz targets, each in a worker thread with a heap limit, under a
 * watchdog: an input that runs longer than the hang bound has its worker terminated, one
 * that exhausts the heap kills its worker; either way the input is generated again (the
 * generation is deterministic), counted as an escape, saved as a fixture, and the campaign
 * goes on with the next input in a new worker. Exceptions, broken invariants and inputs
 * slower than the slow bound are reported by the worker itself.
 *
 * Fixtures (test/reliability/fixtures/<target>/) are every input that ever escaped; each
 * run replays them all before its generated inputs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { GUARDED_PART, WORKER_HEAP_MB, type FuzzTarget } from './targets.js';
import type { FuzzWorkerData, FuzzWorkerMessage } from './worker.js';

export type EscapeKind = 'exception' | 'invariant' | 'slow' | 'hang' | 'memory' | 'crash';
/** What a run can report: an escape, or an input the production guard stops (not an escape). */
type ReportKind = EscapeKind | 'guarded';
export const ESCAPE_KINDS: readonly EscapeKind[] = ['exception', 'invariant', 'slow', 'hang', 'memory', 'crash'];

export interface EscapeRecord {
  readonly kind: EscapeKind | 'guarded';
  /** Generated input index, or null for a fixture. */
  readonly index: number | null;
  readonly fixture: string | null;
  readonly message: string;
  readonly ms: number;
  /** Where the input was saved (new fixtures only). */
  readonly saved: string | null;
}

export interface TargetResult {
  readonly name: string;
  readonly what: string;
  /** Generated inputs run. */
  readonly inputs: number;
  /** Fixture inputs replayed. */
  readonly fixtures: number;
  readonly escapes: Record<EscapeKind, number>;
  readonly escapeTotal: number;
  /** Inputs slower than the slow bound that production runs behind a time guard (see FuzzTarget.guard). */
  readonly guarded: number;
  /** The first escapes, with their messages. */
  readonly examples: readonly EscapeRecord[];
  readonly seconds: number;
  /** Slowest single input, ms. */
  readonly maxMs: number;
  /** Most heap a worker used, MB. */
  readonly heapMb: number;
  /** Mean input size, bytes. */
  readonly meanBytes: number;
  readonly seed: number;
  /** Real inputs the mutations started from. */
  readonly seedCount: number;
}

export interface FuzzOptions {
  readonly count: number;
  readonly seed: number;
  /** An input slower than this is an escape (ms). */
  readonly slowMs: number;
  /** An input still running after this is a hang: its worker is terminated (ms). */
  readonly hangMs: number;
  readonly fixturesDir: string;
  /** Save new escaping inputs as fixtures. */
  readonly save: boolean;
  readonly log: (line: string) => void;
}

const workerUrl = new URL(`./worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

function startWorker(data: FuzzWorkerData): Worker {
  const options = { workerData: data, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 64 } };
  if (!import.meta.url.endsWith('.ts')) return new Worker(fileURLToPath(workerUrl), options);
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(workerUrl.href)}); })`, { ...options, eval: true });
}

/** The fixtures of a target: [file name, input]. */
export function loadFixtures(dir: string, group: string, encoding: BufferEncoding): Array<[string, string]> {
  const d = join(dir, group);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => [f, readFileSync(join(d, f)).toString(encoding)]);
}

/** Saves an input as a fixture unless it is there; returns the file name. */
export function saveFixture(dir: string, group: string, kind: string, input: string, encoding: BufferEncoding): string {
  const d = join(dir, group);
  mkdirSync(d, { recursive: true });
  const buf = Buffer.from(input, encoding);
  const name = `${kind}-${createHash('sha1').update(buf).digest('hex').slice(0, 12)}.bin`;
  const path = join(d, name);
  if (!existsSync(path)) writeFileSync(path, buf);
  return name;
}

type WorkerEnd =
  | { readonly kind: 'finished' }
  | { readonly kind: 'hang' | 'memory' | 'crash'; readonly index: number; readonly message: string; readonly ms: number };

/** Generates input `index` again in a fresh worker. */
function regenerate(target: FuzzTarget, seeds: readonly string[], seed: number, index: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const w = startWorker({ target: target.name, seeds, seed, start: index, end: index + 1, fixtures: [], slowMs: 0, generateOnly: true, progress: new SharedArrayBuffer(8) });
    w.once('message', (m: FuzzWorkerMessage) => {
      if (m.type === 'input') resolve(m.input);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

/**
 * Runs one target for `options.count` generated inputs (after its fixtures).
 *
 * @example
 * const r = await fuzzTarget(targetNamed('json'), { count: 10_000, seed: 1, slowMs: 1000, hangMs: 20_000, fixturesDir, save: true, log: console.log });
 * r.escapeTotal; // 0
 */
export async function fuzzTarget(target: FuzzTarget, options: FuzzOptions): Promise<TargetResult> {
  const t0 = Date.now();
  const escapes: Record<EscapeKind, number> = { exception: 0, invariant: 0, slow: 0, hang: 0, memory: 0, crash: 0 };
  let guarded = 0;
  const examples: EscapeRecord[] = [];
  const savedPerKey = new Map<string, number>();
  let fixtures = loadFixtures(options.fixturesDir, target.name, target.encoding);
  const seedList = target.seeds();
  const fixtureCount = fixtures.length;
  let start = 0;
  let inputs = 0;
  let maxMs = 0;
  let heapMb = 0;
  let bytes = 0;
  let lastLog = Date.now();

  const record = (reported: ReportKind, index: number | null, fixture: string | null, message: string, ms: number, input: string | null): void => {
    // Behind a production time guard, an input the watchdog stopped is one the guard stops (sooner).
    const kind: ReportKind = reported === 'hang' && target.guard !== undefined && message.includes(GUARDED_PART) ? 'guarded' : reported;
    if (kind === 'guarded') guarded++;
    else escapes[kind]++;
    let saved: string | null = null;
    // Messages differ by their numbers (ms, sizes): five fixtures per kind of message are enough.
    const key = `${kind}:${(message.split('\n')[0] ?? '').replace(/\d+(\.\d+)?/g, 'N')}`;
    if (options.save && fixture === null && input !== null && (savedPerKey.get(key) ?? 0) < 5) {
      savedPerKey.set(key, (savedPerKey.get(key) ?? 0) + 1);
      saved = saveFixture(options.fixturesDir, target.name, kind, input, target.encoding);
    }
    if (examples.length < 20) examples.push({ kind, index, fixture, message, ms, saved });
    options.log(`fuzz ${target.name}: ${kind === 'guarded' ? 'GUARDED' : `ESCAPE ${kind}`} at ${fixture ?? `input ${index}`}: ${message.split('\n')[0]}${saved !== null ? ` (saved ${saved})` : ''}`);
  };

  while (start < options.count || fixtures.length > 0) {
    const progress = new SharedArrayBuffer(12);
    const state = new Int32Array(progress);
    const passed = fixtures;
    fixtures = [];
    let workerDone = 0;
    let workerBytes = 0;
    let workerFixtures = 0;
    const worker = startWorker({ target: target.name, seeds: seedList, seed: options.seed, start, end: options.count, fixtures: passed, slowMs: options.slowMs, generateOnly: false, progress });
    const end = await new Promise<WorkerEnd>((resolve) => {
      let lastIndex = Number.NaN;
      let since = Date.now();
      let settled = false;
      const finish = (e: WorkerEnd): void => {
        if (settled) return;
        settled = true;
        clearInterval(watchdog);
        resolve(e);
      };
      const watchdog = setInterval(() => {
        const index = Atomics.load(state, 0);
        const running = Atomics.load(state, 1) === 1;
        if (index !== lastIndex || !running) {
          lastIndex = index;
          since = Date.now();
          return;
        }
        if (Date.now() - since > options.hangMs) {
          const where = Atomics.load(state, 2) === 1 ? ` ${GUARDED_PART}` : '';
          finish({ kind: 'hang', index, message: `still running after ${options.hangMs} ms${where}; worker terminated`, ms: Date.now() - since });
          void worker.terminate();
        }
      }, 200);
      worker.on('message', (m: FuzzWorkerMessage) => {
        if (m.type === 'escape') {
          const fixture = m.fixture;
          record(m.kind, fixture === null ? m.index : null, fixture, m.message, m.ms, fixture === null ? m.input : null);
        } else if (m.type === 'progress') {
          workerDone = m.done;
          workerFixtures = m.fixturesDone;
          workerBytes = m.bytes;
          maxMs = Math.max(maxMs, m.maxMs);
          heapMb = Math.max(heapMb, m.heapMb);
          if (Date.now() - lastLog > 15_000) {
            lastLog = Date.now();
            const n = inputs + workerDone;
            options.log(`fuzz ${target.name}: ${n.toLocaleString('en-US')}/${options.count.toLocaleString('en-US')} inputs, ${Math.round(n / ((Date.now() - t0) / 1000)).toLocaleString('en-US')}/s, escapes ${Object.values(escapes).reduce((a, b) => a + b, 0)}`);
          }
        }
      });
      worker.on('error', (err: Error & { code?: string }) => {
        const index = Atomics.load(state, 0);
        const memory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
        finish({ kind: memory ? 'memory' : 'crash', index, message: memory ? `heap over ${WORKER_HEAP_MB} MB: ${err.message}` : `${err.name}: ${err.message}`, ms: 0 });
      });
      worker.on('exit', (code) => {
        if (code === 0) finish({ kind: 'finished' });
        else finish({ kind: 'crash', index: Atomics.load(state, 0), message: `worker exited with code ${code}`, ms: 0 });
      });
    });
    if (end.kind === 'finished') {
      inputs += options.count - start;
      bytes += workerBytes;
      break;
    }
    // The worker stopped at input `end.index`: count it, then go on after it.
    if (end.index < 0) {
      const k = -1 - end.index;
      const [name, input] = passed[k] ?? ['?', ''];
      record(end.kind, null, name, end.message, end.ms, input);
      fixtures = passed.slice(k + 1);
    } else {
      const input = await regenerate(target, seedList, options.seed, end.index).catch(() => null);
      record(end.kind, end.index, null, end.message, end.ms, input);
      inputs += end.index + 1 - start;
      start = end.index + 1;
    }
    void workerFixtures;
  }
  const seconds = (Date.now() - t0) / 1000;
  const escapeTotal = Object.values(escapes).reduce((a, b) => a + b, 0);
  return { name: target.name, what: target.what, inputs, fixtures: fixtureCount, escapes, escapeTotal, guarded, examples, seconds, maxMs, heapMb, meanBytes: inputs > 0 ? bytes / inputs : 0, seed: options.seed, seedCount: seedList.length };
}

/** Runs targets, `jobs` at a time; `onResult` hears each as it finishes. */
export async function fuzzTargets(list: readonly FuzzTarget[], jobs: number, options: (t: FuzzTarget) => FuzzOptions, onResult: (r: TargetResult) => void = () => {}): Promise<TargetResult[]> {
  const results = new Map<string, TargetResult>();
  const queue = [...list];
  const lanes = Array.from({ length: Math.max(1, jobs) }, async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
      const o = options(t);
      o.log(`fuzz ${t.name}: ${o.count.toLocaleString('en-US')} inputs, seed ${o.seed}`);
      const r = await fuzzTarget(t, o);
      o.log(`fuzz ${t.name}: ${r.inputs.toLocaleString('en-US')} inputs + ${r.fixtures} fixtures in ${r.seconds.toFixed(1)} s, ${r.escapeTotal} escapes, slowest ${r.maxMs.toFixed(1)} ms, heap ≤ ${r.heapMb.toFixed(0)} MB`);
      results.set(t.name, r);
      onResult(r);
    }
  });
  await Promise.all(lanes);
  return list.map((t) => results.get(t.name) as TargetResult);
}
