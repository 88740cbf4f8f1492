/**
 * @module bench/lib/request
 * One request through a Waf in process, as the proxy drives it (phases 1-5, a 200 HTML
 * response when nothing interrupts), with every string made fresh as it would arrive from
 * the network: the engine benchmarks measure what a request costs, not a warm string cache.
 */
import type { Waf } from '../../src/engine/index.js';
import type { TraceEvent } from '../../src/engine/transaction.js';

/** A request to replay: bytes as latin1 strings. */
export interface BenchRequest {
  readonly name: string;
  readonly method: string;
  readonly uri: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body?: string;
}

/** A fresh copy of a string, as it would arrive from the network. */
export const fresh = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

/** Runs the request through every phase; resolves with the status it would get. */
export async function runRequest(waf: Waf, r: BenchRequest, trace?: (e: TraceEvent) => void): Promise<number> {
  const tx = waf.newTransaction(trace === undefined ? undefined : { trace });
  tx.processConnection('198.51.100.7', 50123, '127.0.0.1', 8080);
  tx.processRequestLine(fresh(r.method), fresh(r.uri), 'HTTP/1.1');
  for (const [k, v] of r.headers) tx.addRequestHeader(fresh(k), fresh(v));
  let it = await tx.processRequestHeaders();
  if (it === null) {
    if (r.body !== undefined) tx.appendRequestBody(Buffer.from(r.body, 'latin1'));
    it = await tx.processRequestBody();
  }
  if (it === null) {
    tx.setResponseStatus(200, 'HTTP/1.1');
    tx.addResponseHeader('Content-Type', 'text/html; charset=UTF-8');
    it = await tx.processResponseHeaders();
  }
  await tx.processLogging();
  return it?.status ?? 200;
}
