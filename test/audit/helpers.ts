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
