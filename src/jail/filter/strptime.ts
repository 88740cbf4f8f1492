/**
 * @module jail/filter/strptime
 * fail2ban's strptime (server/strptime.py): the regex for each `%` directive of a
 * datepattern (Python's _strptime table in the C locale, with fail2ban's overrides and its
 * `%Ex…` exact forms, `%k`, `%l`), the time-zone abbreviation table, and the conversion of
 * the matched fields to a Unix time with fail2ban's guesses: a date without a year is in
 * the current year unless that puts it more than a day in the future (then last year); a
 * time without a date is today unless that is in the future (then yesterday); a 2-digit
 * year is 20xx; a time without a zone is in the log's default zone (logtimezone) or the
 * local zone.
 */
import { FilterError } from './errors.js';
import { wallFields, wallOf, type TimeZone } from './timezone.js';

const TZ_ABBR_RE = '[A-Z](?:[A-Z]{2,4})?';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const FULL_MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const FULL_DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** Alternatives longest first, as _strptime's __seqToRE builds them. */
function seqToRe(words: readonly string[], directive: string): string {
  const sorted = [...words].sort((a, b) => b.length - a.length);
  return `(?P<${directive}>${sorted.join('|')})`;
}

/**
 * The century prefix pattern for %ExY: from the year before `now` to 3 years after, and
 * from 2000 (fail2ban's alternate date, 2001-01-02, minus one) on, grouped as fail2ban's
 * _getYearCentRE groups them (e.g. "20[0-2]").
 */
function yearCentury(nowYear: number): string {
  const cent = (y: number): string => String(y).slice(0, 3);
  const set = new Set<string>([cent(nowYear - 1), cent(nowYear + 3)]);
  const alt = 2001;
  for (let y = alt - 1; y < nowYear + 1; y += 3) set.add(cent(y));
  const grp = (exprs: string[]): string => {
    if (exprs.length > 1) {
      let c: string | null = null;
      for (const i of exprs) {
        if (c === null || i.slice(0, -1) === c) c = i.slice(0, -1);
        else {
          c = null;
          break;
        }
      }
      if (!c) {
        c = null;
        for (const i of exprs) {
          if (c === null || i[0] === c) c = i[0] as string;
          else {
            c = null;
            break;
          }
        }
      }
      if (c) return `${c}${grp(exprs.map((i) => i.slice(c!.length)))}`;
    }
    if (exprs.length > 1) return (exprs[0] as string).length > 1 ? `(?:${exprs.join('|')})` : `[${exprs.join('')}]`;
    return exprs.join('');
  };
  return grp([...set].sort());
}

/** Directive → Python regex, as fail2ban's timeRE holds them. */
export const timeRE: Readonly<Record<string, string>> = (() => {
  const d = '(?P<d>3[0-1]|[1-2]\\d|0[1-9]|[1-9]| [1-9])';
  const t: Record<string, string> = {
    '%': '%',
    A: seqToRe(FULL_DAYS, 'A'),
    a: seqToRe(DAYS, 'a'),
    B: seqToRe(FULL_MONTHS, 'B'),
    b: seqToRe(MONTHS, 'b'),
    p: seqToRe(['am', 'pm'], 'p'),
    c: `${seqToRe(DAYS, 'a')}\\s+${seqToRe(MONTHS, 'b')}\\s+${d}\\s+(?P<H>2[0-3]|[0-1]\\d|\\d):(?P<M>[0-5]\\d|\\d):(?P<S>6[0-1]|[0-5]\\d|\\d)\\s+(?P<Y>\\d\\d\\d\\d)`,
    x: `(?P<m>1[0-2]|0[1-9]|[1-9])/${d}/(?P<y>\\d\\d)`,
    X: '(?P<H>2[0-3]|[0-1]\\d|\\d):(?P<M>[0-5]\\d|\\d):(?P<S>6[0-1]|[0-5]\\d|\\d)',
    f: '(?P<f>[0-9]{1,6})',
    G: '(?P<G>\\d\\d\\d\\d)',
    I: '(?P<I>1[0-2]|0[1-9]|[1-9])',
    j: '(?P<j>36[0-6]|3[0-5]\\d|[1-2]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])',
    U: '(?P<U>5[0-3]|[0-4]\\d|\\d)',
    W: '(?P<W>5[0-3]|[0-4]\\d|\\d)',
    V: '(?P<V>5[0-3]|0[1-9]|[1-4]\\d|\\d)',
    u: '(?P<u>[1-7])',
    w: '(?P<w>[0-6])',
    y: '(?P<y>\\d\\d)',
    // fail2ban's overrides and additions:
    k: ' ?(?P<H>[0-2]?\\d)',
    l: ' ?(?P<I>1?\\d)',
    Z: '(?P<Z>Z|[A-Z]{3,5})',
    z: '(?P<z>Z|UTC|GMT|[+-][01]\\d(?::?\\d{2})?)',
    ExZ: `(?P<Z>${TZ_ABBR_RE})`,
    Exz: `(?P<z>(?:${TZ_ABBR_RE})?[+-][01]\\d(?::?\\d{2})?|${TZ_ABBR_RE})`,
    d: '(?P<d>[1-2]\\d|[0 ]?[1-9]|3[0-1])',
    m: '(?P<m>0?[1-9]|1[0-2])',
    Y: '(?P<Y>\\d{4})',
    H: '(?P<H>[0-1]?\\d|2[0-3])',
    M: '(?P<M>[0-5]?\\d)',
    S: '(?P<S>[0-5]?\\d|6[0-1])',
    Exd: '(?P<d>[1-2]\\d|0[1-9]|3[0-1])',
    Exm: '(?P<m>0[1-9]|1[0-2])',
    ExH: '(?P<H>[0-1]\\d|2[0-3])',
    Exk: ' ?(?P<H>[0-1]?\\d|2[0-3])',
    Exl: ' ?(?P<I>1[0-2]|\\d)',
    ExM: '(?P<M>[0-5]\\d)',
    ExS: '(?P<S>[0-5]\\d|6[0-1])',
    ExY: `(?P<Y>${yearCentury(new Date().getFullYear())}\\d)`,
    Exy: '(?P<y>\\d{2})',
  };
  return t;
})();

/** Directive → the readable name fail2ban shows for a template ("MON Day 24hour:…"). */
const NAMES: Record<string, string> = {
  a: 'DAY',
  A: 'DAYNAME',
  b: 'MON',
  B: 'MONTH',
  d: 'Day',
  H: '24hour',
  I: '12hour',
  j: 'Yearday',
  m: 'Month',
  M: 'Minute',
  p: 'AMPM',
  S: 'Second',
  U: 'Yearweek',
  w: 'Weekday',
  W: 'Yearweek',
  y: 'Year2',
  Y: 'Year',
  '%': '%',
  z: 'Zone offset',
  f: 'Microseconds',
  Z: 'Zone name',
};

function directiveName(key: string): string {
  const n = NAMES[key];
  if (n !== undefined) return n;
  if (key.startsWith('Ex')) {
    const base = NAMES[key.slice(2)];
    if (base !== undefined) return `Ex${base}`;
  }
  return `%${key}`;
}

const DIRECTIVE = /%(%|ExZ|Exz|Exd|Exm|ExH|Exk|Exl|ExM|ExS|ExY|Exy|[dfHIGjmMSUwuVyYzAaBbpZWcxXkl])/gu;

/**
 * A datepattern's `%` directives replaced by their regexes (and by their names, for the
 * template's name). A `%` that is not a directive is an error, as in fail2ban.
 */
export function expandDirectives(pattern: string): { regex: string; name: string } {
  let regex = '';
  let name = '';
  let last = 0;
  for (const m of pattern.matchAll(DIRECTIVE)) {
    const lit = pattern.slice(last, m.index);
    if (lit.includes('%')) throw new FilterError('WARDEN_FILTER_DATEPATTERN', `invalid datepattern ${JSON.stringify(pattern)}: unsupported format character after '%' at ${last + lit.indexOf('%')}`);
    const key = m[1] as string;
    regex += lit + (timeRE[key] as string);
    name += lit + directiveName(key);
    last = (m.index as number) + m[0].length;
  }
  const tail = pattern.slice(last);
  if (tail.includes('%')) throw new FilterError('WARDEN_FILTER_DATEPATTERN', `invalid datepattern ${JSON.stringify(pattern)}: '%' without a format character at ${last + tail.indexOf('%')}`);
  return { regex: regex + tail, name: name + tail };
}

/** Zone abbreviation → offset in minutes (fail2ban's TZ_STR table; fixed, no DST switch). */
const TZ_ABBR_OFFS: ReadonlyMap<string, number> = (() => {
  const table = `-12 Y
-11 X NUT SST
-10 W CKT HAST HST TAHT TKT
-9 V AKST GAMT GIT HADT HNY
-8 U AKDT CIST HAY HNP PST PT
-7 T HAP HNR MST PDT
-6 S CST EAST GALT HAR HNC MDT
-5 R CDT COT EASST ECT EST ET HAC HNE PET
-4 Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT
-3 P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT
-2 O BRST FNT PMDT UYST WGST
-1 N AZOT CVT EGT
0 Z EGST GMT UTC WET WT
1 A CET DFT WAT WEDT WEST
2 B CAT CEDT CEST EET SAST WAST
3 C EAT EEDT EEST IDT MSK
4 D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT
5 E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT
6 F ALMT BIOT BTT IOT KGT NOVT OMST YEKST
7 G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB
8 H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST
9 I AWDT IRKST JST KST PWT TLT WDT WIT YAKT
10 K AEST ChST PGT VLAT YAKST YAPT
11 L AEDT LHDT MAGT NCT PONT SBT VLAST VUT
12 M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT
13 FJST NZDT
11.5 NFT
10.5 ACDT LHST
9.5 ACST
6.5 CCT MMT
5.75 NPT
5.5 SLT
4.5 AFT IRDT
3.5 IRST
-2.5 HAT NDT
-3.5 HNT NST NT
-4.5 HLV VET
-9.5 MART MIT`;
  const m = new Map<string, number>([['', 0]]);
  for (const line of table.split('\n')) {
    const [off, ...zones] = line.split(' ');
    for (const z of zones) m.set(z, Math.trunc(Number(off) * 60));
  }
  return m;
})();

const FIXED_OFFSET_TZ = new RegExp(`^(${TZ_ABBR_RE})?([+-][01]\\d(?::?\\d{2})?)?$`, 'u');

/**
 * A zone given as an abbreviation and/or offset ("UTC", "CET", "+0200", "UTC+02:00",
 * "EST-5") → minutes east of UTC, as fail2ban's validateTimeZone/zone2offset read it.
 * Undefined for what fail2ban rejects.
 */
export function zoneOffset(tz: string): number | undefined {
  // The common case, "+0200" or "-05:00", without the regex.
  if (tz.length === 5 || tz.length === 6) {
    const sign = tz.charCodeAt(0) === 43 ? 1 : tz.charCodeAt(0) === 45 ? -1 : 0;
    const mm = tz.length === 5 ? tz.slice(3) : tz[3] === ':' ? tz.slice(4) : '';
    if (sign !== 0 && mm.length === 2 && /^[01]\d$/u.test(tz.slice(1, 3)) && /^\d\d$/u.test(mm)) return sign * (Number(tz.slice(1, 3)) * 60 + Number(mm));
  }
  const m = FIXED_OFFSET_TZ.exec(tz);
  if (m === null) return undefined;
  const base = TZ_ABBR_OFFS.get(m[1] ?? '');
  if (base === undefined) return undefined;
  const tzo = m[2];
  if (tzo === undefined || tzo === '') return base;
  const sign = tzo[0] === '-' ? -1 : 1;
  if (tzo.length <= 3) return base + Number(tzo) * 60;
  const mm = tzo[3] !== ':' ? tzo.slice(3, 5) : tzo.slice(4, 6);
  return base + sign * (Number(tzo.slice(1, 3)) * 60 + Number(mm));
}

/** The clock and zones a date is read with. */
export interface DateContext {
  /** Now, in Unix seconds (fail2ban's MyTime.time()). */
  now(): number;
  /** The zone of dates without an explicit zone, when no `defaultOffset` is set. */
  readonly timeZone: TimeZone;
  /** fail2ban's logtimezone: a fixed offset (minutes) for dates without a zone. */
  readonly defaultOffset: number | undefined;
}

/** Now as wall time in the context's zone; marks `info` as having used the clock. */
function nowWall(ctx: DateContext, info: StrptimeInfo | undefined): number {
  if (info !== undefined) info.usedNow = true;
  return ctx.timeZone.toWall(ctx.now());
}

/** Set by {@link strptimeGroups}: whether the result depended on the clock. */
export interface StrptimeInfo {
  usedNow: boolean;
}

/**
 * Named groups of a date match → Unix time (seconds), or null when they are no date.
 * `info.usedNow` tells whether the clock decided anything (a date without a year or a
 * day), so a caller knows whether the result may be cached.
 */
export function strptimeGroups(found: Readonly<Record<string, string | undefined>>, ctx: DateContext, info?: StrptimeInfo): number | null {
  // Fields read directly rather than by iterating the groups: this runs for every line.
  let year: number | undefined;
  let month: number | undefined;
  let day: number | undefined;
  let tzoffset: number | undefined;
  let weekday: number | undefined;
  let julian: number | undefined;
  let weekOfYear: number | undefined;
  let weekStartsMonday = false;
  let hour = 0;
  let minute = 0;
  let second = 0;
  const f = found;
  if (f.y !== undefined) {
    year = Number(f.y);
    if (year <= 2000) year += 2000;
  }
  if (f.Y !== undefined) year = Number(f.Y);
  if (f.m !== undefined) month = Number(f.m);
  if (f.B !== undefined) month = FULL_MONTHS.indexOf(f.B.toLowerCase()) + 1;
  if (f.b !== undefined) month = MONTHS.indexOf(f.b.toLowerCase()) + 1;
  if (f.d !== undefined) day = Number(f.d);
  if (f.H !== undefined) hour = Number(f.H);
  if (f.I !== undefined) {
    hour = Number(f.I);
    const ampm = (f.p ?? '').toLowerCase();
    if (ampm === '' || ampm === 'am') {
      if (hour === 12) hour = 0;
    } else if (ampm === 'pm') {
      if (hour !== 12) hour += 12;
    }
  }
  if (f.M !== undefined) minute = Number(f.M);
  if (f.S !== undefined) second = Number(f.S);
  if (f.A !== undefined) weekday = FULL_DAYS.indexOf(f.A.toLowerCase());
  if (f.a !== undefined) weekday = DAYS.indexOf(f.a.toLowerCase());
  if (f.w !== undefined) {
    weekday = Number(f.w) - 1;
    if (weekday < 0) weekday = 6;
  }
  if (f.j !== undefined) julian = Number(f.j);
  for (const k of ['U', 'W'] as const) {
    const v = f[k];
    if (v !== undefined) {
      weekOfYear = Number(v);
      weekStartsMonday = k === 'W';
    }
  }
  // When a pattern has both %z and %Z, the later group wins, as Python's dict order has it.
  const zones = f.z !== undefined && f.Z !== undefined ? Object.keys(f).filter((k) => k === 'z' || k === 'Z') : f.z !== undefined ? ['z'] : f.Z !== undefined ? ['Z'] : [];
  for (const k of zones) {
    const val = f[k] as string;
    if (val === 'Z' || val === 'UTC' || val === 'GMT') tzoffset = 0;
    else {
      tzoffset = zoneOffset(val);
      // fail2ban raises on an unknown abbreviation; no date is the closest safe answer.
      if (tzoffset === undefined) return null;
    }
  }
  let now: number | undefined;
  let assumeYear = false;
  if (year === undefined) {
    now = nowWall(ctx, info);
    year = wallFields(now).year;
    assumeYear = true;
  }
  if (month === undefined || day === undefined) {
    if (julian === undefined && weekOfYear !== undefined && weekday !== undefined) {
      // _strptime's _calc_julian_from_U_or_W.
      const jan1 = wallOf(year, 1, 1);
      if (jan1 === null) return null;
      const firstWeekday = (new Date(jan1 * 1000).getUTCDay() + 6) % 7;
      let wd = weekday;
      let first = firstWeekday;
      if (!weekStartsMonday) {
        first = (first + 1) % 7;
        wd = (wd + 1) % 7;
      }
      const weekZeroLength = (7 - first) % 7;
      julian = weekOfYear === 0 ? 1 + wd - first : weekZeroLength + 7 * (weekOfYear - 1) + 1 + wd;
    }
    if (julian !== undefined) {
      const jan1 = wallOf(year, 1, 1);
      if (jan1 === null) return null;
      const f = wallFields(jan1 + (julian - 1) * 86400);
      year = f.year;
      month = f.month;
      day = f.day;
    }
  }
  let assumeToday = false;
  if (month === undefined && day === undefined) {
    now ??= nowWall(ctx, info);
    const today = wallFields(now);
    month = today.month;
    day = today.day;
    assumeToday = true;
  }
  if (month === undefined || day === undefined || month < 1 || day < 1) return null;
  let result = wallOf(year, month, day, hour, minute, second);
  if (result === null) return null;
  if (tzoffset === undefined && ctx.defaultOffset !== undefined) tzoffset = ctx.defaultOffset;
  if (tzoffset !== undefined) result -= tzoffset * 60;
  if (assumeToday && result > (now ??= nowWall(ctx, info))) result -= 86400;
  if (assumeYear && result > (now ?? nowWall(ctx, info)) + 86400) {
    const t = wallFields(result);
    const r = wallOf(year - 1, month, day, t.hour, t.minute, t.second);
    if (r === null) return null;
    result = r;
  }
  return tzoffset !== undefined ? result : ctx.timeZone.toEpoch(result);
}
