/**
 * fail2ban's configuration dialect: configparser's syntax, `%(name)s` interpolation with
 * fail2ban's section and `known/` names, [INCLUDES] with .local files, and the filter
 * reader's [Init], jail options and `<tag>` substitution. Expected values are what
 * fail2ban 1.1's FilterReader produces for the same files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ConfigReader, parseIni } from '../../src/jail/filter/ini.js';
import { readFilterDefinition, shlexSplit, splitFilterSpec } from '../../src/jail/filter/reader.js';
import { FilterError } from '../../src/jail/filter/errors.js';
import { loadFilter } from '../../src/jail/filter/filter.js';
import { sharedSuite } from '../support/shared.js';

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-ini-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function throwsFilterError(fn: () => unknown, code: string, where: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FilterError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, where);
    return true;
  });
}

test('configparser syntax: sections, names lower-cased, = or :, continuation lines, comments', () => {
  const ini = parseIni(
    [
      '# comment',
      '[DEFAULT]',
      'Base: b',
      '',
      '[Definition]',
      'failregex = ^one$',
      '            ^two$',
      '    # a comment line inside the value is dropped',
      '',
      '            ^three$   ; an inline comment after whitespace',
      'plain = a;b # not a comment',
      'empty =',
      'key = a = b',
    ].join('\n'),
    'x.conf',
  );
  const def = ini.sections.get('Definition');
  assert.ok(def !== undefined);
  assert.equal(ini.defaults.get('base')?.text, 'b');
  assert.equal(def.get('failregex')?.text, '^one$\n^two$\n\n^three$');
  assert.equal(def.get('plain')?.text, 'a;b # not a comment');
  assert.equal(def.get('empty')?.text, '');
  assert.equal(def.get('key')?.text, 'a = b');
  // Each line of a value keeps its own line number.
  const lines = def.get('failregex')?.splitLines().map((l) => l.locationAt(0)?.line);
  assert.deepEqual(lines, [6, 7, 9, 10]);
});

test('configparser errors carry file:line', () => {
  throwsFilterError(() => parseIni('[a]\nx = 1\nx = 2\n', 'dup.conf'), 'WARDEN_FILTER_SYNTAX', /^dup\.conf:3: option 'x' in section \[a\] already exists/u);
  throwsFilterError(() => parseIni('x = 1\n', 'nohead.conf'), 'WARDEN_FILTER_SYNTAX', /^nohead\.conf:1: option outside a section/u);
  throwsFilterError(() => parseIni('[a]\nnot an option\n', 'bad.conf'), 'WARDEN_FILTER_SYNTAX', /^bad\.conf:2: not an option/u);
  throwsFilterError(() => parseIni('[a]\n[a]\n', 'twice.conf'), 'WARDEN_FILTER_SYNTAX', /^twice\.conf:2: section \[a\] already exists/u);
});

test('%(name)s interpolation: recursive, %%, section/name, default/name, errors with file:line', () => {
  const dir = dirWith({
    'f.conf': [
      '[DEFAULT]',
      'a = A%(b)s',
      'b = B',
      '[Definition]',
      'x = %(a)s-%%-%(other/y)s-%(default/b)s',
      'loop = %(loop)s',
      'missing = %(nope)s',
      'single = 50%',
      '[other]',
      'y = Y%(b)s',
    ].join('\n'),
  });
  const cfg = new ConfigReader();
  cfg.read([join(dir, 'f.conf')]);
  assert.equal(cfg.get('Definition', 'x')?.text, 'AB-%-YB-B');
  throwsFilterError(() => cfg.get('Definition', 'loop'), 'WARDEN_FILTER_INTERPOLATION', /f\.conf:6: recursion limit/u);
  throwsFilterError(() => cfg.get('Definition', 'missing'), 'WARDEN_FILTER_INTERPOLATION', /f\.conf:7: 'missing' in \[Definition\] refers to %\(nope\)s/u);
  throwsFilterError(() => cfg.get('Definition', 'single'), 'WARDEN_FILTER_INTERPOLATION', /f\.conf:8: '%' must be followed by '%' or '\('/u);
});

test('[INCLUDES]: before, the file, after, each with its .local; known/ is the value before the override', () => {
  const dir = dirWith({
    'common.conf': '[DEFAULT]\nprefix = C\n[Definition]\nfailregex = ^common <HOST>$\n',
    'common.local': '[DEFAULT]\nprefix = CL\n',
    'f.conf': '[INCLUDES]\nbefore = common.conf\nafter = after.conf\n[Definition]\nfailregex = ^f %(prefix)s <HOST>$\n',
    'after.conf': '[Definition]\nextra = after\n',
    'f.local': '[Definition]\nfailregex = %(known/failregex)s\n            ^local <HOST>$\n',
  });
  const cfg = new ConfigReader();
  cfg.read([join(dir, 'f.conf'), join(dir, 'f.local')]);
  assert.deepEqual(
    cfg.files.map((f) => f.slice(dir.length + 1)),
    ['common.conf', 'common.local', 'f.conf', 'after.conf', 'f.local'],
  );
  assert.equal(cfg.get('Definition', 'failregex')?.text, '^f CL <HOST>$\n^local <HOST>$');
  assert.equal(cfg.get('Definition', 'extra')?.text, 'after');
});

test('filter reader: [Init] overrides Definition, the jail overrides [Init], <tag> substitution repeats', () => {
  const dir = dirWith({
    'f.conf': [
      '[Definition]',
      'mode = normal',
      'mre-normal = ^normal <HOST>$',
      'mre-aggressive = ^aggressive <HOST>$',
      '              ^<mre-normal-extra>',
      'mre-normal-extra = extra <HOST>$',
      'failregex = <mre-<mode>>',
      'maxlines = 1',
      'journalmatch = _SYSTEMD_UNIT=x.service + _COMM=x',
      '               "_COMM=a b"',
      '[Init]',
      'maxlines = 3',
    ].join('\n'),
  });
  const normal = readFilterDefinition(dir, 'f');
  assert.deepEqual(
    normal.failregex.map((r) => r.text),
    ['^normal <HOST>$'],
  );
  assert.equal(normal.maxlines, 3);
  assert.deepEqual(normal.journalmatch, [['_SYSTEMD_UNIT=x.service', '+', '_COMM=x'], ['_COMM=a b']]);
  const aggressive = readFilterDefinition(dir, 'f', { mode: 'aggressive', maxlines: '5' });
  assert.deepEqual(
    aggressive.failregex.map((r) => r.text),
    ['^aggressive <HOST>$', '^extra <HOST>$'],
  );
  assert.equal(aggressive.maxlines, 5);
  // A regex keeps the location of the line that wrote it.
  assert.deepEqual(aggressive.failregex.map((r) => r.locationAt(0)?.line), [4, 5]);
});

test('filter reader: errors for self-reference, bad maxlines, missing filter', () => {
  const dir = dirWith({
    'self.conf': '[Definition]\nfailregex = ^<failregex>$\n',
    'ml.conf': '[Definition]\nfailregex = ^<HOST>$\nmaxlines = many\n',
    // Each tag doubles the next: 2^25 copies long before any replacement count reaches 25.
    'grow.conf': '[Definition]\na = <b><b>\nb = <c><c>\nc = <d><d>\nd = <a><a>\nfailregex = ^<a> <HOST>$\n',
  });
  throwsFilterError(() => readFilterDefinition(dir, 'grow'), 'WARDEN_FILTER_INTERPOLATION', /grow\.conf:\d+: '\w+' grows past 262144 characters/u);
  throwsFilterError(() => readFilterDefinition(dir, 'self'), 'WARDEN_FILTER_INTERPOLATION', /self\.conf:2: 'failregex' refers to itself/u);
  throwsFilterError(() => readFilterDefinition(dir, 'ml'), 'WARDEN_FILTER_OPTION', /ml\.conf:3: maxlines must be a number/u);
  throwsFilterError(() => readFilterDefinition(dir, 'none'), 'WARDEN_FILTER_NOT_FOUND', /no filter 'none'/u);
});

test('a bad regex is reported at the line that wrote it, through %(…)s', () => {
  const dir = dirWith({
    'bad.conf': ['[Definition]', 'part = (unclosed', 'failregex = ^ok <HOST>$', '            ^%(part)s <HOST>', 'ignoreregex ='].join('\n'),
    'noid.conf': '[Definition]\nfailregex = ^no id here$\n',
  });
  throwsFilterError(() => loadFilter(join(dir, 'bad.conf')), 'WARDEN_FILTER_REGEX', /bad\.conf:4: cannot compile regex/u);
  throwsFilterError(() => loadFilter(join(dir, 'noid.conf')), 'WARDEN_FILTER_NO_FAILURE_ID', /noid\.conf:2: no failure-id group/u);
});

test('filter specs with options, and shell-split journalmatch', () => {
  assert.deepEqual(splitFilterSpec('sshd[mode=aggressive, publickey="any"]'), { name: 'sshd', options: { mode: 'aggressive', publickey: 'any' } });
  assert.deepEqual(splitFilterSpec("x[a='1,2'][b=3]"), { name: 'x', options: { a: '1,2', b: '3' } });
  assert.deepEqual(splitFilterSpec('plain'), { name: 'plain', options: {} });
  assert.deepEqual(shlexSplit(`_SYSTEMD_UNIT=a.service + "_COMM=b c" 'd e'`), ['_SYSTEMD_UNIT=a.service', '+', '_COMM=b c', 'd e']);
});

test("fail2ban's sshd: modes and log types resolve as fail2ban resolves them", (t) => {
  const root = sharedSuite('fail2ban');
  if (root === null) {
    t.skip('../shared/fail2ban absent (not in CI)');
    return;
  }
  const dir = join(root, 'config/filter.d');
  const normal = readFilterDefinition(dir, 'sshd');
  const aggressive = readFilterDefinition(dir, 'sshd', { mode: 'aggressive' });
  assert.equal(normal.failregex.length, 22);
  assert.equal(aggressive.failregex.length, 33);
  assert.ok(aggressive.failregex.some((r) => r.text.startsWith('^(?:Did not receive identification string from')));
  assert.equal(normal.datepattern?.text, '{^LN-BEG}');
  // logtype = journal: common.conf's short prefix, via <lt_<logtype>/__prefix_line>.
  const journal = readFilterDefinition(dir, 'sshd', { logtype: 'journal' });
  assert.match(journal.prefregex?.text ?? '', /^\^<F-MLFID>\\s\*\(\?:\\S\+\\s\+\)\?\(\?:sshd/u);
  assert.deepEqual(normal.journalmatch, [['_SYSTEMD_UNIT=sshd.service', '+', '_COMM=sshd', '+', '_COMM=sshd-session']]);
});
