/**
 * @module engine/operators/validate
 * Encoding checks that match when the value is *invalid*: `@validateByteRange`,
 * `@validateUrlEncoding`, `@validateUtf8Encoding`, with ModSecurity v2's exact rules for
 * what counts as a violation (so CRS anomaly scores come out the same).
 */
import { byteText } from '../regex/emit.js';
import { atoi } from './numeric.js';
import { OperatorParamError, type OperatorFactory } from './types.js';

/**
 * `@validateByteRange 1-255,9,10`: matches when the value holds a byte outside every listed
 * value or range. Items are read with atoi as v2 does ("xxx" is 0, an empty list allows
 * nothing); a value outside 0–255 or a reversed range is refused at load.
 */
export const validateByteRange: OperatorFactory = (param) => {
  const allowed = new Uint8Array(256);
  for (const item of param.split(',')) {
    if (item === '') continue; // strtok skips empty items
    const dash = item.indexOf('-');
    if (dash < 0) {
      const x = atoi(item);
      if (x < 0 || x > 255) throw new OperatorParamError(`@validateByteRange: invalid byte value ${x} in "${param}" (bytes are 0-255)`);
      allowed[x] = 1;
    } else {
      const start = atoi(item);
      const end = atoi(item.slice(dash + 1));
      if (start < 0 || start > 255) throw new OperatorParamError(`@validateByteRange: invalid range start ${start} in "${param}" (bytes are 0-255)`);
      if (end < 0 || end > 255) throw new OperatorParamError(`@validateByteRange: invalid range end ${end} in "${param}" (bytes are 0-255)`);
      if (start > end) throw new OperatorParamError(`@validateByteRange: invalid range ${start}-${end} in "${param}" (start is above end)`);
      allowed.fill(1, start, end + 1);
    }
  }
  const outside = outsideClass(allowed);
  return {
    evaluate(input) {
      // A long value is searched by the regex engine, several times faster per byte.
      if (input.length >= LONG) return outside.test(input);
      for (let i = 0; i < input.length; i++) {
        const c = input.charCodeAt(i);
        if (c > 255 || allowed[c] === 0) return true;
      }
      return false;
    },
  };
};

/** From this length on, a value is scanned with a native search rather than a loop. */
const LONG = 256;

/** A regex that finds any character outside `allowed` (a char above 0xFF included). */
function outsideClass(allowed: Uint8Array): RegExp {
  let items = '';
  for (let b = 0; b < 256; ) {
    if (allowed[b] === 1) {
      b++;
      continue;
    }
    let end = b;
    while (end + 1 < 256 && allowed[end + 1] === 0) end++;
    items += end === b ? byteText(b) : `${byteText(b)}-${byteText(end)}`;
    b = end + 1;
  }
  return new RegExp(`[${items}\\u0100-\\uffff]`);
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * `@validateUrlEncoding`: matches when a `%` is not followed by two hex digits (too close
 * to the end, or a non-hex byte). `+` and bytes that need no encoding are fine.
 */
export const validateUrlEncoding: OperatorFactory = () => ({
  evaluate(input) {
    const n = input.length;
    let i = 0;
    while (i < n) {
      if (input.charCodeAt(i) !== 0x25 /* % */) {
        i++;
        continue;
      }
      if (i + 2 >= n) return true;
      if (!isHexDigit(input.charCodeAt(i + 1)) || !isHexDigit(input.charCodeAt(i + 2))) return true;
      i += 3;
    }
    return false;
  },
});

function isContinuation(input: string, j: number): boolean {
  return (input.charCodeAt(j) & 0xc0) === 0x80;
}

/**
 * Length of the valid UTF-8 character at `input[i]`, or 0 when it is invalid in one of the
 * ways v2 reports: a truncated sequence, a continuation byte that is not 10xxxxxx, a lead
 * byte 0x80–0xBF or 0xF8–0xFF, a lead byte 0xF5–0xF7, an overlong form, or a UTF-16
 * surrogate (U+D800–U+DFFF). Like v2 it does not refuse 4-byte forms above U+10FFFF that
 * start with 0xF4 (F4 90 80 80).
 */
function utf8Length(input: string, i: number): number {
  const left = input.length - i;
  const c = input.charCodeAt(i);
  if (c < 0x80) return 1;
  let len: number;
  let cp: number;
  if ((c & 0xe0) === 0xc0) {
    if (left < 2 || !isContinuation(input, i + 1)) return 0;
    len = 2;
    cp = ((c & 0x1f) << 6) | (input.charCodeAt(i + 1) & 0x3f);
  } else if ((c & 0xf0) === 0xe0) {
    if (left < 3 || !isContinuation(input, i + 1) || !isContinuation(input, i + 2)) return 0;
    len = 3;
    cp = ((c & 0x0f) << 12) | ((input.charCodeAt(i + 1) & 0x3f) << 6) | (input.charCodeAt(i + 2) & 0x3f);
  } else if ((c & 0xf8) === 0xf0) {
    if (c >= 0xf5) return 0;
    if (left < 4 || !isContinuation(input, i + 1) || !isContinuation(input, i + 2) || !isContinuation(input, i + 3)) return 0;
    len = 4;
    cp =
      ((c & 0x07) << 18) |
      ((input.charCodeAt(i + 1) & 0x3f) << 12) |
      ((input.charCodeAt(i + 2) & 0x3f) << 6) |
      (input.charCodeAt(i + 3) & 0x3f);
  } else {
    return 0;
  }
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  if ((len === 4 && cp < 0x10000) || (len === 3 && cp < 0x800) || (len === 2 && cp < 0x80)) return 0;
  return len;
}

/** `@validateUtf8Encoding`: matches when the value is not valid UTF-8 (see utf8Length). */
export const validateUtf8Encoding: OperatorFactory = () => ({
  evaluate(input) {
    // ASCII is valid UTF-8; a long value that is all ASCII is told by a native count.
    if (input.length >= LONG && Buffer.byteLength(input, 'utf8') === input.length) return false;
    for (let i = 0; i < input.length; ) {
      const len = utf8Length(input, i);
      if (len === 0) return true;
      i += len;
    }
    return false;
  },
});
