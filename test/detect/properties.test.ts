/**
 * @module test/detect/properties
 * fast-check properties: any bytes (and any mix of SQL / HTML fragments) go through both
 * detectors and all tokenizers without throwing, and the tokenizers finish in at most
 * one token per input byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FLAG_QUOTE_DOUBLE,
  FLAG_QUOTE_NONE,
  FLAG_QUOTE_SINGLE,
  FLAG_SQL_ANSI,
  FLAG_SQL_MYSQL,
  createSqliState,
  detectSqli,
  sqliFingerprint,
  sqliFold,
  sqliInit,
  sqliTokenize,
} from '../../src/detect/sqli.js';
import { detectXss } from '../../src/detect/xss.js';
import { createHtml5State, html5Init, html5Next } from '../../src/detect/html5.js';

const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'));
const fragments = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "'", '"', '`', ' ', '--', '-', '#', '/*', '*/', '/*!', '(', ')', '{', '}', ',', ';', '1', '0x1f', '1e5',
        '1.5f', '.', '$', '$$', '$a$', '@', '@@', 'select', 'union', 'or', '=', '<=>', '::', '\\N', "N'", "q'[",
        "x'", "b'", "E'", "U&'", '[', ']', 'IF', 'collate', '\0', '\xa0', '\xff', '\n', '<script', '<svg', '<a ',
        'href=', 'onload=', 'style=', 'javascript:', '&#106;', '&#x6A', '<!--', '-->', '<!DOCTYPE', '<![CDATA[',
        ']]>', '<%', '%>', '<?', '</', '/>', '>',
      ),
      fc.string({ maxLength: 4 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'utf8').toString('latin1'));
const input = fc.oneof(bytes, fragments);

const SQL_FLAGS = [
  FLAG_QUOTE_NONE | FLAG_SQL_ANSI,
  FLAG_QUOTE_NONE | FLAG_SQL_MYSQL,
  FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI,
  FLAG_QUOTE_SINGLE | FLAG_SQL_MYSQL,
  FLAG_QUOTE_DOUBLE | FLAG_SQL_MYSQL,
];

test('detectSqli: any input gives null or a fingerprint of 1-5 token types', () => {
  fc.assert(
    fc.property(input, (s) => {
      const fp = detectSqli(s);
      assert.ok(fp === null || /^[kUBEtfn1vso&cA(){}.,:;T?X\\]{1,5}$/.test(fp), String(fp));
    }),
    { numRuns: 3000 },
  );
});

test('detectXss: any input gives a boolean', () => {
  fc.assert(
    fc.property(input, (s) => {
      assert.equal(typeof detectXss(s), 'boolean');
    }),
    { numRuns: 3000 },
  );
});

test('SQL tokenizer, folding and fingerprint terminate in every context', () => {
  const st = createSqliState();
  fc.assert(
    fc.property(input, fc.constantFrom(...SQL_FLAGS), (s, flags) => {
      sqliInit(st, s, flags);
      let n = 0;
      let pos = st.pos;
      while (sqliTokenize(st)) {
        n++;
        assert.ok(st.pos > pos, 'each token consumes input');
        pos = st.pos;
        assert.ok(n <= s.length, 'at most one token per byte');
      }
      sqliInit(st, s, flags);
      const folded = sqliFold(st);
      // At most 5 tokens, or 6 when folding stopped at `{` and an empty name in the fifth
      // and sixth places, which libinjection marks evil (its fold returns left + 2 there
      // unclamped): the fingerprint is then X.
      assert.ok(folded >= 0 && folded <= 6, `folded ${folded}`);
      sqliFingerprint(st, flags);
      assert.ok(st.fingerprintLength <= 5);
      if (folded === 6) assert.deepEqual([st.fingerprintLength, st.fingerprint[0]], [1, 'X'.charCodeAt(0)]);
    }),
    { numRuns: 2000 },
  );
});

test('HTML5 tokenizer terminates from every start state, tokens inside the input', () => {
  const hs = createHtml5State();
  fc.assert(
    fc.property(input, fc.integer({ min: 0, max: 4 }), (s, start) => {
      html5Init(hs, s, start);
      let n = 0;
      while (html5Next(hs)) {
        n++;
        assert.ok(n <= s.length + 1, 'at most one token per byte');
        assert.ok(hs.tokenStart >= 0 && hs.tokenLen >= 0 && hs.tokenStart + hs.tokenLen <= s.length);
      }
      // Once done, it stays done.
      assert.equal(html5Next(hs), false);
    }),
    { numRuns: 3000 },
  );
});
