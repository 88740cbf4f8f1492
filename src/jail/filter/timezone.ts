/**
 * @module jail/filter/timezone
 * Wall-clock time ↔ Unix time in the zone log lines are written in. fail2ban converts a
 * date without a zone with `time.mktime`, i.e. in the server's local zone; Warden does the
 * same by default and lets a caller name another zone (IANA name, e.g. "Europe/Zurich"),
 * which tests need to reproduce fail2ban's own results.
 *
 * A "wall" time is the local date and time written as if it were UTC seconds
 * (Date.UTC(y, m - 1, d, H, M, S) / 1000): it compares and subtracts like the naive
 * datetime values fail2ban computes with.
 */
import { FilterError } from './errors.js';

/** A zone in which log times are read. */
export interface TimeZone {
  /** The zone's name: an IANA name, or "local". */
  readonly name: string;
  /** Wall time (see module notes) of the instant `epoch` (seconds). */
  toWall(epoch: number): number;
  /**
   * The instant (seconds) of wall time `wall`, as mktime() picks it: a time skipped by a
   * DST change moves forward, a repeated one takes its first occurrence.
   */
  toEpoch(wall: number): number;
}

/** The process's local zone (the TZ environment variable, as Python's time module reads it). */
export const localTimeZone: TimeZone = {
  name: 'local',
  toWall(epoch: number): number {
    const d = new Date(epoch * 1000);
    return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()) / 1000 + (epoch % 1);
  },
  toEpoch(wall: number): number {
    const d = new Date(Math.floor(wall) * 1000);
    const frac = wall - Math.floor(wall);
    const local = new Date(0);
    // setFullYear, unlike the Date constructor, does not read years 0-99 as 19xx.
    local.setFullYear(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    local.setHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0);
    return local.getTime() / 1000 + frac;
  },
};

/** UTC, and fixed offsets. */
export function fixedTimeZone(offsetMinutes: number, name = offsetMinutes === 0 ? 'UTC' : `UTC${offsetMinutes < 0 ? '-' : '+'}${Math.abs(offsetMinutes)}m`): TimeZone {
  return {
    name,
    toWall: (epoch) => epoch + offsetMinutes * 60,
    toEpoch: (wall) => wall - offsetMinutes * 60,
  };
}

const named = new Map<string, TimeZone>();

/**
 * A zone by IANA name ("Europe/Zurich"), "UTC", or "local".
 * @throws FilterError for a name Intl does not know
 */
export function timeZoneNamed(name: string): TimeZone {
  if (name === 'local') return localTimeZone;
  if (name === 'UTC' || name === 'GMT' || name === 'Z') return fixedTimeZone(0);
  const hit = named.get(name);
  if (hit !== undefined) return hit;
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  } catch {
    throw new FilterError('WARDEN_FILTER_OPTION', `unknown time zone ${JSON.stringify(name)}`);
  }
  // Offsets change at most every few months; cache them per quarter hour.
  const offsets = new Map<number, number>();
  const offsetAt = (epoch: number): number => {
    const bucket = Math.floor(epoch / 900);
    let off = offsets.get(bucket);
    if (off === undefined) {
      const t = bucket * 900;
      const parts: Record<string, string> = {};
      for (const p of fmt.formatToParts(new Date(t * 1000))) parts[p.type] = p.value;
      let year = Number(parts.year);
      if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
      const wall = Date.UTC(year, Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second)) / 1000;
      off = wall - t;
      if (offsets.size > 4096) offsets.clear();
      offsets.set(bucket, off);
    }
    return off;
  };
  const tz: TimeZone = {
    name,
    toWall: (epoch) => epoch + offsetAt(epoch),
    toEpoch(wall) {
      const o1 = offsetAt(wall);
      const t1 = wall - o1;
      const o2 = offsetAt(t1);
      if (o2 === o1) {
        // A repeated hour: prefer the first occurrence (the larger, daylight offset).
        const earlier = wall - offsetAt(t1 - 3600);
        if (earlier < t1 && earlier + offsetAt(earlier) === wall) return earlier;
        return t1;
      }
      const t2 = wall - o2;
      // In a skipped hour neither offset round-trips: move forward, as mktime does.
      return offsetAt(t2) === o2 ? t2 : Math.max(t1, t2);
    },
  };
  named.set(name, tz);
  return tz;
}

/** Splits a wall time into its calendar fields. */
export function wallFields(wall: number): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const d = new Date(Math.floor(wall) * 1000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** Wall time of calendar fields; null when they are not a valid date (Python's ValueError). */
export function wallOf(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number | null {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
  if (day > days) return null;
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 19xx.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime() / 1000;
}
