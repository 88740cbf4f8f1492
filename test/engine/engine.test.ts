/**
 * Semantics of the engine: actions, macros, selectors and exclusions, chains, flow,
 * ctl at run time, disruptive actions and persistent collections, each checked through
 * what a user would see (the verdict, the variables, the log records).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Waf } from '../../src/engine/index.js';
import { createMemoryStore } from '../../src/store/index.js';
import { runRequest } from '../support/request.js';

const waf = (text: string, store = createMemoryStore()): Waf => Waf.fromText(`SecRuleEngine On\n${text}`, { store });
const tx = async (rules: string, req: Parameters<typeof runRequest>[1] = {}) => runRequest(waf(rules), req);

test('setvar: assign, =+ and =- (never below zero), remove, and the default value 1', async () => {
  const { tx: t } = await tx(`
    SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=5,setvar:tx.b=+3,setvar:tx.a=+2,setvar:tx.c=-9,setvar:tx.d,setvar:tx.e=x,setvar:!tx.e"
    SecAction "id:2,phase:1,pass,nolog,setvar:tx.b=-1,setvar:'tx.msg=a b c'"`);
  assert.equal(t.tx.get('a')?.value, '7');
  assert.equal(t.tx.get('b')?.value, '2');
  assert.equal(t.tx.get('c')?.value, '0');
  assert.equal(t.tx.get('d')?.value, '1');
  assert.equal(t.tx.get('e'), undefined);
  assert.equal(t.tx.get('MSG')?.value, 'a b c');
});

test('setvar: "=+" is decided on the value as written, macros expanded after', async () => {
  const { tx: t } = await tx(`
    SecAction "id:1,phase:1,pass,nolog,setvar:tx.critical=5,setvar:tx.score=+%{tx.critical},setvar:tx.score=+%{tx.critical}"
    SecAction "id:2,phase:1,pass,nolog,setvar:tx.name_%{tx.critical}=%{tx.score}"`);
  assert.equal(t.tx.get('score')?.value, '10');
  assert.equal(t.tx.get('name_5')?.value, '10');
});

test('macros: MATCHED_VAR(_NAME), headers, captures, rule metadata, unknown keys, literal %', async () => {
  const r = await tx(
    `SecRule ARGS:q "@rx ^(ab)(c)" "id:10,phase:1,pass,capture,msg:'q is %{MATCHED_VAR}',logdata:'%{MATCHED_VAR_NAME} %{tx.0}/%{tx.1}/%{tx.2} host=%{request_headers.host} id=%{rule.id} none=[%{tx.nope}] 100%'"`,
    { uri: '/?q=abcd' },
  );
  const m = r.tx.matches[0];
  assert.ok(m !== undefined);
  assert.equal(m.msg, 'q is abcd');
  assert.equal(m.data, 'ARGS:q abc/ab/c host=example.com id=10 none=[] 100%');
});

test('a capture clears TX:0-9 first, those a setvar wrote too; setvar:tx.NAME_%{…} and !tx.N', async () => {
  const r = await tx(
    `SecAction "id:1,phase:1,pass,nolog,setvar:tx.1=stale,setvar:tx.7=stale,setvar:tx.8=kept,setvar:!tx.8"
     SecRule ARGS:q "@rx ^ab" "id:2,phase:1,pass,capture,setvar:'tx.Seen_%{tx.0}=/%{tx.0}/',logdata:'%{tx.0}|%{tx.1}|%{tx.7}|%{tx.8}'"
     SecRule ARGS:q "@rx ^(a)(b)" "id:3,phase:1,pass,capture,logdata:'%{tx.0}|%{tx.1}|%{tx.2}'"
     SecRule ARGS:q "@rx ^abc" "id:4,phase:1,pass,capture,logdata:'%{tx.0}|%{tx.1}|%{tx.2}'"`,
    { uri: '/?q=abcd' },
  );
  assert.deepEqual(r.tx.matches.map((m) => m.data), ['ab|||', 'ab|a|b', 'abc||']);
  assert.equal(r.tx.tx.get('seen_ab')?.value, '/ab/');
  assert.equal(r.tx.tx.get('seen_ab')?.key, 'Seen_ab');
});

test('selectors: names are case-insensitive, /regex/ selects names, & counts', async () => {
  const r = await tx(
    `SecRule ARGS:FOO "@streq 1" "id:1,phase:1,pass,nolog"
     SecRule ARGS:/^ba/ "@streq 2" "id:2,phase:1,pass,nolog"
     SecRule &ARGS "@eq 3" "id:3,phase:1,pass,nolog"
     SecRule &ARGS:missing "@eq 0" "id:4,phase:1,pass,nolog"
     SecRule REQUEST_HEADERS:user-agent "@beginsWith curl" "id:5,phase:1,pass,nolog"
     SecRule HTTP_User-Agent "@beginsWith curl" "id:6,phase:1,pass,nolog"
     SecAction "id:7,phase:1,pass,nolog,setvar:tx.alpha=1,setvar:tx.alps=2,setvar:tx.beta=3"
     SecRule &TX:/^alp/ "@eq 2" "id:8,phase:1,pass,nolog"
     SecRule REQUEST_HEADERS_NAMES "@rx ^User-Agent$" "id:9,phase:1,pass,nolog"`,
    { uri: '/?foo=1&bar=2&baz=3', headers: [['Host', 'a'], ['User-Agent', 'curl/8.0']] },
  );
  assert.deepEqual(r.matched, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('exclusions remove values from a target list, by name or by regex', async () => {
  const rules = `SecRule ARGS|!ARGS:password|!ARGS:/^tok/ "@rx secret" "id:1,phase:1,deny,status:403"`;
  assert.equal((await tx(rules, { uri: '/?password=secret&token_a=secret' })).interruption, null);
  assert.equal((await tx(rules, { uri: '/?user=secret' })).interruption?.status, 403);
});

test('SecRuleUpdateTargetById adds exclusions and targets to rules defined before it', async () => {
  const rules = `
    SecRule ARGS "@rx attack" "id:100,phase:2,deny"
    SecRuleUpdateTargetById 100 "!ARGS:comment"
    SecRule REQUEST_URI "@rx never" "id:101,phase:2,deny"
    SecRuleUpdateTargetById 101 REQUEST_HEADERS:X-Test`;
  assert.equal((await tx(rules, { uri: '/?comment=attack' })).interruption, null);
  assert.equal((await tx(rules, { uri: '/?other=attack' })).interruption?.ruleId, 100);
  assert.equal((await tx(rules, { headers: [['X-Test', 'never']] })).interruption?.ruleId, 101);
});

test('SecRuleRemoveById/ByTag and SecRuleUpdateActionById change rules defined before them', async () => {
  const rules = `
    SecRule ARGS "@rx a" "id:1,phase:1,deny"
    SecRule ARGS "@rx a" "id:2,phase:1,deny,tag:'attack-x'"
    SecRule ARGS "@rx a" "id:3,phase:1,deny,status:403"
    SecRuleRemoveById 1
    SecRuleRemoveByTag attack-x
    SecRuleUpdateActionById 3 "pass,msg:'now passes'"
    SecRule ARGS "@rx a" "id:4,phase:1,deny,status:418"`;
  const r = await tx(rules, { uri: '/?x=a' });
  assert.equal(r.interruption?.ruleId, 4);
  assert.equal(r.interruption?.status, 418);
  assert.deepEqual(r.logged, [3, 4]);
  assert.equal(r.tx.matches[0]?.msg, 'now passes');
});

test('chains: every rule must match; actions of a matching rule run even if the chain fails later (v2)', async () => {
  const rules = `
    SecRule ARGS:a "@streq 1" "id:1,phase:1,deny,setvar:tx.first=1,chain"
      SecRule ARGS:b "@streq 2" "setvar:tx.second=1,chain"
      SecRule MATCHED_VARS_NAMES "@streq ARGS:b" "setvar:tx.third=1"`;
  const partial = await tx(rules, { uri: '/?a=1&b=3' });
  assert.equal(partial.interruption, null);
  assert.equal(partial.tx.tx.get('first')?.value, '1');
  assert.equal(partial.tx.tx.get('second'), undefined);
  const full = await tx(rules, { uri: '/?a=1&b=2' });
  assert.equal(full.interruption?.ruleId, 1);
  assert.equal(full.tx.tx.get('third')?.value, '1');
});

test('skipAfter jumps past a marker; skip jumps over whole chains', async () => {
  const rules = `
    SecAction "id:1,phase:1,pass,nolog,skipAfter:END"
    SecAction "id:2,phase:1,pass,nolog"
    SecMarker END
    SecAction "id:3,phase:1,pass,nolog,skip:1"
    SecRule ARGS "@unconditionalMatch" "id:4,phase:1,pass,nolog,chain"
      SecAction "setvar:tx.x=1"
    SecAction "id:5,phase:1,pass,nolog"
    SecRule REQUEST_URI "@rx ^/nomatch" "id:6,phase:1,pass,nolog,skipAfter:END2"
    SecAction "id:7,phase:1,pass,nolog"
    SecMarker END2`;
  assert.deepEqual((await tx(rules, { uri: '/?q=1' })).matched, [1, 3, 5, 7]);
});

test('skipAfter lands after a rule with that id, and only searches forward: a marker before it, or none, skips the rest of the phase', async () => {
  const rules = `
    SecMarker BACK
    SecAction "id:1,phase:1,pass,nolog,skipAfter:3"
    SecAction "id:2,phase:1,pass,nolog"
    SecAction "id:3,phase:1,pass,nolog"
    SecAction "id:4,phase:1,pass,nolog,skipAfter:BACK"
    SecAction "id:5,phase:1,pass,nolog"
    SecAction "id:6,phase:2,pass,nolog,skipAfter:NOWHERE"
    SecAction "id:7,phase:2,pass,nolog"`;
  assert.deepEqual((await tx(rules, { uri: '/' })).matched, [1, 4, 6]);
});

test('ctl at run time: ruleRemoveById, ruleRemoveByTag, ruleRemoveTargetById, ruleEngine', async () => {
  const rules = `
    SecRule REQUEST_FILENAME "@beginsWith /admin" "id:1,phase:1,pass,nolog,ctl:ruleRemoveById=10-11,ctl:ruleRemoveTargetById=12;ARGS:html,ctl:ruleRemoveByTag=^noisy$"
    SecRule ARGS "@rx x" "id:10,phase:2,deny"
    SecRule ARGS "@rx x" "id:11,phase:2,deny"
    SecRule ARGS "@rx x" "id:12,phase:2,deny,status:401"
    SecRule ARGS "@rx y" "id:13,phase:2,deny,tag:noisy"
    SecRule ARGS:off "@streq 1" "id:14,phase:2,pass,nolog,ctl:ruleEngine=Off"
    SecRule ARGS "@rx z" "id:15,phase:2,deny"`;
  assert.equal((await tx(rules, { uri: '/admin?html=x&v=y' })).interruption, null);
  assert.equal((await tx(rules, { uri: '/admin?other=x' })).interruption?.status, 401);
  assert.equal((await tx(rules, { uri: '/page?html=x' })).interruption?.ruleId, 10);
  assert.equal((await tx(rules, { uri: '/page?off=1&q=z' })).interruption, null);
});

test('block takes the phase\'s SecDefaultAction; DetectionOnly logs without stopping', async () => {
  const rules = `
    SecDefaultAction "phase:1,log,auditlog,deny,status:406"
    SecDefaultAction "phase:2,log,auditlog,pass"
    SecRule ARGS "@rx one" "id:1,phase:1,block"
    SecRule ARGS "@rx two" "id:2,phase:2,block"`;
  assert.equal((await tx(rules, { uri: '/?a=one' })).interruption?.status, 406);
  const two = await tx(rules, { uri: '/?a=two' });
  assert.equal(two.interruption, null);
  assert.deepEqual(two.logged, [2]);
  const detection = await runRequest(Waf.fromText(`SecRuleEngine DetectionOnly\n${rules}`), { uri: '/?a=one' });
  assert.equal(detection.interruption, null);
  assert.equal(detection.tx.matches[0]?.action, 'pass');
  assert.equal(detection.tx.matches[0]?.intercepted, false);
});

test('phase 5 runs after a request was stopped, as in v2 (logging-phase rules see blocked requests)', async () => {
  const rules = `
    SecRule ARGS "@rx bad" "id:1,phase:1,deny,log"
    SecRule ARGS "@rx ." "id:2,phase:2,log,pass"
    SecAction "id:5,phase:5,log,pass"
    SecAction "id:7,phase:5,log,pass"`;
  const r = await tx(rules, { uri: '/?q=bad' });
  assert.equal(r.interruption?.ruleId, 1);
  assert.deepEqual(r.logged, [1, 5, 7], 'phase 2 is skipped, phase 5 runs whole');
  assert.equal(r.tx.interruption?.ruleId, 1, 'the verdict stays the one that stopped the request');
});

test('rules over one TX variable: its value, its count, a missing one, a target removed at run time', async () => {
  const rules = `
    SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=2"
    SecRule TX:LEVEL "@lt 3" "id:2,phase:1,pass,log,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
    SecRule &TX:level "@eq 1" "id:3,phase:1,pass,log,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
    SecRule &TX:missing "@eq 0" "id:4,phase:1,pass,log"
    SecRule TX:missing "@lt 3" "id:5,phase:1,pass,log"
    SecRule !TX:missing "@lt 3" "id:6,phase:1,pass,log"
    SecRule REQUEST_URI "@streq /off" "id:7,phase:1,pass,nolog,ctl:ruleRemoveTargetById=8;TX:level"
    SecRule TX:level "@eq 2" "id:8,phase:1,pass,log"
    SecRule REQUEST_URI "@beginsWith /" "id:9,phase:1,pass,nolog,ctl:ruleRemoveTargetById=99;TX:level"
    SecRule TX:level "@eq 2" "id:10,phase:1,pass,log"`;
  const r = await tx(rules);
  // A removal naming another rule leaves 10 its TX variable.
  assert.deepEqual(r.logged, [2, 3, 4, 8, 10]);
  assert.deepEqual(r.tx.matches.slice(0, 2).map((m) => m.data), ['TX:level=2', '&TX:level=1']);
  assert.deepEqual((await tx(rules, { uri: '/off' })).logged, [2, 3, 4, 10]);
});

test('a quiet rule over one TX variable (a paranoia-level gate) skips, negates and sets MATCHED_VAR like any rule', async () => {
  const rules = `
    SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=1,setvar:tx.other=7"
    SecRule TX:level "@lt 2" "id:2,phase:1,pass,nolog,skipAfter:END-A"
    SecAction "id:3,phase:1,pass,log"
    SecMarker END-A
    SecRule REQUEST_URI "@rx ^(/\\w*)" "id:4,phase:1,pass,log,logdata:'before %{MATCHED_VAR}'"
    SecRule TX:other "!@eq 7" "id:5,phase:1,pass,nolog,skipAfter:END-B"
    SecRule TX:other "@gt 5" "id:6,phase:1,pass,nolog"
    SecAction "id:7,phase:1,pass,log,logdata:'after %{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
    SecRule TX:missing "@lt 5" "id:8,phase:1,pass,nolog,skipAfter:END-B"
    SecAction "id:9,phase:1,pass,log"
    SecMarker END-B
    SecRule &TX:level "@eq 1" "id:10,phase:1,pass,nolog"`;
  const w = waf(rules);
  assert.deepEqual(
    [2, 5, 6, 8, 10].map((id) => w.rules.find((r) => r.id === id)?.quiet),
    [true, true, true, true, false],
  );
  for (const uri of ['/a', '/b']) {
    const r = await runRequest(w, { uri });
    assert.deepEqual(r.logged, [4, 7, 9], uri);
    assert.deepEqual(r.matched, [1, 2, 4, 6, 7, 9, 10], uri);
    assert.deepEqual(r.tx.matches.map((m) => m.data), [`before ${uri}`, 'after TX:other=7', '']);
  }
  // A trace evaluates every rule the full way: the same rules match, in the same order.
  const traced = w.newTransaction({ trace: () => {} });
  traced.processConnection('192.0.2.10', 40000, '127.0.0.1', 80);
  traced.processRequestLine('GET', '/a', 'HTTP/1.1');
  await traced.processRequestHeaders();
  assert.deepEqual(
    traced.matchedRules.map((r) => r.id),
    [1, 2, 4, 6, 7, 9, 10],
  );
});

test('phase 5 after a stopped request: rules match on their own values, chains run to their end', async () => {
  const rules = `
    SecRule ARGS "@rx bad" "id:1,phase:1,deny,log"
    SecRule REQUEST_METHOD "@streq NOPE" "id:2,phase:5,pass,log,skipAfter:END"
    SecRule ARGS "@rx bad" "id:3,phase:5,pass,log,msg:'chain',chain"
      SecRule REQUEST_METHOD "@streq GET" "setvar:tx.chained=1"
    SecRule ARGS "@rx bad" "id:4,phase:5,pass,log,chain"
      SecRule REQUEST_METHOD "@streq NOPE"
    SecAction "id:5,phase:5,log,pass"
    SecMarker END`;
  const r = await tx(rules, { uri: '/?q=bad' });
  assert.equal(r.interruption?.ruleId, 1);
  // Rule 2 does not match (so no skip), 3's chain matches whole, 4's second link does not.
  assert.deepEqual(r.matched, [1, 3, 5]);
  assert.deepEqual(r.logged, [1, 3, 5]);
  assert.equal(r.tx.tx.get('chained')?.value, '1');
});

test('allow skips the remaining request rules; allow:phase only the current phase', async () => {
  const rules = `
    SecRule REMOTE_ADDR "@ipMatch 192.0.2.0/24" "id:1,phase:1,allow:%{tx.scope},nolog"
    SecRule ARGS "@rx bad" "id:2,phase:1,deny"
    SecRule ARGS "@rx bad" "id:3,phase:2,deny"`.replace('allow:%{tx.scope}', 'allow');
  assert.equal((await tx(rules, { uri: '/?q=bad' })).interruption, null);
  assert.equal((await tx(rules, { uri: '/?q=bad', remoteAddr: '198.51.100.1' })).interruption?.ruleId, 2);
  const phaseOnly = rules.replace('allow,', 'allow:phase,');
  assert.equal((await tx(phaseOnly, { uri: '/?q=bad' })).interruption?.ruleId, 3);
});

test('redirect answers 302 with the expanded Location; deny defaults to 403; drop', async () => {
  const r = await tx(`SecRule ARGS:to "@rx ." "id:1,phase:1,redirect:'https://example.com/blocked?id=%{rule.id}'"`, { uri: '/?to=x' });
  assert.deepEqual([r.interruption?.action, r.interruption?.status, r.interruption?.url], ['redirect', 302, 'https://example.com/blocked?id=1']);
  assert.equal((await tx(`SecRule ARGS "@rx ." "id:1,phase:1,deny"`, { uri: '/?a=1' })).interruption?.status, 403);
  assert.equal((await tx(`SecRule ARGS "@rx ." "id:1,phase:1,drop"`, { uri: '/?a=1' })).interruption?.action, 'drop');
});

test('multiMatch runs the operator on the value before and after each changing transformation', async () => {
  const rules = (mm: string) => `SecRule ARGS:q "@streq %41" "id:1,phase:1,deny,t:urlDecode,t:lowercase${mm}"`;
  assert.equal((await tx(rules(''), { uri: '/?q=%2541' })).interruption, null);
  assert.equal((await tx(rules(',multiMatch'), { uri: '/?q=%2541' })).interruption?.ruleId, 1);
});

test('transformations run in order; t:none clears those inherited from SecDefaultAction', async () => {
  const rules = (tfn: string) => `
    SecDefaultAction "phase:1,pass,log,t:lowercase"
    SecRule ARGS:q "@streq ABC" "id:1,phase:1,deny${tfn}"`;
  assert.equal((await tx(rules(''), { uri: '/?q=ABC' })).interruption, null);
  assert.equal((await tx(rules(',t:none'), { uri: '/?q=ABC' })).interruption?.ruleId, 1);
});

test('operator parameters with macros are expanded per transaction', async () => {
  const rules = `
    SecAction "id:1,phase:1,pass,nolog,setvar:'tx.allowed=GET HEAD'"
    SecRule REQUEST_METHOD "!@within %{tx.allowed}" "id:2,phase:1,deny,status:405"`;
  assert.equal((await tx(rules, { method: 'GET' })).interruption, null);
  assert.equal((await tx(rules, { method: 'DELETE' })).interruption?.status, 405);
});

test('persistent collections: initcol, counters across transactions, expirevar', async () => {
  const store = createMemoryStore();
  const w = waf(
    `SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
     SecAction "id:2,phase:1,pass,nolog,setvar:ip.hits=+1,setvar:ip.flag=1,expirevar:ip.flag=0"
     SecRule IP:hits "@gt 2" "id:3,phase:1,deny,status:429"`,
    store,
  );
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await runRequest(w, {})).interruption?.status ?? 200);
  assert.deepEqual(statuses, [200, 200, 429, 429]);
  const other = await runRequest(w, { remoteAddr: '203.0.113.9' });
  assert.equal(other.interruption, null);
  assert.equal(other.tx.collections.get('ip')?.get('hits')?.value, '1');
  // expirevar:ip.flag=0 lets the variable expire at once: stored, it is gone; the counter stays.
  assert.equal(other.tx.collections.get('ip')?.get('flag')?.value, '1');
  await new Promise((r) => setTimeout(r, 5));
  const stored = store.loadCollection('ip', '203.0.113.9');
  assert.ok(stored !== null && !(stored instanceof Promise));
  assert.equal(stored.get('flag'), undefined);
  assert.equal(stored.get('hits')?.value, '1');
  const again = await runRequest(w, { remoteAddr: '203.0.113.9' });
  assert.equal(again.tx.collections.get('ip')?.get('IS_NEW')?.value, '0');
  assert.equal(again.tx.collections.get('ip')?.get('hits')?.value, '2');
});

test('HIGHEST_SEVERITY and per-match logging of a rule matching several values', async () => {
  const r = await tx(
    `SecRule ARGS "@rx x" "id:1,phase:1,pass,log,severity:WARNING"
     SecRule ARGS "@rx y" "id:2,phase:1,pass,log,severity:CRITICAL"`,
    { uri: '/?a=x&b=x&c=y' },
  );
  assert.deepEqual(r.logged, [1, 1, 2]);
  assert.equal(r.tx.highestSeverity, 2);
  assert.deepEqual(r.tx.matches.map((m) => m.variable), ['ARGS:a', 'ARGS:b', 'ARGS:c']);
});

test('metadata reaches the match record: msg, logdata, tags with macros, severity, ver, rev, accuracy, maturity', async () => {
  const r = await tx(
    `SecRule ARGS:a "@rx x" "id:1,phase:1,pass,log,msg:'m %{MATCHED_VAR_NAME}',tag:'app/%{tx.app}',tag:plain,severity:ERROR,ver:'v1',rev:'3',accuracy:7,maturity:8"`,
    { uri: '/?a=x' },
  );
  const m = r.tx.matches[0];
  assert.ok(m !== undefined);
  assert.deepEqual([m.msg, m.tags, m.severity, m.ver, m.rev, m.accuracy, m.maturity], ['m ARGS:a', ['app/', 'plain'], 3, 'v1', '3', 7, 8]);
});

test('log/nolog/auditlog/noauditlog decide what is recorded', async () => {
  const r = await tx(
    `SecRule ARGS "@rx x" "id:1,phase:1,pass,nolog"
     SecRule ARGS "@rx x" "id:2,phase:1,pass,nolog,auditlog"
     SecRule ARGS "@rx x" "id:3,phase:1,pass,log,noauditlog"
     SecRule ARGS "@rx x" "id:4,phase:1,pass"`,
    { uri: '/?a=x' },
  );
  assert.deepEqual(r.tx.matches.map((m) => [m.ruleId, m.log, m.auditlog]), [[2, false, true], [3, true, false], [4, true, true]]);
  assert.deepEqual(r.matched, [1, 2, 3, 4]);
});

test('status, pause and setenv', async () => {
  const r = await tx(`SecRule ARGS "@rx x" "id:1,phase:1,deny,status:451,pause:250,setenv:blocked_by=%{rule.id}"`, { uri: '/?a=x' });
  assert.equal(r.interruption?.status, 451);
  assert.equal(r.tx.pause, 250);
  assert.equal(r.tx.env.get('blocked_by')?.value, '1');
});

test('setsid, setuid and setrsc open SESSION, USER and RESOURCE (per SecWebAppId)', async () => {
  const store = createMemoryStore();
  const w = waf(
    `SecWebAppId blog
     SecRule REQUEST_COOKIES:sid "@rx ." "id:1,phase:1,pass,nolog,setsid:%{REQUEST_COOKIES.sid},setvar:session.views=+1"
     SecAction "id:2,phase:1,pass,nolog,setuid:admin,setrsc:%{REQUEST_FILENAME},setvar:user.seen=1,setvar:resource.hits=+1"
     SecRule SESSIONID "@streq abc" "id:3,phase:1,pass,nolog"`,
    store,
  );
  const req = { headers: [['Host', 'a'], ['Cookie', 'sid=abc']] as Array<[string, string]>, uri: '/wp-admin/' };
  await runRequest(w, req);
  const r = await runRequest(w, req);
  assert.equal(r.tx.collections.get('session')?.get('views')?.value, '2');
  assert.equal(r.tx.collections.get('resource')?.get('hits')?.value, '2');
  assert.ok(r.matched.includes(3));
  const stored = store.loadCollection('blog_user', 'admin');
  assert.ok(stored !== null && !(stored instanceof Promise) && stored.get('seen')?.value === '1');
});

test('deprecatevar lowers a counter for the time since the last update', async () => {
  const store = createMemoryStore(() => now);
  let now = Date.now();
  const w = waf(
    `SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
     SecRule ARGS:add "@rx ." "id:2,phase:1,pass,nolog,setvar:ip.score=+%{ARGS.add}"
     SecAction "id:3,phase:1,pass,nolog,deprecatevar:ip.score=10/60"`,
    store,
  );
  await runRequest(w, { uri: '/?add=50' });
  // The transaction clock is its start time; store and transactions move together here.
  const saved = Date.now;
  now += 125_000;
  Date.now = () => now;
  try {
    const r = await runRequest(w, {});
    assert.equal(r.tx.collections.get('ip')?.get('score')?.value, '30');
  } finally {
    Date.now = saved;
  }
});

test('xmlns gives XPath selectors their namespace prefixes', async () => {
  const w = waf(
    `SecRule REQUEST_HEADERS:Content-Type "@contains xml" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=XML"
     SecRule XML:/soap:Envelope/soap:Body/*/text() "@streq hi" "id:2,phase:2,deny,status:403,xmlns:soap=http://schemas.xmlsoap.org/soap/envelope/"`,
  );
  const body = '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><m>hi</m></soap:Body></soap:Envelope>';
  const r = await runRequest(w, { method: 'POST', uri: '/ws', headers: [['Content-Type', 'text/xml']], body });
  assert.equal(r.interruption?.ruleId, 2);
});

test('the same XPath text with other namespace prefixes selects other nodes, rule by rule', async () => {
  const w = waf(
    `SecRule REQUEST_HEADERS:Content-Type "@contains xml" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=XML"
     SecRule XML:/p:a/text() "@rx ." "id:2,phase:2,pass,log,xmlns:p=urn:one"
     SecRule XML:/p:a/text() "@rx ." "id:3,phase:2,pass,log,xmlns:p=urn:two"`,
  );
  const one = await runRequest(w, { method: 'POST', uri: '/ws', headers: [['Content-Type', 'text/xml']], body: '<a xmlns="urn:one">first</a>' });
  assert.deepEqual(one.matched, [1, 2]);
  const two = await runRequest(w, { method: 'POST', uri: '/ws', headers: [['Content-Type', 'text/xml']], body: '<a xmlns="urn:two">second</a>' });
  assert.deepEqual(two.matched, [1, 3]);
});

test('sanitise actions are recorded on the rule for the audit log', () => {
  const w = waf(`SecRule ARGS:password "@rx ." "id:1,phase:2,pass,sanitiseArg:password,sanitiseRequestHeader:Authorization,sanitiseMatched"`);
  const rule = w.rules[0];
  assert.deepEqual(rule?.sanitise, { args: ['password'], requestHeaders: ['authorization'], responseHeaders: [], matched: true, matchedBytes: null });
});

test('REQUEST_FILENAME and REQUEST_BASENAME are the percent-decoded path; REQUEST_URI(_RAW) and QUERY_STRING stay as sent', async () => {
  const waf = Waf.fromText(`
SecRule REQUEST_FILENAME "@streq /get/array_diff (+%zz" "id:1,phase:1,pass,log"
SecRule REQUEST_BASENAME "@streq array_diff (+%zz" "id:2,phase:1,pass,log"
SecRule REQUEST_URI "@streq /get/array_diff%20%28+%zz?a=%20" "id:3,phase:1,pass,log"
SecRule REQUEST_URI_RAW "@streq /get/array_diff%20%28+%zz?a=%20" "id:4,phase:1,pass,log"
SecRule QUERY_STRING "@streq a=%20" "id:5,phase:1,pass,log"`);
  const r = await runRequest(waf, { uri: '/get/array_diff%20%28+%zz?a=%20' });
  assert.deepEqual(r.logged, [1, 2, 3, 4, 5]);
});

test('log messages show an operator parameter after macro expansion, as ModSecurity does', async () => {
  const r = await tx(
    `SecAction "id:1,phase:1,pass,nolog,setvar:tx.threshold=5,setvar:tx.score=7"
     SecRule TX:score "@ge %{tx.threshold}" "id:2,phase:1,pass,log"`,
  );
  assert.equal(r.tx.matches[0]?.message, 'Operator GE matched 5 at TX:score.');
});
