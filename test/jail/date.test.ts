/**
 * Date detection: fail2ban's default templates and datepattern syntax. Expected text and
 * times are what fail2ban 1.1's DateDetector returns for the same line (a fresh detector
 * per line, TZ=UTC, now = 2005-08-14 10:00:00 UTC), checked against it when the table
 * was written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DateDetector, detectDate } from '../../src/jail/filter/date.js';
import { fixedTimeZone, timeZoneNamed } from '../../src/jail/filter/timezone.js';
import { FilterError } from '../../src/jail/filter/errors.js';
import { zoneOffset } from '../../src/jail/filter/strptime.js';

const NOW = 1124013600;
const utc = { now: () => NOW, timeZone: fixedTimeZone(0) };

// [datepattern (undefined: the default templates), line, [matched text, Unix time] or null]
const table: Array<[string | undefined, string, [string, number] | null]> = [
  [undefined, "2005-08-14 11:00:01 host app: x", ["2005-08-14 11:00:01", 1124017201]],
  [undefined, "2005-08-14T11:00:01.123456+02:00 host app: x", ["2005-08-14T11:00:01.123456+02:00", 1124010001]],
  [undefined, "2005/08/14 11:00:01 [error] 1#1: x", ["2005/08/14 11:00:01", 1124017201]],
  [undefined, "Aug 14 09:00:01 host sshd[1]: x", ["Aug 14 09:00:01", 1124010001]],
  [undefined, "Sun Aug 14 09:00:01.123 2005 x", ["Sun Aug 14 09:00:01.123 2005", 1124010001]],
  [undefined, "[14/Aug/2005:11:00:01 +0200] x", ["14/Aug/2005:11:00:01 +0200", 1124010001]],
  [undefined, "192.0.2.1 - - [14/Aug/2005:11:00:01 +0200] \"GET / HTTP/1.1\" 200 1", ["14/Aug/2005:11:00:01 +0200", 1124010001]],
  [undefined, "14-Aug-2005 09:00:01.252 x", ["14-Aug-2005 09:00:01.252", 1124010001]],
  [undefined, "1124013601 x", ["1124013601", 1124013601]],
  [undefined, "[1124013601.5] x", ["1124013601", 1124013601]],
  [undefined, "type=USER_AUTH msg=audit(1124013601.123:77): x", ["1124013601.123", 1124013601.123]],
  [undefined, "050814  9:00:01 [Note] x", ["050814  9:00:01", 1124010001]],
  [undefined, "Aug 14, 2005 9:00:01 AM org.apache x", ["Aug 14, 2005 9:00:01 AM", 1124010001]],
  [undefined, "@4000000042ff13e51f2b4c34 x", ["@4000000042ff13e51f2b4c34", 1124013029]],
  [undefined, "08:59:00 x", ["08:59:00", 1124009940]],
  [undefined, "Dec 31 23:59:59 host x", ["Dec 31 23:59:59", 1104537599]],
  [undefined, "20050814T090001Z x", ["20050814T090001Z", 1124010001]],
  [undefined, "no date here", null],
  ["%Y-%m-%d %H:%M:%S", "prefix 2005-08-14 09:00:01 x", ["2005-08-14 09:00:01", 1124010001]],
  ["^%d/%m/%Y %H:%M:%S", "14/08/2005 09:00:01 x", ["14/08/2005 09:00:01", 1124010001]],
  ["{^LN-BEG}%b-%d-%Exy %k:%M:%S", "Aug-14-05  9:00:01 x", ["Aug-14-05  9:00:01", 1124010001]],
  ["^%Y-%m-%d %H:%M:%S%z", "2005-08-14 11:00:01+0200 x", ["2005-08-14 11:00:01+0200", 1124010001]],
  ["^%Y-%m-%d %H:%M:%S %Z", "2005-08-14 05:00:01 EST x", ["2005-08-14 05:00:01 EST", 1124013601]],
  ["^%Y-%m-%d %I:%M:%S %p", "2005-08-14 09:00:01 PM x", ["2005-08-14 09:00:01 PM", 1124053201]],
  ["^%Y-%m-%d %I:%M:%S %p", "2005-08-14 12:00:01 AM x", ["2005-08-14 12:00:01 AM", 1123977601]],
  ["Epoch", "1124013601 x", ["1124013601", 1124013601]],
  ["LEpoch", "1124013601500 x", ["1124013601500", 1124013601.5]],
  ["{^LN-BEG}TAI64N", "@4000000042ff13e51f2b4c34 x", ["@4000000042ff13e51f2b4c34", 1124013029]],
  ["^<\\d+>\\d+\\s+{DATE}", "<13>1 2005-08-14T09:00:01Z host app - - x", ["<13>1 2005-08-14T09:00:01Z", 1124010001]],
  ["{NONE}", "2005-08-14 09:00:01 x", ["", 1123977600]],
  ["{UNB}%Y%m%d%H%M%S", "id20050814090001end", ["20050814090001", 1124010001]],
  ["^%j %Y %H:%M:%S", "226 2005 09:00:01", ["226 2005 09:00:01", 1124010001]],];

for (const [pattern, line, expected] of table) {
  test(`date in ${JSON.stringify(line)}${pattern === undefined ? '' : ` with ${pattern}`}`, () => {
    const d = new DateDetector(pattern, utc).detect(line);
    assert.deepEqual(d === null ? null : [d.matchedText, d.time], expected);
  });
}

test('a date without a year more than a day ahead is last year; a time alone after now is yesterday', () => {
  const dd = new DateDetector(undefined, utc);
  assert.equal(dd.detect('Aug 15 09:59:59 x')?.time, Date.UTC(2005, 7, 15, 9, 59, 59) / 1000);
  assert.equal(dd.detect('Aug 16 10:00:01 x')?.time, Date.UTC(2004, 7, 16, 10, 0, 1) / 1000);
  assert.equal(new DateDetector('{^LN-BEG}%H:%M:%S', utc).detect('10:00:01 x')?.time, Date.UTC(2005, 7, 13, 10, 0, 1) / 1000);
});

test('zones: the detector zone, a fixed logtimezone, an explicit offset in the line', () => {
  const zurich = new DateDetector(undefined, { now: () => NOW, timeZone: timeZoneNamed('Europe/Zurich') });
  assert.equal(zurich.detect('2005-08-14 12:00:00 x')?.time, NOW);
  assert.equal(zurich.detect('2005-01-14 12:00:00 x')?.time, Date.UTC(2005, 0, 14, 11) / 1000);
  const fixed = new DateDetector(undefined, { now: () => NOW, timeZone: fixedTimeZone(0), defaultOffset: zoneOffset('UTC+0530') });
  assert.equal(fixed.detect('2005-08-14 15:30:00 x')?.time, NOW);
  assert.equal(fixed.detect('2005-08-14 10:00:00 +0000 x')?.time, NOW);
  assert.deepEqual(['UTC', 'CET', 'CEST+01', '-0430', 'EST-05:00', 'nope'].map(zoneOffset), [0, 60, 180, -270, -600, undefined]);
});

test('the detector keeps the last winning template and finds a change of format', () => {
  const dd = new DateDetector(undefined, utc);
  for (let i = 0; i < 3; i++) assert.equal(dd.detect(`Aug 14 09:00:0${i} host x`)?.matchedText, `Aug 14 09:00:0${i}`);
  assert.equal(dd.detect('2005-08-14 09:00:05 x')?.matchedText, '2005-08-14 09:00:05');
  assert.equal(dd.templateStats().reduce((a, t) => a + t.hits, 0), 4);
});

test('detectDate: the default detector, and a datepattern', () => {
  const d = detectDate('[14/Aug/2005:12:00:00 +0200] GET /');
  assert.deepEqual(d && [d.time, d.matchedText, d.start, d.end], [NOW, '14/Aug/2005:12:00:00 +0200', 1, 27]);
  assert.equal(detectDate('x 2005.08.14 10:00:00 y', '%Y.%m.%d %H:%M:%S', utc)?.time, NOW);
  assert.equal(detectDate('nothing'), null);
});

test('a bad datepattern is a load error', () => {
  assert.throws(() => new DateDetector('%Y-%m-%d %Q'), (e: unknown) => e instanceof FilterError && e.code === 'WARDEN_FILTER_DATEPATTERN');
  assert.throws(() => new DateDetector('(unclosed %Y'), (e: unknown) => e instanceof FilterError && e.code === 'WARDEN_FILTER_DATEPATTERN');
});

test("fail2ban's default templates, compiled when first tried, all compile: a line without a date tries every one", () => {
  const d = new DateDetector();
  assert.equal(d.matchTime('no date in this line at all'), null);
  const names = d.templateStats().map((t) => t.name);
  assert.ok(names.length > 30, `${names.length} templates`);
  for (const t of (d as unknown as { templates: Array<{ template: { compiledRegex(): unknown } }> }).templates) assert.ok(t.template.compiledRegex() !== undefined);
});
