/**
 * @module engine/operators/strings
 * Byte-string comparisons: `@streq @beginsWith @endsWith @contains @containsWord @within
 * @strmatch`. All are case-sensitive and compare bytes, as in ModSecurity v2 (use
 * t:lowercase for the other kind).
 *
 * Substring searches use String.prototype.indexOf: on one-byte strings V8 runs
 * Boyer–Moore–Horspool and falls back to full Boyer–Moore when a pattern behaves badly, so
 * the worst case stays linear. Measured against a Horspool table built at load in
 * TypeScript, it was 1.5–6× faster (short needles most), so there is nothing to compile.
 *
 * v2's empty cases are kept: an empty parameter is found in anything (`@contains ""`
 * matches), and for `@within` an empty value is within anything.
 */
import { detached } from '../no-match-memo.js';
import { parsePmContent } from './pm.js';
import { OperatorParamError, type OperatorFactory } from './types.js';

/** A "word" byte for @containsWord: ASCII letter, digit or underscore (v2's isalnum or '_'). */
function isWordByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/** `@streq text`: the value is exactly the parameter. */
export const streq: OperatorFactory = (param) => ({
  evaluate: (input) => input === param,
});

/** `@beginsWith text`: the value starts with the parameter. */
export const beginsWith: OperatorFactory = (param) => ({
  evaluate: (input) => input.startsWith(param),
});

/** `@endsWith text`: the value ends with the parameter. */
export const endsWith: OperatorFactory = (param) => ({
  evaluate: (input) => input.endsWith(param),
});

/** `@contains text`: the parameter occurs somewhere in the value. */
export const contains: OperatorFactory = (param) => ({
  evaluate: (input) => input.includes(param),
});

/**
 * `@containsWord word`: the parameter occurs in the value with no word byte (letter,
 * digit, `_`) directly before or after it.
 */
export const containsWord: OperatorFactory = (param) => {
  const m = param.length;
  return {
    evaluate(input) {
      if (m === 0) return true;
      const n = input.length;
      for (let i = input.indexOf(param); i >= 0; i = input.indexOf(param, i + 1)) {
        if ((i === 0 || !isWordByte(input.charCodeAt(i - 1))) && (i + m === n || !isWordByte(input.charCodeAt(i + m)))) {
          return true;
        }
      }
      return false;
    },
  };
};

/** Values up to this long have their @within answer remembered. */
const WITHIN_MEMO_LENGTH = 64;
/** Answers an @within operator remembers before it starts over. */
const WITHIN_MEMO_ENTRIES = 1024;

/**
 * `@within list`: the value occurs somewhere in the parameter (an empty value always does).
 * CRS asks it of every request's method, protocol and header names against the same lists:
 * a short value's answer is remembered (a lookup costs a quarter of searching a 150-byte
 * list, measured).
 */
export const within: OperatorFactory = (param) => {
  let memo = new Map<string, boolean>();
  return {
    evaluate(input) {
      if (input.length > WITHIN_MEMO_LENGTH) return param.includes(input);
      let found = memo.get(input);
      if (found === undefined) {
        found = param.includes(input);
        if (memo.size >= WITHIN_MEMO_ENTRIES) memo = new Map();
        memo.set(detached(input), found);
      }
      return found;
    },
  };
};

/**
 * `@strmatch text`: the parameter, in v2's content syntax (`|hex|`, `\"` …), occurs in the
 * value. v2 hands it to apr_strmatch as a C string, so a `|00|` byte ends it.
 */
export const strmatch: OperatorFactory = (param) => {
  const processed = parsePmContent(param);
  if (processed === null) {
    throw new OperatorParamError(
      param.trim() === ''
        ? '@strmatch needs a string to look for'
        : `@strmatch: unsupported escape in "${param}" (only \\: \\; \\\\ \\" and |hex| are allowed)`,
    );
  }
  const nul = processed.indexOf('\0');
  const needle = nul < 0 ? processed : processed.slice(0, nul);
  return { evaluate: (input) => input.includes(needle) };
};
