/**
 * @module admin/delta
 * What a worker tells the primary about the requests it served since its last report, as
 * plain data for node:cluster's IPC: counter increments, histogram bucket increments, the
 * interval's counts for the dashboard's graphs and top lists, and its recent blocks. The
 * primary adds them up (admin/metrics, admin/history), so counters never go backwards when
 * a worker dies or is replaced; a worker's last second at most is lost with it.
 *
 * Histogram bounds live here because both sides must agree on them.
 */
import type { WafEvent } from '../engine/events.js';

/** WAF time per phase, seconds: CRS phases take tens of µs to a few ms. */
export const PHASE_SECONDS_BOUNDS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Upstream time to the response head, seconds. */
export const UPSTREAM_SECONDS_BOUNDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** CRS's inbound anomaly score: notice 2, warning 3, error 4, critical 5; the default threshold is 5. */
export const ANOMALY_SCORE_BOUNDS: readonly number[] = [0, 2, 3, 4, 5, 7, 10, 15, 20, 25, 50, 100];

/** The histograms workers fill, with their bounds and the one label each has. */
export const HISTOGRAMS = {
  phase: { bounds: PHASE_SECONDS_BOUNDS, label: 'phase' },
  upstream: { bounds: UPSTREAM_SECONDS_BOUNDS, label: 'upstream' },
  score: { bounds: ANOMALY_SCORE_BOUNDS, label: null },
} as const;

export type HistogramName = keyof typeof HISTOGRAMS;

/** How a request ended, as `warden_requests_total` labels it. */
export type Verdict = 'pass' | 'deny' | 'drop' | 'redirect' | 'banned' | 'rejected';

/** Increments of one histogram series: per bucket (not cumulative; the last is +Inf), sum and count. */
export interface HistogramDelta {
  readonly name: HistogramName;
  /** The value of its label ('' when it has none). */
  readonly label: string;
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** The dashboard's graphed counts for an interval. */
export interface IntervalCounts {
  /** Every request: transactions and refusals. */
  requests: number;
  /** Stopped by a rule (deny, drop, redirect). */
  blocked: number;
  /** Refused because the client is banned. */
  banned: number;
  /** Refused for its framing before the engine (400, 505 …). */
  rejected: number;
  /** Sent to an upstream. */
  upstream: number;
}

/** A blocked (or, in DetectionOnly, matched) transaction, for the live list. */
export interface RecentEvent extends WafEvent {
  /** The worker that served it: it keeps what is needed to explain it. */
  readonly pid: number;
  readonly listener: string;
}

/** [label values…, increment] */
export type LabelledCount = readonly [string, number];

export interface MetricsDelta {
  readonly pid: number;
  /** [listener, route, verdict, status, increment] */
  readonly requests: ReadonlyArray<readonly [string, string, Verdict, string, number]>;
  readonly counts: IntervalCounts;
  /** By the rule that stopped the request. */
  readonly blocksByRule: readonly LabelledCount[];
  /** By tag of the rules that matched in a blocked transaction (each tag once per block). */
  readonly blocksByTag: readonly LabelledCount[];
  /** Logged matches by rule, blocked or not. */
  readonly ruleMatches: readonly LabelledCount[];
  /** REQBODY_ERROR by body processor. */
  readonly bodyErrors: readonly LabelledCount[];
  readonly histograms: readonly HistogramDelta[];
  /** The interval's blocked and banned requests by client and path, and matched rules (bounded). */
  readonly tops: { readonly rule: readonly LabelledCount[]; readonly client: readonly LabelledCount[]; readonly path: readonly LabelledCount[] };
  readonly events: readonly RecentEvent[];
  /** Events not sent because the interval had too many. */
  readonly eventsDropped: number;
  readonly logWriteErrors: number;
  readonly logRecordsDropped: number;
}

/** Worker → primary: the report, and an answer to an explanation request. */
export type FromWorkerAdmin =
  | { readonly kind: 'admin-metrics'; readonly delta: MetricsDelta }
  | { readonly kind: 'admin-explained'; readonly request: number; readonly result: unknown };

/** Primary → worker: explain a transaction it keeps. */
export type ToWorkerAdmin = { readonly kind: 'admin-explain'; readonly request: number; readonly id: string };
