/**
 * @module http/error-page
 * What a client receives when Warden stops a request: the rule's status with a small page,
 * HTML or JSON as the client's Accept asks, carrying the transaction id so a user can quote
 * it and an admin can find the audit record; a Location for redirect; nothing at all for
 * drop (the connection is closed). Shared by the proxy and the middleware adapters.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Interruption } from '../engine/transaction.js';

export interface ErrorPageOptions {
  /** HTML template; `{{status}}`, `{{reason}}` and `{{id}}` are replaced. */
  readonly html?: string;
  /** JSON template, same placeholders (values are JSON-escaped). */
  readonly json?: string;
}

const DEFAULT_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>{{status}} {{reason}}</title></head>
<body><h1>{{status}} {{reason}}</h1>
<p>This request was blocked by the site's web application firewall.</p>
<p>Reference: <code>{{id}}</code></p></body></html>
`;

const DEFAULT_JSON = '{"status":{{status}},"error":"{{reason}}","transaction":"{{id}}"}\n';

function fill(template: string, status: number, reason: string, id: string, escape: (s: string) => string): string {
  return template.replaceAll('{{status}}', String(status)).replaceAll('{{reason}}', escape(reason)).replaceAll('{{id}}', escape(id));
}

const html = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const json = (s: string): string => JSON.stringify(s).slice(1, -1);

/** True when the client prefers JSON (an API client) to HTML. */
export function wantsJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const a = accept.toLowerCase();
  return a.includes('application/json') && !a.includes('text/html');
}

/**
 * Answers an interrupted request on `res` (headers must not be sent yet). For `drop` the
 * socket is destroyed and nothing is written.
 */
export function sendInterruption(
  res: ServerResponse,
  it: Interruption,
  transactionId: string,
  accept: string | undefined,
  options: ErrorPageOptions = {},
): void {
  if (it.action === 'drop') {
    res.socket?.destroy();
    return;
  }
  const reason = STATUS_CODES[it.status] ?? 'Error';
  const asJson = wantsJson(accept);
  const body = asJson
    ? fill(options.json ?? DEFAULT_JSON, it.status, reason, transactionId, json)
    : fill(options.html ?? DEFAULT_HTML, it.status, reason, transactionId, html);
  const headers: Record<string, string | number> = {
    'content-type': asJson ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-warden-transaction': transactionId,
  };
  if (it.action === 'redirect' && it.url !== null) headers.location = it.url;
  res.writeHead(it.status, headers);
  res.end(body);
}
