/**
 * @module test/reliability/fuzz/mutate
 * Mutation of real inputs, as fast-check arbitraries: a seed from a corpus (CRS regression
 * requests, fail2ban's sample logs, rule files …) with a few edits of the kinds that break
 * parsers — bit flips, bytes replaced, tokens of the format inserted, ranges deleted,
 * duplicated many times (deep nesting, many arguments), spliced with another seed, cut
 * short. Being arbitraries, the edits are reproducible from fast-check's seed.
 */
import fc from 'fast-check';

/** Largest input a mutation produces (longer results are cut): parsers are bounded per input. */
export const MAX_MUTATED_LENGTH = 256 * 1024;

type Edit =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'byte'; readonly at: number; readonly byte: number }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number; readonly times: number }
  | { readonly kind: 'splice'; readonly at: number; readonly other: number; readonly from: number }
  | { readonly kind: 'cut'; readonly at: number };

/** Byte-like text: any char 0–255 (one char per byte, as the parsers receive requests). */
export function bytes(maxLength = 64): fc.Arbitrary<string> {
  return fc.uint8Array({ maxLength }).map((a) => Buffer.from(a).toString('latin1'));
}

/** Tokens that matter to almost every text format: line ends, quotes, escapes, NUL, huge numbers. */
export const COMMON_TOKENS: readonly string[] = [
  '\r\n', '\n', '\r', '\0', '"', "'", '\\', '%', '%00', '%zz', '%u0041', '%%', '&', '=', ';', ',', ':', ' ', '\t',
  '<', '>', '{', '}', '[', ']', '(', ')', '*', '+', '?', '|', '$', '^', '#', '-', '--', '/', '//', '..', '../',
  '0', '-1', '4294967296', '18446744073709551616', '9'.repeat(40), '1e308', '0x', 'ffffffff',
  '\xff', '\xfe\xff', '\xef\xbb\xbf', '\xc3\xa9', '\xc0\xaf', '\xed\xa0\x80', '\xf4\x90\x80\x80', '\x80',
];

/** Tokens for text that is not bytes (rule and filter files): characters beyond latin1. */
export const UNICODE_TOKENS: readonly string[] = ['\u2028', '\u00a0', '\ufeff', '\ufffd', '\ud800', '\udc00', '\u{1f600}', 'é', 'İ', 'ß'];

function editArbitrary(tokens: readonly string[], seedCount: number): fc.Arbitrary<Edit> {
  const at = fc.nat();
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at, bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('byte' as const), at, byte: fc.nat(255) }),
    fc.record({ kind: fc.constant('insert' as const), at, text: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...tokens) }, { weight: 1, arbitrary: bytes(16) }) }),
    fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({
      kind: fc.constant('repeat' as const),
      at,
      length: fc.integer({ min: 1, max: 48 }),
      times: fc.oneof(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 9, max: 2000 })),
    }),
    fc.record({ kind: fc.constant('splice' as const), at, other: fc.nat(Math.max(0, seedCount - 1)), from: fc.nat() }),
    fc.record({ kind: fc.constant('cut' as const), at }),
  );
}

function apply(text: string, edit: Edit, seeds: readonly string[], maxLength: number): string {
  const n = text.length;
  const at = n === 0 ? 0 : edit.at % (n + 1);
  switch (edit.kind) {
    case 'flip':
      if (n === 0) return text;
      return text.slice(0, at % n) + String.fromCharCode((text.charCodeAt(at % n) ^ (1 << edit.bit)) & 0xffff) + text.slice((at % n) + 1);
    case 'byte':
      if (n === 0) return String.fromCharCode(edit.byte);
      return text.slice(0, at % n) + String.fromCharCode(edit.byte) + text.slice((at % n) + 1);
    case 'insert':
      return text.slice(0, at) + edit.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + edit.length);
    case 'repeat': {
      const piece = text.slice(at, at + edit.length);
      if (piece === '') return text;
      const times = Math.min(edit.times, Math.floor(maxLength / piece.length));
      return text.slice(0, at) + piece.repeat(times) + text.slice(at);
    }
    case 'splice': {
      const other = seeds[edit.other % Math.max(1, seeds.length)] ?? '';
      const from = other.length === 0 ? 0 : edit.from % other.length;
      return text.slice(0, at) + other.slice(from);
    }
    case 'cut':
      return text.slice(0, at);
  }
}

/**
 * Seeds with 1–6 edits each.
 *
 * @example
 * const arb = mutated(['a=1&b=2'], ['%', '&']);
 * fc.sample(arb, { seed: 1, numRuns: 3 }); // e.g. ['a=1&%b=2', 'a=1&b=2b=2b=2', 'a=\x811&b=2']
 */
export function mutated(seeds: readonly string[], tokens: readonly string[] = COMMON_TOKENS, maxLength = MAX_MUTATED_LENGTH, maxEdits = 6): fc.Arbitrary<string> {
  if (seeds.length === 0) throw new Error('mutated: no seeds');
  return fc
    .tuple(fc.nat(seeds.length - 1), fc.array(editArbitrary(tokens, seeds.length), { minLength: 1, maxLength: maxEdits }))
    .map(([i, edits]) => {
      let text = seeds[i] as string;
      for (const e of edits) {
        text = apply(text, e, seeds, maxLength);
        if (text.length > maxLength) text = text.slice(0, maxLength);
      }
      return text;
    });
}

/** A seed as it is, now and then (the corpus itself must pass too). */
export function seedOrMutated(seeds: readonly string[], tokens: readonly string[] = COMMON_TOKENS, maxLength = MAX_MUTATED_LENGTH): fc.Arbitrary<string> {
  return fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...seeds) }, { weight: 9, arbitrary: mutated(seeds, tokens, maxLength) });
}
