/**
 * @module audit/access
 * One-line request summaries: the access log in Apache's (and nginx's) combined format, and
 * the index line ModSecurity writes for each concurrent audit entry
 * (msc_logging.c construct_log_vcombinedus_limited). Both start with the real client address,
 * so log readers (fail2ban, goaccess) key on the client, not on a proxy in front of Warden.
 */
import { logEscape, logEscapeNoQuotes } from './escape.js';
import { accessLogTime, auditLogTime } from './time.js';

export interface AccessLogFields {
  readonly clientAddress: string;
  readonly remoteUser: string | null;
  /** Microseconds since the epoch when the request began. */
  readonly time: number;
  /** The request line as received (bytes). */
  readonly requestLine: string;
  readonly status: number;
  readonly bytesSent: number;
  readonly referer: string | null;
  readonly userAgent: string | null;
}

/**
 * `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"` with Apache's escaping of the
 * quoted fields (quotes, backslashes, control and non-ASCII bytes escaped).
 */
export function combinedLine(f: AccessLogFields): string {
  const quoted = (v: string | null): string => (v === null || v === '' ? '-' : logEscape(v));
  return (
    `${f.clientAddress || '-'} - ${f.remoteUser === null || f.remoteUser === '' ? '-' : logEscape(f.remoteUser)} [${accessLogTime(f.time)}]` +
    ` "${logEscape(f.requestLine)}" ${f.status} ${f.bytesSent > 0 ? f.bytesSent : '-'} "${quoted(f.referer)}" "${quoted(f.userAgent)}"\n`
  );
}

export interface IndexLineFields {
  readonly hostname: string;
  readonly clientAddress: string;
  readonly remoteUser: string | null;
  /** Microseconds since the epoch. */
  readonly time: number;
  readonly requestLine: string;
  readonly status: number;
  readonly bytesSent: number;
  readonly uniqueId: string;
  /** The entry's path below the storage folder, starting with `/`. */
  readonly file: string;
  readonly size: number;
  readonly md5: string;
}

/** v2 keeps index lines under 3980 bytes, shortening the request line (and marking `L`). */
const INDEX_LIMIT = 3980;

/**
 * `host client - user [time] "request" status bytes "-" "-" id "-" /file 0 size md5:hash `
 * as v2 writes it: referer and user agent always `-`, a trailing space (or ` L` when the
 * request line had to be cut), then the newline.
 */
export function indexLine(f: IndexLineFields): string {
  // v2's third field is the ident name (never known), the fourth the authenticated user.
  const head = `${logEscapeNoQuotes(f.hostname || '-')} ${f.clientAddress} - ${f.remoteUser === null ? '-' : logEscapeNoQuotes(f.remoteUser)} [${auditLogTime(f.time)}] "`;
  const tail = `" ${f.status} ${f.bytesSent} "-" "-" ${logEscape(f.uniqueId)} "-" ${f.file} 0 ${f.size} md5:${f.md5}`;
  let request = logEscape(f.requestLine);
  let limited = false;
  const room = INDEX_LIMIT - head.length - tail.length - 3;
  if (request.length > room) {
    request = request.slice(0, Math.max(0, room));
    limited = true;
  }
  return `${head}${request}${tail} ${limited ? 'L' : ''}\n`;
}
