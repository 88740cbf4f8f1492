/**
 * @module engine/events
 * What a finished transaction tells the rest of Warden, as plain data: the ban engine's WAF
 * source, metrics and the dashboard read it; nothing in it refers back to the engine. A
 * verdict leaves the engine as this event, never as a call into another part.
 */
import type { Transaction } from './transaction.js';

export interface WafEvent {
  /** UNIQUE_ID. */
  readonly id: string;
  /** Unix ms when the transaction began. */
  readonly time: number;
  /** The real client (REMOTE_ADDR). */
  readonly clientAddress: string;
  readonly method: string;
  readonly host: string;
  /** The request target as received. */
  readonly uri: string;
  /** The status the client got (the rule's status when Warden answered). */
  readonly status: number;
  /** True when Warden stopped the request (deny, drop, redirect, body limit). */
  readonly blocked: boolean;
  /** The disruptive action that stopped it, or 'pass'. */
  readonly action: 'deny' | 'drop' | 'redirect' | 'pass';
  /** The rule that stopped it (0: none, or an engine limit such as a body too large). */
  readonly ruleId: number;
  /** Ids of the rules that logged a match, in order (duplicates removed). */
  readonly ruleIds: readonly number[];
  /** Tags of those rules (duplicates removed). */
  readonly tags: readonly string[];
  /** CRS's inbound anomaly score when CRS ran, else 0. */
  readonly anomalyScore: number;
  /** REQBODY_ERROR: the body could not be parsed. */
  readonly bodyError: boolean;
  readonly userAgent: string;
}

/**
 * The event of a transaction, once its response is known (`status` as sent; when Warden
 * answered, the interruption's).
 *
 * @example
 * const event = wafEvent(tx, res.statusCode);
 * bans.reportWafEvent(event);
 */
export function wafEvent(tx: Transaction, status: number): WafEvent {
  const it = tx.interruption;
  const ruleIds: number[] = [];
  const tags = new Set<string>();
  for (const m of tx.matches) {
    if (!ruleIds.includes(m.ruleId)) ruleIds.push(m.ruleId);
    for (const t of m.tags) tags.add(t);
  }
  const header = (name: string): string => tx.requestHeaders.find((h) => h.key.toLowerCase() === name)?.value ?? '';
  const score = Number(tx.tx.get('blocking_inbound_anomaly_score')?.value ?? tx.tx.get('anomaly_score')?.value ?? 0);
  return {
    id: tx.id,
    time: tx.timestamp,
    clientAddress: tx.remoteAddr?.value ?? '',
    method: tx.requestMethod?.value ?? '',
    host: header('host'),
    uri: tx.requestUriRaw?.value ?? '',
    status: it?.status ?? status,
    blocked: it !== null,
    action: it?.action ?? 'pass',
    ruleId: it?.ruleId ?? 0,
    ruleIds,
    tags: [...tags],
    anomalyScore: Number.isFinite(score) ? score : 0,
    bodyError: tx.reqbodyError,
    userAgent: header('user-agent'),
  };
}
