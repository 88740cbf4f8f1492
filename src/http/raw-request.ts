/**
 * @module http/raw-request
 * Parses one raw HTTP/1.x request from bytes (a file for `warden eval`, a test fixture):
 * request line, headers in arrival order (repeated ones kept), and the body, de-chunked
 * when Transfer-Encoding is chunked. Bytes stay bytes (latin1 strings).
 */

export interface RawRequest {
  readonly method: string;
  readonly target: string;
  readonly protocol: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

export class RawRequestError extends Error {
  readonly code = 'WARDEN_RAW_REQUEST';
  constructor(message: string) {
    super(message);
    this.name = 'RawRequestError';
  }
}

/** Decodes a chunked body; throws RawRequestError on malformed framing. */
export function dechunk(data: string): string {
  let out = '';
  let p = 0;
  for (;;) {
    const eol = data.indexOf('\n', p);
    if (eol < 0) throw new RawRequestError('chunked body: missing chunk size line');
    const sizeText = data.slice(p, eol).replace(/\r$/, '').replace(/;.*$/, '').trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new RawRequestError(`chunked body: invalid chunk size "${sizeText}"`);
    const size = parseInt(sizeText, 16);
    p = eol + 1;
    if (size === 0) return out;
    if (p + size > data.length) throw new RawRequestError('chunked body: chunk longer than the data');
    out += data.slice(p, p + size);
    p += size;
    if (data.startsWith('\r\n', p)) p += 2;
    else if (data[p] === '\n') p += 1;
    else throw new RawRequestError('chunked body: missing line break after a chunk');
  }
}

/**
 * @example
 * const req = parseRawRequest('GET /?q=1 HTTP/1.1\r\nHost: a\r\n\r\n');
 * req.target; // '/?q=1'
 */
export function parseRawRequest(bytes: string): RawRequest {
  let headEnd = bytes.indexOf('\r\n\r\n');
  let sepLength = 4;
  const lfEnd = bytes.indexOf('\n\n');
  if (headEnd < 0 || (lfEnd >= 0 && lfEnd < headEnd)) {
    headEnd = lfEnd;
    sepLength = 2;
  }
  const head = headEnd < 0 ? bytes : bytes.slice(0, headEnd);
  const rest = headEnd < 0 ? '' : bytes.slice(headEnd + sepLength);
  const lines = head.split('\n').map((l) => l.replace(/\r$/, ''));
  const requestLine = lines.shift() ?? '';
  const m = /^(\S+) (\S+)(?: (HTTP\/\d(?:\.\d)?))?$/.exec(requestLine);
  if (m === null) throw new RawRequestError(`invalid request line: "${requestLine}"`);
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      // obs-fold: a continuation of the previous header's value.
      const last = headers[headers.length - 1] as [string, string];
      last[1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new RawRequestError(`invalid header line: "${line}"`);
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const header = (name: string): string | undefined => headers.find(([k]) => k.toLowerCase() === name)?.[1];
  let body = rest;
  if (/\bchunked\b/i.test(header('transfer-encoding') ?? '')) body = dechunk(rest);
  else {
    const cl = header('content-length');
    if (cl !== undefined && /^\d+$/.test(cl)) body = rest.slice(0, Number(cl));
  }
  return { method: m[1] as string, target: m[2] as string, protocol: m[3] ?? 'HTTP/1.1', headers, body };
}
