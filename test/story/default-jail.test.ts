/**
 * The jail Warden runs when warden.yaml names none, as the issue words it: an address
 * refused 5 times within 10 minutes is banned for an hour, longer for each repeat (here:
 * doubling up to a week), and its own machine is exempt. Checked on the config `warden
 * start --upstream URL` resolves to and on the ban engine `warden start` builds from it,
 * with WAF events dated so that no test waits (a ban's length is until − since). That the
 * proxy enforces it before the body is read is the story test's part (pingback-story).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveStartConfig, type WardenConfig } from '../../src/config/index.js';
import { createBanEngine, type BanEngine } from '../../src/cli/ban-engine.js';
import { describeJail } from '../../src/cli/quickstart.js';
import type { WafEvent } from '../../src/engine/events.js';
import { createMemoryStore } from '../../src/store/memory.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function defaultConfig(): WardenConfig {
  const dir = mkdtempSync(join(tmpdir(), 'warden-default-jail-'));
  try {
    const r = resolveStartConfig(['--upstream', 'http://127.0.0.1:3000'], {}, dir);
    assert.ok('config' in r, JSON.stringify(r));
    return r.config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let seq = 0;
function event(address: string, time: number, over: Partial<WafEvent> = {}): WafEvent {
  seq++;
  return {
    id: `E${seq}`,
    time,
    clientAddress: address,
    method: 'GET',
    host: 'blog.example.org',
    uri: "/?s=1' OR 1=1--",
    status: 403,
    blocked: true,
    action: 'deny',
    ruleId: 1004000,
    ruleIds: [1004000],
    tags: ['attack-sqli'],
    anomalyScore: 0,
    bodyError: false,
    userAgent: 'curl/8',
    ...over,
  };
}

async function engine(): Promise<BanEngine> {
  const e = createBanEngine(defaultConfig(), () => {}, createMemoryStore());
  await e.start();
  return e;
}

/** Lets the reports (promises) settle, then says how the address is banned. */
async function banOf(e: BanEngine, address: string): Promise<{ length: number; count: number } | null> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  const ban = e.manager.activeBans().find((b) => b.key === address);
  return ban === undefined ? null : { length: ban.until - ban.since, count: ban.count };
}

test('without jails in the config, Warden runs one on its own refusals: 5 within 10 min, 1 h, increasing up to a week', () => {
  const jails = defaultConfig().jails;
  assert.equal(jails.length, 1);
  const j = jails[0];
  assert.ok(j !== undefined);
  assert.deepEqual(
    { name: j.name, source: j.source, when: j.when, maxRetry: j.maxRetry, findTime: j.findTime, banTime: j.banTime, increment: j.banTimeIncrement.enabled, maxTime: j.banTimeIncrement.maxTime, ignoreSelf: j.ignoreSelf },
    { name: 'waf', source: 'waf', when: { blocked: true }, maxRetry: 5, findTime: 10 * MINUTE, banTime: HOUR, increment: true, maxTime: 7 * 24 * HOUR, ignoreSelf: true },
  );
  // The words the quickstart banner prints for it.
  assert.equal(
    describeJail(j),
    'jail "waf": an address refused by the rules 5 times within 10 min is banned for 1 h, doubling for each repeat offence up to 7 d (this machine\'s own addresses are exempt)',
  );
});

test('the default jail: the 5th refusal within 10 min bans for 1 h; 4, or 5 spread over 11 min, do not', async () => {
  const e = await engine();
  try {
    const now = Date.now();
    for (let i = 0; i < 4; i++) e.reportWafEvent(event('198.51.100.1', now + i * MINUTE));
    assert.equal(await banOf(e, '198.51.100.1'), null, '4 refusals');
    e.reportWafEvent(event('198.51.100.1', now + 9 * MINUTE));
    assert.deepEqual(await banOf(e, '198.51.100.1'), { length: HOUR, count: 1 }, 'the 5th within 10 min');

    // 5 refusals, but the first is 11 minutes before the last: never 5 in one window.
    for (let i = 0; i < 5; i++) e.reportWafEvent(event('198.51.100.2', now - 11 * MINUTE + i * (11 * MINUTE / 4)));
    assert.equal(await banOf(e, '198.51.100.2'), null, '5 refusals over 11 min');

    // Requests that were let through do not count, however many.
    for (let i = 0; i < 10; i++) e.reportWafEvent(event('198.51.100.3', now + i, { status: 200, blocked: false, action: 'pass', ruleId: 0 }));
    assert.equal(await banOf(e, '198.51.100.3'), null, 'passed requests');

    // The machine's own addresses are never banned (ignoreSelf).
    for (let i = 0; i < 6; i++) e.reportWafEvent(event('127.0.0.1', now + i));
    assert.equal(await banOf(e, '127.0.0.1'), null, 'loopback');
  } finally {
    await e.stop();
  }
});

test('the default jail: a repeat offender is banned for 2 h, 4 h, 8 h … and never longer than a week', async () => {
  const e = await engine();
  try {
    const address = '198.51.100.9';
    const lengths: number[] = [];
    let t = Date.now();
    for (let ban = 0; ban < 10; ban++) {
      for (let i = 0; i < 5; i++) e.reportWafEvent(event(address, (t += 1000)));
      const b = await banOf(e, address);
      assert.ok(b !== null, `ban ${ban + 1}`);
      assert.equal(b.count, ban + 1);
      lengths.push(b.length / HOUR);
      // The offender is let out (as if its ban had ended) and comes back.
      assert.ok(await e.manager.unban('waf', address));
    }
    assert.deepEqual(lengths, [1, 2, 4, 8, 16, 32, 64, 128, 168, 168]);
  } finally {
    await e.stop();
  }
});
