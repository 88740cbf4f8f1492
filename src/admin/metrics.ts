/**
 * @module admin/metrics
 * The Prometheus metrics of a Warden (names `warden_…`), kept in the primary. Workers send
 * increments once a second (admin/delta); the primary adds them to prom-client counters
 * and to merged histograms, so the totals are the whole cluster's and never go backwards
 * when a worker dies or a reload replaces it. The ban engine's numbers (bans, lines read
 * by jail sources) are read where they live, in this process.
 *
 * Why not prom-client's AggregatorRegistry: it asks every worker on each scrape and sums
 * what the live workers still have, so a worker's restart makes a counter drop (Prometheus
 * reads that as a reset and rate() jumps); it would also put prom-client's label hashing
 * on every request. Here a worker keeps plain counts and the primary keeps the totals, and
 * the same reports feed the dashboard's history and live list.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { BanManager } from '../jail/ban-manager.js';
import type { BanEvent } from '../jail/types.js';
import { HISTOGRAMS, type HistogramName, type IntervalCounts, type MetricsDelta } from './delta.js';

/** A jail source's counts, as the ban engine keeps them (cli/ban-engine's JailSourceStats). */
export interface SourceCounts {
  readonly jail: string;
  readonly source: string;
  readonly read: number;
  readonly matched: number;
}

export interface MetricsSources {
  readonly manager: BanManager;
  /** Lines read and matched per jail source, read at each scrape. */
  readonly sources?: () => readonly SourceCounts[];
  /** Worker processes alive now. */
  readonly workers?: () => number;
  readonly version?: string;
}

/**
 * A histogram whose buckets are added to from outside (workers' bucket increments), which
 * prom-client's Histogram cannot do (it only observes single values). It speaks the
 * protocol prom-client's Registry asks of a metric: `name`, `get()` and `reset()`.
 */
class MergedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly label: string | null;
  private readonly bounds: readonly number[];
  private readonly series: Map<string, { counts: number[]; sum: number; count: number }>;

  constructor(name: string, help: string, label: string | null, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.label = label;
    this.bounds = bounds;
    this.series = new Map();
  }

  add(label: string, counts: readonly number[], sum: number, count: number): void {
    let s = this.series.get(label);
    if (s === undefined) this.series.set(label, (s = { counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < s.counts.length && i < counts.length; i++) s.counts[i] = (s.counts[i] as number) + (counts[i] as number);
    s.sum += sum;
    s.count += count;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string>; value: number; metricName: string }> }> {
    const values: Array<{ labels: Record<string, string>; value: number; metricName: string }> = [];
    for (const [label, s] of [...this.series].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const base: Record<string, string> = this.label === null ? {} : { [this.label]: label };
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.counts[i] as number;
        values.push({ labels: { ...base, le: String(this.bounds[i]) }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...base, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: base, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: base, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

/** Route '' (no route matched, or refused before routing) is labelled `none`. */
const labelOrNone = (v: string): string => (v === '' ? 'none' : v);

export class AdminMetrics {
  readonly registry: Registry;
  /** Since start, for the status API and `warden status`. */
  readonly totals: IntervalCounts;
  private readonly requests: Counter<'listener' | 'route' | 'verdict' | 'status'>;
  private readonly blocks: Counter<'rule_id'>;
  private readonly blockTags: Counter<'tag'>;
  private readonly ruleMatches: Counter<'rule_id'>;
  private readonly bodyErrors: Counter<'processor'>;
  private readonly bans: Counter<'jail'>;
  private readonly unbans: Counter<'jail' | 'reason'>;
  private readonly logWriteErrors: Counter;
  private readonly logRecordsDropped: Counter;
  private readonly eventsDropped: Counter;
  private readonly histograms: Record<HistogramName, MergedHistogram>;

  constructor(sources: MetricsSources) {
    const registry = new Registry();
    this.registry = registry;
    this.totals = { requests: 0, blocked: 0, banned: 0, rejected: 0, upstream: 0 };
    const registers = [registry];
    this.requests = new Counter({
      name: 'warden_requests_total',
      help: 'Requests by listener, route, verdict (pass, deny, drop, redirect, banned, rejected) and status sent (0: none)',
      labelNames: ['listener', 'route', 'verdict', 'status'],
      registers,
    });
    this.blocks = new Counter({ name: 'warden_blocks_total', help: 'Requests stopped by a rule, by the rule that stopped them', labelNames: ['rule_id'], registers });
    this.blockTags = new Counter({ name: 'warden_block_tags_total', help: 'Requests stopped by a rule, by tag of the rules that matched (each tag once per request)', labelNames: ['tag'], registers });
    this.ruleMatches = new Counter({ name: 'warden_rule_matches_total', help: 'Transactions in which a rule logged a match, by rule (blocked or not)', labelNames: ['rule_id'], registers });
    this.bodyErrors = new Counter({ name: 'warden_body_processor_errors_total', help: 'Request bodies the body processor could not parse (REQBODY_ERROR), by processor', labelNames: ['processor'], registers });
    this.histograms = {
      phase: new MergedHistogram('warden_waf_phase_seconds', 'Time the WAF spent in each phase of a transaction (waiting for the store included)', 'phase', HISTOGRAMS.phase.bounds),
      upstream: new MergedHistogram('warden_upstream_response_seconds', 'Time from sending a request upstream to its response head, by upstream', 'upstream', HISTOGRAMS.upstream.bounds),
      score: new MergedHistogram('warden_anomaly_score', "CRS's inbound anomaly score of transactions where CRS ran", null, HISTOGRAMS.score.bounds),
    };
    // prom-client's Registry asks a metric for name, get() and reset() only; its type union
    // lists its own classes, hence the cast.
    for (const h of Object.values(this.histograms)) registry.registerMetric(h as unknown as Metric);
    const manager = sources.manager;
    new Gauge({
      name: 'warden_bans_active',
      help: 'Bans in force, by jail',
      labelNames: ['jail'],
      registers,
      collect() {
        this.reset();
        for (const s of manager.status()) this.set({ jail: s.name }, s.banned);
      },
    });
    this.bans = new Counter({ name: 'warden_bans_total', help: 'Bans made since start, by jail', labelNames: ['jail'], registers });
    this.unbans = new Counter({ name: 'warden_unbans_total', help: 'Bans ended since start, by jail and reason (expired, manual)', labelNames: ['jail', 'reason'], registers });
    const lines = sources.sources;
    if (lines !== undefined) {
      // The ban engine keeps running totals; each scrape adds what is new since the last.
      const seen = new Map<string, number>();
      const sync = (counter: Counter<'jail' | 'source'>, field: 'read' | 'matched'): void => {
        for (const s of lines()) {
          const key = `${field}\u0000${s.jail}`;
          const step = s[field] - (seen.get(key) ?? 0);
          seen.set(key, s[field]);
          counter.inc({ jail: s.jail, source: s.source }, Math.max(0, step));
        }
      };
      new Counter({
        name: 'warden_jail_lines_read_total',
        help: 'Lines read by jail sources (file, journal), or WAF events received (waf), by jail',
        labelNames: ['jail', 'source'],
        registers,
        collect() {
          sync(this, 'read');
        },
      });
      new Counter({
        name: 'warden_jail_lines_matched_total',
        help: "Lines a jail's filter matched with an address, or WAF events that met its condition, by jail",
        labelNames: ['jail', 'source'],
        registers,
        collect() {
          sync(this, 'matched');
        },
      });
    }
    this.logWriteErrors = new Counter({ name: 'warden_log_write_errors_total', help: 'Error, audit and access log writes that failed (disk full, permissions)', registers });
    this.logRecordsDropped = new Counter({ name: 'warden_log_records_dropped_total', help: 'Log records dropped because the disk could not keep up', registers });
    this.eventsDropped = new Counter({ name: 'warden_events_dropped_total', help: 'Blocked transactions left out of the live list (more than a worker reports per second)', registers });
    const workers = sources.workers;
    if (workers !== undefined) {
      new Gauge({
        name: 'warden_workers',
        help: 'Worker processes serving requests',
        registers,
        collect() {
          this.set(workers());
        },
      });
    }
    new Gauge({ name: 'warden_build_info', help: 'Always 1; the version as a label', labelNames: ['version'], registers }).set({ version: sources.version ?? 'unknown' }, 1);
  }

  /** Adds a worker's report. */
  apply(d: MetricsDelta): void {
    for (const [listener, route, verdict, status, n] of d.requests) this.requests.inc({ listener, route: labelOrNone(route), verdict, status }, n);
    for (const [rule_id, n] of d.blocksByRule) this.blocks.inc({ rule_id }, n);
    for (const [tag, n] of d.blocksByTag) this.blockTags.inc({ tag }, n);
    for (const [rule_id, n] of d.ruleMatches) this.ruleMatches.inc({ rule_id }, n);
    for (const [processor, n] of d.bodyErrors) this.bodyErrors.inc({ processor }, n);
    for (const h of d.histograms) this.histograms[h.name]?.add(h.label, h.counts, h.sum, h.count);
    if (d.logWriteErrors > 0) this.logWriteErrors.inc(d.logWriteErrors);
    if (d.logRecordsDropped > 0) this.logRecordsDropped.inc(d.logRecordsDropped);
    if (d.eventsDropped > 0) this.eventsDropped.inc(d.eventsDropped);
    const t = this.totals;
    t.requests += d.counts.requests;
    t.blocked += d.counts.blocked;
    t.banned += d.counts.banned;
    t.rejected += d.counts.rejected;
    t.upstream += d.counts.upstream;
  }

  /** The ban manager's events (subscribe after it started: bans restored from the store are not new). */
  onBanEvent(e: BanEvent): void {
    if (e.type === 'ban') this.bans.inc({ jail: e.ban.jail });
    else this.unbans.inc({ jail: e.ban.jail, reason: e.reason });
  }

  /** The exposition text for `/metrics`. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
