/**
 * @module store/series
 * Counter time series: what the dashboard graphs (requests, blocks, bans per bucket) and
 * its top lists (rules, clients, paths per bucket), kept in the store so a restart keeps
 * the history. A series is a name and fixed-width buckets (`step` ms wide, starting at `t`,
 * a multiple of `step`); several widths live side by side (fine ones kept briefly, coarse
 * ones for a week). A separate interface from `Store`: a backend may keep history or not
 * (SQLite and memory do; the admin asks for it where it is).
 */
import type { MaybePromise } from './types.js';

/** One bucket of one series. */
export interface SeriesPoint {
  readonly name: string;
  /** Unix ms when the bucket starts. */
  readonly t: number;
  readonly value: number;
}

/** A series' total over a range. */
export interface SeriesTotal {
  readonly name: string;
  readonly value: number;
}

export interface SeriesStore {
  /** Adds each value to its series' bucket `[t, t + step)` (a missing bucket starts at 0). */
  addSeries(step: number, t: number, values: ReadonlyMap<string, number>): MaybePromise<void>;
  /**
   * Sets each series' bucket to the value given (replacing what was there): a running top
   * list is rewritten as it changes instead of added to.
   */
  setSeries(step: number, t: number, values: ReadonlyMap<string, number>): MaybePromise<void>;
  /** The buckets of width `step` with `from <= t < to` of the series named, by time then name. */
  readSeries(step: number, from: number, to: number, names: readonly string[]): MaybePromise<SeriesPoint[]>;
  /**
   * The series whose names start with `prefix`, each summed over the buckets with
   * `from <= t < to`; the `limit` largest, largest first (ties by name).
   */
  sumSeries(step: number, from: number, to: number, prefix: string, limit: number): MaybePromise<SeriesTotal[]>;
  /** Forgets the buckets of width `step` that start before `before`; returns how many went. */
  purgeSeries(step: number, before: number): MaybePromise<number>;
}

/** Whether a store keeps series (SQLite and memory do; a store may not). */
export function hasSeries<T extends object>(store: T): store is T & SeriesStore {
  return typeof (store as Partial<SeriesStore>).addSeries === 'function' && typeof (store as Partial<SeriesStore>).sumSeries === 'function';
}
