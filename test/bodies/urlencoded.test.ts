// Table-driven tests of the urlencoded argument parser against ModSecurity v2's parse_arguments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { collectArguments } from '../../src/bodies/types.js';
import { parseUrlencoded } from '../../src/bodies/urlencoded.js';

type Pairs = [string, string][];

function parse(input: string, separator?: string, limit?: number) {
  const args = collectArguments();
  const result = parseUrlencoded(input, args, separator, limit);
  const pairs: Pairs = args.names.map((n, i) => [n, args.values[i] ?? '']);
  return { pairs, result };
}

const cases: { name: string; input: string; separator?: string; pairs: Pairs; invalid: number }[] = [
  { name: 'login form body', input: 'log=admin&pwd=hunter2&wp-submit=Log+In&redirect_to=https%3A%2F%2Fblog.example%2Fwp-admin%2F&testcookie=1',
    pairs: [['log', 'admin'], ['pwd', 'hunter2'], ['wp-submit', 'Log In'], ['redirect_to', 'https://blog.example/wp-admin/'], ['testcookie', '1']], invalid: 0 },
  { name: 'repeated names stay, in order', input: 'id=1&id=2&id=3', pairs: [['id', '1'], ['id', '2'], ['id', '3']], invalid: 0 },
  { name: 'name without =', input: 'debug&x=1', pairs: [['debug', ''], ['x', '1']], invalid: 0 },
  { name: 'empty value', input: 'a=&b=2', pairs: [['a', ''], ['b', '2']], invalid: 0 },
  { name: 'empty name', input: '=value', pairs: [['', 'value']], invalid: 0 },
  { name: 'double separator is an empty argument', input: 'a=1&&b=2', pairs: [['a', '1'], ['', ''], ['b', '2']], invalid: 0 },
  { name: 'lone separator', input: '&', pairs: [['', '']], invalid: 0 },
  { name: 'trailing separator adds nothing', input: 'a=1&', pairs: [['a', '1']], invalid: 0 },
  { name: 'only = ', input: '=', pairs: [['', '']], invalid: 0 },
  { name: 'value keeps later =', input: 'q=a=b==c', pairs: [['q', 'a=b==c']], invalid: 0 },
  { name: 'plus is space in names and values', input: 'first+name=John+Smith', pairs: [['first name', 'John Smith']], invalid: 0 },
  { name: 'percent bytes are bytes (UTF-8 stays encoded)', input: 'q=caf%C3%A9', pairs: [['q', 'caf\xc3\xa9']], invalid: 0 },
  { name: 'encoded separator and equals are data', input: 'a=1%262%3D3', pairs: [['a', '1&2=3']], invalid: 0 },
  { name: 'NUL byte decoded', input: 'f=../../etc/passwd%00.png', pairs: [['f', '../../etc/passwd\x00.png']], invalid: 0 },
  { name: 'invalid escape left as is and counted', input: 'x=%zz&y=100%', pairs: [['x', '%zz'], ['y', '100%']], invalid: 2 },
  { name: 'escape cut by the end of the value', input: 'a=%4&b=%41', pairs: [['a', '%4'], ['b', 'A']], invalid: 1 },
  { name: 'escape cut by the end of the name', input: 'n%4=1', pairs: [['n%4', '1']], invalid: 1 },
  { name: 'half-valid escape', input: 'a=%4G%', pairs: [['a', '%4G%']], invalid: 2 },
  { name: 'lower-case hex', input: 'a=%3c%2fscript%3e', pairs: [['a', '</script>']], invalid: 0 },
  { name: '%u is not decoded here', input: 'a=%u0041', pairs: [['a', '%u0041']], invalid: 1 },
  { name: 'custom separator', input: 'a=1;b=2&c=3', separator: ';', pairs: [['a', '1'], ['b', '2&c=3']], invalid: 0 },
  { name: 'separator = never starts a value', input: 'a=b', separator: '=', pairs: [['a', ''], ['b', '']], invalid: 0 },
  { name: 'raw high bytes pass through', input: 'n=\xff\xfe', pairs: [['n', '\xff\xfe']], invalid: 0 },
  { name: 'empty input', input: '', pairs: [], invalid: 0 },
  { name: 'SQLi probe', input: "id=1%27%20OR%20%271%27%3D%271&Submit=Submit", pairs: [['id', "1' OR '1'='1"], ['Submit', 'Submit']], invalid: 0 },
];

for (const c of cases) {
  test(`urlencoded: ${c.name}`, () => {
    const { pairs, result } = parse(c.input, c.separator);
    assert.deepEqual(pairs, c.pairs);
    assert.equal(result.invalidEncodings, c.invalid);
    assert.equal(result.count, c.pairs.length);
    assert.equal(result.error, null);
  });
}

test('urlencoded: SecArgumentsLimit drops the rest, reports it, still counts invalid escapes', () => {
  const { pairs, result } = parse('a=1&b=2&c=%zz&d=%', '&', 2);
  assert.deepEqual(pairs, [['a', '1'], ['b', '2']]);
  assert.equal(result.error, 'SecArgumentsLimit exceeded');
  assert.equal(result.invalidEncodings, 2);
  assert.equal(result.count, 2);
});

test('urlencoded: a limit that is not reached is no error', () => {
  const { result } = parse('a=1&b=2', '&', 2);
  assert.equal(result.error, null);
});

test('urlencoded: a long value with many escapes decodes fully', () => {
  const raw = 'x'.repeat(100_000);
  const { pairs } = parse('v=' + encodeURIComponent(raw).replace(/x/g, '%78'));
  assert.equal(pairs[0]?.[1], raw);
});

const byte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
const bytes = fc.array(byte, { maxLength: 40 }).map((a) => a.join(''));

test('urlencoded property: any input parses without throwing; counts agree', () => {
  fc.assert(fc.property(bytes, fc.constantFrom('&', ';'), fc.nat(5), (input, sep, limit) => {
    const { pairs, result } = parse(input, sep, limit);
    assert.equal(pairs.length, result.count);
    assert.ok(result.count <= limit);
    assert.ok(result.invalidEncodings >= 0);
    assert.ok(result.error === null || result.error === 'SecArgumentsLimit exceeded');
  }));
});

test('urlencoded property: percent-encoding every byte round-trips', () => {
  const enc = (s: string) => [...s].map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  fc.assert(fc.property(fc.array(fc.tuple(bytes, bytes), { maxLength: 6 }), (list) => {
    const input = list.map(([n, v]) => enc(n) + '=' + enc(v)).join('&');
    const { pairs, result } = parse(input);
    assert.equal(result.invalidEncodings, 0);
    assert.deepEqual(pairs, list.length === 0 ? [] : list);
  }));
});
