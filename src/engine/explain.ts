/**
 * @module engine/explain
 * Why a request got its verdict, rule by rule: the request is evaluated again with tracing
 * on (tracing costs time, so production transactions run without it), and for every rule
 * whose whole chain matched the explanation lists the variable, its value before and after
 * the rule's transformations, and the operator. `warden eval --json` prints this shape;
 * the admin API answers it for a recent transaction a worker kept.
 *
 * Only the request phases (1 and 2) run and phase 5 does not: an explanation never writes
 * persistent collections back, so explaining a request changes nothing in the store.
 */
import { SEVERITY_NAMES } from './rule.js';
import type { Interruption, RuleMatch, TraceEvent } from './transaction.js';
import type { Waf } from './waf.js';

/** A request as the engine received it (bytes as latin1 strings, headers in arrival order). */
export interface RequestToExplain {
  readonly method: string;
  /** The request target as received (`/path?query`). */
  readonly target: string;
  /** `HTTP/1.1` */
  readonly protocol: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
  readonly remoteAddr: string;
  readonly remotePort?: number;
  readonly serverAddr?: string;
  readonly serverPort?: number;
}

/** One evaluated target of a rule that matched (a chain shows each link). */
export interface ExplainedMatch extends TraceEvent {
  /** The rule's msg as written (macros unexpanded); the logged match has it expanded. */
  readonly msg: string | null;
}

/** A rule whose whole chain matched, with what it logged. */
export interface ExplainedRule {
  readonly id: number;
  readonly severity: (typeof SEVERITY_NAMES)[number] | null;
  /** The msg as logged (macros expanded), else as written, else ''. */
  readonly msg: string;
  readonly data: string;
  readonly tags: readonly string[];
  readonly file: string;
  readonly line: number;
  /** True for the rule that stopped the request. */
  readonly decisive: boolean;
  /** Its evaluated targets that matched: variable, raw and transformed value, operator. */
  readonly targets: readonly ExplainedMatch[];
}

export interface Explanation {
  readonly verdict: Interruption | { readonly action: 'pass' };
  readonly request: { readonly method: string; readonly target: string; readonly protocol: string; readonly remoteAddr: string };
  readonly bodyProcessor: string | null;
  readonly bodyError: string | null;
  readonly argsGet: ReadonlyArray<readonly [string, string]>;
  readonly argsPost: ReadonlyArray<readonly [string, string]>;
  /** Every matching trace event of a completely matched rule, in evaluation order (`warden eval --json`). */
  readonly matches: readonly ExplainedMatch[];
  /** The matches the rules logged (ModSecurity's messages). */
  readonly logged: readonly RuleMatch[];
  /** The same, grouped by rule, for people. */
  readonly rules: readonly ExplainedRule[];
  /** CRS's blocking inbound anomaly score, when CRS ran. */
  readonly anomalyScore: string | null;
}

/**
 * Evaluates `request` against `waf` with tracing and explains the verdict.
 *
 * @example
 * const e = await explainRequest(waf, { method: 'GET', target: "/?id=1' or 1=1--", protocol: 'HTTP/1.1', headers: [['Host', 'blog']], body: '', remoteAddr: '203.0.113.9' });
 * e.verdict; // { action: 'deny', status: 403, ruleId: 949110, … }
 * e.rules.map((r) => r.id); // [942100, …, 949110]
 */
export async function explainRequest(waf: Waf, request: RequestToExplain): Promise<Explanation> {
  const trace: TraceEvent[] = [];
  const tx = waf.newTransaction({ trace: (e) => trace.push(e) });
  tx.processConnection(request.remoteAddr, request.remotePort ?? 50000, request.serverAddr ?? '127.0.0.1', request.serverPort ?? 80);
  tx.processRequestLine(request.method, request.target, request.protocol);
  for (const [k, v] of request.headers) tx.addRequestHeader(k, v);
  let it = await tx.processRequestHeaders();
  if (it === null) {
    tx.appendRequestBody(request.body);
    it = await tx.processRequestBody();
  }

  const starters = new Map(waf.rules.filter((r) => r.starter === r).map((r) => [r.id, r]));
  // Only rules whose whole chain matched count as matched; a chain's first rule matching alone does not.
  const complete = new Set(tx.matchedRules.map((r) => r.id));
  const matches: ExplainedMatch[] = trace.filter((e) => e.matched && complete.has(e.ruleId)).map((e) => ({ ...e, msg: starters.get(e.ruleId)?.msg?.source ?? null }));
  const rules: ExplainedRule[] = [];
  for (const m of matches) {
    const last = rules[rules.length - 1];
    if (last !== undefined && last.id === m.ruleId) {
      (last.targets as ExplainedMatch[]).push(m);
      continue;
    }
    const rule = starters.get(m.ruleId);
    const logged = tx.matches.find((x) => x.ruleId === m.ruleId);
    rules.push({
      id: m.ruleId,
      severity: rule !== undefined && rule.severity >= 0 ? (SEVERITY_NAMES[rule.severity] ?? null) : null,
      msg: logged?.msg || rule?.msg?.source || '',
      data: logged?.data ?? '',
      tags: logged?.tags ?? [],
      file: rule?.location.file ?? '',
      line: rule?.location.line ?? 0,
      decisive: it !== null && it.ruleId === m.ruleId,
      targets: [m],
    });
  }
  const score = tx.tx.get('blocking_inbound_anomaly_score');
  return {
    verdict: it ?? { action: 'pass' },
    request: { method: request.method, target: request.target, protocol: request.protocol, remoteAddr: request.remoteAddr },
    bodyProcessor: tx.reqbodyProcessor,
    bodyError: tx.reqbodyError ? tx.reqbodyErrorMsg : null,
    argsGet: tx.argsGet.map((e) => [e.key, e.value] as const),
    argsPost: tx.argsPost.map((e) => [e.key, e.value] as const),
    matches,
    logged: tx.matches,
    rules,
    anomalyScore: score === undefined ? null : score.value,
  };
}
