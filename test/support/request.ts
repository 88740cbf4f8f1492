/**
 * @module test/support/request
 * Runs one request through a Waf the way a front end does: connection, request line,
 * headers, phases 1 and 2 (body), optionally the response phases, and logging.
 */
import type { Interruption, Transaction, Waf } from '../../src/engine/index.js';

export interface TestRequest {
  readonly method?: string;
  readonly uri?: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: string;
  readonly remoteAddr?: string;
  readonly response?: { readonly status: number; readonly headers?: ReadonlyArray<readonly [string, string]>; readonly body?: string };
}

export interface TestResult {
  readonly tx: Transaction;
  readonly interruption: Interruption | null;
  /** Ids of the rules that matched (whole chain), in order. */
  readonly matched: number[];
  /** Ids of the rules that logged a match. */
  readonly logged: number[];
}

export async function runRequest(waf: Waf, req: TestRequest = {}): Promise<TestResult> {
  const tx = waf.newTransaction();
  tx.processConnection(req.remoteAddr ?? '192.0.2.10', 40000, '127.0.0.1', 80);
  tx.processRequestLine(req.method ?? 'GET', req.uri ?? '/', 'HTTP/1.1');
  for (const [k, v] of req.headers ?? [['Host', 'example.com']]) tx.addRequestHeader(k, v);
  let it = await tx.processRequestHeaders();
  if (it === null) {
    if (req.body !== undefined) tx.appendRequestBody(req.body);
    it = await tx.processRequestBody();
  }
  if (it === null && req.response !== undefined) {
    tx.setResponseStatus(req.response.status, 'HTTP/1.1');
    for (const [k, v] of req.response.headers ?? []) tx.addResponseHeader(k, v);
    it = await tx.processResponseHeaders();
    if (it === null) {
      if (req.response.body !== undefined) tx.appendResponseBody(req.response.body);
      it = await tx.processResponseBody();
    }
  }
  await tx.processLogging();
  return { tx, interruption: it, matched: tx.matchedRules.map((r) => r.id), logged: tx.matches.map((m) => m.ruleId) };
}
