/**
 * @module proxy/client-error
 * Requests Node's HTTP parser refuses (llhttp in strict mode) never reach the engine or the
 * upstream: they get a defined status here, with `Connection: close`, and the connection is
 * closed, since after a framing error nothing later on it can be trusted. Which status:
 *
 * | parser error                                   | status |
 * |------------------------------------------------|--------|
 * | request head larger than maxHeaderSize         | 431    |
 * | chunk extensions too long                      | 413    |
 * | request (head) not received in time            | 408    |
 * | well-formed but unknown method (`FOO / …`)     | 501    |
 * | well-formed version other than 1.0/1.1 (`HTTP/1.2`), HTTP/2 preface | 505 |
 * | everything else (smuggling, bad chunk size, bare LF, duplicate Content-Length, bad characters …) | 400 |
 *
 * Errors of the connection itself (reset, broken pipe) are not requests: no answer, no record.
 */
import { STATUS_CODES } from 'node:http';

/** A parse error as Node's server hands it to `clientError`. */
export interface ParserError extends Error {
  code?: string;
  /** llhttp's words for it ("Duplicate Content-Length"). */
  reason?: string;
  /** The bytes being parsed when it failed. */
  rawPacket?: Buffer;
  bytesParsed?: number;
}

export interface ClientErrorAnswer {
  readonly status: number;
  /** Why, in words, for the log and the response body. */
  readonly reason: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VERSION = /^[^ ]+ [^ ]+ HTTP\/(\d\.\d)\r?$/;

/** The first line of the bytes being parsed (latin1), at most 8 KiB of it. */
function firstLine(raw: Buffer | undefined): string {
  if (raw === undefined) return '';
  const end = raw.indexOf(0x0a);
  return raw.subarray(0, Math.min(end < 0 ? raw.length : end, 8192)).toString('latin1');
}

/**
 * The answer for an error `clientError` reported, or null when it is a connection error
 * (nothing to answer; the socket is just closed).
 *
 * @example
 * clientErrorAnswer(Object.assign(new Error('Parse Error'), { code: 'HPE_HEADER_OVERFLOW', reason: 'Header overflow' }));
 * // { status: 431, reason: 'Header overflow' }
 */
export function clientErrorAnswer(err: ParserError): ClientErrorAnswer | null {
  const code = err.code ?? '';
  const reason = err.reason ?? err.message;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'request not received in time' };
  if (!code.startsWith('HPE_')) return null;
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'request head larger than the limit (maxHeaderSize)' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, reason };
    case 'HPE_INVALID_METHOD': {
      const method = firstLine(err.rawPacket).split(' ')[0] ?? '';
      return TOKEN.test(method) && firstLine(err.rawPacket).includes(' ') ? { status: 501, reason: `method "${method}" not supported` } : { status: 400, reason };
    }
    case 'HPE_INVALID_VERSION': {
      const m = VERSION.exec(firstLine(err.rawPacket));
      return m !== null && m[1] !== '1.0' && m[1] !== '1.1' ? { status: 505, reason: `HTTP/${m[1]} is not supported` } : { status: 400, reason };
    }
    case 'HPE_PAUSED_H2_UPGRADE': {
      // The HTTP/2 connection preface (PRI * HTTP/2.0): prior-knowledge HTTP/2 is not spoken here.
      return { status: 505, reason: 'HTTP/2 is not supported on this listener' };
    }
    default:
      return { status: 400, reason };
  }
}

/** The complete response for a refused request; the connection is closed after it. */
export function clientErrorResponse(answer: ClientErrorAnswer): Buffer {
  const text = STATUS_CODES[answer.status] ?? 'Error';
  const body = `${answer.status} ${text}: ${answer.reason}\n`;
  return Buffer.from(
    `HTTP/1.1 ${answer.status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Cache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  );
}

/**
 * The request head as far as it was received (latin1, up to the blank line, at most
 * 16 KiB), for the log record.
 */
export function receivedHead(raw: Buffer | undefined): string {
  if (raw === undefined) return '';
  const end = raw.indexOf('\r\n\r\n');
  return raw.subarray(0, Math.min(end < 0 ? raw.length : end + 4, 16384)).toString('latin1');
}

/** Every value of a header in a raw head (best effort, for a head the parser refused). */
export function rawHeaderValues(head: string, lowerName: string): string[] {
  const out: string[] = [];
  const lines = head.split(/\r?\n/);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === lowerName) out.push(line.slice(colon + 1).trim());
  }
  return out;
}
