/**
 * Operators of ModSecurity v2 (strings, numbers, @pm, @ipMatch, validation, verification),
 * table by table: each row is what a rule author writes and what the rule then does.
 * The SecRules language suite (test/conformance/secrules.ts) covers the common cases; these
 * cover the edges: empty values and parameters, NUL bytes, huge phrase lists, IPv6 forms,
 * load errors, and a property that no operator throws on any bytes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getOperator, OperatorParamError, type MatchContext, type Operator, type OperatorContext } from '../../src/engine/operators/index.js';
import {
  formatIP,
  IPParseError,
  IPSet,
  networkContains,
  parseIP,
  parseIPNetwork,
  unmapIPv4,
} from '../../src/net/ipaddr.js';
import { atoi } from '../../src/engine/operators/numeric.js';
import RE2 from 're2';
import { compilePhrases, parsePhraseFile, parsePmContent, phraseScreen } from '../../src/engine/operators/pm.js';
import { cpfValid, luhnValid, ssnValid, svnrValid } from '../../src/engine/operators/verify.js';

/** A MatchContext that records what the operator reported. */
function recorder(capturing = true) {
  const ctx = {
    capturing,
    captures: new Map<number, string>(),
    limitExceeded: 0,
    capture(index: number, value: string) {
      ctx.captures.set(index, value);
    },
    matchLimitExceeded() {
      ctx.limitExceeded++;
    },
  };
  return ctx satisfies MatchContext;
}

/** Files the operator may read, by path; anything else does not exist. */
function files(contents: Record<string, string> = {}): OperatorContext {
  return {
    baseDir: '/rules',
    readFile(path: string): string {
      const text = contents[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '/rules/${path}'`);
      return text;
    },
  };
}

function compile(name: string, param: string, ctx: OperatorContext = files()): Operator {
  const factory = getOperator(name);
  assert.ok(factory, `@${name} is registered`);
  return factory(param, ctx);
}

function run(name: string, param: string, input: string, ctx?: OperatorContext): boolean {
  return compile(name, param, ctx).evaluate(input, recorder());
}

/** [param, input, matches] */
type Row = readonly [string, string, boolean];

const tables: Record<string, readonly Row[]> = {
  streq: [
    ['', '', true],
    ['', 'a', false],
    ['abc', 'abc', true],
    ['abc', 'ABC', false],
    ['a\0b', 'a\0b', true],
    ['a\0b', 'a', false],
  ],
  beginsWith: [
    ['', '', true],
    ['', 'x', true],
    ['abc', 'ab', false],
    ['abc', 'abcd', true],
    ['\0', '\0x', true],
    ['ABC', 'abc', false],
  ],
  endsWith: [
    ['', '', true],
    ['bc', 'abc', true],
    ['bc', 'bca', false],
    ['c', 'ab\0c', true],
    ['abcd', 'bcd', false],
  ],
  contains: [
    ['', '', true],
    ['', 'anything', true],
    ['x', '', false],
    ['\0', 'a\0b', true],
    ['ab\0', 'ab', false],
    ['select', 'SELECT', false],
    ['\xff\xfe', 'a\xff\xfeb', true],
  ],
  containsWord: [
    ['', '', true],
    ['abc', 'abc', true],
    ['abc', 'xabc', false],
    ['abc', 'abc1', false], // digits are word bytes in v2
    ['abc', 'abc_', false],
    ['abc', '_abc', false],
    ['abc', 'abc-d', true],
    ['abc', 'x abc', true],
    ['abc', 'abc\0def', true], // NUL is not a word byte
    ['def', 'abc\0def ghi', true],
    ['abc', 'abcabc abc', true], // a later occurrence counts
    ['aa', 'aaa', false],
    ['aa', 'aaa aa', true],
    ['abc', '\xe9abc', true], // bytes above 0x7f are not word bytes (C locale)
  ],
  within: [
    ['', '', true],
    ['abc', '', true],
    ['', 'x', false],
    ['GET POST HEAD', 'POST', true],
    ['GET POST HEAD', 'PUT', false],
    ['GET POST HEAD', 'get', false],
    ['a\0b', '\0', true],
  ],
  strmatch: [
    ['abc', 'xxabcxx', true],
    ['abc', 'ABC', false],
    ['|41 42|', 'xAB', true],
    ['a\\:b', 'a:b', true],
    ['"quoted"', 'quoted', true],
    ['x|00|y', 'x', true], // v2 passes a C string: the NUL ends the pattern
    ['|00|abc', '', true], // … so an empty pattern, which matches anything
  ],
  eq: [
    ['0', '', true],
    ['0', 'abc', true],
    ['5', ' 5', true],
    ['5', '5abc', true],
    ['5', '+5', true],
    ['-5', '-5', true],
    ['1', '4294967297', true], // (int) wraps to the low 32 bits
    ['-1', '99999999999999999999', true], // strtol saturates at LONG_MAX, then (int)
    ['0', '-99999999999999999999', true],
    ['16', '0x10', false],
    ['0', '\0' + '5', true],
    ['xyz', '0', true],
  ],
  ge: [
    ['5', '5', true],
    ['5', '4', false],
    ['-1', '', true],
    ['2147483647', '2147483648', false], // wraps to -2147483648
  ],
  gt: [
    ['5', '6', true],
    ['5', '5', false],
    ['0', 'x', false],
  ],
  le: [
    ['5', '5', true],
    ['5', '6', false],
    ['0', '', true],
  ],
  lt: [
    ['5', '4', true],
    ['5', '5', false],
    ['1', '', true],
  ],
  pm: [
    ['abc', '', false],
    ['abc def', 'xxDEFxx', true],
    ['ABC', 'xabcx', true],
    ['abc', 'ab', false],
    ['a|20|b', 'xbx', true], // hex is decoded before splitting: "a b" is two phrases
    ['"abc def"', 'def', true], // quotes do not group words
    ['\\d x', '\\d', true], // an unsupported escape: v2 uses the parameter as written
    ['\xc9t\xc9', '\xe9t\xe9', false], // case folding is ASCII only
    ['other |00|abc', 'other', true], // a NUL ends the phrase list (C string)
    ['other |00|abc', 'abc', false],
    ['he she his hers', 'ushers', true],
    ['a\0b', 'a', true], // the phrase list is a C string: it is just "a"
  ],
  ipMatch: [
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['1.2.3.4', '1.2.3.4', true],
    ['1.2.3.4', '1.2.3.5', false],
    ['1.2.3.4', ' 1.2.3.4', false], // values are read exactly as inet_pton reads them
    ['1.2.3.4', '1.2.3.4 ', false],
    ['1.2.3.4', '01.2.3.4', false],
    ['1.2.3.4', '', false],
    ['1.2.3.4', 'not an address', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['0.0.0.0/0', '::1', false],
    ['10.1.2.3/8', '10.9.9.9', true], // host bits below the prefix are ignored
    ['1.2.3.4, 5.6.7.8', '5.6.7.8', true],
    ['1.2.3.4,,5.6.7.8,', '5.6.7.8', true],
    ['1.2.3.4/32', '1.2.3.4', true],
    ['::1', '0:0:0:0:0:0:0:1', true],
    ['::1', '::1', true],
    ['::1/128', '::1', true],
    ['2001:db8::/32', '2001:DB8:FFFF::1', true],
    ['2001:db8::/32', '2001:db9::', false],
    ['::ffff:1.2.3.4', '::ffff:102:304', true],
    ['::ffff:1.2.3.4', '1.2.3.4', false], // IPv4 values are looked up among IPv4 blocks only
    ['1.2.3.4', '::ffff:1.2.3.4', false],
    ['::ffff:0:0/96', '::ffff:192.168.0.1', true],
    ['1:2::', '1:2:0:0:0:0:0:0', true],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0', true],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8', true],
    ['fe80::/10', 'febf:ffff::', true],
    ['fe80::/10', 'fec0::', false],
    ['fe80::/10', 'fe80::1%eth0', false], // no zones
    ['fe80::/10', '[fe80::1]', false],
    ['::/0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ],
  validateByteRange: [
    ['', '', false],
    ['', 'a', true], // nothing allowed
    ['32-126', 'Hello, World!', false],
    ['32-126', 'tab\there', true],
    ['9,10,13,32-126', 'tab\there', false],
    ['1-255', 'nul\0', true],
    ['0-255', '\0\xff', false],
    ['xxx', '\0', false], // "xxx" reads as 0
    ['65', 'AAA', false],
    ['65', 'AAB', true],
    ['0-127', '\u0100', true], // not a byte at all
  ],
  validateUrlEncoding: [
    ['', '', false],
    ['', '%41%42', false],
    ['', '%4', true],
    ['', '%', true],
    ['', 'a%', true],
    ['', '%g1', true],
    ['', '%1g', true],
    ['', '%%41', true],
    ['', '%00', false],
    ['', '+%20+', false],
    ['', '%u0041', true], // %u is not URL encoding
    ['', 'a%41%', true],
  ],
  validateUtf8Encoding: [
    ['', '', false],
    ['', 'plain ascii\0', false],
    ['', '\xc3\xa9', false], // é
    ['', '\xe2\x82\xac', false], // €
    ['', '\xf0\x9f\x98\x80', false], // 😀
    ['', '\xc3', true], // truncated
    ['', '\xe2\x82', true],
    ['', '\xc3\x28', true], // bad continuation
    ['', '\x80', true], // continuation as lead
    ['', '\xc0\xaf', true], // overlong '/'
    ['', '\xe0\x80\xaf', true], // overlong
    ['', '\xf0\x80\x80\xaf', true], // overlong
    ['', '\xed\xa0\x80', true], // surrogate U+D800
    ['', '\xf5\x80\x80\x80', true], // lead above F4
    ['', '\xf8\x88\x80\x80\x80', true], // 5-byte form
    ['', '\xff', true],
    ['', '\xf4\x90\x80\x80', false], // above U+10FFFF: v2 lets it through
    ['', '\xf4\x8f\xbf\xbf', false], // U+10FFFF
  ],
  verifyCC: [
    ['\\d{13,16}', '4111111111111111', true],
    ['\\d{16}', '4111111111111112', false],
    ['\\d{13,16}', '4111111111111112', true], // retried one byte later each time: "1111111111112" passes
    ['\\d{13,16}', '', false],
    ['\\d{16}', '14111111111111111', true], // the second, overlapping candidate passes
    ['\\d{4}(?:[ -]?\\d{4}){3}', 'card: 4111 1111 1111 1111.', true], // separators are skipped by Luhn
    ['^\\d{16}$', 'card:\n4111111111111111\nend', true], // MULTILINE, as v2 compiles it
    ['a.b', 'a\nb', false], // DOTALL: "a\nb" is a candidate, just not a card
    ['x*', 'xxx', false], // no digits: never valid
  ],
  verifySSN: [
    ['\\d{3}-?\\d{2}-?\\d{4}', '574-57-8065', true],
    ['\\d{3}-?\\d{2}-?\\d{4}', '666-57-8065', false],
    ['\\d{3}-?\\d{2}-?\\d{4}', '000-57-8065', false],
    ['\\d{3}-?\\d{2}-?\\d{4}', '574-00-8065', false],
    ['\\d{3}-?\\d{2}-?\\d{4}', '574-57-0000', false],
    ['\\d{3}-?\\d{2}-?\\d{4}', '111-11-1111', false],
    ['\\d{3}-?\\d{2}-?\\d{4}', '740-57-8065', false],
  ],
  verifyCPF: [
    ['\\d{3}\\.?\\d{3}\\.?\\d{3}-?\\d{2}', '529.982.247-25', true],
    ['\\d{3}\\.?\\d{3}\\.?\\d{3}-?\\d{2}', '529.982.247-26', false],
    ['\\d{3}\\.?\\d{3}\\.?\\d{3}-?\\d{2}', '111.111.111-11', false],
    ['\\d{11}', '01234567890', false],
  ],
  verifySVNR: [
    ['\\d{4} ?\\d{6}', '1237 010180', true],
    ['\\d{4} ?\\d{6}', '1238 010180', false],
    ['\\d{10}', '8888888888', false],
    ['\\d{10}', '0123456789', false],
  ],
  unconditionalMatch: [
    ['', '', true],
    ['ignored', 'x', true],
  ],
  noMatch: [
    ['', '', false],
    ['ignored', 'x', false],
  ],
};

describe('operators: value tables', () => {
  for (const [name, rows] of Object.entries(tables)) {
    test(`@${name}`, () => {
      for (const [param, input, expected] of rows) {
        assert.equal(run(name, param, input), expected, `@${name} ${JSON.stringify(param)} on ${JSON.stringify(input)}`);
      }
    });
  }
});

describe('validate operators on long values (searched natively) agree with a byte loop', () => {
  const validUtf8 = (s: string): boolean => {
    const bytes = Buffer.from(s, 'latin1');
    // Every char is a byte here; Node's decoder replaces what is not UTF-8 (and surrogates).
    return !Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes) ? false : !/[\xed][\xa0-\xbf]/u.test(s);
  };
  const bytesOf = (codes: number[]): string => String.fromCharCode(...codes);
  test('@validateByteRange', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 256, maxLength: 700 }),
        fc.boolean(),
        (allowedList, codes, wide) => {
          const param = allowedList.join(',');
          const input = bytesOf(codes) + (wide ? '\u0100' : '');
          const expected = wide || codes.some((c) => !allowedList.includes(c));
          assert.equal(run('validateByteRange', param, input), expected, param);
        },
      ),
    );
    // Ranges, and a long value allowed whole but for one byte at its end.
    const long = 'a'.repeat(5000);
    assert.equal(run('validateByteRange', '1-255', long), false);
    assert.equal(run('validateByteRange', '1-255', `${long}\0`), true);
    assert.equal(run('validateByteRange', '32-126,9,10', `${long}\x7f`), true);
    assert.equal(run('validateByteRange', '0-127', `${long}\x80`), true);
    assert.equal(run('validateByteRange', '0-255', `${long}\xff\0`), false);
  });
  test('@validateUtf8Encoding', () => {
    const pieces = ['a', ' ', '\xc3\xa9', '\xe2\x82\xac', '\xf0\x9f\x98\x80', '\xc3', '\x80', '\xed\xa0\x80', '\xc0\xaf', '\xff'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 400 }), (parts, pad) => {
        const input = 'x'.repeat(pad) + parts.join('');
        assert.equal(run('validateUtf8Encoding', '', input), !validUtf8(input), JSON.stringify(input.slice(pad)));
      }),
    );
    assert.equal(run('validateUtf8Encoding', '', 'a'.repeat(5000)), false);
    assert.equal(run('validateUtf8Encoding', '', `${'a'.repeat(5000)}\xc3`), true);
    assert.equal(run('validateUtf8Encoding', '', `${'a'.repeat(5000)}\xc3\xa9`), false);
  });
});

test('@within remembers short values and answers as the search does, across starting over', () => {
  const list = '/content-encoding/ /proxy/ /lock-token/ /if/ /expect/';
  const op = compile('within', list);
  const ask = (v: string): void => assert.equal(op.evaluate(v, recorder()), list.includes(v), JSON.stringify(v));
  // Asked twice each (the second answer is the remembered one), more values than it keeps.
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constantFrom('/proxy/', '/if/', '/host/', 'proxy', ''), fc.string({ maxLength: 80 })), { maxLength: 40 }), (values) => {
      for (const v of values) ask(v);
      for (const v of values) ask(v);
    }),
  );
  for (let i = 0; i < 3000; i++) ask(i % 7 === 0 ? '/if/' : `/h${i}/`);
  ask('/if/');
  ask('/lock-token/');
  ask(list);
});

/** [operator, param, part of the error message] */
const loadErrors: readonly (readonly [string, string, RegExp])[] = [
  ['ipMatch', '', /at least one address/],
  ['ipMatch', ' , ,', /at least one address/],
  ['ipMatch', '10.0.0.0/33', /"10\.0\.0\.0\/33".*0 to 32/],
  ['ipMatch', '10.0.0.0/100', /"10\.0\.0\.0\/100"/],
  ['ipMatch', '::/129', /0 to 128/],
  ['ipMatch', '10.0.0.0/', /prefix length/],
  ['ipMatch', '10.0.0.0/8/8', /prefix length/],
  ['ipMatch', '10.0.0.0/-1', /prefix length/],
  ['ipMatch', '10.0.0.0/ 8', /prefix length/],
  ['ipMatch', '1.2.3.4,1.2.3', /"1\.2\.3" is not a valid IPv4/],
  ['ipMatch', '256.0.0.0', /not a valid IPv4/],
  ['ipMatch', '010.0.0.0', /not a valid IPv4/],
  ['ipMatch', 'localhost', /"localhost"/],
  ['ipMatch', '1::2::3', /not a valid IPv6/],
  ['ipMatch', '1:2:3:4:5:6:7:8:9', /not a valid IPv6/],
  ['ipMatch', '1:2:3:4:5:6:7::8', /not a valid IPv6/],
  ['ipMatch', '12345::', /not a valid IPv6/],
  ['ipMatch', 'fe80::1%eth0', /not a valid IPv6/],
  ['ipMatchFromFile', '', /path/],
  ['ipMatchFromFile', 'https://example.com/ips.txt', /local files only/],
  ['ipMatchFromFile', 'missing.txt', /could not read address file "missing\.txt".*ENOENT/],
  ['pm', '', /phrases/],
  ['pm', '   ', /none were given/],
  ['pm', '|00|abc', /none were given/], // v2 loads it and never matches
  ['pmFromFile', '', /phrase file/],
  ['pmFromFile', 'http://example.com/list', /local files only/],
  ['pmFromFile', 'missing.data', /could not read phrase file "missing\.data"/],
  ['strmatch', '', /needs a string/],
  ['strmatch', 'a\\d', /unsupported escape/],
  ['validateByteRange', '256', /invalid byte value 256/],
  ['validateByteRange', '-1', /invalid range start -1/],
  ['validateByteRange', '10-300', /invalid range end 300/],
  ['validateByteRange', '20-10', /invalid range 20-10/],
  ['verifyCC', '', /regular expression/],
  ['verifyCC', '(\\d+', /invalid regular expression/],
  ['verifySSN', '[0-9', /invalid regular expression/],
];

describe('operators: parameters refused at load', () => {
  for (const [name, param, message] of loadErrors) {
    test(`@${name} ${JSON.stringify(param)}`, () => {
      assert.throws(
        () => compile(name, param),
        (err: unknown) => err instanceof OperatorParamError && message.test(err.message),
      );
    });
  }
});

describe('operator registry', () => {
  test('names are looked up case-insensitively, aliases included', () => {
    for (const [alias, name] of [
      ['PMF', 'pmFromFile'],
      ['pmf', 'pmfromfile'],
      ['ipMatchF', 'ipMatchFromFile'],
      ['IPMATCH', 'ipMatch'],
      ['VerifyCC', 'verifycc'],
      ['validateUTF8Encoding', 'validateUtf8Encoding'],
    ] as const) {
      assert.ok(getOperator(alias));
      assert.equal(getOperator(alias), getOperator(name));
    }
    assert.equal(getOperator('noSuchOperator'), undefined);
  });
});

describe('@pm and @pmFromFile', () => {
  test('the screen (an RE2 pattern) matches wherever the automaton finds a phrase; exactly so on ASCII', () => {
    // Phrases of bytes with letters and RE2 metacharacters; inputs with a phrase put in (its
    // ASCII letters' case flipped at random) or not.
    const byte = fc.oneof(fc.constantFrom(...'aZq.*+?()[]{}|^$\\/- 09'.split('').map((c) => c.charCodeAt(0))), fc.integer({ min: 0, max: 255 }));
    const phrase = fc.array(byte, { minLength: 1, maxLength: 6 }).map((codes) => String.fromCharCode(...codes));
    fc.assert(
      fc.property(
        fc.array(phrase, { minLength: 1, maxLength: 8 }),
        fc.array(byte, { maxLength: 30 }),
        fc.nat(),
        fc.boolean(),
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        (phrases, around, at, put, flips) => {
          let input = String.fromCharCode(...around);
          if (put) {
            const p = [...(phrases[at % phrases.length] as string)]
              .map((c, i) => (/[a-z]/iu.test(c) && flips[i] === true ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c))
              .join('');
            const k = at % (input.length + 1);
            input = input.slice(0, k) + p + input.slice(k);
          }
          const screen = phraseScreen(phrases);
          assert.notEqual(screen, null);
          const found = compilePhrases(phrases).findEnd(input) >= 0;
          const screened = new RE2(screen as string).test(Buffer.from(input, 'utf8') as unknown as string);
          if (found) assert.ok(screened, `${JSON.stringify(phrases)} in ${JSON.stringify(input)}`);
          if (/^[\x00-\x7f]*$/u.test(input + phrases.join(''))) assert.equal(screened, found, `${JSON.stringify(phrases)} on ${JSON.stringify(input)}`);
        },
      ),
    );
    assert.equal(phraseScreen([]), null);
    assert.equal(phraseScreen(['x'.repeat(200_000)]), null);
  });

  test('captures the phrase as the input wrote it', () => {
    const m = recorder();
    assert.equal(compile('pm', 'union select').evaluate('1 UNION ALL SeLeCt 2', m), true);
    assert.equal(m.captures.get(0), 'UNION');
  });

  test('reports the first place a phrase ends, the longest phrase ending there', () => {
    const m = recorder();
    compile('pm', 'she he hers').evaluate('ushers', m);
    assert.equal(m.captures.get(0), 'she');
    const m2 = recorder();
    compile('pm', 'bcd abcde').evaluate('xabcdex', m2);
    assert.equal(m2.captures.get(0), 'bcd');
  });

  test('does not capture without the capture action', () => {
    const m = recorder(false);
    assert.equal(compile('pm', 'abc').evaluate('abc', m), true);
    assert.equal(m.captures.size, 0);
  });

  test('a huge list stays correct and linear', () => {
    const phrases = Array.from({ length: 50_000 }, (_, i) => `word${i.toString(36)}z`);
    const op = compile('pm', phrases.join(' '));
    assert.equal(op.evaluate('the last one is WORD' + (49_999).toString(36).toUpperCase() + 'Z!', recorder()), true);
    assert.equal(op.evaluate('word' + 'x'.repeat(10) + 'z', recorder()), false);
    const input = 'word'.repeat(250_000); // 1 MB of near misses
    const started = performance.now();
    assert.equal(op.evaluate(input, recorder()), false);
    assert.ok(performance.now() - started < 1000, '1 MB scanned well within a second');
  });

  test('dense and sparse automata agree with a naive search', () => {
    const byte = fc.constantFrom('a', 'b', 'A', 'B', 'c', '\0', '\xff');
    const text = (max: number) => fc.array(byte, { maxLength: max }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.array(text(5).filter((s) => s.length > 0), { minLength: 1, maxLength: 12 }), text(40), (phrases, input) => {
        const fold = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
        let expectedEnd = -1;
        for (let end = 1; end <= input.length && expectedEnd < 0; end++) {
          if (phrases.some((p) => p.length <= end && fold(input.slice(end - p.length, end)) === fold(p))) expectedEnd = end;
        }
        for (const matcher of [compilePhrases(phrases), compilePhrases(phrases, 0)]) {
          const end = matcher.findEnd(input);
          assert.equal(end, expectedEnd);
          if (end >= 0) {
            const longest = Math.max(...phrases.filter((p) => p.length <= end && fold(input.slice(end - p.length, end)) === fold(p)).map((p) => p.length));
            assert.equal(matcher.lastLength, longest);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test('a dense table past 65,536 cells (state numbers in 16 bits) answers as the sparse automaton does', () => {
    // CRS's long files make such tables; the random phrases here make one of some 200,000 cells.
    const byte = fc.constantFrom('a', 'b', 'A', 'B', 'c', 'd', '\0', '\xff');
    const word = (min: number, max: number) => fc.array(byte, { minLength: min, maxLength: max }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.uniqueArray(word(8, 10), { minLength: 3000, maxLength: 3000 }), fc.array(word(2, 4), { maxLength: 4 }), word(0, 200), (filler, short, input) => {
        const phrases = [...filler, ...short];
        const dense = compilePhrases(phrases);
        const sparse = compilePhrases(phrases, 0);
        assert.ok(dense.dense && dense.states <= 0x10000 && dense.states * 7 > 0x10000, `${dense.states} states`);
        const end = sparse.findEnd(input);
        assert.equal(dense.findEnd(input), end);
        if (end >= 0) assert.equal(dense.lastLength, sparse.lastLength);
        const hit = `${input}${phrases[0] as string}`;
        assert.equal(dense.findEnd(hit), sparse.findEnd(hit));
        assert.equal(dense.lastLength, sparse.lastLength);
      }),
      { numRuns: 20 },
    );
  });

  test('the dense form is used for rule-sized lists, the sparse one past the limit', () => {
    assert.equal(compilePhrases(['abc', 'def']).dense, true);
    assert.equal(compilePhrases(['abc', 'def'], 1).dense, false);
  });

  test('phrase files: one per line, comments and blank lines skipped, several files', () => {
    const ctx = files({
      'a.data': '# comment\nfoo bar\n\n   baz   \r\n|41|qq\n#also a comment\nx\n',
      'b.data': 'last line without newline',
    });
    const op = compile('pmFromFile', ' a.data  b.data ', ctx);
    for (const [input, expected] of [
      ['a foo bar b', true],
      ['foo', false], // "foo bar" is one phrase
      ['BAZ', true],
      ['aqq', true],
      ['comment', false],
      ['the LAST LINE WITHOUT NEWLINE', true],
      ['x', true], // one-byte phrases are kept (v2 drops them by accident)
      ['', false],
    ] as const) {
      assert.equal(op.evaluate(input, recorder()), expected, JSON.stringify(input));
    }
    assert.equal(compile('pmf', 'a.data', ctx).evaluate('baz', recorder()), true);
  });

  test('phrase lists are shared only when equal: a phrase holding a newline is not two phrases', () => {
    const ctx = files({ 'one.data': 'ab|0a|cd\n', 'two.data': 'ab\ncd\n', 'again.data': 'ab\ncd\n' });
    const one = compile('pmFromFile', 'one.data', ctx);
    const two = compile('pmFromFile', 'two.data', ctx);
    assert.equal(one.evaluate('xx ab yy', recorder()), false);
    assert.equal(one.evaluate('xx ab\ncd yy', recorder()), true);
    assert.equal(two.evaluate('xx ab yy', recorder()), true);
    assert.equal(compile('pmFromFile', 'again.data', ctx).evaluate('cd', recorder()), true);
  });

  test('an empty phrase file loads and matches nothing', () => {
    assert.equal(compile('pmFromFile', 'empty.data', files({ 'empty.data': '# nothing\n\n' })).evaluate('anything', recorder()), false);
  });

  test('parsePhraseFile follows v2 line by line', () => {
    assert.deepEqual(parsePhraseFile('abc\n# c\n\n  x  \n"q"\n|41|bc\n"last"'), ['abc', 'x', '"q"', 'Abc', 'last']);
    assert.deepEqual(parsePhraseFile('a\0b\nc\\d\n'), ['a', 'c\\d']);
  });

  test('parsePmContent: v2 content syntax, corners included', () => {
    const rows: readonly (readonly [string, string | null])[] = [
      ['abc', 'abc'],
      ['  abc', 'abc'],
      ['"abc def"', 'abc def'],
      ['"abc" ', '"abc" '], // quotes only come off when the text ends with one
      ['"', null],
      ['', null],
      ['   ', null],
      ['a|41 42|b', 'aABb'],
      ['|4|', '|4|'], // nothing converted: the text stays as written
      ['a|zz|b', 'abzz|b'], // … including v2's partly rewritten buffer
      ['a\\"b\\\\c\\:d\\;e', 'a"b\\c:d;e'],
      ['a\\d', null],
      ['|00|x', '\0x'],
    ];
    for (const [input, expected] of rows) assert.equal(parsePmContent(input), expected, JSON.stringify(input));
  });
});

describe('@ipMatchFromFile', () => {
  test('one entry per line, comments after # and blank lines skipped', () => {
    const ctx = files({ 'bad-ips.txt': '# bans\n10.0.0.0/8\n\n  192.168.1.1  # office\r\n2001:db8::/32\n' });
    const op = compile('ipMatchFromFile', 'bad-ips.txt', ctx);
    assert.equal(op.evaluate('10.1.1.1', recorder()), true);
    assert.equal(op.evaluate('192.168.1.1', recorder()), true);
    assert.equal(op.evaluate('192.168.1.2', recorder()), false);
    assert.equal(op.evaluate('2001:db8::5', recorder()), true);
    assert.equal(compile('ipMatchF', 'bad-ips.txt', ctx).evaluate('10.0.0.1', recorder()), true);
  });

  test('a bad line names the file and line', () => {
    const ctx = files({ 'ips.txt': '10.0.0.1\n10.0.0.2-10.0.0.9\n' });
    assert.throws(() => compile('ipMatchFromFile', 'ips.txt', ctx), /ips\.txt line 2: .*"10\.0\.0\.2-10\.0\.0\.9"/);
  });

  test('an empty list loads and matches nothing', () => {
    assert.equal(compile('ipMatchFromFile', 'none.txt', files({ 'none.txt': '' })).evaluate('10.0.0.1', recorder()), false);
  });
});

describe('ipaddr', () => {
  test('parseIP reads what inet_pton reads', () => {
    const rows: readonly (readonly [string, string | null])[] = [
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
      ['1.2.3', null],
      ['1.2.3.4.5', null],
      ['1.2.3.256', null],
      ['01.2.3.4', null],
      ['1.2.3.4.', null],
      ['1..3.4', null],
      ['', null],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['1:0:0:0:0:0:0:1', '1::1'],
      ['2001:DB8:0:0:8:800:200C:417A', '2001:db8::8:800:200c:417a'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'], // "::" for a single group
      ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
      ['::FFFF:129.144.52.38', '::ffff:129.144.52.38'],
      ['::1.2.3.4', '::102:304'],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
      ['0001:0002:0003:0004:0005:0006:0007:0008', '1:2:3:4:5:6:7:8'],
      [':', null],
      [':::', null],
      [':1::', null],
      ['1::2:', null],
      ['1::2::3', null],
      ['1:2:3:4:5:6:7:8:9', null],
      ['1:2:3:4:5:6:7::8', null], // "::" must stand for at least one group
      ['12345::', null],
      ['::1.2.3.4:5', null], // the IPv4 part must be last
      ['1:2:3:4:5:6:7:1.2.3.4', null],
      ['::01.2.3.4', null],
      ['fe80::1%eth0', null],
      ['[::1]', null],
      ['g::', null],
    ];
    for (const [text, canonical] of rows) {
      const addr = parseIP(text);
      assert.equal(addr === null ? null : formatIP(addr), canonical, JSON.stringify(text));
    }
  });

  test('parseIPNetwork clears host bits and explains what is wrong', () => {
    const net = parseIPNetwork('192.168.77.1/20');
    assert.equal(formatIP(net), '192.168.64.0');
    assert.equal(net.prefix, 20);
    assert.equal(parseIPNetwork('2001:db8::1').prefix, 128);
    assert.equal(formatIP(parseIPNetwork('2001:db8:ffff::/33')), '2001:db8:8000::');
    assert.throws(() => parseIPNetwork('1.2.3.4/33'), (e: unknown) => e instanceof IPParseError && e.input === '1.2.3.4/33');
    assert.throws(() => parseIPNetwork('1.2.3.4/0x8'), IPParseError);
    assert.throws(() => parseIPNetwork('::1/'), IPParseError);
    assert.throws(() => parseIPNetwork('/8'), IPParseError);
  });

  test('networkContains and IPSet agree on containment, families kept apart', () => {
    const nets = ['10.0.0.0/8', '192.168.1.128/25', '2001:db8::/48', '::ffff:0:0/96', '203.0.113.7'].map(parseIPNetwork);
    const set = new IPSet();
    for (const n of nets) set.add(n);
    assert.equal(set.size, 5);
    for (const [text, inside] of [
      ['10.200.0.1', true],
      ['192.168.1.127', false],
      ['192.168.1.128', true],
      ['203.0.113.7', true],
      ['203.0.113.8', false],
      ['2001:db8:0:ffff::1', true],
      ['2001:db8:1::', false],
      ['::ffff:8.8.8.8', true],
      ['8.8.8.8', false],
    ] as const) {
      const addr = parseIP(text);
      assert.ok(addr);
      assert.equal(set.has(addr), inside, text);
      assert.equal(set.hasText(text), inside, text);
      assert.equal(nets.some((n) => networkContains(n, addr)), inside, text);
    }
    assert.equal(set.hasText('garbage'), false);
  });

  test('a block added after a narrower one covers it, and the other way round', () => {
    const set = new IPSet().add(parseIPNetwork('10.1.2.3')).add(parseIPNetwork('10.0.0.0/8'));
    assert.equal(set.hasText('10.9.9.9'), true);
    const set2 = new IPSet().add(parseIPNetwork('10.0.0.0/8')).add(parseIPNetwork('10.1.2.3'));
    assert.equal(set2.hasText('10.9.9.9'), true);
    assert.equal(set2.hasText('11.0.0.0'), false);
  });

  test('a big set answers like the list it was built from', () => {
    const set = new IPSet();
    for (let i = 0; i < 20_000; i++) set.add(parseIPNetwork(`10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`));
    assert.equal(set.hasText('10.0.1.7'), true);
    assert.equal(set.hasText('10.0.1.8'), false);
    assert.equal(set.hasText(`10.78.31.${(19_999 * 7) & 255}`), true);
  });

  test('unmapIPv4 finds the IPv4 address in ::ffff:a.b.c.d only', () => {
    const mapped = unmapIPv4(parseIP('::ffff:192.0.2.1')!);
    assert.equal(mapped && formatIP(mapped), '192.0.2.1');
    assert.equal(unmapIPv4(parseIP('::192.0.2.1')!), null);
    assert.equal(unmapIPv4(parseIP('192.0.2.1')!), null);
  });

  test('property: formatting then parsing gives the same address', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), (bytes) => {
        const addr = { family: bytes.length === 4 ? 4 : 6, bytes } as const;
        const back = parseIP(formatIP(addr));
        assert.ok(back);
        assert.deepEqual([...back.bytes], [...bytes]);
      }),
    );
  });
});

describe('numbers and checksums', () => {
  test('atoi is glibc atoi', () => {
    const rows: readonly (readonly [string, number])[] = [
      ['', 0],
      ['abc', 0],
      ['42', 42],
      [' \t\n\v\f\r42', 42],
      ['+42', 42],
      ['-42', -42],
      ['+-42', 0],
      ['- 42', 0],
      ['42abc', 42],
      ['4\x002', 4],
      ['0x1f', 0],
      ['000000000000000000000000000042', 42],
      ['2147483647', 2147483647],
      ['2147483648', -2147483648],
      ['-2147483649', 2147483647],
      ['4294967296', 0],
      ['9223372036854775807', -1],
      ['9223372036854775808', -1],
      ['-9223372036854775808', 0],
      ['99999999999999999999999', -1],
      ['-99999999999999999999999', 0],
      ['\xa042', 0], // only C-locale spaces are skipped
    ];
    for (const [text, value] of rows) assert.equal(atoi(text), value, JSON.stringify(text));
  });

  test('a comparison that keeps its last answer gives what a fresh one gives, input after input', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('eq', 'ge', 'gt', 'le', 'lt'),
        fc.constantFrom('2', '-1', '0', '100'),
        fc.array(fc.oneof(fc.constantFrom('1', '2', '3', '-1', ' 2', '2x', '', '0'), fc.string({ maxLength: 40 }), fc.integer().map(String)), { maxLength: 30 }),
        (name, param, inputs) => {
          const kept = compile(name, param);
          for (const input of inputs) assert.equal(kept.evaluate(input, recorder()), compile(name, param).evaluate(input, recorder()), `@${name} ${param} on ${JSON.stringify(input)}`);
        },
      ),
    );
  });

  test('checksums', () => {
    assert.equal(luhnValid('4111 1111 1111 1111'), true);
    assert.equal(luhnValid('4111-1111-1111-1112'), false);
    assert.equal(luhnValid('no digits'), false);
    assert.equal(luhnValid('0'), true);
    assert.equal(ssnValid('574578065'), true);
    assert.equal(ssnValid('5745780651'), false);
    assert.equal(ssnValid('123456789'), false);
    assert.equal(cpfValid('529.982.247-25'), true);
    assert.equal(cpfValid('529.982.247-25 and more 123'), true); // the first eleven digits count
    assert.equal(cpfValid('529.982.24\x007-25'), false); // a NUL ends it
    assert.equal(svnrValid('1237010180'), true);
    assert.equal(svnrValid('9999999999'), false);
  });
});

describe('@verifyCC and friends: search and capture', () => {
  test('capture sets TX:0 … TX:n to the whole candidate, as v2 does', () => {
    const m = recorder();
    assert.equal(compile('verifyCC', '(\\d{4})-(\\d{4})-(\\d{4})-(\\d{4})').evaluate('cc 4111-1111-1111-1111 x', m), true);
    assert.deepEqual([...m.captures.entries()], [0, 1, 2, 3, 4].map((i) => [i, '4111-1111-1111-1111']));
  });

  test('@verifySVNR captures TX:0 only', () => {
    const m = recorder();
    assert.equal(compile('verifySVNR', '(\\d{4}) ?(\\d{6})').evaluate('svnr 1237 010180', m), true);
    assert.deepEqual([...m.captures.entries()], [[0, '1237 010180']]);
  });

  test('the bytes before a retried candidate stay visible', () => {
    // After "x4111…1112" fails, the next search starts inside it; \b must still see the 'x'.
    const op = compile('verifyCC', '\\b\\d{16}\\b');
    assert.equal(op.evaluate('x14111111111111111 ', recorder()), false);
    assert.equal(op.evaluate('14111111111111111 4111111111111111', recorder()), true);
  });

  test('a value full of near misses gives up as a match limit would', () => {
    const m = recorder();
    const started = performance.now();
    assert.equal(compile('verifyCC', '\\d{16}').evaluate('1'.repeat(200_000), m), false);
    assert.equal(m.limitExceeded, 1);
    assert.ok(performance.now() - started < 2000);
  });
});

describe('no operator throws on any bytes', () => {
  const ctx = files({ 'p.data': 'foo\nbar baz\n', 'ips.txt': '10.0.0.0/8\n::1\n' });
  const samples: readonly (readonly [string, string])[] = [
    ['streq', 'abc'],
    ['beginsWith', 'ab'],
    ['endsWith', 'bc'],
    ['contains', 'b\0'],
    ['containsWord', 'abc'],
    ['within', 'abc def'],
    ['strmatch', 'a|00 ff|b'],
    ['eq', '5'],
    ['ge', '-1'],
    ['gt', '0'],
    ['le', '9'],
    ['lt', '99999999999'],
    ['pm', 'a b \xff\xfe select'],
    ['pmFromFile', 'p.data'],
    ['ipMatch', '10.0.0.0/8,::1,2001:db8::/32'],
    ['ipMatchFromFile', 'ips.txt'],
    ['validateByteRange', '32-126'],
    ['validateUrlEncoding', ''],
    ['validateUtf8Encoding', ''],
    ['verifyCC', '\\d{13,16}'],
    ['verifySSN', '\\d{3}-?\\d{2}-?\\d{4}'],
    ['verifyCPF', '\\d{11}'],
    ['verifySVNR', '\\d{10}'],
    ['unconditionalMatch', ''],
    ['noMatch', ''],
  ];
  const operators = samples.map(([name, param]) => [name, compile(name, param, ctx)] as const);
  // Bytes as the engine hands them over, biased towards digits, colons and dots.
  const bytes = fc
    .array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x30, 0x31, 0x39, 0x3a, 0x2e, 0x25, 0x20)), { maxLength: 64 })
    .map((codes) => String.fromCharCode(...codes));

  test('property', () => {
    fc.assert(
      fc.property(bytes, fc.boolean(), (input, capturing) => {
        for (const [name, op] of operators) {
          const result = op.evaluate(input, recorder(capturing));
          assert.equal(typeof result, 'boolean', name);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('parameters: any bytes either compile or raise OperatorParamError', () => {
    fc.assert(
      fc.property(bytes, (param) => {
        for (const [name] of samples) {
          if (name === 'pmFromFile' || name === 'ipMatchFromFile') continue;
          try {
            compile(name, param, ctx).evaluate(param, recorder());
          } catch (err) {
            assert.ok(err instanceof OperatorParamError, `@${name} ${JSON.stringify(param)}: ${String(err)}`);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('@rx patterns that match every input whole', () => {
  test('capture what the regex engine captures, on any bytes', () => {
    const inputs = ['', 'Host', 'a\nb', '\n', 'x\u0000\u00ff\r\n', 'line\n'];
    for (const pattern of ['^.*$', '^.*', '.*', '^(.*)$', '(.*)']) {
      const fast = compile('rx', pattern);
      // The same pattern inside a group that changes nothing goes to the regex engine.
      const slow = compile('rx', `(?:${pattern})`);
      for (const input of inputs) {
        const a = recorder();
        const b = recorder();
        assert.equal(fast.evaluate(input, a), slow.evaluate(input, b), `${pattern} on ${JSON.stringify(input)}`);
        assert.deepEqual([...a.captures], [...b.captures], `${pattern} on ${JSON.stringify(input)}`);
        const quiet = recorder(false);
        assert.equal(fast.evaluate(input, quiet), true);
        assert.equal(quiet.captures.size, 0);
      }
    }
  });
});
