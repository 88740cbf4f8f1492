/**
 * @module admin/recent
 * A worker's memory of its recent interesting transactions (blocked, or with logged
 * matches), so the dashboard can explain one by id: the request as the engine saw it is
 * kept, and explained on demand by evaluating it again with tracing (engine/explain). The
 * request path pays nothing for transactions that matched nothing, and a copy of the
 * request for those that did; tracing itself only runs when someone asks.
 *
 * Bounded by count and by bytes (oldest first out); a body is kept up to BODY_KEPT bytes
 * (a longer one is explained from its start, and the answer says so). The Waf the
 * transaction ran with is held weakly: after a reload the old ruleset may be gone, and the
 * request is explained with the current one (the answer says which).
 */
import { explainRequest, type Explanation, type RequestToExplain } from '../engine/explain.js';
import type { Interruption, RuleMatch, Transaction } from '../engine/transaction.js';
import type { Waf } from '../engine/waf.js';

/** How much of a request body is kept for an explanation. */
export const BODY_KEPT = 64 * 1024;

interface Kept {
  readonly id: string;
  readonly time: number;
  readonly status: number;
  readonly request: RequestToExplain;
  readonly bodyLength: number;
  readonly waf: WeakRef<Waf>;
  readonly verdict: Interruption | null;
  readonly logged: readonly RuleMatch[];
  readonly bytes: number;
}

/** What the admin API answers for a transaction by id. */
export interface TransactionExplanation {
  readonly id: string;
  /** Unix ms when it began. */
  readonly time: number;
  /** The status the client got (0: none). */
  readonly status: number;
  /** What happened when it ran: the verdict and the matches its rules logged. */
  readonly recorded: { readonly verdict: Interruption | { readonly action: 'pass' }; readonly logged: readonly RuleMatch[] };
  /** The request evaluated again with tracing: every matched rule's variables and transformed values. */
  readonly explanation: Explanation;
  /** 'same': the rules it ran with; 'current': those were reloaded away, the current ones explain it. */
  readonly rules: 'same' | 'current';
  /** The body was longer than what is kept; the explanation saw its first BODY_KEPT bytes. */
  readonly bodyTruncated: boolean;
  readonly bodyLength: number;
}

export class RecentTransactions {
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly entries: Map<string, Kept>;
  private bytes: number;

  constructor(maxEntries = 200, maxBytes = 4 * 1024 * 1024) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.entries = new Map();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Keeps what is needed to explain `tx` later (after phase 5). */
  keep(tx: Transaction, status: number): void {
    const headers: Array<readonly [string, string]> = [];
    let bytes = 256;
    for (const h of tx.requestHeaders) {
      headers.push([h.key, h.value]);
      bytes += h.key.length + h.value.length + 32;
    }
    let body = tx.requestBodyChunks.length === 1 ? (tx.requestBodyChunks[0] as string) : tx.requestBodyChunks.join('');
    if (body.length > BODY_KEPT) body = body.slice(0, BODY_KEPT);
    bytes += body.length;
    const request: RequestToExplain = {
      method: tx.requestMethod?.value ?? 'GET',
      target: tx.requestUriRaw?.value ?? '/',
      protocol: tx.requestProtocol?.value ?? 'HTTP/1.1',
      headers,
      body,
      remoteAddr: tx.remoteAddr?.value ?? '',
      remotePort: tx.remotePort,
      serverAddr: tx.serverAddr?.value ?? '',
      serverPort: tx.serverPort,
    };
    bytes += request.target.length;
    const kept: Kept = {
      id: tx.id,
      time: tx.timestamp,
      status,
      request,
      bodyLength: tx.requestBodyLength,
      waf: new WeakRef(tx.waf),
      verdict: tx.interruption,
      logged: tx.matches,
      bytes,
    };
    this.entries.delete(tx.id);
    this.entries.set(tx.id, kept);
    this.bytes += bytes;
    for (const [id, old] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= old.bytes;
    }
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /**
   * Explains the transaction `id`, or null when this worker does not keep it. `current` is
   * the ruleset now in use, for when the one it ran with is gone.
   */
  async explain(id: string, current: Waf | null): Promise<TransactionExplanation | null> {
    const kept = this.entries.get(id);
    if (kept === undefined) return null;
    const same = kept.waf.deref();
    const waf = same ?? current;
    if (waf === undefined || waf === null) return null;
    return {
      id: kept.id,
      time: kept.time,
      status: kept.status,
      recorded: { verdict: kept.verdict ?? { action: 'pass' }, logged: kept.logged },
      explanation: await explainRequest(waf, kept.request),
      rules: same !== undefined ? 'same' : 'current',
      bodyTruncated: kept.bodyLength > kept.request.body.length,
      bodyLength: kept.bodyLength,
    };
  }
}
