/**
 * @module http/recorded
 * Recorded requests, read back for `warden replay`: a HAR file (a browser's or a proxy's
 * "save as HAR", HAR 1.2) or Warden's own JSON audit log (audit/json: one record per line,
 * ModSecurity v2's JSON shape). Each becomes the request line, the headers in order, and
 * the body as bytes (a latin1 string, as the engine takes it), plus what the recording
 * knows of the client and of what happened then.
 *
 * What a recording cannot give back is said per request in `notes`, never guessed at:
 * a HAR has no client address; an audit record keeps a multipart body only as its form
 * fields (part I), and keeps text decoded as UTF-8 (bytes that were not UTF-8 are U+FFFD).
 * Binary HAR bodies are read from base64 when postData says `"encoding": "base64"` (the
 * way HAR keeps binary response content).
 */
import { readFileSync } from 'node:fs';

/** One request as it was sent, ready for a transaction. */
export interface RecordedRequest {
  /** 1-based position in the recording (entry or line number). */
  readonly index: number;
  readonly method: string;
  /** Origin-form target (`/path?query`). */
  readonly target: string;
  readonly protocol: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Body bytes as a latin1 string ('' for none). */
  readonly body: string;
  /** The client's address when the recording has it, else null. */
  readonly clientAddress: string | null;
  /** What the recording says happened: the status sent, and whether Warden stopped it. */
  readonly recorded: { readonly status: number | null; readonly intercepted: boolean | null; readonly ruleIds: readonly number[] };
  /** What could not be restored exactly (shown with the verdict). */
  readonly notes: readonly string[];
  /** The entry's own comment (HAR) or unique id (audit log), to find it again. */
  readonly label: string;
}

export type RecordingFormat = 'har' | 'audit-json';

export interface Recording {
  readonly format: RecordingFormat;
  readonly requests: readonly RecordedRequest[];
}

/** A recording that cannot be read; `code` is stable for callers and tests. */
export class RecordingError extends Error {
  constructor(
    readonly code: 'WARDEN_RECORDING_FORMAT' | 'WARDEN_RECORDING_ENTRY' | 'WARDEN_RECORDING_READ',
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'RecordingError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const utf8Bytes = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

function hasHeader(headers: ReadonlyArray<readonly [string, string]>, name: string): boolean {
  return headers.some(([k]) => k.toLowerCase() === name);
}

/** `http://h/p?q` or `/p?q` → `/p?q` (and the authority when absolute). */
function originForm(url: string): { target: string; authority: string | null } {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)([^#]*)/.exec(url);
  if (m === null) return { target: url.replace(/#.*$/, '') || '/', authority: null };
  const rest = m[2] as string;
  return { target: rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest, authority: m[1] as string };
}

function harProtocol(version: Json | undefined): string {
  // HTTP/2 and 3 recordings are replayed as HTTP/1.1 requests: the engine sees the same
  // head (pseudo-headers become the request line and Host), as a proxy in front would send.
  return version === 'HTTP/1.0' || version === 'http/1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
}

function harEntry(entry: Json, index: number, file: string): RecordedRequest {
  const req = isObject(entry) ? entry.request : undefined;
  if (!isObject(req) || typeof req.method !== 'string' || typeof req.url !== 'string') {
    throw new RecordingError('WARDEN_RECORDING_ENTRY', file, `entry ${index} has no request with a method and a url`);
  }
  const notes: string[] = [];
  const headers: Array<readonly [string, string]> = [];
  let authority: string | null = null;
  for (const h of Array.isArray(req.headers) ? req.headers : []) {
    if (!isObject(h) || typeof h.name !== 'string') continue;
    const value = typeof h.value === 'string' ? h.value : String(h.value ?? '');
    if (h.name.startsWith(':')) {
      if (h.name === ':authority') authority = value;
      continue;
    }
    headers.push([h.name, utf8Bytes(value)]);
  }
  const { target, authority: fromUrl } = originForm(req.url);
  if (!hasHeader(headers, 'host')) headers.unshift(['Host', authority ?? fromUrl ?? '']);
  let body = '';
  const post = req.postData;
  if (isObject(post)) {
    if (typeof post.text === 'string') {
      body = post.encoding === 'base64' ? Buffer.from(post.text, 'base64').toString('latin1') : utf8Bytes(post.text);
    } else if (Array.isArray(post.params)) {
      // Some exporters keep a form only as its fields; a urlencoded body is their wire form.
      body = post.params
        .filter(isObject)
        .map((p) => `${encodeURIComponent(String(p.name ?? ''))}=${encodeURIComponent(String(p.value ?? ''))}`)
        .join('&');
      notes.push('body rebuilt from postData.params');
    }
  }
  if (body !== '' && !hasHeader(headers, 'content-length') && !hasHeader(headers, 'transfer-encoding')) {
    headers.push(['Content-Length', String(body.length)]);
  }
  const res = isObject(entry) ? entry.response : undefined;
  const status = isObject(res) && typeof res.status === 'number' && res.status > 0 ? res.status : null;
  const comment = isObject(entry) && typeof entry.comment === 'string' ? entry.comment : '';
  return {
    index,
    method: req.method,
    target: utf8Bytes(target),
    protocol: harProtocol(req.httpVersion),
    headers,
    body,
    clientAddress: null,
    recorded: { status, intercepted: null, ruleIds: [] },
    notes,
    label: comment,
  };
}

/**
 * Reads a HAR document.
 *
 * @example
 * const { requests } = parseHar(readFileSync('session.har', 'utf8'), 'session.har');
 */
export function parseHar(text: string, file: string): Recording {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    throw new RecordingError('WARDEN_RECORDING_FORMAT', file, `not JSON: ${(err as Error).message}`);
  }
  const entries = isObject(doc) && isObject(doc.log) ? doc.log.entries : undefined;
  if (!Array.isArray(entries)) throw new RecordingError('WARDEN_RECORDING_FORMAT', file, 'not a HAR file (no log.entries)');
  return { format: 'har', requests: entries.map((e, i) => harEntry(e, i + 1, file)) };
}

function auditRecord(record: Json, line: number, file: string): RecordedRequest {
  const request = isObject(record) ? record.request : undefined;
  const tx = isObject(record) ? record.transaction : undefined;
  const requestLine = isObject(request) ? request.request_line : undefined;
  if (!isObject(request) || typeof requestLine !== 'string') {
    throw new RecordingError('WARDEN_RECORDING_ENTRY', file, `line ${line}: no request line (the audit log needs part B: SecAuditLogParts with B)`);
  }
  const m = /^(\S+) (\S+)(?: (\S+))?$/.exec(requestLine);
  if (m === null) throw new RecordingError('WARDEN_RECORDING_ENTRY', file, `line ${line}: request line ${JSON.stringify(requestLine)} is not METHOD TARGET PROTOCOL`);
  const notes: string[] = [];
  const headers: Array<readonly [string, string]> = [];
  if (isObject(request.headers)) for (const [k, v] of Object.entries(request.headers)) headers.push([k, utf8Bytes(String(v ?? ''))]);
  let body = '';
  if (Array.isArray(request.body)) body = utf8Bytes(request.body.map((b) => String(b ?? '')).join(''));
  else if (typeof request.fake_body === 'string') {
    notes.push('multipart body not in the audit log (only its form fields, part I): replayed without it');
  }
  const hasLength = headers.find(([k]) => k.toLowerCase() === 'content-length');
  if (body === '' && hasLength !== undefined && hasLength[1] !== '0' && request.fake_body === undefined) {
    notes.push('body not in the audit log (SecAuditLogParts without C or I): replayed without it');
  }
  if (body.includes('\xef\xbf\xbd')) notes.push('body had bytes that are not UTF-8 (the audit log keeps them as U+FFFD)');
  const response = isObject(record) ? record.response : undefined;
  const audit = isObject(record) ? record.audit_data : undefined;
  const ruleIds: number[] = [];
  const matched = isObject(record) ? record.matched_rules : undefined;
  for (const chain of Array.isArray(matched) ? matched : []) {
    const first = isObject(chain) && Array.isArray(chain.rules) ? chain.rules[0] : undefined;
    const id = isObject(first) && isObject(first.actionset) ? Number(first.actionset.id) : NaN;
    if (Number.isFinite(id) && !ruleIds.includes(id)) ruleIds.push(id);
  }
  const address = isObject(tx) && typeof tx.remote_address === 'string' && tx.remote_address !== '' ? tx.remote_address : null;
  // A request refused before the engine saw it (a banned client, a framing error) has a
  // record of its own: its verdict was not the rules', so it is not compared with theirs.
  const messages = isObject(audit) && Array.isArray(audit.messages) ? audit.messages : [];
  const early = typeof messages[0] === 'string' ? /^Request rejected with code (\d+) before the rules ran: (.*?)\.?$/.exec(messages[0]) : null;
  if (early !== null) notes.push(`refused ${early[1]} before the rules ran when recorded (${early[2]}): replayed through the rules`);
  return {
    index: line,
    method: m[1] as string,
    target: utf8Bytes(originForm(m[2] as string).target),
    protocol: m[3] ?? 'HTTP/1.1',
    headers,
    body,
    clientAddress: address,
    recorded: {
      status: isObject(response) && typeof response.status === 'number' ? response.status : null,
      intercepted: early !== null || !isObject(audit) ? null : isObject(audit.action) && audit.action.intercepted === true,
      ruleIds,
    },
    notes,
    label: isObject(tx) && typeof tx.transaction_id === 'string' ? tx.transaction_id : '',
  };
}

/**
 * Reads Warden's JSON audit log (one record per line; blank lines skipped).
 *
 * @example
 * const { requests } = parseAuditLog(readFileSync('/var/log/warden/audit.log', 'utf8'), 'audit.log');
 */
export function parseAuditLog(text: string, file: string): Recording {
  const requests: RecordedRequest[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    let record: Json;
    try {
      record = JSON.parse(line) as Json;
    } catch {
      throw new RecordingError('WARDEN_RECORDING_FORMAT', file, `line ${i + 1} is not JSON (replay reads JSON audit logs: logs.auditFormat json, SecAuditLogFormat JSON)`);
    }
    requests.push(auditRecord(record, i + 1, file));
  }
  return { format: 'audit-json', requests };
}

/**
 * Reads a recording, telling the formats apart by content: a HAR file is one JSON document
 * with `log.entries`; an audit log is one JSON record per line.
 */
export function readRecording(path: string): Recording {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RecordingError('WARDEN_RECORDING_READ', path, (err as Error).message);
  }
  const start = text.trimStart();
  if (start === '') return { format: 'audit-json', requests: [] };
  if (!start.startsWith('{')) {
    throw new RecordingError('WARDEN_RECORDING_FORMAT', path, 'neither a HAR file nor a JSON audit log (a native-format audit log cannot be replayed: set logs.auditFormat: json)');
  }
  // A HAR file's first line is not a whole JSON object; an audit log's is.
  const firstLine = start.slice(0, start.indexOf('\n') < 0 ? undefined : start.indexOf('\n'));
  let firstIsRecord: boolean;
  try {
    const first = JSON.parse(firstLine) as Json;
    firstIsRecord = isObject(first) && ('transaction' in first || 'request' in first);
  } catch {
    firstIsRecord = false;
  }
  return firstIsRecord ? parseAuditLog(text, path) : parseHar(text, path);
}
