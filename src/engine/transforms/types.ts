/**
 * @module engine/transforms/types
 * The contract every transformation (`t:name`) follows. A transformation is a pure
 * function over a byte string (one char per byte, latin1): it never sees text decoded
 * as UTF-8 unless its own job is to decode.
 */

/** A transformation function: bytes in, bytes out. Must not throw on any input. */
export type TransformFn = (input: string) => string;

/** A registered transformation, under its SecLang name (as ModSecurity spells it). */
export interface TransformDef {
  readonly name: string;
  readonly fn: TransformFn;
}
