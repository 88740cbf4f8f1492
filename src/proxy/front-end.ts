/**
 * @module proxy/front-end
 * What Warden's front end refuses before a request may reach an upstream, and how such a
 * request still reaches the rules.
 *
 * Refused: what Node's parser refuses (client-error.ts), and on top of it what RFC 9112
 * says a server must or may refuse and Node lets through (`admit`):
 *
 * - a request line naming `HTTP/0.x` (an HTTP/0.9 request carries no version; one that
 *   names a version below 1.0 is malformed), a major version above 1 (505);
 * - a fragment (`#`) in the request target, which no client sends;
 * - a Host header that is repeated, not a host name, IPv4 or [IPv6] address with an
 *   optional port (Apache's rule), or missing or empty in an HTTP/1.1 request (§3.2);
 * - Transfer-Encoding in an HTTP/1.0 request (§6.1), a CONNECT target that is not
 *   `host:port` (§3.2.3), an asterisk-form target, and an absolute-form one that disagrees
 *   with Host: requests two parsers could read differently are never forwarded.
 *
 * A refused request is not invisible. When its head can be read (request line and header
 * fields, up to the blank line) it becomes a transaction that runs phase 1, phase 2 without
 * a body (a body whose framing was refused is never read) and phase 5, and is logged like
 * any other (error-log lines with the real client, the audit record, the access log, the
 * ban engine's event). Malformed requests are what scanners and smuggling probes send; a
 * WAF that drops them unseen lets a client probe for free. The answer is the refusal
 * whatever the rules decide, so the rules cannot let such a request through.
 */
import type { IncomingMessage } from 'node:http';
import type { ResponseSummary } from '../audit/types.js';
import type { Transaction } from '../engine/transaction.js';
import type { Waf } from '../engine/waf.js';
import type { ClientInfo } from '../http/request-model.js';
import type { Generation } from './generation.js';
import { hostName } from './routes.js';
import type { ExchangeHost } from './types.js';

/** A request head read from bytes Node's parser refused. */
export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** `HTTP/0.9` for a request line without a version (such a request has no headers). */
  readonly protocol: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** Where an admitted request goes: the origin-form path sent upstream and the host routed on. */
export interface Admitted {
  readonly path: string;
  readonly host: string;
}

/** Why a request is refused, and with which status. */
export interface Refusal {
  readonly status: number;
  readonly reason: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Apache's rule for Host (vhost.c fix_hostname): letters, digits, '-', '_', '.', then an
// optional port; or a bracketed IPv6 literal.
const HOST = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?$/;
const AUTHORITY = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):[0-9]+$/;
/** An absolute-form target's authority and path (`http://host:8080/p?q` → host:8080, /p?q). */
const ABSOLUTE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)(.*)$/;

/**
 * Reads a request head from raw bytes (latin1): the request line (method, target, and a
 * version unless it is an HTTP/0.9 request) and the header fields up to the blank line,
 * obs-fold continuations joined, lines ended by CRLF or a lone LF. Null when there is no
 * complete head to read.
 *
 * @example
 * readHead('FOO /x HTTP/1.1\r\nHost: a\r\n\r\n');
 * // { method: 'FOO', target: '/x', protocol: 'HTTP/1.1', headers: [['Host', 'a']] }
 */
export function readHead(bytes: string): RequestHead | null {
  const eol = bytes.indexOf('\n');
  const firstLine = (eol < 0 ? bytes : bytes.slice(0, eol)).replace(/\r$/, '');
  const m = /^([^ ]+) ([^ ]+)(?: (.*))?$/.exec(firstLine);
  if (m === null || !TOKEN.test(m[1] as string)) return null;
  const method = m[1] as string;
  const target = m[2] as string;
  const version = m[3] ?? '';
  if (version === '') {
    // HTTP/0.9: a request is its request line; what follows is not read as headers.
    return eol < 0 ? null : { method, target, protocol: 'HTTP/0.9', headers: [] };
  }
  if (!/^HTTP\/[0-9]+\.[0-9]+$/.test(version)) return null;
  const crlf = bytes.indexOf('\r\n\r\n');
  const lf = bytes.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
  if (end < 0) return null;
  const headers: Array<[string, string]> = [];
  for (const raw of bytes.slice(eol + 1, end).split('\n')) {
    // A bare CR inside a field line is read as a space (RFC 9112 §2.2 lets a recipient
    // replace it with SP): it ends no line here, as it would for some other parser.
    const line = raw.replace(/\r$/, '').replaceAll('\r', ' ');
    if (/^[ \t]/.test(line)) {
      const last = headers[headers.length - 1];
      if (last === undefined) return null;
      last[1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    headers.push([line.slice(0, colon).trimEnd(), line.slice(colon + 1).trim()]);
  }
  return { method, target, protocol: version, headers };
}

/**
 * Where a request Node's parser accepted goes, after the checks that make it unambiguous;
 * or why it is refused. A CONNECT request is routed as the path `/` (it names no path).
 *
 * @example
 * admit(req); // { path: '/a?b', host: 'example.org' } or { status: 400, reason: 'a fragment in the request target' }
 */
export function admit(req: IncomingMessage): Admitted | Refusal {
  const raw = req.rawHeaders;
  let host: string | null = null;
  let hosts = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++;
      host ??= raw[i + 1] as string;
    }
  }
  // llhttp lets `HTTP/0.9` and `HTTP/2.0` request lines through in HTTP/1 framing.
  if (req.httpVersionMajor === 0) return { status: 400, reason: `a request line naming HTTP/${req.httpVersion}` };
  if (req.httpVersionMajor !== 1) return { status: 505, reason: `HTTP/${req.httpVersion} is not supported` };
  if (hosts > 1) return { status: 400, reason: 'more than one Host header' };
  if (req.httpVersionMinor === 0 && req.headers['transfer-encoding'] !== undefined) {
    // RFC 9112 §6.1: an HTTP/1.0 hop may not have understood the chunking; the framing is
    // ambiguous, so the request is not forwarded.
    return { status: 400, reason: 'Transfer-Encoding in an HTTP/1.0 request' };
  }
  if ((host === null || host === '') && req.httpVersionMinor >= 1) return { status: 400, reason: 'HTTP/1.1 request without Host' };
  if (host !== null && host !== '' && !HOST.test(host)) return { status: 400, reason: 'an invalid Host header' };
  const url = req.url ?? '/';
  if (req.method === 'CONNECT') {
    if (!AUTHORITY.test(url)) return { status: 400, reason: 'a CONNECT target that is not host:port' };
    return { path: '/', host: host ?? url };
  }
  if (url.includes('#')) return { status: 400, reason: 'a fragment in the request target' };
  if (url.charCodeAt(0) === 0x2f /* / */) return { path: url, host: host ?? '' };
  const abs = ABSOLUTE.exec(url);
  if (abs !== null) {
    const authority = abs[1] as string;
    if (host !== null && hostName(authority) !== hostName(host)) return { status: 400, reason: 'absolute-form target and Host disagree' };
    const path = abs[2] as string;
    return { path: path === '' ? '/' : path.charCodeAt(0) === 0x3f /* ? */ ? `/${path}` : path, host: host ?? authority };
  }
  return { status: 400, reason: url === '*' ? 'asterisk-form target (OPTIONS *) is not forwarded' : 'request target is neither origin-form nor absolute-form' };
}

/** A transaction for a head read from refused bytes; phase 1 has not run. */
export function refusedTransaction(waf: Waf, head: RequestHead, client: ClientInfo): Transaction {
  const tx = waf.newTransaction();
  tx.processConnection(client.address, client.port, client.localAddress, client.localPort);
  tx.processRequestLine(head.method, head.target, head.protocol);
  for (const [k, v] of head.headers) tx.addRequestHeader(k, v);
  return tx;
}

/**
 * Phases 1 and 2 (without a body) and 5 for a refused request. The transaction's verdict
 * changes nothing: the client already has its refusal.
 */
export async function inspectRefused(tx: Transaction): Promise<void> {
  if ((await tx.processRequestHeaders()) === null) await tx.processRequestBody();
  await tx.processLogging();
}

/**
 * Runs `inspectRefused` on a refused request's transaction in the background and logs it
 * as answered with `response`. The generation is held until the record is written, so a
 * reload does not close its logs under it.
 */
export function logRefused(host: ExchangeHost, gen: Generation, tx: Transaction, response: ResponseSummary): void {
  gen.acquire();
  inspectRefused(tx).then(
    () => {
      gen.logs.transactionDone(tx, response);
      gen.release();
    },
    (err: unknown) => {
      host.log('error', `[client ${tx.remoteAddr?.value ?? ''}] inspecting refused request ${tx.id} failed: ${(err as Error)?.stack ?? String(err)}`);
      gen.release();
    },
  );
}
