/**
 * @module test/engine/transforms
 * Transformations beyond the SecRules language tests: truncated and invalid escapes,
 * empty input, the places where Warden chose a behaviour (NUL bytes, Windows paths), the
 * registry, and a property run over arbitrary byte strings for every transformation.
 * Strings are bytes: '\xHH' in a case is the byte 0xHH.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { getTransform, transformNames } from '../../src/engine/transforms/index.js';

type Case = readonly [name: string, input: string, expected: string];

function apply(name: string, input: string): string {
  const def = getTransform(name);
  assert.ok(def, `t:${name} is registered`);
  return def.fn(input);
}

const cases: Record<string, readonly Case[]> = {
  'URL decoding': [
    ['urlDecode', '', ''],
    ['urlDecode', '%41%42', 'AB'],
    ['urlDecode', 'a+b%2B', 'a b+'],
    ['urlDecode', '%4', '%4'],
    ['urlDecode', '%', '%'],
    ['urlDecode', '%4g%g4', '%4g%g4'],
    ['urlDecode', '%%41', '%A'],
    ['urlDecode', '%00%ff%FF', '\x00\xff\xff'],
    ['urlDecode', '%u0041', '%u0041'],
    ['urlDecodeUni', '%u0041%U0042', 'AB'],
    ['urlDecodeUni', '%u12', '%u12'],
    ['urlDecodeUni', '%u', '%u'],
    ['urlDecodeUni', '%u004', '%u004'],
    ['urlDecodeUni', '%u004g%41', '%u004gA'],
    ['urlDecodeUni', '%uff21%uFF3c%uff5e', 'A\\~'],
    ['urlDecodeUni', '%uff00%uff5f%u4141', '\x00\x5fA'],
    ['urlDecodeUni', '%u2215', '\x15'],
    ['urlDecodeUni', '%4', '%4'],
    ['urlDecodeUni', '+%2b', ' +'],
  ],
  'URL encoding': [
    ['urlEncode', '', ''],
    ['urlEncode', 'abcXYZ019*', 'abcXYZ019*'],
    ['urlEncode', 'a b&c=d', 'a+b%26c%3dd'],
    ['urlEncode', '-._~', '%2d%2e%5f%7e'],
    ['urlEncode', '\x00\xff', '%00%ff'],
  ],
  'HTML entities': [
    ['htmlEntityDecode', '', ''],
    ['htmlEntityDecode', '&', '&'],
    ['htmlEntityDecode', '&#', '&#'],
    ['htmlEntityDecode', '&#x', '&#x'],
    ['htmlEntityDecode', '&#x;', '&#x;'],
    ['htmlEntityDecode', '&#;', '&#;'],
    ['htmlEntityDecode', '&;', '&;'],
    ['htmlEntityDecode', '&#65;&#x42;&#X43', 'ABC'],
    ['htmlEntityDecode', '&#60script&#62', '<script>'],
    ['htmlEntityDecode', '&#256;&#x141;', '\x00A'],
    ['htmlEntityDecode', '&#99999999999999999999;', '\xff'],
    ['htmlEntityDecode', '&#9223372036854775807;&#9223372036854775808;', '\xff\xff'],
    ['htmlEntityDecode', '&#9223372036854775806;', '\xfe'],
    ['htmlEntityDecode', '&#x7fffffffffffff41;&#x8000000000000041;', 'A\xff'],
    ['htmlEntityDecode', '&lt;&GT;&Quot&amp;&nbsp;', '<>"&\xa0'],
    ['htmlEntityDecode', '&amp;lt;', '&lt;'],
    ['htmlEntityDecode', '&apos;&copy;&ltx;', '&apos;&copy;&ltx;'],
    ['htmlEntityDecode', 'a&b', 'a&b'],
  ],
  'JavaScript escapes': [
    ['jsDecode', '', ''],
    ['jsDecode', '\\x41\\u0042\\103', 'ABC'],
    ['jsDecode', '\\x4', 'x4'],
    ['jsDecode', '\\x', 'x'],
    ['jsDecode', '\\u12', 'u12'],
    ['jsDecode', '\\U0041', 'U0041'],
    ['jsDecode', '\\uff21\\uFF3c\\u4142', 'A\\B'],
    ['jsDecode', '\\400', ' 0'],
    ['jsDecode', '\\377\\0', '\xff\x00'],
    ['jsDecode', '\\n\\t\\r\\a\\b\\f\\v', '\n\t\r\x07\x08\x0c\x0b'],
    ['jsDecode', '\\q\\"\\\\', 'q"\\'],
    ['jsDecode', 'a\\', 'a\\'],
  ],
  'C escape sequences': [
    ['escapeSeqDecode', '', ''],
    ['escapeSeqDecode', '\\x41\\X42\\103', 'ABC'],
    ['escapeSeqDecode', '\\x4', 'x4'],
    ['escapeSeqDecode', '\\xg1', 'xg1'],
    ['escapeSeqDecode', '\\777\\400', '\xff\x00'],
    ['escapeSeqDecode', '\\0\\01\\0123', '\x00\x01\n3'],
    ['escapeSeqDecode', '\\a\\b\\f\\n\\r\\t\\v\\\\\\?\\\'\\"', '\x07\x08\x0c\n\r\t\x0b\\?\'"'],
    ['escapeSeqDecode', '\\q\\8', 'q8'],
    ['escapeSeqDecode', '\\', '\\'],
  ],
  'CSS escapes': [
    ['cssDecode', '', ''],
    ['cssDecode', '\\41\\42 \\43  x', 'ABC x'],
    ['cssDecode', '\\0000041', '\x041'],
    ['cssDecode', '\\ff21\\0ff3c\\00ff5e\\1ff21', 'A\\~!'],
    ['cssDecode', '\\ff00', '\x00'],
    ['cssDecode', 'a\\\nb', 'ab'],
    ['cssDecode', '\\g\\\\', 'g\\'],
    ['cssDecode', 'x\\', 'x'],
  ],
  base64: [
    ['base64Decode', '', ''],
    ['base64Decode', 'QUJD', 'ABC'],
    ['base64Decode', 'QUI', 'AB'],
    ['base64Decode', 'QQ', 'A'],
    ['base64Decode', 'Q', ''],
    ['base64Decode', 'QQ==QUJD', 'A'],
    ['base64Decode', 'QUJD QUJD', 'ABC'],
    ['base64Decode', 'QUJD-_', 'ABC'],
    ['base64Decode', '!!!', ''],
    ['base64Decode', '/w', '\xff'],
    ['base64DecodeExt', '', ''],
    ['base64DecodeExt', 'QU JD\r\nQUJD', 'ABCABC'],
    ['base64DecodeExt', 'Q.U.J.D', 'ABC'],
    ['base64DecodeExt', 'QQ==', 'A'],
    ['base64DecodeExt', 'Q', ''],
    ['base64DecodeExt', 'Q==', ''],
    ['base64DecodeExt', 'Q=UJD', ''],
    ['base64DecodeExt', 'QUJ=D', 'ABC'],
    ['base64DecodeExt', 'QU\x00JD', 'ABC'],
    ['base64Encode', '', ''],
    ['base64Encode', 'ABC', 'QUJD'],
    ['base64Encode', 'A', 'QQ=='],
    ['base64Encode', '\xff\x00', '/wA='],
  ],
  hex: [
    ['hexDecode', '', ''],
    ['hexDecode', '4', ''],
    ['hexDecode', '414', 'A'],
    ['hexDecode', '4a4A', 'JJ'],
    ['hexDecode', 'zz', 'S'],
    ['hexEncode', '', ''],
    ['hexEncode', '\x00\x7f\xff', '007fff'],
    ['sqlHexDecode', '', ''],
    ['sqlHexDecode', 'SELECT 0x756e696f6e', 'SELECT union'],
    ['sqlHexDecode', '0X41', 'A'],
    ['sqlHexDecode', '0x', '0x'],
    ['sqlHexDecode', '0x4', '0x4'],
    ['sqlHexDecode', '0x414', 'A4'],
    ['sqlHexDecode', '0x410x42', 'A0x42'],
    ['sqlHexDecode', '0x41 0x42', 'A B'],
    ['sqlHexDecode', '0xg1', '0xg1'],
    ['sqlHexDecode', '00x41', '0A'],
    // Warden reads past NUL bytes where v2 (a C string) stops.
    ['sqlHexDecode', 'a\x000x41', 'a\x00A'],
    ['sqlHexDecode', '0x00410x42', '\x00A0x42'],
  ],
  'comments': [
    ['removeComments', '', ''],
    ['removeComments', 'UN/**/ION', 'UNION'],
    ['removeComments', 'a--b', 'a'],
    ['removeComments', 'a#b', 'a'],
    ['removeComments', 'a<!--b-->c', 'ac'],
    ['removeComments', 'a/*b', 'a '],
    ['removeComments', 'a/*b*/', 'a\x00'],
    ['removeComments', 'a/*b*//*c*/d', 'a/*c*/d'],
    ['removeComments', 'a*/b', 'a*/b'],
    ['removeCommentsChar', '', ''],
    ['removeCommentsChar', 'a<!--b-->c', 'abc'],
    ['removeCommentsChar', 'a--b#c/*d*/', 'abcd'],
    ['removeCommentsChar', 'a-b*c/d', 'a-b*c/d'],
    ['replaceComments', '', ''],
    ['replaceComments', 'a/*b*/c', 'a c'],
    ['replaceComments', 'a/*b', 'a '],
    ['replaceComments', 'a*/b--c#', 'a*/b--c#'],
  ],
  paths: [
    ['normalisePath', '', ''],
    ['normalisePath', '/a/b/../c', '/a/c'],
    ['normalisePath', '/../../etc/passwd', '/etc/passwd'],
    // v2 keeps the root slash, then drops it as a trailing slash the input did not have.
    ['normalisePath', '/..', ''],
    ['normalisePath', '/../', '/'],
    ['normalisePath', 'a/../../b', '../b'],
    ['normalisePath', '/a/./b/', '/a/b/'],
    ['normalisePath', 'a//b///c', 'a/b/c'],
    ['normalisePath', '/a/x../b', '/a/b'],
    ['normalisePath', 'a\\..\\b', 'a\\..\\b'],
    ['normalizePath', '/x/./y', '/x/y'],
    ['normalisePathWin', 'a\\b\\..\\c', 'a/c'],
    ['normalisePathWin', 'c:\\x\\..\\y', 'c:/y'],
    ['normalisePathWin', 'a\\\\\\b', 'a/b'],
    ['normalisePathWin', 'a\\.\\\\b', 'a/b'],
    ['normalizePathWin', '\\..\\boot.ini', '/boot.ini'],
    // Dots that end no segment change nothing; one that ends the last segment does.
    ['normalisePath', 'alice@example.org', 'alice@example.org'],
    ['normalisePath', '/wp-admin/a.b.php', '/wp-admin/a.b.php'],
    ['normalisePath', 'a/b/.', 'a/b'],
    ['normalisePath', 'a/b/..', 'a'],
    ['normalisePath', 'a/x..', 'a'],
    ['normalisePathWin', 'a.b\\c', 'a.b/c'],
  ],
  'whitespace, case and NUL bytes': [
    ['compressWhitespace', 'a \t\n b', 'a b'],
    ['compressWhitespace', 'a\xa0b', 'a b'],
    ['compressWhitespace', '\t', ' '],
    ['removeWhitespace', ' a\xa0b\x0b\x0c', 'ab'],
    ['trim', '\xa0a \x0b', '\xa0a'],
    ['trimLeft', '\r\n a ', 'a '],
    ['trimRight', ' a\t\n', ' a'],
    ['trim', ' \t ', ''],
    ['lowercase', 'ÀBC\x00D', 'Àbc\x00d'],
    ['uppercase', 'àbcÿ', 'àBCÿ'],
    ['uppercase', 'abc', 'ABC'],
    ['removeNulls', '\x00a\x00\x00b\x00', 'ab'],
    ['replaceNulls', '\x00a\x00', ' a '],
  ],
  'command lines': [
    ['cmdLine', '', ''],
    ['cmdLine', 'C^OMMAND /C DIR', 'command/c dir'],
    ['cmdLine', "p'i'n\"g\" ,;\t x", 'ping x'],
    ['cmdLine', 'echo (x) ;', 'echo(x) '],
    ['cmdLine', 'a\x00B;C', 'a\x00b c'],
  ],
  'UTF-8 to %u': [
    ['utf8toUnicode', '', ''],
    ['utf8toUnicode', 'plain ascii', 'plain ascii'],
    ['utf8toUnicode', '\xc3\xa9', '%u00e9'],
    ['utf8toUnicode', '\xe2\x82\xac', '%u20ac'],
    ['utf8toUnicode', '\xf0\x9f\x98\x80', '%u1f600'],
    ['utf8toUnicode', 'a\xc3', 'a'],
    ['utf8toUnicode', '\xe2\x82', '\x82'],
    ['utf8toUnicode', '\x80\xbf\xf8\xff', '\x80\xbf\xf8\xff'],
    ['utf8toUnicode', '\xc0\x80', '%u0000\xc0'],
    ['utf8toUnicode', '\xed\xa0\x80', '%ud800\xed'],
    ['utf8toUnicode', '\xf5\x80\x80\x80', '\xf5%u140000'],
    ['utf8toUnicode', 'a\x00\xc3\xa9', 'a\x00%u00e9'],
  ],
  'parity': [
    ['parityZero7bit', '\xc1a', 'Aa'],
    ['parityEven7bit', 'AC', 'A\xc3'],
    ['parityOdd7bit', 'AC', '\xc1C'],
    ['parityEven7bit', '\x81', '\x01'],
  ],
  'PHP argument names': [
    ['phpArgsNames', '', ''],
    ['phpArgsNames', 'a.b c', 'a_b_c'],
    ['phpArgsNames', '  a', 'a'],
    ['phpArgsNames', '=a', ''],
    ['phpArgsNames', 'a[b]c', 'a[b]'],
    ['phpArgsNames', 'a[ ][x]', 'a[][x]'],
    ['phpArgsNames', 'a[b', 'a_b'],
    ['phpArgsNames', 'a[b.c', 'a_b.c'],
  ],
  'length': [
    ['length', '', '0'],
    ['length', 'a\x00\xff', '3'],
  ],
};

for (const [family, rows] of Object.entries(cases)) {
  test(`t: ${family}`, () => {
    for (const [name, input, expected] of rows) {
      assert.equal(apply(name, input), expected, `t:${name}(${JSON.stringify(input)})`);
    }
  });
}

test('t:md5 and t:sha1 return the raw digest bytes', () => {
  for (const [name, size] of [['md5', 16], ['sha1', 20]] as const) {
    for (const input of ['', 'abc', '\x00\xff\x80']) {
      const digest = apply(name, input);
      assert.equal(digest.length, size);
      assert.equal(digest, createHash(name).update(Buffer.from(input, 'latin1')).digest('binary'));
    }
  }
});

test('values larger than the shared output buffer decode completely', () => {
  const n = 50_000;
  assert.equal(apply('urlDecode', '%41'.repeat(n)), 'A'.repeat(n));
  assert.equal(apply('utf8toUnicode', '\xc3\xa9'.repeat(n)), '%u00e9'.repeat(n));
  assert.equal(apply('hexEncode', '\xab'.repeat(n)), 'ab'.repeat(n));
  assert.equal(apply('lowercase', 'AÀ'.repeat(n)), 'aÀ'.repeat(n));
  // A big result must not be overwritten by the next call.
  const big = apply('urlEncode', ' '.repeat(n));
  apply('urlEncode', '!'.repeat(n));
  assert.equal(big, '+'.repeat(n));
});

test('case mapping of long values (scanned by regex) agrees with the short-value loop', () => {
  const mixed = 'Ab\x00Zz@[`{\x7f';
  for (const n of [1, 25, 26, 300]) {
    const plain = mixed.repeat(n);
    const high = `${plain}À\xff`;
    for (const [name, expect] of [['lowercase', (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase())], ['uppercase', (s: string) => s.replace(/[a-z]/g, (c) => c.toUpperCase())]] as const) {
      assert.equal(apply(name, plain), expect(plain), `${name} ${plain.length}`);
      assert.equal(apply(name, high), expect(high), `${name} ${high.length} with Latin-1`);
    }
  }
  // Nothing to change: the same string comes back, long or short.
  for (const s of ['abc'.repeat(2), 'abc'.repeat(200), 'a\xc0'.repeat(200)]) assert.equal(apply('lowercase', s), s);
  for (const s of ['ABC'.repeat(200), 'A\xe0'.repeat(200)]) assert.equal(apply('uppercase', s), s);
});

test('registry: names are case-insensitive, aliases resolve, none is the engine\'s', () => {
  assert.equal(getTransform('URLDECODEUNI')?.name, 'urlDecodeUni');
  assert.equal(getTransform('normalizePath')?.fn, getTransform('normalisePath')?.fn);
  assert.equal(getTransform('normalizepathwin')?.name, 'normalisePathWin');
  assert.equal(getTransform('Utf8ToUnicode')?.name, 'utf8toUnicode');
  assert.equal(getTransform('none'), undefined);
  assert.equal(getTransform('nosuchthing'), undefined);
  const expected = [
    'base64Decode', 'base64DecodeExt', 'base64Encode', 'cmdLine', 'compressWhitespace', 'cssDecode',
    'escapeSeqDecode', 'hexDecode', 'hexEncode', 'htmlEntityDecode', 'jsDecode', 'length', 'lowercase',
    'uppercase', 'md5', 'sha1', 'normalisePath', 'normalizePath', 'normalisePathWin', 'normalizePathWin',
    'parityEven7bit', 'parityOdd7bit', 'parityZero7bit', 'phpArgsNames', 'removeComments',
    'removeCommentsChar', 'removeNulls', 'removeWhitespace', 'replaceComments', 'replaceNulls',
    'sqlHexDecode', 'trim', 'trimLeft', 'trimRight', 'urlDecode', 'urlDecodeUni', 'urlEncode', 'utf8toUnicode',
  ].map((n) => n.toLowerCase());
  assert.deepEqual([...transformNames()].sort(), expected.sort());
});

// Bytes, with the chars that start escapes, entities, comments and paths weighted up so
// the decoders' edge cases are reached, not just their copy loops.
const byteChar = fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c));
const syntaxChar = fc.constantFrom(...'%uU+&#xX;\\/.*-<!>0fF9aA \t\n=^"\'[]'.split(''));
const byteString = fc.string({ unit: fc.oneof(byteChar, syntaxChar), maxLength: 48 });

function isByteString(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

test('every transformation maps byte strings to byte strings without throwing', () => {
  for (const name of transformNames()) {
    const { fn } = getTransform(name)!;
    fc.assert(
      fc.property(byteString, (input) => {
        const out = fn(input);
        return typeof out === 'string' && isByteString(out);
      }),
      { numRuns: 300 },
    );
  }
});

test('encoders round-trip through their decoders', () => {
  fc.assert(
    fc.property(fc.string({ unit: byteChar, maxLength: 64 }), (input) => {
      assert.equal(apply('base64Decode', apply('base64Encode', input)), input);
      assert.equal(apply('base64DecodeExt', apply('base64Encode', input)), input);
      assert.equal(apply('hexDecode', apply('hexEncode', input)), input);
      assert.equal(apply('urlDecode', apply('urlEncode', input)), input);
      assert.equal(apply('urlDecodeUni', apply('urlEncode', input)), input);
    }),
  );
});

test('case mapping is idempotent and touches ASCII letters only', () => {
  fc.assert(
    fc.property(fc.string({ unit: byteChar, maxLength: 64 }), (input) => {
      const lower = apply('lowercase', input);
      assert.equal(apply('lowercase', lower), lower);
      assert.equal(lower.length, input.length);
      for (let i = 0; i < input.length; i++) {
        const c = input.charCodeAt(i);
        if (c < 0x41 || c > 0x5a) assert.equal(lower.charCodeAt(i), c);
      }
    }),
  );
});
