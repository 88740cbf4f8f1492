/**
 * @module test/detect/xss
 * The XSS detector and its HTML5 tokenizer: verdicts libinjection gives for known inputs
 * (checked against libinjection 4's C build) and token streams for each start state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectXss } from '../../src/detect/xss.js';
import {
  createHtml5State,
  html5Init,
  html5Next,
  html5TypeNames,
  START_DATA,
  START_VALUE_DOUBLE_QUOTE,
  START_VALUE_NO_QUOTE,
} from '../../src/detect/html5.js';

const cases: [string, boolean][] = [
  ['<script>alert(1)</script>', true],
  ['<a href="javascript:alert(1)">', true],
  ['<a href="&#106;avascript:alert(1)">', true], // decimal character reference
  ['<a href="&#x6A;avascript:alert(1)">', true], // hex character reference
  ['<a href=" java&#0;script:alert(1)">', true], // leading space and NUL ignored
  ['<a href="http://example.com/">x</a>', false],
  ['<img src=x onerror=alert(1)>', true],
  ['<img src=x onerrorfoo=1>', true], // event names match as prefixes
  ['<img src=x one=1>', false],
  ['<b>bold</b>', false],
  ['<svg/onload=alert(1)>', true],
  ['<div style="color:red">', true],
  ['<!DOCTYPE html>', true],
  ['<!--[if IE]><script>x</script><![endif]-->', true],
  ['<!-- harmless -->', false],
  ['<? import foo ?>', false],
  ['<x xmlns="foo">', true],
  ['" onmouseover="alert(1)', true], // reflected into a double-quoted attribute
  ["' onfocus='alert(1)", true],
  ['onload=alert(1)', true], // reflected into an unquoted attribute
  ['<a href=data:text/html,foo>', true],
  ['<iframe src=x>', true],
  ['</script >', true],
  ['</script>', false],
  ['<scr\0ipt>', true], // NUL inside a tag name is ignored
  ['this is not an XSS', false],
  ['1 < 2 and 3 > 2', false],
  ['<a attributename=onclick>', true],
  ['<a b=`x`>', false],
  ['<!-- ` -->', true],
  ['', false],
];

for (const [input, xss] of cases) {
  test(`detectXss(${JSON.stringify(input)}) is ${xss}`, () => {
    assert.equal(detectXss(input), xss);
  });
}

function html5Tokens(input: string, start: number): string[] {
  const hs = createHtml5State();
  html5Init(hs, input, start);
  const out: string[] = [];
  while (html5Next(hs)) {
    out.push(`${html5TypeNames[hs.tokenType]},${input.slice(hs.tokenStart, hs.tokenStart + hs.tokenLen)}`);
  }
  return out;
}

test('html5: a document', () => {
  assert.deepEqual(html5Tokens('a<b c=d e="f" g/>h</b><!--x--><!DOCTYPE y>', START_DATA), [
    'DATA_TEXT,a', 'TAG_NAME_OPEN,b', 'ATTR_NAME,c', 'ATTR_VALUE,d', 'ATTR_NAME,e', 'ATTR_VALUE,f',
    'ATTR_NAME,g', 'TAG_NAME_SELFCLOSE,/>', 'DATA_TEXT,h', 'TAG_CLOSE,b', 'TAG_COMMENT,x', 'DOCTYPE,DOCTYPE y',
  ]);
});

test('html5: starting inside attribute values', () => {
  assert.deepEqual(html5Tokens('x" onload="y', START_VALUE_DOUBLE_QUOTE), [
    'ATTR_VALUE,x', 'ATTR_NAME,onload', 'ATTR_VALUE,y',
  ]);
  assert.deepEqual(html5Tokens('x onload=y>', START_VALUE_NO_QUOTE), [
    'ATTR_NAME,x', 'ATTR_NAME,onload', 'ATTR_VALUE,y', 'TAG_NAME_CLOSE,>',
  ]);
});

test('html5: byte 0xFF where white space may end reads as the end, as in libinjection', () => {
  // libinjection returns a C char from its white-space skipper: 0xFF equals EOF (-1).
  assert.deepEqual(html5Tokens('<a \xffonload=x>', START_DATA), ['TAG_NAME_OPEN,a']);
  assert.deepEqual(html5Tokens('<a \xfeonload=x>', START_DATA), [
    'TAG_NAME_OPEN,a', 'ATTR_NAME,\xfeonload', 'ATTR_VALUE,x', 'TAG_NAME_CLOSE,>',
  ]);
});
