/**
 * Filters over several lines: `maxlines` buffers with `<SKIPLINES>`, failures assembled by
 * `<F-MLFID>` (a connection's lines) with `<F-NOFAIL>`, `<F-MLFFORGET>`, `<F-MLFGAINED>`,
 * and the streaming forms of match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadFilter } from '../../src/jail/filter/filter.js';
import { logLineBatches, logLines, readLogLines, splitLogBytes } from '../../src/jail/filter/logfile.js';

const NOW = 1124013600;

function filterFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-ml-'));
  const path = join(dir, `${name}.conf`);
  writeFileSync(path, text);
  return path;
}

const twoLines = filterFile(
  'twolines',
  [
    '[Definition]',
    'failregex = ^\\s*app\\[(?P<pid>\\d+)\\]: login from <HOST>$<SKIPLINES>^\\s*app\\[(?P=pid)\\]: login failed$',
    'maxlines = 5',
    'datepattern = {^LN-BEG}',
  ].join('\n'),
);

test('maxlines: a failure over two lines with others between them (<SKIPLINES>)', () => {
  const f = loadFilter(twoLines, { timeZone: 'UTC', now: () => NOW });
  assert.equal(f.maxLines, 5);
  assert.equal(f.match('Aug 14 09:00:01 app[1]: login from 192.0.2.1'), null);
  assert.equal(f.match('Aug 14 09:00:02 app[2]: login from 192.0.2.2'), null);
  assert.equal(f.match('Aug 14 09:00:03 app[2]: noise'), null);
  const m = f.match('Aug 14 09:00:04 app[1]: login failed');
  assert.ok(m !== null);
  assert.equal(m.id, '192.0.2.1');
  assert.equal(m.time, Date.UTC(2005, 7, 14, 9, 0, 4) / 1000);
  assert.deepEqual(m.lines, ['Aug 14 09:00:01 app[1]: login from 192.0.2.1', 'Aug 14 09:00:04 app[1]: login failed']);
  // The lines skipped stay buffered for the next match.
  assert.equal(f.bufferedLines.length, 2);
  const m2 = f.match('Aug 14 09:00:05 app[2]: login failed');
  assert.deepEqual([m2?.id, m2?.lines.length], ['192.0.2.2', 2]);
  f.reset();
  assert.equal(f.bufferedLines.length, 0);
});

test('maxlines: a line that falls out of the buffer is forgotten', () => {
  const f = loadFilter(twoLines, { timeZone: 'UTC', now: () => NOW, maxLines: 2 });
  f.match('Aug 14 09:00:01 app[1]: login from 192.0.2.1');
  f.match('Aug 14 09:00:02 app[3]: noise');
  assert.equal(f.match('Aug 14 09:00:03 app[1]: login failed'), null);
});

const conn = filterFile(
  'conn',
  [
    '[Definition]',
    'prefregex = ^<F-MLFID>\\s*srv\\[\\d+\\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$',
    'failregex = ^<F-NOFAIL>connect from</F-NOFAIL> <HOST>$',
    '            ^auth failed for <F-USER>\\S+</F-USER>$',
    '            ^<F-MLFFORGET><F-MLFGAINED>auth ok</F-MLFGAINED></F-MLFFORGET> for <F-USER>\\S+</F-USER>$',
    '            ^<F-NOFAIL><F-MLFFORGET>closed</F-MLFFORGET></F-NOFAIL>$',
    'datepattern = {^LN-BEG}',
  ].join('\n'),
);

test('<F-MLFID>: the address from an earlier line of the same connection; NOFAIL lines count with the failure', () => {
  const f = loadFilter(conn, { timeZone: 'UTC', now: () => NOW });
  assert.equal(f.match('Aug 14 09:00:01 srv[7]: connect from 192.0.2.7'), null);
  assert.equal(f.match('Aug 14 09:00:01 srv[8]: connect from 192.0.2.8'), null);
  const m = f.match('Aug 14 09:00:02 srv[7]: auth failed for bob');
  assert.ok(m !== null);
  assert.deepEqual([m.id, m.user, m.users, m.lines.length], ['192.0.2.7', 'bob', ['bob'], 2]);
  // A second failure of the connection: its own line only.
  const m2 = f.match('Aug 14 09:00:03 srv[7]: auth failed for bob');
  assert.deepEqual([m2?.id, m2?.users, m2?.lines.length], ['192.0.2.7', ['bob'], 1]);
  // Forgotten when it closes: a later line of the same pid has no address.
  assert.equal(f.match('Aug 14 09:00:04 srv[7]: closed'), null);
  assert.equal(f.match('Aug 14 09:00:05 srv[7]: auth failed for carol'), null);
  // A login that succeeds is no failure.
  assert.equal(f.match('Aug 14 09:00:06 srv[8]: auth ok for dave'), null);
});

test('<F-MLFID>: several users on one connection make its end a failure too (fail2ban\'s rule)', () => {
  const f = loadFilter(conn, { timeZone: 'UTC', now: () => NOW });
  f.match('Aug 14 09:00:01 srv[5]: connect from 192.0.2.5');
  f.match('Aug 14 09:00:02 srv[5]: auth failed for a');
  f.match('Aug 14 09:00:03 srv[5]: auth failed for b');
  const m = f.match('Aug 14 09:00:04 srv[5]: closed');
  assert.deepEqual([m?.id, [...(m?.users ?? [])].sort()], ['192.0.2.5', ['a', 'b']]);
});

test('processLine shows what match hides: NOFAIL entries and pending ones (ignorePending off)', () => {
  const f = loadFilter(conn, { timeZone: 'UTC', now: () => NOW, ignorePending: false, checkAllRegex: true });
  const nofail = f.processLine('Aug 14 09:00:01 srv[9]: connect from 192.0.2.9');
  assert.equal(nofail.length, 1);
  assert.ok(nofail[0]?.data.nofail);
  const pending = f.processLine('Aug 14 09:00:02 srv[10]: auth failed for eve');
  assert.deepEqual(pending.map((e) => e.id), [null]);
});

test('matchLines and matchStream: every failure of a log, in order', async () => {
  const lines = [
    'Aug 14 09:00:01 srv[1]: connect from 192.0.2.1',
    'Aug 14 09:00:02 srv[1]: auth failed for a',
    'Aug 14 09:00:03 srv[2]: connect from 192.0.2.2',
    'Aug 14 09:00:04 srv[2]: auth failed for b',
  ];
  const f = loadFilter(conn, { timeZone: 'UTC', now: () => NOW });
  assert.deepEqual([...f.matchLines(lines)].map((m) => m.id), ['192.0.2.1', '192.0.2.2']);
  const g = loadFilter(conn, { timeZone: 'UTC', now: () => NOW });
  async function* source(): AsyncGenerator<string> {
    yield* lines;
  }
  const got: string[] = [];
  for await (const m of g.matchStream(source())) got.push(m.id);
  assert.deepEqual(got, ['192.0.2.1', '192.0.2.2']);
});

test('log files: split at \\n, CR removed, UTF-8 with replacement or latin1, a partial last line', async () => {
  const bytes = Buffer.from('a\r\nb\xff\nc\xe9\n\nlast', 'latin1');
  assert.deepEqual(splitLogBytes(bytes), ['a', 'b\ufffd', 'c\ufffd', '', 'last']);
  assert.deepEqual(splitLogBytes(bytes, 'latin1'), ['a', 'b\xff', 'c\xe9', '', 'last']);
  assert.deepEqual(splitLogBytes(Buffer.from('é—\n', 'utf8')), ['é—']);
  const dir = mkdtempSync(join(tmpdir(), 'warden-log-'));
  const file = join(dir, 'x.log');
  writeFileSync(file, bytes);
  assert.deepEqual(readLogLines(file, 'latin1'), ['a', 'b\xff', 'c\xe9', '', 'last']);
  const read: string[] = [];
  let partial: string | undefined;
  for await (const l of logLines(file, { partialLastLine: 'wait', onPartial: (p) => (partial = p) })) read.push(l);
  assert.deepEqual(read, ['a', 'b\ufffd', 'c\ufffd', '']);
  assert.equal(partial, 'last');
});

test('log files read in batches (warden filter test): the same lines as read whole, across read and decode boundaries', () => {
  // Lines of every length around the 8 KiB decode piece and the 64 KiB read, longer than
  // both, multi-byte UTF-8 and invalid bytes where a boundary may fall, CRLF, empty lines.
  const parts: Buffer[] = [];
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const lengths = [0, 1, 8191, 8192, 8193, 65535, 65536, 65537, 200_000, 20, 9000, 70_000];
  for (let i = 0; i < 400; i++) {
    const len = i < lengths.length ? (lengths[i] as number) : rand(3000);
    const body = Buffer.alloc(len, 0x61);
    for (let k = 0; k < len; k += 997) body.set(Buffer.from(rand(3) === 0 ? 'é' : rand(2) === 0 ? '—' : '\xff', rand(3) === 2 ? 'latin1' : 'utf8').subarray(0, Math.min(3, len - k)), k);
    parts.push(body, Buffer.from(rand(5) === 0 ? '\r\n' : '\n', 'latin1'));
  }
  parts.push(Buffer.from('partial é', 'utf8'));
  const bytes = Buffer.concat(parts);
  const dir = mkdtempSync(join(tmpdir(), 'warden-log-batches-'));
  const file = join(dir, 'x.log');
  writeFileSync(file, bytes);
  for (const encoding of ['utf-8', 'latin1'] as const) {
    const whole = splitLogBytes(bytes, encoding);
    let partial: string | undefined;
    const batched = [...logLineBatches(file, { encoding, partialLastLine: 'wait', onPartial: (p) => (partial = p) })].flat();
    assert.equal(batched.length, whole.length - 1);
    assert.ok(batched.every((l, i) => l === whole[i]), `${encoding}: a line differs`);
    assert.equal(partial, whole[whole.length - 1]);
    assert.deepEqual([...logLineBatches(file, { encoding })].flat(), whole);
  }
});
