/**
 * @module engine/transforms/sql
 * t:sqlHexDecode: SQL hex literals (0x414243) decoded to the bytes they stand for, so
 * "SELECT 0x756e696f6e" is seen as "SELECT union". Follows ModSecurity v2: only complete
 * digit pairs are decoded, "0x" with no pair after it is kept, and the char right after
 * a decoded literal is copied as is (so "0x410x42" gives "A0x42").
 * v2 stops at the first NUL byte (and drops the rest of the value after a decoded 0x00);
 * Warden decodes the whole value, so a NUL cannot hide what follows it.
 */
import { bytesToString, hexPairByte, isHexDigit, outputWithPrefix } from './bytes.js';

function startsLiteral(input: string, i: number): boolean {
  return (
    input.charCodeAt(i) === 0x30 &&
    (input.charCodeAt(i + 1) | 0x20) === 0x78 &&
    isHexDigit(input.charCodeAt(i + 2)) &&
    isHexDigit(input.charCodeAt(i + 3))
  );
}

/** t:sqlHexDecode — 0xHHHH… literals decoded to bytes. */
export function sqlHexDecode(input: string): string {
  const len = input.length;
  let i = 0;
  while (i < len && !startsLiteral(input, i)) i++;
  if (i === len) return input;
  const buf = outputWithPrefix(input, i);
  let n = i;
  while (i < len) {
    if (startsLiteral(input, i)) {
      i += 2;
      while (isHexDigit(input.charCodeAt(i)) && isHexDigit(input.charCodeAt(i + 1))) {
        buf[n++] = hexPairByte(input.charCodeAt(i), input.charCodeAt(i + 1));
        i += 2;
      }
      if (i >= len) break;
    }
    buf[n++] = input.charCodeAt(i);
    i++;
  }
  return bytesToString(buf, n);
}
