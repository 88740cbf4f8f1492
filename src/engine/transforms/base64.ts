/**
 * @module engine/transforms/base64
 * t:base64Encode, t:base64Decode and t:base64DecodeExt.
 * base64Decode is APR's decoder as ModSecurity v2 uses it: it decodes the longest prefix
 * of base64 alphabet chars and stops at the first other char ('=' included).
 * base64DecodeExt is the forgiving RFC 2045 decoder: it skips every char outside the
 * alphabet, so padding, line breaks and junk inserted to dodge a rule do not stop it.
 */
import { bytesToString, outputBuffer } from './bytes.js';

// Sextet for each byte; -1 outside the standard alphabet (no URL-safe '-' '_').
const SEXTET = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) {
  SEXTET['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
}

function sextet(c: number): number {
  return c < 256 ? (SEXTET[c] as number) : -1;
}

/** t:base64Encode — standard alphabet, padded with '='. */
export function base64Encode(input: string): string {
  if (input.length === 0) return input;
  const buf = outputBuffer(input.length);
  const n = buf.write(input, 0, input.length, 'latin1');
  return buf.toString('base64', 0, n);
}

/** t:base64Decode — decodes up to the first char outside the alphabet; a lone last char is ignored. */
export function base64Decode(input: string): string {
  let end = 0;
  while (end < input.length && sextet(input.charCodeAt(end)) >= 0) end++;
  if (end < 2) return '';
  const buf = outputBuffer(Math.ceil(end / 4) * 3);
  let n = 0;
  let i = 0;
  for (; i + 4 <= end; i += 4) {
    const bits =
      (sextet(input.charCodeAt(i)) << 18) |
      (sextet(input.charCodeAt(i + 1)) << 12) |
      (sextet(input.charCodeAt(i + 2)) << 6) |
      sextet(input.charCodeAt(i + 3));
    buf[n++] = bits >> 16;
    buf[n++] = (bits >> 8) & 0xff;
    buf[n++] = bits & 0xff;
  }
  const rest = end - i;
  if (rest >= 2) {
    const a = sextet(input.charCodeAt(i));
    const b = sextet(input.charCodeAt(i + 1));
    buf[n++] = ((a << 2) | (b >> 4)) & 0xff;
    if (rest === 3) buf[n++] = ((b << 4) | (sextet(input.charCodeAt(i + 2)) >> 2)) & 0xff;
  }
  return bytesToString(buf, n);
}

/**
 * t:base64DecodeExt — skips every char outside the alphabet and decodes the rest; only
 * complete bytes are kept. A '=' right after the first char of a quantum and not followed
 * by another '=' makes the whole value undecodable (empty result), as in ModSecurity.
 */
export function base64DecodeExt(input: string): string {
  const buf = outputBuffer(Math.ceil(input.length / 4) * 3 + 3);
  let n = 0;
  let count = 0;
  let bits = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c === 0x3d) {
      if (count % 4 === 1 && input.charCodeAt(i + 1) !== 0x3d) return '';
      continue;
    }
    const v = sextet(c);
    if (v < 0) continue;
    bits = (bits << 6) | v;
    count++;
    if (count % 4 === 0) {
      buf[n++] = (bits >> 16) & 0xff;
      buf[n++] = (bits >> 8) & 0xff;
      buf[n++] = bits & 0xff;
      bits = 0;
    }
  }
  const rest = count % 4;
  if (rest >= 2) {
    // Left-align the pending sextets as if the quantum were complete, keep whole bytes.
    bits <<= 6 * (4 - rest);
    buf[n++] = (bits >> 16) & 0xff;
    if (rest === 3) buf[n++] = (bits >> 8) & 0xff;
  }
  return bytesToString(buf, n);
}
