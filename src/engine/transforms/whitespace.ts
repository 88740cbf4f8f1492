/**
 * @module engine/transforms/whitespace
 * t:trim, t:trimLeft, t:trimRight, t:compressWhitespace and t:removeWhitespace.
 * Whitespace is C-locale isspace() (tab, LF, VT, FF, CR, space); compressing and removing
 * also count the non-breaking space 0xA0, trimming does not — as ModSecurity v2 does.
 */
import { NBSP, bytesToString, isSpace, outputWithPrefix } from './bytes.js';

function isSpaceOrNbsp(c: number): boolean {
  return c === NBSP || isSpace(c);
}

// A long value is first searched for the first char that changes anything by the regex
// engine (a compiled character-class loop, about seven times faster per char than a loop
// of charCodeAt calls); the copy, when there is one, starts there.
const LONG = 256;
/** Whitespace as these transformations count it. */
const SPACE = /[\t-\r \xa0]/g;
/** Where compressing changes something: whitespace other than a space, or a space and more. */
const COMPRESS_STARTS = /[\t-\r\xa0]| [\t-\r \xa0]/g;

/** The index of the first match of `re` (global) in `input`, or its length when none. */
function firstAt(re: RegExp, input: string): number {
  re.lastIndex = 0;
  const m = re.exec(input);
  return m === null ? input.length : m.index;
}

/** t:trimLeft — drops leading whitespace. */
export function trimLeft(input: string): string {
  let start = 0;
  while (start < input.length && isSpace(input.charCodeAt(start))) start++;
  return start === 0 ? input : input.slice(start);
}

/** t:trimRight — drops trailing whitespace. */
export function trimRight(input: string): string {
  let end = input.length;
  while (end > 0 && isSpace(input.charCodeAt(end - 1))) end--;
  return end === input.length ? input : input.slice(0, end);
}

/** t:trim — drops leading and trailing whitespace. */
export function trim(input: string): string {
  let start = 0;
  let end = input.length;
  while (start < end && isSpace(input.charCodeAt(start))) start++;
  while (end > start && isSpace(input.charCodeAt(end - 1))) end--;
  return start === 0 && end === input.length ? input : input.slice(start, end);
}

/** t:compressWhitespace — every run of whitespace (0xA0 included) becomes one space. */
export function compressWhitespace(input: string): string {
  // Nothing to do unless some run is longer than one char or is not a plain space.
  let i = input.length >= LONG ? firstAt(COMPRESS_STARTS, input) : 0;
  for (; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c === 0x20) {
      if (i + 1 < input.length && isSpaceOrNbsp(input.charCodeAt(i + 1))) break;
    } else if (isSpaceOrNbsp(c)) {
      break;
    }
  }
  if (i === input.length) return input;
  const buf = outputWithPrefix(input, i);
  let n = i;
  let inRun = false;
  for (; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (isSpaceOrNbsp(c)) {
      if (!inRun) buf[n++] = 0x20;
      inRun = true;
    } else {
      buf[n++] = c;
      inRun = false;
    }
  }
  return bytesToString(buf, n);
}

/** t:removeWhitespace — removes every whitespace char (0xA0 included). */
export function removeWhitespace(input: string): string {
  let i = input.length >= LONG ? firstAt(SPACE, input) : 0;
  while (i < input.length && !isSpaceOrNbsp(input.charCodeAt(i))) i++;
  if (i === input.length) return input;
  const buf = outputWithPrefix(input, i);
  let n = i;
  for (; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (!isSpaceOrNbsp(c)) buf[n++] = c;
  }
  return bytesToString(buf, n);
}
