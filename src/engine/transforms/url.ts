/**
 * @module engine/transforms/url
 * t:urlDecode, t:urlDecodeUni and t:urlEncode, as ModSecurity v2 does them.
 * Decoding is non-strict: an invalid or truncated escape ('%4', '%zz', '%u12') is kept
 * as written, and '+' becomes a space. urlDecodeUni also takes IIS's %uHHHH form; with no
 * Unicode map file (Warden reads none) it keeps the low byte of the code point, turning
 * full-width ASCII (U+FF01–U+FF5E) into the ASCII char it imitates.
 */
import { bytesToString, hexDigitCode, hexPairByte, isHexDigit, outputBuffer } from './bytes.js';

function hasEscapes(input: string): boolean {
  return input.indexOf('%') >= 0 || input.indexOf('+') >= 0;
}

function isF(c: number): boolean {
  return (c | 0x20) === 0x66;
}

/** t:urlDecode — %HH and '+' decoded; invalid escapes left as they are. */
export function urlDecode(input: string): string {
  if (!hasEscapes(input)) return input;
  const buf = outputBuffer(input.length);
  let n = 0;
  let changed = false;
  let i = 0;
  while (i < input.length) {
    const c = input.charCodeAt(i);
    if (c === 0x25 && i + 2 < input.length) {
      const h = input.charCodeAt(i + 1);
      const l = input.charCodeAt(i + 2);
      if (isHexDigit(h) && isHexDigit(l)) {
        buf[n++] = hexPairByte(h, l);
        i += 3;
        changed = true;
        continue;
      }
    }
    if (c === 0x2b) {
      buf[n++] = 0x20;
      changed = true;
    } else {
      buf[n++] = c;
    }
    i++;
  }
  return changed ? bytesToString(buf, n) : input;
}

/**
 * A URL path as the server resolves it: %HH decoded, '+' kept (it means '+' in a path),
 * invalid escapes kept as written — libmodsecurity's uri_decode. Not a t: function: the
 * engine uses it for REQUEST_FILENAME and REQUEST_BASENAME.
 */
export function percentDecodePath(input: string): string {
  if (input.indexOf('%') < 0) return input;
  const buf = outputBuffer(input.length);
  let n = 0;
  let i = 0;
  while (i < input.length) {
    const c = input.charCodeAt(i);
    if (c === 0x25 && i + 2 < input.length && isHexDigit(input.charCodeAt(i + 1)) && isHexDigit(input.charCodeAt(i + 2))) {
      buf[n++] = hexPairByte(input.charCodeAt(i + 1), input.charCodeAt(i + 2));
      i += 3;
      continue;
    }
    buf[n++] = c;
    i++;
  }
  return bytesToString(buf, n);
}

/** t:urlDecodeUni — urlDecode plus %uHHHH (low byte, full-width ASCII folded to ASCII). */
export function urlDecodeUni(input: string): string {
  if (!hasEscapes(input)) return input;
  const buf = outputBuffer(input.length);
  let n = 0;
  let changed = false;
  let i = 0;
  while (i < input.length) {
    const c = input.charCodeAt(i);
    if (c === 0x25) {
      const next = input.charCodeAt(i + 1);
      if (next === 0x75 || next === 0x55) {
        if (
          i + 5 < input.length &&
          isHexDigit(input.charCodeAt(i + 2)) &&
          isHexDigit(input.charCodeAt(i + 3)) &&
          isHexDigit(input.charCodeAt(i + 4)) &&
          isHexDigit(input.charCodeAt(i + 5))
        ) {
          let b = hexPairByte(input.charCodeAt(i + 4), input.charCodeAt(i + 5));
          if (b > 0 && b < 0x5f && isF(input.charCodeAt(i + 2)) && isF(input.charCodeAt(i + 3))) b += 0x20;
          buf[n++] = b;
          i += 6;
          changed = true;
        } else {
          // Not a %uHHHH escape: keep both chars so the 'u' is not read as a %HH digit.
          buf[n++] = c;
          buf[n++] = next;
          i += 2;
        }
        continue;
      }
      if (i + 2 < input.length && isHexDigit(next) && isHexDigit(input.charCodeAt(i + 2))) {
        buf[n++] = hexPairByte(next, input.charCodeAt(i + 2));
        i += 3;
        changed = true;
        continue;
      }
      buf[n++] = c;
      i++;
      continue;
    }
    if (c === 0x2b) {
      buf[n++] = 0x20;
      changed = true;
    } else {
      buf[n++] = c;
    }
    i++;
  }
  return changed ? bytesToString(buf, n) : input;
}

// Only '*', digits and ASCII letters pass unencoded, as in ModSecurity's url_encode.
function isUnreserved(c: number): boolean {
  return c === 0x2a || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** t:urlEncode — space becomes '+', every byte but '*', digits and letters becomes %hh. */
export function urlEncode(input: string): string {
  let i = 0;
  while (i < input.length && isUnreserved(input.charCodeAt(i))) i++;
  if (i === input.length) return input;
  const buf = outputBuffer(input.length * 3);
  for (let k = 0; k < i; k++) buf[k] = input.charCodeAt(k);
  let n = i;
  for (; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (isUnreserved(c)) {
      buf[n++] = c;
    } else if (c === 0x20) {
      buf[n++] = 0x2b;
    } else {
      buf[n++] = 0x25;
      buf[n++] = hexDigitCode(c >> 4);
      buf[n++] = hexDigitCode(c);
    }
  }
  return bytesToString(buf, n);
}
