/**
 * @module audit/types
 * What the front ends (proxy, adapters) hand to the logs when a transaction ends, and the
 * interface of the logs themselves. Writing never blocks the request path and never throws
 * into it: a failed write is counted and reported, the request goes on.
 */
import type { Transaction } from '../engine/transaction.js';

/** The response as the client received it. */
export interface ResponseSummary {
  readonly status: number;
  readonly protocol: string;
  /** In the order sent. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Body bytes sent to the client. */
  readonly bytesSent: number;
  /** True when the connection was closed without a response (drop, client gone). */
  readonly aborted: boolean;
}

/** A request Warden answered before the engine saw it (Node's parser refused it, smuggling). */
export interface RejectedRequest {
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** What could be read of the request head, as bytes (may be empty). */
  readonly rawHead: string;
  readonly status: number;
  /** Why, in words (e.g. "both Content-Length and Transfer-Encoding"). */
  readonly reason: string;
  readonly timestamp: number;
}

export interface WafLogs {
  /** After phase 5: error-log lines, the audit record (per SecAuditEngine) and the access-log line. */
  transactionDone(tx: Transaction, response: ResponseSummary): void;
  /** A request refused before it became a transaction: an audit record and an access-log line. */
  rejected(request: RejectedRequest): void;
  /** Whether rejected() records anything (an audit log or an access log is on): callers skip building the record otherwise. */
  takesRejected(): boolean;
  /** Reopens every file (log rotation: SIGUSR1). */
  reopen(): Promise<void>;
  /** Flushes and closes. */
  close(): Promise<void>;
  /** Writes that failed since start (disk full, permissions), for metrics. */
  readonly writeErrors: number;
}
