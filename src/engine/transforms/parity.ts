/**
 * @module engine/transforms/parity
 * t:parityEven7bit, t:parityOdd7bit and t:parityZero7bit, for protocols that carry 7-bit
 * data with a parity bit. As in ModSecurity v2, the parity is computed over all eight
 * bits of the byte as received, and the high bit is then set or cleared from it.
 */
import { bytesToString, outputBuffer } from './bytes.js';

function oddParity(c: number): boolean {
  let bits = c;
  bits ^= bits >> 4;
  bits ^= bits >> 2;
  bits ^= bits >> 1;
  return (bits & 1) === 1;
}

const EVEN = new Uint8Array(256);
const ODD = new Uint8Array(256);
const ZERO = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const odd = oddParity(c);
  EVEN[c] = odd ? c | 0x80 : c & 0x7f;
  ODD[c] = odd ? c & 0x7f : c | 0x80;
  ZERO[c] = c & 0x7f;
}

function mapBytes(input: string, table: Uint8Array): string {
  let i = 0;
  while (i < input.length && table[input.charCodeAt(i)] === input.charCodeAt(i)) i++;
  if (i === input.length) return input;
  const buf = outputBuffer(input.length);
  for (let k = 0; k < input.length; k++) buf[k] = table[input.charCodeAt(k)] as number;
  return bytesToString(buf, input.length);
}

/** t:parityEven7bit — high bit set or cleared for even parity. */
export function parityEven7bit(input: string): string {
  return mapBytes(input, EVEN);
}

/** t:parityOdd7bit — high bit set or cleared for odd parity. */
export function parityOdd7bit(input: string): string {
  return mapBytes(input, ODD);
}

/** t:parityZero7bit — high bit cleared. */
export function parityZero7bit(input: string): string {
  return mapBytes(input, ZERO);
}
