/**
 * @module engine/transforms/nulls
 * t:removeNulls and t:replaceNulls: NUL bytes hide content from C string handling in
 * back ends, so rules look at the value with them dropped or turned into spaces.
 */

/** t:removeNulls — removes every NUL byte. */
export function removeNulls(input: string): string {
  return input.indexOf('\0') < 0 ? input : input.replaceAll('\0', '');
}

/** t:replaceNulls — replaces every NUL byte with a space. */
export function replaceNulls(input: string): string {
  return input.indexOf('\0') < 0 ? input : input.replaceAll('\0', ' ');
}
