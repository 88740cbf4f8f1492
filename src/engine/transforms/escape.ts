/**
 * @module engine/transforms/escape
 * t:escapeSeqDecode: ANSI C escape sequences, as ModSecurity v2 decodes them: \a \b \f \n
 * \r \t \v \\ \? \' \", \xHH and octal \O to \OOO (the value taken modulo 256). A
 * backslash before any other char — or before an incomplete \x — is dropped and the char
 * kept; a backslash at the very end stays.
 */
import { bytesToString, controlEscape, hexPairByte, isHexDigit, isOctalDigit, outputWithPrefix } from './bytes.js';

/** t:escapeSeqDecode — C escape sequences decoded to bytes. */
export function escapeSeqDecode(input: string): string {
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
    if ((next | 0x20) === 0x78 && i + 3 < len && isHexDigit(input.charCodeAt(i + 2)) && isHexDigit(input.charCodeAt(i + 3))) {
      buf[n++] = hexPairByte(input.charCodeAt(i + 2), input.charCodeAt(i + 3));
      i += 4;
    } else if (isOctalDigit(next)) {
      let digits = 1;
      while (digits < 3 && isOctalDigit(input.charCodeAt(i + 1 + digits))) digits++;
      let value = 0;
      for (let k = 1; k <= digits; k++) value = value * 8 + input.charCodeAt(i + k) - 0x30;
      buf[n++] = value & 0xff;
      i += 1 + digits;
    } else {
      // \\ \? \' \" and unknown escapes all come down to the char itself.
      buf[n++] = controlEscape(next);
      i += 2;
    }
  }
  return changed ? bytesToString(buf, n) : input;
}
