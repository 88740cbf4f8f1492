/**
 * @module engine/transforms/php
 * t:phpArgsNames (ModSecurity v3): an argument name as PHP registers it, so a rule on
 * ARGS_NAMES sees what the application will see. PHP drops leading spaces, turns ' ' and
 * '.' into '_', treats the first '[' that has a matching ']' as the start of array
 * subscripts (and "[ ]" as "[]"), and turns an unmatched '[' into '_'. A name starting
 * with '[' or '=' is no name at all (empty result). Follows libmodsecurity's rules.
 */

const OPEN = 0x5b;
const SPACE = 0x20;
const DOT = 0x2e;

/** t:phpArgsNames — the argument name as PHP's variable registration normalises it. */
export function phpArgsNames(input: string): string {
  const len = input.length;
  const first = input.charCodeAt(0);
  if (first === OPEN || first === 0x3d) return '';
  let i = 0;
  while (i < len && input.charCodeAt(i) === SPACE) i++;
  let out = '';
  let run = i;
  let bracketOpen = false;
  let subscripts = false;
  for (; i < len; i++) {
    const c = input.charCodeAt(i);
    if (c === OPEN && !bracketOpen) {
      if (input.indexOf(']', i) >= 0) {
        subscripts = true;
        break;
      }
      out += input.slice(run, i) + '_';
      run = i + 1;
      bracketOpen = true;
    } else if (!bracketOpen && (c === SPACE || c === DOT)) {
      out += input.slice(run, i) + '_';
      run = i + 1;
    }
  }
  out += input.slice(run, i);
  if (!subscripts) return out === input ? input : out;
  // i is at a '[': copy each [..] group up to its ']', then stop unless another '[' follows.
  for (;;) {
    const close = input.indexOf(']', i);
    if (close < 0) return out;
    if (close - i === 2 && input.charCodeAt(i + 1) === SPACE) {
      out += '[]';
    } else {
      out += input.slice(i, close + 1);
    }
    i = close + 1;
    if (i >= len || input.charCodeAt(i) !== OPEN) return out;
  }
}
