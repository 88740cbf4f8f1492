/**
 * @module audit/messages
 * ModSecurity v2's alert messages for a transaction — the text after `ModSecurity: ` in the
 * error log and after `Message: ` in the audit log's part H — and the error-log line around
 * them, prefixed as Apache 2.4 writes its error log. fail2ban's apache-modsecurity filter
 * and go-ftw read these lines, so their shape follows v2 (apache2_util.c internal_log_ex,
 * modsecurity.c msc_alert, re.c msre_format_metadata, mod_security2.c perform_interception).
 */
import type { Interruption, RuleMatch, Transaction } from '../engine/transaction.js';
import type { Rule } from '../engine/rule.js';
import type { Waf } from '../engine/waf.js';
import { SEVERITY_NAMES } from '../engine/rule.js';
import { logEscape, logEscapeHex, logEscapeNoQuotes } from './escape.js';
import { errorLogTime } from './time.js';

/** One alert of a transaction. */
export interface Alert {
  /** v2's message: `Warning. Pattern match "…" at ARGS:q. [file "…"] … [tag "…"]`. */
  readonly text: string;
  /** Written to the error log (v2 logs it at level 1–3); otherwise only in the audit log. */
  readonly errorLog: boolean;
}

/** Rules by id, per Waf: the matches name their rule by id, file and line. */
const rulesByWaf = new WeakMap<Waf, Map<string, Rule>>();

/** The chain starter a match came from, or undefined (a rule with neither id nor place). */
export function ruleOf(waf: Waf, m: RuleMatch): Rule | undefined {
  let index = rulesByWaf.get(waf);
  if (index === undefined) {
    index = new Map();
    for (const r of waf.rules) if (r.starter === r) index.set(`${r.id}\n${r.location.file}\n${r.location.line}`, r);
    rulesByWaf.set(waf, index);
  }
  return index.get(`${m.ruleId}\n${m.file}\n${m.line}`);
}

/**
 * `Access denied with code 403 (phase 2).` and the other sentences v2 opens an interception
 * message with.
 */
export function interceptionSentence(it: Interruption): string {
  const phase = ` (phase ${it.phase})`;
  if (it.action === 'drop') return `Access denied with connection close${phase}.`;
  if (it.action === 'redirect') return `Access denied with redirection to ${logEscapeNoQuotes(it.url ?? '')} using status ${it.status}${phase}.`;
  return `Access denied with code ${it.status}${phase}.`;
}

/**
 * The engine's sentence with the operator parameter escaped as v2 escapes it (`log_escape`
 * inside the quotes). The variable name is escaped too, though v2 leaves it raw: an argument
 * name is chosen by the client and must not be able to end the line.
 */
export function escapeRuleMessage(message: string, variable: string): string {
  const tail = `" at ${variable}.`;
  const q = message.indexOf('"');
  if (variable !== '' && q > 0 && message.length >= q + tail.length + 1 && message.endsWith(tail)) {
    const inner = message.slice(q + 1, message.length - tail.length);
    return `${logEscapeNoQuotes(message.slice(0, q))}"${logEscape(inner)}" at ${logEscape(variable)}.`;
  }
  const negated = `" against "${variable}" required.`;
  if (variable !== '' && message.startsWith('Match of "') && message.endsWith(negated)) {
    const inner = message.slice('Match of "'.length, message.length - negated.length);
    return `Match of "${logEscape(inner)}" against "${logEscape(variable)}" required.`;
  }
  return logEscapeNoQuotes(message);
}

/** v2 cuts `[data "…"]` to 512 bytes of data (521 with the label) and ends it with `..."]`. */
const DATA_LIMIT = 521;

/** ` [file "…"] [line "…"] [id "…"] … [tag "…"]`: v2's msre_format_metadata, in its order. */
export function ruleMetadata(m: RuleMatch): string {
  let s = '';
  if (m.file !== '') s += ` [file "${logEscape(m.file)}"] [line "${m.line}"]`;
  if (m.ruleId > 0) s += ` [id "${m.ruleId}"]`;
  if (m.rev !== '') s += ` [rev "${logEscape(m.rev)}"]`;
  if (m.msg !== '') s += ` [msg "${logEscape(m.msg)}"]`;
  if (m.data !== '') {
    let data = ` [data "${logEscapeHex(m.data)}"]`;
    if (data.length > DATA_LIMIT) data = `${data.slice(0, DATA_LIMIT - 4)}..."]`;
    s += data;
  }
  if (m.severity >= 0 && m.severity <= 7) s += ` [severity "${SEVERITY_NAMES[m.severity]}"]`;
  if (m.ver !== '') s += ` [ver "${logEscape(m.ver)}"]`;
  // The engine keeps 0 for "not set" (the actions take 1–9); v2 omits unset ones.
  if (m.maturity > 0) s += ` [maturity "${m.maturity}"]`;
  if (m.accuracy > 0) s += ` [accuracy "${m.accuracy}"]`;
  for (const tag of m.tags) s += ` [tag "${logEscape(tag)}"]`;
  return s;
}

/** The opening of a match's message: how v2 would have acted on it. */
function actionSentence(tx: Transaction, m: RuleMatch): string {
  if (m.intercepted && tx.interruption !== null) return interceptionSentence(tx.interruption);
  // `allow` is an interception in v2 ("Access allowed"), logged instead of a warning.
  if (tx.ruleEngine === 'On' && m.phase < 5) {
    const rule = ruleOf(tx.waf, m);
    if (rule !== undefined && rule.effectiveDisruptive === 'allow') {
      const phase = ` (phase ${m.phase})`;
      if (rule.allowScope === 'phase') return `Access to phase allowed${phase}.`;
      if (rule.allowScope === 'request') return `Access to request allowed${phase}.`;
      return `Access allowed${phase}.`;
    }
  }
  return 'Warning.';
}

/**
 * The alerts of a finished transaction in the order they happened: one per logged match,
 * and the engine's own refusal (body over the limit) when it stopped the transaction.
 */
export function alertsOf(tx: Transaction): Alert[] {
  const alerts: Alert[] = [];
  for (const m of tx.matches) {
    alerts.push({ text: `${actionSentence(tx, m)} ${escapeRuleMessage(m.message, m.variable)}${ruleMetadata(m)}`, errorLog: m.log });
  }
  const it = tx.interruption;
  // An interruption without a rule is the engine's own (v2 logs these at level 1).
  if (it !== null && it.ruleId === 0) alerts.push({ text: logEscapeNoQuotes(it.message), errorLog: true });
  return alerts;
}

/** What the error-log prefix and suffix need to know about the request. */
export interface ErrorLogContext {
  /** Microseconds since the epoch. */
  readonly time: number;
  readonly pid: number;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly hostname: string;
  /** The path, percent-decoded (Apache's r->uri). */
  readonly uri: string;
  readonly uniqueId: string;
}

/**
 * One error-log line (with its newline):
 * `[Wed Nov 25 18:00:00.123456 2026] [security2:error] [pid 1234] [client 203.0.113.9:50123] ModSecurity: … [hostname "…"] [uri "…"] [unique_id "…"]`.
 */
export function errorLogLine(ctx: ErrorLogContext, text: string): string {
  const client = ctx.clientPort > 0 ? `${ctx.clientAddress}:${ctx.clientPort}` : ctx.clientAddress;
  return (
    `[${errorLogTime(ctx.time)}] [security2:error] [pid ${ctx.pid}] [client ${logEscape(client)}] ModSecurity: ${text}` +
    ` [hostname "${logEscape(ctx.hostname)}"] [uri "${logEscape(ctx.uri)}"] [unique_id "${logEscape(ctx.uniqueId)}"]\n`
  );
}

/** The error-log context of a transaction at `time`. */
export function errorLogContext(tx: Transaction, time: number, pid: number, hostname: string): ErrorLogContext {
  return {
    time,
    pid,
    clientAddress: tx.remoteAddr?.value ?? '-',
    clientPort: tx.remotePort,
    hostname,
    // REQUEST_FILENAME is the percent-decoded path, as Apache's r->uri.
    uri: tx.requestFilename?.value ?? '',
    uniqueId: tx.id,
  };
}
