/**
 * The writers behind the logs: whole records from several processes sharing one file
 * (records far larger than PIPE_BUF), size rotation by several processes without loss,
 * failures (disk full, a path that cannot exist) counted and reported once while requests
 * go on, reopening after logrotate's rename, a bounded queue, and file modes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogFile } from '../../src/audit/log-file.js';
import { logRun, tempDir } from './helpers.js';
import type { ResponseSummary } from '../../src/audit/types.js';

const child = fileURLToPath(new URL('./fixtures/append-child.ts', import.meta.url));

function runChild(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${args[1]} exited ${code}: ${err}`))));
  });
}

/** Parses records written by append-child; throws at the first byte that is not a whole record. */
function records(text: string): Array<{ id: string; seq: number }> {
  const out: Array<{ id: string; seq: number }> = [];
  const re = /<([ab]):(\d+):(\d+)>/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m === null) throw new Error(`not a record start at byte ${at}: ${JSON.stringify(text.slice(at, at + 40))}`);
    const [head, id = '', seq = '', size = ''] = m;
    const bodyEnd = at + head.length + Number(size);
    const tail = `</${id}:${seq}>\n`;
    const body = text.slice(at + head.length, bodyEnd);
    if (body !== id.repeat(Number(size)) || text.slice(bodyEnd, bodyEnd + tail.length) !== tail) {
      throw new Error(`record ${id}:${seq} at byte ${at} is not whole (interleaved or cut)`);
    }
    out.push({ id, seq: Number(seq) });
    at = bodyEnd + tail.length;
  }
  return out;
}

test('two processes appending records of 3–300 KB to one file: every record whole, none lost', async () => {
  const path = join(tempDir(), 'shared.log');
  const count = 60;
  const startAt = String(Date.now() + 2000);
  await Promise.all([runChild([path, 'a', String(count), '0', '1', startAt]), runChild([path, 'b', String(count), '0', '1', startAt])]);
  const found = records(readFileSync(path, 'latin1'));
  for (const id of ['a', 'b']) {
    assert.deepEqual(
      found.filter((r) => r.id === id).map((r) => r.seq),
      Array.from({ length: count }, (_, i) => i),
    );
  }
  // The writes did overlap in time: records of the two processes alternate somewhere.
  assert.ok(found.some((r, i) => i > 0 && r.id !== found[i - 1]?.id));
});

test('two processes rotating one file by size: each record whole, in exactly one file', async () => {
  const dir = tempDir();
  const path = join(dir, 'rotating.log');
  const count = 40;
  const startAt = String(Date.now() + 2000);
  await Promise.all([runChild([path, 'a', String(count), '400000', '1000', startAt]), runChild([path, 'b', String(count), '400000', '1000', startAt])]);
  const files = readdirSync(dir).filter((f) => f.startsWith('rotating.log'));
  assert.ok(files.length > 3, `rotated into ${files.join(', ')}`);
  assert.ok(!files.includes('rotating.log.rotating'), 'the rotation lock is released');
  const found = files.flatMap((f) => records(readFileSync(join(dir, f), 'latin1')));
  for (const id of ['a', 'b']) {
    const seqs = found.filter((r) => r.id === id).map((r) => r.seq).sort((x, y) => x - y);
    assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => i));
  }
});

test('size rotation keeps N files: file, file.1 … file.N, the oldest lines gone', async () => {
  const dir = tempDir();
  const path = join(dir, 'r.log');
  const f = new LogFile({ path, mode: 0o640, rotateBytes: 1000, rotateKeep: 2, maxQueuedBytes: 1 << 20, report: () => undefined });
  for (let i = 0; i < 50; i++) {
    f.write(Buffer.from(`${String(i).padStart(3, '0')} ${'x'.repeat(95)}\n`));
    await f.flush();
  }
  await f.close();
  assert.deepEqual(readdirSync(dir).sort(), ['r.log', 'r.log.1', 'r.log.2']);
  const lines = ['r.log.2', 'r.log.1', 'r.log'].flatMap((n) => readFileSync(join(dir, n), 'latin1').split('\n').filter((l) => l !== ''));
  const numbers = lines.map((l) => Number(l.slice(0, 3)));
  // A contiguous tail of what was written, in order.
  assert.equal(numbers[numbers.length - 1], 49);
  assert.deepEqual(numbers, numbers.map((_, i) => 50 - numbers.length + i));
  for (const n of ['r.log.1', 'r.log.2']) assert.equal(statSync(join(dir, n)).size, 1000);
});

const blocked = { rules: 'SecRule ARGS "@rx x" "id:1,phase:1,deny,log"', requests: Array.from({ length: 5 }, () => ({ uri: '/?q=x' })) };

test('a full disk (/dev/full): failed writes are counted, reported once, requests go on', async () => {
  const r = await logRun({ ...blocked, logs: { error: '/dev/full', access: 'access.log' } });
  assert.equal(r.txs.length, 5);
  assert.ok(r.txs.every((t) => t.interruption?.status === 403));
  assert.equal(r.logs.writeErrors, 5);
  assert.equal(r.reports.length, 1);
  assert.match(r.reports[0] ?? '', /cannot write log \/dev\/full: ENOSPC; requests go on/);
  // The other logs are unaffected.
  assert.equal(r.read('access.log').split('\n').length, 6);
});

test('a log that cannot be opened (a path below a file): counted, reported once; the audit log too', async () => {
  const r = await logRun({
    rules: `SecAuditEngine On\n${blocked.rules}`,
    requests: blocked.requests,
    logs: { error: '/dev/null/error.log', audit: '/dev/null/audit.log' },
  });
  assert.equal(r.logs.writeErrors, 10);
  assert.equal(r.reports.length, 2);
  for (const m of r.reports) assert.match(m, /cannot write log \/dev\/null\/(error|audit)\.log: ENOTDIR/);
});

test('a read-only folder: EACCES counted and reported once', { skip: process.getuid?.() === 0 ? 'root may write anywhere' : false }, async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'ro'));
  chmodSync(join(dir, 'ro'), 0o500);
  const r = await logRun({ ...blocked, logs: { error: join(dir, 'ro', 'error.log') } });
  assert.equal(r.logs.writeErrors, 5);
  assert.equal(r.reports.length, 1);
  assert.match(r.reports[0] ?? '', /EACCES/);
});

test('an audit storage folder that cannot be made: entries counted, no index line', async () => {
  const r = await logRun({
    rules: `SecAuditEngine On\nSecAuditLogType Concurrent\nSecAuditLogStorageDir /dev/null/store\n${blocked.rules}`,
    requests: blocked.requests,
    logs: { audit: 'index.log' },
  });
  assert.equal(r.logs.writeErrors, 5);
  assert.equal(r.read('index.log'), '');
  assert.equal(r.reports.length, 1);
});

test('writing resumes once the file can be opened again (after reopen)', async () => {
  const dir = tempDir();
  const reports: string[] = [];
  const path = join(dir, 'later', 'x.log');
  const f = new LogFile({ path, mode: 0o640, rotateBytes: 0, rotateKeep: 1, maxQueuedBytes: 1 << 20, report: (m) => reports.push(m) });
  f.write(Buffer.from('lost\n'));
  await f.flush();
  mkdirSync(join(dir, 'later'));
  await f.reopen();
  f.write(Buffer.from('kept\n'));
  await f.close();
  assert.equal(f.writeErrors, 1);
  assert.equal(readFileSync(path, 'latin1'), 'kept\n');
  assert.match(reports[0] ?? '', /ENOENT/);
  assert.match(reports[1] ?? '', /writing again \(1 records lost so far\)/);
});

test('reopen after logrotate renamed the file: old lines in the renamed file, new ones in a new file', async () => {
  const dir = tempDir();
  const r = await logRun({ rules: '', requests: [{ uri: '/1' }], logs: { access: join(dir, 'access.log') } });
  renameSync(join(dir, 'access.log'), join(dir, 'access.log.1'));
  const tx = r.txs[0];
  assert.ok(tx !== undefined);
  const ok: ResponseSummary = { status: 200, protocol: 'HTTP/1.1', headers: [], bytesSent: 0, aborted: false };
  // Until reopen, the open file (now renamed) receives the lines.
  r.logs.transactionDone(tx, ok);
  await r.logs.flush();
  await r.logs.reopen();
  r.logs.transactionDone(tx, ok);
  await r.logs.close();
  assert.equal(readFileSync(join(dir, 'access.log.1'), 'latin1').split('\n').length, 3);
  assert.equal(readFileSync(join(dir, 'access.log'), 'latin1').split('\n').length, 2);
});

test('a slow disk: the queue is bounded, records beyond are dropped and counted', async () => {
  const dir = tempDir();
  const reports: string[] = [];
  const f = new LogFile({ path: join(dir, 'q.log'), mode: 0o640, rotateBytes: 0, rotateKeep: 1, maxQueuedBytes: 1000, report: (m) => reports.push(m) });
  // All written on one turn, before the writer runs: only 1000 bytes may wait.
  const accepted = Array.from({ length: 20 }, (_, i) => f.write(Buffer.from(`${String(i).padStart(2, '0')}${'.'.repeat(97)}\n`)));
  await f.close();
  assert.equal(accepted.filter(Boolean).length, 10);
  assert.equal(f.dropped, 10);
  assert.equal(readFileSync(join(dir, 'q.log'), 'latin1').length, 1000);
  assert.equal(reports.length, 1);
  assert.match(reports[0] ?? '', /not keeping up; dropping records/);
});

test('SecAuditLogFileMode is the mode of a created audit log, whatever the umask', async () => {
  const old = process.umask(0o077);
  try {
    const r = await logRun({ rules: 'SecAuditEngine On\nSecAuditLogFileMode 0644', requests: [{}], logs: { audit: 'audit.log' } });
    assert.equal(statSync(join(r.dir, 'audit.log')).mode & 0o777, 0o644);
  } finally {
    process.umask(old);
  }
});

test('logging never throws into the request path, even on nonsense input', async () => {
  const r = await logRun({ rules: '', requests: [{}], logs: { error: 'error.log', audit: 'audit.log', access: 'access.log' } });
  const tx = r.txs[0];
  assert.ok(tx !== undefined);
  assert.doesNotThrow(() => r.logs.transactionDone(tx, null as unknown as ResponseSummary));
  assert.equal(r.logs.writeErrors, 1);
  assert.equal(r.reports.length, 1);
  assert.ok(existsSync(join(r.dir, 'access.log')));
});
