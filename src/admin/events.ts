/**
 * @module admin/events
 * The primary's list of recent blocked (and, in DetectionOnly, matched) transactions, as
 * workers report them: the dashboard's live list, `GET /api/events`. Memory only and
 * bounded; a row's explanation is asked of the worker that served it.
 */
import type { RecentEvent } from './delta.js';

export class RecentEvents {
  private readonly max: number;
  private readonly items: RecentEvent[];
  /** Events ever added, so a client can ask for what is new since it last looked. */
  private added: number;

  constructor(max = 500) {
    this.max = max;
    this.items = [];
    this.added = 0;
  }

  add(events: readonly RecentEvent[]): void {
    let ordered = true;
    for (const e of events) {
      const last = this.items[this.items.length - 1];
      if (last !== undefined && e.time < last.time) ordered = false;
      this.items.push(e);
      this.added++;
    }
    // Workers report every second, each in its own order: the list is kept in time order.
    if (!ordered) this.items.sort((a, b) => a.time - b.time);
    if (this.items.length > this.max) this.items.splice(0, this.items.length - this.max);
  }

  /** Newest first; only blocked ones unless `all`. */
  list(limit: number, all = false): RecentEvent[] {
    const out: RecentEvent[] = [];
    for (let i = this.items.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.items[i] as RecentEvent;
      if (all || e.blocked) out.push(e);
    }
    return out;
  }

  get total(): number {
    return this.added;
  }
}
