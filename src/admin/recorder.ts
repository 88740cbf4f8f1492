/**
 * @module admin/recorder
 * A worker's side of the metrics: the proxy reports every finished or refused request here
 * (it is the proxy's observer), the recorder adds it to plain counters and bucket arrays,
 * and once a second the worker sends what accumulated to the primary as one MetricsDelta
 * (admin/delta) and starts again from zero. Nothing here allocates for a request that
 * matched no rule beyond one short key string; prom-client is not used in workers because
 * the primary keeps the totals (a worker that dies takes at most its last second along).
 *
 * Transactions that were blocked or logged matches also go to the recent list
 * (admin/recent, for explanations), to the live events and to the top lists.
 */
import { wafEvent } from '../engine/events.js';
import type { Transaction } from '../engine/transaction.js';
import { HISTOGRAMS, type HistogramDelta, type HistogramName, type IntervalCounts, type LabelledCount, type MetricsDelta, type RecentEvent, type Verdict } from './delta.js';
import { RecentTransactions } from './recent.js';

/**
 * A finished request, as the proxy reports it (structurally the proxy's FinishedExchange;
 * cli passes the recorder as the proxy's observer).
 */
export interface RequestSample {
  readonly tx: Transaction;
  readonly listener: { readonly name: string };
  readonly routeName: string | null;
  readonly upstreamName: string | null;
  readonly sentStatus: number;
  readonly phase1Ms: number;
  readonly phase2Ms: number;
  readonly phase3Ms: number;
  readonly phase4Ms: number;
  readonly phase5Ms: number;
  readonly forwarded: boolean;
  readonly upstreamMs: number;
}

/** Non-cumulative bucket counts of one histogram series (the last bucket is +Inf). */
class Buckets {
  readonly bounds: readonly number[];
  readonly counts: number[];
  sum: number;
  count: number;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
    this.sum = 0;
    this.count = 0;
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    (this.counts as number[])[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/** Keys kept per top list and interval; more distinct keys in one second are not ranked. */
const TOP_KEYS = 1000;
/** Entries of each top list sent per interval. */
const TOP_SENT = 50;
/** Events sent per interval; the rest are counted as dropped (an attack must not flood IPC). */
const EVENTS_SENT = 100;
/** How much of a path the top list keeps. */
const PATH_KEPT = 200;

function bump(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function bumpBounded(map: Map<string, number>, key: string): void {
  const v = map.get(key);
  if (v !== undefined) map.set(key, v + 1);
  else if (map.size < TOP_KEYS) map.set(key, 1);
}

function entries(map: Map<string, number>): LabelledCount[] {
  return [...map];
}

function top(map: Map<string, number>): LabelledCount[] {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, TOP_SENT);
}

function newCounts(): IntervalCounts {
  return { requests: 0, blocked: 0, banned: 0, rejected: 0, upstream: 0 };
}

/** The request's path without its query string, shortened for a top list. */
function pathOf(uri: string): string {
  const q = uri.indexOf('?');
  const path = q < 0 ? uri : uri.slice(0, q);
  return path.length > PATH_KEPT ? path.slice(0, PATH_KEPT) : path;
}

export class WorkerRecorder {
  /** False: requests are not recorded (no admin listener configured). */
  enabled: boolean;
  readonly recent: RecentTransactions;
  private readonly pid: number;
  /** `listener \0 route \0 verdict \0 status` → count */
  private requests!: Map<string, number>;
  private counts!: IntervalCounts;
  private blocksByRule!: Map<string, number>;
  private blocksByTag!: Map<string, number>;
  private ruleMatches!: Map<string, number>;
  private bodyErrors!: Map<string, number>;
  /** Phase 1–5 (index 0 unused). */
  private phases!: Buckets[];
  private upstreams!: Map<string, Buckets>;
  private score!: Buckets;
  private topRules!: Map<string, number>;
  private topClients!: Map<string, number>;
  private topPaths!: Map<string, number>;
  private events!: RecentEvent[];
  private eventsDropped!: number;
  private dirty!: boolean;

  constructor(pid: number = process.pid, recent: RecentTransactions = new RecentTransactions()) {
    this.enabled = true;
    this.recent = recent;
    this.pid = pid;
    // Every interval's state is set by reset (the fields' `!`).
    this.reset();
  }

  private reset(): void {
    this.requests = new Map();
    this.counts = newCounts();
    this.blocksByRule = new Map();
    this.blocksByTag = new Map();
    this.ruleMatches = new Map();
    this.bodyErrors = new Map();
    this.phases = [0, 1, 2, 3, 4, 5].map(() => new Buckets(HISTOGRAMS.phase.bounds));
    this.upstreams = new Map();
    this.score = new Buckets(HISTOGRAMS.score.bounds);
    this.topRules = new Map();
    this.topClients = new Map();
    this.topPaths = new Map();
    this.events = [];
    this.eventsDropped = 0;
    this.dirty = false;
  }

  /** The proxy's observer: a transaction finished (after phase 5 and its log record). */
  exchangeDone(e: RequestSample): void {
    if (!this.enabled) return;
    this.dirty = true;
    const tx = e.tx;
    const it = tx.interruption;
    const verdict: Verdict = it === null ? 'pass' : it.action;
    bump(this.requests, `${e.listener.name}\u0000${e.routeName ?? ''}\u0000${verdict}\u0000${e.sentStatus}`);
    const c = this.counts;
    c.requests++;
    if (it !== null) c.blocked++;
    if (e.forwarded) c.upstream++;
    if (tx.ruleEngine !== 'Off') {
      const p = this.phases;
      if (e.phase1Ms >= 0) (p[1] as Buckets).observe(e.phase1Ms / 1000);
      if (e.phase2Ms >= 0) (p[2] as Buckets).observe(e.phase2Ms / 1000);
      if (e.phase3Ms >= 0) (p[3] as Buckets).observe(e.phase3Ms / 1000);
      if (e.phase4Ms >= 0) (p[4] as Buckets).observe(e.phase4Ms / 1000);
      if (e.phase5Ms >= 0) (p[5] as Buckets).observe(e.phase5Ms / 1000);
      // CRS sets it in its setup rules; without CRS there is no score to observe.
      const score = tx.tx.get('blocking_inbound_anomaly_score');
      if (score !== undefined) {
        const n = Number(score.value);
        if (Number.isFinite(n)) this.score.observe(n);
      }
    }
    if (e.upstreamMs >= 0) {
      const name = e.upstreamName ?? '';
      let b = this.upstreams.get(name);
      if (b === undefined) this.upstreams.set(name, (b = new Buckets(HISTOGRAMS.upstream.bounds)));
      b.observe(e.upstreamMs / 1000);
    }
    if (tx.reqbodyError) bump(this.bodyErrors, tx.reqbodyProcessor ?? 'none');
    if (it === null && tx.matches.length === 0) return;

    const event = wafEvent(tx, e.sentStatus);
    for (const id of event.ruleIds) {
      const key = String(id);
      bump(this.ruleMatches, key);
      bumpBounded(this.topRules, key);
    }
    if (it !== null) {
      bump(this.blocksByRule, String(it.ruleId));
      for (const tag of event.tags) bump(this.blocksByTag, tag);
      bumpBounded(this.topClients, event.clientAddress);
      bumpBounded(this.topPaths, pathOf(event.uri));
    }
    if (this.events.length < EVENTS_SENT) this.events.push({ ...event, pid: this.pid, listener: e.listener.name });
    else this.eventsDropped++;
    this.recent.keep(tx, e.sentStatus);
  }

  /**
   * The proxy's observer: a request refused before the engine, by the ban list (`banned`)
   * or for its framing. Status 0: the connection was closed unanswered.
   */
  refused(listener: string, status: number, banned: boolean, client: string): void {
    if (!this.enabled) return;
    this.dirty = true;
    bump(this.requests, `${listener}\u0000\u0000${banned ? 'banned' : 'rejected'}\u0000${status}`);
    this.counts.requests++;
    if (banned) {
      this.counts.banned++;
      bumpBounded(this.topClients, client);
    } else this.counts.rejected++;
  }

  /**
   * What accumulated since the last call, as one report, and a fresh start; null when
   * nothing happened (no message is sent for an idle second).
   */
  take(logs: { readonly writeErrors: number; readonly dropped: number } = { writeErrors: 0, dropped: 0 }): MetricsDelta | null {
    if (!this.dirty && logs.writeErrors === 0 && logs.dropped === 0) return null;
    const histograms: HistogramDelta[] = [];
    const add = (name: HistogramName, label: string, b: Buckets): void => {
      if (b.count > 0) histograms.push({ name, label, counts: b.counts, sum: b.sum, count: b.count });
    };
    for (let phase = 1; phase <= 5; phase++) add('phase', String(phase), this.phases[phase] as Buckets);
    for (const [name, b] of this.upstreams) add('upstream', name, b);
    add('score', '', this.score);
    const delta: MetricsDelta = {
      pid: this.pid,
      requests: [...this.requests].map(([key, n]) => {
        const [listener, route, verdict, status] = key.split('\u0000') as [string, string, Verdict, string];
        return [listener, route, verdict, status, n] as const;
      }),
      counts: this.counts,
      blocksByRule: entries(this.blocksByRule),
      blocksByTag: entries(this.blocksByTag),
      ruleMatches: entries(this.ruleMatches),
      bodyErrors: entries(this.bodyErrors),
      histograms,
      tops: { rule: top(this.topRules), client: top(this.topClients), path: top(this.topPaths) },
      events: this.events,
      eventsDropped: this.eventsDropped,
      logWriteErrors: logs.writeErrors,
      logRecordsDropped: logs.dropped,
    };
    this.reset();
    return delta;
  }
}
