/**
 * Malformed rule files: each must fail loading with the right file:line:column and a
 * reason a user can act on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Waf } from '../../src/engine/index.js';
import { RuleLoadError } from '../../src/seclang/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-bad-rules-'));

interface Case {
  readonly name: string;
  readonly text: string;
  /** line:column of the (first) error. */
  readonly at: string;
  readonly reason: RegExp;
}

const cases: Case[] = [
  { name: 'misspelt directive', text: 'SecRuleEnginee On\n', at: '1:1', reason: /unknown directive "SecRuleEnginee" \(did you mean SecRuleEngine\?\)/ },
  { name: 'unknown variable', text: '\nSecRule ARGZ "@rx a" "id:1,deny"\n', at: '2:9', reason: /unknown variable "ARGZ" \(did you mean ARGS\?\)/ },
  { name: 'unknown operator', text: 'SecRule ARGS "@rxx a" "id:1,deny"\n', at: '1:15', reason: /unknown operator "@rxx" \(did you mean @rx\?\)/ },
  { name: 'unknown action', text: 'SecRule ARGS "@rx a" "id:1,denny"\n', at: '1:28', reason: /unknown action "denny" \(did you mean deny\?\)/ },
  { name: 'invalid regex', text: 'SecRule ARGS "@rx (a" "id:1,deny"\n', at: '1:19', reason: /@rx: .*(paren|\)|group)/i },
  { name: 'missing id', text: 'SecRule ARGS "@rx a" "phase:2,deny"\n', at: '1:1', reason: /needs an "id" action/ },
  { name: 'duplicate id', text: 'SecAction "id:7,pass,nolog"\nSecAction "id:7,pass,nolog"\n', at: '2:1', reason: /duplicate rule id 7: already used at .*:1/ },
  { name: 'unterminated quote', text: 'SecRule ARGS "@rx a" "id:1,deny\n', at: '1:22', reason: /unterminated quoted argument/ },
  { name: 'chain without a next rule', text: 'SecRule ARGS "@rx a" "id:1,deny,chain"\n', at: '1:1', reason: /"chain" but no rule follows/ },
  {
    name: 'disruptive action in a chained rule',
    text: 'SecRule ARGS "@rx a" "id:1,deny,chain"\n    SecRule ARGS "@rx b" "t:none,\\\n        deny"\n',
    at: '3:9',
    reason: /only the first rule of a chain may have a disruptive action/,
  },
  { name: 'bad phase', text: 'SecAction "id:1,phase:7,pass"\n', at: '1:23', reason: /phase must be 1–5/ },
  { name: 'unknown transformation', text: 'SecRule ARGS "@rx a" "id:1,t:lowercas,deny"\n', at: '1:30', reason: /unknown transformation "lowercas"/ },
  { name: 'too many arguments', text: 'SecRule ARGS "@rx a" "id:1" deny\n', at: '1:1', reason: /SecRule takes 2 to 3 arguments, got 4/ },
  { name: 'macro naming an unknown variable', text: 'SecAction "id:1,pass,msg:\'%{FOO.bar}\'"\n', at: '1:27', reason: /unknown variable "FOO" in macro/ },
  { name: 'selector on a single value', text: 'SecRule REQUEST_URI:foo "@rx a" "id:1,deny"\n', at: '1:21', reason: /REQUEST_URI does not take a selector/ },
  { name: 'setvar without a collection', text: 'SecAction "id:1,pass,setvar:score=1"\n', at: '1:29', reason: /setvar needs collection\.name/ },
  { name: 'Include of a missing file', text: 'SecMarker A\nInclude nowhere.conf\n', at: '2:9', reason: /cannot read .*nowhere\.conf: no such file/ },
  { name: 'bad value of a setting', text: 'SecRequestBodyLimitAction Drop\n', at: '1:27', reason: /expected one of Reject, ProcessPartial/ },
];

for (const c of cases) {
  test(`malformed rules: ${c.name}`, () => {
    const file = join(dir, `${c.name.replace(/\W+/g, '-')}.conf`);
    writeFileSync(file, c.text);
    let error: unknown;
    try {
      Waf.fromFiles([file]);
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof RuleLoadError, `expected a RuleLoadError, got ${String(error)}`);
    const first = error.errors[0];
    assert.ok(first !== undefined);
    assert.equal(first.location.file, file);
    assert.equal(`${first.location.line}:${first.location.column}`, c.at, first.message);
    assert.match(first.reason, c.reason);
  });
}

test('all problems of several files are reported together', () => {
  const a = join(dir, 'multi-a.conf');
  const b = join(dir, 'multi-b.conf');
  writeFileSync(a, 'SecRule ARGZ "@rx a" "id:1,deny"\nSecRule ARGS "@rx a" "id:2,denny"\n');
  writeFileSync(b, 'SecFoo bar\n');
  assert.throws(
    () => Waf.fromFiles([a, b]),
    (err: unknown) => err instanceof RuleLoadError && err.errors.map((e) => `${e.location.file === a ? 'a' : 'b'}:${e.location.line}`).join(' ') === 'a:1 a:2 b:1',
  );
});
