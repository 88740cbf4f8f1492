/**
 * @module test/conformance/libinjection
 * Runs libinjection's own test files (../shared/libinjection/tests) against Warden's
 * detectors the way libinjection's testdriver does — SQL token streams, folding, SQLi
 * fingerprints, HTML5 token streams — and its sample corpora (data/) the way its reader
 * does, with libinjection's own thresholds: at most 18 misses over data/sqli-*.txt, at
 * most 21 hits in data/false_positives.txt, at most 18 misses over data/xss-*.txt.
 *
 * Files are read as bytes (latin1), like the C programs read them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  FLAG_QUOTE_NONE,
  FLAG_SQL_ANSI,
  TYPE_STRING,
  TYPE_VARIABLE,
  createSqliState,
  detectSqli,
  sqliFold,
  sqliInit,
  sqliTokenize,
  tokenValue,
  type SqliToken,
} from '../../src/detect/sqli.js';
import { createHtml5State, html5Init, html5Next, html5TypeNames, START_DATA } from '../../src/detect/html5.js';
import { detectXss } from '../../src/detect/xss.js';
import { sharedSuite } from '../support/shared.js';

export interface CorpusResult {
  file: string;
  /** Lines tested (not blank, not comments). */
  lines: number;
  /** Lines the detector flagged. */
  detected: number;
}

export interface Threshold {
  name: string;
  /** What is counted: misses of attack corpora, or hits of the benign one. */
  what: 'missed' | 'flagged';
  limit: number;
  actual: number;
  ok: boolean;
}

export interface LibinjectionResult {
  passed: number;
  failed: number;
  failures: string[];
  /** Per test family (tokens, folding, sqli, html5, xss): passed / failed. */
  families: Map<string, { passed: number; failed: number }>;
  corpora: CorpusResult[];
  thresholds: Threshold[];
  /** Corpus files libinjection's own runs include that this copy lacks. */
  absentCorpora: string[];
}

/** libinjection's modp_rtrim: trailing space, tab, CR, LF. */
function rtrim(s: string): string {
  let n = s.length;
  while (n > 0) {
    const c = s.charCodeAt(n - 1);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) break;
    n--;
  }
  return s.slice(0, n);
}

/** Splits a test file into its --TEST--, --INPUT--, --EXPECTED-- parts, as testdriver.c does. */
function parseTestFile(text: string): { input: string; expected: string } | null {
  const parts = ['', '', ''];
  let section = -1;
  const markers = ['--TEST--', '--INPUT--', '--EXPECTED--'];
  for (const line of text.split(/(?<=\n)/)) {
    const next = section + 1;
    if (next < 3 && line === `${markers[next]}\n`) {
      section = next;
      continue;
    }
    if (section < 0) return null;
    parts[section] += line;
  }
  if (section !== 2) return null;
  return { input: rtrim(parts[1] ?? ''), expected: rtrim(parts[2] ?? '') };
}

/** A C string: the bytes up to the first NUL. */
function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** One token as testdriver.c prints it. */
function printToken(t: SqliToken): string {
  let out = `${String.fromCharCode(t.type)} `;
  if (t.type === TYPE_VARIABLE) out += '@'.repeat(t.count >= 2 ? 2 : t.count >= 1 ? 1 : 0);
  const quoted = t.type === TYPE_STRING || t.type === TYPE_VARIABLE;
  if (quoted && t.strOpen !== 0) out += String.fromCharCode(t.strOpen);
  out += tokenValue(t);
  if (quoted && t.strClose !== 0) out += String.fromCharCode(t.strClose);
  return `${out}\n`;
}

const sqliState = createSqliState();
const html5State = createHtml5State();

/** What libinjection's testdriver would print for this family and input. */
function actualOutput(family: string, input: string): string {
  let out = '';
  switch (family) {
    case 'tokens':
      sqliInit(sqliState, input, FLAG_QUOTE_NONE | FLAG_SQL_ANSI);
      while (sqliTokenize(sqliState)) out += printToken(sqliState.current);
      break;
    case 'folding': {
      sqliInit(sqliState, input, FLAG_QUOTE_NONE | FLAG_SQL_ANSI);
      const n = sqliFold(sqliState);
      for (let i = 0; i < n; i++) out += printToken(sqliState.tokens[i] as SqliToken);
      break;
    }
    case 'sqli':
      out = detectSqli(input) ?? '';
      break;
    case 'html5':
      html5Init(html5State, input, START_DATA);
      while (html5Next(html5State)) {
        const { tokenStart: at, tokenLen: n, tokenType: type } = html5State;
        out += `${html5TypeNames[type] ?? '?'},${n},${cString(input.slice(at, at + n))}\n`;
      }
      break;
    case 'xss':
      out = detectXss(input) ? '1' : '0';
      break;
    default:
      throw new Error(`unknown libinjection test family ${family}`);
  }
  return rtrim(out);
}

/** libinjection's reader: URL-decodes a corpus line (`+` is a space, bad escapes stay). */
function urlDecode(s: string): string {
  let out = '';
  const hex = (c: number): number => {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    const l = c | 0x20;
    return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : 256;
  };
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      out += ' ';
      i += 1;
    } else if (c === 0x25 && i + 2 < s.length && (hex(s.charCodeAt(i + 1)) << 4 | hex(s.charCodeAt(i + 2))) < 256) {
      out += String.fromCharCode(hex(s.charCodeAt(i + 1)) << 4 | hex(s.charCodeAt(i + 2)));
      i += 3;
    } else {
      out += s[i];
      i += 1;
    }
  }
  return out;
}

/** The lines of a corpus file as the reader tests them. */
export function corpusLines(path: string): string[] {
  const lines: string[] = [];
  for (const raw of readFileSync(path, 'latin1').split('\n')) {
    const line = rtrim(raw);
    if (line === '' || line.startsWith('#')) continue;
    lines.push(urlDecode(line));
  }
  return lines;
}

/** The corpus files of libinjection's own `make check` that may be absent here. */
const UPSTREAM_CORPORA = ['sqli-sqlmap-20130419.txt', 'sqli-sqlmap.txt', 'xss-shazzer.txt'];

function runCorpus(dir: string, file: string, detect: (s: string) => boolean): CorpusResult {
  const lines = corpusLines(join(dir, file));
  let detected = 0;
  for (const line of lines) if (detect(line)) detected++;
  return { file, lines: lines.length, detected };
}

/** Runs every test file and corpus; null when ../shared/libinjection is absent (outside CI). */
export function runLibinjection(): LibinjectionResult | null {
  const root = sharedSuite('libinjection');
  if (root === null) return null;
  const result: LibinjectionResult = {
    passed: 0,
    failed: 0,
    failures: [],
    families: new Map(),
    corpora: [],
    thresholds: [],
    absentCorpora: [],
  };

  const testDir = join(root, 'tests');
  for (const file of readdirSync(testDir).filter((f) => f.startsWith('test-') && f.endsWith('.txt')).sort()) {
    const family = /^test-(tokens|folding|sqli|html5|xss)-/.exec(file)?.[1] ?? 'unknown';
    const counts = result.families.get(family) ?? { passed: 0, failed: 0 };
    result.families.set(family, counts);
    const test = parseTestFile(readFileSync(join(testDir, file), 'latin1'));
    let detail: string | null = null;
    if (test === null) detail = 'not a --TEST--/--INPUT--/--EXPECTED-- file';
    else if (family === 'unknown') detail = 'unknown test type';
    else {
      try {
        const actual = actualOutput(family, test.input);
        if (actual !== test.expected) {
          detail = `input ${JSON.stringify(test.input)}: expected ${JSON.stringify(test.expected)}, got ${JSON.stringify(actual)}`;
        }
      } catch (err) {
        detail = `threw ${(err as Error).message}`;
      }
    }
    if (detail === null) {
      result.passed++;
      counts.passed++;
    } else {
      result.failed++;
      counts.failed++;
      result.failures.push(`${file}: ${detail}`);
    }
  }

  const dataDir = join(root, 'data');
  const dataFiles = readdirSync(dataDir).sort();
  result.absentCorpora = UPSTREAM_CORPORA.filter((f) => !dataFiles.includes(f));
  const sqliFiles = dataFiles.filter((f) => f.startsWith('sqli-') && f.endsWith('.txt'));
  const xssFiles = dataFiles.filter((f) => f.startsWith('xss') && f.endsWith('.txt'));
  const fpFiles = dataFiles.filter((f) => f.startsWith('false_') && f.endsWith('.txt'));
  const sqli = (s: string): boolean => detectSqli(s) !== null;

  let sqliMissed = 0;
  for (const f of sqliFiles) {
    const r = runCorpus(dataDir, f, sqli);
    result.corpora.push(r);
    sqliMissed += r.lines - r.detected;
  }
  let flagged = 0;
  for (const f of fpFiles) {
    const r = runCorpus(dataDir, f, sqli);
    result.corpora.push(r);
    flagged += r.detected;
  }
  let xssMissed = 0;
  for (const f of xssFiles) {
    const r = runCorpus(dataDir, f, detectXss);
    result.corpora.push(r);
    xssMissed += r.lines - r.detected;
  }
  const threshold = (name: string, what: Threshold['what'], limit: number, actual: number): Threshold =>
    ({ name, what, limit, actual, ok: actual <= limit });
  result.thresholds.push(
    threshold('data/sqli-*.txt', 'missed', 18, sqliMissed),
    threshold('data/false_positives.txt', 'flagged', 21, flagged),
    threshold('data/xss-*.txt', 'missed', 18, xssMissed),
  );
  return result;
}

/** The lines `npm test` and the stand-alone run print. */
export function reportLines(r: LibinjectionResult, verbose: boolean): string[] {
  const out: string[] = [];
  for (const f of verbose ? r.failures : r.failures.slice(0, 30)) out.push(`  FAIL ${f}`);
  if (!verbose && r.failures.length > 30) out.push(`  … ${r.failures.length - 30} more (--verbose)`);
  out.push(`  tests: ${[...r.families].map(([name, c]) => `${name} ${c.passed}/${c.passed + c.failed}`).join(', ')}`);
  for (const c of r.corpora) {
    const benign = c.file.startsWith('false_');
    const count = benign ? `${c.detected} flagged` : `${c.lines - c.detected} missed`;
    if (verbose || (benign ? c.detected > 0 : c.detected < c.lines)) out.push(`  corpus ${c.file}: ${c.lines} lines, ${count}`);
  }
  for (const t of r.thresholds) {
    out.push(`  ${t.ok ? 'ok' : 'FAIL'} ${t.name}: ${t.actual} ${t.what} (libinjection allows ${t.limit})`);
  }
  if (r.absentCorpora.length > 0) out.push(`  corpora absent here (run upstream): ${r.absentCorpora.join(', ')}`);
  return out;
}

export function summaryLine(r: LibinjectionResult): string {
  const corpus = r.thresholds.map((t) => `${t.name} ${t.actual} ${t.what}/${t.limit}`).join(', ');
  return `libinjection: ${r.passed} passed, ${r.failed} failed; corpora: ${corpus}`;
}

/** Everything passed and every threshold held. */
export function libinjectionOk(r: LibinjectionResult): boolean {
  return r.failed === 0 && r.thresholds.every((t) => t.ok);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = runLibinjection();
  if (r === null) {
    console.log('libinjection: suite absent (../shared/libinjection), skipped');
  } else {
    for (const line of reportLines(r, process.argv.includes('--verbose'))) console.log(line);
    console.log(summaryLine(r));
    process.exitCode = libinjectionOk(r) ? 0 : 1;
  }
}
