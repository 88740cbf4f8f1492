/**
 * @module test/audit/helpers
 * Runs requests through a Waf and `createLogs` into a fresh folder, and reads back what a
 * user would find in the files. Time is fixed (the logs' clock, TZ=UTC) so lines compare exactly.
 */
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Waf, type Transaction } from '../../src/engine/index.js';
import { createLogs, type Logs, type LogsOptions } from '../../src/audit/logs.js';
import type { ResponseSummary } from '../../src/audit/types.js';
import type { LogsConfig } from '../../src/config/types.js';
import { runRequest, type TestRequest } from '../support/request.js';

// Apache and ModSecurity write local time; the expectations are written in UTC.
process.env.TZ = 'UTC';

/** The logs' clock: Wed Nov 25 18:00:00.123456 2026 UTC, in microseconds. */
export const CLOCK = Date.UTC(2026, 10, 25, 18, 0, 0, 123) * 1000 + 456;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'warden-audit-'));
}

export function response(status: number, headers: ReadonlyArray<readonly [string, string]> = [], bytesSent = 0): ResponseSummary {
  return { status, protocol: 'HTTP/1.1', headers, bytesSent, aborted: false };
}

export interface Logged {
  readonly dir: string;
  readonly logs: Logs;
  readonly txs: Transaction[];
  readonly reports: string[];
  /** A file of `dir`, as bytes (one char per byte), or '' when absent. */
  read(name: string): string;
}

export interface LogRun {
  readonly rules: string;
  readonly requests: ReadonlyArray<TestRequest & { readonly status?: number; readonly responseHeaders?: ReadonlyArray<readonly [string, string]>; readonly bytesSent?: number; readonly aborted?: boolean }>;
  /** warden.yaml's logs; relative names are files in the temporary folder. */
  readonly logs?: Partial<LogsConfig>;
  readonly options?: Partial<LogsOptions>;
}

/**
 * Loads `rules` (SecRuleEngine On first), runs each request, hands it to the logs with the
 * status the interruption (or the request) says, and waits for the files.
 */
export async function logRun(run: LogRun): Promise<Logged> {
  const dir = tempDir();
  const waf = Waf.fromText(`SecRuleEngine On\n${run.rules.replaceAll('$DIR', dir)}`);
  const reports: string[] = [];
  const logs = createLogs({
    config: waf.config,
    logs: run.logs ?? { error: 'error.log' },
    baseDir: dir,
    hostname: null,
    pid: 1234,
    clock: () => CLOCK,
    report: (m) => reports.push(m),
    ...run.options,
  });
  const txs: Transaction[] = [];
  for (const req of run.requests) {
    const r = await runRequest(waf, req);
    txs.push(r.tx);
    const status = r.interruption?.status ?? req.status ?? req.response?.status ?? 200;
    logs.transactionDone(r.tx, {
      status,
      protocol: 'HTTP/1.1',
      headers: req.responseHeaders ?? req.response?.headers ?? [],
      bytesSent: req.bytesSent ?? 0,
      aborted: req.aborted ?? r.interruption?.action === 'drop',
    });
  }
  await logs.flush();
  return {
    dir,
    logs,
    txs,
    reports,
    read: (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'latin1') : ''),
  };
}

/** One native audit record: its boundary and each part's text, in the order written. */
export interface NativeRecord {
  readonly boundary: string;
  readonly parts: ReadonlyArray<readonly [string, string]>;
  part(letter: string): string | undefined;
}

/** Splits a serial native audit log into records (each must end with its Z part). */
export function parseNative(text: string): NativeRecord[] {
  const records: NativeRecord[] = [];
  const re = /^--([0-9a-f]{8})-([A-Z])--\n/gm;
  let current: { boundary: string; parts: Array<[string, string]> } | null = null;
  let last: RegExpExecArray | null = null;
  const close = (end: number): void => {
    if (current === null || last === null) return;
    const entry = current.parts[current.parts.length - 1];
    // The newline before the next boundary line belongs to that line ("\n--b-X--\n").
    const stop = end > 0 && text[end - 1] === '\n' && end < text.length ? end - 1 : end;
    if (entry !== undefined) entry[1] = text.slice(last.index + last[0].length, Math.max(stop, last.index + last[0].length));
  };
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    close(m.index);
    if (m[2] === 'A') {
      current = { boundary: m[1] as string, parts: [] };
      const c = current;
      records.push({ boundary: c.boundary, parts: c.parts, part: (l) => c.parts.find(([k]) => k === l)?.[1] });
    }
    if (current === null || current.boundary !== m[1]) throw new Error(`part ${m[2]} outside its record at ${m.index}`);
    current.parts.push([m[2] as string, '']);
    last = m;
  }
  close(text.length);
  return records;
}
