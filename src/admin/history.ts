/**
 * @module admin/history
 * The dashboard's graphs and top lists over time — the munin picture: requests, blocked
 * by the WAF, refused by a ban, refused for their framing, and sent upstream — kept in the
 * store (store/series) so a restart keeps them. Workers' reports are added to the open
 * buckets in memory and written every few seconds:
 *
 *   10 s buckets, kept 3 hours    the last hour
 *   5 min buckets, kept 8 days    the last day and week
 *   10 min top-list buckets, 8 days  top rules, clients and paths (the 100 largest of each
 *                                 per bucket, rewritten while the bucket is open)
 *
 * A restart loses what was not yet written (a few seconds) and nothing else.
 */
import type { SeriesStore } from '../store/series.js';
import type { IntervalCounts, LabelledCount } from './delta.js';

export const FINE_STEP = 10_000;
export const COARSE_STEP = 300_000;
export const TOP_STEP = 600_000;
const FINE_KEPT = 3 * 3600_000;
const COARSE_KEPT = 8 * 86400_000;
/** Keys a top list holds in memory per bucket (more distinct keys: the smallest are forgotten). */
const TOP_KEYS_HELD = 5000;
/** Keys written per top list and bucket. */
const TOP_KEYS_WRITTEN = 100;

export const RANGES = {
  hour: { span: 3600_000, step: FINE_STEP },
  day: { span: 86400_000, step: COARSE_STEP },
  week: { span: 7 * 86400_000, step: COARSE_STEP },
} as const;

export type RangeName = keyof typeof RANGES;

export const SERIES_NAMES = ['requests', 'blocked', 'banned', 'rejected', 'upstream'] as const satisfies ReadonlyArray<keyof IntervalCounts>;

type TopKind = 'rule' | 'client' | 'path';
const TOP_KINDS: readonly TopKind[] = ['rule', 'client', 'path'];

/** A range of the graph: bucket starts and one value list per series (counts per bucket). */
export interface SeriesView {
  readonly range: RangeName;
  /** Bucket width, ms. */
  readonly step: number;
  readonly from: number;
  readonly to: number;
  /** Bucket starts, Unix ms, oldest first. */
  readonly t: readonly number[];
  readonly series: Readonly<Record<(typeof SERIES_NAMES)[number], readonly number[]>>;
}

export interface TopView {
  readonly range: RangeName;
  readonly rules: ReadonlyArray<{ readonly key: string; readonly count: number }>;
  readonly clients: ReadonlyArray<{ readonly key: string; readonly count: number }>;
  readonly paths: ReadonlyArray<{ readonly key: string; readonly count: number }>;
}

const floor = (t: number, step: number): number => t - (t % step);

export class History {
  private readonly store: SeriesStore;
  private readonly now: () => number;
  /** Counts not yet written, by bucket width then bucket start. */
  private readonly pending: Map<number, Map<number, Map<string, number>>>;
  /** The open top-list bucket. */
  private topBucket: number;
  private tops: Record<TopKind, Map<string, number>>;
  private topsDirty: boolean;
  private lastPurge: number;
  /** Write problems are reported once until a write succeeds again. */
  private failing: boolean;
  private readonly report: (message: string) => void;

  constructor(store: SeriesStore, options: { now?: () => number; report?: (message: string) => void } = {}) {
    this.store = store;
    this.now = options.now ?? Date.now;
    this.report = options.report ?? (() => {});
    this.pending = new Map([
      [FINE_STEP, new Map()],
      [COARSE_STEP, new Map()],
    ]);
    this.topBucket = floor(this.now(), TOP_STEP);
    this.tops = { rule: new Map(), client: new Map(), path: new Map() };
    this.topsDirty = false;
    this.lastPurge = 0;
    this.failing = false;
  }

  /** Adds a worker's interval (counts and top lists) at the current time. */
  add(counts: IntervalCounts, tops: Readonly<Record<TopKind, readonly LabelledCount[]>>): void {
    const now = this.now();
    for (const [step, buckets] of this.pending) {
      const t = floor(now, step);
      let b = buckets.get(t);
      if (b === undefined) buckets.set(t, (b = new Map()));
      for (const name of SERIES_NAMES) if (counts[name] > 0) b.set(name, (b.get(name) ?? 0) + counts[name]);
    }
    const bucket = floor(now, TOP_STEP);
    if (bucket !== this.topBucket) {
      void this.writeTops();
      this.topBucket = bucket;
      this.tops = { rule: new Map(), client: new Map(), path: new Map() };
    }
    for (const kind of TOP_KINDS) {
      const held = this.tops[kind];
      for (const [key, n] of tops[kind]) held.set(key, (held.get(key) ?? 0) + n);
      if (held.size > TOP_KEYS_HELD) {
        // Forget the smallest half: they cannot reach the top of this bucket any more.
        const sorted = [...held].sort((a, b) => b[1] - a[1]).slice(0, TOP_KEYS_HELD / 2);
        this.tops[kind] = new Map(sorted);
      }
      if (tops[kind].length > 0) this.topsDirty = true;
    }
  }

  /** Writes what is pending (the admin calls it every few seconds, before a read, and at stop). */
  async flush(): Promise<void> {
    try {
      for (const [step, buckets] of this.pending) {
        for (const [t, values] of buckets) {
          buckets.delete(t);
          await this.store.addSeries(step, t, values);
        }
      }
      await this.writeTops();
      const now = this.now();
      if (now - this.lastPurge > 600_000) {
        this.lastPurge = now;
        await this.store.purgeSeries(FINE_STEP, now - FINE_KEPT);
        await this.store.purgeSeries(COARSE_STEP, now - COARSE_KEPT);
        await this.store.purgeSeries(TOP_STEP, now - COARSE_KEPT);
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.report(`admin: could not write the dashboard history: ${(err as Error).message}`);
      this.failing = true;
    }
  }

  private async writeTops(): Promise<void> {
    if (!this.topsDirty) return;
    this.topsDirty = false;
    const values = new Map<string, number>();
    for (const kind of TOP_KINDS) {
      const largest = [...this.tops[kind]].sort((a, b) => b[1] - a[1]).slice(0, TOP_KEYS_WRITTEN);
      for (const [key, n] of largest) values.set(`${kind}:${key}`, n);
    }
    await this.store.setSeries(TOP_STEP, this.topBucket, values);
  }

  /** The graph of a range: every bucket of the range, zero where nothing happened. */
  async series(range: RangeName): Promise<SeriesView> {
    await this.flush();
    const { span, step } = RANGES[range];
    const to = floor(this.now(), step) + step;
    const from = to - span;
    const t: number[] = [];
    for (let x = from; x < to; x += step) t.push(x);
    const series = Object.fromEntries(SERIES_NAMES.map((n) => [n, new Array<number>(t.length).fill(0)])) as Record<(typeof SERIES_NAMES)[number], number[]>;
    for (const p of await this.store.readSeries(step, from, to, SERIES_NAMES)) {
      const i = (p.t - from) / step;
      const list = series[p.name as (typeof SERIES_NAMES)[number]];
      if (list !== undefined && Number.isInteger(i) && i >= 0 && i < t.length) list[i] = p.value;
    }
    return { range, step, from, to, t, series };
  }

  /** Top rules, clients and paths of a range (blocked or banned requests; rules: logged matches). */
  async top(range: RangeName, limit: number): Promise<TopView> {
    await this.flush();
    const to = this.now() + 1;
    const from = floor(to - RANGES[range].span, TOP_STEP);
    const list = async (kind: TopKind): Promise<Array<{ key: string; count: number }>> =>
      (await this.store.sumSeries(TOP_STEP, from, to, `${kind}:`, limit)).map((s) => ({ key: s.name.slice(kind.length + 1), count: s.value }));
    return { range, rules: await list('rule'), clients: await list('client'), paths: await list('path') };
  }
}
