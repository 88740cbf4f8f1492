/**
 * @module engine/transforms/html
 * t:htmlEntityDecode, as ModSecurity v2 does it: numeric entities (&#DDD; &#xHH;) become
 * the low byte of their value, and the named entities v2 knows (&quot; &amp; &lt; &gt;
 * &nbsp;, any case) their char. The semicolon is optional, as browsers allow, so
 * "&#60script" is caught too; anything else is left as written.
 */
import { bytesToString, hexValue, isAlnum, isDigit, isHexDigit, outputWithPrefix } from './bytes.js';

const AMP = 0x26;
const HASH = 0x23;
const SEMICOLON = 0x3b;
const NBSP = 0xa0;

// C's strtol saturates at LONG_MAX (2^63 - 1) and the result is cast to a byte, so an
// over-long entity yields 0xFF; otherwise only the low byte of the value matters.
const LONG_MAX_DECIMAL = '9223372036854775807';

function decimalEntityByte(input: string, start: number, end: number): number {
  let first = start;
  while (first < end && input.charCodeAt(first) === 0x30) first++;
  const digits = end - first;
  if (digits > LONG_MAX_DECIMAL.length) return 0xff;
  if (digits === LONG_MAX_DECIMAL.length && input.slice(first, end) > LONG_MAX_DECIMAL) return 0xff;
  let byte = 0;
  for (let i = first; i < end; i++) byte = (byte * 10 + input.charCodeAt(i) - 0x30) & 0xff;
  return byte;
}

function hexEntityByte(input: string, start: number, end: number): number {
  let first = start;
  while (first < end && input.charCodeAt(first) === 0x30) first++;
  const digits = end - first;
  if (digits > 16 || (digits === 16 && hexValue(input.charCodeAt(first)) > 7)) return 0xff;
  if (digits === 0) return 0;
  const low = hexValue(input.charCodeAt(end - 1));
  return digits === 1 ? low : hexValue(input.charCodeAt(end - 2)) * 16 + low;
}

// The byte a named entity stands for, or -1 for a name v2 does not decode.
function namedEntityByte(input: string, start: number, end: number): number {
  const length = end - start;
  if (length < 2 || length > 4) return -1;
  const name = input.slice(start, end).toLowerCase();
  switch (name) {
    case 'quot':
      return 0x22;
    case 'amp':
      return AMP;
    case 'lt':
      return 0x3c;
    case 'gt':
      return 0x3e;
    case 'nbsp':
      return NBSP;
    default:
      return -1;
  }
}

/** t:htmlEntityDecode — numeric and the five named entities decoded; ';' optional. */
export function htmlEntityDecode(input: string): string {
  let i = input.indexOf('&');
  if (i < 0) return input;
  const buf = outputWithPrefix(input, i);
  let n = i;
  let changed = false;
  const len = input.length;
  while (i < len) {
    const c = input.charCodeAt(i);
    if (c !== AMP || i + 1 >= len) {
      buf[n++] = c;
      i++;
      continue;
    }
    // `keep` is how many chars to copy unchanged when what follows '&' is no entity.
    let keep = 1;
    let byte = -1;
    let end = i + 1;
    if (input.charCodeAt(i + 1) === HASH) {
      keep = 2;
      if (i + 2 < len) {
        const x = input.charCodeAt(i + 2) | 0x20;
        if (x === 0x78) {
          keep = 3;
          if (i + 3 < len) {
            end = i + 3;
            while (end < len && isHexDigit(input.charCodeAt(end))) end++;
            if (end > i + 3) byte = hexEntityByte(input, i + 3, end);
          }
        } else {
          end = i + 2;
          while (end < len && isDigit(input.charCodeAt(end))) end++;
          if (end > i + 2) byte = decimalEntityByte(input, i + 2, end);
        }
      }
    } else {
      while (end < len && isAlnum(input.charCodeAt(end))) end++;
      if (end > i + 1) {
        byte = namedEntityByte(input, i + 1, end);
        if (byte < 0) keep = end - i;
      }
    }
    if (byte >= 0) {
      buf[n++] = byte;
      i = end < len && input.charCodeAt(end) === SEMICOLON ? end + 1 : end;
      changed = true;
    } else {
      for (const stop = Math.min(i + keep, len); i < stop; i++) buf[n++] = input.charCodeAt(i);
    }
  }
  return changed ? bytesToString(buf, n) : input;
}
