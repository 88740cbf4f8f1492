/**
 * The rule regex module: PCRE syntax and byte semantics on every engine Warden runs
 * (Irregexp, RE2, the bounded backtracking matcher), the choice of engine, the match
 * limit, and the @rx / @rxGlobal operators. Expected results are PCRE2's (checked
 * against libpcre2 without UTF mode).
 */
import { test } from 'node:test';
import RE2 from 're2';
import assert from 'node:assert/strict';
import {
  compileRegex,
  DEFAULT_MATCH_LIMIT,
  MODSECURITY_RX_FLAGS,
  RegexSyntaxError,
  v8RegexFlags,
  type RegexEngine,
  type RegexOptions,
} from '../../src/engine/regex/index.js';
import { rx, rxGlobal } from '../../src/engine/operators/rx.js';
import type { MatchContext, OperatorContext } from '../../src/engine/operators/types.js';

test('a rule regex matches bytes and returns its groups', () => {
  const re = compileRegex('(a+)b');
  assert.deepEqual(re.exec('xaab'), ['aab', 'aa']);
  assert.equal(re.test('xyz'), false);
});

/** Flags: '' = PCRE defaults, 'v2' = ModSecurity @rx (DOTALL | DOLLAR_ENDONLY). */
type Row = [pattern: string, flags: '' | 'v2', input: string, expected: Array<string | null> | null];

const V2: RegexOptions = MODSECURITY_RX_FLAGS;

// [pattern, flags, input, expected groups (null: group did not take part) or null: no match]
const table: Row[] = [
  // literals and escapes
  ['\\x41\\x{42}\\103', '', 'xABC', ['ABC']],
  ['a\\0b', '', 'a\x00b', ['a\x00b']],
  ['\\n\\r\\t\\f\\e\\a', '', '\n\r\t\f\x1b\x07', ['\n\r\t\f\x1b\x07']],
  ['\\cA\\c[', '', '\x01\x1b', ['\x01\x1b']],
  ['\\xff+', '', 'a\xff\xff', ['\xff\xff']],
  ['\\x{ff}', '', '\xff', ['\xff']],
  ['[\\x80-\\xff]+', '', 'a\xe9\xffb', ['\xe9\xff']],
  ['\\$\\.\\*\\\\', '', 'x$.*\\', ['$.*\\']],
  ['a.b', 'v2', 'a\x00b', ['a\x00b']],
  ['x{,3}', '', 'x{,3}', ['x{,3}']],
  ['{a}', '', '{a}', ['{a}']],
  // classes, POSIX classes, shorthands (C locale: ASCII only)
  ['[a-c]+', '', 'xxabcd', ['abc']],
  ['[^a-c]+', '', 'abcxyz', ['xyz']],
  ['[]a]+', '', 'x]a]', [']a]']],
  ['[\\w.-]+', '', '!a.b-c!', ['a.b-c']],
  ['[[:alpha:]]+', '', '12abC3', ['abC']],
  ['[[:^digit:]]+', '', '12ab3', ['ab']],
  ['[[:space:]]', '', '\x0b', ['\x0b']],
  ['[[:punct:]]+', '', 'a!@#b', ['!@#']],
  ['\\s+', '', 'a \t\n\x0b\f\rb', [' \t\n\x0b\f\r']],
  ['\\s', '', '\xa0\x85', null],
  ['\\w+', '', '\xe9\xc0ab_1', ['ab_1']],
  ['\\d', '', '\xb2\xb3', null],
  ['\\h+', '', 'x \t\xa0y', [' \t\xa0']],
  ['\\v+', '', 'x\n\x0b\f\r\x85y', ['\n\x0b\f\r\x85']],
  ['\\D\\W\\S', '', '1a \x00', ['a \x00']],
  ['\\N+', '', 'ab\ncd', ['ab']],
  ['\\bfoo\\b', '', 'afoo foo.', ['foo']],
  ['\\Bo\\B', '', 'foo', ['o']],
  ['\\b\\xe9', '', 'a\xe9', ['\xe9']],
  ['a\\b', '', 'a\xe9', ['a']],
  ['\\xe9\\B', '', '\xe9!', ['\xe9']],
  // ASCII-only case folding
  ['(?i)abc', '', 'xAbC', ['AbC']],
  ['(?i)\\xe0', '', '\xc0', null],
  ['(?i)\\xe0', '', '\xe0', ['\xe0']],
  ['(?i)[a-z]+', '', '\xc0Bc', ['Bc']],
  ['(?i)[^a]', '', 'A', null],
  ['(?i)[[:lower:]]+', '', 'AbC', ['AbC']],
  ['(?i)\\x{e9}t\\xc9', '', '\xe9T\xc9', ['\xe9T\xc9']],
  ['(?i)\\xe9', '', '\xc9', null],
  // anchors and newlines
  ['a$', '', 'a\n', ['a']],
  ['a$', 'v2', 'a\n', null],
  ['a$', 'v2', 'ba', ['a']],
  ['(a)\\Z', 'v2', 'a\n', ['a', 'a']],
  ['(a\\Z)', '', 'a\n', ['a', 'a']],
  ['a\\z', '', 'a\n', null],
  ['^b', '', 'ab', null],
  ['(?m)^b', '', 'a\nb', ['b']],
  ['(?m)a$', 'v2', 'a\nb', ['a']],
  ['(?m)^$', '', 'a\n', null],
  ['(?m)^\\s*$', '', 'a\n\nb', ['']],
  ['\\Aab', '', 'cab', null],
  ['\\Gb', '', 'ab', null],
  ['\\Gb', '', 'ba', ['b']],
  ['a.c', '', 'a\nc', null],
  ['(?s)a.c', '', 'a\nc', ['a\nc']],
  ['a.c', 'v2', 'a\nc', ['a\nc']],
  ['(?-s)a.c', 'v2', 'a\nc', null],
  // groups and flags
  ['(a)(?:b)(?<n>c)(?P<m>d)', '', 'abcd', ['abcd', 'a', 'c', 'd']],
  ['(a)|(b)', '', 'b', ['b', null, 'b']],
  ['(a)(b?)(c)', '', 'ac', ['ac', 'a', '', 'c']],
  ['(?i)a(?-i)b', '', 'AB', null],
  ['(?i)a(?-i)b', '', 'Ab', ['Ab']],
  ['(?i:a)b', '', 'AB', null],
  ['(a(?i)b|c)', '', 'C', ['C', 'C']],
  ['(?x) a b # comment\n c', '', 'abc', ['abc']],
  ['(?x)[ ]a', '', ' a', [' a']],
  ['a(?#xyz)b', '', 'ab', ['ab']],
  ['\\Qa.b\\E+', '', 'a.bbb', ['a.bbb']],
  ['\\Q*(\\E', '', 'x*(', ['*(']],
  // quantifiers
  ['a{2,3}', '', 'aaaa', ['aaa']],
  ['a{2,3}?', '', 'aaaa', ['aa']],
  ['a{2,}', '', 'aaaaa', ['aaaaa']],
  ['a+?b', '', 'aaab', ['aaab']],
  ['<.+?>', 'v2', '<a><b>', ['<a>']],
  ['(?U)a+', '', 'aaa', ['a']],
  ['[0-9]{1,300}x', '', '123x', ['123x']],
  // possessive and atomic: same as greedy where they cannot change the result
  ['a++b', '', 'aab', ['aab']],
  ['a++a', '', 'aaa', null],
  ['\\d++\\d', '', '123', null],
  ['x*+', '', 'xxy', ['xx']],
  ['(?>a+)b', '', 'aab', ['aab']],
  ['(?>a|ab)c', '', 'abc', null],
  ['(?>ab|a)c', '', 'abc', ['abc']],
  ['(?>a*)a', '', 'aaa', null],
  // lookarounds and back references
  ['foo(?=bar)', '', 'foobar', ['foo']],
  ['foo(?!bar)', '', 'foobar foobaz', ['foo']],
  ['<\\?(?!xml)', 'v2', '<?xml <?php', ['<?']],
  ['(?<=\\$)\\d+', '', 'cost $42', ['42']],
  ['(?<!\\$)\\b\\d+', '', '$42 17', ['17']],
  ['(?<=ab|c)d', '', 'xcd', ['d']],
  ['(\\w+) \\1', '', 'say hello hello', ['hello hello', 'hello']],
  ['(?i)(a)\\1', '', 'aA', ['aA', 'a']],
  ['(a)\\1', '', 'aA', null],
  ['(?<q>[\'"]).*?\\k<q>', '', 'say "hi" ok', ['"hi"', '"']],
  ['(a)|\\1b', '', 'b', null],
  // PCRE's groups inside repeats (V8 and RE2 differ; Warden reports PCRE's)
  ['(?:(a)|b)+', '', 'ab', ['ab', 'a']],
  ['([^\\n]*)*', '', 'aa', ['aa', '']],
  ['(?:a?)*?b', '', 'aab', ['aab']],
  ['(?:.{0,3}?)*', '', 'a', ['']],
  ['(a|ab)(c|bcd)(d*)', '', 'abcd', ['abcd', 'a', 'bcd', '']],
];

const engines: RegexEngine[] = ['irregexp', 're2', 'backtrack'];

function show(s: string | null): string {
  return s === null ? 'null' : JSON.stringify(s).replace(/[\u007f-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}

test('PCRE constructs translate with PCRE byte semantics on every engine', () => {
  const failures: string[] = [];
  for (const [pattern, flags, input, expected] of table) {
    for (const engine of engines) {
      const re = compileRegex(pattern, { ...(flags === 'v2' ? V2 : {}), engine, matchLimit: 1e6 });
      const m = re.match(input);
      const got = typeof m === 'string' ? null : m.groups.map((g) => (g === undefined ? null : g));
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        failures.push(`${engine}(${re.engine}) /${pattern}/${flags} on ${show(input)}: got ${got === null ? 'null' : got.map(show).join(',')}, want ${expected === null ? 'null' : expected.map(show).join(',')}`);
      }
      if (re.test(input) !== (expected !== null)) failures.push(`${engine} test() /${pattern}/ on ${show(input)}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('exec keeps its old shape: strings, "" for a group that did not take part', () => {
  assert.deepEqual(compileRegex('(a)|(b)').exec('b'), ['b', '', 'b']);
  assert.equal(compileRegex('x').exec('y'), null);
});

test('named groups are reported with their numbers', () => {
  const re = compileRegex('(a)(?<n>c)(?P<m>d)');
  assert.deepEqual([...re.names], [['n', 2], ['m', 3]]);
  assert.equal(re.groupCount, 3);
});

test('a match can be searched from an offset, anchored, or non-empty at the start', () => {
  for (const engine of engines) {
    const re = compileRegex('a*', { engine });
    const at2 = re.match('aabaa', 2);
    assert.ok(typeof at2 !== 'string' && at2.index === 2 && at2.end === 2, engine);
    const notEmpty = re.match('aabaa', 3, { anchored: true, notEmptyAtStart: true });
    assert.ok(typeof notEmpty !== 'string' && notEmpty.groups[0] === 'aa', engine);
    assert.equal(compileRegex('b', { engine }).match('aabaa', 0, { anchored: true }), 'nomatch', engine);
  }
});

test('malformed patterns raise RegexSyntaxError with the offset and a reason', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['(abc', 0, /missing closing parenthesis/],
    ['ab)', 2, /unmatched closing parenthesis/],
    ['a{3,2}', 1, /out of order/],
    ['[b-a]', 1, /range out of order/],
    ['[abc', 0, /missing terminating \]/],
    ['\\x{100}', 0, /too large/],
    ['*a', 0, /does not follow a repeatable item/],
    ['a**', 2, /does not follow a repeatable item/],
    ['^*', 1, /does not follow a repeatable item/],
    ['(?<!a+)b', -1, /not fixed length/],
    ['\\p{L}', 0, /Unicode properties/],
    ['(a)\\2', 3, /non-existent group 2/],
    ['\\k<nope>', 0, /non-existent group name/],
    ['[[:foo:]]', 1, /unknown POSIX class/],
    ['\\y', 0, /unrecognized escape/],
    ['(?(1)a|b)', 0, /conditional groups/],
    ['a\\', 1, /at end of pattern/],
    ['\u0100', 0, /not a byte/],
  ];
  for (const [pattern, offset, reason] of cases) {
    assert.throws(
      () => compileRegex(pattern),
      (err: unknown) => {
        assert.ok(err instanceof RegexSyntaxError, `${pattern}: ${String(err)}`);
        assert.match(err.message, reason, pattern);
        if (offset >= 0) assert.equal(err.offset, offset, `${pattern}: ${err.message}`);
        return true;
      },
    );
  }
});

test('engines: linear engines for what they can run, the bounded matcher (with a warning) for the rest', () => {
  if (v8RegexFlags.irregexpSafe) assert.equal(compileRegex('(?i)union\\s+select').engine, 'irregexp');
  assert.equal(compileRegex('a{1,100}b').engine, 're2');
  assert.equal(compileRegex('(?m)^a$').engine, 're2');
  assert.equal(compileRegex('a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r|s|t|u').engine, 're2');
  for (const [pattern, construct] of [
    ['(a)\\1', 'back reference'],
    ['a(?=b)', 'lookahead'],
    ['(?<!a)b', 'negative lookbehind'],
    ['(?>a|ab)c', 'atomic group'],
    ['a++a', 'possessive'],
    ['\\Ga', '\\G'],
  ]) {
    const re = compileRegex(pattern as string);
    assert.equal(re.engine, 'backtrack', pattern);
    assert.match(re.warning ?? '', new RegExp(construct as string), pattern);
    assert.match(re.warning ?? '', /1500 steps/);
  }
  assert.equal(compileRegex('a++b').warning, undefined);
  assert.equal(compileRegex('(?>a+)b').engine === 'backtrack', false);
});

test('identical patterns compile once', () => {
  assert.equal(compileRegex('memo(?:ized)?', V2), compileRegex('memo(?:ized)?', V2));
  assert.notEqual(compileRegex('memo(?:ized)?', V2), compileRegex('memo(?:ized)?'));
});

test('the bounded matcher stops at its step budget, counted across start positions', () => {
  // (?!!) fails after the greedy run, then every split of the a's is tried: 2^n paths.
  const re = compileRegex('(a+)+(?!!)!');
  assert.equal(re.engine, 'backtrack');
  assert.equal(re.check(`${'a'.repeat(30)}!`), 'limit');
  assert.equal(re.test(`${'a'.repeat(30)}!`), false);
  assert.equal(re.check('a!a'), 'nomatch');
  const generous = compileRegex('(a+)+(?!!)!', { matchLimit: 1e7 });
  assert.equal(generous.check(`${'a'.repeat(12)}!`), 'nomatch');
  // Cheap per start position but many positions: the budget is per search, not per position.
  const perPosition = compileRegex('a(?!b)', { matchLimit: 50 });
  assert.equal(perPosition.check('ab'.repeat(100)), 'limit');
  assert.equal(perPosition.check(`${'ab'.repeat(3)}ac`), 'match');
  // The linear screen answers most inputs without the bounded matcher.
  assert.equal(compileRegex('(a+)+(?!a)b').check(`${'a'.repeat(30000)}!`), 'nomatch');
  assert.equal(DEFAULT_MATCH_LIMIT, 1500);
});

function sink(capturing = true): MatchContext & { caps: Map<number, string>; limited: number } {
  const caps = new Map<number, string>();
  return {
    capturing,
    caps,
    limited: 0,
    capture(i: number, v: string) {
      caps.set(i, v);
    },
    matchLimitExceeded() {
      this.limited++;
    },
  };
}

const ctx: OperatorContext = { baseDir: '.', readFile: () => '' };

test('@rx (a+)+$ against 30,000 a\'s and "!" answers no match (no stall)', () => {
  const op = rx('(a+)+$', ctx);
  const m = sink(false);
  assert.equal(op.evaluate(`${'a'.repeat(30000)}!`, m), false);
  assert.equal(op.evaluate(`${'a'.repeat(30000)}`, m), true);
  assert.equal(m.limited, 0);
});

test('@rx captures TX:0–9 up to the highest group that took part (ModSecurity v2)', () => {
  const m = sink();
  assert.equal(rx('(a)(b?)(c)', ctx).evaluate('xac', m), true);
  assert.deepEqual([...m.caps], [[0, 'ac'], [1, 'a'], [2, ''], [3, 'c']]);
  const m2 = sink();
  rx('(a)|(b)|(c)', ctx).evaluate('a', m2);
  assert.deepEqual([...m2.caps], [[0, 'a'], [1, 'a']]);
  const m3 = sink();
  rx('(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)', ctx).evaluate('abcdefghijk', m3);
  assert.equal(m3.caps.size, 10);
  assert.equal(m3.caps.get(9), 'i');
  assert.equal(rx('', ctx).evaluate('anything', sink()), true);
});

test('@rx reports a spent match limit and does not match', () => {
  const op = rx('(a+)+(?!!)!', { ...ctx, pcreMatchLimit: 100 } as OperatorContext);
  const m = sink(false);
  assert.equal(op.evaluate(`${'a'.repeat(25)}!`, m), false);
  assert.equal(m.limited, 1);
  const mc = sink(true);
  assert.equal(op.evaluate(`${'a'.repeat(25)}!`, mc), false);
  assert.equal(mc.limited, 1);
});

test('@rx uses ModSecurity v2 flags: . matches a newline, $ only at the very end', () => {
  assert.equal(rx('a.b', ctx).evaluate('a\nb', sink(false)), true);
  assert.equal(rx('a$', ctx).evaluate('a\n', sink(false)), false);
  assert.equal(rx('(?m)a$', ctx).evaluate('a\n', sink(false)), true);
});

test('@rxGlobal captures every match, numbered in one sequence (ModSecurity v3)', () => {
  const cases: Array<[string, string, string[]]> = [
    ['(^|a)(b|c)(d)', 'bdacd', ['bd', '', 'b', 'd', 'acd', 'a', 'c', 'd']],
    ['(abc)(def)', 'abcdef', ['abcdef', 'abc', 'def']],
    ['\\d+', 'a1b22c333', ['1', '22', '333']],
    // v3 also records the empty matches between and after the runs.
    ['[a-z]*', 'aaa0bbb', ['aaa', '', 'bbb', '']],
    ['a??', 'aa', ['', 'a', '', 'a', '']],
  ];
  for (const [pattern, input, want] of cases) {
    const m = sink();
    assert.equal(rxGlobal(pattern, ctx).evaluate(input, m), true, pattern);
    assert.deepEqual([...m.caps.values()], want, pattern);
  }
  assert.equal(rxGlobal('x', ctx).evaluate('abc', sink()), false);
  assert.equal(rxGlobal('', ctx).evaluate('abc', sink()), true);
  const many = sink();
  rxGlobal('\\w', ctx).evaluate('abcdefghijkl', many);
  assert.equal(many.caps.size, 10);
});

test('RE2 on a long value reports the match in chars and the groups as bytes, with or without bytes over 0x7f', () => {
  const re = compileRegex('(b+)(x)?(c)', { engine: 're2' });
  assert.equal(re.engine, 're2');
  for (const filler of ['a', '\xe9', 'a\xff\x80']) {
    const head = filler.repeat(Math.ceil(3000 / filler.length));
    const input = `${head}bb\xe9c${head}bbc${head}`;
    const m = re.match(input);
    assert.notEqual(typeof m, 'string');
    const { index, end, groups } = m as Exclude<typeof m, string>;
    const at = input.indexOf('bbc');
    assert.deepEqual([index, end, groups], [at, at + 3, ['bbc', 'bb', undefined, 'c']], JSON.stringify(filler));
    assert.deepEqual(re.exec(`${head}\xe9bbb\xe0c${head}b\xe9c${head}bc`), ['bc', 'b', '', 'c']);
  }
});

test('a long-value screen shortens counted repeats of unbounded bodies and still matches wherever the pattern does', () => {
  const cases: Array<[string, boolean]> = [
    // CRS 942430's shape: twelve special characters with anything else between.
    ['((?:[!-+:-@]|\\x{c2}\\x{b4})[^!-+:-@]*?){12}', true],
    ['^x(?:a+b){3}c$', true],
    ['(?:foo|(?:\\d+\\.){4}z)', true],
    ['[0-9a-f]{32}', false], // a bounded body: the counter costs RE2 little
    ['(?:(?:a+b){3})*c', false], // inside another repeat a shorter body is no superset
    ['(?:ab){2}', false],
  ];
  const inputs = ['', 'x', '1.2.3.4z', 'xababab', 'xaabababc', 'xabab', 'foo', 'c', 'ababab'];
  const random = (n: number, seed: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += 'ab!,:x.1zc '[(seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 11];
    return s;
  };
  for (let k = 0; k < 400; k++) inputs.push(random(k % 40, k + 1));
  for (const [source, shortened] of cases) {
    const re = compileRegex(source, MODSECURITY_RX_FLAGS);
    assert.ok(re.screenSource !== null, source);
    assert.equal(re.longScreenSource !== re.screenSource, shortened, source);
    const long = new RE2(re.longScreenSource as string);
    for (const input of inputs) if (re.test(input)) assert.ok(long.test(Buffer.from(input, 'utf8')), `${source} on ${JSON.stringify(input)}`);
  }
  const counted = compileRegex(cases[0]?.[0] as string, MODSECURITY_RX_FLAGS);
  assert.ok(counted.longScreenSource?.endsWith('{2}'), counted.longScreenSource ?? '');
  assert.ok(new RE2(counted.longScreenSource as string).test(Buffer.from('a!b:c')), 'two special characters are enough for the screen');
});

test('patterns share their byte sets: one object for each distinct set, whatever the pattern', async () => {
  const { parsePattern } = await import('../../src/engine/regex/parser.js');
  const sets = (pattern: string, flags = {}): Uint32Array[] => {
    const out: Uint32Array[] = [];
    const walk = (n: unknown): void => {
      if (n === null || typeof n !== 'object') return;
      if ((n as { kind?: string }).kind === 'set') out.push((n as { set: Uint32Array }).set);
      for (const v of Object.values(n)) if (typeof v === 'object') walk(v);
    };
    walk(parsePattern(pattern, flags).ast);
    return out;
  };
  const [a1, b1, digits1, notSpace1] = sets('ab[0-9]\\S');
  const [a2, digits2, b2, notSpace2] = sets('a\\db[^\\s]');
  assert.equal(a1, a2);
  assert.equal(b1, b2);
  assert.equal(digits1, digits2);
  assert.equal(notSpace1, notSpace2);
  assert.notEqual(a1, b1);
  // Case-folded literals are their own sets, shared with the class that says the same.
  const [foldedA] = sets('a', { caseless: true });
  const [classA] = sets('[aA]');
  assert.equal(foldedA, classA);
  assert.notEqual(foldedA, a1);
});

test('a pattern whose tree the garbage collector took parses it again when it needs it', async () => {
  const { spawnSync } = await import('node:child_process');
  const script = new URL('./fixtures/regex-tree-collected.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { collected: boolean; same: boolean; match: { index: number; groups: string[] } };
  assert.equal(out.collected, true, 'the tree was collected');
  assert.equal(out.same, true, 'the screens are the same from the tree parsed again');
  assert.deepEqual(out.match.groups, ['ABac12x', 'a']);
  assert.equal(out.match.index, 2);
});
