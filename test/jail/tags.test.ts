/**
 * fail2ban's regex tags: `<HOST>` and its relatives, `<F-…>` groups and what the filter
 * makes of them (failure id, user, alt_ and tuple_ groups, custom fields), `<SKIPLINES>`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailRegex, FilterRegex, HOST_REGEX, resolveTags } from '../../src/jail/filter/failregex.js';
import { createFilter, type FilterOptions } from '../../src/jail/filter/filter.js';
import { LocatedText } from '../../src/jail/filter/located.js';
import type { FilterDefinition } from '../../src/jail/filter/reader.js';
import { FilterError } from '../../src/jail/filter/errors.js';

function filterOf(failregex: string[], extra: Partial<FilterDefinition> = {}, options: FilterOptions = {}): ReturnType<typeof createFilter> {
  const def: FilterDefinition = {
    name: 't',
    files: [],
    prefregex: undefined,
    failregex: failregex.map((r) => LocatedText.plain(r, { file: 't.conf', line: 1 })),
    ignoreregex: [],
    datepattern: LocatedText.plain('{NONE}'),
    maxlines: undefined,
    usedns: undefined,
    journalmatch: [],
    options: new Map(),
    ...extra,
  };
  return createFilter(def, { now: () => 1124013600, ...options });
}

// [tag, a line part it must match, the named groups it yields]
const tags: Array<[string, string, Record<string, string>]> = [
  ['<HOST>', '192.0.2.1', { ip4: '192.0.2.1' }],
  ['<HOST>', '::ffff:192.0.2.1', { ip4: '192.0.2.1' }],
  ['<HOST>', '[2001:db8::1]', { ip6: '2001:db8::1' }],
  ['<HOST>', 'host-1.example.com', { dns: 'host-1.example.com' }],
  ['<ADDR>', '2001:db8::1', { ip6: '2001:db8::1' }],
  ['<IP4>', '10.0.0.1', { ip4: '10.0.0.1' }],
  ['<IP6>', '::1', { ip6: '::1' }],
  ['<DNS>', 'a.example', { dns: 'a.example' }],
  ['<SUBNET>', '192.0.2.0/24', { ip4: '192.0.2.0', cidr: '24' }],
  ['<ADDR>/<CIDR>', '2001:db8::/32', { ip6: '2001:db8::', cidr: '32' }],
  ['<F-ID/>', 'session-42', { fid: 'session-42' }],
  ['<F-ID>\\w+</F-ID>', 'abc', { fid: 'abc' }],
  ['<F-PORT/>', 'https', { fport: 'https' }],
  ['<F-USER>\\S+</F-USER>@<HOST>', 'bob@192.0.2.5', { user: 'bob', ip4: '192.0.2.5' }],
];

for (const [tag, text, groups] of tags) {
  test(`tag ${tag} matches ${text}`, () => {
    const re = new FilterRegex(`^${tag}$`);
    const m = re.re.search(`${text}\n`);
    assert.ok(m !== null, re.resolved);
    const got = Object.fromEntries(Object.entries(m.groupdict()).filter(([, v]) => v !== undefined));
    assert.deepEqual(got, groups);
  });
}

test('tags: usedns=no leaves host names out of <HOST>; unknown and unopened tags stay as text', () => {
  assert.equal(resolveTags('<HOST>', 'no'), resolveTags('<ADDR>'));
  assert.notEqual(resolveTags('<HOST>', 'warn'), resolveTags('<ADDR>'));
  assert.equal(HOST_REGEX, resolveTags('<HOST>'));
  assert.equal(resolveTags('<script></F-X>'), '<script></F-X>');
  assert.equal(resolveTags('<F-X>a</F-X>'), '(?P<x>a)');
  assert.equal(resolveTags('a<SKIPLINES>b<SKIPLINES>c'), 'a\\n(?P<skiplines0>(?:(?:.*\\n)*?))b\\n(?P<skiplines1>(?:(?:.*\\n)*?))c');
});

test('a failregex needs a failure id; a bad one names its file and line', () => {
  assert.throws(
    () => new FailRegex('^no id$', { location: { file: 'f.conf', line: 7 } }),
    (err: unknown) => err instanceof FilterError && err.code === 'WARDEN_FILTER_NO_FAILURE_ID' && err.message.startsWith('f.conf:7: '),
  );
  // The prefregex may carry it.
  const pref = new FilterRegex('^<HOST> <F-CONTENT>.+</F-CONTENT>$');
  assert.doesNotThrow(() => new FailRegex('^failed$', { prefRegex: pref }));
  assert.throws(() => new FilterRegex('(', { location: { file: 'g.conf', line: 3 } }), /^FilterError: g\.conf:3: cannot compile regex/u);
});

test('the failure: id, host, user, custom fields, alt_ and tuple_ groups', () => {
  const f = filterOf([
    '^login failed for <F-USER>\\S*</F-USER>(?: alias <F-ALT_USER>\\S+</F-ALT_USER>)? from <HOST> via <F-PROTO>\\w+</F-PROTO>$',
    '^session <F-ID>\\S+</F-ID> from <ADDR>$',
    '^pair <F-TUPLE_ID_1>\\w+</F-TUPLE_ID_1>/<F-TUPLE_ID_2>\\w+</F-TUPLE_ID_2> <F-ID>\\w+</F-ID>$',
  ]);
  const a = f.match('login failed for  alias bob from 192.0.2.9 via imap');
  assert.deepEqual([a?.id, a?.host, a?.isAddress, a?.user, a?.groups.proto], ['192.0.2.9', '192.0.2.9', true, 'bob', 'imap']);
  // An F-ID other than the address is the failure id; the address is still reported.
  const b = f.match('session s-1 from 2001:DB8:0:0::1');
  assert.deepEqual([b?.id, b?.isAddress, b?.host], ['s-1', false, '2001:db8::1']);
  // Host names are never resolved by the filter.
  const c = f.match('login failed for x from mail.example.org via smtp');
  assert.deepEqual([c?.id, c?.isAddress], ['mail.example.org', false]);
  const p = f.processLine('pair a/b k')[0];
  assert.deepEqual(p?.data.fid, ['k', 'a', 'b']);
});

test('IPv4-mapped addresses are IPv4; <CIDR> makes a subnet id', () => {
  const f = filterOf(['^from <HOST>$', '^net <SUBNET>$']);
  assert.equal(f.match('from ::ffff:192.0.2.33')?.id, '192.0.2.33');
  assert.equal(f.match('net 192.0.2.77/24')?.id, '192.0.2.0/24');
  assert.equal(f.match('net 2001:db8::1/48')?.id, '2001:db8::/48');
});

test('ignoreregex drops a match; prefregex <F-CONTENT> is what failregexes see', () => {
  const f = filterOf(['^denied <HOST>$'], {
    prefregex: LocatedText.plain('^app\\[\\d+\\]: <F-CONTENT>.+</F-CONTENT>$'),
    ignoreregex: [LocatedText.plain('^denied 10\\.')],
  });
  assert.equal(f.match('app[1]: denied 192.0.2.1')?.id, '192.0.2.1');
  assert.equal(f.match('app[1]: denied 10.1.1.1'), null);
  assert.equal(f.match('other[1]: denied 192.0.2.1'), null);
  assert.equal(f.stats.prefregexMatched, 2);
  assert.deepEqual(f.stats.ignoreregexHits, [1]);
});
