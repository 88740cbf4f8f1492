/**
 * @module test/conformance/ftw/error-log
 * The error-log lines of a finished transaction, as Warden's error log writes them
 * (src/audit/messages: ModSecurity v2's shape, `[id "N"]` and all) — what go-ftw reads for
 * its `log` checks. Only alerts v2 writes to the error log count: a `nolog` rule's match
 * is logged at debug level 4 in v2 and never reaches Apache's error log.
 */
import type { Transaction } from '../../../src/engine/index.js';
import { alertsOf, errorLogContext, errorLogLine } from '../../../src/audit/messages.js';

export function errorLogLines(tx: Transaction): string[] {
  const lines: string[] = [];
  let ctx: ReturnType<typeof errorLogContext> | null = null;
  for (const alert of alertsOf(tx)) {
    if (!alert.errorLog) continue;
    ctx ??= errorLogContext(tx, Date.now() * 1000, process.pid, tx.serverName?.value ?? '');
    lines.push(errorLogLine(ctx, alert.text).trimEnd());
  }
  return lines;
}
