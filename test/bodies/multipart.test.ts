// Table-driven tests of the multipart parser: raw requests (most from ModSecurity v2's
// regression suite, tests/regression/misc/00-multipart-parser.t) and the flags v2 sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { collectArguments } from '../../src/bodies/types.js';
import { parseMultipart, type MultipartFlags, type MultipartOptions } from '../../src/bodies/multipart.js';

const crlf = (...lines: string[]) => lines.join('\r\n');
const lf = (...lines: string[]) => lines.join('\n');

const BRIAN = (b: string, end = '\r\n') => crlf(
  `--${b}`,
  'Content-Disposition: form-data; name="name"',
  '',
  'Brian Rectanus',
  `--${b}`,
  'Content-Disposition: form-data; name="email"',
  '',
  'brian.rectanus@breach.com',
  `--${b}`,
  'Content-Disposition: form-data; name="image"; filename="image.jpg"',
  'Content-Type: image/jpeg',
  '',
  'BINARYDATA',
  `--${b}--`,
) + end;

const FF = '---------------------------69343412719991675451336310646';
const ab = (first: string[], second: string[], final = `--${FF}--\r\n`) => crlf(`--${FF}`, ...first, `--${FF}`, ...second, '') + final;
const CD_A = ['Content-Disposition: form-data; name="a"', '', '1'];
const CD_B = ['Content-Disposition: form-data; name="b"', '', '2'];

type FlagName = Exclude<keyof MultipartFlags, 'strictError' | 'error' | 'crlfLine' | 'crlfLfLines'>;

interface Case {
  name: string;
  ct: string;
  body: string;
  options?: MultipartOptions;
  /** Expected REQBODY_ERROR_MSG (exact), or null. */
  error: string | null;
  /** Flags expected true, beyond crlfLine (checked separately); all others must be false. */
  flags?: FlagName[];
  args?: [string, string][];
  files?: [string, string, number][];
}

const CT = 'multipart/form-data; boundary=0000';
const CTFF = `multipart/form-data; boundary=${FF}`;

const cases: Case[] = [
  { name: 'normal: two fields and a file', ct: CT, body: BRIAN('0000'), error: null,
    args: [['name', 'Brian Rectanus'], ['email', 'brian.rectanus@breach.com']], files: [['image', 'image.jpg', 10]] },
  { name: 'final boundary without CRLF', ct: CTFF, body: ab(CD_A, CD_B, `--${FF}--`), error: null, args: [['a', '1'], ['b', '2']] },
  { name: 'boundary containing "boundary"', ct: 'multipart/form-data; boundary=------------------------------------------------boundary',
    body: crlf('--------------------------------------------------boundary', ...CD_A, '--------------------------------------------------boundary', ...CD_B, '--------------------------------------------------boundary--', ''),
    error: null, args: [['a', '1'], ['b', '2']] },
  { name: 'KHTML boundary (bOuNdArY inside the value)', ct: 'multipart/form-data; boundary=--------0xKhTmLbOuNdArY',
    body: crlf('----------0xKhTmLbOuNdArY', ...CD_A, '----------0xKhTmLbOuNdArY', ...CD_B, '----------0xKhTmLbOuNdArY--', ''),
    error: null, args: [['a', '1'], ['b', '2']] },
  { name: 'data starting with --', ct: CTFF,
    body: ab(['Content-Disposition: form-data; name="a"', '', '--test'], ['Content-Disposition: form-data; name="b"', '', '--']),
    error: null, flags: ['unmatchedBoundary'], args: [['a', '--test'], ['b', '--']] },
  { name: 'empty field value', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="e"', '', '', '--0000--', ''), error: null, args: [['e', '']] },
  { name: 'multi-line value keeps its inner line breaks', ct: CT,
    body: crlf('--0000', 'Content-Disposition: form-data; name="t"', '', 'line1', 'line2', '', '--0000--', ''), error: null, args: [['t', 'line1\r\nline2\r\n']] },
  { name: 'no final boundary', ct: CTFF, body: crlf(`--${FF}`, ...CD_A, `--${FF}`, ...CD_B, ''),
    error: 'Multipart parsing error: Multipart: Final boundary missing.' },
  { name: 'no Content-Disposition', ct: CTFF, body: ab(['', '1'], ['', '2']),
    error: 'Multipart parsing error: Multipart: Part missing Content-Disposition header.' },
  { name: 'bad Content-Disposition (no semicolon)', ct: CTFF,
    body: ab(['Content-Disposition: form-data name="a"', '', '1'], ['Content-Disposition: form-data name="b"', '', '2']),
    error: 'Multipart parsing error: Multipart: Invalid Content-Disposition header (-2): form-data name="a".' },
  { name: 'Content-Disposition without name', ct: CTFF,
    body: ab(['Content-Disposition: form-data;', '', '1'], ['Content-Disposition: form-data;', '', '2']),
    error: 'Multipart parsing error: Multipart: Content-Disposition header missing name field.' },
  { name: 'zero-length header name', ct: CTFF, body: ab(CD_A, [':', ...CD_B]),
    error: 'Multipart parsing error: Multipart: Invalid part header (header name missing).' },
  { name: 'header without colon', ct: CT, body: crlf('--0000', 'garbage', ...CD_A, '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid part header (colon missing): garbage\\r\\n.' },
  { name: 'header name with a space', ct: CT, body: crlf('--0000', 'Content Type: x', ...CD_A, '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid part header (contains invalid character).' },
  { name: 'duplicate part header (any case)', ct: CT, body: crlf('--0000', ...CD_A.slice(0, 1), 'content-disposition: form-data; name="x"', '', '1', '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Duplicate part header: content-disposition.' },
  { name: 'NUL in part headers', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="a\0"', '', '1', '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Nul byte in part headers.' },
  { name: 'header folding with a space', ct: CTFF,
    body: ab(['Content-Disposition: form-data;', ' name="a"', '', '1'], ['Content-Disposition: form-data;', '    name="b"', '', '2']),
    error: null, flags: ['headerFolding'], args: [['a', '1'], ['b', '2']] },
  { name: 'header folding with tabs', ct: CTFF,
    body: ab(['Content-Disposition: form-data;', '\tname="a"', '', '1'], ['Content-Disposition: form-data;', '\t\tname="b"', '', '2']),
    error: null, flags: ['headerFolding'], args: [['a', '1'], ['b', '2']] },
  { name: 'header folding with a vertical tab (invalid folding)', ct: CTFF,
    body: ab(CD_A, ['Content-Disposition: form-data;', '\vname="b"', '', '2']),
    error: null, flags: ['headerFolding', 'invalidHeaderFolding'], args: [['a', '1'], ['b', '2']] },
  { name: 'header folding mixed invalid', ct: CTFF,
    body: ab(CD_A, ['Content-Disposition: form-data;', ' \v\tname="b"', '', '2']),
    error: null, flags: ['headerFolding', 'invalidHeaderFolding'], args: [['a', '1'], ['b', '2']] },
  { name: 'folding before any header', ct: CT, body: crlf('--0000', ' x', ...CD_A, '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid part header (folding error).', flags: ['headerFolding'] },
  { name: 'data after the final boundary', ct: CTFF, body: crlf(`--${FF}`, ...CD_A, `--${FF}--`, `--${FF}`, ...CD_B, `--${FF}--`, ''),
    error: null, flags: ['dataAfter'], args: [['a', '1']] },
  { name: 'data before the first boundary', ct: CT, body: 'preamble text\r\n' + BRIAN('0000'), error: null, flags: ['dataBefore'],
    args: [['name', 'Brian Rectanus'], ['email', 'brian.rectanus@breach.com']] },
  { name: 'single quotes in Content-Disposition, duplicate name', ct: CTFF,
    body: ab(CD_A, [`Content-Disposition: form-data; name=';filename="dummy';name=b;"`, '', '2']),
    error: `Multipart parsing error: Multipart: Invalid Content-Disposition header (-14): form-data; name=';filename="dummy';name=b;".`,
    flags: ['invalidQuoting'] },
  { name: 'single quote inside double quotes is fine', ct: CTFF,
    body: ab([`Content-Disposition: form-data; name="a'b"`, '', '1'], [`Content-Disposition: form-data; name="aaa"; filename="d'ummy"`, '', '2']),
    error: null, args: [["a'b", '1']], files: [['aaa', "d'ummy", 1]] },
  { name: 'unquoted value with a single quote', ct: CT, body: crlf('--0000', "Content-Disposition: form-data; name=a'b", '', '1', '--0000--', ''),
    error: null, flags: ['invalidQuoting'], args: [["a'b", '1']] },
  { name: 'escaped quote in a quoted name', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="a\\"b\\\\c\\d"', '', '1', '--0000--', ''),
    error: null, args: [['a"b\\c\\d', '1']] },
  { name: 'junk after a quoted value', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="a"x', '', '1', '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid Content-Disposition header (-12): form-data; name="a"x.', flags: ['invalidQuoting'] },
  { name: 'unknown Content-Disposition parameter', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="a"; size=3', '', '1', '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid Content-Disposition header (-11): form-data; name="a"; size=3.' },
  { name: 'multipart/mixed inside (attachment)', ct: CT,
    body: crlf('--0000', ...CD_A, '--0000', 'Content-Disposition: attachment', 'Content-Type: multipart/mixed; boundary=BbC04y', '', '--BbC04y', '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid Content-Disposition header (-1): attachment.' },
  { name: 'C-T separator is a comma', ct: 'multipart/form-data, boundary=0000', body: BRIAN('0000'),
    error: 'Multipart: Invalid boundary in C-T (malformed).' },
  { name: 'C-T separator is a space', ct: 'multipart/form-data boundary=0000', body: BRIAN('0000'), error: null, flags: ['missingSemicolon'],
    args: [['name', 'Brian Rectanus'], ['email', 'brian.rectanus@breach.com']] },
  { name: 'boundary parameter name case', ct: 'multipart/form-data; bOundAry=0000', body: BRIAN('0000'),
    error: 'Multipart: Invalid boundary in C-T (case sensitivity).' },
  { name: 'boundary parameter name trailing chars', ct: 'multipart/form-data; boundary123=0000', body: BRIAN('0000'),
    error: 'Multipart: Invalid boundary in C-T (parameter name).' },
  { name: 'two boundaries, first quoted', ct: 'multipart/form-data; boundary="0000"; boundary=1111', body: BRIAN('0000'),
    error: 'Multipart: Multiple boundary parameters in C-T.' },
  { name: 'two boundaries, comma separated', ct: 'multipart/form-data; boundary=0000, boundary=1111', body: BRIAN('0000'),
    error: 'Multipart: Multiple boundary parameters in C-T.' },
  { name: 'whitespace after the parameter name', ct: 'multipart/form-data; boundary =0000', body: BRIAN('0000'), error: null,
    flags: ['boundaryWhitespace'], args: [['name', 'Brian Rectanus'], ['email', 'brian.rectanus@breach.com']] },
  { name: 'whitespace before the value', ct: 'multipart/form-data; boundary= 0000', body: BRIAN('0000'),
    error: 'Multipart parsing error: Multipart: No boundaries found in payload.', flags: ['boundaryWhitespace', 'unmatchedBoundary', 'dataBefore'] },
  { name: 'trailing whitespace after the value is dropped', ct: 'multipart/form-data; boundary=0000 ', body: BRIAN('0000'), error: null,
    args: [['name', 'Brian Rectanus'], ['email', 'brian.rectanus@breach.com']] },
  { name: 'boundary with a space and more', ct: 'multipart/form-data; boundary=0000 1111', body: BRIAN('0000'),
    error: 'Multipart parsing error: Multipart: No boundaries found in payload.', flags: ['unmatchedBoundary', 'dataBefore'] },
  // v2's old regression test expects "(characters)", but `,` is in v2's RFC 2046 list today.
  { name: 'boundary with a comma', ct: 'multipart/form-data; boundary=0000,1111', body: BRIAN('0000'),
    error: 'Multipart parsing error: Multipart: No boundaries found in payload.', flags: ['unmatchedBoundary', 'dataBefore'] },
  { name: 'boundary with a semicolon (parameters after it)', ct: 'multipart/form-data; boundary=0000; charset=utf-8', body: BRIAN('0000'),
    error: 'Multipart: Invalid boundary in C-T (characters).' },
  { name: 'quoted boundary', ct: 'multipart/form-data; boundary="0000"', body: BRIAN('0000'), error: null, flags: ['boundaryQuoted'],
    args: [['name', 'Brian Rectanus'], ['email', 'brian.rectanus@breach.com']] },
  { name: 'quoted boundary with inner space', ct: 'multipart/form-data; boundary="0000 1111"', body: BRIAN('0000 1111'), error: null,
    flags: ['boundaryQuoted'], args: [['name', 'Brian Rectanus'], ['email', 'brian.rectanus@breach.com']] },
  { name: 'quoted boundary with a trailing space', ct: 'multipart/form-data; boundary="0000 "', body: BRIAN('0000'),
    error: 'Multipart: Invalid boundary in C-T (characters).', flags: ['boundaryQuoted'] },
  { name: 'quoted boundary containing a quote', ct: 'multipart/form-data; boundary="00\\"00"', body: BRIAN('00"00'),
    error: 'Multipart: Invalid boundary in C-T (characters).', flags: ['boundaryQuoted'] },
  { name: 'only the opening quote', ct: 'multipart/form-data; boundary="0000', body: BRIAN('0000'), error: 'Multipart: Invalid boundary in C-T (quote).' },
  { name: 'only the closing quote', ct: 'multipart/form-data; boundary=0000"', body: BRIAN('0000'), error: 'Multipart: Invalid boundary in C-T (quote).' },
  { name: 'empty boundary', ct: 'multipart/form-data; boundary=', body: BRIAN('0000'), error: 'Multipart: Invalid boundary in C-T (empty).' },
  { name: 'no boundary', ct: 'multipart/form-data', body: BRIAN('0000'), error: 'Multipart: Boundary not found in C-T.' },
  { name: 'not form-data', ct: 'multipart/mixed; boundary=0000', body: BRIAN('0000'), error: 'Multipart: Invalid MIME type.' },
  { name: 'body uses the quoted boundary with its quotes', ct: 'multipart/form-data; boundary="0000"', body: crlf('--"0000"', ...CD_A, '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid boundary (quotes).', flags: ['boundaryQuoted'] },
  { name: 'whitespace between -- and the boundary', ct: CT, body: crlf('-- 0000', ...CD_A, '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid boundary (whitespace).' },
  { name: 'boundary followed by junk', ct: CT, body: crlf('--0000junk', ...CD_A, '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid boundary: --0000junk\\r\\n' },
  { name: 'LF line endings', ct: CT, body: lf('--0000', ...CD_A, '--0000--', ''), error: null, flags: ['lfLine'], args: [['a', '1']] },
  { name: 'mixed CRLF and LF', ct: CT, body: '--0000\r\nContent-Disposition: form-data; name="a"\n\r\n1\r\n--0000--\r\n', error: null, flags: ['lfLine'], args: [['a', '1']] },
  { name: 'LF before a boundary only', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="a"', '', '1\n--0000--', ''),
    error: null, flags: ['lfLine'], args: [['a', '1']] },
  { name: 'unmatched boundary-like line in data', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="a"', '', '--1111', '--0000--', ''),
    error: null, flags: ['unmatchedBoundary'], args: [['a', '--1111']] },
  { name: 'our boundary in the middle of a data line', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="a"', '', 'x --0000 y', '--0000--', ''),
    error: null, flags: ['unmatchedBoundary'], args: [['a', 'x --0000 y']] },
  { name: 'boundary right after the headers (no delimiter CRLF): invalid part', ct: CT,
    body: crlf('--0000', 'Content-Disposition: form-data; name="a"', '', '--0000', 'x', '--0000--', ''),
    error: null, flags: ['invalidPart'], args: [['a', '--0000\r\nx']] },
  { name: 'final boundary right after the headers', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="a"', '', '--0000--'),
    error: null, flags: ['invalidPart'], args: [['a', '']] },
  { name: 'boundary inside the headers', ct: CT, body: crlf('--0000', 'X-A: 1', '--0000', ...CD_A, '--0000--', ''),
    error: 'Multipart parsing error: Multipart: Invalid part header (colon missing): --0000\\r\\n.', flags: ['invalidPart'] },
  { name: 'no boundary in the body at all', ct: CT, body: 'just some text\r\n', error: 'Multipart parsing error: Multipart: No boundaries found in payload.',
    flags: ['dataBefore'] },
  { name: 'empty body is not an error', ct: CT, body: '', error: null, args: [] },
  { name: 'filename with an empty file', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data; name="f"; filename=""', '', '', '--0000--', ''),
    error: null, files: [['f', '', 0]] },
  { name: 'file content with binary and line breaks', ct: CT,
    body: crlf('--0000', 'Content-Disposition: form-data; name="up"; filename="x.bin"', 'Content-Type: application/octet-stream', '', '\x00\xff\r\n\x89PNG\n', '--0000--', ''),
    error: null, files: [['up', 'x.bin', 9]] },
  { name: 'filename* is not understood', ct: CT, body: crlf('--0000', `Content-Disposition: form-data; name="f"; filename*=UTF-8''x`, '', '1', '--0000--', ''),
    error: `Multipart parsing error: Multipart: Invalid Content-Disposition header (-11): form-data; name="f"; filename*=UTF-8''x.` },
];

function run(c: Case) {
  const args = collectArguments();
  const r = parseMultipart(c.body, c.ct, args, c.options);
  return { r, args: args.names.map((n, i): [string, string] => [n, args.values[i] ?? '']) };
}

const ALL: FlagName[] = ['boundaryQuoted', 'boundaryWhitespace', 'dataBefore', 'dataAfter', 'headerFolding', 'lfLine', 'missingSemicolon',
  'invalidQuoting', 'invalidPart', 'invalidHeaderFolding', 'fileLimitExceeded', 'unmatchedBoundary'];
const STRICT: FlagName[] = ALL.filter((f) => f !== 'unmatchedBoundary');

for (const c of cases) {
  test(`multipart: ${c.name}`, () => {
    const { r, args } = run(c);
    assert.equal(r.error, c.error);
    const expected = new Set(c.flags ?? []);
    for (const f of ALL) assert.equal(r.flags[f], expected.has(f), `flag ${f}`);
    assert.equal(r.flags.error, c.error !== null && c.error !== 'SecArgumentsLimit exceeded');
    assert.equal(r.flags.strictError, r.flags.error || STRICT.some((f) => expected.has(f)));
    assert.equal(r.flags.crlfLfLines, r.flags.crlfLine && r.flags.lfLine);
    if (c.args !== undefined) assert.deepEqual(args, c.args);
    if (c.error !== null) assert.deepEqual(args, []);
    if (c.files !== undefined) {
      const files = r.parts.filter((p) => p.filename !== undefined).map((p): [string, string, number] => [p.name, p.filename ?? '', p.value.length]);
      assert.deepEqual(files, c.files);
      assert.equal(r.filesCombinedSize, c.files.reduce((s, f) => s + f[2], 0));
    }
  });
}

test('multipart: MULTIPART_NAME / FILENAME are the last seen, part headers per part', () => {
  const { r } = run({ name: '', ct: CT, body: BRIAN('0000'), error: null });
  assert.equal(r.name, 'image');
  assert.equal(r.filename, 'image.jpg');
  assert.deepEqual(r.parts.map((p) => [p.name, p.headers]), [
    ['name', ['Content-Disposition: form-data; name="name"']],
    ['email', ['Content-Disposition: form-data; name="email"']],
    ['image', ['Content-Disposition: form-data; name="image"; filename="image.jpg"', 'Content-Type: image/jpeg']],
  ]);
  assert.equal(r.flags.crlfLine, true);
  assert.equal(r.flags.lfLine, false);
});

test('multipart: folded header lines are joined in MULTIPART_PART_HEADERS', () => {
  const { r } = run({ name: '', ct: CT, body: crlf('--0000', 'Content-Disposition: form-data;', '\tname="a"', 'X-Note: one', ' two', '', '1', '--0000--', ''), error: null });
  assert.deepEqual(r.parts[0]?.headers, ['Content-Disposition: form-data; name="a"', 'X-Note: one two']);
});

const FILES3 = crlf(
  '--0000', 'Content-Disposition: form-data; name="name"', '', 'Brian Rectanus',
  '--0000', 'Content-Disposition: form-data; name="email"', '', 'brian.rectanus@breach.com',
  '--0000', 'Content-Disposition: form-data; name="image1"; filename="image1.jpg"', 'Content-Type: image/jpeg', '', 'BINARYDATA1',
  '--0000', 'Content-Disposition: form-data; name="image2"; filename="image2.jpg"', 'Content-Type: image/jpeg', '', 'BINARYDATA2',
  '--0000', 'Content-Disposition: form-data; name="image3"; filename="image3.jpg"', 'Content-Type: image/jpeg', '', 'BINARYDATA3',
  '--0000', 'Content-Disposition: form-data; name="test"', '', 'This is test data.',
  '--0000--', '');

test('multipart: SecUploadFileLimit 2 with three files (v2 regression case)', () => {
  const { r, args } = run({ name: '', ct: CT, body: FILES3, options: { fileLimit: 2 }, error: null });
  assert.equal(r.error, null);
  assert.equal(r.flags.fileLimitExceeded, true);
  assert.equal(r.flags.strictError, true);
  const files = r.parts.filter((p) => p.filename !== undefined);
  assert.deepEqual(files.map((f) => [f.name, f.value.length, f.extracted]), [['image1', 11, true], ['image2', 11, true], ['image3', 11, false]]);
  assert.deepEqual(args.map((a) => a[0]), ['name', 'email', 'test']);
});

test('multipart: without file extraction the file limit is not counted (as v2)', () => {
  const { r } = run({ name: '', ct: CT, body: FILES3, options: { fileLimit: 2, extractFiles: false }, error: null });
  assert.equal(r.flags.fileLimitExceeded, false);
  assert.equal(r.flags.strictError, false);
});

test('multipart: a multi-line file at the limit is not flagged (v2 would)', () => {
  const body = crlf('--0000', 'Content-Disposition: form-data; name="f"; filename="a.txt"', '', 'line 1', 'line 2', 'line 3', '--0000--', '');
  const { r } = run({ name: '', ct: CT, body, options: { fileLimit: 1 }, error: null });
  assert.equal(r.flags.fileLimitExceeded, false);
  assert.equal(r.parts[0]?.value, 'line 1\r\nline 2\r\nline 3');
});

test('multipart: SecArgumentsLimit', () => {
  const { r, args } = run({ name: '', ct: CT, body: BRIAN('0000'), options: { argumentsLimit: 1 }, error: null });
  assert.equal(r.error, 'SecArgumentsLimit exceeded');
  assert.deepEqual(args, [['name', 'Brian Rectanus']]);
  assert.equal(r.flags.strictError, false);
});

test('multipart: long values cross v2 line buffers intact, CR at a buffer edge included', () => {
  for (const pad of [4093, 4094, 4095, 4096, 4097, 8190]) {
    const value = 'v'.repeat(pad) + '\r\n' + 'w'.repeat(5000) + '\r' + 'z';
    const body = crlf('--0000', 'Content-Disposition: form-data; name="big"', '', value, '--0000--', '');
    const { r, args } = run({ name: '', ct: CT, body, error: null });
    assert.equal(r.error, null, `pad ${pad}`);
    assert.deepEqual(args, [['big', value]], `pad ${pad}`);
    assert.equal(r.flags.strictError, false, `pad ${pad}`);
  }
});

test('multipart: a part header line of 4096 bytes or more is an error', () => {
  const long = 'X-Long: ' + 'a'.repeat(4096);
  const { r } = run({ name: '', ct: CT, body: crlf('--0000', long, ...CD_A, '--0000--', ''), error: null });
  assert.equal(r.error, 'Multipart parsing error: Multipart: Part header line over 4096 bytes long');
  const exact = 'X-Long: ' + 'a'.repeat(4096 - 10); // 4096 bytes with its CRLF: still v2's full buffer
  assert.equal(run({ name: '', ct: CT, body: crlf('--0000', exact, ...CD_A, '--0000--', ''), error: null }).r.error,
    'Multipart parsing error: Multipart: Part header line over 4096 bytes long');
  const fits = 'X-Long: ' + 'a'.repeat(4096 - 11);
  assert.equal(run({ name: '', ct: CT, body: crlf('--0000', fits, ...CD_A, '--0000--', ''), error: null }).r.error, null);
});

test('multipart: completed parts survive an error for FILES (v2 keeps them)', () => {
  const body = crlf('--0000', 'Content-Disposition: form-data; name="f"; filename="a.php"', '', '<?php system($_GET[1]);', '--0000', 'broken', '');
  const { r, args } = run({ name: '', ct: CT, body, error: null });
  assert.match(r.error ?? '', /colon missing/);
  assert.deepEqual(r.parts.map((p) => p.filename), ['a.php']);
  assert.deepEqual(args, []);
});

test('multipart: linear time on adversarial bodies', () => {
  const b = '-'.repeat(70);
  const lines = ('-'.repeat(200) + '\n').repeat(20_000); // lines that all look like boundaries
  const body = `--${b}\r\nContent-Disposition: form-data; name="x"\r\n\r\n${lines}--${b}--\r\n`;
  const noNewline = `--${b}\r\nContent-Disposition: form-data; name="y"\r\n\r\n${'-'.repeat(4_000_000)}\r\n--${b}--\r\n`;
  const start = Date.now();
  run({ name: '', ct: `multipart/form-data; boundary=${b}`, body, error: null });
  run({ name: '', ct: `multipart/form-data; boundary=${b}`, body: noNewline, error: null });
  assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
});

const byte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
const piece = fc.oneof(
  fc.constantFrom('--0000', '--0000--', '\r\n', '\n', 'Content-Disposition: form-data; name="a"', '; filename="f"', ' ', '\t', ':', '"', "'", '\0', '\r'),
  fc.array(byte, { maxLength: 8 }).map((a) => a.join('')),
);

test('multipart property: any body gives a result, never an exception; errors add no fields', () => {
  fc.assert(fc.property(fc.array(piece, { maxLength: 30 }).map((a) => a.join('')), fc.constantFrom(CT, 'multipart/form-data; boundary="0000"', 'multipart/form-data; boundary=\'x'), (body, ct) => {
    const args = collectArguments();
    const r = parseMultipart(body, ct, args);
    assert.equal(r.flags.error, r.error !== null);
    if (r.error !== null) assert.equal(args.names.length, 0);
    else assert.equal(args.names.length, r.parts.filter((p) => p.filename === undefined).length);
    for (const p of r.parts) assert.ok(p.value.length <= body.length);
  }), { numRuns: 2000 });
});
