// Table-driven tests of the JSON body processor: ModSecurity v3 naming (and Coraza's),
// yajl's acceptance and error texts, v2's REQBODY_ERROR_MSG wording, limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { collectArguments } from '../../src/bodies/types.js';
import { parseJson, type JsonOptions } from '../../src/bodies/json.js';

type Pairs = [string, string][];

function parse(body: string, options?: JsonOptions): { pairs: Pairs; error: string | null; count: number } {
  const args = collectArguments();
  const r = parseJson(body, args, options);
  return { pairs: args.names.map((n, i) => [n, args.values[i] ?? '']), error: r.error, count: r.count };
}

const naming: { name: string; body: string; pairs: Pairs; coraza?: Pairs }[] = [
  { name: 'v2 regression body', body: '{\n "foo":"bar",\n "mod":"sec"\n}', pairs: [['json.foo', 'bar'], ['json.mod', 'sec']] },
  { name: 'nested objects', body: '{"a":{"b":{"c":"x"}}}', pairs: [['json.a.b.c', 'x']] },
  { name: 'arrays (issue #1576 body)',
    body: '{"foo":"bar","mod":"sec","ops":[["um","um e meio"],"dois","tres",{"eins":["zwei","drei"]}],"whee":"lhebs"}',
    pairs: [['json.foo', 'bar'], ['json.mod', 'sec'], ['json.ops.array_0.array_0', 'um'], ['json.ops.array_0.array_1', 'um e meio'],
      ['json.ops.array_1', 'dois'], ['json.ops.array_2', 'tres'], ['json.ops.array_3.eins.array_0', 'zwei'], ['json.ops.array_3.eins.array_1', 'drei'],
      ['json.whee', 'lhebs']],
    coraza: [['json.foo', 'bar'], ['json.mod', 'sec'], ['json.ops.0.0', 'um'], ['json.ops.0.1', 'um e meio'], ['json.ops.0', '2'],
      ['json.ops.1', 'dois'], ['json.ops.2', 'tres'], ['json.ops.3.eins.0', 'zwei'], ['json.ops.3.eins.1', 'drei'], ['json.ops.3.eins', '2'],
      ['json.ops', '4'], ['json.whee', 'lhebs']] },
  { name: 'top-level array', body: '["um","um e meio",{"tres":"quatro"}]',
    pairs: [['json.array_0', 'um'], ['json.array_1', 'um e meio'], ['json.array_2.tres', 'quatro']],
    coraza: [['json.0', 'um'], ['json.1', 'um e meio'], ['json.2.tres', 'quatro'], ['json', '3']] },
  { name: 'top-level scalar', body: '25', pairs: [['json', '25']] },
  { name: 'scalars as their text', body: '{"t":true,"f":false,"n":null,"i":-12,"d":1.5e+3,"z":0}',
    pairs: [['json.t', 'true'], ['json.f', 'false'], ['json.n', ''], ['json.i', '-12'], ['json.d', '1.5e+3'], ['json.z', '0']] },
  { name: 'empty key', body: '{"":1,"a":{"":2}}', pairs: [['json.empty-key', '1'], ['json.a.empty-key', '2']], coraza: [['json.', '1'], ['json.a.', '2']] },
  { name: 'empty containers add nothing', body: '{"a":{},"b":[],"c":1}', pairs: [['json.c', '1']] },
  { name: 'repeated keys kept in order', body: '{"a":1,"a":2}', pairs: [['json.a', '1'], ['json.a', '2']] },
  { name: 'CRS test: SQL keyword in a key', body: '{ "; select": "foo" }', pairs: [['json.; select', 'foo']] },
  { name: 'CRS test: shellshock in a key', body: '{ "() { :; }":"foo" }', pairs: [['json.() { :; }', 'foo']] },
  { name: 'escapes decoded', body: '{"s":"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t"}', pairs: [['json.s', 'a"b\\c/d\b\f\n\r\t']] },
  { name: '\\u escapes become UTF-8 bytes', body: '{"e":"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\u0000"}',
    pairs: [['json.e', 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x00']] },
  { name: 'lone high surrogate is ? and eats one byte (yajl)', body: '{"e":"x\\ud800yz"}', pairs: [['json.e', 'x?z']] },
  { name: 'raw UTF-8 stays bytes', body: '{"k\xc3\xa9":"\xe2\x82\xac"}', pairs: [['json.k\xc3\xa9', '\xe2\x82\xac']] },
  { name: 'escaped key', body: '{"a\\u0041":1}', pairs: [['json.aA', '1']] },
  { name: 'yajl whitespace includes \\v and \\f', body: '\v\f{"a" :\t1 }\r\n', pairs: [['json.a', '1']] },
  { name: 'XSS payload value', body: '{"comment":"<script>alert(1)</script>"}', pairs: [['json.comment', '<script>alert(1)</script>']] },
];

for (const c of naming) {
  test(`json naming: ${c.name}`, () => {
    const r = parse(c.body);
    assert.equal(r.error, null);
    assert.deepEqual(r.pairs, c.pairs);
    assert.equal(r.count, c.pairs.length);
    if (c.coraza !== undefined) assert.deepEqual(parse(c.body, { arrayNames: 'coraza' }).pairs, c.coraza);
  });
}

const errors: { name: string; body: string; error: string; pairs?: Pairs }[] = [
  { name: 'truncated object', body: '{"a":1', error: 'JSON parser error: parse error: premature EOF', pairs: [['json.a', '1']] },
  { name: 'truncated string', body: '{"a":"abc', error: 'JSON parser error: parse error: premature EOF' },
  { name: 'truncated literal', body: '{"a":tru', error: 'JSON parser error: lexical error: invalid string in json text.' },
  { name: 'truncated number', body: '[1.', error: 'JSON parser error: lexical error: malformed number, a digit is required after the decimal point.' },
  { name: 'whitespace only', body: '   ', error: 'JSON parser error: parse error: premature EOF' },
  { name: 'bad literal', body: '[trux]', error: 'JSON parsing error: lexical error: invalid string in json text.' },
  { name: 'single quotes', body: "{'a':1}", error: 'JSON parsing error: lexical error: invalid char in json text.' },
  { name: 'comment', body: '{"a":1 /* x */}', error: 'JSON parsing error: lexical error: probable comment found in input text, comments are not enabled.', pairs: [['json.a', '1']] },
  { name: 'trailing comma in array', body: '[1,]', error: 'JSON parsing error: parse error: unallowed token at this point in JSON text', pairs: [['json.array_0', '1']] },
  { name: 'trailing comma in object', body: '{"a":1,}', error: 'JSON parsing error: parse error: invalid object key (must be a string)', pairs: [['json.a', '1']] },
  { name: 'number key', body: '{1:2}', error: 'JSON parsing error: parse error: invalid object key (must be a string)' },
  { name: 'missing colon', body: '{"a" 1}', error: "JSON parsing error: parse error: object key and value must be separated by a colon (':')" },
  { name: 'missing comma in object', body: '{"a":1 "b":2}', error: "JSON parsing error: parse error: after key and value, inside map, I expect ',' or '}'", pairs: [['json.a', '1']] },
  { name: 'missing comma in array', body: '[1 2]', error: "JSON parsing error: parse error: after array element, I expect ',' or ']'", pairs: [['json.array_0', '1']] },
  { name: 'two top-level values', body: '{"a":1}{"b":2}', error: 'JSON parsing error: parse error: trailing garbage', pairs: [['json.a', '1']] },
  { name: 'leading zero', body: '[01]', error: "JSON parsing error: parse error: after array element, I expect ',' or ']'", pairs: [['json.array_0', '0']] },
  { name: 'minus alone', body: '[-]', error: 'JSON parsing error: lexical error: malformed number, a digit is required after the minus sign.' },
  { name: 'bad exponent', body: '[1e+]', error: 'JSON parsing error: lexical error: malformed number, a digit is required after the exponent.' },
  { name: 'control character in a string', body: '["a\nb"]', error: 'JSON parsing error: lexical error: invalid character inside string.' },
  { name: 'bad escape', body: '["\\x41"]', error: "JSON parsing error: lexical error: inside a string, '\\' occurs before a character which it may not." },
  { name: 'bad \\u', body: '["\\u12g4"]', error: "JSON parsing error: lexical error: invalid (non-hex) character occurs after '\\u' inside string." },
  { name: 'invalid UTF-8', body: '["\xff"]', error: 'JSON parsing error: lexical error: invalid bytes in UTF8 string.' },
  { name: 'truncated UTF-8 sequence', body: '["\xc3"]', error: 'JSON parsing error: lexical error: invalid bytes in UTF8 string.' },
  { name: 'urlencoded body sent as JSON', body: 'a=1&b=2', error: 'JSON parsing error: lexical error: invalid char in json text.' },
  { name: 'closing the wrong container', body: '[1}', error: "JSON parsing error: parse error: after array element, I expect ',' or ']'", pairs: [['json.array_0', '1']] },
];

for (const c of errors) {
  test(`json error: ${c.name}`, () => {
    const r = parse(c.body);
    assert.equal(r.error, c.error);
    assert.deepEqual(r.pairs, c.pairs ?? []);
  });
}

test('json: an empty body is not an error (v2)', () => {
  assert.deepEqual(parse(''), { pairs: [], error: null, count: 0 });
});

test('json: SecRequestBodyJsonDepthLimit (v2 regression bodies)', () => {
  const body = '{\n "key1":{"key2":{"key3":{"key4":{"key5":"thevalue"}}}}\n}';
  assert.equal(parse(body, { depthLimit: 5 }).error, null);
  assert.deepEqual(parse(body, { depthLimit: 5 }).pairs, [['json.key1.key2.key3.key4.key5', 'thevalue']]);
  assert.equal(parse(body, { depthLimit: 3 }).error, 'JSON parsing error: JSON depth limit exceeded');
  assert.equal(parse('[[1]]', { depthLimit: 2 }).error, null);
  assert.equal(parse('[[1]]', { depthLimit: 1 }).error, 'JSON parsing error: JSON depth limit exceeded');
});

test('json: deep nesting never overflows the stack', () => {
  const deep = '['.repeat(200_000) + ']'.repeat(200_000);
  assert.equal(parse(deep, { depthLimit: Infinity }).error, null);
  assert.equal(parse('['.repeat(200_000)).error, 'JSON parsing error: JSON depth limit exceeded');
  assert.equal(parse('{"a":'.repeat(100_000), { depthLimit: Infinity }).error, 'JSON parser error: parse error: premature EOF');
});

test('json: SecArgumentsLimit counts the query string arguments too', () => {
  const r = parse('{"a":1,"b":2,"c":3}', { argumentsLimit: 3, argumentsCount: 1 });
  assert.equal(r.error, 'JSON parsing error: More than 3 JSON keys');
  assert.deepEqual(r.pairs, [['json.a', '1'], ['json.b', '2']]);
});

test('json: argument names cannot grow quadratically', () => {
  const body = '['.repeat(5000) + '1,'.repeat(20_000) + '1' + ']'.repeat(5000);
  const r = parse(body, { depthLimit: Infinity });
  assert.match(r.error ?? '', /argument names exceed/);
});

test('json: linear time on a large body', () => {
  const big = JSON.stringify({ items: Array.from({ length: 100_000 }, (_, i) => ({ id: i, name: 'item ' + i, tags: ['a', 'b'] })) });
  const start = Date.now();
  const r = parse(big);
  assert.equal(r.error, null);
  assert.equal(r.count, 400_000);
  assert.ok(Date.now() - start < 3000);
});

const byte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
const jsonish = fc.array(fc.oneof(byte, fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', 'true', 'null', '1', '-', '.', 'e', ' ')), { maxLength: 50 }).map((a) => a.join(''));

test('json property: any body gives a result or an error message, never an exception', () => {
  fc.assert(fc.property(jsonish, (body) => {
    const r = parse(body, { depthLimit: 4 });
    assert.equal(r.pairs.length, r.count);
    if (r.error !== null) assert.match(r.error, /^JSON pars(er|ing) error: /);
  }), { numRuns: 3000 });
});

test('json property: valid JSON parses, one argument per scalar, values as their text', () => {
  const leaves = (v: unknown): number => Array.isArray(v) ? v.reduce((s: number, x) => s + leaves(x), 0)
    : v !== null && typeof v === 'object' ? Object.values(v).reduce((s: number, x) => s + leaves(x), 0) : 1;
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
    const text = Buffer.from(JSON.stringify(value), 'utf8').toString('latin1');
    const r = parse(text);
    assert.equal(r.error, null);
    assert.equal(r.count, leaves(value));
  }));
});
