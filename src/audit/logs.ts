/**
 * @module audit/logs
 * `createLogs`: the logs of a Warden process — the error log in ModSecurity's format, the
 * audit log (native serial or concurrent, or JSON) as SecAuditEngine and friends ask, and the
 * access log in combined format — behind the one `WafLogs` interface the front ends call.
 * Formatting happens on the caller's turn (it reads the transaction); every write is queued
 * and done asynchronously, and nothing here throws into the request path.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { LogsConfig } from '../config/types.js';
import type { WafConfig } from '../engine/config.js';
import type { Transaction } from '../engine/transaction.js';
import { combinedLine, indexLine } from './access.js';
import { ConcurrentAuditLog } from './concurrent.js';
import { entryFromRejected, entryFromTransaction, type AuditEntry, type ServerIdentity } from './entry.js';
import { formatJson } from './json.js';
import { LogFile } from './log-file.js';
import { alertsOf, errorLogContext, errorLogLine } from './messages.js';
import { formatNative } from './native.js';
import { concurrentEntryPath } from './time.js';
import type { RejectedRequest, ResponseSummary, WafLogs } from './types.js';

export interface LogsOptions {
  /** The Waf's settings (`waf.config`): SecAuditEngine, SecAuditLog, SecAuditLogParts, … */
  readonly config: WafConfig;
  /** warden.yaml's `logs`: each path or format set there overrides the SecAudit* directive. */
  readonly logs?: Partial<LogsConfig>;
  /**
   * The name in `[hostname "…"]` and the concurrent index, like Apache's UseCanonicalName On.
   * When absent, the Host the request named (Apache's default), or this machine's name.
   */
  readonly hostname?: string | null;
  /** `[pid …]` in error-log lines (this process by default). */
  readonly pid?: number;
  /** Relative paths are resolved against this folder (the working folder by default). */
  readonly baseDir?: string;
  /** Rotated files kept when `logs.rotateBytes` is set (default 5). */
  readonly rotateKeep?: number;
  /** Bytes queued per log before records are dropped (default 64 MiB). */
  readonly maxQueuedBytes?: number;
  /** Part H's Apache-Handler (default `proxy-server`, as Apache's mod_proxy; null: none). */
  readonly handler?: string | null;
  /** Part H's Server (default `Warden/<version>`). */
  readonly server?: string | null;
  /** Where write problems are reported, once per outage (standard error by default). */
  readonly report?: (message: string) => void;
  /** Now, in microseconds since the epoch (tests fix it). */
  readonly clock?: () => number;
}

/** `WafLogs` and what tests and metrics want besides. */
export interface Logs extends WafLogs {
  /** Records dropped because a log's queue was full (the disk could not keep up). */
  readonly dropped: number;
  /** Resolves when everything logged so far is written (or counted as lost). */
  flush(): Promise<void>;
}

/** Warden's name and version, for Producer and Server. */
function wardenSignature(): string {
  try {
    // The same relative place from src/audit and dist/audit.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return `Warden/${pkg.version ?? '0'}`;
  } catch {
    return 'Warden';
  }
}

const defaultClock = (): number => (performance.timeOrigin + performance.now()) * 1000;

let rejectedCounter = 0;
/** A unique id for a request that never became a transaction (same shape as the engine's). */
function rejectedId(): string {
  rejectedCounter = (rejectedCounter + 1) % 0x1000000;
  return `${Date.now().toString(36)}${process.pid.toString(36)}${rejectedCounter.toString(36).padStart(5, '0')}${randomBytes(2).toString('hex')}`.toUpperCase();
}

function header(headers: ReadonlyArray<{ readonly key: string; readonly value: string }>, name: string): string | null {
  for (const h of headers) if (h.key.toLowerCase() === name) return h.value;
  return null;
}

/**
 * The logs of a process. Every path may be absent (that log is not written).
 *
 * @example
 * const logs = createLogs({ config: waf.config, logs: config.logs, hostname: os.hostname() });
 * // after phase 5:
 * logs.transactionDone(tx, { status: 403, protocol: 'HTTP/1.1', headers: [], bytesSent: 199, aborted: false });
 * process.on('SIGUSR1', () => void logs.reopen());
 */
export function createLogs(options: LogsOptions): Logs {
  const config = options.config;
  const yaml = options.logs ?? {};
  const base = options.baseDir ?? process.cwd();
  const at = (p: string): string => (p === '-' ? p : resolve(base, p));
  const report = options.report ?? ((m: string) => void process.stderr.write(`${m}\n`));
  const clock = options.clock ?? defaultClock;
  const pid = options.pid ?? process.pid;
  const signature = wardenSignature();
  const identity: ServerIdentity = {
    producer: signature,
    server: options.server === undefined ? signature : options.server,
    handler: options.handler === undefined ? 'proxy-server' : options.handler,
  };
  const maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
  const rotateBytes = yaml.rotateBytes ?? 0;
  const rotateKeep = Math.max(1, options.rotateKeep ?? 5);
  const files: LogFile[] = [];
  const file = (path: string, mode: number, rotate: boolean): LogFile => {
    const f = new LogFile({ path: at(path), mode, rotateBytes: rotate && path !== '-' ? rotateBytes : 0, rotateKeep, maxQueuedBytes, report });
    files.push(f);
    return f;
  };

  const errorLog = yaml.error != null ? file(yaml.error, 0o640, true) : null;
  const accessLog = yaml.access != null ? file(yaml.access, 0o640, true) : null;

  // The audit log: warden.yaml's settings win over the directives.
  const auditPath = yaml.audit ?? config.auditLog;
  const format = yaml.auditFormat ?? (config.auditLogFormat === 'JSON' ? 'json' : 'native');
  const type = yaml.auditType ?? (config.auditLogType === 'Concurrent' ? 'concurrent' : config.auditLogType === 'HTTPS' ? 'https' : 'serial');
  let serialAudit: LogFile | null = null;
  let concurrent: ConcurrentAuditLog | null = null;
  if (auditPath != null && auditPath !== '') {
    if (auditPath.startsWith('|')) {
      report(`warden: SecAuditLog ${auditPath}: piped audit logs are not provided; no audit log is written`);
    } else if (type === 'https') {
      report('warden: SecAuditLogType HTTPS is not provided; no audit log is written');
    } else if (type === 'concurrent') {
      const indexes = [file(auditPath, config.auditLogFileMode, true)];
      if (config.auditLog2 != null && config.auditLog2 !== '') indexes.push(file(config.auditLog2, config.auditLogFileMode, true));
      concurrent = new ConcurrentAuditLog({
        storageDir: resolve(base, yaml.auditStorageDir ?? config.auditLogStorageDir ?? dirname(at(auditPath))),
        fileMode: config.auditLogFileMode,
        dirMode: config.auditLogDirMode,
        maxQueuedBytes,
        indexes,
        report,
      });
    } else serialAudit = file(auditPath, config.auditLogFileMode, true);
  }

  let internalErrors = 0;
  let internalReported = false;
  const internalError = (err: unknown): void => {
    internalErrors++;
    if (internalReported) return;
    internalReported = true;
    report(`warden: could not log a request: ${(err as Error).stack ?? String(err)}`);
  };

  const writeAudit = (entry: AuditEntry, now: number): void => {
    if (serialAudit !== null) {
      serialAudit.write(format === 'json' ? Buffer.from(formatJson(entry), 'utf8') : Buffer.from(formatNative(entry, true), 'latin1'));
    } else if (concurrent !== null) {
      const data = format === 'json' ? Buffer.from(formatJson(entry), 'utf8') : Buffer.from(formatNative(entry, false), 'latin1');
      const path = concurrentEntryPath(now, entry.id);
      concurrent.write(path, data, (size, md5) =>
        indexLine({
          hostname: entry.hostname,
          clientAddress: entry.clientAddress,
          remoteUser: entry.remoteUser,
          time: now,
          requestLine: entry.requestLine,
          status: entry.status,
          bytesSent: entry.bytesSent,
          uniqueId: entry.id,
          file: path,
          size,
          md5,
        }),
      );
    }
  };
  const auditing = (): boolean => serialAudit !== null || concurrent !== null;

  const machine = osHostname();
  const hostnameOf = (tx: Transaction): string => options.hostname ?? (tx.serverName?.value || machine);

  return {
    transactionDone(tx: Transaction, response: ResponseSummary): void {
      try {
        const now = clock();
        const hostname = hostnameOf(tx);
        const alerts = alertsOf(tx);
        if (errorLog !== null && alerts.length > 0) {
          const ctx = errorLogContext(tx, now, pid, hostname);
          let lines = '';
          for (const a of alerts) if (a.errorLog) lines += errorLogLine(ctx, a.text);
          // One write for the transaction's lines: they stay together in a shared file.
          if (lines !== '') errorLog.write(Buffer.from(lines, 'latin1'));
        }
        // v2 does not audit a request it never read a request line of (timeouts).
        if (auditing() && tx.requestLine !== null && auditWanted(tx, response.status)) {
          writeAudit(entryFromTransaction(tx, response, identity, now, hostname, alerts), now);
        }
        if (accessLog !== null) {
          const line = combinedLine({
            clientAddress: tx.remoteAddr?.value ?? '-',
            remoteUser: tx.remoteUser,
            time: tx.timestamp * 1000,
            requestLine: tx.requestLine?.value ?? '',
            status: response.status,
            bytesSent: response.bytesSent,
            referer: header(tx.requestHeaders, 'referer'),
            userAgent: header(tx.requestHeaders, 'user-agent'),
          });
          accessLog.write(Buffer.from(line, 'latin1'));
        }
      } catch (err) {
        internalError(err);
      }
    },

    takesRejected(): boolean {
      return (auditing() && config.auditEngine !== 'Off') || accessLog !== null;
    },

    rejected(request: RejectedRequest): void {
      try {
        const now = clock();
        const entry = entryFromRejected(request, config, identity, options.hostname ?? machine, rejectedId());
        // A refusal is relevant as v2's own errors are (RelevantOnly records it).
        if (auditing() && config.auditEngine !== 'Off') writeAudit(entry, now);
        if (accessLog !== null) {
          const ua = entry.requestHeaders.find(([k]) => k.toLowerCase() === 'user-agent')?.[1] ?? null;
          const referer = entry.requestHeaders.find(([k]) => k.toLowerCase() === 'referer')?.[1] ?? null;
          const line = combinedLine({
            clientAddress: request.clientAddress,
            remoteUser: null,
            time: request.timestamp * 1000,
            requestLine: entry.requestLine,
            status: request.status,
            bytesSent: 0,
            referer,
            userAgent: ua,
          });
          accessLog.write(Buffer.from(line, 'latin1'));
        }
      } catch (err) {
        internalError(err);
      }
    },

    async reopen(): Promise<void> {
      await concurrent?.flush();
      await Promise.all(files.map((f) => f.reopen()));
    },

    async flush(): Promise<void> {
      await concurrent?.flush();
      await Promise.all(files.map((f) => f.flush()));
    },

    async close(): Promise<void> {
      // Entries first: finishing them writes index lines.
      await concurrent?.flush();
      await Promise.all(files.map((f) => f.close()));
    },

    get writeErrors(): number {
      return internalErrors + (concurrent?.writeErrors ?? 0) + files.reduce((n, f) => n + f.writeErrors, 0);
    },

    get dropped(): number {
      return (concurrent?.dropped ?? 0) + files.reduce((n, f) => n + f.dropped, 0);
    },
  };
}

/**
 * Whether SecAuditEngine (as ctl:auditEngine left it) records this transaction. "Relevant"
 * as v2 counts it: a match of a rule with `auditlog` (the default unless `noauditlog` or
 * `nolog`), an error the engine itself logged (a body over its limit), or a response status
 * matching SecAuditLogRelevantStatus.
 */
export function auditWanted(tx: Transaction, status: number): boolean {
  if (tx.auditEngine === 'On') return true;
  if (tx.auditEngine === 'Off') return false;
  if (tx.matches.some((m) => m.auditlog)) return true;
  if (tx.interruption !== null && tx.interruption.ruleId === 0) return true;
  const relevant = tx.waf.config.auditLogRelevantStatus;
  return relevant !== null && relevant.test(String(status));
}
