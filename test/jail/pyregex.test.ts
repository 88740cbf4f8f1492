/**
 * Python `re` → JavaScript: the translation table. Every expected result below is what
 * CPython 3.11's `re.search(pattern, input)` returns (the groups, null for a group that did
 * not take part), checked against CPython when the table was written; Warden must return
 * the same. Then the errors CPython raises, the differences Warden keeps on purpose, and
 * the shape of a few translations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePyRegex, PyRegexError } from '../../src/jail/filter/pyregex.js';

type Row = [pattern: string, input: string, expected: Array<string | null> | null];

// [pattern, input, CPython's groups (0 = whole match) or null for no match]
const table: Row[] = [
  ["(?P<a>x)(?P=a)", "axxb", ["xx", "x"]],
  ["(?i)abc", "xABCx", ["ABC"]],
  ["a(?i:bc)d", "aBCd aBCD", ["aBCd"]],
  ["a(?i:bc)d", "aBCD", null],
  ["(?-i:a)", "A", null],
  ["\\d+", "ab\u0663\u0664x", ["\u0663\u0664"]],
  ["\\w+", "--h\u00e9llo_1--", ["h\u00e9llo_1"]],
  ["\\s+", "a\u001c\u0085b", ["\u001c\u0085"]],
  ["\\s", "\ufeff", null],
  ["\\bfoo\\b", "xfoo foo", ["foo"]],
  ["\\bfoo\\b", "\u00e9foo foo", ["foo"]],
  ["\\Bo", "foo", ["o"]],
  ["a.c", "a\rc", ["a\rc"]],
  ["a.c", "a\nc", null],
  ["(?s)a.c", "a\nc", ["a\nc"]],
  ["abc$", "abc\n", ["abc"]],
  ["abc$", "abc\nx", null],
  ["(?m)abc$", "abc\nx", ["abc"]],
  ["(?m)^x", "abc\nx", ["x"]],
  ["^x", "abc\nx", null],
  ["abc\\Z", "abc\n", null],
  ["\\Aabc", "abc", ["abc"]],
  ["[]a]+", "x]a]", ["]a]"]],
  ["[^]a]+", "]]xyz", ["xyz"]],
  ["[\\w.-]+", "!a.b-c!", ["a.b-c"]],
  ["[\\W]+", "ab,;cd", [",;"]],
  ["[^\\W\\d]+", "12ab3", ["ab"]],
  ["[\\S\\d]+", " ab 12", ["ab"]],
  ["x{,3}", "xxxxx", ["xxx"]],
  ["x{2}", "xxx", ["xx"]],
  ["{a}", "{a}", ["{a}"]],
  ["x{", "x{", ["x{"]],
  ["a{1,}b", "aaab", ["aaab"]],
  ["(a)|b", "b", ["b", null]],
  ["(?:(a)|b)(?(1)c|d)", "bd ac", ["bd", null]],
  ["(?P<q>')?x(?(q)'|)y", "x'y 'x'y", ["'x'y", "'"]],
  ["^(?:stderr from |script (?P<_q>'))a\\b\\S*(?(_q)'|) (?:script )?(?:does)", "script 'abc' does", null],
  ["^(?:stderr from |script (?P<_q>'))a\\b\\S*(?(_q)'|) (?:script )?(?:does)", "stderr from abc does", null],
  ["(?>a+)b", "aaab", ["aaab"]],
  ["(?>a+)a", "aaaa", null],
  ["a++a", "aaaa", null],
  ["a*+b", "aaab", ["aaab"]],
  ["(?#comment)ab", "ab", ["ab"]],
  ["(?x) a b # c\n c", "abc", ["abc"]],
  ["(?<=a)b", "ab", ["b"]],
  ["(?<!a)b", "ab cb", ["b"]],
  ["\\x41\\u0042\\U00000043\\101", "ABCA", ["ABCA"]],
  ["\\0", "\u0000", ["\u0000"]],
  ["a\\-b", "a-b", ["a-b"]],
  ["(a)(b)\\2\\1", "abba", ["abba", "a", "b"]],
  ["(?:(a)|b)\\1", "b aa", ["aa", "a"]],
  ["(?(1)a|b)(x)", "bx", ["bx", "x"]],
  ["(?P<n>a)?(?(n)b|c)", "ab c", ["ab", "a"]],
  ["(\\d+)-(?P<x>\\w)?(?(x)!|\\?)", "12-? 3-a!", ["12-?", "12", null]],
  ["(?:(?P<ip4>\\d+)|(?P<dns>\\w+))(?(ip4):(?P<port>\\d+)|\\.com)", "foo.com 12:34", ["foo.com", null, "foo", null]],
  ["[a-z]+", "ABC", null],
  ["(?i)[a-z]+", "ABC", ["ABC"]],
  ["(?i)\\u017f", "S", ["S"]],
  ["(?i)k", "\u212a", ["\u212a"]],
  ["x*", "aaa", [""]],
  ["(a|ab)(c|bcd)(d*)", "abcd", ["abcd", "a", "bcd", ""]],
  ["(?i:a)B", "Ab AB", ["AB"]],
  ["[-a]", "-", ["-"]],
  ["[a-]", "-", ["-"]],
  ["\\.[+*]", "a.+", [".+"]],
  ["(?P<host>\\S+)(?: port \\d+)?$", "1.2.3.4 port 22\n", ["1.2.3.4 port 22", "1.2.3.4"]],
  ["\\$", "a$", ["$"]],
  ["[\\b]", "\b", ["\b"]],
  ["(?u)\\w", "\u00e9", ["\u00e9"]],
  ["(?a)\\w", "\u00e9a", ["a"]],
  ["(?a)\\bx", "\u00e9x", ["x"]],
  ["\\bx", "\u00e9x x", ["x"]],
  ["(\\s*)$", "ab  \n", ["  \n", "  \n"]],
  ["^$", "\n", [""]],
  ["(?m)^$", "a\n", [""]],
  ["a|", "b", [""]],
  ["(?:a|b)*?c", "abc", ["abc"]],
  ["\\N{SPACE}", "a b", [" "]],
  ["x\\Z", "x\n", null],
  ["[\\x00-\\x1f]", "a\u0001", ["\u0001"]],
  ["\ud83d\ude00.", "\ud83d\ude00\ud83d\ude01", ["\ud83d\ude00\ud83d\ude01"]],
  [".", "\ud83d\ude00", ["\ud83d\ude00"]],
  ["(?P<user>\\S+) from (?P<host>\\d+\\.\\d+\\.\\d+\\.\\d+)$", "root from 10.0.0.1\n", ["root from 10.0.0.1", "root", "10.0.0.1"]],
  ["^a$", "a\n", ["a"]],
  ["^a$", "a\n\n", null],
  ["(?m)^b$", "a\nb\nc", ["b"]],
  ["\\d{2,}?", "12345", ["12"]],
  ["(a)?(?(1)b|c)", "c", ["c", null]],
  ["(?:(?P<x>a)|(?P<y>b))(?(x)1|2)", "b2 a1", ["b2", null, "b"]],
  ["(?i)(?P<q>a)(?P=q)", "aA", ["aA", "a"]],
  ["[^\\s\\d]+", "12 ab3", ["ab"]],
  ["\\W+", "ab, cd", [", "]],
  ["(?s:.)", "\n", ["\n"]],
  ["x(?i:y(?-i:z))", "xYz xYZ", ["xYz"]],
  ["\\b\\w+\\b", "  h\u00e9llo ", ["h\u00e9llo"]],
  ["(?<!\\S)x(?!\\S)", "ax x", ["x"]],
  ["[\\u00e9-\\u00eb]+", "a\u00e9\u00ea\u00ebb", ["\u00e9\u00ea\u00eb"]],
  ["(?a)[\\d\\s]+", "1 \u0663", ["1 "]],
  ["(?x)\\# a", "# a", null],
  ["(?:ab)*+b", "ababb", ["ababb"]],
  ["(?>(a|ab))c", "abc", null],
  ["^(?:\\W{0,2})?(\\d+)", "[[123", ["[[123", "123"]],
  ["(?P<a>x)|(?P<b>y)", "y", ["y", null, "y"]],
  ["\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$", ".*+?()[]{}|^$", [".*+?()[]{}|^$"]],
  ["[.*+?()\\[\\]{}|^$]+", "a.*+?()[]{}|^$b", [".*+?()[]{}|^$"]],
  ["\\t\\n\\r\\f\\v\\a", "\t\n\r\f\u000b\u0007", ["\t\n\r\f\u000b\u0007"]],
  ["\\/", "/", ["/"]],
  // fail2ban's word bounds around a date, translated as the neighbours they refuse.
  ["(?=^|\\b|\\W)(\\d+)", "ab12 x", null],
  ["(?=^|\\b|\\W)(\\d*)\\Z", "ab-", null],
  ["(?=^|\\b|\\W)(\\d*)\\Z", "", ["", ""]],
  ["(?=^|\\b|\\W)(\\d*)\\Z", "a", ["", ""]],
  ["(?=^|\\b|\\W)\u00e9(\\d+)", "a\u00e912 \u00e934", ["\u00e934", "34"]],
  ["(\\d+)(?=\\b|\\W|$)", "12a 34\n", ["34", "34"]],
  ["(\\d+)(?=\\b|\\W|$)", "12a 3\u00e94-5", ["4", "4"]],
  ["x(?=\\B|\\W)", "xa xy x", ["x"]],];

function groupsOf(pattern: string, input: string): Array<string | null> | null {
  const re = compilePyRegex(pattern);
  const m = re.search(input);
  if (m === null) return null;
  return Array.from({ length: re.groupCount + 1 }, (_, g) => m.group(g) ?? null);
}

for (const [pattern, input, expected] of table) {
  test(`re.search(${JSON.stringify(pattern)}, ${JSON.stringify(input)})`, () => {
    assert.deepEqual(groupsOf(pattern, input), expected);
  });
}

// [pattern, CPython's message]
const errors: Array<[string, string]> = [
  ["(", "missing ), unterminated subpattern"],
  ["a)", "unbalanced parenthesis"],
  ["*a", "nothing to repeat"],
  ["a**", "multiple repeat"],
  ["\\q", "bad escape \\q"],
  ["[a", "unterminated character set"],
  ["(?P<1>a)", "bad character in group name '1'"],
  ["(?P=x)", "unknown group name 'x'"],
  ["(?P<a>x)(?P<a>y)", "redefinition of group name 'a' as group 2; was group 1"],
  ["a(?i)b", "global flags not at the start of the expression"],
  ["(?(x)a|b)", "unknown group name 'x'"],
  ["(?(1)a|b|c)(x)", "conditional backref with more than two branches"],
  ["x{3,2}", "min repeat greater than max repeat"],
  ["\\", "bad escape (end of pattern)"],
  ["(?<x)", "unknown extension ?<x"],
  ["[b-a]", "bad character range b-a"],
  ["\\1", "invalid group reference 1"],
  ["(?L)a", "bad inline flags: cannot use 'L' flag with a str pattern"],
  ["(?au)a", "bad inline flags: flags 'a', 'u' and 'L' are incompatible"],
  ["(?-a:x)", "bad inline flags: cannot turn off flags 'a', 'u' and 'L'"],];

for (const [pattern, message] of errors) {
  test(`re.compile(${JSON.stringify(pattern)}) is an error: ${message}`, () => {
    assert.throws(
      () => compilePyRegex(pattern),
      (err: unknown) => err instanceof PyRegexError && err.code === 'WARDEN_FILTER_REGEX' && err.message.startsWith(message),
    );
  });
}

test('group positions, by number and name, with the spans option', () => {
  const re = compilePyRegex(String.raw`(?P<d>\d+)-(x)?(\w+)`, { spans: true });
  const m = re.search('ab 12-cd');
  assert.ok(m !== null);
  assert.deepEqual([m.start(), m.end()], [3, 8]);
  assert.deepEqual([m.start('d'), m.end('d')], [3, 5]);
  assert.deepEqual([m.start(2), m.end(2)], [-1, -1]);
  assert.deepEqual(m.groupdict(), { d: '12' });
});

test('search(text, pos, endpos) is Python\'s: ^ only at 0, look-behind sees before pos, the string ends at endpos', () => {
  const re = compilePyRegex(String.raw`(?<=a)b|^c`);
  assert.equal(re.search('ab', 1)?.group(), 'b');
  assert.equal(re.search('xc', 1), null);
  assert.equal(compilePyRegex('b$').search('abc', 0, 2)?.start(), 1);
});

test('locate: the span of spanOf from the located form, every other group from the whole pattern at the same place', () => {
  // The backreference keeps its group captured in the located form.
  const source = String.raw`^[^\[]*\[((?P<d>\d+)(?P<sep>[-/])(?P<m>\w+)(?P=sep)(?P<y>\d{4}))\]`;
  const whole = compilePyRegex(source, { spanOf: 1 });
  const located = compilePyRegex(source, { spanOf: 1, locate: true });
  for (const [text, pos, endpos] of [
    ['1.2.3.4 - [01/Jun/2025] "GET /"', 0, undefined],
    ['x - [01-Jun-2025] y', 0, 17],
    ['x - [01/Jun-2025] y', 0, undefined],
    ['[01/Jun/2025]', 1, undefined],
  ] as const) {
    const a = whole.search(text, pos, endpos);
    const b = located.search(text, pos, endpos);
    assert.equal(b?.start(1), a?.start(1), text);
    assert.equal(b?.end(1), a?.end(1), text);
    assert.equal(b?.group(0), a?.group(0), text);
    assert.deepEqual(b?.groupdict(), a?.groupdict(), text);
  }
  assert.deepEqual(located.search('x - [01/Jun/2025]')?.groupdict(), { d: '01', sep: '/', m: 'Jun', y: '2025' });
});

test('searchGroup: one group\'s text from a form of the pattern where only it (and what backreferences need) captures', () => {
  const re = compilePyRegex(String.raw`^(?P<q>['"])(?P<word>\w+)(?P=q) (?P<rest>.+)?$`);
  assert.equal(re.searchGroup('"ab" cd', 2), 'ab');
  assert.equal(re.searchGroup('"ab\' cd', 2), null);
  assert.equal(re.searchGroup("'ab' ", 3), undefined);
  assert.equal(re.searchGroup("'ab' x", 3), 'x');
  assert.equal(compilePyRegex('a(b)?').searchGroup('ac', 1), undefined);
});

test('conditionals become variants of the pattern, tried in Python\'s order', () => {
  const re = compilePyRegex(String.raw`^Failed (?P<inv>invalid user )?(?P<user>(?P<plain>\S+)|(?(inv).*?|[^:]+)) from (?P<host>\S+)(?(plain)$| port)`);
  assert.ok(re.variants > 1);
  const a = re.search('Failed invalid user a b from 1.2.3.4 port');
  assert.deepEqual([a?.group('user'), a?.group('host'), a?.group('plain')], ['a b', '1.2.3.4', undefined]);
  const b = re.search('Failed root from 1.2.3.4');
  assert.deepEqual([b?.group('user'), b?.group('plain')], ['root', 'root']);
});

test('a conditional on a group inside a repeat is refused at load, not mistranslated', () => {
  assert.throws(() => compilePyRegex('(?:a(?P<g>b)?)+(?(g)y|n)'), /conditional pattern not supported/);
});

// Where JavaScript and Python differ and Warden does not hide it: a repeated group that
// matched the empty string on its last iteration keeps, in JavaScript, the capture of the
// iteration before. No fail2ban filter repeats a group that can match empty.
test('known difference: captures of a repeated group that can match empty', () => {
  assert.deepEqual(groupsOf('(|a)+b', 'aab'), ['aab', 'a']); // CPython: ['aab', '']
  assert.deepEqual(groupsOf('(a*)*b', 'aab'), ['aab', 'aa']); // CPython: ['aab', '']
});

test('a class with a negated escape and more (`[\\S.]`) is one choice per character, as in Python', () => {
  // Translated as two alternatives that both take a dot, a run of dots before a failing
  // end split 2^n ways (named-refused's `\([\S.]+\)` on a line of 40 `:.com.ua)`s never
  // returned); each character now has one alternative that takes it.
  const re = compilePyRegex(String.raw`^client \S+#\S+(?: \([\S.]+\))?: (?P<content>.+)\s(?:denied|\(NOTAUTH\))\s*$`);
  assert.equal(re.search(`client 1.2.3.4#5 (a.b)${':.com.ua)'.repeat(40)}`), null);
  assert.equal(re.search('client 1.2.3.4#5 (a.b): query denied')?.group('content'), 'query');
  for (const [pattern, yes, no] of [
    [String.raw`^[\S.]+$`, ['a.b', '...', 'é'], ['a b', '']],
    [String.raw`^[\s\w]+$`, ['a b', '_\u001c'], ['a.b']],
    [String.raw`^[\D\S]+$`, ['a 1', '1', ' '], ['']],
    [String.raw`^[\W\d_]+$`, ['1_.', ' '], ['a1']],
  ] as const) {
    const r = compilePyRegex(pattern);
    for (const t of yes) assert.equal(r.test(t), true, `${pattern} ${JSON.stringify(t)}`);
    for (const t of no) assert.equal(r.test(t), false, `${pattern} ${JSON.stringify(t)}`);
  }
});

test('translations: Python semantics kept in the JavaScript source', () => {
  const js = (p: string): string => compilePyRegex(p).jsSource;
  // `.` stops only at \n; `$` also before a final \n; \Z is the end.
  assert.equal(js('a.$'), 'a[^\\n](?=\\n?$)');
  assert.equal(js(String.raw`a\Z`), 'a$');
  // A scoped case-insensitive group when the rest is case-sensitive.
  assert.equal(js('a(?i:b)'), 'a(?:[bB])');
  // Global (?i) becomes the i flag.
  assert.equal(compilePyRegex('(?i)ab').jsFlags, 'ui');
  // Python's \s has U+001C-U+001F and U+0085, not U+FEFF.
  assert.equal(compilePyRegex(String.raw`\s`).test('\u001c'), true);
  assert.equal(compilePyRegex(String.raw`\s`).test('\ufeff'), false);
  // \b next to a word character is one look-around.
  assert.equal(js(String.raw`\bfoo`), '(?<![\\p{L}\\p{N}_])foo');
  // A look-ahead that tests only the neighbours: the pairs it refuses.
  assert.equal(js(String.raw`1(?=\b|\W|$)`), '1(?!(?<=[\\p{L}\\p{N}_])[\\p{L}\\p{N}_])');
  assert.equal(js(String.raw`(?=^|\b|\W)1`), '(?!(?<=[\\p{L}\\p{N}_])[\\p{L}\\p{N}_])(?!$(?<![\\p{L}\\p{N}_])(?<=[^]))1');
  // Atomic groups and possessive repeats.
  assert.match(js('(?>a+)b'), /^\(\?=\(\(\?:a\)\+\)\)\\1b$/u);
  assert.match(js('a++b'), /^\(\?=\(\(\?:a\)\+\)\)\\1b$/u);
});
