/**
 * @module engine/operators/numeric
 * `@eq @ge @gt @le @lt`: integer comparisons. Both the value and the parameter are read
 * with C's atoi, as ModSecurity v2 reads them: text that is not a number counts as 0,
 * "12abc" as 12, and out-of-range numbers wrap the way glibc's (int)strtol does. Rules rely
 * on this (`@eq 0` on an absent or empty value matches), so it is reproduced exactly.
 */
import type { OperatorFactory } from './types.js';

/** C isspace in the C locale. */
function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

const LONG_MAX_DIGITS = '9223372036854775807';
const LONG_MIN_DIGITS = '9223372036854775808';

/**
 * glibc's atoi: `(int) strtol(s, NULL, 10)`. Leading C whitespace, an optional sign, then
 * decimal digits up to the first other byte; no digits gives 0. strtol saturates at the
 * 64-bit long limits and the cast keeps the low 32 bits, so "4294967297" is 1,
 * "99999999999999999999" is -1 and "-99999999999999999999" is 0. Allocates nothing.
 */
export function atoi(s: string): number {
  const n = s.length;
  let i = 0;
  while (i < n && isCSpace(s.charCodeAt(i))) i++;
  let negative = false;
  const sign = s.charCodeAt(i);
  if (sign === 0x2b || sign === 0x2d) {
    negative = sign === 0x2d;
    i++;
  }
  while (i < n && s.charCodeAt(i) === 0x30) i++;
  const first = i;
  // The low 32 bits of the magnitude, exact (lo * 10 + 9 stays below 2^36).
  let lo = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    lo = lo * 10 + (c - 0x30);
    // Reduced only once past 32 bits: a remainder per digit is a floating-point fmod.
    if (lo >= 4294967296) lo %= 4294967296;
    i++;
  }
  const significant = i - first;
  if (significant >= 19 && exceedsLong(s, first, significant, negative)) {
    // Saturated at LONG_MAX (low 32 bits all ones) or LONG_MIN (low 32 bits zero).
    return negative ? 0 : -1;
  }
  return negative ? -lo | 0 : lo | 0;
}

function exceedsLong(s: string, first: number, significant: number, negative: boolean): boolean {
  if (significant > 19) return true;
  const limit = negative ? LONG_MIN_DIGITS : LONG_MAX_DIGITS;
  for (let k = 0; k < 19; k++) {
    const d = s.charCodeAt(first + k) - limit.charCodeAt(k);
    if (d !== 0) return d > 0;
  }
  return false;
}

/** Inputs up to this long have their answer kept for the next evaluation (see comparison). */
const KEPT_INPUT_LENGTH = 32;

/**
 * A comparison with a fixed parameter. It keeps its last short input's answer: CRS's 91
 * paranoia-level gates of a request (`TX:DETECTION_PARANOIA_LEVEL "@lt 2"`) each read the
 * same TX value, request after request the same string, and the answer is then a
 * comparison of references instead of parsing the number again.
 */
function comparison(test: (value: number, param: number) => boolean): OperatorFactory {
  return (param) => {
    const right = atoi(param);
    let lastInput: string | null = null;
    let lastAnswer = false;
    return {
      evaluate(input) {
        if (input === lastInput) return lastAnswer;
        const answer = test(atoi(input), right);
        if (input.length <= KEPT_INPUT_LENGTH) {
          lastInput = input;
          lastAnswer = answer;
        }
        return answer;
      },
    };
  };
}

export const eq: OperatorFactory = comparison((a, b) => a === b);
export const ge: OperatorFactory = comparison((a, b) => a >= b);
export const gt: OperatorFactory = comparison((a, b) => a > b);
export const le: OperatorFactory = comparison((a, b) => a <= b);
export const lt: OperatorFactory = comparison((a, b) => a < b);
