/**
 * @module engine/transforms/css
 * t:cssDecode: CSS 2 escapes, as ModSecurity v2 decodes them. "\HHHHHH" (1–6 hex digits)
 * becomes one byte — the last two digits — with full-width ASCII (U+FF01–U+FF5E) folded to
 * ASCII; one whitespace char after such an escape belongs to it. A backslash before a
 * newline (a line continuation) or at the very end vanishes; before any other char it
 * just makes that char literal.
 */
import { bytesToString, hexDigitByte, hexPairByte, isHexDigit, isSpace, outputWithPrefix } from './bytes.js';

function isF(c: number): boolean {
  return (c | 0x20) === 0x66;
}

// The byte a run of 1–6 hex digits at input[start..start+digits) decodes to.
function escapeByte(input: string, start: number, digits: number): number {
  const end = start + digits;
  if (digits === 1) return hexDigitByte(input.charCodeAt(start));
  const byte = hexPairByte(input.charCodeAt(end - 2), input.charCodeAt(end - 1));
  // Only a value that can be U+FFxx (4 digits, or 5–6 with leading zeros) is folded.
  const canBeFullWidth =
    digits === 4 ||
    (digits === 5 && input.charCodeAt(start) === 0x30) ||
    (digits === 6 && input.charCodeAt(start) === 0x30 && input.charCodeAt(start + 1) === 0x30);
  if (canBeFullWidth && byte > 0 && byte < 0x5f && isF(input.charCodeAt(end - 3)) && isF(input.charCodeAt(end - 4))) {
    return byte + 0x20;
  }
  return byte;
}

/** t:cssDecode — CSS backslash escapes decoded to bytes. */
export function cssDecode(input: string): string {
  let i = input.indexOf('\\');
  if (i < 0) return input;
  const len = input.length;
  const buf = outputWithPrefix(input, i);
  let n = i;
  while (i < len) {
    const c = input.charCodeAt(i);
    if (c !== 0x5c) {
      buf[n++] = c;
      i++;
      continue;
    }
    i++;
    if (i >= len) break;
    let digits = 0;
    while (digits < 6 && i + digits < len && isHexDigit(input.charCodeAt(i + digits))) digits++;
    if (digits > 0) {
      buf[n++] = escapeByte(input, i, digits);
      i += digits;
      if (i < len && isSpace(input.charCodeAt(i))) i++;
    } else if (input.charCodeAt(i) === 0x0a) {
      i++;
    } else {
      buf[n++] = input.charCodeAt(i);
      i++;
    }
  }
  // Every backslash is consumed, so a decoded value always differs from its input.
  return bytesToString(buf, n);
}
