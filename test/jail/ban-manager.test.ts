/**
 * The ban engine's judgement with a fake clock: maxRetry within findTime bans, outside it
 * does not; increments double; ignoreIp holds; bans expire and actions unban; restarts and
 * failing actions lose nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { BanManager, MANUAL_JAIL, type ActionFailure } from '../../src/jail/ban-manager.js';
import { BanSet } from '../../src/jail/ban-set.js';
import { banKey } from '../../src/jail/ban-key.js';
import { FakeClock } from '../../src/jail/clock.js';
import { Jail } from '../../src/jail/jail.js';
import { recidive } from '../../src/jail/sources/bans.js';
import { DEFAULT_INCREMENT, jailSettings, type BanAction, type BanEvent, type BanRecord } from '../../src/jail/types.js';
import { createMemoryStore, openSqliteStore } from '../../src/store/index.js';
import type { Store, StoredBanEvent } from '../../src/store/types.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

/** An action that records what it was asked to do. */
function recorder(name = 'rec'): BanAction & { calls: string[] } {
  const calls: string[] = [];
  return {
    name,
    calls,
    start: async () => void calls.push('start'),
    ban: async (b) => void calls.push(`ban ${b.key}`),
    unban: async (b) => void calls.push(`unban ${b.key}`),
    stop: async () => void calls.push('stop'),
  };
}

function setup(overrides: Parameters<typeof jailSettings>[1] = {}, makeStore?: (now: () => number) => Store) {
  const clock = new FakeClock(T0);
  const store = makeStore === undefined ? createMemoryStore(() => clock.now()) : makeStore(() => clock.now());
  const action = recorder();
  const events: BanEvent[] = [];
  const manager = new BanManager({ store, clock, actions: new Map([[action.name, action]]) });
  manager.addJail(jailSettings('waf', { maxRetry: 3, findTime: 10 * MIN, banTime: 60 * MIN, ignoreSelf: false, actions: ['rec'], ...overrides }));
  manager.subscribe((e) => events.push(e));
  return { clock, action, events, manager, store };
}

const fail = (time: number, address = '203.0.113.9') => ({ address, time, detail: 'rule 949110' });
const settle = () => new Promise((r) => setImmediate(r));

test('maxRetry failures within findTime ban; spread wider, they do not', async () => {
  const { clock, manager } = setup();
  assert.equal(await manager.reportFailure('waf', fail(clock.now())), null);
  clock.advance(4 * MIN);
  assert.equal(await manager.reportFailure('waf', fail(clock.now())), null);
  clock.advance(7 * MIN); // the first failure is now outside findTime
  assert.equal(await manager.reportFailure('waf', fail(clock.now())), null);
  clock.advance(1 * MIN);
  const ban = await manager.reportFailure('waf', fail(clock.now()));
  assert.ok(ban !== null);
  assert.deepEqual([ban.key, ban.count, ban.until - ban.since], ['203.0.113.9', 1, 60 * MIN]);
});

test('a ban expires on time and the action unbans', async () => {
  const { clock, manager, action, events } = setup();
  await manager.start();
  for (let i = 0; i < 3; i++) await manager.reportFailure('waf', fail(clock.now()));
  await settle();
  assert.deepEqual(action.calls, ['start', 'ban 203.0.113.9']);
  clock.advance(60 * MIN - 1);
  assert.equal(manager.activeBans().length, 1);
  clock.advance(1);
  await settle();
  assert.equal(manager.activeBans().length, 0);
  assert.deepEqual(action.calls, ['start', 'ban 203.0.113.9', 'unban 203.0.113.9']);
  assert.deepEqual(events.map((e) => e.type), ['ban', 'unban']);
});

test('increments: each repeat ban doubles, capped at maxTime; multipliers when given', async () => {
  const { clock, manager } = setup({ increment: { ...DEFAULT_INCREMENT, enabled: true, maxTime: 300 * MIN } });
  const lengths: number[] = [];
  for (let round = 0; round < 5; round++) {
    let ban: BanRecord | null = null;
    for (let i = 0; i < 3; i++) ban = await manager.reportFailure('waf', fail(clock.now()));
    assert.ok(ban !== null);
    lengths.push((ban.until - ban.since) / MIN);
    clock.advance(ban.until - ban.since);
    await settle();
  }
  assert.deepEqual(lengths, [60, 120, 240, 300, 300]);
  const jail = new Jail(jailSettings('m', { banTime: MIN, ignoreSelf: false, increment: { ...DEFAULT_INCREMENT, enabled: true, multipliers: [1, 5, 30] } }));
  assert.deepEqual([0, 1, 2, 3].map((n) => jail.banDuration(n) / MIN), [1, 5, 30, 30]);
});

test('ignoreIp holds for addresses and CIDR blocks; IPv6 failures count per /64', async () => {
  const { clock, manager } = setup({ ignoreIp: ['198.51.100.0/24', '192.0.2.1'] });
  for (let i = 0; i < 5; i++) assert.equal(await manager.reportFailure('waf', fail(clock.now(), '198.51.100.77')), null);
  for (let i = 0; i < 5; i++) assert.equal(await manager.reportFailure('waf', fail(clock.now(), '192.0.2.1')), null);
  // An attacker rotating inside one /64 is one key.
  await manager.reportFailure('waf', fail(clock.now(), '2001:db8:1:2::1'));
  await manager.reportFailure('waf', fail(clock.now(), '2001:db8:1:2::abcd'));
  const ban = await manager.reportFailure('waf', fail(clock.now(), '2001:db8:1:2:ffff::9'));
  assert.equal(ban?.key, '2001:db8:1:2::/64');
  assert.equal(manager.banOf('2001:db8:1:2:1234::1')?.key, '2001:db8:1:2::/64');
  assert.equal(manager.banOf('2001:db8:1:3::1'), null);
});

test('manual bans: permanent by default, any duration on request, unban by address', async () => {
  const { clock, manager } = setup();
  const forever = await manager.ban('203.0.113.50');
  assert.deepEqual([forever.jail, forever.until], [MANUAL_JAIL, 0]);
  const hour = await manager.ban('203.0.113.51', { jail: 'waf', duration: 60 * MIN, reason: 'dashboard' });
  assert.equal(hour.until, clock.now() + 60 * MIN);
  assert.equal(await manager.unban(MANUAL_JAIL, '203.0.113.50'), true);
  assert.equal(await manager.unban(MANUAL_JAIL, '203.0.113.50'), false);
  assert.equal(await manager.unbanAll(), 1);
  await assert.rejects(manager.ban('not-an-ip'), /not an IP address/);
});

test('a restart (a new manager on the same SQLite file) restores every live ban and re-applies actions', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'warden-jail-')), 'warden.db');
  const first = setup({}, (now) => openSqliteStore(path, now));
  for (let i = 0; i < 3; i++) await first.manager.reportFailure('waf', fail(first.clock.now()));
  await first.manager.ban('198.51.100.1');
  await first.manager.stop();
  first.store.close();
  const again = setup({}, (now) => openSqliteStore(path, now));
  await again.manager.start();
  await settle();
  assert.deepEqual(again.manager.activeBans().map((b) => b.key).sort(), ['198.51.100.1', '203.0.113.9']);
  assert.deepEqual(again.action.calls.sort(), ['ban 203.0.113.9', 'start']);
  assert.deepEqual(again.events.map((e) => `${e.type} ${e.ban.key}`).sort(), ['ban 198.51.100.1', 'ban 203.0.113.9']);
  // The restored ban still expires on time.
  again.clock.advance(60 * MIN);
  await settle();
  assert.deepEqual(again.manager.activeBans().map((b) => b.key), ['198.51.100.1']);
});

test('a failing action is retried with backoff and every failure is reported', async () => {
  const clock = new FakeClock(T0);
  let tries = 0;
  const flaky: BanAction = {
    name: 'flaky',
    ban: async () => {
      tries++;
      if (tries < 3) throw new Error('nft: Operation not permitted');
    },
    unban: async () => {},
  };
  const failures: ActionFailure[] = [];
  const manager = new BanManager({ store: createMemoryStore(), clock, actions: new Map([['flaky', flaky]]), onActionFailure: (f) => failures.push(f) });
  manager.addJail(jailSettings('waf', { maxRetry: 1, ignoreSelf: false, actions: ['flaky'] }));
  await manager.reportFailure('waf', fail(clock.now()));
  for (let i = 0; i < 4; i++) {
    await settle();
    clock.advance(5000);
  }
  await settle();
  assert.equal(tries, 3);
  assert.deepEqual(failures.map((f) => [f.attempt, f.final]), [[1, false], [2, false]]);
});

test('ban keys and the ban set answer for IPv4, IPv4-mapped and IPv6 prefixes', () => {
  assert.equal(banKey('::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(banKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(banKey('nope'), null);
  const set = new BanSet();
  const b = (jail: string, key: string, until = 0): BanRecord => ({ jail, key, since: T0, until, count: 1, reason: '' });
  set.apply({ type: 'ban', ban: b('waf', '203.0.113.9') });
  set.apply({ type: 'ban', ban: b('manual', '203.0.113.9') });
  set.apply({ type: 'ban', ban: b('waf', '2001:db8:1:2::/64', T0 + 1000) });
  assert.equal(set.lookup('203.0.113.9', T0)?.jail, 'waf');
  set.apply({ type: 'unban', ban: b('waf', '203.0.113.9'), reason: 'manual' });
  assert.equal(set.lookup('203.0.113.9', T0)?.jail, 'manual');
  assert.equal(set.lookup('::ffff:203.0.113.9', T0)?.jail, 'manual');
  assert.equal(set.lookup('2001:db8:1:2::77', T0)?.key, '2001:db8:1:2::/64');
  assert.equal(set.lookup('2001:db8:1:2::77', T0 + 1000), null);
  assert.equal(set.lookup('198.51.100.1', T0), null);
});

test('recidive: a key banned three times by other jails within the window is banned for longer', async () => {
  const { clock, manager } = setup({ maxRetry: 1 });
  manager.addJail(jailSettings('recidive', { maxRetry: 3, findTime: 24 * 60 * MIN, banTime: 7 * 24 * 60 * MIN, ignoreSelf: false }));
  manager.subscribe(recidive('recidive', [], (jail, f) => void manager.reportFailure(jail, f)));
  for (let i = 0; i < 3; i++) {
    await manager.reportFailure('waf', fail(clock.now()));
    await settle();
    clock.advance(61 * MIN);
    await settle();
  }
  const r = manager.activeBans().find((b) => b.jail === 'recidive');
  assert.ok(r !== undefined);
  assert.equal(r.until - r.since, 7 * 24 * 60 * MIN);
});

test('ignoreIp host names are resolved (localhost)', async () => {
  const jail = new Jail(jailSettings('j', { ignoreIp: ['localhost'], ignoreSelf: false }));
  assert.equal(jail.isIgnored('127.0.0.1'), false);
  await jail.resolveIgnoredHosts();
  assert.equal(jail.isIgnored('127.0.0.1'), true);
});

/** A memory store that also tells its watchers of bans "made on another node" (as Redis does). */
function sharedStore(now: () => number): Store & { other: (e: StoredBanEvent) => void; writes: string[] } {
  const inner = createMemoryStore(now);
  const watchers = new Set<(e: StoredBanEvent) => void>();
  const writes: string[] = [];
  return {
    ...inner,
    writes,
    saveBan: (ban) => {
      writes.push(`save ${ban.jail} ${ban.key}`);
      return inner.saveBan(ban);
    },
    endBan: (jail, key, at) => {
      writes.push(`end ${jail} ${key}`);
      return inner.endBan(jail, key, at);
    },
    watchBans: (l) => {
      watchers.add(l);
      return () => void watchers.delete(l);
    },
    other: (e) => {
      for (const w of watchers) w(e);
    },
  };
}

test('bans made on another node (through a shared store) are enforced here without being written again', async () => {
  const { clock, manager, action, events, store } = setup({}, sharedStore);
  const shared = store as ReturnType<typeof sharedStore>;
  await manager.start();
  const remote: BanRecord = { jail: 'waf', key: '198.51.100.7', since: clock.now(), until: clock.now() + 60 * MIN, count: 1, reason: 'node A' };
  shared.other({ type: 'ban', ban: remote });
  await settle();
  assert.equal(manager.banOf('198.51.100.7')?.reason, 'node A');
  assert.deepEqual(events.map((e) => [e.type, e.external]), [['ban', true]]);
  assert.deepEqual(action.calls, ['start', 'ban 198.51.100.7'], 'this node\'s firewall actions enforce it too');
  assert.deepEqual(shared.writes, [], 'nothing written back to the store');
  // The same ban again (a resync) changes nothing; an older one neither.
  shared.other({ type: 'ban', ban: remote });
  shared.other({ type: 'ban', ban: { ...remote, since: remote.since - 1000, reason: 'older' } });
  assert.equal(events.length, 1);
  assert.equal(manager.banOf('198.51.100.7')?.reason, 'node A');
  // A ban from a jail this node does not run is enforced and can be unbanned here by name.
  shared.other({ type: 'ban', ban: { ...remote, jail: 'sshd', key: '192.0.2.5' } });
  assert.ok(manager.jailNames().includes('sshd'));
  assert.equal(await manager.unban('sshd', '192.0.2.5'), true);
  assert.deepEqual(shared.writes, ['end sshd 192.0.2.5']);
  // Unbanned elsewhere: lifted here, not written.
  shared.other({ type: 'unban', ban: remote, at: clock.now() });
  await settle();
  assert.equal(manager.banOf('198.51.100.7'), null);
  assert.deepEqual(events.slice(-1).map((e) => [e.type, e.external, e.type === 'unban' ? e.reason : '']), [['unban', true, 'manual']]);
  assert.deepEqual(shared.writes, ['end sshd 192.0.2.5']);
  assert.deepEqual(action.calls.slice(-1), ['unban 198.51.100.7']);
  // An unban of an older ban does not lift a newer one made here.
  const mine = await manager.ban('198.51.100.8', { jail: 'waf' });
  shared.other({ type: 'unban', ban: { ...mine, since: mine.since - 1 }, at: clock.now() });
  assert.ok(manager.banOf('198.51.100.8') !== null);
  await manager.stop();
});

test('recidive counts only this node\'s bans, not those learned from other nodes', async () => {
  const { clock, manager, store } = setup({ maxRetry: 1 }, sharedStore);
  const shared = store as ReturnType<typeof sharedStore>;
  manager.addJail(jailSettings('recidive', { maxRetry: 2, findTime: 24 * 60 * MIN, banTime: 7 * 24 * 60 * MIN, ignoreSelf: false }));
  manager.subscribe(recidive('recidive', [], (jail, f) => void manager.reportFailure(jail, f)));
  await manager.start();
  for (let i = 0; i < 3; i++) {
    shared.other({ type: 'ban', ban: { jail: 'waf', key: '203.0.113.50', since: clock.now(), until: clock.now() + MIN, count: i + 1, reason: 'elsewhere' } });
    clock.advance(2 * MIN);
    await settle();
  }
  assert.equal(manager.activeBans().find((b) => b.jail === 'recidive'), undefined);
  await manager.stop();
});
