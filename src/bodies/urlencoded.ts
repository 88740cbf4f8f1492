/**
 * @module bodies/urlencoded
 * Argument parsing for the query string (ARGS_GET) and for
 * `application/x-www-form-urlencoded` bodies (ARGS_POST), as ModSecurity v2's
 * `parse_arguments` does it (apache2/msc_parsers.c):
 *
 * - pairs are split on the separator (`&`, or SecArgumentSeparator), then on the first `=`;
 *   a name without `=` gets the empty value, empty names are kept (`a&&b` is three
 *   arguments, the middle one with an empty name), a trailing separator adds nothing;
 * - names and values are URL-decoded leniently: `+` is a space, `%XY` with two hex digits
 *   is a byte, and any other `%` stays as it is and counts as an invalid encoding
 *   (ModSecurity sets URLENCODED_ERROR when the count is not zero);
 * - SecArgumentsLimit: once the limit is reached the remaining arguments are dropped, the
 *   result carries REQBODY_ERROR_MSG "SecArgumentsLimit exceeded", and (as v2, which keeps
 *   decoding the dropped ones) their invalid encodings are still counted.
 *
 * This runs on every request: one pass of char loops (a value's end found by indexOf), no
 * regex, and an argument without `%` or `+` is a slice of the input (no copy).
 */
import { ARGUMENTS_LIMIT_MESSAGE, type ArgumentSink } from './types.js';

/** What {@link parseUrlencoded} found besides the arguments it gave to the sink. */
export interface UrlencodedResult {
  /** Arguments given to the sink. */
  readonly count: number;
  /** Invalid `%` encodings met (left as they are); not zero → URLENCODED_ERROR is 1. */
  readonly invalidEncodings: number;
  /** "SecArgumentsLimit exceeded" when the limit dropped arguments, else null. */
  readonly error: string | null;
}

const PERCENT = 0x25;
const PLUS = 0x2b;
const EQUALS = 0x3d;

/**
 * Parses `a=1&b=2`-style input, handing each argument to `sink` in order.
 *
 * @param input the query string (without `?`) or the body, as bytes
 * @param sink receives each name/value (decoded bytes)
 * @param separator SecArgumentSeparator: one character, `&` by default
 * @param limit how many more arguments may be added (SecArgumentsLimit minus the
 *   arguments already collected for this transaction); unlimited by default
 * @returns counts and the limit error; never throws
 *
 * @example
 * const args = collectArguments();
 * const r = parseUrlencoded('q=caf%C3%A9+au+lait&x=%zz&flag', args);
 * // args.names  → ['q', 'x', 'flag']
 * // args.values → ['caf\xC3\xA9 au lait', '%zz', '']
 * // r.invalidEncodings → 1 (URLENCODED_ERROR)
 */
export function parseUrlencoded(
  input: string,
  sink: ArgumentSink,
  separator = '&',
  limit = Infinity,
): UrlencodedResult {
  const sep = separator.length > 0 ? separator.charCodeAt(0) : 0x26;
  const sepText = String.fromCharCode(sep);
  const n = input.length;
  const counter = { invalid: 0 };
  let count = 0;
  let dropped = false;
  let i = 0;
  while (i < n) {
    const nameStart = i;
    let c = 0;
    while (i < n) {
      c = input.charCodeAt(i);
      if (c === sep || c === EQUALS) break;
      i++;
    }
    const nameEnd = i;
    let valueStart = i;
    let valueEnd = i;
    // v2 tests the separator first, so a custom `=` separator never starts a value.
    if (i < n && c !== sep) {
      valueStart = ++i;
      // A native search (memchr): a long value costs a fraction of a char loop.
      i = input.indexOf(sepText, i);
      if (i < 0) i = n;
      valueEnd = i;
    }
    i++; // over the separator (or past the end)
    if (count < limit) {
      sink.add(decode(input, nameStart, nameEnd, counter), decode(input, valueStart, valueEnd, counter));
      count++;
    } else {
      dropped = true;
      counter.invalid += countInvalid(input, nameStart, nameEnd) + countInvalid(input, valueStart, valueEnd);
    }
  }
  return { count, invalidEncodings: counter.invalid, error: dropped ? ARGUMENTS_LIMIT_MESSAGE : null };
}

/**
 * Decodes one name or value the way v2's `urldecode_nonstrict_inplace_ex` does.
 * A `%` needs two more bytes *inside this name or value* to be a valid escape.
 */
function decode(s: string, start: number, end: number, counter: { invalid: number }): string {
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === PERCENT || c === PLUS) break;
    i++;
  }
  if (i === end) return start === end ? '' : s.slice(start, end);

  const out = scratchFor(end - start);
  let j = 0;
  for (let k = start; k < i; k++) out[j++] = s.charCodeAt(k);
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === PERCENT) {
      if (i + 2 < end) {
        const hi = hexValue(s.charCodeAt(i + 1));
        const lo = hexValue(s.charCodeAt(i + 2));
        if (hi >= 0 && lo >= 0) {
          out[j++] = (hi << 4) | lo;
          i += 3;
          continue;
        }
      }
      counter.invalid++;
      out[j++] = c;
      i++;
    } else {
      out[j++] = c === PLUS ? 0x20 : c;
      i++;
    }
  }
  return out.toString('latin1', 0, j);
}

/** The invalid-escape count of one name or value, without building it (dropped arguments). */
function countInvalid(s: string, start: number, end: number): number {
  let invalid = 0;
  let i = start;
  while (i < end) {
    if (s.charCodeAt(i) === PERCENT) {
      if (i + 2 < end && hexValue(s.charCodeAt(i + 1)) >= 0 && hexValue(s.charCodeAt(i + 2)) >= 0) {
        i += 3;
        continue;
      }
      invalid++;
    }
    i++;
  }
  return invalid;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

// One reusable buffer for decoding, so a request allocates only the resulting strings.
// Big values get their own buffer, so one huge body does not pin memory for good.
const SCRATCH_KEEP = 64 * 1024;
let scratch = Buffer.allocUnsafe(4096);

function scratchFor(size: number): Buffer {
  if (size <= scratch.length) return scratch;
  if (size > SCRATCH_KEEP) return Buffer.allocUnsafe(size);
  scratch = Buffer.allocUnsafe(SCRATCH_KEEP);
  return scratch;
}
