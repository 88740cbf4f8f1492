/**
 * @module http/cookies
 * The Cookie request header into REQUEST_COOKIES / REQUEST_COOKIES_NAMES, as ModSecurity
 * v2 parses it (apache2/msc_parsers.c `parse_cookies_v0` / `parse_cookies_v1`, and the
 * separator choice in modsecurity.c).
 *
 * SecCookieFormat 0 (the default, Netscape cookies):
 * - the separator is `;`; only when the header has no `;` and its first `,` is followed by
 *   a space is `,` used instead (SecCookieV0Separator overrides both);
 * - empty pieces between separators are skipped, leading whitespace of a piece is skipped,
 *   the name runs to the first `=`, the value is everything after it, untouched (quotes and
 *   trailing spaces stay, as v2 keeps them);
 * - a piece without `=` is a cookie with an empty value; a piece with an empty name is dropped.
 *
 * SecCookieFormat 1 (RFC 2109):
 * - `;` and `,` both separate; whitespace around names and unquoted values is trimmed;
 * - a value in double quotes is taken without its quotes (up to the next `"`, no escapes);
 * - attributes `$Path`, `$Domain`… that follow a cookie are renamed `$<cookie>_Path`… so they
 *   stay apart in the collection (`$Version` before any cookie keeps its name).
 *
 * Runs on every request with cookies: char loops, slices of the header, no regex.
 */
import type { ArgumentSink } from '../bodies/types.js';

/** SecCookieFormat: 0 = version 0 (Netscape) cookies, 1 = version 1 (RFC 2109) cookies. */
export type CookieFormat = 0 | 1;

/**
 * Parses one Cookie header value, handing each cookie to `sink` in order (a request with
 * several Cookie headers calls this once per header, as v2 does).
 *
 * @param header the header value, as bytes
 * @param sink receives each cookie name and value
 * @param format SecCookieFormat, 0 by default
 * @param v0Separator SecCookieV0Separator (one character), for format 0 only
 * @returns the number of cookies given to the sink; never throws
 *
 * @example
 * const cookies = collectArguments();
 * parseCookies('SID=31d4d96e407aad42; lang=en-US; theme', cookies);
 * // cookies.names  → ['SID', 'lang', 'theme']
 * // cookies.values → ['31d4d96e407aad42', 'en-US', '']
 */
export function parseCookies(header: string, sink: ArgumentSink, format: CookieFormat = 0, v0Separator?: string): number {
  if (format === 1) return parseVersion1(header, sink);
  let sep: number;
  if (v0Separator !== undefined && v0Separator.length > 0) sep = v0Separator.charCodeAt(0);
  else sep = chooseV0Separator(header);
  return parseVersion0(header, sink, sep);
}

const SEMICOLON = 0x3b;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const DOLLAR = 0x24;

/** C's isspace() in the "C" locale. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** `;` unless there is none and the first `,` is followed by a space (v2's heuristic). */
function chooseV0Separator(header: string): number {
  if (header.indexOf(';') !== -1) return SEMICOLON;
  const comma = header.indexOf(',');
  if (comma !== -1 && header.charCodeAt(comma + 1) === 0x20) return COMMA;
  return SEMICOLON;
}

function parseVersion0(header: string, sink: ArgumentSink, sep: number): number {
  const n = header.length;
  let count = 0;
  let i = 0;
  while (i < n) {
    // Runs of separators are skipped (strtok), so empty pieces never reach the name test.
    while (i < n && header.charCodeAt(i) === sep) i++;
    if (i >= n) break;
    let end = i;
    while (end < n && header.charCodeAt(end) !== sep) end++;
    let p = i;
    while (p < end && isSpace(header.charCodeAt(p))) p++;
    let eq = p;
    while (eq < end && header.charCodeAt(eq) !== EQUALS) eq++;
    if (eq > p) {
      sink.add(header.slice(p, eq), eq < end ? header.slice(eq + 1, end) : '');
      count++;
    }
    i = end + 1;
  }
  return count;
}

function parseVersion1(header: string, sink: ArgumentSink): number {
  const n = header.length;
  let count = 0;
  let previousName: string | null = null;
  let p = 0;
  while (p < n) {
    while (p < n && isSpace(header.charCodeAt(p))) p++;
    const nameStart = p;
    while (p < n) {
      const c = header.charCodeAt(p);
      if (c === EQUALS || c === SEMICOLON || c === COMMA) break;
      p++;
    }
    let nameEnd = p;
    let value = '';
    if (p < n) {
      const stop = header.charCodeAt(p);
      p++; // over `=`, `;` or `,`
      if (stop === EQUALS) {
        while (p < n && isSpace(header.charCodeAt(p))) p++;
        if (p < n && header.charCodeAt(p) === QUOTE) {
          // Quoted: up to the next quote, no escapes; text after the closing quote is
          // left for the next round (v2 reads it as another cookie name).
          const valueStart = ++p;
          while (p < n && header.charCodeAt(p) !== QUOTE) p++;
          value = header.slice(valueStart, p);
          if (p < n) p++;
        } else if (p < n) {
          const valueStart = p;
          while (p < n) {
            const c = header.charCodeAt(p);
            if (c === SEMICOLON || c === COMMA) break;
            p++;
          }
          let valueEnd = p;
          if (p < n) p++;
          while (valueEnd > valueStart && isSpace(header.charCodeAt(valueEnd - 1))) valueEnd--;
          value = header.slice(valueStart, valueEnd);
        }
      }
    }
    while (nameEnd > nameStart && isSpace(header.charCodeAt(nameEnd - 1))) nameEnd--;
    if (nameEnd > nameStart) {
      let name = header.slice(nameStart, nameEnd);
      if (name.charCodeAt(0) === DOLLAR) {
        if (previousName !== null) name = '$' + previousName + '_' + name.slice(1);
      } else {
        previousName = name;
      }
      sink.add(name, value);
      count++;
    }
    while (p < n) {
      const c = header.charCodeAt(p);
      if (c !== SEMICOLON && c !== COMMA && !isSpace(c)) break;
      p++;
    }
  }
  return count;
}
