/**
 * @module audit/escape
 * ModSecurity v2's escaping for log text (msc_util.c `_log_escape`, `log_escape_hex`), so a
 * request can never break a log line apart or forge one: every control byte, every byte
 * from 0x7f up and the backslash become escapes, and quotes are escaped wherever a value
 * sits between quotes. Input and output are byte strings (one char per byte); the output is
 * always printable ASCII.
 */

const HEX = '0123456789abcdef';

function hex(c: number): string {
  if (c > 0xff) {
    // Not a byte string after all (text from a rule file read as UTF-16): escape its UTF-8 bytes.
    let out = '';
    for (const b of Buffer.from(String.fromCharCode(c), 'utf8')) out += hex(b);
    return out;
  }
  return `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
}

/** Escapes for the C control characters v2 writes by name. */
const NAMED: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 13: '\\r', 92: '\\\\' };

function escape(text: string, quotes: boolean): string {
  // The common case, plain printable text, is returned as is without building a copy.
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f || c === 92 || (quotes && c === 34)) break;
  }
  if (i === text.length) return text;
  let out = text.slice(0, i);
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 && quotes) out += '\\"';
    else if (c < 0x20 || c >= 0x7f || c === 92) out += NAMED[c] ?? hex(c);
    else out += text[i];
  }
  return out;
}

/** v2 `log_escape`: for values written between quotes (`[msg "…"]`, `[tag "…"]`, `[uri "…"]`). */
export function logEscape(text: string): string {
  return escape(text, true);
}

/** v2 `log_escape_nq`: the same without escaping quotes (free text such as a redirect URL). */
export function logEscapeNoQuotes(text: string): string {
  return escape(text, false);
}

/** v2 `log_escape_hex`: `"`, `\`, control bytes and bytes from 0x7f as \xHH (`[data "…"]`). */
export function logEscapeHex(text: string): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 || c === 92 || c <= 0x1f || c >= 0x7f) {
      out += text.slice(start, i) + hex(c);
      start = i + 1;
    }
  }
  return start === 0 ? text : out + text.slice(start);
}

/** A byte string (one char per byte) as text for JSON: UTF-8 decoded, invalid bytes as U+FFFD. */
export function bytesToText(bytes: string): string {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes.charCodeAt(i) >= 0x80) return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return bytes;
}
