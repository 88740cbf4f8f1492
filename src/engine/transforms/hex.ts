/**
 * @module engine/transforms/hex
 * t:hexEncode and t:hexDecode. Decoding takes the input two chars at a time without
 * checking that they are hex digits (ModSecurity's arithmetic, modulo 256, applies to any
 * char) and drops an odd last char.
 */
import { bytesToString, hexDigitCode, hexPairByte, outputBuffer } from './bytes.js';

/** t:hexEncode — each byte as two lower-case hex digits. */
export function hexEncode(input: string): string {
  if (input.length === 0) return input;
  const buf = outputBuffer(input.length * 2);
  let n = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    buf[n++] = hexDigitCode(c >> 4);
    buf[n++] = hexDigitCode(c);
  }
  return bytesToString(buf, n);
}

/** t:hexDecode — each pair of chars becomes one byte; an odd last char is dropped. */
export function hexDecode(input: string): string {
  if (input.length === 0) return input;
  const pairs = input.length >> 1;
  const buf = outputBuffer(pairs);
  for (let k = 0; k < pairs; k++) {
    buf[k] = hexPairByte(input.charCodeAt(2 * k), input.charCodeAt(2 * k + 1));
  }
  return bytesToString(buf, pairs);
}
