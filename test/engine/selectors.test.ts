/**
 * Selectors (engine/variables): a `/regex/` selector that is a plain word is compared
 * without the regex engine; it must select exactly the names the regex selects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSelector, isNamed, resolveTarget, selects } from '../../src/engine/variables.js';
import { compileRegex } from '../../src/engine/regex/index.js';
import { Waf } from '../../src/engine/index.js';
import { compileMacro, expandMacro } from '../../src/engine/macro.js';
import type { Transaction } from '../../src/engine/transaction.js';
import { runRequest } from '../support/request.js';

const tx = resolveTarget('TX', null, false).def;

test('a plain-word selector selects what its regex selects', () => {
  const sources = ['^header_name_920450_', '^MSC_', '__utm', '_pk_ref', '^a-b', 'ks', '^S', 'paramcounter_.*', 'MULTIPART_HEADERS_CONTENT_TYPES_*', '^ms*', 'k.*'];
  const keys = [
    'header_name_920450_accept', 'HEADER_NAME_920450_Accept', 'x_header_name_920450_', 'header_name_92045', '',
    'msc_pcre_limits_exceeded', 'MSC_', 'xMSC_', '__utma', '__UTMZ', 'a__utm', '_pk_ref.1.abc', '_PK_REF', 'a-b', 'A-Bc', 'ab',
    'KS', 'kſ', '\u212As', 'ſ', 'S', 's\u00e9', '\u00c9s', 'sk', 'xx\u212As', '\u00e9\u00c9ks', 'k\u017f', '\u0130s',
    '__utm\u2603', '\u2603__utm', 'header_name_920450_\u00e9',
    'paramcounter_', 'paramcounter_ARGS:a', 'x_PARAMCOUNTER_\n', 'paramcounter', 'multipart_headers_content_types', 'MULTIPART_HEADERS_CONTENT_TYPES_x',
    'MULTIPART_HEADERS_CONTENT_TYPE', 'm', 'ms', 'mss_', 'xm', '\u212A\n',
  ];
  for (const source of sources) {
    const sel = compileSelector(tx, `/${source}/`);
    assert.ok(sel.kind === 'regex' && sel.literal !== null, `${source} is a plain word`);
    const re = compileRegex(`(?is)${source}`);
    for (const key of keys) assert.equal(selects(sel, key), re.test(key), `/${source}/ on ${JSON.stringify(key)}`);
  }
  for (const source of ['^a.b', 'a|b', '^ab$', 'a+', '\\w', 'a*', '.*', 'ab.*$', 'ab*c', 'a.+', 'ab\\*']) {
    const sel = compileSelector(tx, `/${source}/`);
    assert.ok(sel.kind === 'regex' && sel.literal === null, `${source} is a regex`);
  }
});

test('a name selector compares names as toLowerCase compares them (names as long as the selector), bytes past ASCII included', () => {
  // Names are byte strings, which lower-case to as many chars; a longer lower case (U+0130) is no match.
  const same = (key: string, lower: string): boolean => key.length === lower.length && key.toLowerCase() === lower;
  const names = ['user-agent', 'content-type', 'cookie', 'host', '\u00e9t\u00e9', 'i\u0307x', 'stra\u00dfe', '', 'a'];
  const keys = [
    'User-Agent', 'USER-AGENT', 'user-agent', 'User_Agent', 'User-Agen', 'User-Agentx', 'Connection', 'Content-Type', 'Cookie', 'COOKIE',
    'Cookie2', 'Host', 'HOST', 'hosT', '\u00c9T\u00c9', '\u00e9t\u00e9', '\u00c9t\u00e9', 'ETE', '\u0130x', 'I\u0307x', 'STRA\u00dfE', 'STRASSE',
    '', 'A', '\u212a', 'Co\u00d0kie', '@', '[', '`', '{',
  ];
  for (const lower of names) {
    for (const key of keys) assert.equal(isNamed(key, lower), same(key, lower), `${JSON.stringify(key)} / ${JSON.stringify(lower)}`);
    const sel = compileSelector(resolveTarget('REQUEST_HEADERS', null, false).def, lower);
    for (const key of keys) assert.equal(selects(sel, key), same(key, lower), `selector ${JSON.stringify(lower)}: ${JSON.stringify(key)}`);
  }
});

test('rules see the same TX variables and cookies through plain-word selectors', async () => {
  const waf = Waf.fromText([
    'SecRuleEngine On',
    'SecAction "id:1,phase:1,pass,nolog,setvar:tx.header_name_1_a=x,setvar:tx.HEADER_NAME_1_b=y,setvar:tx.other=z"',
    'SecRule TX:/^header_name_1_/ "@rx ." "id:2,phase:1,pass,log,msg:\'tx\'"',
    'SecRule REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/ "@rx ." "id:3,phase:1,pass,log,msg:\'cookie\'"',
  ].join('\n'));
  const r = await runRequest(waf, { uri: '/', headers: [['Cookie', '__utma=1; x__UTMz=2; sid=3']] });
  assert.deepEqual(r.tx.matches.filter((m) => m.ruleId === 2).map((m) => m.variable).sort(), ['TX:HEADER_NAME_1_b', 'TX:header_name_1_a'].sort());
  assert.deepEqual(r.tx.matches.filter((m) => m.ruleId === 3).map((m) => m.variable), ['REQUEST_COOKIES:sid']);
});

test('rules naming the same XPath share it; the same prefix bound to other namespaces does not', async () => {
  const a1 = compileSelector(resolveTarget('XML', null, false).def, '/*');
  const a2 = compileSelector(resolveTarget('XML', null, false).def, '/*');
  assert.ok(a1.kind === 'xpath' && a2.kind === 'xpath' && a1.xpath === a2.xpath);
  const waf = Waf.fromText([
    'SecRuleEngine On',
    'SecRequestBodyAccess On',
    'SecRule REQUEST_HEADERS:Content-Type "@rx xml" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=XML"',
    'SecRule XML:/p:v/text() "@rx ." "id:2,phase:2,pass,log,msg:\'one\',xmlns:p=urn:one"',
    'SecRule XML:/p:v/text() "@rx ." "id:3,phase:2,pass,log,msg:\'two\',xmlns:p=urn:two"',
    'SecRule XML:/* "@rx secret" "id:4,phase:2,pass,log,msg:\'all\'"',
    'SecRule XML:/* "@rx secret" "id:5,phase:2,pass,log,msg:\'all again\'"',
  ].join('\n'));
  const r = await runRequest(waf, { method: 'POST', uri: '/', headers: [['Content-Type', 'text/xml']], body: '<v xmlns="urn:two">secret</v>' });
  assert.deepEqual(r.matched, [1, 3, 4, 5]);
});

test('a TX variable read by name sees every write, removal and capture before it', async () => {
  const rules = [
    'SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=1"',
    'SecRule TX:level "@eq 1" "id:2,phase:1,pass,log"',
    'SecAction "id:3,phase:1,pass,nolog,setvar:!tx.level"',
    'SecRule TX:level "@eq 1" "id:4,phase:1,pass,log"',
    'SecRule &TX:level "@eq 0" "id:5,phase:1,pass,log"',
    'SecAction "id:6,phase:1,pass,nolog,setvar:tx.LEVEL=2"',
    'SecRule TX:Level "@eq 2" "id:7,phase:1,pass,log"',
    'SecAction "id:8,phase:1,pass,nolog,setvar:tx.level=+3"',
    'SecRule TX:level "@eq 5" "id:9,phase:1,pass,log"',
    'SecRule ARGS:q "@rx (b)(c)" "id:10,phase:1,pass,nolog,capture"',
    'SecRule TX:2 "@streq c" "id:11,phase:1,pass,log"',
    'SecRule ARGS:q "@rx (a)" "id:12,phase:1,pass,nolog,capture"',
    // The second capture had one group: TX:2 is gone.
    'SecRule &TX:2 "@eq 0" "id:13,phase:1,pass,log"',
    'SecRule TX:1 "@streq a" "id:14,phase:1,pass,log"',
  ].join('\n');
  const waf = Waf.fromText(`SecRuleEngine On\n${rules}\n`);
  const r = await runRequest(waf, { uri: '/?q=abc', headers: [['Host', 'example.com']] });
  assert.deepEqual([...new Set(r.tx.matches.map((m) => m.ruleId))].filter((id) => ![1, 3, 6, 8, 10, 12].includes(id)), [2, 5, 7, 9, 11, 13, 14]);
});

test('TX variables read or written by name (kept in slots) and the others are selected in the order they were first written', async () => {
  const list = (selector: string, id: number): string =>
    `SecRule ${selector} "@rx ^" "id:${id},phase:1,pass,nolog,setvar:'tx.seen_${id}=%{tx.seen_${id}} %{MATCHED_VAR_NAME}'"`;
  const rules = [
    // va is read by name and vc written by name: they get slots; vb and vd, whose names
    // only macros make, do not.
    'SecRule TX:va "@eq 99" "id:1,phase:1,pass,nolog"',
    'SecAction "id:2,phase:1,pass,nolog,setvar:tx.b=b,setvar:tx.d=d"',
    "SecAction \"id:3,phase:1,pass,nolog,setvar:tx.va=1,setvar:'tx.v%{tx.b}=1',setvar:tx.VC=1,setvar:'tx.v%{tx.d}=1'\"",
    list('TX:/^v/', 10),
    // A new value keeps the place; a removal and a new write moves to the end.
    "SecAction \"id:4,phase:1,pass,nolog,setvar:tx.va=2,setvar:'!tx.v%{tx.b}',setvar:'tx.v%{tx.b}=3',setvar:!tx.vc,setvar:tx.vc=4\"",
    list('TX:/^v/', 11),
    list('TX:/^v[ad]/', 12),
    'SecRule &TX:/^v/ "@eq 4" "id:13,phase:1,pass,log"',
    'SecRule TX:vc "@eq 4" "id:14,phase:1,pass,log"',
  ].join('\n');
  const waf = Waf.fromText(`SecRuleEngine On\n${rules}\n`);
  const r = await runRequest(waf, { uri: '/', headers: [['Host', 'example.com']] });
  const seen = (id: number): string | undefined => r.tx.tx.get(`seen_${id}`)?.value;
  assert.equal(seen(10), ' TX:va TX:vb TX:VC TX:vd');
  assert.equal(seen(11), ' TX:va TX:vd TX:vb TX:vc');
  assert.equal(seen(12), ' TX:va TX:vd');
  assert.deepEqual(r.logged, [13, 14]);
  assert.deepEqual(
    ['va', 'vb', 'vc', 'vd', 'seen_10'].map((name) => r.tx.tx.slotIndex(name) >= 0),
    [true, false, true, false, true],
  );
});

test('setvar with a name made by a macro writes the slot of the name it makes, if it has one', async () => {
  const rules = [
    'SecRule TX:vc "@eq 99" "id:1,phase:1,pass,nolog"',
    "SecAction \"id:2,phase:1,pass,nolog,setvar:tx.c=C,setvar:'tx.v%{tx.c}=5',setvar:'tx.zz_%{tx.c}=6',setvar:'tx.v%{tx.c}=+1'\"",
    'SecRule TX:vc "@eq 6" "id:3,phase:1,pass,log"',
    'SecRule TX:/^zz_/ "@eq 6" "id:4,phase:1,pass,log"',
    'SecRule &TX:/^[vz]/ "@eq 2" "id:5,phase:1,pass,log"',
  ].join('\n');
  const r = await runRequest(Waf.fromText(`SecRuleEngine On\n${rules}\n`), { uri: '/', headers: [['Host', 'example.com']] });
  assert.deepEqual(r.logged, [3, 4, 5]);
  assert.equal(r.tx.tx.get('VC')?.value, '6');
  assert.equal(r.tx.tx.get('zz_c')?.key, 'zz_C');
});

test('a template with one reference expands as written whether its expansion is remembered or not, and remembers a bounded number', async () => {
  // CRS's 920450 pattern: a TX name and value made from each header name, read back by a TX:/^…/ selector and @within.
  const rules = [
    'SecAction "id:1,phase:1,pass,nolog,setvar:\'tx.restricted=/proxy/ /x-evil/\'"',
    "SecRule REQUEST_HEADERS_NAMES \"@rx ^.*$\" \"id:2,phase:1,pass,nolog,capture,t:none,t:lowercase,setvar:'tx.hn_%{tx.0}=/%{tx.0}/',chain\"",
    '  SecRule TX:/^hn_/ "@within %{tx.restricted}" "setvar:tx.hits=+1"',
    'SecRule TX:hits "@ge 1" "id:3,phase:1,pass,log,msg:\'%{tx.hits} restricted\'"',
  ].join('\n');
  const waf = Waf.fromText(`SecRuleEngine On\n${rules}\n`);
  const long = `x-${'l'.repeat(80)}`;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 100; i++) {
      const r = await runRequest(waf, { uri: '/', headers: [['Host', 'a'], [`X-H${i}`, '1'], ...(i % 10 === 0 ? ([['X-Evil', '1']] as [string, string][]) : []), [long, '2']] });
      assert.deepEqual(r.logged, i % 10 === 0 ? [3] : [], `round ${round}, request ${i}`);
      assert.equal(r.tx.tx.get(`hn_x-h${i}`)?.value, `/x-h${i}/`);
      assert.equal(r.tx.tx.get(`hn_${long}`)?.value, `/${long}/`);
      assert.equal(r.tx.tx.get('hn_host')?.value, '/host/');
    }
  }
  // Directly: the expansions equal the text made afresh; at most 64 are kept; a value over 64 chars is not.
  const tpl = compileMacro('hn_%{tx.0}_/');
  let current = '';
  const tx = { firstValue: () => current } as unknown as Transaction;
  for (let i = 0; i < 300; i++) {
    current = i % 7 === 0 ? `v${'w'.repeat(70)}${i}` : `v${i % 90}`;
    assert.equal(expandMacro(tpl, tx), `hn_${current}_/`);
    assert.ok((tpl.expansions?.size ?? 0) <= 64);
    if (current.length > 64) assert.notEqual(tpl.expansions?.has(current), true);
  }
});

test('TX variables whose names have bytes beyond ASCII are selected like any other', async () => {
  const rules = [
    // "\xe0" (à) and "k" are read by name: slots named so. The variables written are "\xc0"
    // (À, which lower-cases to à) and U+212A (the Kelvin sign, which lower-cases to "k").
    'SecRule TX:\xe0 "@eq 99" "id:1,phase:1,pass,nolog"',
    'SecRule TX:k "@eq 99" "id:2,phase:1,pass,nolog"',
    'SecAction "id:3,phase:1,pass,nolog,setvar:tx.\xc0=1,setvar:tx.\u212A=1,setvar:tx.x=1"',
    ...['/^\\xc0/', '/^[^ksx]/', '/^k/'].map((sel, i) => `SecRule TX:${sel} "@rx ^" "id:${10 + i},phase:1,pass,nolog,setvar:'tx.seen_${i}=%{tx.seen_${i}} %{MATCHED_VAR_NAME}'"`),
  ].join('\n');
  const waf = Waf.fromText(`SecRuleEngine On\n${rules}\n`);
  const r = await runRequest(waf, { uri: '/', headers: [['Host', 'example.com']] });
  ['(?is)^\\xc0', '(?is)^[^ksx]', '(?is)^k'].forEach((source, i) => {
    const re = compileRegex(source);
    const expected = ['\xc0', '\u212A', 'x'].filter((name) => re.test(name)).map((name) => ` TX:${name}`).join('');
    assert.equal(r.tx.tx.get(`seen_${i}`)?.value ?? '', expected, source);
  });
  // /^[^ksx]/ does not select "k", the Kelvin sign's slot, but selects the variable itself.
  assert.equal(r.tx.tx.get('seen_1')?.value, ' TX:\xc0 TX:\u212A');
});
