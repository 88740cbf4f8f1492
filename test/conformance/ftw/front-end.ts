/**
 * @module test/conformance/ftw/front-end
 * What Warden's front end refuses before a request may reach the backend, and how it still
 * lets the rules see such a request. Node's parser refuses much on its own (an unknown
 * method, a version other than HTTP/1.0–1.1, bytes outside ASCII in the target, a bad
 * Content-Length, Content-Length with Transfer-Encoding …); on top of that Warden refuses
 * what RFC 9112 says a server must or may refuse and Node lets through:
 *
 * - a request line that names `HTTP/0.9` (0.9 requests carry no version; one that names it
 *   is malformed), and a fragment (`#`) in the request target (never sent by a client);
 * - a Host header that is repeated, or is not a host name, IPv4 or [IPv6] address with an
 *   optional port, or is empty in an HTTP/1.1 request (§3.2: "MUST respond with 400");
 * - a CONNECT target that is not `host:port` (§3.2.3).
 *
 * The choice (issue 6): a refused request is answered 400 and never forwarded, but it is
 * not invisible. When its head can be read — request line and header fields, up to the
 * blank line — it becomes a transaction that runs phase 1, phase 2 without a body (a body
 * whose framing was refused is never read) and phase 5: rules score it, the error and
 * audit logs record it, and the ban engine hears about it. Malformed requests are what
 * scanners and smuggling probes send; a WAF that drops them unseen lets a client probe for
 * free. The answer stays 400 whatever the rules decide, so the rules cannot let such a
 * request through. A head that cannot be read is answered 400 with no transaction.
 *
 * This is the harness's copy of the policy; the proxy (src/proxy) is where it belongs.
 */
import type { IncomingMessage } from 'node:http';

/** A request head read from bytes Node refused. */
export interface RefusedHead {
  readonly method: string;
  readonly target: string;
  /** `HTTP/0.9` for a request line without a version (such a request has no headers). */
  readonly protocol: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Apache's rule for Host (vhost.c fix_hostname): letters, digits, '-', '_', '.', then an
// optional port; or a bracketed IPv6 literal.
const HOST = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?$/;
const AUTHORITY = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):[0-9]+$/;

/**
 * Reads a request head from raw bytes: the request line (method, target, and a version
 * unless it is an HTTP/0.9 request) and the header fields up to the blank line, with
 * obs-fold continuations joined and lines ended by CRLF or a lone LF. Null when there is
 * no complete head to read.
 */
export function readHead(bytes: string): RefusedHead | null {
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

/** Why Warden refuses a request Node accepted, or null. */
export function refusalOf(req: IncomingMessage): string | null {
  if (req.httpVersion === '0.9') return 'a request line naming HTTP/0.9';
  const target = req.url ?? '';
  if (req.method === 'CONNECT') {
    if (!AUTHORITY.test(target)) return 'a CONNECT target that is not host:port';
  } else if (target.includes('#')) return 'a fragment in the request target';
  const hosts: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === 'host') hosts.push(raw[i + 1] as string);
  if (hosts.length > 1) return 'more than one Host header';
  const host = hosts[0];
  if (host === undefined || host === '') return req.httpVersion === '1.1' ? 'an HTTP/1.1 request without a host' : null;
  if (!HOST.test(host)) return 'an invalid Host header';
  return null;
}
