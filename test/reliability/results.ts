/**
 * @module test/reliability/results
 * The figures of the last long runs, one JSON file per part in test/reliability/results/
 * (fuzz targets merged by name, so one target can be run again alone), and the report:
 * one table of them all, printed and written to test/reliability/RESULTS.md for the README
 * to link to.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../support/shared.js';

export const resultsDir = join(projectRoot, 'test/reliability/results');
export const fixturesDir = join(projectRoot, 'test/reliability/fixtures');

/** One fuzz campaign's figures, as the report shows them. */
export interface FuzzFigures {
  readonly name: string;
  readonly what: string;
  readonly inputs: number;
  readonly fixtures: number;
  readonly escapes: Record<string, number>;
  readonly escapeTotal: number;
  readonly guarded: number;
  readonly seconds: number;
  readonly maxMs: number;
  readonly heapMb: number | null;
  readonly seed: number;
  readonly seedCount: number;
  readonly examples: ReadonlyArray<{ kind: string; message: string; saved: string | null }>;
  readonly answers?: Record<string, number>;
  readonly at: string;
}

export interface SoakFigures {
  readonly minutes: number;
  readonly reloads: number;
  readonly reloadsFailed: number;
  readonly requests: number;
  /** Answers by status, per kind of traffic. */
  readonly answers: Record<string, Record<string, number>>;
  /** Answers the traffic did not call for. */
  readonly unexpected: number;
  readonly unexpectedExamples: readonly string[];
  /** Requests sent again after a reset on a reused keep-alive connection (as clients do). */
  readonly retried: number;
  /** RSS (MB) of primary + workers: after warm-up, at the end, the peak; growth in %. */
  readonly rssWarmMb: number;
  readonly rssEndMb: number;
  readonly rssPeakMb: number;
  readonly rssGrowthPct: number;
  readonly fdWarm: number;
  readonly fdEnd: number;
  readonly samples: ReadonlyArray<{ s: number; rssMb: number; fds: number }>;
  readonly at: string;
}

export interface FaultCase {
  readonly name: string;
  readonly injected: number;
  readonly ok: boolean;
  readonly detail: string;
}

export interface FaultFigures {
  readonly cases: readonly FaultCase[];
  readonly killsWorker: number;
  readonly killsPrimary: number;
  readonly bansMade: number;
  readonly bansLost: number;
  readonly at: string;
}

export interface HostileCase {
  readonly name: string;
  readonly expected: string;
  readonly answer: string;
  readonly ms: number;
  readonly upstream: string;
  readonly ok: boolean;
}

export interface HostileFigures {
  readonly cases: readonly HostileCase[];
  readonly at: string;
}

function readJson<T>(name: string): T | null {
  const p = join(resultsDir, `${name}.json`);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as T) : null;
}

function writeJson(name: string, value: unknown): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(value, null, 1)}\n`);
}

/** Saves fuzz figures, replacing those of the same targets. */
export function saveFuzz(list: readonly FuzzFigures[]): void {
  const old = readJson<FuzzFigures[]>('fuzz') ?? [];
  const byName = new Map(old.map((f) => [f.name, f]));
  for (const f of list) byName.set(f.name, f);
  const order = ['seclang', 'urlencoded', 'multipart', 'json', 'xml', 'cookies', 'http', 'filter-files', 'log-lines'];
  writeJson('fuzz', [...byName.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name)));
}

export const saveSoak = (s: SoakFigures): void => writeJson('soak', s);
export const saveFaults = (f: FaultFigures): void => writeJson('faults', f);
export const saveHostile = (h: HostileFigures): void => writeJson('hostile', h);

const n = (x: number): string => x.toLocaleString('en-US');

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n');
}

/** The report as Markdown: one table, then notes on what each part measured. */
export function report(): string {
  const fuzz = readJson<FuzzFigures[]>('fuzz') ?? [];
  const soak = readJson<SoakFigures>('soak');
  const faults = readJson<FaultFigures>('faults');
  const hostile = readJson<HostileFigures>('hostile');
  const rows: string[][] = [];
  for (const f of fuzz) {
    const kinds = Object.entries(f.escapes).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ');
    rows.push([
      `fuzz: ${f.name}`,
      `${n(f.inputs)} inputs + ${n(f.fixtures)} fixtures`,
      `${n(f.escapeTotal)} escapes${kinds === '' ? '' : ` (${kinds})`}${f.guarded > 0 ? `; ${n(f.guarded)} stopped by the guard` : ''}; slowest ${f.maxMs.toFixed(0)} ms${f.heapMb === null ? '' : `, heap ≤ ${f.heapMb.toFixed(0)} MB`}; ${(f.seconds / 60).toFixed(1)} min`,
      f.at.slice(0, 16).replace('T', ' '),
    ]);
  }
  if (soak !== null) {
    rows.push([
      `soak: ${soak.minutes} min, ${soak.reloads} reloads`,
      `${n(soak.requests)} requests`,
      `RSS ${soak.rssWarmMb.toFixed(0)} MB after warm-up → ${soak.rssEndMb.toFixed(0)} MB at the end (${soak.rssGrowthPct >= 0 ? '+' : ''}${soak.rssGrowthPct.toFixed(1)} %, peak ${soak.rssPeakMb.toFixed(0)} MB); fds ${soak.fdWarm} → ${soak.fdEnd}; ${soak.unexpected} unexpected answers (${soak.retried} requests sent again after a reset of a reused keep-alive connection); ${soak.reloadsFailed} reloads failed`,
      soak.at.slice(0, 16).replace('T', ' '),
    ]);
  }
  if (faults !== null) {
    for (const c of faults.cases) rows.push([`fault: ${c.name}`, `${n(c.injected)} injected`, `${c.ok ? 'ok' : 'FAILED'}: ${c.detail}`, faults.at.slice(0, 16).replace('T', ' ')]);
  }
  if (hostile !== null) {
    for (const c of hostile.cases) rows.push([`hostile: ${c.name}`, `expected ${c.expected}`, `${c.ok ? 'ok' : 'FAILED'}: ${c.answer} in ${c.ms.toFixed(0)} ms; upstream: ${c.upstream}`, hostile.at.slice(0, 16).replace('T', ' ')]);
  }
  const lines = ['# Reliability figures', '', 'Written by `npm run test:reliability -- --report` from the last long runs (test/reliability/results/*.json).', ''];
  lines.push(rows.length === 0 ? 'No runs recorded yet.' : table(['part', 'load', 'result', 'run (UTC)'], rows));
  lines.push(
    '',
    'Escapes: an exception, a broken invariant, an input slower than 1 s of its own CPU time, one still running after 20 s (its worker is stopped), a heap over 768 MB; for HTTP, no close within 30 s, a 5xx other than 501/505, a reset without an answer, a request the upstream could not parse or that reached it with two framings, a worker that died. Matching a line with a fail2ban filter runs behind the filter guard in production (the log-lines target, and the line matched once a fuzzed filter file is read), so time spent there is counted as stopped by the guard (and replayed through the real guard by npm test); reading and compiling a filter file count as usual. Open escapes: test/reliability/fixtures/open/.',
    '',
    'Redis lost and back with the fleet store is covered by test/store/redis.test.ts (redis-server killed and restarted, stopped with SIGSTOP, restarted empty) and test/cli/fleet-e2e.test.ts, not repeated here.',
  );
  return `${lines.join('\n')}\n`;
}

export function writeReport(): string {
  const text = report();
  writeFileSync(join(projectRoot, 'test/reliability/RESULTS.md'), text);
  return text;
}
