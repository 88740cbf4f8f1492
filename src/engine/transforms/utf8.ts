/**
 * @module engine/transforms/utf8
 * t:utf8toUnicode: each UTF-8 sequence in the value becomes a %uHHHH escape (lower-case
 * hex, at least four digits), so rules written against %u forms see UTF-8 input too.
 * Follows ModSecurity v2, quirks included: a lead byte without its continuation bytes is
 * dropped, stray continuation bytes and 0xF8–0xFF pass through, overlong forms and
 * surrogates keep their %u escape followed by the raw lead byte, and a 0xF5–0xF7 lead is
 * written raw before its escape.
 * v2 also drops NUL bytes here (a C string artefact); Warden keeps them, as every other
 * ASCII byte.
 */
import { bytesToString, hexDigitCode, isAsciiBytes, outputBuffer } from './bytes.js';

function isContinuation(c: number): boolean {
  return (c & 0xc0) === 0x80;
}

// Writes "%u" and the code point in lower-case hex, padded to four digits; returns the new length.
function writeEscape(buf: Buffer, at: number, codePoint: number): number {
  let n = at;
  buf[n++] = 0x25;
  buf[n++] = 0x75;
  let digits = 4;
  while (codePoint >>> (digits * 4) !== 0) digits++;
  for (let shift = (digits - 1) * 4; shift >= 0; shift -= 4) buf[n++] = hexDigitCode(codePoint >>> shift);
  return n;
}

/** t:utf8toUnicode — UTF-8 sequences rewritten as %uHHHH escapes. */
export function utf8toUnicode(input: string): string {
  const len = input.length;
  // Most values, and long ones in bulk, are ASCII: one native count says so (see isAsciiBytes).
  if (len >= 32 && isAsciiBytes(input)) return input;
  let i = 0;
  while (i < len && input.charCodeAt(i) < 0x80) i++;
  if (i === len) return input;
  const buf = outputBuffer(len * 4);
  for (let k = 0; k < i; k++) buf[k] = input.charCodeAt(k);
  let n = i;
  let changed = false;
  while (i < len) {
    const c = input.charCodeAt(i);
    let size = 0;
    let codePoint = 0;
    if (c < 0x80) {
      buf[n++] = c;
    } else if ((c & 0xe0) === 0xc0) {
      const b1 = input.charCodeAt(i + 1);
      if (isContinuation(b1)) {
        size = 2;
        codePoint = ((c & 0x1f) << 6) | (b1 & 0x3f);
      }
    } else if ((c & 0xf0) === 0xe0) {
      const b1 = input.charCodeAt(i + 1);
      const b2 = input.charCodeAt(i + 2);
      if (isContinuation(b1) && isContinuation(b2)) {
        size = 3;
        codePoint = ((c & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      }
    } else if ((c & 0xf8) === 0xf0) {
      if (c >= 0xf5) buf[n++] = c;
      const b1 = input.charCodeAt(i + 1);
      const b2 = input.charCodeAt(i + 2);
      const b3 = input.charCodeAt(i + 3);
      if (isContinuation(b1) && isContinuation(b2) && isContinuation(b3)) {
        size = 4;
        codePoint = ((c & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      }
    } else {
      buf[n++] = c;
    }
    if (size > 0) {
      n = writeEscape(buf, n, codePoint);
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) buf[n++] = c;
      const overlong = size === 2 ? codePoint < 0x80 : size === 3 ? codePoint < 0x800 : codePoint < 0x10000;
      if (overlong) buf[n++] = c;
      changed = true;
      i += size;
    } else {
      // A lead byte whose continuation bytes are missing is dropped (and that is a change).
      if (c >= 0xc0 && c < 0xf5) changed = true;
      i++;
    }
  }
  return changed ? bytesToString(buf, n) : input;
}
