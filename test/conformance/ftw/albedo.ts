/**
 * @module test/conformance/ftw/albedo
 * The backend of CRS's test setup (github.com/coreruleset/albedo, a Go net/http server) as
 * a function: every request gets an empty 200, except `POST /reflect`, which answers with
 * the status, headers and body its JSON body asks for. The headers are those Go's server
 * would send: `Content-Length` for the body, and a `Content-Type` sniffed from the body
 * (net/http.DetectContentType) when the reflection names none.
 */

export interface BackendResponse {
  readonly status: number;
  readonly headers: Array<[string, string]>;
  /** Bytes (latin1). */
  readonly body: string;
}

interface ReflectionSpec {
  status?: unknown;
  headers?: unknown;
  body?: unknown;
  encodedBody?: unknown;
}

const utf8 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

/** HTML signatures DetectContentType knows (after leading whitespace, case-insensitive, then a space or '>'). */
const HTML_SIGNATURES = ['<!DOCTYPE HTML', '<HTML', '<HEAD', '<SCRIPT', '<IFRAME', '<H1', '<DIV', '<FONT', '<TABLE', '<A', '<STYLE', '<TITLE', '<B', '<BODY', '<BR', '<P', '<!--'];

/**
 * net/http.DetectContentType for the bodies a test can reflect: HTML and XML signatures,
 * PDF and PostScript, byte-order marks, then text unless a binary byte appears in the
 * first 512 bytes. (Image, audio, archive and font signatures are left out: a reflected
 * body of that kind would read as application/octet-stream here, as most of them do there.)
 */
export function detectContentType(body: string): string {
  const data = body.slice(0, 512);
  const ws = /^[\t\n\x0c\r ]*/.exec(data)?.[0].length ?? 0;
  const rest = data.slice(ws);
  for (const sig of HTML_SIGNATURES) {
    if (rest.length > sig.length && rest.slice(0, sig.length).toUpperCase() === sig && /[ >]/.test(rest[sig.length] as string)) {
      return 'text/html; charset=utf-8';
    }
  }
  if (rest.startsWith('<?xml')) return 'text/xml; charset=utf-8';
  if (data.startsWith('%PDF-')) return 'application/pdf';
  if (data.startsWith('%!PS-Adobe-')) return 'application/postscript';
  if (data.startsWith('\xfe\xff') || data.startsWith('\xff\xfe')) return 'text/plain; charset=utf-16' + (data.startsWith('\xfe\xff') ? 'be' : 'le');
  if (data.startsWith('\xef\xbb\xbf')) return 'text/plain; charset=utf-8';
  // Go's "binary data" bytes: controls other than \t \n \x0c \r and ESC.
  if (/[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]/.test(data)) return 'application/octet-stream';
  return 'text/plain; charset=utf-8';
}

function reflect(body: string): BackendResponse {
  let spec: ReflectionSpec;
  try {
    spec = JSON.parse(Buffer.from(body, 'latin1').toString('utf8')) as ReflectionSpec;
  } catch {
    return textResponse(400, 'Invalid JSON in request body');
  }
  if (typeof spec !== 'object' || spec === null) return textResponse(400, 'Invalid JSON in request body');
  const status = typeof spec.status === 'number' ? spec.status : 0;
  if ((status > 0 && status < 100) || status >= 600) return textResponse(400, `Invalid status code: ${status}`);
  const headers: Array<[string, string]> = [];
  if (typeof spec.headers === 'object' && spec.headers !== null) {
    for (const [k, v] of Object.entries(spec.headers as Record<string, unknown>)) {
      if (typeof v === 'string') headers.push([utf8(k), utf8(v)]);
    }
  }
  let out = '';
  if (typeof spec.body === 'string' && spec.body !== '') out = utf8(spec.body);
  else if (typeof spec.encodedBody === 'string' && spec.encodedBody !== '') out = Buffer.from(spec.encodedBody, 'base64').toString('latin1');
  return finish(status === 0 ? 200 : status, headers, out);
}

function textResponse(status: number, text: string): BackendResponse {
  return finish(status, [], text);
}

/** Adds what Go's server adds: Content-Type by sniffing a non-empty body, and Content-Length. */
function finish(status: number, headers: Array<[string, string]>, body: string): BackendResponse {
  const has = (name: string): boolean => headers.some(([k]) => k.toLowerCase() === name);
  if (body.length > 0 && !has('content-type')) headers.push(['Content-Type', detectContentType(body)]);
  if (!has('content-length') && !has('transfer-encoding')) headers.push(['Content-Length', String(body.length)]);
  return { status, headers, body };
}

/** Albedo's answer to a request (body as bytes). */
export function albedo(method: string, target: string, body: string): BackendResponse {
  const path = target.replace(/[?#].*$/s, '');
  if (method === 'POST' && (path === '/reflect' || path === '/reflect/')) return reflect(body);
  return finish(200, [], '');
}
