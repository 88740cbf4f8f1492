/**
 * The failregex prefilter (PyRegexOptions.prefilter): a literal every match contains and the
 * pattern's tail after its last open-ended repeat, tested before the full regex. It may only
 * ever skip texts the regex cannot match: with and without it, search() and test() must give
 * the same answer on every text. Checked on a table of the constructs filters use (anchors,
 * multi-line mode, word boundaries, look-arounds, scoped and global case folding, atomic and
 * possessive forms, alternations opened out of their group) and on random patterns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compilePyRegex } from '../../src/jail/filter/pyregex.js';

function groups(pattern: string, text: string, prefilter: boolean, multiline = false): Array<string | null> | null {
  const re = compilePyRegex(pattern, { prefilter, multiline });
  const m = re.search(text);
  assert.equal(re.test(text), m !== null, 'test() and search() agree');
  if (m === null) return null;
  return Array.from({ length: re.groupCount + 1 }, (_, g) => m.group(g) ?? null);
}

// [pattern, texts]: each text is searched with and without the prefilter.
const table: Array<[string, string[], boolean?]> = [
  ['^(?:\\[[^\\]]+\\])?\\s*smtp: (?:[^\\[]+ )*\\[?(?P<host>\\S+)\\]? authentication failure using internet password\\s*$', ['smtp: x [1.2.3.4] authentication failure using internet password', 'smtp: x [1.2.3.4] authentication failure', 'smtp: A A host authentication failure using internet password, no']],
  ['^(?P<host>\\S+) -.*"(?:GET|POST|HEAD).*HTTP.*"(?:EmailCollector|WebEMailExtrac|Jorgee)"$', ['1.2.3.4 - - [x] "GET / HTTP/1.1" 200 5 "-" "EmailCollector"', '1.2.3.4 - - [x] "GET / HTTP/1.1" 200 5 "-" "EmailCollector" ', '1.2.3.4 - "GET / HTTP/1.1" "Jorgee"\n']],
  ['user .* from (?P<h>\\d+\\.\\d+)$', ['user a from 1.2', 'user a from 1.2\n', 'user a from 1.2\nx', 'user  from 3.4 from 1.2']],
  ['(?m)^x.*ab$', ['x ab\nc', 'c\nx ab', 'x ab c', 'c\nxab\n'], true],
  ['^a.*b\\s*$', ['a b', 'a b\n', 'a\nb']],
  ['.*\\bfoo\\b', ['a foo', 'afoo', 'a foob', 'a foo!', 'é foo']],
  ['a.*(?<=x)yz', ['a xyz', 'a yz', 'axyz']],
  ['a.*(?<!x)yz', ['a xyz', 'a wyz', 'ayz']],
  ['a.*(?=bc)b', ['a bc', 'a bd']],
  ['(?i)fail.*for USER', ['FAIL x for user', 'fail x for usr']],
  ['fail.*(?i:for user)z', ['fail x FOR USERz', 'fail x FOR USERZ', 'fail x for user']],
  ['x+.*(?:ab|cd)ef', ['xxcdef', 'xabef', 'x abe f']],
  ['x.*ab|cd.*e', ['cd e', 'x ab', 'x a b', 'c de']],
  ['(?:abc)+.*(?>de|d)e', ['abcdee', 'abc de', 'abcde']],
  ['q.*a++b', ['q aab', 'q ab', 'q b']],
  ['k.*(?P<g>x|y)z', ['kxz', 'k yz', 'k z']],
  ['(?P<a>x).*(?P=a)yy', ['x xyy', 'x zyy', 'xyy']],
  ['(a)?(?(1)b|c).*dd', ['c dd', 'b dd', 'dd']],
  ['[^:]+:.*[0-9]{2}$', ['a: 12', 'a: 1', 'a:12\n']],
  ['\\d+.*\\Z', ['1', 'x']],
  ['(?s)a.*b\\nc$', ['a\nb\nc', 'a b c']],
];

for (const [pattern, texts, multiline] of table) {
  test(`prefilter keeps the answers of ${JSON.stringify(pattern)}`, () => {
    for (const text of texts) assert.deepEqual(groups(pattern, text, true, multiline), groups(pattern, text, false, multiline), JSON.stringify(text));
  });
}

test('what the prefilter tests: the longest required literal and the tail after the last open-ended repeat', () => {
  const smtp = compilePyRegex('^(?:\\[[^\\]]+\\])?\\s*smtp: (?:[^\\[]+ )*\\[?(?P<host>\\S+)\\]? authentication failure using internet password\\s*$', { prefilter: true });
  assert.equal(smtp.prefilterInfo()?.literal, ' authentication failure using internet password');
  const bots = compilePyRegex('^(?P<host>\\S+) -.*"(?:GET|POST|HEAD).*HTTP.*"(?:EmailCollector|Jorgee)"$', { prefilter: true });
  const info = bots.prefilterInfo();
  assert.equal(info?.literal, 'HTTP');
  assert.ok(info?.tail?.startsWith('"(?:EmailCollector|Jorgee)"'), info?.tail);
  // Nothing worth testing first: no prefilter at all.
  assert.equal(compilePyRegex('^(?P<h>\\S{1,9}) x', { prefilter: true }).prefilterInfo(), undefined);
  assert.equal(compilePyRegex('^(?P<h>\\S+) x').prefilterInfo(), undefined);
});

test('the head: the pattern up to its first run of three literal characters, none where the start looks ahead', () => {
  const head = (pattern: string): string | undefined => compilePyRegex(pattern, { prefilter: true }).prefilterInfo()?.head;
  assert.equal(head('^client (?:denied|used)\\b'), '^client ');
  assert.equal(head('^(?:No h|H)ostname \\S+ provided'), '^(?:No h|H)ostname ');
  assert.equal(head('^([A-Z]\\w+: )?user (?P<user>\\S*): password mismatch'), '^(?:([A-Z](?:[\\p{L}\\p{N}_])+: ))?user ');
  // Every text a match is in holds the head, with or without a "\n" after it.
  for (const [pattern, text] of [['^ab?cde', 'acde'], ['x \\bfoo\\b', 'x foo'], ['(?<=\\[)abc', '[abc\n']] as const) {
    const re = new RegExp(head(pattern) as string, 'u');
    assert.ok(compilePyRegex(pattern).search(text) !== null && re.test(text.replace(/\n$/u, '')), pattern);
  }
  assert.equal(head('^(?=a)abc'), undefined);
  assert.equal(head('^x$abc'), undefined);
  assert.equal(head('^a++bcd'), undefined);
  assert.equal(head('^ab.c'), undefined);
});

test('a tail that lets most texts through is dropped after 2,000 texts, and the answers stay the same', () => {
  const re = compilePyRegex('^a.*bc$', { prefilter: true });
  assert.equal(re.prefilterInfo()?.tail, 'bc(?=\\n?$)');
  for (let i = 0; i < 2100; i++) assert.equal(re.test(`a ${i} bc`), true);
  assert.equal(re.prefilterInfo()?.tail, undefined);
  assert.equal(re.test('a bd'), false);
  assert.equal(re.search('xa bc'), null);
  assert.equal(re.search('a 1 bc')?.group(0), 'a 1 bc');
});

test('a tail with an open-ended repeat of its own tests only texts of a log line’s length: searched from every position, it could cost their square', () => {
  // openvpn's failregex: `^` then optional parts, the last open-ended repeat `\s*`, and a
  // host part that scans a word to its end; its tail, from each of 16,000 digits, did so.
  const re = compilePyRegex(String.raw`^\s*(?:\S+\s+)?(?P<host>[\w\-.^_]*\w):\d{4,5} (?:TLS Auth Error:|VERIFY ERROR:)`, { prefilter: true });
  assert.ok(re.prefilterInfo()?.tail !== undefined);
  const long = `Apr ${'25'.repeat(30_000)}`;
  assert.equal(re.test(long), false);
  assert.equal(re.search(`${long}:1194 VERIFY ERROR: x`)?.group('host'), '25'.repeat(30_000));
  assert.equal(re.search('Apr host:1194 VERIFY ERROR: x')?.group('host'), 'host');
  // A tail without an open-ended repeat costs a text's length: it is tested at any length,
  // and spares the pattern's own backtracking (grafana's `(?: \S+=(?:\S*|"[^"]+"))*`, which
  // Python's search of a 1 KB line of `a=b=` runs does not finish).
  const grafana = compilePyRegex(String.raw`^(?: lvl=err?or)? msg="Invalid"(?: \S+=(?:\S*|"[^"]+"))* remote_addr=(?P<addr>[0-9]{1,3}(?:\.[0-9]{1,3}){3})$`, { prefilter: true });
  assert.equal(grafana.prefilterInfo()?.tail, String.raw` remote_addr=(?:[0-9]){1,3}(?:\.(?:[0-9]){1,3}){3}(?=\n?$)`);
  assert.equal(grafana.test(` lvl=eror msg="Invalid"${' uId=0 orgId=0 uname= eror="Ud=0'.repeat(100)}`), false);
  assert.equal(grafana.search(' msg="Invalid" a=b remote_addr=1.2.3.4')?.group('addr'), '1.2.3.4');
});

/** Random pattern pieces: an atom with one of `quantifiers` (assertions bare: Python refuses quantified ones). */
function quantified(atom: fc.Arbitrary<string>, quantifiers: string[]): fc.Arbitrary<string> {
  return fc.tuple(atom, fc.constantFrom(...quantifiers)).map(([a, q]) => {
    const bare = a === '\\b' || a === '^' || a === '$' || a.startsWith('(?=') || a.startsWith('(?<');
    return bare ? a : a.length > 1 && !a.startsWith('\\') && !a.startsWith('[') && !a.startsWith('(') ? `(?:${a})${q}` : `${a}${q}`;
  });
}

test('random patterns and texts: the prefilter never changes an answer', () => {
  const atom = fc.constantFrom('a', 'b', 'ab', 'ba', '\\s', '\\S', '\\d', '.', '[ab]', '[^a]', '\\b', '^', '$', '(?=a)', '(?<!b)', '(?:a|bb)', '(?P<g>a|b)', '(?i:A)', 'x', 'axb', 'b ab');
  const piece = quantified(atom, ['', '', '*', '+', '?', '{2}', '*?', '++']);
  const pattern = fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => p.join(''));
  const text = fc.array(fc.constantFrom('a', 'b', 'x', ' ', '1', '\n', 'A', 'é'), { maxLength: 16 }).map((c) => c.join(''));
  fc.assert(
    fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 6 }), fc.boolean(), (p, texts, multiline) => {
      let re;
      try {
        re = compilePyRegex(p, { multiline });
      } catch {
        return; // not a pattern Python (or Warden) accepts
      }
      const pre = compilePyRegex(p, { multiline, prefilter: true });
      for (const t of texts) {
        assert.equal(pre.search(t)?.group(0) ?? null, re.search(t)?.group(0) ?? null, `${JSON.stringify(p)} on ${JSON.stringify(t)}`);
        assert.equal(pre.test(t), re.test(t));
      }
    }),
    { numRuns: 3000, seed: 20261125 },
  );
});

test('a filter skips a line that holds none of its failregexes\' required texts, and finds each one that does', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadFilter } = await import('../../src/jail/filter/filter.js');
  const dir = mkdtempSync(join(tmpdir(), 'warden-gate-'));
  const conf = join(dir, 'gate.conf');
  // Required texts with characters a regex would read as syntax: they must be escaped.
  writeFileSync(conf, ['[Definition]', 'failregex = ^.* refused \\(a\\.b\\) from <HOST>$', '            ^.*\\[x\\|y\\] bad: <HOST>$', 'datepattern = {NONE}'].join('\n'));
  const f = loadFilter(conf, { checkAllRegex: true });
  const ids = (line: string): string[] => f.processLine(line).map((e) => e.id?.text ?? '');
  assert.deepEqual(ids('conn refused (a.b) from 192.0.2.1'), ['192.0.2.1']);
  assert.deepEqual(ids('req [x|y] bad: 192.0.2.2'), ['192.0.2.2']);
  assert.deepEqual(ids('conn refused (aXb) from 192.0.2.3'), []);
  assert.deepEqual(ids('req [x|y] good: 192.0.2.4'), []);
  assert.deepEqual(ids('nothing here 192.0.2.5'), []);
});

test('a line the gate passes over leaves its date for the next line that has none, and a required text across the cut date still matches', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadFilter } = await import('../../src/jail/filter/filter.js');
  const dir = mkdtempSync(join(tmpdir(), 'warden-gate-'));
  const conf = join(dir, 'late.conf');
  // "x  [] y" exists only once the date between "[" and "]" is cut out of the line.
  writeFileSync(conf, ['[Definition]', 'failregex = ^<HOST> denied$', '            ^<HOST> x \\[\\] yes$'].join('\n'));
  const now = Date.UTC(2025, 5, 1, 12, 0, 0) / 1000;
  const f = loadFilter(conf, { timeZone: 'UTC', now: () => now });
  const entries = (line: string): Array<[string, number | null]> => f.processLine(line).map((e) => [e.id?.text ?? '', e.time]);
  // Passed over (no required text), then a line without a date: it gets the last one seen.
  assert.deepEqual(entries('2025-06-01 11:59:30 nothing to see'), []);
  assert.deepEqual(entries('192.0.2.1 denied'), [['192.0.2.1', now - 30]]);
  // Two passed-over lines: the later date is the one kept.
  assert.deepEqual(entries('2025-06-01 11:59:10 quiet'), []);
  assert.deepEqual(entries('2025-06-01 11:59:40 quiet again'), []);
  assert.deepEqual(entries('192.0.2.2 denied'), [['192.0.2.2', now - 20]]);
  // The required text spans the date: found across the cut.
  assert.deepEqual(entries('192.0.2.3 x [2025-06-01 11:59:50] yes'), [['192.0.2.3', now - 10]]);
  // A line that does not hold its own date takes the last one: the one above, not a passed-over line's before it.
  assert.deepEqual(entries('192.0.2.4 denied'), [['192.0.2.4', now - 10]]);
});

test('the head after its leading ^, without groups, only when it looks at nothing before it', () => {
  const rest = (pattern: string): string | undefined => compilePyRegex(pattern, { prefilter: true }).prefilterInfo()?.headRest;
  assert.equal(rest('^client (?:denied|used)\\b'), 'client ');
  assert.equal(rest('^([A-Z]\\w+: )?user (?P<user>\\S*): password mismatch'), '(?:(?:[A-Z](?:[\\p{L}\\p{N}_])+: ))?user ');
  assert.equal(compilePyRegex('^client x', { prefilter: true }).prefilterInfo()?.anchored, true);
  // Not anchored, or looking behind or at a word boundary after the `^`: none.
  assert.equal(rest('client (?:denied|used)'), undefined);
  assert.equal(compilePyRegex('client (?:denied|used)', { prefilter: true }).prefilterInfo()?.anchored, false);
  assert.equal(rest('^\\bclient x'), undefined);
  assert.equal(rest('^(?<=a)client x'), undefined);
});

test('marked(): one search gives the group searchGroup gives, and whether the look-ahead holds where it starts', () => {
  const table: Array<[string, string, string[]]> = [
    ['^\\[(?P<h>\\S+)\\] (?:AH\\d+: )?(?P<content>.+)$', '(?:client |(?:[A-Z]\\w+: )?user )', ['[a] AH01: client x\n', '[a] AH01: Basic: user y\n', '[client z] other\n', '[a] AH02: AH03: client\n', 'no\n', '[a] \n']],
    ['^(?P<content>x|xy)z', 'y', ['xyz', 'xz', 'yz']],
    ['^a(?P<content>b*)c', 'b', ['abbc', 'ac', 'abd']],
  ];
  for (const [pattern, lookahead, texts] of table) {
    const re = compilePyRegex(pattern);
    const group = re.groupIndex.get('content') as number;
    const marked = re.marked(group, lookahead);
    assert.ok(marked !== undefined, pattern);
    const at = new RegExp(`^(?:${lookahead})`, 'u');
    for (const text of texts) {
      const expected = re.searchGroup(text, group);
      const m = marked.re.exec(text);
      assert.equal(m === null, expected === null, `${pattern} on ${JSON.stringify(text)}`);
      if (m === null) continue;
      let content: string | undefined;
      for (const j of marked.js) content ??= m[j];
      assert.equal(content, expected, `${pattern} on ${JSON.stringify(text)}`);
      // Here every group runs to the text's end, or the look-ahead fits in it.
      assert.equal(m[marked.mark] !== undefined, at.test(content ?? ''), `mark of ${pattern} on ${JSON.stringify(text)}`);
    }
  }
  // A group inside a repeat has no one start: no marked form.
  const rep = compilePyRegex('^(?:(?P<c>a))+b');
  assert.equal(rep.marked(rep.groupIndex.get('c') as number, 'a'), undefined);
});

test('random patterns: the marked form matches as the pattern does and takes the same group', () => {
  const atom = fc.constantFrom('a', 'b', 'ab', '\\s', '\\S', '\\d', '.', '[ab]', '[^a]', '\\b', '$', '(?=a)', '(?<!b)', '(?:a|bb)', 'x', 'b ab');
  const piece = quantified(atom, ['', '', '*', '+', '?', '{2}', '*?']);
  const seq = fc.array(piece, { maxLength: 4 }).map((p) => p.join(''));
  const pattern = fc.tuple(seq, seq, seq).map(([a, b, c]) => `${a}(?P<content>${b})${c}`);
  const text = fc.array(fc.constantFrom('a', 'b', 'x', ' ', '1', '\n'), { maxLength: 12 }).map((c) => c.join(''));
  fc.assert(
    fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 6 }), fc.constantFrom('a', 'b ', '(?:x|ab)'), (p, texts, lookahead) => {
      let re: ReturnType<typeof compilePyRegex>;
      try {
        re = compilePyRegex(p);
      } catch {
        return;
      }
      const group = re.groupIndex.get('content') as number;
      const marked = re.marked(group, lookahead);
      if (marked === undefined) return;
      for (const t of texts) {
        const m = marked.re.exec(t);
        const expected = re.searchGroup(t, group);
        assert.equal(m === null, expected === null, `${JSON.stringify(p)} on ${JSON.stringify(t)}`);
        if (m === null) continue;
        let content: string | undefined;
        for (const j of marked.js) content ??= m[j];
        assert.equal(content, expected, `${JSON.stringify(p)} on ${JSON.stringify(t)}`);
        assert.equal(m.index, re.search(t)?.start(), `${JSON.stringify(p)} on ${JSON.stringify(t)}`);
      }
    }),
    { numRuns: 3000, seed: 20261126 },
  );
});

test('an Apache-style filter: heads at the content only, "client " in [client …] passed over, the gate dropped after 2,000 lines that all hold it', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadFilter } = await import('../../src/jail/filter/filter.js');
  const dir = mkdtempSync(join(tmpdir(), 'warden-gate-'));
  const conf = join(dir, 'apachelike.conf');
  writeFileSync(
    conf,
    [
      '[Definition]',
      'prefregex = ^\\[\\]\\s\\[\\S+:\\S+\\] \\[client <HOST>(:\\d{1,5})?\\] (?:AH\\d+: )?<F-CONTENT>.+</F-CONTENT>$',
      'failregex = ^client denied by server configuration\\b',
      '            ^([A-Z]\\w+: )?user <F-USER>\\S+</F-USER>: authentication failure\\b',
    ].join('\n'),
  );
  const f = loadFilter(conf, { timeZone: 'UTC' });
  const line = (i: number, rest: string): string => `[Sun Jun 01 00:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0')} 2025] [core:error] [client 192.0.2.${i % 200}:4000] ${rest}`;
  let found = 0;
  for (let i = 0; i < 2500; i++) {
    const kind = i % 5;
    // Every line holds a failregex's required text; only the first two kinds at the content's start.
    const rest = [
      'AH01630: client denied by server configuration: /x',
      'AH01617: Basic: user bob: authentication failure for "/"',
      'AH00126: Invalid URI: client denied by server configuration',
      'x: user bob: authentication failure',
      'PHP Warning: not a client denied by server configuration',
    ][kind] as string;
    const ids = f.processLine(line(i, rest)).filter((e) => e.id !== null);
    if (kind <= 1) assert.equal(ids.length, 1, `line ${i}: ${rest}`);
    else assert.equal(ids.length, 0, `line ${i}: ${rest}`);
    if (kind === 1) assert.equal(ids[0]?.data.user, 'bob');
    found += ids.length;
  }
  assert.equal(found, 1000);
  // Every line matched the prefregex, whichever way it went.
  assert.equal(f.stats.prefregexMatched, 2500);
  // The line gate ("client ", "user " are in every line) was given up after 2,000 lines.
  assert.equal((f as unknown as { gateSkipped: boolean }).gateSkipped, true);
});
