/**
 * @module test/conformance/ftw/error-log
 * The lines ModSecurity v2 writes to Apache's error log for a transaction's rule matches —
 * what go-ftw reads for `log` checks (`[id "N"]`, match_regex). v2 writes a line for each
 * match of a rule with `log` (a `nolog` rule is logged at debug level 4, which never reaches
 * the error log), in this shape (apache2_util.c internal_log_ex, re.c msre_format_metadata):
 *
 *   [client ADDR:PORT] ModSecurity: Warning. MESSAGE [file "…"] [line "…"] [id "…"] [rev "…"]
 *   [msg "…"] [data "…"] [severity "…"] [ver "…"] [maturity "…"] [accuracy "…"] [tag "…"]…
 *   [hostname "…"] [uri "…"] [unique_id "…"]
 *
 * with v2's escaping (msg: quotes and controls; data: `"`, `\` and bytes outside 0x20–0x7e
 * as \xhh, cut at 512 bytes with "..."), and the message part cut at 1023 bytes as v2's
 * 1024-byte buffer cuts it. This belongs to src/audit when its error log exists; the
 * harness keeps its own copy until then.
 */
import type { RuleMatch, Transaction } from '../../../src/engine/index.js';

const hex = (c: number): string => c.toString(16).padStart(2, '0');

/** v2's _log_escape with escape_quotes (log_escape, log_escape_ex). */
export function logEscape(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x0b:
        out += '\\v';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      default:
        out += c <= 0x1f || c >= 0x7f ? `\\x${hex(c)}` : (text[i] as string);
    }
  }
  return out;
}

/** v2's log_escape_hex: `"`, `\` and bytes outside 0x20–0x7e as \xhh. */
export function logEscapeHex(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c === 0x22 || c === 0x5c || c <= 0x1f || c >= 0x7f ? `\\x${hex(c)}` : (text[i] as string);
  }
  return out;
}

const SEVERITY = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'];

/** The metadata v2 appends to an alert (msre_format_metadata). */
function metadata(m: RuleMatch): string {
  let out = '';
  if (m.file !== '') out += ` [file "${m.file}"] [line "${m.line}"]`;
  if (m.ruleId !== 0) out += ` [id "${m.ruleId}"]`;
  if (m.rev !== '') out += ` [rev "${logEscape(m.rev)}"]`;
  if (m.msg !== '') out += ` [msg "${logEscape(m.msg)}"]`;
  if (m.data !== '') {
    let data = ` [data "${logEscapeHex(m.data)}"]`;
    // 512 bytes of data plus the 9-byte label: longer is cut, ending in `..."]`.
    if (data.length > 521) data = `${data.slice(0, 517)}..."]`;
    out += data;
  }
  if (m.severity >= 0 && m.severity <= 7) out += ` [severity "${SEVERITY[m.severity] as string}"]`;
  if (m.ver !== '') out += ` [ver "${logEscape(m.ver)}"]`;
  if (m.maturity > 0) out += ` [maturity "${m.maturity}"]`;
  if (m.accuracy > 0) out += ` [accuracy "${m.accuracy}"]`;
  for (const t of m.tags) out += ` [tag "${logEscape(t)}"]`;
  return out;
}

/** The error-log lines of a finished transaction, in match order. */
export function errorLogLines(tx: Transaction, client: string): string[] {
  const lines: string[] = [];
  const host = tx.serverName?.value ?? '';
  const uri = tx.requestFilename?.value ?? '';
  for (const m of tx.matches) {
    if (!m.log) continue;
    const it = tx.interruption;
    const prefix = m.intercepted && it !== null ? `Access denied with code ${it.status} (phase ${m.phase}). ` : 'Warning. ';
    // v2 formats the message into a 1024-byte buffer before adding hostname, uri and id.
    const text = `${prefix}${m.message}${metadata(m)}`.slice(0, 1023);
    lines.push(`[client ${client}] ModSecurity: ${text} [hostname "${logEscape(host)}"] [uri "${logEscape(uri)}"] [unique_id "${tx.id}"]`);
  }
  return lines;
}
