/**
 * Values a rule did not match, remembered across transactions (engine/no-match-memo): the
 * ids of values, the memo itself (a bit per rule in a bounded table), and the engine
 * with it — the same verdicts as without, a match limit never remembered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Waf } from '../../src/engine/index.js';
import { Entry } from '../../src/engine/collection.js';
import { Doorkeeper, FACT_VALUES, FactTable, idOf, MAX_ID_LENGTH, NoMatchMemo, SHORT_KEY, ValueIds } from '../../src/engine/no-match-memo.js';
import { runRequest } from '../support/request.js';

/** A value as the next request brings it: other Entry and string objects, the same characters. */

test('ids: equal characters, equal ids; lasting from the second sighting; long values by digest', () => {
  const ids = new ValueIds();
  const first = ids.idOf('text/html');
  assert.ok(first < 0, 'the first sighting gets a fresh negative id');
  const second = ids.idOf(['text', 'html'].join('/'));
  assert.ok(second > 0);
  assert.equal(ids.idOf('text/html'), second);
  assert.notEqual(ids.idOf('text/xml'), second);
  // Long values (by SHA-256) and short ones live apart: no short value is taken for a digest.
  const body = `comment=${'the quick brown fox '.repeat(50)}`;
  assert.ok(body.length > SHORT_KEY);
  ids.idOf(body);
  const long = ids.idOf(['comment=', 'the quick brown fox '.repeat(50)].join(''));
  assert.ok(long > 0);
  for (const other of [`${body} `, body.slice(0, -1), body.replace('quick', 'quack')]) {
    ids.idOf(other);
    assert.notEqual(ids.idOf(other), long);
  }
  // Past MAX_ID_LENGTH a value is never digested: each sighting is new.
  const huge = 'z'.repeat(MAX_ID_LENGTH + 1);
  assert.ok(ids.idOf(huge) < 0 && ids.idOf(huge) < 0);
  // Every code unit counts, including ones UTF-8 could not tell apart (lone surrogates).
  const pad = 'y'.repeat(SHORT_KEY);
  ids.idOf(`${pad}\ud800`);
  ids.idOf(`${pad}\ud801`);
  assert.notEqual(ids.idOf(`${pad}\ud800`), ids.idOf(`${pad}\ud801`));
  // Full: it starts over, and ids are never given again.
  const before = ids.idOf('text/html');
  for (let i = 0; i < 70_000; i++) {
    ids.idOf(`value ${i}`);
    ids.idOf(`value ${i}`);
  }
  assert.ok(ids.size <= 65_536, `holds ${ids.size}`);
  ids.idOf('text/html');
  const after = ids.idOf('text/html');
  assert.ok(after > 0 && after !== before, 'a value seen again after the table started over has a new id');
  // An entry keeps its id.
  const e = new Entry('k', 'gzip, deflate');
  assert.equal(idOf(e), idOf(e));
  assert.equal(e.memoId, idOf(e));
});

test('the memo takes lasting ids only; a bit per rule in one table of facts, bounded', () => {
  const table = new FactTable();
  const m = new NoMatchMemo(table);
  const other = new NoMatchMemo(table);
  const sighting = (v: string): Entry => {
    const e = new Entry('k', [...v].join(''));
    idOf(e);
    return e;
  };
  sighting('accept: text/html');
  const e = sighting('accept: text/html');
  assert.ok(e.memoId > 0);
  assert.equal(m.has(e), false);
  assert.equal(table.size, 0, 'a lookup of an unknown value creates nothing');
  m.add(e);
  assert.equal(m.has(sighting('accept: text/html')), true, 'another entry, the same characters');
  assert.equal(other.has(sighting('accept: text/html')), false, "another rule's bit");
  const first = new Entry('k', `seen once ${Math.random()}`);
  m.add(first);
  assert.equal(m.has(first), false, 'a first sighting is not remembered');
  for (let i = 1; i <= FACT_VALUES + 100; i++) {
    sighting(`value ${i}`);
    m.add(sighting(`value ${i}`));
  }
  assert.ok(table.size > 0 && table.size <= FACT_VALUES, `holds ${table.size}`);
  assert.throws(() => new NoMatchMemo(table), /before the table is used/);
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
  // Lasting ids from the second round, values remembered from the third, lists from the fourth.
  for (let round = 0; round < 5; round++) {
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

test('a rule skipped on a remembered list of values still sees a list that differs in one value', async () => {
  const waf = Waf.fromText([
    'SecRuleEngine On',
    'SecRule ARGS|ARGS_NAMES "@pm evil" "id:1,phase:1,deny,status:403"',
    'SecRule ARGS|ARGS_NAMES "@detectSQLi" "id:2,phase:1,deny,status:403"',
  ].join('\n'));
  const status = async (uri: string): Promise<number | null> => (await runRequest(waf, { uri })).interruption?.status ?? null;
  for (let i = 0; i < 6; i++) assert.equal(await status('/?a=1&b=2&c=three'), null, `benign request ${i + 1}`);
  assert.equal(await status('/?a=1&b=evil&c=three'), 403);
  assert.equal(await status('/?a=1&evil=2&c=three'), 403);
  assert.equal(await status("/?a=1&b=2&c=1' or 1=1--"), 403);
  assert.equal(await status('/?a=1&b=2&c=three'), null);
  assert.equal(await status('/?a=1&c=three&b=2'), null);
});

test('a rule over hundreds of values tests a repeated value once, and still every match and limit', async () => {
  const rules = [
    'SecRuleEngine On',
    'SecPcreMatchLimit 100',
    'SecRule ARGS "@detectSQLi" "id:1,phase:2,pass,log,setvar:tx.sqli=+1"',
    'SecRule ARGS|ARGS_NAMES "@pm evil" "id:2,phase:2,pass,log,setvar:tx.evil=+1"',
    'SecRule ARGS:q "@rx (a+)+(?!!)!" "id:3,phase:2,pass,nolog"',
    'SecRule TX:MSC_PCRE_LIMITS_EXCEEDED "@eq 1" "id:4,phase:2,pass,log"',
  ].join('\n');
  const fast = Waf.fromText(rules);
  const plain = Waf.fromText(rules, { screening: false });
  // (Compiled operators may be shared between Wafs: counted while `fast` runs only.)
  const tested = new Map<number, number>();
  for (const rule of fast.rules) {
    const op = rule.operator;
    if (op === null) continue;
    const evaluate = op.evaluate.bind(op);
    op.evaluate = (input, m) => {
      tested.set(rule.id, (tested.get(rule.id) ?? 0) + 1);
      return evaluate(input, m);
    };
  }
  // 900 arguments (SecArgumentsLimit is 1,000) of four kinds in a cycle: benign, SQL, evil,
  // benign again; then one that runs into the match limit.
  const kinds = ['a=1', "b=1' or 1=1--", 'c=evil', 'd=2'];
  const body = `${Array.from({ length: 900 }, (_, i) => kinds[i % 4]).join('&')}&q=${'a'.repeat(25)}!`;
  const post = { method: 'POST', body, headers: [['Content-Type', 'application/x-www-form-urlencoded']] as Array<[string, string]> };
  for (let round = 0; round < 3; round++) {
    tested.clear();
    const a = await runRequest(fast, post);
    const testedFast = tested.get(1) ?? 0;
    const b = await runRequest(plain, post);
    assert.deepEqual(a.logged, b.logged, `round ${round}`);
    assert.equal(a.tx.tx.get('sqli')?.value, '225');
    assert.equal(a.tx.tx.get('evil')?.value, '225');
    assert.deepEqual(a.matched, [1, 2, 4]);
    // From the second round every value has a lasting id: the ones that do not match are
    // tested once each, the matching one every time (its actions run for each).
    if (round > 0) assert.ok(testedFast <= 225 + 4, `@detectSQLi tested ${testedFast} times`);
  }
});

test('the doorkeeper lets a key seen once in early at most about one time in eight', () => {
  const door = new Doorkeeper(1 << 17);
  let early = 0;
  const n = 200_000;
  for (let i = 0; i < n; i++) if (door.admit(`never seen before ${i}`)) early++;
  assert.ok(early / n < 0.13, `${((100 * early) / n).toFixed(1)} % let in early`);
  // A key seen twice is let in (until the table is cleared).
  door.clear();
  assert.equal(door.admit('accept: text/html'), false);
  assert.equal(door.admit('accept: text/html'), true);
});

test('a rule whose operator matches every value (@rx ^.*$) has no memo, and still matches and captures', async () => {
  const waf = Waf.fromText(
    [
      'SecRuleEngine On',
      'SecRule REQUEST_HEADERS_NAMES "@rx ^.*$" "id:1,phase:1,pass,nolog,capture,t:lowercase,setvar:\'tx.seen=%{tx.seen} %{tx.0}\'"',
      'SecRule REQUEST_HEADERS_NAMES "@rx ^x" "id:2,phase:1,pass,nolog"',
    ].join('\n'),
  );
  const [all, some] = waf.rules;
  assert.equal(all?.noMatch, null);
  assert.ok(some?.noMatch !== null, 'a rule that can fail to match keeps its memo');
  for (let i = 0; i < 2; i++) {
    const r = await runRequest(waf, { headers: [['Host', 'example.com'], ['X-A', '1']] });
    assert.equal(r.tx.tx.get('seen')?.value, ' host x-a');
  }
});

test('memo rules sharing their targets are skipped whole once every value is known not to match them', async () => {
  // Five rules with the same targets, none in a screen group (different operators and chains):
  // their list is kept for the phase, and a rule none of whose values can match is not looked
  // at value by value. A sixth rule with targets of its own keeps the value-by-value memo.
  const text = [
    'SecRuleEngine On',
    'SecRule ARGS|ARGS_NAMES "@pm evil" "id:1,phase:1,deny,status:403,t:lowercase"',
    'SecRule ARGS|ARGS_NAMES "@detectSQLi" "id:2,phase:1,deny,status:403"',
    'SecRule ARGS|ARGS_NAMES "@detectXSS" "id:3,phase:1,deny,status:403,t:urlDecodeUni"',
    'SecRule ARGS|ARGS_NAMES "@contains /etc/passwd" "id:4,phase:1,deny,status:403,t:normalisePath"',
    'SecRule ARGS|ARGS_NAMES "@rx ^\\d+x$" "id:5,phase:1,deny,status:403,t:trim"',
    'SecRule ARGS "@within bad worse" "id:6,phase:1,deny,status:403"',
  ].join('\n');
  const waf = Waf.fromText(text);
  const plain = Waf.fromText(text, { screening: false });
  assert.deepEqual(
    waf.rules.map((r) => r.shareTargets),
    [true, true, true, true, true, false],
  );
  let asked = 0;
  const has = NoMatchMemo.prototype.has;
  NoMatchMemo.prototype.has = function (this: NoMatchMemo, entry: Entry): boolean {
    asked++;
    return has.call(this, entry);
  };
  try {
    const run = async (uri: string): Promise<{ status: number | null; asked: number }> => {
      asked = 0;
      const r = await runRequest(waf, { uri });
      const p = await runRequest(plain, { uri });
      assert.deepEqual(r.matched, p.matched, uri);
      return { status: r.interruption?.status ?? null, asked };
    };
    for (let i = 0; i < 3; i++) await run('/?a=1&b=2&c=three');
    // Known: rules 1-5 skipped whole; rule 6 asks about its three values.
    assert.deepEqual(await run('/?a=1&b=2&c=three'), { status: null, asked: 3 });
    // One value new: every rule looks at the list value by value again.
    assert.deepEqual(await run('/?a=1&b=2&c=four'), { status: null, asked: 5 * 6 + 3 });
    assert.equal((await run('/?a=1&b=evil&c=three')).status, 403);
    assert.equal((await run("/?a=1&b=2&c=1' or 1=1--")).status, 403);
    assert.equal((await run('/?a=1&b=2&c=42x')).status, 403);
    assert.equal((await run('/?a=1&b=2&c=worse')).status, 403);
    assert.deepEqual(await run('/?a=1&b=2&c=three'), { status: null, asked: 3 });
  } finally {
    NoMatchMemo.prototype.has = has;
  }
});
