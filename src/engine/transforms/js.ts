/**
 * @module engine/transforms/js
 * t:jsDecode: JavaScript string escapes, as ModSecurity v2 decodes them. \uHHHH keeps
 * the low byte (full-width ASCII U+FF01–U+FF5E folded to ASCII), \xHH and octal \OOO
 * (at most one byte's worth) become their byte, \a \b \f \n \r \t \v their control char,
 * and a backslash before anything else is dropped. Incomplete escapes ("\x4", "\u12")
 * lose only the backslash.
 */
import { bytesToString, controlEscape, hexPairByte, isHexDigit, isOctalDigit, outputWithPrefix } from './bytes.js';

function isF(c: number): boolean {
  return (c | 0x20) === 0x66;
}

/** t:jsDecode — JavaScript backslash escapes decoded to bytes. */
export function jsDecode(input: string): string {
  let i = input.indexOf('\\');
  if (i < 0) return input;
  const len = input.length;
  const buf = outputWithPrefix(input, i);
  let n = i;
  let changed = false;
  while (i < len) {
    const c = input.charCodeAt(i);
    if (c !== 0x5c || i + 1 >= len) {
      buf[n++] = c;
      i++;
      continue;
    }
    changed = true;
    const next = input.charCodeAt(i + 1);
    if (
      next === 0x75 &&
      i + 5 < len &&
      isHexDigit(input.charCodeAt(i + 2)) &&
      isHexDigit(input.charCodeAt(i + 3)) &&
      isHexDigit(input.charCodeAt(i + 4)) &&
      isHexDigit(input.charCodeAt(i + 5))
    ) {
      let b = hexPairByte(input.charCodeAt(i + 4), input.charCodeAt(i + 5));
      if (b > 0 && b < 0x5f && isF(input.charCodeAt(i + 2)) && isF(input.charCodeAt(i + 3))) b += 0x20;
      buf[n++] = b;
      i += 6;
    } else if (next === 0x78 && i + 3 < len && isHexDigit(input.charCodeAt(i + 2)) && isHexDigit(input.charCodeAt(i + 3))) {
      buf[n++] = hexPairByte(input.charCodeAt(i + 2), input.charCodeAt(i + 3));
      i += 4;
    } else if (isOctalDigit(next)) {
      // Up to three octal digits, but only two when a third would overflow a byte.
      let digits = 1;
      while (digits < 3 && isOctalDigit(input.charCodeAt(i + 1 + digits))) digits++;
      if (digits === 3 && next > 0x33) digits = 2;
      let value = 0;
      for (let k = 1; k <= digits; k++) value = value * 8 + input.charCodeAt(i + k) - 0x30;
      buf[n++] = value;
      i += 1 + digits;
    } else {
      buf[n++] = controlEscape(next);
      i += 2;
    }
  }
  return changed ? bytesToString(buf, n) : input;
}
