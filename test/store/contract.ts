/**
 * @module test/store/contract
 * The contract every store backend keeps (memory, SQLite, and later Redis): one suite, run
 * against each, as Hono runs one suite against every adapter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SeriesStore } from '../../src/store/series.js';
import type { CollectionUpdate, Store, StoredVariable } from '../../src/store/types.js';

type MaybePromise<T> = T | Promise<T>;

/** Builds a fresh store whose clock the suite controls. */
export type StoreFactory = (now: () => number) => MaybePromise<Store>;

function update(vars: Record<string, string>, deltas: Record<string, number> = {}, timeoutSeconds = 3600, removed: string[] = []): CollectionUpdate {
  const variables = new Map<string, StoredVariable>();
  for (const [name, value] of Object.entries(vars)) variables.set(name.toLowerCase(), { name, value, expires: 0 });
  return { variables, deltas: new Map(Object.entries(deltas)), removed: new Set(removed), timeoutSeconds };
}

export function storeContract(name: string, make: StoreFactory): void {
  let time = 1_800_000_000_000;
  const now = (): number => time;

  test(`${name}: a ban is live until it ends or expires, and stays as history`, async () => {
    const s = await make(now);
    await s.saveBan({ jail: 'waf', key: '203.0.113.9', since: time, until: time + 60_000, count: 1, reason: '5 failures' });
    await s.saveBan({ jail: 'manual', key: '198.51.100.1', since: time, until: 0, count: 1, reason: 'manual' });
    assert.deepEqual((await s.activeBans(time)).map((b) => b.key).sort(), ['198.51.100.1', '203.0.113.9']);
    assert.deepEqual((await s.activeBans(time + 60_001)).map((b) => b.key), ['198.51.100.1']);
    assert.equal(await s.endBan('manual', '198.51.100.1', time + 1), true);
    assert.equal(await s.endBan('manual', '198.51.100.1', time + 2), false);
    assert.deepEqual(await s.activeBans(time + 2), [
      { jail: 'waf', key: '203.0.113.9', since: time, until: time + 60_000, count: 1, reason: '5 failures' },
    ]);
    assert.equal(await s.banCount('198.51.100.1', null, 0), 1);
    await s.close();
  });

  test(`${name}: a new ban of the same key replaces the live one; history counts both`, async () => {
    const s = await make(now);
    await s.saveBan({ jail: 'waf', key: '2001:db8:1:2::/64', since: time, until: time + 1000, count: 1, reason: 'a' });
    await s.saveBan({ jail: 'waf', key: '2001:db8:1:2::/64', since: time + 10, until: time + 5000, count: 2, reason: 'b' });
    const live = await s.activeBans(time + 20);
    assert.equal(live.length, 1);
    assert.equal(live[0]?.count, 2);
    assert.equal(await s.banCount('2001:db8:1:2::/64', 'waf', 0), 2);
    assert.equal(await s.banCount('2001:db8:1:2::/64', 'other', 0), 0);
    assert.equal(await s.banCount('2001:db8:1:2::/64', null, time + 5), 1);
    await s.close();
  });

  test(`${name}: purging history keeps live bans`, async () => {
    const s = await make(now);
    await s.saveBan({ jail: 'waf', key: 'a', since: time, until: time + 10, count: 1, reason: '' });
    await s.saveBan({ jail: 'waf', key: 'b', since: time, until: 0, count: 1, reason: '' });
    assert.equal(await s.purgeHistory(time + 100), 1);
    assert.deepEqual((await s.activeBans(time + 100)).map((b) => b.key), ['b']);
    await s.close();
  });

  test(`${name}: collections round-trip, merge concurrent counters, remove and expire`, async () => {
    const s = await make(now);
    assert.equal(await s.loadCollection('ip', '203.0.113.9'), null);
    await s.saveCollection('ip', '203.0.113.9', update({ hits: '1', KEY: '203.0.113.9' }, { hits: 1 }));
    // Two transactions both loaded hits=1 and each added 1: the store must end at 3.
    await s.saveCollection('ip', '203.0.113.9', update({ hits: '2' }, { hits: 1 }));
    await s.saveCollection('ip', '203.0.113.9', update({ hits: '2', flag: 'x' }, { hits: 1 }));
    const c = await s.loadCollection('ip', '203.0.113.9');
    assert.equal(c?.get('hits')?.value, '3');
    assert.equal(c?.get('key')?.value, '203.0.113.9');
    await s.saveCollection('ip', '203.0.113.9', update({}, {}, 3600, ['flag']));
    assert.equal((await s.loadCollection('ip', '203.0.113.9'))?.get('flag'), undefined);
    time += 3_601_000;
    assert.equal(await s.loadCollection('ip', '203.0.113.9'), null);
    await s.close();
  });
}

/** Builds a fresh store that keeps counter series. */
export type SeriesStoreFactory = () => MaybePromise<SeriesStore & { close(): MaybePromise<void> }>;

/** The contract of stores that keep the dashboard's counter series (store/series). */
export function seriesContract(name: string, make: SeriesStoreFactory): void {
  const t0 = 1_800_000_000_000;
  const step = 10_000;

  test(`${name}: series buckets add up, are read by name and range, and are purged by age`, async () => {
    const s = await make();
    await s.addSeries(step, t0, new Map([['requests', 3], ['blocked', 1]]));
    await s.addSeries(step, t0, new Map([['requests', 2]]));
    await s.addSeries(step, t0 + step, new Map([['requests', 7]]));
    // Another width is another series.
    await s.addSeries(300_000, t0, new Map([['requests', 100]]));
    assert.deepEqual(await s.readSeries(step, t0, t0 + 2 * step, ['requests', 'blocked']), [
      { name: 'blocked', t: t0, value: 1 },
      { name: 'requests', t: t0, value: 5 },
      { name: 'requests', t: t0 + step, value: 7 },
    ]);
    assert.deepEqual(await s.readSeries(step, t0 + step, t0 + 2 * step, ['requests']), [{ name: 'requests', t: t0 + step, value: 7 }]);
    assert.deepEqual(await s.readSeries(step, t0, t0 + 2 * step, ['nothing']), []);
    assert.equal(await s.purgeSeries(step, t0 + step), 2);
    assert.deepEqual(await s.readSeries(step, 0, t0 + 2 * step, ['requests', 'blocked']), [{ name: 'requests', t: t0 + step, value: 7 }]);
    assert.deepEqual(await s.readSeries(300_000, 0, t0 + 1, ['requests']), [{ name: 'requests', t: t0, value: 100 }]);
    await s.close();
  });

  test(`${name}: top lists: set replaces a bucket's value, sums rank by prefix over a range`, async () => {
    const s = await make();
    await s.setSeries(step, t0, new Map([['client:203.0.113.9', 4], ['client:198.51.100.1', 9], ['rule:942100', 2]]));
    await s.setSeries(step, t0, new Map([['client:203.0.113.9', 6]]));
    await s.setSeries(step, t0 + step, new Map([['client:203.0.113.9', 5], ['client:192.0.2.1', 1]]));
    assert.deepEqual(await s.sumSeries(step, t0, t0 + 2 * step, 'client:', 10), [
      { name: 'client:203.0.113.9', value: 11 },
      { name: 'client:198.51.100.1', value: 9 },
      { name: 'client:192.0.2.1', value: 1 },
    ]);
    assert.deepEqual(await s.sumSeries(step, t0, t0 + 2 * step, 'client:', 1), [{ name: 'client:203.0.113.9', value: 11 }]);
    assert.deepEqual(await s.sumSeries(step, t0 + step, t0 + 2 * step, 'rule:', 10), []);
    assert.deepEqual(await s.sumSeries(step, t0, t0 + step, 'rule:', 10), [{ name: 'rule:942100', value: 2 }]);
    await s.close();
  });
}
