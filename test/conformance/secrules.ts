/**
 * @module test/conformance/secrules
 * Runs every case of ../shared/secrules-language-tests (operators and transformations)
 * against Warden's operators and transformations, the way ModSecurity's own unit runner
 * (libmodsecurity test/unit) reads them: JSON strings are UTF-8 and reach the runner as C
 * strings (cut at the first NUL byte), then `\xHH` / `\uHHHH` written in `input` and
 * `output` stand for the byte they name; an operator whose parameter is refused at load
 * does not match (the reference runner ignores the load error and evaluates nothing).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getOperator, type MatchContext } from '../../src/engine/operators/index.js';
import { getTransform } from '../../src/engine/transforms/index.js';
import { sharedSuite, utf8ToBytes } from '../support/shared.js';
import { OperatorParamError } from '../../src/engine/operators/index.js';
import { caseDeviations, missingResources } from './secrules-unsupported.js';

interface Case {
  type: 'op' | 'tfn';
  name: string;
  param?: string;
  input: string;
  output?: string;
  ret: number;
  /** A resource the case needs (the reference runner skips it when absent). */
  resource?: string;
}

export interface SuiteResult {
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
  skippedReasons: Map<string, string>;
}

/** ModSecurity's json2bin: `\xHH` then `\uHHHH` written as text become the byte they name. */
function json2bin(bytes: string): string {
  return bytes
    .replace(/\\x([0-9a-zA-Z]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16) & 0xff))
    .replace(/\\u([0-9a-zA-Z]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16) & 0xff));
}

/** A JSON string as the reference runner holds it: its UTF-8 bytes up to the first NUL. */
function cString(text: string): string {
  const bytes = utf8ToBytes(text);
  const nul = bytes.indexOf('\u0000');
  return nul < 0 ? bytes : bytes.slice(0, nul);
}

function show(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

function runCase(c: Case, suiteDir: string): { status: 'pass' | 'fail' | 'skip'; detail?: string } {
  if (c.resource !== undefined) {
    const why = missingResources.get(c.resource);
    if (why !== undefined) return { status: 'skip', detail: why };
  }
  const input = json2bin(cString(c.input));
  if (c.type === 'tfn') {
    const key = c.name.replace(/_/g, '').toLowerCase();
    const t = getTransform(c.name) ?? getTransform(key);
    if (t === undefined) return { status: 'fail', detail: `no transformation t:${c.name}` };
    const expected = json2bin(cString(c.output ?? ''));
    let actual: string;
    try {
      actual = t.fn(input);
    } catch (err) {
      return { status: 'fail', detail: `threw ${(err as Error).message} on ${show(input)}` };
    }
    return actual === expected
      ? { status: 'pass' }
      : { status: 'fail', detail: `t:${c.name}(${show(input)}) = ${show(actual)}, expected ${show(expected)}` };
  }
  const factory = getOperator(c.name);
  if (factory === undefined) return { status: 'fail', detail: `no operator @${c.name}` };
  const param = cString(c.param ?? '');
  const ctx = {
    baseDir: suiteDir,
    readFile(path: string): string {
      const local = path.replace(/^test-cases\/secrules-language-tests\//, '');
      return readFileSync(resolve(suiteDir, local), 'latin1');
    },
  };
  let matched: boolean;
  let op;
  try {
    op = factory(param, ctx);
  } catch (err) {
    if (err instanceof OperatorParamError && c.ret === 0) return { status: 'pass' };
    return { status: 'fail', detail: `@${c.name} ${show(param)} refused at load: ${(err as Error).message}` };
  }
  try {
    const sink: MatchContext = { capturing: true, capture() {}, matchLimitExceeded() {} };
    matched = op.evaluate(input, sink);
  } catch (err) {
    return { status: 'fail', detail: `@${c.name} ${show(param)} threw ${(err as Error).message}` };
  }
  const expected = c.ret === 1;
  return matched === expected
    ? { status: 'pass' }
    : { status: 'fail', detail: `@${c.name} ${show(param)} on ${show(input)}: ${matched ? 'matched' : 'no match'}, expected ${expected ? 'match' : 'no match'}` };
}

/** Runs the whole suite; null when the suite is absent (outside CI only). */
export function runSecrules(): SuiteResult | null {
  const suiteDir = sharedSuite('secrules-language-tests');
  if (suiteDir === null) return null;
  const result: SuiteResult = { passed: 0, failed: 0, skipped: 0, failures: [], skippedReasons: new Map() };
  for (const folder of ['operators', 'transformations']) {
    const dir = join(suiteDir, folder);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const cases = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Case[];
      cases.forEach((c, i) => {
        const deviation = caseDeviations.get(`${folder}/${file}#${i}`);
        const r = deviation === undefined ? runCase(c, suiteDir) : { status: 'skip' as const, detail: deviation };
        if (r.status === 'pass') result.passed++;
        else if (r.status === 'skip') {
          result.skipped++;
          const what = deviation === undefined ? `${c.type === 'op' ? '@' : 't:'}${c.name}` : `${folder}/${file}#${i}`;
          result.skippedReasons.set(what, r.detail ?? '');
        } else {
          result.failed++;
          result.failures.push(`${folder}/${file}#${i}: ${r.detail ?? ''}`);
        }
      });
    }
  }
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = runSecrules();
  if (r === null) {
    console.log('secrules: suite absent (../shared/secrules-language-tests), skipped');
  } else {
    const verbose = process.argv.includes('--verbose');
    for (const f of verbose ? r.failures : r.failures.slice(0, 40)) console.log(`  FAIL ${f}`);
    if (!verbose && r.failures.length > 40) console.log(`  … ${r.failures.length - 40} more (--verbose)`);
    for (const [what, why] of r.skippedReasons) console.log(`  skipped ${what}: ${why}`);
    console.log(`secrules: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
    process.exitCode = r.failed === 0 ? 0 : 1;
  }
}
