/**
 * @module http/request-model
 * A Node request (node:http IncomingMessage) as the engine sees it: the one place the proxy
 * and the middleware adapters turn a request into a Transaction. The request target and the
 * headers are taken as Node's parser received them (latin1: one char per byte), headers in
 * arrival order with repeated ones kept (rawHeaders), REMOTE_ADDR the real client.
 */
import type { IncomingMessage } from 'node:http';
import type { Transaction, TransactionOptions } from '../engine/transaction.js';
import type { Waf } from '../engine/waf.js';

/** Where a request came from and where it arrived. `address` is the real client (see client-address). */
export interface ClientInfo {
  readonly address: string;
  readonly port: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/**
 * A Transaction with the connection, request line and headers of `req`; phase 1 has not run.
 *
 * @example
 * const tx = beginTransaction(waf, req, { address: '203.0.113.9', port: 50123, localAddress: '127.0.0.1', localPort: 8080 });
 * const verdict = await tx.processRequestHeaders();
 */
export function beginTransaction(waf: Waf, req: IncomingMessage, client: ClientInfo, options?: TransactionOptions): Transaction {
  const tx = waf.newTransaction(options);
  tx.processConnection(client.address, client.port, client.localAddress, client.localPort);
  tx.processRequestLine(req.method ?? 'GET', req.url ?? '/', `HTTP/${req.httpVersion}`);
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) tx.addRequestHeader(raw[i] as string, raw[i + 1] as string);
  return tx;
}

/** Every value of a header, in arrival order (rawHeaders keeps repeated headers apart). */
export function headerValues(req: IncomingMessage, lowerName: string): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === lowerName) out.push(raw[i + 1] as string);
  return out;
}
