/**
 * @module jail/sources/waf
 * Warden's own WAF verdicts as a jail source: no log to parse, the event of every finished
 * transaction is checked against each jail's condition (blocked, rule ids, tags, status,
 * anomaly score, body errors) and counts as a failure of its real client when it holds.
 */
import type { WafEvent } from '../../engine/events.js';
import type { Failure } from '../types.js';

/** When a WAF event counts as a failure. Every field given must hold; a list holds when any item does. */
export interface WafCondition {
  /** Only requests Warden stopped (or only those it let through, with false). */
  readonly blocked?: boolean;
  /** One of these rules logged a match or stopped the request. */
  readonly ruleIds?: readonly number[];
  /** One of these tags was on a matching rule (`*` at the end matches a prefix: `attack-*`). */
  readonly tags?: readonly string[];
  /** The client got one of these statuses. */
  readonly status?: readonly number[];
  /** CRS's inbound anomaly score reached this. */
  readonly minScore?: number;
  /** The request body could not be parsed (REQBODY_ERROR). */
  readonly bodyError?: boolean;
}

function tagMatches(pattern: string, tag: string): boolean {
  return pattern.endsWith('*') ? tag.startsWith(pattern.slice(0, -1)) : tag === pattern;
}

/**
 * The part of a condition a transaction's outcome decides (blocked, body error, status),
 * known before its event is made: a worker makes no event for a request that no jail's
 * condition can count (with the default `blocked: true`, every request let through).
 */
export function matchesWafOutcome(c: WafCondition, blocked: boolean, bodyError: boolean, status: number): boolean {
  if (c.blocked !== undefined && blocked !== c.blocked) return false;
  if (c.bodyError !== undefined && bodyError !== c.bodyError) return false;
  return c.status === undefined || c.status.includes(status);
}

/**
 * @example
 * matchesWafCondition({ blocked: true, status: [400, 403] }, event);
 */
export function matchesWafCondition(c: WafCondition, e: WafEvent): boolean {
  if (!matchesWafOutcome(c, e.blocked, e.bodyError, e.status)) return false;
  if (c.minScore !== undefined && e.anomalyScore < c.minScore) return false;
  if (c.ruleIds !== undefined && !c.ruleIds.some((id) => e.ruleId === id || e.ruleIds.includes(id))) return false;
  if (c.tags !== undefined && !c.tags.some((p) => e.tags.some((t) => tagMatches(p, t)))) return false;
  return true;
}

/** A failure for a jail, from an event that met its condition. */
export function wafFailure(e: WafEvent): Failure {
  const why = e.blocked ? `${e.action} ${e.status} by rule ${e.ruleId}` : `status ${e.status}, rules ${e.ruleIds.join(',') || 'none'}`;
  return { address: e.clientAddress, time: e.time, detail: `${why}: ${e.method} ${e.uri} [unique_id ${e.id}]` };
}

/** Routes WAF events to the jails whose condition they meet. */
export class WafSource {
  constructor(
    private readonly jails: ReadonlyArray<{ readonly jail: string; readonly condition: WafCondition }>,
    private readonly report: (jail: string, failure: Failure) => void,
  ) {}

  handle(event: WafEvent): void {
    if (event.clientAddress === '') return;
    for (const j of this.jails) if (matchesWafCondition(j.condition, event)) this.report(j.jail, wafFailure(event));
  }
}
