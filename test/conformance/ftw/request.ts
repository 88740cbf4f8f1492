/**
 * @module test/conformance/ftw/request
 * The bytes go-ftw puts on the wire for a stage (ftwhttp.BuildRequest): the request line
 * as written, headers in their order, and with autocomplete_headers the additions go-ftw
 * makes — a urlencoded Content-Type for data without one, form data escaped key by key
 * when it is not escaped yet, `Connection: close`, and Content-Length. Multipart bodies get
 * CRLF line ends whatever autocomplete says. `encoded_request` is sent byte for byte.
 * Everything is bytes: a latin1 string, one char per byte; YAML text is UTF-8.
 */
import type { StageInput } from './suite.js';

const utf8 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

/** Go's textproto.CanonicalMIMEHeaderKey, for header names made of token characters. */
function canonicalKey(name: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** Go's url.QueryEscape on bytes: unreserved bytes kept, space as '+', the rest %XX. */
function queryEscape(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i);
    const ch = bytes[i] as string;
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (c === 0x20) out += '+';
    else out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * go-ftw escapes form data only when url.QueryUnescape would leave it unchanged: that is
 * when it has no '+' and no '%' (a valid escape changes it, an invalid one is an error).
 */
function encodeFormData(data: string): string {
  if (data.includes('%') || data.includes('+')) return data;
  const parts: string[] = [];
  for (const token of data.split('&')) {
    const eq = token.indexOf('=');
    parts.push(eq < 0 ? queryEscape(token) : `${queryEscape(token.slice(0, eq))}=${queryEscape(token.slice(eq + 1))}`);
  }
  return parts.join('&');
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/**
 * `data` is a Go text/template with sprig's functions. The suite uses one form,
 * `{{ "text" | repeat N }}`; anything else is refused loudly rather than sent wrong.
 */
export function expandTemplate(data: string): string {
  if (!data.includes('{{')) return data;
  return data.replace(/\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g, (_m, _l: string, action: string) => {
    const m = /^"((?:[^"\\]|\\.)*)"\s*\|\s*repeat\s+(\d+)$/.exec(action);
    if (m === null) throw new TemplateError(`unsupported template action {{ ${action} }}`);
    const text = JSON.parse(`"${m[1] as string}"`) as string;
    return text.repeat(Number(m[2]));
  });
}

/** The body go-ftw sends before its own changes (template evaluated, or decoded base64). */
function stageData(input: StageInput): string {
  if (input.data !== null) return utf8(expandTemplate(input.data));
  if (input.encodedData !== null) return Buffer.from(input.encodedData, 'base64').toString('latin1');
  return '';
}

// go-ftw's `^POST|PUT|PATCH|DELETE$`, with Go's precedence: POST at the start, PUT or PATCH
// anywhere, DELETE at the end.
const METHOD_WITH_BODY = /^POST|PUT|PATCH|DELETE$/;

/** The request bytes for a stage. */
export function buildRequest(input: StageInput): string {
  if (input.encodedRequest !== null) return Buffer.from(input.encodedRequest, 'base64').toString('latin1');
  const headers: Array<[string, string]> = input.headers.map(([k, v]) => [utf8(k), utf8(v)]);
  const keys = headers.map(([k]) => canonicalKey(k));
  const has = (canonical: string): boolean => keys.includes(canonical);
  const contentTypes = (): string[] => headers.filter((_h, i) => keys[i] === 'Content-Type').map(([, v]) => v.toLowerCase());
  let data = stageData(input);
  if (data.length > 0 && input.autocompleteHeaders) {
    if (!has('Content-Type')) {
      headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
      keys.push('Content-Type');
    }
    if (contentTypes().includes('application/x-www-form-urlencoded')) data = encodeFormData(data);
  }
  if (contentTypes().some((v) => v.includes('multipart/form-data;'))) data = data.replaceAll('\n', '\r\n');
  if (input.autocompleteHeaders) {
    if (!has('Connection')) headers.push(['Connection', 'close']);
    if (!has('Content-Length') && (data.length > 0 || METHOD_WITH_BODY.test(input.method))) {
      headers.push(['Content-Length', String(data.length)]);
    }
  }
  let out = `${utf8(input.method)} ${utf8(input.uri)} ${utf8(input.version)}\r\n`;
  for (const [k, v] of headers) out += `${k}: ${v}\r\n`;
  return `${out}\r\n${data}`;
}
