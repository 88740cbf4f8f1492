/**
 * @module audit/entry
 * One audit-log record as data, before it is written in ModSecurity's native or JSON form:
 * what each part (A B C E F H I J K) holds for a finished transaction, or for a request Node
 * refused before the engine saw it. Sanitisation is applied here, so both forms mask alike.
 */
import { STATUS_CODES } from 'node:http';
import type { WafConfig } from '../engine/config.js';
import type { Rule } from '../engine/rule.js';
import type { Transaction } from '../engine/transaction.js';
import type { RejectedRequest, ResponseSummary } from './types.js';
import { logEscapeNoQuotes } from './escape.js';
import { alertsOf, escapeRuleMessage, type Alert } from './messages.js';
import { maskBody, maskHeaders, maskRequestLine, sanitisationOf } from './sanitise.js';

/** What the trailer (part H) says about the server, the same for every record. */
export interface ServerIdentity {
  /** Producer: Warden's name and version. */
  readonly producer: string;
  /** Server: the web server's signature. */
  readonly server: string | null;
  /** Apache-Handler (`proxy-server` for the reverse proxy), or null to leave it out. */
  readonly handler: string | null;
}

export interface UploadInfo {
  /** The part's place in the multipart body, counting from 1 (v2's numbering). */
  readonly index: number;
  readonly size: number;
  readonly filename: string;
  readonly contentType: string | null;
}

export interface AuditEntry {
  /** Microseconds since the epoch when the request began. */
  readonly time: number;
  readonly id: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Part letters to write (A and Z always are). */
  readonly parts: string;
  /** B: the request line (sanitised) and headers (a null value: a line that was not a header). */
  readonly requestLine: string;
  readonly requestHeaders: ReadonlyArray<readonly [string, string | null]>;
  /** C: the request body as the rules saw it (sanitised), or null when not read. */
  readonly requestBody: string | null;
  /** True when the body was multipart (part I then holds the form fields urlencoded). */
  readonly multipart: boolean;
  /** I: multipart form fields as a urlencoded body (sanitised), or null. */
  readonly fakeBody: string | null;
  /** F: the response as sent, or null when no response head was sent (drop). */
  readonly response: { readonly protocol: string; readonly status: number; readonly headers: ReadonlyArray<readonly [string, string]> } | null;
  /** E: the response body as inspected, or null. */
  readonly responseBody: string | null;
  /** H */
  readonly messages: readonly string[];
  readonly interception: { readonly phase: number; readonly message: string } | null;
  readonly identity: ServerIdentity;
  /** Microseconds the transaction took until logging. */
  readonly duration: number;
  readonly componentSignatures: readonly string[];
  readonly sanitisedArgs: readonly string[];
  readonly sanitisedRequestHeaders: readonly string[];
  readonly sanitisedResponseHeaders: readonly string[];
  readonly webApp: { readonly id: string; readonly session: string | null; readonly user: string | null } | null;
  readonly sensorId: string | null;
  readonly engineMode: 'ENABLED' | 'DETECTION_ONLY' | null;
  /** J */
  readonly uploads: readonly UploadInfo[] | null;
  /** K: chain starters whose whole chain matched, in order. */
  readonly matchedRules: readonly Rule[];
  /** For the concurrent index line. */
  readonly hostname: string;
  readonly remoteUser: string | null;
  readonly status: number;
  readonly bytesSent: number;
}

function engineMode(mode: string): AuditEntry['engineMode'] {
  return mode === 'On' ? 'ENABLED' : mode === 'DetectionOnly' ? 'DETECTION_ONLY' : null;
}

/** v2's strnurlencat: letters, digits and `*` stay, a space is `+`, every other byte `%xx`. */
function urlencode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32) out += '+';
    else if (c === 42 || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) out += s[i];
    else out += `%${(c & 0xff).toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Part J: the file parts of a multipart body, numbered by their place among all parts. */
function uploadsOf(tx: Transaction): UploadInfo[] {
  // Each part has exactly one Content-Disposition line: counting them numbers the parts.
  const fileParts: Array<{ index: number; contentType: string | null }> = [];
  let index = 0;
  let current: { index: number; contentType: string | null; file: boolean } | null = null;
  const close = (): void => {
    if (current?.file === true) fileParts.push({ index: current.index, contentType: current.contentType });
  };
  for (const h of tx.multipartPartHeaders) {
    const line = h.value;
    if (/^content-disposition\s*:/i.test(line)) {
      close();
      index++;
      current = { index, contentType: null, file: /;\s*filename\*?\s*=/i.test(line) };
    } else if (current !== null && /^content-type\s*:/i.test(line)) {
      current.contentType = line.slice(line.indexOf(':') + 1).trim();
    }
  }
  close();
  return tx.files.map((f, i) => ({
    index: fileParts.length === tx.files.length ? (fileParts[i]?.index ?? i + 1) : i + 1,
    size: Number(tx.filesSizes[i]?.value ?? 0),
    filename: f.value,
    contentType: fileParts.length === tx.files.length ? (fileParts[i]?.contentType ?? null) : null,
  }));
}

/** Everything part H's WebApp-Info line needs, or null when v2 would leave it out. */
function webAppOf(tx: Transaction, config: WafConfig): AuditEntry['webApp'] {
  const session = tx.collections.get('session')?.storageKey ?? null;
  const user = tx.collections.get('user')?.storageKey ?? null;
  if (config.webAppId === 'default' && session === null && user === null) return null;
  return { id: config.webAppId, session, user };
}

/**
 * The record of a finished transaction. `now` (µs) dates the end; `hostname` is the name
 * the request was for.
 */
export function entryFromTransaction(
  tx: Transaction,
  response: ResponseSummary,
  identity: ServerIdentity,
  now: number,
  hostname: string,
  alerts: readonly Alert[] = alertsOf(tx),
): AuditEntry {
  const config = tx.waf.config;
  const parts = tx.auditLogParts;
  const sanitise = sanitisationOf(tx, response.headers);
  const args = sanitise?.args ?? new Set<string>();
  const separator = config.argumentSeparator;
  const multipart = tx.reqbodyProcessor === 'MULTIPART';

  // v2 writes part C when the body was read for the rules, and I alone stands for C
  // unless the body was multipart.
  let requestBody: string | null = null;
  const wantsBody = parts.includes('C') || (parts.includes('I') && !multipart);
  if (wantsBody && tx.requestBodyAccess && tx.requestBodyChunks.length > 0) {
    const raw = tx.requestBodyChunks.join('');
    if (raw !== '') requestBody = maskBody(raw, tx.reqbodyProcessor, separator, args, tx.argsPost);
  }
  let fakeBody: string | null = null;
  if (parts.includes('I') && multipart) {
    fakeBody = tx.argsPost.map((e) => `${urlencode(e.key)}=${urlencode(args.has(e.key.toLowerCase()) ? '*'.repeat(e.value.length) : e.value)}`).join('&');
  }

  const requestHeaders = maskHeaders(
    tx.requestHeaders.map((e) => [e.key, e.value] as const),
    sanitise?.requestHeaders ?? new Set(),
  );
  const it = tx.interruption;
  return {
    time: tx.timestamp * 1000,
    id: tx.id,
    clientAddress: tx.remoteAddr?.value ?? '',
    clientPort: tx.remotePort,
    localAddress: tx.serverAddr?.value ?? '',
    localPort: tx.serverPort,
    parts,
    requestLine: maskRequestLine(tx.requestLine?.value ?? '', separator, args),
    requestHeaders,
    requestBody,
    multipart,
    fakeBody,
    response: response.aborted
      ? null
      : { protocol: response.protocol, status: response.status, headers: maskHeaders(response.headers, sanitise?.responseHeaders ?? new Set()) },
    responseBody: tx.responseBody?.value ?? null,
    messages: alerts.map((a) => a.text),
    // A rule's deny, drop or redirect; the engine's own refusals (over a body limit) are
    // not interceptions in v2, only messages.
    interception: it === null || it.ruleId === 0 ? null : { phase: it.phase, message: interceptMessage(tx) },
    identity,
    duration: Math.max(0, Math.round(now - tx.timestamp * 1000)),
    componentSignatures: config.componentSignatures,
    sanitisedArgs: sanitise?.argNames ?? [],
    sanitisedRequestHeaders: sanitise?.requestHeaderNames ?? [],
    sanitisedResponseHeaders: sanitise?.responseHeaderNames ?? [],
    webApp: webAppOf(tx, config),
    sensorId: config.sensorId !== '' && config.sensorId !== 'default' ? config.sensorId : null,
    engineMode: engineMode(tx.ruleEngine),
    uploads: parts.includes('J') && multipart ? uploadsOf(tx) : null,
    matchedRules: tx.matchedRules,
    hostname,
    remoteUser: tx.remoteUser,
    status: response.status,
    bytesSent: response.bytesSent,
  };
}

/** v2's intercept_message: the deciding rule's sentence, escaped as in its Message line. */
function interceptMessage(tx: Transaction): string {
  const m = tx.matches.find((x) => x.intercepted);
  return m === undefined ? logEscapeNoQuotes(tx.interruption?.message ?? '') : escapeRuleMessage(m.message, m.variable);
}

/** Splits what Node could read of a refused request's head into its line and headers. */
function splitHead(rawHead: string): { line: string; headers: Array<readonly [string, string | null]> } {
  const lines = rawHead.split(/\r?\n/);
  // A head ends with an empty line; what follows it (a body) is not part of part B.
  const end = lines.indexOf('');
  const head = end < 0 ? lines : lines.slice(0, end);
  const headers: Array<readonly [string, string | null]> = [];
  for (const l of head.slice(1)) {
    const colon = l.indexOf(':');
    headers.push(colon > 0 ? [l.slice(0, colon), l.slice(colon + 1).trim()] : [l, null]);
  }
  return { line: head[0] ?? '', headers };
}

/** The record of a request refused before it became a transaction: parts A, B, F and H. */
export function entryFromRejected(r: RejectedRequest, config: WafConfig, identity: ServerIdentity, hostname: string, id: string): AuditEntry {
  const { line, headers } = splitHead(r.rawHead);
  const host = headers.find(([k]) => k.toLowerCase() === 'host')?.[1];
  const parts = config.auditLogParts.replace(/[CEIJK]/g, '');
  return {
    time: r.timestamp * 1000,
    id,
    clientAddress: r.clientAddress,
    clientPort: r.clientPort,
    localAddress: r.localAddress,
    localPort: r.localPort,
    parts,
    requestLine: line,
    requestHeaders: headers,
    requestBody: null,
    multipart: false,
    fakeBody: null,
    response: { protocol: 'HTTP/1.1', status: r.status, headers: [] },
    responseBody: null,
    messages: [`Request rejected with code ${r.status} before the rules ran: ${logEscapeNoQuotes(r.reason)}.`],
    interception: null,
    identity,
    duration: 0,
    componentSignatures: config.componentSignatures,
    sanitisedArgs: [],
    sanitisedRequestHeaders: [],
    sanitisedResponseHeaders: [],
    webApp: null,
    sensorId: config.sensorId !== '' && config.sensorId !== 'default' ? config.sensorId : null,
    engineMode: engineMode(config.ruleEngine),
    uploads: null,
    matchedRules: [],
    hostname: host != null && host !== '' ? host.replace(/:\d+$/, '') : hostname,
    remoteUser: null,
    status: r.status,
    bytesSent: 0,
  };
}

/** `403 Forbidden`: the status and Node's reason phrase. */
export function statusText(status: number): string {
  const reason = STATUS_CODES[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
}
