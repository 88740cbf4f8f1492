/**
 * @module engine/transforms/comments
 * t:removeComments, t:replaceComments and t:removeCommentsChar: SQL, C and HTML comments
 * are a classic way to split a keyword ("UN/**\/ION") past a pattern, so rules look at
 * the value with them gone. Behaviour follows ModSecurity v2, quirks included.
 */
import { bytesToString, outputBuffer, outputWithPrefix } from './bytes.js';

const SLASH = 0x2f;
const STAR = 0x2a;
const DASH = 0x2d;
const HASH = 0x23;
const LT = 0x3c;
const BANG = 0x21;
const GT = 0x3e;

function opensHtmlComment(input: string, i: number): boolean {
  return (
    input.charCodeAt(i) === LT &&
    input.charCodeAt(i + 1) === BANG &&
    input.charCodeAt(i + 2) === DASH &&
    input.charCodeAt(i + 3) === DASH
  );
}

function closesHtmlComment(input: string, i: number): boolean {
  return input.charCodeAt(i) === DASH && input.charCodeAt(i + 1) === DASH && input.charCodeAt(i + 2) === GT;
}

/**
 * t:removeComments — removes /* … *\/ and <!-- … --> comments, and cuts the value at a
 * "--" or "#" line comment. An unterminated comment leaves one space. The char right after
 * a comment's end is kept without being examined; when the comment ends the value, that
 * char is ModSecurity's C string terminator, so the result ends with a NUL byte (the
 * SecRules language tests expect exactly this).
 */
export function removeComments(input: string): string {
  const len = input.length;
  let i = 0;
  while (i < len) {
    const c = input.charCodeAt(i);
    if (c === SLASH || c === LT || c === DASH || c === HASH) break;
    i++;
  }
  if (i === len) return input;
  const buf = outputBuffer(len + 1);
  for (let k = 0; k < i; k++) buf[k] = input.charCodeAt(k);
  let n = i;
  let changed = false;
  let inComment = false;
  while (i < len) {
    const c = input.charCodeAt(i);
    if (!inComment) {
      if (c === SLASH && input.charCodeAt(i + 1) === STAR) {
        inComment = true;
        changed = true;
        i += 2;
      } else if (c === LT && opensHtmlComment(input, i)) {
        inComment = true;
        changed = true;
        i += 4;
      } else if ((c === DASH && input.charCodeAt(i + 1) === DASH) || c === HASH) {
        changed = true;
        break;
      } else {
        buf[n++] = c;
        i++;
      }
    } else if (c === STAR && input.charCodeAt(i + 1) === SLASH) {
      inComment = false;
      i += 2;
      buf[n++] = i < len ? input.charCodeAt(i) : 0;
      i++;
    } else if (c === DASH && closesHtmlComment(input, i)) {
      inComment = false;
      i += 3;
      buf[n++] = i < len ? input.charCodeAt(i) : 0;
      i++;
    } else {
      i++;
    }
  }
  if (inComment) buf[n++] = 0x20;
  return changed ? bytesToString(buf, n) : input;
}

/** t:replaceComments — each /* … *\/ comment (unterminated too) becomes one space. */
export function replaceComments(input: string): string {
  let i = input.indexOf('/*');
  if (i < 0) return input;
  const len = input.length;
  const buf = outputWithPrefix(input, i);
  let n = i;
  let inComment = false;
  while (i < len) {
    const c = input.charCodeAt(i);
    if (!inComment) {
      if (c === SLASH && input.charCodeAt(i + 1) === STAR) {
        inComment = true;
        i += 2;
      } else {
        buf[n++] = c;
        i++;
      }
    } else if (c === STAR && input.charCodeAt(i + 1) === SLASH) {
      inComment = false;
      buf[n++] = 0x20;
      i += 2;
    } else {
      i++;
    }
  }
  if (inComment) buf[n++] = 0x20;
  return bytesToString(buf, n);
}

/**
 * t:removeCommentsChar — removes the comment markers themselves (/* *\/ <!-- --> -- #)
 * and keeps what was between them.
 */
export function removeCommentsChar(input: string): string {
  const len = input.length;
  let i = 0;
  while (i < len) {
    const c = input.charCodeAt(i);
    if (c === SLASH || c === STAR || c === LT || c === DASH || c === HASH) break;
    i++;
  }
  if (i === len) return input;
  const buf = outputWithPrefix(input, i);
  let n = i;
  let changed = false;
  while (i < len) {
    const c = input.charCodeAt(i);
    if (c !== SLASH && c !== STAR && c !== LT && c !== DASH && c !== HASH) {
      // The usual char: copied without looking at the next one.
      buf[n++] = c;
      i++;
      continue;
    }
    const next = input.charCodeAt(i + 1);
    let skip = 0;
    if ((c === SLASH && next === STAR) || (c === STAR && next === SLASH)) skip = 2;
    else if (c === LT && opensHtmlComment(input, i)) skip = 4;
    else if (c === DASH && next === DASH) skip = closesHtmlComment(input, i) ? 3 : 2;
    else if (c === HASH) skip = 1;
    if (skip > 0) {
      changed = true;
      i += skip;
    } else {
      buf[n++] = c;
      i++;
    }
  }
  return changed ? bytesToString(buf, n) : input;
}
