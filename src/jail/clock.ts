/**
 * @module jail/clock
 * Time for the ban engine, replaceable in tests: jails count failures within findTime and
 * bans expire after banTime, which a test must be able to fast-forward.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Unix time in milliseconds. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds (never keeps the process alive on its own). */
  after(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    // Node caps timers at 2^31-1 ms; longer waits re-arm (a ban may last a year).
    const MAX = 0x7fffffff;
    let t: NodeJS.Timeout;
    const arm = (left: number): void => {
      t = setTimeout(left > MAX ? () => arm(left - MAX) : fn, Math.min(left, MAX));
      t.unref();
    };
    arm(Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * A clock that moves only when told to.
 *
 * @example
 * const clock = new FakeClock(Date.UTC(2026, 0, 1));
 * clock.after(1000, () => console.log('fired'));
 * clock.advance(1000); // fired
 */
export class FakeClock implements Clock {
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];

  constructor(private time = 0) {}

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.time + Math.max(0, ms), fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  /** Moves time forward, firing due timers in order (timers set while firing run too). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.live = false;
      this.time = due.at;
      due.fn();
    }
    this.time = target;
    this.timers = this.timers.filter((t) => t.live);
  }
}
