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
 * | well-formed version other than 1.0/1.1 (`HTTP/1.2`, `HTTP/4.0`), HTTP/2 preface | 505 |
 * | everything else (smuggling, bad chunk size, bare LF, duplicate Content-Length, bad characters, `HTTP/0.8` …) | 400 |
 *
 * A version below 1.0 named in a request line is malformed rather than unsupported: the only
 * one there ever was, HTTP/0.9, carries no version (RFC 9112 §2.3 and Apache's 400 for it).
 * A request line without a version is an HTTP/0.9 request, answered as 0.9 is: the body
 * alone, no status line, no headers.
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
      const version = VERSION.exec(firstLine(err.rawPacket))?.[1];
      return version !== undefined && version !== '1.0' && version !== '1.1' && !version.startsWith('0') ? { status: 505, reason: `HTTP/${version} is not supported` } : { status: 400, reason };
    }
    case 'HPE_PAUSED_H2_UPGRADE': {
      // The HTTP/2 connection preface (PRI * HTTP/2.0): prior-knowledge HTTP/2 is not spoken here.
      return { status: 505, reason: 'HTTP/2 is not supported on this listener' };
    }
    default:
      return { status: 400, reason };
  }
}

/** A refusal as sent: the bytes, and the headers and body length for the log record. */
export interface ClientErrorResponse {
  readonly bytes: Buffer;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly bodyLength: number;
}

/**
 * The complete response for a refused request; the connection is closed after it. For an
 * HTTP/0.9 request (`http09`) only the body is sent, as 0.9 has no status line.
 */
export function clientErrorResponse(answer: ClientErrorAnswer, http09 = false): ClientErrorResponse {
  const text = STATUS_CODES[answer.status] ?? 'Error';
  const body = `${answer.status} ${text}: ${answer.reason}\n`;
  const bodyLength = Buffer.byteLength(body);
  if (http09) return { bytes: Buffer.from(body, 'latin1'), headers: [], bodyLength };
  const headers: Array<readonly [string, string]> = [
    ['Connection', 'close'],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Cache-Control', 'no-store'],
    ['Content-Length', String(bodyLength)],
  ];
  let head = `HTTP/1.1 ${answer.status} ${text}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  return { bytes: Buffer.from(`${head}\r\n${body}`, 'latin1'), headers, bodyLength };
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
