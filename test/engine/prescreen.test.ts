/**
 * The RE2.Set screen is an optimisation only: with it and without it, the same requests give
 * the same matches, logs and verdicts; and a screen that cannot answer lets every rule run.
 */
import { test } from 'node:test';
import RE2 from 're2';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Waf } from '../../src/engine/index.js';
import { Entry } from '../../src/engine/collection.js';
import { LONG_VALUE, LongScreen, ScreenGroup, longAnswersKept, screenOf } from '../../src/engine/prescreen.js';
import { FACT_VALUES, FactTable } from '../../src/engine/no-match-memo.js';
import { sharedSuite } from '../support/shared.js';
import { runRequest, type TestRequest } from '../support/request.js';

const crs = sharedSuite('crs');

/** A Waf of `rules` with request bodies read, screened or not. */
const wafOf = (rules: string, screening: boolean): Waf => Waf.fromText(`SecRuleEngine On\nSecRequestBodyAccess On\n${rules}\n`, { screening });
/** "rule variable" for every match, in order. */
const matchesOf = (r: Awaited<ReturnType<typeof runRequest>>): string[] => r.tx.matches.map((m) => `${m.ruleId} ${m.variable}`);
const inj = sharedSuite('libinjection');

test('a screen that fails (RE2 out of memory) answers "may match" for every rule', () => {
  const failing = { match: () => { throw new Error('RE2.Set matching failed: out of memory.'); } };
  const g = new ScreenGroup(0, failing as never, 4, null, null, new FactTable());
  assert.deepEqual([...g.run('anything', 'ARGS', new Entry('a', 'anything'))], [1, 1, 1, 1]);
});

test('a group remembers answers for raw values across transactions from their second sighting, bounded, long values by digest', () => {
  let calls = 0;
  const set = { match: (b: Buffer) => { calls++; return b.toString('latin1').includes('x') ? [1] : []; } };
  const facts = new FactTable();
  const g = new ScreenGroup(0, set as never, 3, null, null, facts);
  // Three transactions see the same two values (other Entry and string objects each time).
  for (let round = 0; round < 3; round++) {
    assert.deepEqual([...screenOf(new Entry('a', ['x', 'y', 'z'].join('')), g, 'ARGS')], [0, 1, 0]);
    assert.deepEqual([...screenOf(new Entry('b', 'ab'.concat('c')), g, 'ARGS')], [0, 0, 0]);
  }
  assert.equal(calls, 4, 'screened the first two times, then remembered');
  const long = 'x'.repeat(513);
  for (let i = 0; i < 3; i++) assert.deepEqual([...screenOf(new Entry('d', long.slice(0)), g, 'ARGS')], [0, 1, 0]);
  assert.equal(calls, 6, 'a long value too: screened the first two times, then remembered');
  for (let i = 0; i < 3; i++) assert.deepEqual([...screenOf(new Entry('d', `${'y'.repeat(512)}z`), g, 'ARGS')], [0, 0, 0]);
  assert.equal(calls, 8, 'another long value of the same length is screened on its own');
  for (let i = 0; i < 10_000; i++) {
    screenOf(new Entry('e', `value number ${i}`), g, 'ARGS');
    screenOf(new Entry('e', `value number ${i}`), g, 'ARGS');
  }
  assert.ok(facts.size > 0 && facts.size <= FACT_VALUES, `facts hold ${facts.size}`);
});

test('CRS gives the same results with and without the RE2.Set screen', { skip: crs === null ? 'CRS not in ../shared (outside CI)' : false }, async () => {
  const load = (screening: boolean): Waf =>
    Waf.fromText(`Include ${join(crs as string, 'crs-setup.conf.example')}\nInclude ${join(crs as string, 'rules')}/*.conf\n`, {
      file: join(crs as string, 'screen-test.conf'),
      screening,
    });
  const screened = load(true);
  const plain = load(false);
  assert.ok(screened.screenGroups > 5);
  assert.equal(plain.screenGroups, 0);
  const payloads = ["1' or 1=1--", '<script>alert(1)</script>', '../../etc/passwd', ';cat /etc/shadow', 'hello world', '${jndi:ldap://x/a}', '<?php system($_GET[1]); ?>'];
  if (inj !== null) {
    for (const file of ['sqli-misc.txt', 'xss-html5secorg.txt', 'false_positives.txt']) {
      payloads.push(...readFileSync(join(inj, 'data', file), 'latin1').split('\n').filter((l) => l !== '' && !l.startsWith('#')).slice(0, 60));
    }
  }
  const headers: Array<[string, string]> = [['Host', 'example.com'], ['User-Agent', 'Mozilla/5.0'], ['Accept', '*/*']];
  for (const p of payloads) {
    const enc = encodeURIComponent(p);
    const reqs: TestRequest[] = [
      { uri: `/search?q=${enc}`, headers },
      { method: 'POST', uri: '/form', headers: [...headers, ['Content-Type', 'application/x-www-form-urlencoded'], ['Cookie', `sid=${enc}`]], body: `a=${enc}&${enc}=b` },
      { method: 'POST', uri: '/api', headers: [...headers, ['Content-Type', 'application/json']], body: JSON.stringify({ a: p, list: [p, 1] }) },
      { method: 'POST', uri: '/xmlrpc.php', headers: [...headers, ['Content-Type', 'text/xml']], body: `<?xml version="1.0"?><m><v>${p.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</v></m>` },
    ];
    if (payloads.indexOf(p) < 7) {
      // Long values go through the screens for long values (engine/prescreen LongScreen).
      const pad = encodeURIComponent('x=1&y=<b> select '.repeat(LONG_VALUE / 16));
      reqs.push({ method: 'POST', uri: '/form', headers: [...headers, ['Content-Type', 'application/x-www-form-urlencoded']], body: `a=${pad}${enc}${pad}&b=${enc}` });
      reqs.push({ method: 'POST', uri: '/api', headers: [...headers, ['Content-Type', 'application/json']], body: JSON.stringify({ a: `${'lorem ipsum '.repeat(LONG_VALUE / 10)}${p}` }) });
    }
    for (const req of reqs) {
      const b = await runRequest(plain, req);
      // Four times: values get lasting ids the second time, are answered from memory the
      // third, and whole target lists the fourth.
      for (const round of ['first', 'second', 'third', 'fourth']) {
        const a = await runRequest(screened, req);
        assert.deepEqual(a.matched, b.matched, `matched rules differ for ${JSON.stringify(p)} (${round})`);
        assert.deepEqual(a.tx.matches.map((m) => [m.ruleId, m.variable, m.data]), b.tx.matches.map((m) => [m.ruleId, m.variable, m.data]));
        assert.deepEqual(a.interruption, b.interruption);
      }
    }
  }
});

test('long values: one screen pass per chain and variable, and every rule that matches still does', async () => {
  const rules = [
    'SecRule ARGS "@rx abc" "id:1,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule ARGS "@rx d[e]f" "id:2,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule ARGS|REQUEST_BODY "@rx q{3}" "id:3,phase:2,pass,log,t:none,t:urlDecode"',
    // Negated: a value the screen rules out matches.
    'SecRule ARGS "!@rx nowhere" "id:4,phase:2,pass,log,t:none,t:urlDecode"',
    // multiMatch: the form value holds "abc%41" (the body's %25 decoded), t:urlDecode makes it "abcA".
    'SecRule ARGS "@rx %41" "id:5,phase:2,pass,log,t:none,t:urlDecode,multiMatch"',
    'SecRule ARGS "@rx bcA" "id:6,phase:2,pass,log,t:none,t:urlDecode,multiMatch"',
    'SecRule ARGS "@pm hello" "id:7,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule REQUEST_BODY "@rx abc" "id:8,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule REQUEST_BODY "@rx nowhere" "id:9,phase:2,pass,log,t:none,t:urlDecode"',
  ].join('\n');
  const load = (screening: boolean): Waf => wafOf(rules, screening);
  const pad = 'z'.repeat(LONG_VALUE);
  const req: TestRequest = {
    method: 'POST',
    uri: '/',
    headers: [['Host', 'example.com'], ['Content-Type', 'application/x-www-form-urlencoded']],
    body: `a=${pad}abc%2541${pad}&b=${pad}hello${pad}&c=${pad}qqq&d=short+abc`,
  };
  const seen = matchesOf;
  const plain = seen(await runRequest(load(false), req));
  assert.deepEqual(plain, [
    '1 ARGS:a', '1 ARGS:d',
    '3 ARGS:c', '3 REQUEST_BODY',
    '4 ARGS:a', '4 ARGS:b', '4 ARGS:c', '4 ARGS:d',
    '5 ARGS:a', '6 ARGS:a',
    '7 ARGS:b',
    '8 REQUEST_BODY',
  ]);
  const screened = load(true);
  for (const round of ['first', 'second']) assert.deepEqual(seen(await runRequest(screened, req)), plain, round);
});

test('a long value two chains leave the same is scanned once for both; where they differ, each screen still answers', async () => {
  // Rules 1-3 apply t:urlDecode, 4-5 t:urlDecode,t:lowercase: the smaller screen rides on the larger.
  const rules = [
    'SecRule ARGS "@rx abc" "id:1,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule ARGS "@rx d[e]f" "id:2,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule ARGS "@rx q{3}" "id:3,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule ARGS "@rx abc" "id:4,phase:2,pass,log,t:none,t:urlDecode,t:lowercase"',
    'SecRule ARGS "@rx x[y]z" "id:5,phase:2,pass,log,t:none,t:urlDecode,t:lowercase"',
  ].join('\n');
  const load = (screening: boolean): Waf => wafOf(rules, screening);
  const pad = 'z'.repeat(LONG_VALUE);
  const seen = matchesOf;
  const screened = load(true);
  const [rider, base] = [screened.rules[3]?.longScreens?.get('ARGS')?.screen, screened.rules[0]?.longScreens?.get('ARGS')?.screen];
  assert.ok(rider !== undefined && base !== undefined && rider !== base);
  // Lower case already (both chains give one string), then with capitals (two strings).
  for (const body of [`a=${pad}abc${pad}&b=${pad}xyz`, `a=${pad}ABC${pad}&b=${pad}XYZ%41bc`]) {
    const req: TestRequest = { method: 'POST', uri: '/', headers: [['Host', 'example.com'], ['Content-Type', 'application/x-www-form-urlencoded']], body };
    const plain = seen(await runRequest(load(false), req));
    assert.ok(plain.length > 0);
    assert.deepEqual(seen(await runRequest(screened, req)), plain, body.slice(-12));
  }
  // One pass of the larger screen keeps answers for both: the rider's is part of it.
  const value = `${pad}abc`;
  const answer = base.answer(value);
  const riders = rider.answer(value);
  assert.equal(riders.buffer, answer.buffer);
  assert.deepEqual([...riders], [1, 0]);
  assert.deepEqual([...answer], [1, 0, 0]);
});

test('a rider asked before the screen it rides on still costs one pass when their strings are the same', async () => {
  // The t:urlDecode,t:lowercase rules (the rider's) come first this time.
  const rules = [
    'SecRule ARGS "@rx abc" "id:4,phase:2,pass,log,t:none,t:urlDecode,t:lowercase"',
    'SecRule ARGS "@rx x[y]z" "id:5,phase:2,pass,log,t:none,t:urlDecode,t:lowercase"',
    'SecRule ARGS "@rx abc" "id:1,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule ARGS "@rx d[e]f" "id:2,phase:2,pass,log,t:none,t:urlDecode"',
    'SecRule ARGS "@rx q{3}" "id:3,phase:2,pass,log,t:none,t:urlDecode"',
  ].join('\n');
  const pad = 'w'.repeat(LONG_VALUE);
  const req: TestRequest = { method: 'POST', uri: '/', headers: [['Host', 'example.com'], ['Content-Type', 'application/x-www-form-urlencoded']], body: `a=${pad}%61bc${pad}${Date.now()}` };
  const Set = (RE2 as unknown as { Set: { prototype: { match(b: Buffer): number[] } } }).Set.prototype;
  const match = Set.match;
  let passes = 0;
  Set.match = function (this: unknown, b: Buffer): number[] {
    if (b.length >= LONG_VALUE) passes++;
    return match.call(this, b);
  };
  try {
    const r = await runRequest(wafOf(rules, true), req);
    assert.deepEqual(matchesOf(r), ['4 ARGS:a', '1 ARGS:a']);
  } finally {
    Set.match = match;
  }
  assert.equal(passes, 1);
});

test('long-value answers are kept for the values rules ask about again, within a bound on what they hold', () => {
  const screen = new LongScreen(['abc', 'x{3}']);
  const value = `${'x'.repeat(3 << 20)}abc`;
  const first = screen.answer(value);
  assert.deepEqual([...first], [1, 1]);
  assert.equal(screen.answer(value.slice(0)), first, 'the same value again: the kept answer');
  for (let i = 0; i < 40; i++) screen.answer(`${i}${'y'.repeat(1 << 20)}`);
  const kept = longAnswersKept();
  assert.ok(kept.bytes <= 16 << 20 && kept.entries <= 64, `kept ${kept.entries} values, ${kept.bytes} bytes`);
  assert.notEqual(screen.answer(value), first, 'pushed out by newer values: screened again');
});

test('ctl:ruleRemoveTargetByTag, then one more by id: each rule loses what the removals naming it remove', async () => {
  const rules = [
    'SecRule REQUEST_URI "@beginsWith /" "id:20,phase:2,pass,nolog,ctl:ruleRemoveTargetByTag=quiet;ARGS:a"',
    'SecRule ARGS "@rx x" "id:21,phase:2,pass,log,tag:\'quiet\'"',
    'SecRule ARGS "@rx x" "id:22,phase:2,pass,log,tag:\'quiet\',ctl:ruleRemoveTargetById=24;ARGS:b"',
    'SecRule ARGS "@rx x" "id:23,phase:2,pass,log"',
    'SecRule ARGS "@rx x" "id:24,phase:2,pass,log,tag:\'quiet\'"',
    'SecRule ARGS "@rx x" "id:25,phase:2,pass,log,tag:\'quiet\'"',
    'SecRule ARGS "@rx x" "id:26,phase:2,pass,log"',
  ].join('\n');
  const waf = Waf.fromText(`SecRuleEngine On\nSecRequestBodyAccess On\n${rules}\n`);
  const r = await runRequest(waf, { method: 'GET', uri: '/?a=x1&b=x2&c=x3', headers: [['Host', 'example.com']] });
  const seen = (id: number): string[] => r.tx.matches.filter((m) => m.ruleId === id).map((m) => m.variable);
  assert.deepEqual(seen(21), ['ARGS:b', 'ARGS:c']);
  assert.deepEqual(seen(22), ['ARGS:b', 'ARGS:c']);
  assert.deepEqual(seen(23), ['ARGS:a', 'ARGS:b', 'ARGS:c']);
  // Both removals name 24; 25 only the first, as 21 and 22.
  assert.deepEqual(seen(24), ['ARGS:c']);
  assert.deepEqual(seen(25), ['ARGS:b', 'ARGS:c']);
  assert.deepEqual(seen(26), ['ARGS:a', 'ARGS:b', 'ARGS:c']);
});

test('a long list of values is collected once per phase and set of removals: each rule still sees its own', async () => {
  // 80 arguments: more than a list is kept for the phase's other rules with the same targets.
  const rules = [
    'SecRule ARGS "@rx x" "id:30,phase:1,pass,log"',
    'SecRule REQUEST_URI "@beginsWith /" "id:31,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=quiet;ARGS:a0"',
    'SecRule ARGS "@rx x" "id:32,phase:1,pass,log,tag:\'quiet\'"',
    'SecRule ARGS "@rx x" "id:33,phase:1,pass,log"',
    'SecRule REQUEST_URI "@beginsWith /" "id:38,phase:1,pass,nolog,ctl:ruleRemoveTargetById=34;ARGS:a1"',
    'SecRule ARGS "@rx x" "id:34,phase:1,pass,log,tag:\'quiet\'"',
    'SecRule ARGS "@rx x" "id:35,phase:1,pass,log,tag:\'quiet\'"',
    'SecRule ARGS|!ARGS:a2 "@rx x" "id:36,phase:1,pass,log"',
    'SecRule ARGS "@rx x" "id:37,phase:2,pass,log"',
    // A ctl runs once per value matched: 80 times, one removal kept.
    'SecRule ARGS "@rx x" "id:39,phase:2,pass,nolog,ctl:ruleRemoveTargetById=99;ARGS:zz"',
  ].join('\n');
  const waf = Waf.fromText(`SecRuleEngine On\nSecRequestBodyAccess On\n${rules}\n`);
  const query = Array.from({ length: 80 }, (_, i) => `a${i}=x`).join('&');
  const r = await runRequest(waf, {
    method: 'POST',
    uri: `/?${query}`,
    headers: [['Host', 'example.com'], ['Content-Type', 'application/x-www-form-urlencoded']],
    body: 'b=x',
  });
  const seen = (id: number): string[] => r.tx.matches.filter((m) => m.ruleId === id).map((m) => m.variable);
  const all = Array.from({ length: 80 }, (_, i) => `ARGS:a${i}`);
  const without = (...names: string[]): string[] => all.filter((n) => !names.includes(n));
  assert.deepEqual(seen(30), all);
  assert.deepEqual(seen(32), without('ARGS:a0'));
  assert.deepEqual(seen(33), all);
  assert.deepEqual(seen(34), without('ARGS:a0', 'ARGS:a1'));
  assert.deepEqual(seen(35), without('ARGS:a0'));
  assert.deepEqual(seen(36), without('ARGS:a2'));
  // Phase 2 collects again: the body's argument too (the removals still hold).
  assert.deepEqual(seen(37), [...all, 'ARGS:b']);
  assert.equal(r.tx.removedTargets.length, 3);
});

test('rules with the same targets: each phase collects again, a ctl:ruleRemoveTargetById names one rule only', async () => {
  const rules = [
    'SecRule ARGS|!ARGS:skip "@rx x" "id:10,phase:1,pass,log,msg:\'before the body\'"',
    'SecRule ARGS|!ARGS:skip "@rx x" "id:11,phase:2,pass,log,msg:\'one\'"',
    'SecRule ARGS|!ARGS:skip "@rx x" "id:12,phase:2,pass,log,msg:\'two\',ctl:ruleRemoveTargetById=13;ARGS:a"',
    'SecRule ARGS|!ARGS:skip "@rx x" "id:13,phase:2,pass,log,msg:\'three\'"',
    'SecRule ARGS|!ARGS:skip|!ARGS:b "@rx x" "id:14,phase:2,pass,log,msg:\'four\'"',
    'SecRule ARGS|!ARGS:skip "@rx x" "id:15,phase:2,pass,log,msg:\'five\'"',
  ].join('\n');
  const waf = Waf.fromText(`SecRuleEngine On\nSecRequestBodyAccess On\n${rules}\n`);
  const r = await runRequest(waf, {
    method: 'POST',
    uri: '/?a=x1',
    headers: [['Host', 'example.com'], ['Content-Type', 'application/x-www-form-urlencoded']],
    body: 'b=x2&skip=x3',
  });
  const seen = (id: number): string[] => r.tx.matches.filter((m) => m.ruleId === id).map((m) => m.variable);
  // Phase 1 has the query string only; phase 2 collects again, with the body.
  assert.deepEqual(seen(10), ['ARGS:a']);
  assert.deepEqual(seen(11), ['ARGS:a', 'ARGS:b']);
  assert.deepEqual(seen(12), ['ARGS:a', 'ARGS:b']);
  // The removal is this rule's alone: 13 without ARGS:a; 14 with its own exclusion; 15 as 11.
  assert.deepEqual(seen(13), ['ARGS:b']);
  assert.deepEqual(seen(14), ['ARGS:a']);
  assert.deepEqual(seen(15), ['ARGS:a', 'ARGS:b']);
});

test('consecutive rules of one screen group are passed at once when none may match, and each still matches when it may', async () => {
  const rules = [
    'SecRule ARGS "@rx one" "id:1,phase:2,block,log,t:lowercase,skipAfter:MID"',
    'SecRule ARGS "@rx two" "id:2,phase:2,block,log,t:lowercase"',
    'SecMarker MID',
    'SecRule ARGS "@rx three" "id:3,phase:2,block,log,t:lowercase"',
    'SecRule ARGS "@rx four" "id:4,phase:2,block,log,t:lowercase"',
    'SecRule ARGS "@rx ^x" "id:5,phase:2,pass,log"',
    'SecRule ARGS "@rx five" "id:6,phase:2,block,log,t:lowercase"',
  ].join('\n');
  const screened = wafOf(rules, true);
  const plain = wafOf(rules, false);
  // The phase as transactions run it: the marker left out, indexes in that list.
  const items = screened.runPhases[2] ?? [];
  assert.deepEqual(items.map((r) => r.id), [1, 2, 3, 4, 5, 6]);
  // Rules 1-4 (the marker between them) are one run; 5 is another group, 6 alone.
  assert.deepEqual(items.map((r) => r.groupRunEnd), [4, 4, 4, 4, -1, -1]);
  // skipAfter:MID goes on at rule 3, the first rule after the marker.
  assert.equal((items[0]?.skipAfterIndex ?? 0) + 1, 2);
  for (const uri of ['/?a=nothing', '/?a=ONE', '/?a=two&b=Three', '/?a=four', '/?a=xfive', '/?a=one&b=four']) {
    const a = await runRequest(screened, { uri });
    const b = await runRequest(plain, { uri });
    assert.deepEqual(matchesOf(a), matchesOf(b), uri);
  }
  assert.deepEqual(matchesOf(await runRequest(screened, { uri: '/?a=one&b=four' })), ['1 ARGS:a', '4 ARGS:b']);
});
