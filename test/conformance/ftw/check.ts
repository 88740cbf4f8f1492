/**
 * @module test/conformance/ftw/check
 * go-ftw's verdict on a stage (runner/check_*.go): an expected error, then the status, the
 * response text, and the rule ids and regexes of the error-log lines the request produced
 * (waflog/read.go's patterns for `[id "N"]`, escaped or JSON). Both modes of the runner
 * judge with it: in process the lines are the transaction's own, over HTTP the lines
 * between the stage's log markers.
 */
import type { ClientResponse } from './client.js';
import type { StageOutput } from './suite.js';

// go-ftw's rule-id patterns for log lines: [id "N"], with or without escaped quotes, or JSON.
const STD_ID = /\[(?:id |\\?"id\\?":)\\?"(\d+)\\?"\]/g;
const JSON_ID = /(?:\{|,)\s*"(?:id|ruleId)":\s*"?(\d+)"?/g;

/** The ids of the rules that logged, sorted (go-ftw's TriggeredRules). */
export function triggeredRules(lines: readonly string[]): number[] {
  const ids = new Set<number>();
  for (const line of lines) {
    let matches = [...line.matchAll(STD_ID)];
    if (matches.length === 0) matches = [...line.matchAll(JSON_ID)];
    for (const m of matches) ids.add(Number(m[1]));
  }
  return [...ids].sort((a, b) => a - b);
}

/** A Go (RE2) pattern as a JS RegExp: a leading `(?flags)` group becomes flags. */
export function goRegex(pattern: string): RegExp {
  const m = /^\(\?([imsU]+)\)/.exec(pattern);
  if (m === null) return new RegExp(pattern);
  const flags = [...(m[1] as string)].filter((f) => f === 'i' || f === 's').join('');
  return new RegExp(pattern.slice(m[0].length), flags);
}

/** go-ftw's checkResult: the reason a stage failed, or null when it passed. */
export function check(expected: StageOutput, response: ClientResponse | null, error: Error | null, lines: readonly string[]): string | null {
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
