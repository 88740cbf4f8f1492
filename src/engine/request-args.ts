/**
 * @module engine/request-args
 * Query-string arguments for ARGS_GET (interim: the full ModSecurity-compatible parser lives
 * in src/bodies/urlencoded and replaces this).
 */
import { Entry } from './collection.js';

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** URL-decodes bytes as ModSecurity does for arguments: `+` is a space, bad `%` escapes stay. */
export function urlDecodeArg(s: string): { value: string; invalid: boolean } {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return { value: s, invalid: false };
  let out = '';
  let invalid = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 43) out += ' ';
    else if (c === 37) {
      const a = i + 2 < s.length ? hex(s.charCodeAt(i + 1)) : -1;
      const b = a >= 0 ? hex(s.charCodeAt(i + 2)) : -1;
      if (a >= 0 && b >= 0) {
        out += String.fromCharCode(a * 16 + b);
        i += 2;
      } else {
        invalid = true;
        out += '%';
      }
    } else out += s[i];
  }
  return { value: out, invalid };
}

export function parseQueryArgs(query: string, separator: string, limit: number): { args: Entry[]; invalidEncoding: boolean } {
  const args: Entry[] = [];
  let invalidEncoding = false;
  if (query === '') return { args, invalidEncoding };
  for (const pair of query.split(separator)) {
    if (pair === '') continue;
    if (args.length >= limit) break;
    const eq = pair.indexOf('=');
    const name = urlDecodeArg(eq < 0 ? pair : pair.slice(0, eq));
    const value = urlDecodeArg(eq < 0 ? '' : pair.slice(eq + 1));
    if (name.invalid || value.invalid) invalidEncoding = true;
    args.push(new Entry(name.value, value.value));
  }
  return { args, invalidEncoding };
}
