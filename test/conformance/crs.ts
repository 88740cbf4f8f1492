/**
 * @module test/conformance/crs
 * The OWASP CRS v4 regression suite (../shared/crs/tests/regression/tests, go-ftw format)
 * against Warden in process: CRS loaded as the CRS project tests ModSecurity v2
 * (ftw/crs-test-setup.conf, then crs-setup.conf.example and rules/*.conf), a node:http
 * server on loopback (ftw/server), and each stage sent as go-ftw sends it — raw bytes on a
 * fresh TCP connection — then checked as go-ftw checks it: expected error, status, response
 * text, and the rule ids and regexes of the error-log lines the request produced.
 * Warden's overrides (crs-overrides.yaml, go-ftw's format, each with its reason) replace the
 * expected output of the tests they name.
 *
 *   npm run conformance:crs -- [--rule 920100] [--test 920100-4] [--verbose] [--no-overrides]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Waf } from '../../src/engine/index.js';
import { sharedSuite } from '../support/shared.js';
import { ClientError, sendRaw, type ClientResponse } from './ftw/client.js';
import { buildRequest } from './ftw/request.js';
import { startServer, type InProcessServer } from './ftw/server.js';
import { applyOverrides, findTestFiles, readOverrides, readTestFile, type FtwTest, type Stage, type StageOutput } from './ftw/suite.js';

export const SETUP_FILE = fileURLToPath(new URL('./ftw/crs-test-setup.conf', import.meta.url));
export const OVERRIDES_FILE = fileURLToPath(new URL('./crs-overrides.yaml', import.meta.url));

export interface CrsOptions {
  /** Apply crs-overrides.yaml (default true). */
  readonly overrides?: boolean;
  /** Only tests whose id (`920100-4`) this matches. */
  readonly include?: RegExp;
}

export interface TestFailure {
  readonly ruleId: number;
  readonly testId: number;
  readonly stage: number;
  readonly reason: string;
}

export interface CrsResult {
  passed: number;
  failed: number;
  skipped: number;
  /** Tests whose expected output an override replaced (counted in passed/failed). */
  overridden: Array<{ id: string; reason: string; passed: boolean }>;
  failures: TestFailure[];
  /** Harness faults (handler exceptions): always a failure of the run. */
  faults: string[];
  /** Tests that failed a stage and passed its retry (retry_once): in process nothing should be flaky. */
  retried: string[];
  tests: number;
  seconds: number;
  loadSeconds: number;
}

// go-ftw's rule-id patterns for log lines: [id "N"], with or without escaped quotes, or JSON.
const STD_ID = /\[(?:id |\\?"id\\?":)\\?"(\d+)\\?"\]/g;
const JSON_ID = /(?:\{|,)\s*"(?:id|ruleId)":\s*"?(\d+)"?/g;

function triggeredRules(lines: readonly string[]): number[] {
  const ids = new Set<number>();
  for (const line of lines) {
    let matches = [...line.matchAll(STD_ID)];
    if (matches.length === 0) matches = [...line.matchAll(JSON_ID)];
    for (const m of matches) ids.add(Number(m[1]));
  }
  return [...ids].sort((a, b) => a - b);
}

/** A Go (RE2) pattern as a JS RegExp: a leading `(?flags)` group becomes flags. */
function goRegex(pattern: string): RegExp {
  const m = /^\(\?([imsU]+)\)/.exec(pattern);
  if (m === null) return new RegExp(pattern);
  const flags = [...(m[1] as string)].filter((f) => f === 'i' || f === 's').join('');
  return new RegExp(pattern.slice(m[0].length), flags);
}

/** go-ftw's checkResult: the reason a stage failed, or null when it passed. */
function check(expected: StageOutput, response: ClientResponse | null, error: Error | null, lines: readonly string[]): string | null {
  if (expected.expectError) return error !== null ? null : `expected an error, got status ${response?.status ?? '?'}`;
  if (error !== null) return `unexpected error: ${error.message}`;
  if (response === null) return 'no response';
  if (expected.status !== 0 && expected.status !== response.status) return `status ${response.status}, expected ${expected.status}`;
  if (expected.responseContains !== '' && !goRegex(expected.responseContains).test(response.raw)) {
    return `response does not match /${expected.responseContains}/`;
  }
  const log = expected.log;
  const ids = triggeredRules(lines);
  const seen = `logged [${ids.join(', ')}] (status ${response.status})`;
  if (log.matchRegex !== '' && !lines.some((l) => goRegex(log.matchRegex).test(l))) return `no log line matches /${log.matchRegex}/; ${seen}`;
  const missing = log.expectIds.filter((id) => !ids.includes(id));
  if (missing.length > 0) return `missing ${missing.join(', ')}; ${seen}`;
  if (expected.isolated && ids.length !== 1) return `isolated, but ${seen}`;
  if (log.noMatchRegex !== '' && lines.some((l) => goRegex(log.noMatchRegex).test(l))) return `a log line matches /${log.noMatchRegex}/; ${seen}`;
  const unexpected = log.noExpectIds.filter((id) => ids.includes(id));
  if (unexpected.length > 0) return `unexpected ${unexpected.join(', ')}; ${seen}`;
  return null;
}

async function runStage(server: InProcessServer, stage: Stage): Promise<string | null> {
  const input = stage.input;
  // Not in the suite today; refused loudly rather than run differently from go-ftw.
  if (input.protocol !== 'http') return `protocol ${input.protocol} is not supported in process`;
  if (input.followRedirect) return 'follow_redirect is not supported in process';
  let bytes: string;
  try {
    bytes = buildRequest(input);
  } catch (err) {
    return `cannot build the request: ${(err as Error).message}`;
  }
  const mark = server.errorLog.length;
  let response: ClientResponse | null = null;
  let error: Error | null = null;
  try {
    // dest_addr and port name the WAF under test; in process that is this server.
    response = await sendRaw('127.0.0.1', server.port, bytes);
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    error = err;
  }
  await server.settle();
  return check(stage.output, response, error, server.errorLog.slice(mark));
}

/** Loads the suite's tests with the overrides applied; null when the suite is absent (outside CI). */
export function loadCrsTests(options: CrsOptions = {}): { tests: FtwTest[]; crsDir: string } | null {
  const crsDir = sharedSuite('crs');
  if (crsDir === null) return null;
  const overrides = options.overrides === false ? [] : readOverrides(OVERRIDES_FILE);
  const tests: FtwTest[] = [];
  for (const file of findTestFiles(join(crsDir, 'tests/regression/tests'))) {
    for (const t of readTestFile(file)) {
      if (options.include !== undefined && !options.include.test(`${t.ruleId}-${t.testId}`)) continue;
      applyOverrides(t, overrides);
      tests.push(t);
    }
  }
  return { tests, crsDir };
}

/** Runs the suite; null when it is absent outside CI. */
export async function runCrs(options: CrsOptions = {}): Promise<CrsResult | null> {
  const loaded = loadCrsTests(options);
  if (loaded === null) return null;
  const { tests, crsDir } = loaded;
  const started = performance.now();
  const waf = Waf.fromFiles([SETUP_FILE, join(crsDir, 'crs-setup.conf.example'), join(crsDir, 'rules/*.conf')]);
  const loadSeconds = (performance.now() - started) / 1000;
  const server = await startServer(waf);
  const result: CrsResult = { passed: 0, failed: 0, skipped: 0, overridden: [], failures: [], faults: server.faults, retried: [], tests: tests.length, seconds: 0, loadSeconds };
  try {
    for (const test of tests) {
      if (test.stages.length === 0) {
        result.skipped++;
        continue;
      }
      let failure: TestFailure | null = null;
      for (let i = 0; i < test.stages.length && failure === null; i++) {
        const stage = test.stages[i] as Stage;
        let reason = await runStage(server, stage);
        if (reason !== null && stage.output.retryOnce) {
          reason = await runStage(server, stage);
          if (reason === null) result.retried.push(`${test.ruleId}-${test.testId}`);
        }
        if (reason !== null) failure = { ruleId: test.ruleId, testId: test.testId, stage: i, reason };
      }
      if (failure === null) result.passed++;
      else {
        result.failed++;
        result.failures.push(failure);
      }
      if (test.overridden !== null) result.overridden.push({ id: `${test.ruleId}-${test.testId}`, reason: test.overridden, passed: failure === null });
    }
  } finally {
    await server.close();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

export function summaryLine(r: CrsResult): string {
  return `crs: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`;
}

/** Failures grouped by rule, one line per rule (with every reason when verbose). */
export function reportLines(r: CrsResult, verbose: boolean): string[] {
  const out: string[] = [];
  const byRule = new Map<number, TestFailure[]>();
  for (const f of r.failures) byRule.set(f.ruleId, [...(byRule.get(f.ruleId) ?? []), f]);
  for (const [rule, fails] of [...byRule].sort((a, b) => a[0] - b[0])) {
    out.push(`  FAIL ${rule}: tests ${fails.map((f) => f.testId).join(', ')}`);
    for (const f of verbose ? fails : fails.slice(0, 1)) out.push(`    ${rule}-${f.testId}${f.stage > 0 ? ` stage ${f.stage}` : ''}: ${f.reason}`);
  }
  for (const o of r.overridden) {
    const reason = o.reason.replace(/\s+/g, ' ').trim();
    out.push(`  overridden ${o.id} (${o.passed ? 'passes' : 'FAILS'}): ${verbose || reason.length <= 110 ? reason : `${reason.slice(0, 110)}…`}`);
  }
  if (r.retried.length > 0) out.push(`  passed only when retried (retry_once): ${r.retried.join(', ')}`);
  for (const f of r.faults) out.push(`  HARNESS FAULT ${f}`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const rule = value('--rule');
  const test = value('--test');
  const include = test !== undefined ? new RegExp(`^(?:${test})$`) : rule !== undefined ? new RegExp(`^(?:${rule})-`) : undefined;
  const r = await runCrs({ overrides: !args.includes('--no-overrides'), include });
  if (r === null) {
    console.log('crs: suite absent (../shared/crs), skipped');
  } else {
    for (const l of reportLines(r, args.includes('--verbose'))) console.log(l);
    console.log(`crs: ${r.tests} tests in ${r.seconds.toFixed(1)} s (rules loaded in ${r.loadSeconds.toFixed(1)} s)`);
    console.log(summaryLine(r));
    process.exitCode = r.failed === 0 && r.faults.length === 0 ? 0 : 1;
  }
}
