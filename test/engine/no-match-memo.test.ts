/**
 * Values a rule did not match, remembered across transactions (engine/no-match-memo): the
 * memo itself (bounded, long values by digest, rests when it does not help), and the engine
 * with it — the same verdicts as without, a match limit never remembered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Waf } from '../../src/engine/index.js';
import { Entry } from '../../src/engine/collection.js';
import { memoKeyOf, NoMatchMemo, SHORT_KEY } from '../../src/engine/no-match-memo.js';
import { runRequest } from '../support/request.js';

test('the memo takes a value the second time it did not match; bounded', () => {
  const m = new NoMatchMemo();
  assert.equal(m.has('text/html'), false);
  m.add('text/html');
  assert.equal(m.has('text/html'), false, 'seen once: only noted');
  m.add('text/html');
  // Another string object with the same characters (the next request's).
  assert.equal(m.has(['text', 'html'].join('/')), true);
  for (let i = 0; i < 5000; i++) {
    m.add(`value ${i}`);
    m.add(`value ${i}`);
  }
  assert.ok(m.size > 0 && m.size <= 512, `holds ${m.size}`);
});

test('a value is its own key up to SHORT_KEY characters; a longer one is keyed by its SHA-256, once per entry', () => {
  const short = 'x'.repeat(SHORT_KEY);
  assert.equal(memoKeyOf(new Entry('a', short)), short);
  const body = `comment=${'the quick brown fox '.repeat(50)}`;
  const entry = new Entry('a', body);
  const key = memoKeyOf(entry);
  assert.match(key, /^sha256:[A-Za-z0-9+/]{43}=$/);
  assert.ok(key.length > SHORT_KEY, 'no short value is ever taken for a digest key');
  assert.equal(entry.memoKey, key, 'kept on the entry');
  // The same characters in another string (the next request's): the same key.
  assert.equal(memoKeyOf(new Entry('b', ['comment=', 'the quick brown fox '.repeat(50)].join(''))), key);
  // One character more or less, or another character: another key.
  assert.notEqual(memoKeyOf(new Entry('a', `${body} `)), key);
  assert.notEqual(memoKeyOf(new Entry('a', body.slice(0, -1))), key);
  assert.notEqual(memoKeyOf(new Entry('a', body.replace('quick', 'quack'))), key);
  // Every code unit counts, including ones UTF-8 could not tell apart (lone surrogates).
  const pad = 'y'.repeat(SHORT_KEY);
  assert.notEqual(memoKeyOf(new Entry('a', `${pad}\ud800`)), memoKeyOf(new Entry('a', `${pad}\ud801`)));
  // The memo remembers a long value under its key.
  const m = new NoMatchMemo();
  m.add(key);
  m.add(key);
  assert.equal(m.has(memoKeyOf(new Entry('c', body.slice(0)))), true);
});

test('the memo rests when values do not repeat, and tries again later', () => {
  const m = new NoMatchMemo();
  // Every value new: never taken in, a window of misses, then it rests.
  for (let i = 0; i < 512; i++) {
    assert.equal(m.has(`unique ${i}`), false);
    m.add(`unique ${i}`);
  }
  assert.equal(m.size, 0);
  assert.equal(m.isResting, true);
  m.add('again');
  m.add('again');
  assert.equal(m.has('again'), false, 'resting: nothing is remembered');
  for (let i = 0; i < 16 * 512; i++) m.has(`later ${i}`);
  assert.equal(m.isResting, false);
  // Repeating values keep it working.
  m.add('accept');
  m.add('accept');
  for (let i = 0; i < 2000; i++) assert.equal(m.has('accept'), true);
  assert.equal(m.isResting, false);
});

const RULES = [
  'SecRuleEngine On',
  'SecPcreMatchLimit 100',
  // @pm and @detectSQLi have no RE2 screen; (a+)+(?!!)! needs the bounded matcher.
  'SecRule REQUEST_HEADERS:User-Agent "@pm sqlmap nikto" "id:1,phase:1,deny,status:403,t:lowercase"',
  'SecRule ARGS "@detectSQLi" "id:2,phase:2,deny,status:403"',
  'SecRule ARGS:q "@rx (a+)+(?!!)!" "id:3,phase:2,pass,log"',
  'SecRule TX:MSC_PCRE_LIMITS_EXCEEDED "@eq 1" "id:4,phase:2,pass,log,msg:\'limit\'"',
].join('\n');

test('with the memo the engine answers as without it, request after request', async () => {
  const memo = Waf.fromText(RULES);
  const plain = Waf.fromText(RULES, { screening: false });
  const requests = [
    { uri: '/?id=42', headers: [['User-Agent', 'Mozilla/5.0']] as Array<[string, string]> },
    { uri: '/?id=1%27%20or%201=1--', headers: [['User-Agent', 'Mozilla/5.0']] as Array<[string, string]> },
    { uri: '/?id=42', headers: [['User-Agent', 'sqlmap/1.7']] as Array<[string, string]> },
    { uri: '/?id=42', headers: [['User-Agent', 'SQLMap/1.7']] as Array<[string, string]> },
  ];
  for (let round = 0; round < 3; round++) {
    for (const r of requests) {
      const a = await runRequest(memo, r);
      const b = await runRequest(plain, r);
      assert.deepEqual(a.matched, b.matched, `${r.uri} ${r.headers[0]?.[1]} (round ${round})`);
      assert.deepEqual(a.interruption, b.interruption);
    }
  }
});

test('a value that ran into the match limit is not remembered: the limit is reported every time', async () => {
  const waf = Waf.fromText(RULES);
  const q = `${'a'.repeat(25)}!`;
  for (let i = 0; i < 3; i++) {
    const r = await runRequest(waf, { uri: `/?q=${q}` });
    assert.deepEqual(r.matched, [4], `request ${i + 1}`);
  }
});
