/**
 * @module bench/detect
 * Throughput of the libinjection-compatible detectors on libinjection's corpora
 * (../shared/libinjection/data), beside a plain `@rx` rule of similar weight: the CRS
 * 942190 pattern (../shared/crs) compiled with Warden's compileRegex. Also counts garbage
 * collections during each run: the detectors reuse their state, so a run over the whole
 * corpus should need next to none.
 *
 *   node --import tsx bench/detect.ts [--seconds N]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { detectSqli } from '../src/detect/sqli.js';
import { detectXss } from '../src/detect/xss.js';
import { compileRegex } from '../src/engine/regex/index.js';
import { corpusLines } from '../test/conformance/libinjection.js';
import { sharedDir } from '../test/support/shared.js';

const secondsArg = process.argv.indexOf('--seconds');
const seconds = secondsArg >= 0 ? Number(process.argv[secondsArg + 1]) : 1.5;

const dataDir = join(sharedDir, 'libinjection/data');
let files: string[];
try {
  files = readdirSync(dataDir).filter((f) => /^(sqli-|xss-|false_).*\.txt$/.test(f)).sort();
} catch {
  console.log(`bench/detect: ${dataDir} is absent; nothing to measure`);
  process.exit(0);
}

const corpora: Record<string, string[]> = { sqli: [], xss: [], benign: [] };
for (const f of files) {
  const kind = f.startsWith('sqli-') ? 'sqli' : f.startsWith('xss') ? 'xss' : 'benign';
  corpora[kind]?.push(...corpusLines(join(dataDir, f)));
}
const all = [...(corpora.sqli ?? []), ...(corpora.xss ?? []), ...(corpora.benign ?? [])];

/** The @rx of CRS rule 942190 (MSSQL code execution and information gathering). */
function crsPattern(id: string): string | null {
  try {
    const text = readFileSync(join(sharedDir, 'crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf'), 'latin1');
    const at = text.indexOf(`"id:${id},`);
    const line = text.slice(text.lastIndexOf('SecRule ', at), at);
    const m = /"@rx ((?:[^"\\]|\\.)*)"/.exec(line);
    // SecLang unescapes \" inside a double-quoted operator argument.
    return m?.[1]?.replace(/\\"/g, '"') ?? null;
  } catch {
    return null;
  }
}

let gcCount = 0;
const observer = new PerformanceObserver((list) => {
  gcCount += list.getEntries().length;
});
observer.observe({ entryTypes: ['gc'] });

interface Result {
  name: string;
  corpus: string;
  mbPerSecond: number;
  callsPerSecond: number;
  hits: number;
  lines: number;
  gcs: number;
}

async function measure(name: string, corpus: string, lines: string[], fn: (s: string) => boolean): Promise<Result> {
  let bytes = 0;
  for (const l of lines) bytes += l.length;
  let hits = 0;
  for (let i = 0; i < 3; i++) for (const l of lines) fn(l); // warm up
  await new Promise((r) => setTimeout(r, 10)); // let pending gc entries arrive
  gcCount = 0;
  let rounds = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    hits = 0;
    for (const l of lines) if (fn(l)) hits++;
    rounds++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  await new Promise((r) => setTimeout(r, 10));
  return {
    name,
    corpus,
    mbPerSecond: (bytes * rounds) / elapsed / 1e6,
    callsPerSecond: (lines.length * rounds) / elapsed,
    hits,
    lines: lines.length,
    gcs: gcCount,
  };
}

const results: Result[] = [];
const sqli = (s: string): boolean => detectSqli(s) !== null;
results.push(await measure('@detectSQLi', 'sqli-*', corpora.sqli ?? [], sqli));
results.push(await measure('@detectSQLi', 'false_positives', corpora.benign ?? [], sqli));
results.push(await measure('@detectSQLi', 'all', all, sqli));
results.push(await measure('@detectXSS', 'xss-*', corpora.xss ?? [], detectXss));
results.push(await measure('@detectXSS', 'all', all, detectXss));

const pattern = crsPattern('942190');
if (pattern === null) {
  console.log('(CRS 942190 not found under ../shared/crs: no @rx comparison)');
} else {
  const re = compileRegex(pattern);
  results.push(await measure('@rx CRS 942190', 'sqli-*', corpora.sqli ?? [], (s) => re.test(s)));
  results.push(await measure('@rx CRS 942190', 'all', all, (s) => re.test(s)));
}
observer.disconnect();

console.log(`corpus: ${files.length} files from ${dataDir}; ${all.length} lines`);
console.log('operator          corpus            MB/s   calls/s     hits/lines   GCs');
for (const r of results) {
  console.log(
    `${r.name.padEnd(17)} ${r.corpus.padEnd(15)} ${r.mbPerSecond.toFixed(1).padStart(7)} ${Math.round(r.callsPerSecond).toString().padStart(9)} ${`${r.hits}/${r.lines}`.padStart(14)} ${r.gcs.toString().padStart(5)}`,
  );
}
