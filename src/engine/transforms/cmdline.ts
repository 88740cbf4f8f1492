/**
 * @module engine/transforms/cmdline
 * t:cmdLine: normalises a value the way Windows and Unix shells would read it, so
 * "C^OMMAND /C DIR" and "command/c dir" look alike to a rule. Quotes, backslashes and
 * carets are removed, runs of space , ; tab CR LF become one space, a space before
 * '/' or '(' is removed, and ASCII letters are lower-cased.
 * ModSecurity v2 stops at the first NUL byte (a C string); Warden reads the whole
 * value, so a %00 cannot hide the command that follows it.
 */
import { bytesToString, outputBuffer } from './bytes.js';

/** t:cmdLine — shell-style normalisation for command injection rules. */
export function cmdLine(input: string): string {
  const len = input.length;
  const buf = outputBuffer(len);
  let n = 0;
  let changed = false;
  let afterSpace = false;
  for (let i = 0; i < len; i++) {
    const c = input.charCodeAt(i);
    switch (c) {
      case 0x22: // "
      case 0x27: // '
      case 0x5c: // \
      case 0x5e: // ^
        changed = true;
        break;
      case 0x20:
      case 0x2c: // ,
      case 0x3b: // ;
      case 0x09:
      case 0x0d:
      case 0x0a:
        if (afterSpace) {
          changed = true;
        } else {
          if (c !== 0x20) changed = true;
          buf[n++] = 0x20;
          afterSpace = true;
        }
        break;
      case 0x2f: // /
      case 0x28: // (
        if (afterSpace) {
          n--;
          changed = true;
        }
        afterSpace = false;
        buf[n++] = c;
        break;
      default:
        if (c >= 0x41 && c <= 0x5a) {
          buf[n++] = c | 0x20;
          changed = true;
        } else {
          buf[n++] = c;
        }
        afterSpace = false;
    }
  }
  return changed ? bytesToString(buf, n) : input;
}
