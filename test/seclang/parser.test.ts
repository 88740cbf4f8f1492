import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { lexSecLang } from '../../src/seclang/lexer.js';
import { parseSecLangFiles, parseSecLangText, formatLocation, type RuleDirective } from '../../src/seclang/index.js';

function only<T>(xs: readonly T[]): T {
  assert.equal(xs.length, 1, `expected one item, got ${xs.length}`);
  return xs[0] as T;
}

test('continuation lines join with the backslash removed and indentation kept', () => {
  const { directives, errors } = lexSecLang('a.conf', 'SecRule ARGS "@rx a" \\\n    "id:1,\\\n    deny"\n');
  assert.deepEqual(errors, []);
  const d = only(directives);
  assert.deepEqual(d.args, ['ARGS', '@rx a', 'id:1,    deny']);
  assert.deepEqual(d.location, { file: 'a.conf', line: 1, column: 1 });
  // The "d" of deny sits on line 3, column 5.
  assert.deepEqual(d.locate(2, 9), { file: 'a.conf', line: 3, column: 5 });
});

test('quotes: a backslash escapes only the quote character and itself', () => {
  const { directives } = lexSecLang('a.conf', String.raw`SecRule ARGS "@rx a\"b\\c\d" 'x\'y'` + '\n');
  assert.deepEqual(only(directives).args, ['ARGS', '@rx a"b\\c\\d', "x'y"]);
});

test('bare words: a double backslash is one backslash', () => {
  const { directives } = lexSecLang('a.conf', 'SecMarker a\\\\b\n');
  assert.deepEqual(only(directives).args, ['a\\b']);
});

test('comments, blank lines and CRLF line endings', () => {
  const { directives } = lexSecLang('a.conf', '# comment\r\n\r\n   # indented comment\r\nSecRuleEngine On\r\n');
  assert.deepEqual(only(directives).args, ['On']);
  assert.equal(only(directives).location.line, 4);
});

test('a comment ending in a backslash swallows the next line, with a warning when it is not a comment', () => {
  const { directives, warnings } = lexSecLang('a.conf', '# off \\\nSecRuleEngine On\nSecMarker X\n');
  assert.deepEqual(directives.map((d) => d.name), ['SecMarker']);
  assert.equal(only(warnings).location.line, 2);
});

test('backslash followed by spaces at the end of a line is not a continuation, and is reported', () => {
  const { warnings } = lexSecLang('a.conf', 'SecMarker X \\  \nSecMarker Y\n');
  assert.match(only(warnings).message, /not a line continuation/);
});

test('rule syntax: targets, operator and actions with positions', () => {
  const r = parseSecLangText('SecRule ARGS|!ARGS:foo|&TX:/^x/|REQUEST_HEADERS:\'/a|b/\' "!@rx \\d+" "id:5,msg:\'it\\\'s\',t:none"', 'r.conf');
  assert.deepEqual(r.errors, []);
  const d = only(r.directives) as RuleDirective;
  assert.deepEqual(
    d.targets.map((t) => [t.negated, t.counting, t.name, t.selector]),
    [
      [false, false, 'ARGS', null],
      [true, false, 'ARGS', 'foo'],
      [false, true, 'TX', '/^x/'],
      [false, false, 'REQUEST_HEADERS', '/a|b/'],
    ],
  );
  assert.deepEqual([d.operator?.negated, d.operator?.name, d.operator?.param], [true, 'rx', '\\d+']);
  assert.deepEqual(d.actions.map((a) => [a.name, a.value]), [['id', '5'], ['msg', "it's"], ['t', 'none']]);
  assert.equal(formatLocation(d.targets[1]?.location as never), 'r.conf:1:14');
});

test('an operator without @ is a regular expression', () => {
  const d = only(parseSecLangText('SecRule ARGS "^a" "id:1"').directives) as RuleDirective;
  assert.deepEqual([d.operator?.name, d.operator?.param], ['rx', '^a']);
});

test('Include follows globs relative to the including file, in sorted order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-inc-'));
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'main.conf'), 'Include rules/*.conf\nIncludeOptional missing/*.conf\nSecMarker END\n');
  writeFileSync(join(dir, 'rules', 'b.conf'), 'SecMarker B\n');
  writeFileSync(join(dir, 'rules', 'a.conf'), 'SecMarker A\nInclude ../shared.data.conf\n');
  writeFileSync(join(dir, 'shared.data.conf'), 'SecMarker SHARED\n');
  const r = parseSecLangFiles([join(dir, 'main.conf')]);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.directives.map((d) => (d.kind === 'marker' ? d.name : d.kind)), ['A', 'SHARED', 'B', 'END']);
  assert.equal(r.files.length, 4);
});

test('an include cycle is an error at the Include line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-inc-'));
  writeFileSync(join(dir, 'a.conf'), 'Include b.conf\n');
  writeFileSync(join(dir, 'b.conf'), 'SecMarker B\nInclude a.conf\n');
  const r = parseSecLangFiles([join(dir, 'a.conf')]);
  const e = only(r.errors);
  assert.equal(e.location.file, join(dir, 'b.conf'));
  assert.equal(e.location.line, 2);
  assert.match(e.reason, /include cycle/);
});

test('every error of a file is reported, not just the first', () => {
  const r = parseSecLangText('SecFoo x\nSecRuleEngine Maybe\nSecRule ARGS\nSecAction "id:1,phase:2"\nSecRule ARGS "@rx a" "id:2,msg:\'x"\n', 'm.conf');
  assert.deepEqual(
    r.errors.map((e) => e.location.line),
    [1, 2, 3, 5],
  );
});

test('directive names are case-insensitive and settings values checked', () => {
  const r = parseSecLangText('secruleengine detectiononly\nSecRequestBodyLimit -1\n', 's.conf');
  assert.equal(r.directives.length, 1);
  assert.equal(only(r.errors).location.line, 2);
});
