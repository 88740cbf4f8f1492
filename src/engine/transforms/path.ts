/**
 * @module engine/transforms/path
 * t:normalisePath and t:normalisePathWin (also spelled normalize…): collapse "//",
 * resolve "./" and "../" so "/a/./b/../../etc/passwd" is seen as "/etc/passwd".
 * Follows ModSecurity v2's algorithm: an absolute path never climbs above its root, a
 * relative one keeps the "../" it cannot resolve, and a trailing slash survives only if
 * the input had one. Like v2, a back-reference is recognised by its last two chars, so any
 * segment ending in ".." ("x..", "...") is removed too: "/a/x../b" gives "/a/b".
 * normalisePathWin treats '\' as a separator and writes it as '/'. v2 converts the
 * backslashes in place as it walks and skips some inside runs of separators, leaving
 * '\' in its output ("a\.\\b" gives "a\b"); Warden converts every one ("a/b").
 */
import { bytesToString, outputBuffer } from './bytes.js';

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

function isSeparator(c: number, win: boolean): boolean {
  return c === SLASH || (win && c === BACKSLASH);
}

function normalise(input: string, win: boolean): string {
  const len = input.length;
  if (len === 0) return input;
  // Only a run of separators, a segment ending in '.' ("./", "../", "x../", or one last) or,
  // for Windows, a backslash changes anything: "alice@example.org" or "/a/b.php" do not.
  const backslash = win && input.indexOf('\\') >= 0;
  if (input.indexOf('//') < 0 && input.indexOf('./') < 0 && input.charCodeAt(len - 1) !== DOT && !backslash) return input;

  const absolute = isSeparator(input.charCodeAt(0), win);
  const trailing = isSeparator(input.charCodeAt(len - 1), win);
  const out = outputBuffer(len);
  let n = 0;
  // Set once a relative path has climbed as far as it can: later "../" are kept verbatim.
  let atRoot = false;
  let p = 0;

  while (p < len) {
    let c = input.charCodeAt(p);
    // Inside a segment (neither this char nor the next is a separator) a char is copied as
    // it is: a tight loop until one of them is.
    while (p + 1 < len && !isSeparator(c, win)) {
      const next = input.charCodeAt(p + 1);
      if (isSeparator(next, win)) break;
      out[n++] = c;
      p++;
      c = next;
    }
    const last = p === len - 1;

    if (last || isSeparator(input.charCodeAt(p + 1), win)) {
      // p ends a segment (or is a separator followed by another one).
      if (c === DOT) {
        if (n > 0 && out[n - 1] === DOT) {
          if (absolute || (!atRoot && n > 2)) {
            // A back-reference: drop it and the segment before it, never the root.
            let k = n - 3;
            while (k > 0 && out[k] !== SLASH) k--;
            if (k <= 0) {
              atRoot = true;
              k = absolute && last ? 1 : 0;
            }
            n = k;
            if (last) break;
            p++;
          } else {
            atRoot = true;
          }
        } else if (n === 0) {
          // "./" at the start of a relative path.
          if (last) break;
          p++;
        } else if (out[n - 1] === SLASH) {
          // "/./": the slash before it is written again from the separator after it.
          if (last) break;
          n--;
          p++;
        }
      } else if (n > 0 && (last || !isSeparator(c, win))) {
        atRoot = false;
      }
    }

    if (isSeparator(input.charCodeAt(p), win)) {
      while (p + 1 < len && isSeparator(input.charCodeAt(p + 1), win)) p++;
      p++;
      // A relative path never starts with a slash.
      if (absolute || n > 0) out[n++] = SLASH;
    } else {
      out[n++] = input.charCodeAt(p);
      p++;
    }
  }

  if (!trailing && n > 0 && out[n - 1] === SLASH) n--;
  // Each char written takes the place of at least one read, and nothing is written that was
  // not read: as long as the input, the output dropped nothing, and differs from it only
  // where a backslash became a slash.
  if (n === len && !backslash) return input;
  return bytesToString(out, n);
}

/** t:normalisePath — resolves "//", "./" and "../" in a '/'-separated path. */
export function normalisePath(input: string): string {
  return normalise(input, false);
}

/** t:normalisePathWin — as normalisePath, with '\' also a separator (written as '/'). */
export function normalisePathWin(input: string): string {
  return normalise(input, true);
}
