/**
 * @module test/conformance/crs
 * The OWASP CRS v4 regression suite (../shared/crs/tests/regression/tests, go-ftw format)
 * against Warden, and the suites of CRS plugins in the same format (the WordPress plugin's,
 * with the plugin loaded). CRS is loaded as the CRS project tests ModSecurity v2: the test
 * setup (ftw/crs-test-setup.conf), then CRS in its documented order — crs-setup.conf.example,
 * plugins' config and before files, rules/*.conf, plugins' after files — through the same
 * function `warden start` uses (config/rules `ruleFilesFor`). Each stage is sent as go-ftw
 * sends it — raw bytes on a fresh TCP connection — then checked as go-ftw checks it:
 * expected error, status, response text, and the rule ids and regexes of the error-log lines
 * the request produced. Warden's overrides (crs-overrides.yaml, go-ftw's format, each with
 * its reason) replace the expected output of the tests they name.
 *
 * Two modes: in process (here: a node:http server on loopback, ftw/server, running the
 * transaction itself and playing the backend), and over HTTP (crs-http.ts: `warden start`
 * in front of a real albedo-like backend, rule ids read from its error-log file between
 * go-ftw's marker requests).
 *
 *   npm run conformance:crs -- [--http] [--suite crs|wordpress] [--rule 920100] [--test 920100-4]
 *                              [--verbose] [--no-overrides] [--workers N] [--lanes N] [--keep]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ruleFilesFor } from '../../src/config/rules.js';
import type { RulesConfig } from '../../src/config/types.js';
import { Waf } from '../../src/engine/index.js';
import { sharedSuite } from '../support/shared.js';
// A cycle (crs-http uses this module's runner): safe, as neither uses the other while loading.
import { runCrsHttp } from './crs-http.js';
import { check } from './ftw/check.js';
import { ClientError, sendRaw, type ClientResponse } from './ftw/client.js';
import { buildRequest } from './ftw/request.js';
import { startServer, type InProcessServer } from './ftw/server.js';
import { applyOverrides, findTestFiles, readOverrides, readTestFile, type FtwTest, type Stage } from './ftw/suite.js';

export const SETUP_FILE = fileURLToPath(new URL('./ftw/crs-test-setup.conf', import.meta.url));
export const OVERRIDES_FILE = fileURLToPath(new URL('./crs-overrides.yaml', import.meta.url));

/** A go-ftw suite and what it runs against. */
export interface CrsSuite {
  /** Names the suite in the summary line. */
  readonly name: string;
  /** The test files, inside ../shared. */
  readonly tests: string;
  /** CRS plugin directories loaded with CRS (their *-config, *-before, *-after files), inside ../shared. */
  readonly plugins: readonly string[];
  /** Warden's overrides for the suite, or null. */
  readonly overrides: string | null;
}

/** CRS's own regression suite, with Warden's two overrides. */
export const CRS_SUITE: CrsSuite = { name: 'crs', tests: 'crs/tests/regression/tests', plugins: [], overrides: OVERRIDES_FILE };

/**
 * The WordPress rule-exclusions plugin's regression suite, with the plugin in CRS's plugin
 * order and its documented settings (enabled by default; the plugin's CI runs it on the CRS
 * test setup: DetectionOnly, blocking paranoia 4, the test marker).
 */
export const WORDPRESS_SUITE: CrsSuite = {
  name: 'wordpress',
  tests: 'crs-plugins/wordpress-rule-exclusions/tests/regression',
  plugins: ['crs-plugins/wordpress-rule-exclusions/plugins'],
  overrides: null,
};

export const SUITES: Readonly<Record<string, CrsSuite>> = { crs: CRS_SUITE, wordpress: WORDPRESS_SUITE };

export interface CrsOptions {
  /** Which suite (default CRS's own). */
  readonly suite?: CrsSuite;
  /** Apply the suite's overrides (default true). */
  readonly overrides?: boolean;
  /** Only tests whose id (`920100-4`) this matches. */
  readonly include?: RegExp;
}

/**
 * The rules section of a Warden config for the CRS test setup: CRS from `crsDir` with
 * `plugins`, its setup file `crsSetup` (the test setup plus crs-setup.conf.example: see
 * `crsTestFiles`), nothing of Warden's own.
 */
export function crsTestRules(crsDir: string, crsSetup: string, plugins: readonly string[]): RulesConfig {
  return { files: [], crs: crsDir, crsSetup, plugins, before: [], baseline: false, defaults: false, mode: null };
}

/** The rule files of the CRS test setup in load order: the test setup, then CRS as `warden start` loads it. */
export function crsTestFiles(crsDir: string, plugins: readonly string[]): string[] {
  return [SETUP_FILE, ...ruleFilesFor({ rules: crsTestRules(crsDir, join(crsDir, 'crs-setup.conf.example'), plugins) })];
}

export interface TestFailure {
  readonly ruleId: number;
  readonly testId: number;
  readonly stage: number;
  readonly reason: string;
}

export interface CrsResult {
  /** `crs`, `crs (http)`, `wordpress` …: the summary line's name. */
  label: string;
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
  /** What the run measured besides the counts (CPU time by process), for the CLI to print. */
  notes: string[];
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

/** Loads a suite's tests with its overrides applied; null when it is absent (outside CI). */
export function loadCrsTests(options: CrsOptions = {}): { tests: FtwTest[]; crsDir: string; plugins: string[] } | null {
  const suite = options.suite ?? CRS_SUITE;
  const crsDir = sharedSuite('crs');
  const testsDir = sharedSuite(suite.tests);
  const plugins = suite.plugins.map((p) => sharedSuite(p));
  if (crsDir === null || testsDir === null || plugins.includes(null)) return null;
  const overrides = options.overrides === false || suite.overrides === null ? [] : readOverrides(suite.overrides);
  const tests: FtwTest[] = [];
  for (const file of findTestFiles(testsDir)) {
    for (const t of readTestFile(file)) {
      if (options.include !== undefined && !options.include.test(`${t.ruleId}-${t.testId}`)) continue;
      applyOverrides(t, overrides);
      tests.push(t);
    }
  }
  return { tests, crsDir, plugins: plugins as string[] };
}

/** A new result for `tests`, before any has run. */
export function newResult(label: string, tests: number, loadSeconds: number, faults: string[]): CrsResult {
  return { label, passed: 0, failed: 0, skipped: 0, overridden: [], failures: [], faults, retried: [], tests, seconds: 0, loadSeconds, notes: [] };
}

/**
 * Runs every test's stages in order with `runStage` (a stage that fails and says
 * retry_once runs once more, as go-ftw does), counting into `result`. With `lanes` above 1,
 * that many tests run at once (each test's stages stay in order); the lists in `result`
 * come out sorted by rule and test either way.
 */
export async function runTests(tests: readonly FtwTest[], result: CrsResult, runStage: (test: FtwTest, stage: Stage) => Promise<string | null>, lanes = 1): Promise<void> {
  const runTest = async (test: FtwTest): Promise<void> => {
    if (test.stages.length === 0) {
      result.skipped++;
      return;
    }
    let failure: TestFailure | null = null;
    for (let i = 0; i < test.stages.length && failure === null; i++) {
      const stage = test.stages[i] as Stage;
      let reason = await runStage(test, stage);
      if (reason !== null && stage.output.retryOnce) {
        reason = await runStage(test, stage);
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
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tests.length) await runTest(tests[next++] as FtwTest);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, tests.length)) }, lane));
  const byId = (id: string): [number, number] => id.split('-').map(Number) as [number, number];
  const order = (a: [number, number], b: [number, number]): number => a[0] - b[0] || a[1] - b[1];
  result.failures.sort((a, b) => order([a.ruleId, a.testId], [b.ruleId, b.testId]));
  result.retried.sort((a, b) => order(byId(a), byId(b)));
  result.overridden.sort((a, b) => order(byId(a.id), byId(b.id)));
}

/** Runs a suite in process; null when it is absent outside CI. */
export async function runCrs(options: CrsOptions = {}): Promise<CrsResult | null> {
  const loaded = loadCrsTests(options);
  if (loaded === null) return null;
  const { tests, crsDir, plugins } = loaded;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const waf = Waf.fromFiles(crsTestFiles(crsDir, plugins));
  const loadSeconds = (performance.now() - started) / 1000;
  const server = await startServer(waf);
  const result = newResult((options.suite ?? CRS_SUITE).name, tests.length, loadSeconds, server.faults);
  try {
    await runTests(tests, result, (_test, stage) => runStage(server, stage));
  } finally {
    await server.close();
  }
  result.seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  result.notes.push(`CPU ${((used.user + used.system) / 1e6).toFixed(1)} s (one process: rules, server and client)`);
  return result;
}

export function summaryLine(r: CrsResult): string {
  return `${r.label}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`;
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
  const suiteName = value('--suite') ?? 'crs';
  const suite = SUITES[suiteName];
  if (suite === undefined) {
    console.error(`unknown suite ${suiteName}; suites: ${Object.keys(SUITES).join(', ')}`);
    process.exit(2);
  }
  const include = test !== undefined ? new RegExp(`^(?:${test})$`) : rule !== undefined ? new RegExp(`^(?:${rule})-`) : undefined;
  const options = { suite, overrides: !args.includes('--no-overrides'), include };
  let r: CrsResult | null;
  if (args.includes('--http')) {
    const workers = value('--workers');
    const lanes = value('--lanes');
    r = await runCrsHttp({ ...options, workers: workers === undefined ? undefined : Number(workers), lanes: lanes === undefined ? undefined : Number(lanes), keep: args.includes('--keep') });
  } else r = await runCrs(options);
  if (r === null) {
    console.log(`${suite.name}: suite absent (../shared/${suite.tests}), skipped`);
  } else {
    for (const l of reportLines(r, args.includes('--verbose'))) console.log(l);
    console.log(`${r.label}: ${r.tests} tests in ${r.seconds.toFixed(1)} s (rules loaded in ${r.loadSeconds.toFixed(1)} s)`);
    for (const n of r.notes) console.log(`${r.label}: ${n}`);
    console.log(summaryLine(r));
    process.exitCode = r.failed === 0 && r.faults.length === 0 ? 0 : 1;
  }
}
