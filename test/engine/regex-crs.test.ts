/**
 * Every `@rx` pattern of the CRS compiles: CRS v4 (../shared/crs/rules) and, where the
 * machine has it, Debian's CRS 3.3.4 (/usr/share/modsecurity-crs/rules), whose 942130
 * (back reference, negative lookahead), 920120 (lookbehind), 920600 and 942260
 * (possessive repeats that change the result) and 953120 (lookahead) need the bounded
 * matcher. A simple scan finds the patterns (SecRule lines, continuations joined); the
 * real SecLang parser lives elsewhere. Prints the count per engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compileRegex, MODSECURITY_RX_FLAGS } from '../../src/engine/regex/index.js';
import { sharedSuite } from '../support/shared.js';

function rxPatterns(dir: string): Array<{ file: string; pattern: string }> {
  const out: Array<{ file: string; pattern: string }> = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.conf')).sort()) {
    const text = readFileSync(join(dir, file), 'latin1').replace(/\\\r?\n/g, '');
    for (const line of text.split('\n')) {
      const m = /^\s*SecRule\s+(?:"(?:[^"\\]|\\.)*"|\S+)\s+"!?@rx ((?:[^"\\]|\\.)*)"/.exec(line);
      if (m !== null) out.push({ file, pattern: (m[1] as string).replace(/\\"/g, '"') });
    }
  }
  return out;
}

function compileAll(dir: string): { counts: Record<string, number>; errors: string[]; bounded: string[] } {
  const counts: Record<string, number> = {};
  const errors: string[] = [];
  const bounded: string[] = [];
  for (const { file, pattern } of rxPatterns(dir)) {
    try {
      const re = compileRegex(pattern, MODSECURITY_RX_FLAGS);
      counts[re.engine] = (counts[re.engine] ?? 0) + 1;
      if (re.warning !== undefined) bounded.push(`${file}: ${pattern.slice(0, 60)}… — ${re.warning}`);
    } catch (err) {
      errors.push(`${file}: ${pattern.slice(0, 80)}: ${(err as Error).message}`);
    }
  }
  return { counts, errors, bounded };
}

test('every @rx pattern of CRS v4 compiles, none needs the bounded matcher', (t) => {
  const crs = sharedSuite('crs/rules');
  if (crs === null) {
    t.skip('../shared/crs absent');
    return;
  }
  const { counts, errors, bounded } = compileAll(crs);
  const line = `CRS v4 @rx: ${JSON.stringify(counts)}, ${errors.length} errors`;
  t.diagnostic(line);
  console.log(line);
  assert.deepEqual(errors, []);
  assert.deepEqual(bounded, []);
  assert.ok((counts.irregexp ?? 0) + (counts.re2 ?? 0) > 300);
});

const debianCrs = '/usr/share/modsecurity-crs/rules';

test('every @rx pattern of CRS 3.3.4 (Debian) compiles; the few that need it run bounded', (t) => {
  if (!existsSync(debianCrs)) {
    t.skip(`${debianCrs} absent`);
    return;
  }
  const { counts, errors, bounded } = compileAll(debianCrs);
  const line = `CRS 3.3.4 @rx: ${JSON.stringify(counts)}, ${errors.length} errors`;
  t.diagnostic(line);
  console.log(line);
  for (const b of bounded) t.diagnostic(b);
  assert.deepEqual(errors, []);
  assert.equal(counts.backtrack, bounded.length);
  assert.ok(bounded.length > 0 && bounded.length < 10);
});

test('CRS 3.3.4 rule 942130 (back reference + negative lookahead) works on the bounded matcher', () => {
  const p =
    '(?i:[\\s\'"`()]*?\\b([\\d\\w]+)\\b[\\s\'"`()]*?(?:<(?:=(?:[\\s\'"`()]*?(?!\\b\\1\\b)[\\d\\w]+|>[\\s\'"`()]*?(?:\\b\\1\\b))|>?[\\s\'"`()]*?(?!\\b\\1\\b)[\\d\\w]+)|(?:not\\s+(?:regexp|like)|is\\s+not|>=?|!=|\\^)[\\s\'"`()]*?(?!\\b\\1\\b)[\\d\\w]+|(?:(?:sounds\\s+)?like|r(?:egexp|like)|=)[\\s\'"`()]*?(?:\\b\\1\\b)))';
  const re = compileRegex(p, MODSECURITY_RX_FLAGS);
  assert.equal(re.engine, 'backtrack');
  assert.match(re.warning ?? '', /back reference/);
  assert.deepEqual(re.exec("x' or 1=1"), [' 1=1', '1']);
  assert.deepEqual(re.exec("' or 'a' like 'a"), [" 'a' like 'a", 'a']);
  assert.equal(re.test('1=2'), false);
  assert.equal(re.test('name=value and more text'), false);
  assert.equal(re.test('a != b'), true);
  assert.equal(re.test(`${'word '.repeat(2000)}1=1`), true);
});
