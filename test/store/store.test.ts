/**
 * The store contract against every backend, and SQLite's promise: nothing acknowledged is
 * lost when the process is killed with SIGKILL, and a restart reads every live ban back.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { createMemoryStore, openRedisStore, openSqliteStore } from '../../src/store/index.js';
import { skipWithoutRedis, startRedis } from '../support/redis.js';
import { seriesContract, storeContract } from './contract.js';

storeContract('memory', (now) => createMemoryStore(now));
storeContract('sqlite', (now) => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'warden-sqlite-')), 'warden.db'), now));
// Redis: a real redis-server of its own (test/support/redis); each store gets its own key prefix.
const noRedis = skipWithoutRedis();
if (noRedis === false) {
  const redis = startRedis();
  after(async () => (await redis).stop());
  let n = 0;
  storeContract('redis', async (now) => openRedisStore({ url: (await redis).url, prefix: `contract${n++}:`, now }));
} else test('redis: the store contract', { skip: noRedis }, () => {});
seriesContract('memory', () => createMemoryStore());
seriesContract('sqlite', () => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'warden-sqlite-')), 'warden.db')));

test('sqlite: counter series survive closing and reopening the database', () => {
  const db = join(mkdtempSync(join(tmpdir(), 'warden-series-')), 'warden.db');
  const a = openSqliteStore(db);
  a.addSeries(10_000, 1_800_000_000_000, new Map([['requests', 12]]));
  a.close();
  const b = openSqliteStore(db);
  assert.deepEqual(b.readSeries(10_000, 0, 2_000_000_000_000, ['requests']), [{ name: 'requests', t: 1_800_000_000_000, value: 12 }]);
  b.close();
});

test('sqlite: bans written before a SIGKILL are all there after it', async () => {
  const db = join(mkdtempSync(join(tmpdir(), 'warden-kill-')), 'warden.db');
  const writer = `
    import { openSqliteStore } from ${JSON.stringify(new URL('../../src/store/index.js', import.meta.url).pathname)};
    const s = openSqliteStore(${JSON.stringify(db)});
    let i = 0;
    setInterval(() => {
      for (let k = 0; k < 50; k++, i++) s.saveBan({ jail: 'waf', key: '10.0.' + (i >> 8) + '.' + (i & 255), since: Date.now(), until: 0, count: 1, reason: 'x' });
      process.stdout.write(i + '\\n');
    }, 1);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
  let acknowledged = 0;
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      const lines = d.toString().trim().split('\n');
      acknowledged = Number(lines[lines.length - 1]);
      if (acknowledged >= 2000) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => child.on('exit', r));
  const s = openSqliteStore(db);
  const live = s.activeBans(Date.now());
  assert.ok(!(live instanceof Promise));
  assert.ok(live.length >= acknowledged, `${live.length} bans after the kill, ${acknowledged} acknowledged`);
  s.close();
});


test('sqlite: a database written by a newer Warden is refused with the reason', () => {
  const db = join(mkdtempSync(join(tmpdir(), 'warden-ver-')), 'warden.db');
  openSqliteStore(db).close();
  const raw = new Database(db);
  raw.prepare("UPDATE meta SET value = '99' WHERE name = 'schema'").run();
  raw.close();
  assert.throws(() => openSqliteStore(db), /written by a newer Warden \(schema 99/);
});
