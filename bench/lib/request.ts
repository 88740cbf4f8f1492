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

/** A request as it has arrived from the network: fresh strings, the body in a Buffer. */
export interface ArrivedRequest {
  readonly method: string;
  readonly uri: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body?: Buffer;
}

/**
 * Makes the copies a request would arrive as. Kept apart from `runArrived` so that a timing
 * of the WAF's work does not include building its input (a 1 MB body's Buffer costs
 * milliseconds of page faults on its own).
 */
export function arrive(r: BenchRequest): ArrivedRequest {
  return {
    method: fresh(r.method),
    uri: fresh(r.uri),
    headers: r.headers.map(([k, v]) => [fresh(k), fresh(v)] as const),
    body: r.body === undefined ? undefined : Buffer.from(r.body, 'latin1'),
  };
}

/** Runs an arrived request through every phase; resolves with the status it would get. */
export async function runArrived(waf: Waf, r: ArrivedRequest, trace?: (e: TraceEvent) => void): Promise<number> {
  const tx = waf.newTransaction(trace === undefined ? undefined : { trace });
  tx.processConnection('198.51.100.7', 50123, '127.0.0.1', 8080);
  tx.processRequestLine(r.method, r.uri, 'HTTP/1.1');
  for (const [k, v] of r.headers) tx.addRequestHeader(k, v);
  let it = await tx.processRequestHeaders();
  if (it === null) {
    if (r.body !== undefined) tx.appendRequestBody(r.body);
    it = await tx.processRequestBody();
  }
  if (it === null) {
    tx.setResponseStatus(200, 'HTTP/1.1');
    tx.addResponseHeader('Content-Type', 'text/html; charset=UTF-8');
    it = await tx.processResponseHeaders();
  }
  // Phase 4 runs for every response in the proxy, read or not (response body access off here).
  if (it === null) it = await tx.processResponseBody();
  await tx.processLogging();
  return it?.status ?? 200;
}

/** Runs the request through every phase, its arrival included. */
export function runRequest(waf: Waf, r: BenchRequest, trace?: (e: TraceEvent) => void): Promise<number> {
  return runArrived(waf, arrive(r), trace);
}
