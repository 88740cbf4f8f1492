/**
 * @module engine/transforms/length
 * t:length: the value's length in bytes, written in decimal, so numeric operators
 * (@gt, @lt …) can bound how long a value may be.
 */

/** t:length — the value's length in bytes, in decimal. */
export function length(input: string): string {
  return String(input.length);
}
