/**
 * @module store/string-prototype
 * Undoes what loading ioredis does to the speed of every string operation in the process.
 *
 * ioredis defines `class VerbatimString extends String` when it is loaded. Making
 * String.prototype the prototype of another object puts it, in V8, into a prototype's
 * "setup mode": its properties move to a dictionary, and from then on optimised code cannot
 * inline `s.charCodeAt(i)`, `s.toLowerCase()` and the rest of String.prototype's methods on
 * primitive strings; each becomes a generic call. Nothing turns it back on its own: a
 * primitive string's property loads do not. The WAF is made of such calls: in one process
 * the CRS benign GET cost 81–86 µs with ioredis loaded against 63–64 µs without.
 *
 * V8 makes a prototype in setup mode fast again when a property load that has type
 * feedback looks through it. A function gets its feedback vector after a few calls, so a
 * few dozen loads of an absent property through a String wrapper (whose prototype is
 * String.prototype) are enough. test/store/string-prototype.test.ts checks, with V8's
 * natives syntax in a child process, that String.prototype has fast properties after
 * ioredis and this module are loaded.
 */

/** A load of a property no string has, through the object given: an IC with feedback. */
function loadAbsent(o: object): unknown {
  return (o as { readonly wardenAbsentProperty?: unknown }).wardenAbsentProperty;
}

/**
 * Makes String.prototype a fast (non-dictionary) prototype again if something turned it
 * into a dictionary. Costs a few microseconds; call it after importing a module that
 * subclasses String.
 */
export function restoreFastStringPrototype(): void {
  const wrapper = Object('');
  for (let i = 0; i < 64; i++) loadAbsent(wrapper);
}
