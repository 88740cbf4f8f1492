/**
 * @module test/conformance/ftw/suite
 * The go-ftw test format (github.com/coreruleset/ftw-tests-schema) as go-ftw reads it: test
 * files with stages of input and expected output, the defaults go-ftw fills in, and an
 * overrides file whose entries replace a test's expected output (each with its reason).
 *
 * Files are read with YAML's failsafe schema (every scalar a string) and converted field by
 * field, so a header value written `300` stays the text `300` as Go's yaml.v3 keeps it for a
 * string field, and ids written as numbers or strings read the same.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface StageInput {
  readonly destAddr: string;
  readonly port: number;
  readonly protocol: string;
  readonly method: string;
  readonly uri: string;
  readonly version: string;
  /** Headers in the order go-ftw writes them: `ordered_headers` as given, `headers` sorted by name. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** `data` (a Go template, evaluated later) or null. */
  readonly data: string | null;
  /** `encoded_data`, base64, or null. */
  readonly encodedData: string | null;
  /** `encoded_request`: the whole request, base64, sent as is; or null. */
  readonly encodedRequest: string | null;
  /** go-ftw's effective autocomplete_headers (default true; `stop_magic` is its inverse). */
  readonly autocompleteHeaders: boolean;
  readonly saveCookie: boolean;
  readonly followRedirect: boolean;
}

export interface LogExpectations {
  readonly expectIds: readonly number[];
  readonly noExpectIds: readonly number[];
  readonly matchRegex: string;
  readonly noMatchRegex: string;
}

export interface StageOutput {
  /** 0 when no status is expected. */
  readonly status: number;
  readonly responseContains: string;
  readonly log: LogExpectations;
  readonly expectError: boolean;
  readonly retryOnce: boolean;
  readonly isolated: boolean;
}

export interface Stage {
  readonly input: StageInput;
  output: StageOutput;
}

export interface FtwTest {
  readonly ruleId: number;
  readonly testId: number;
  readonly description: string;
  readonly file: string;
  readonly stages: Stage[];
  /** Set when an override replaced the expected output of some stage: its reason. */
  overridden: string | null;
}

export interface Override {
  readonly ruleId: number;
  readonly testIds: readonly number[];
  readonly stageIds: readonly number[];
  readonly reason: string;
  readonly output: StageOutput;
}

export class FtwFormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'FtwFormatError';
  }
}

type Node = string | Node[] | { [key: string]: Node } | null | undefined;

function isMap(n: Node): n is { [key: string]: Node } {
  return typeof n === 'object' && n !== null && !Array.isArray(n);
}

function str(n: Node): string | null {
  // The failsafe schema leaves an empty value as null; Go reads `data:` with no value as nil.
  return typeof n === 'string' ? n : null;
}

function bool(n: Node, fallback: boolean | null): boolean | null {
  if (typeof n !== 'string') return fallback;
  const v = n.toLowerCase();
  if (v === 'true' || v === 'yes' || v === 'on') return true;
  if (v === 'false' || v === 'no' || v === 'off') return false;
  return fallback;
}

function int(n: Node, fallback: number): number {
  if (typeof n !== 'string' || !/^-?\d+$/.test(n.trim())) return fallback;
  return Number(n.trim());
}

function ids(n: Node): number[] {
  if (Array.isArray(n)) return n.map((x) => int(x, NaN)).filter((x) => !Number.isNaN(x));
  if (typeof n === 'string') return [int(n, NaN)].filter((x) => !Number.isNaN(x));
  return [];
}

/** Go's sort.Strings order: by bytes (UTF-8), which for these names is code-unit order. */
function byName(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function readInput(n: Node): StageInput {
  const m = isMap(n) ? n : {};
  let headers: Array<[string, string]>;
  if (Array.isArray(m.ordered_headers)) {
    headers = m.ordered_headers.filter(isMap).map((h) => [str(h.name) ?? '', str(h.value) ?? ''] as [string, string]);
  } else if (isMap(m.headers)) {
    headers = Object.entries(m.headers).map(([k, v]) => [k, str(v) ?? ''] as [string, string]);
    headers.sort(byName);
  } else headers = [];
  // autocomplete_headers wins; otherwise stop_magic is its inverse; default true.
  const autocomplete = bool(m.autocomplete_headers, null);
  const stopMagic = bool(m.stop_magic, null);
  const autocompleteHeaders = autocomplete ?? (stopMagic === null ? true : !stopMagic);
  const encodedRequest = str(m.encoded_request);
  return {
    destAddr: str(m.dest_addr) ?? 'localhost',
    port: int(m.port, 80),
    protocol: str(m.protocol) ?? 'http',
    method: str(m.method) ?? 'GET',
    uri: str(m.uri) ?? '/',
    version: str(m.version) ?? 'HTTP/1.1',
    headers,
    data: str(m.data),
    encodedData: str(m.encoded_data),
    encodedRequest: encodedRequest === '' ? null : encodedRequest,
    autocompleteHeaders,
    saveCookie: bool(m.save_cookie, false) ?? false,
    followRedirect: bool(m.follow_redirect, false) ?? false,
  };
}

function readOutput(n: Node): StageOutput {
  const m = isMap(n) ? n : {};
  const log = isMap(m.log) ? m.log : {};
  const expectIds = ids(log.expect_ids);
  let matchRegex = str(log.match_regex) ?? '';
  let noMatchRegex = str(log.no_match_regex) ?? '';
  // The deprecated top-level log_contains / no_log_contains stand in when log: says nothing.
  const logContains = str(m.log_contains) ?? '';
  const noLogContains = str(m.no_log_contains) ?? '';
  if (logContains !== '' && log.expect_ids === undefined && matchRegex === '') matchRegex = logContains;
  if (noLogContains !== '' && log.no_expect_ids === undefined && noMatchRegex === '') noMatchRegex = noLogContains;
  return {
    status: int(m.status, 0),
    responseContains: str(m.response_contains) ?? '',
    log: { expectIds, noExpectIds: ids(log.no_expect_ids), matchRegex, noMatchRegex },
    expectError: bool(m.expect_error, false) ?? false,
    retryOnce: bool(m.retry_once, false) ?? false,
    isolated: bool(m.isolated, false) ?? false,
  };
}

function parseFile(file: string): Node {
  try {
    return parse(readFileSync(file, 'utf8'), { schema: 'failsafe' }) as Node;
  } catch (err) {
    throw new FtwFormatError(file, (err as Error).message);
  }
}

/** The tests of one file; a file that holds only comments has none. */
export function readTestFile(file: string): FtwTest[] {
  const doc = parseFile(file);
  if (doc === null || doc === undefined) return [];
  if (!isMap(doc)) throw new FtwFormatError(file, 'not a mapping');
  // go-ftw falls back on the first number in the file name when rule_id is missing.
  const ruleId = int(doc.rule_id, int(/\d+/.exec(file.slice(file.lastIndexOf('/') + 1))?.[0] ?? null, 0));
  const tests = Array.isArray(doc.tests) ? doc.tests : [];
  return tests.filter(isMap).map((t, index) => ({
    ruleId,
    // Explicit ids are kept; a test without one is numbered by its position, from 1.
    testId: int(t.test_id ?? t.id, index + 1),
    description: str(t.desc ?? t.description) ?? '',
    file,
    stages: (Array.isArray(t.stages) ? t.stages : []).filter(isMap).map((s) => {
      // The legacy format wraps each stage as `- stage: {input, output}`.
      const stage = isMap(s.stage) ? s.stage : s;
      return { input: readInput(stage.input), output: readOutput(stage.output) };
    }),
    overridden: null,
  }));
}

/** Every `*.yaml` test file under `dir`, in path order. */
export function findTestFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTestFiles(path));
    else if (entry.name.endsWith('.yaml') || entry.name.endsWith('.yml')) out.push(path);
  }
  return out.sort();
}

/** The entries of an overrides file (go-ftw's `--overrides`); each must carry a reason. */
export function readOverrides(file: string): Override[] {
  const doc = parseFile(file);
  if (!isMap(doc)) return [];
  const entries = Array.isArray(doc.test_overrides) ? doc.test_overrides : [];
  return entries.filter(isMap).map((e) => {
    const reason = (str(e.reason) ?? '').trim();
    if (reason === '') throw new FtwFormatError(file, `override of rule ${str(e.rule_id as Node) ?? '?'} has no reason`);
    return { ruleId: int(e.rule_id, 0), testIds: ids(e.test_ids), stageIds: ids(e.stage_ids), reason, output: readOutput(e.output) };
  });
}

/**
 * Applies overrides as go-ftw does: an entry for the test's rule naming the test's id
 * replaces the whole expected output of the named stages (all stages when none are named).
 */
export function applyOverrides(test: FtwTest, overrides: readonly Override[]): void {
  for (const o of overrides) {
    if (o.ruleId !== test.ruleId || !o.testIds.includes(test.testId)) continue;
    test.stages.forEach((stage, index) => {
      if (o.stageIds.length === 0 || o.stageIds.includes(index)) stage.output = o.output;
    });
    test.overridden = o.reason;
  }
}
