/**
 * HeaderCarry: what one request's transaction leaves for the next on the same connection.
 * A header that comes back unchanged is the same Entry (with what was worked out about its
 * value); verdicts are the same as without the carry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { HeaderCarry, Waf, type Transaction } from '../../src/engine/index.js';

const RULES = `SecRuleEngine On
SecRule REQUEST_HEADERS "@rx evil" "id:1,phase:1,deny,status:403,t:lowercase,log"
SecRule REQUEST_HEADERS_NAMES "@rx ^x-bad$" "id:2,phase:1,deny,status:403,t:lowercase,log"
SecRule REQUEST_HEADERS:User-Agent "@pm scanner" "id:3,phase:1,pass,log,t:lowercase"
SecRule REQUEST_COOKIES "@rx evil" "id:4,phase:1,deny,status:403,log"
SecRule REQUEST_COOKIES_NAMES "@rx ^bad$" "id:5,phase:1,deny,status:403,log"
SecRule &REQUEST_COOKIES "@gt 3" "id:6,phase:1,pass,log"`;

/** A fresh copy of a string, as the network would deliver it. */
const fresh = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

async function run(waf: Waf, headers: ReadonlyArray<readonly [string, string]>, carry?: HeaderCarry): Promise<{ tx: Transaction; status: number }> {
  const tx = waf.newTransaction(carry === undefined ? {} : { carry });
  tx.processConnection('192.0.2.10', 40000, '127.0.0.1', 80);
  tx.processRequestLine('GET', '/', 'HTTP/1.1');
  for (const [k, v] of headers) tx.addRequestHeader(fresh(k), fresh(v));
  const it = (await tx.processRequestHeaders()) ?? (await tx.processRequestBody());
  await tx.processLogging();
  return { tx, status: it?.status ?? 200 };
}

const BROWSER = [
  ['Host', 'blog.example.com'],
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0'],
  ['Accept', 'text/html,application/xhtml+xml'],
  ['Cookie', 'session=abc123; theme=dark'],
] as const;

test('a header that comes back unchanged on the connection is the same entry; a changed one is new', async () => {
  const waf = Waf.fromText(RULES, { file: 'carry.conf' });
  const carry = new HeaderCarry();
  const first = await run(waf, BROWSER, carry);
  const second = await run(waf, [BROWSER[0], BROWSER[1], ['Accept', '*/*'], BROWSER[3]], carry);
  const same = second.tx.requestHeaders.map((e, i) => e === first.tx.requestHeaders[i]);
  assert.deepEqual(same, [true, true, false, true]);
  assert.equal(second.tx.requestHeaders[2]?.value, '*/*');
  // Headers that moved are not matched by place: new entries, right values.
  const third = await run(waf, [BROWSER[1], BROWSER[0]], carry);
  assert.deepEqual(
    third.tx.requestHeaders.map((e) => [e.key, e.value, e === second.tx.requestHeaders[0] || e === second.tx.requestHeaders[1]]),
    [
      ['User-Agent', BROWSER[1][1], false],
      ['Host', BROWSER[0][1], false],
    ],
  );
});

test('with and without a carry, every request gets the same verdict and matches', async () => {
  const waf = Waf.fromText(RULES, { file: 'carry.conf' });
  const requests: ReadonlyArray<ReadonlyArray<readonly [string, string]>> = [
    BROWSER,
    BROWSER,
    [...BROWSER, ['X-Bad', '1']],
    BROWSER,
    [BROWSER[0], ['User-Agent', 'Scanner/1.0'], BROWSER[2], BROWSER[3]],
    [BROWSER[0], ['User-Agent', 'Scanner/1.0'], BROWSER[2], BROWSER[3]],
    [BROWSER[0], BROWSER[1], ['Accept', 'EVIL/html'], BROWSER[3]],
    BROWSER,
    [...BROWSER, ['Cookie', 'bad=1']],
    [...BROWSER, ['Cookie', 'extra=1; more=2']],
    BROWSER,
    [BROWSER[0], BROWSER[1], BROWSER[2], ['Cookie', 'session=evil']],
    [BROWSER[0], BROWSER[1], BROWSER[2], ['Cookie', 'session=evil']],
    BROWSER,
  ];
  const carry = new HeaderCarry();
  for (const [i, headers] of requests.entries()) {
    const plain = await run(waf, headers);
    const carried = await run(waf, headers, carry);
    assert.equal(carried.status, plain.status, `request ${i}`);
    assert.deepEqual(
      carried.tx.matches.map((m) => [m.ruleId, m.data]),
      plain.tx.matches.map((m) => [m.ruleId, m.data]),
      `request ${i}`,
    );
  }
  assert.deepEqual(
    (await Promise.all(requests.map((h) => run(waf, h)))).map((r) => r.status),
    [200, 200, 403, 200, 200, 200, 403, 200, 403, 200, 200, 403, 403, 200],
  );
});

test('an unchanged Cookie header gives the same cookie entries; a second Cookie header is parsed on its own', async () => {
  const waf = Waf.fromText(RULES, { file: 'carry.conf' });
  const carry = new HeaderCarry();
  const first = await run(waf, BROWSER, carry);
  const second = await run(waf, BROWSER, carry);
  assert.deepEqual(second.tx.requestCookies.map((c) => [c.key, c.value]), [['session', 'abc123'], ['theme', 'dark']]);
  assert.equal(second.tx.requestCookies.every((c, i) => c === first.tx.requestCookies[i]), true);
  const more = await run(waf, [...BROWSER, ['Cookie', 'extra=1']], carry);
  assert.deepEqual(more.tx.requestCookies.map((c) => c.key), ['session', 'theme', 'extra']);
  const back = await run(waf, BROWSER, carry);
  assert.deepEqual(back.tx.requestCookies.map((c) => c.key), ['session', 'theme']);
  const changed = await run(waf, [BROWSER[0], BROWSER[1], BROWSER[2], ['Cookie', 'session=xyz; theme=dark']], carry);
  assert.deepEqual(changed.tx.requestCookies.map((c) => [c.key, c.value, back.tx.requestCookies.includes(c)]), [
    ['session', 'xyz', false],
    ['theme', 'dark', false],
  ]);
});

test('a value first seen on the connection gets its lasting id on the next request, as a new entry of it would', async () => {
  const waf = Waf.fromText(RULES, { file: 'carry.conf' });
  const carry = new HeaderCarry();
  // Never seen before in this process: its first sighting gets a first-sighting id (negative).
  const headers = [['Host', 'blog.example.com'], ['User-Agent', `Mozilla/5.0 (${randomUUID()})`]] as const;
  const first = await run(waf, headers, carry);
  const ua = first.tx.requestHeaders[1];
  assert.ok(ua !== undefined && ua.memoId < 0, `first sighting: ${ua?.memoId}`);
  const second = await run(waf, headers, carry);
  assert.equal(second.tx.requestHeaders[1], ua);
  assert.ok(ua.memoId > 0, `second sighting: ${ua.memoId}`);
  const third = await run(waf, headers, carry);
  assert.equal(third.tx.requestHeaders[1], ua);
  assert.equal(third.tx.requestHeaders[1]?.memoId, ua.memoId);
});

test('entries are carried between transactions of one Waf only, and not past 8 KiB of header values', async () => {
  const a = Waf.fromText(RULES, { file: 'carry.conf' });
  const b = Waf.fromText(RULES, { file: 'carry.conf' });
  const carry = new HeaderCarry();
  const first = await run(a, BROWSER, carry);
  const reloaded = await run(b, BROWSER, carry);
  assert.equal(reloaded.tx.requestHeaders.some((e, i) => e === first.tx.requestHeaders[i]), false);
  const again = await run(b, BROWSER, carry);
  assert.equal(again.tx.requestHeaders.every((e, i) => e === reloaded.tx.requestHeaders[i]), true);
  const big = [...BROWSER, ['X-Long', 'x'.repeat(9000)]] as const;
  const long = await run(b, big, carry);
  // Nothing of it is kept for the idle connection: neither its entries nor its index of names.
  assert.deepEqual([carry.headers.length, carry.index, carry.indexOf], [0, null, null]);
  const after = await run(b, big, carry);
  assert.equal(after.tx.requestHeaders.some((e, i) => e === long.tx.requestHeaders[i]), false);
});

test('a header by name (REQUEST_HEADERS:Name) is found through the request\'s index of names, and the index is taken over only for the same headers', async () => {
  // Each rule logs the values its selector selects: the index must give what comparing every name gives.
  const rules = `SecRuleEngine On
SecRule REQUEST_HEADERS:X-Dup "@rx ." "id:10,phase:1,pass,log,msg:'dup'"
SecRule REQUEST_HEADERS:user-agent "@rx ." "id:11,phase:1,pass,log,msg:'ua'"
SecRule REQUEST_HEADERS:\u00c9t\u00e9 "@rx ." "id:12,phase:1,pass,log,msg:'latin1'"
SecRule REQUEST_HEADERS:Absent "@rx ." "id:13,phase:1,pass,log,msg:'absent'"
SecRule &REQUEST_HEADERS:X-Dup "@eq 2" "id:14,phase:1,pass,log,msg:'count'"`;
  const waf = Waf.fromText(rules, { file: 'index.conf' });
  const seen = (tx: Transaction): string[] => tx.matches.map((m) => `${m.ruleId} ${m.variable}=${m.value}`);
  const headers: Array<[string, string]> = [['Host', 'a'], ['x-dup', 'one'], ['USER-AGENT', 'ua'], ['X-DUP', 'two'], ['\u00e9T\u00c9', 'e']];
  const expected = ['10 REQUEST_HEADERS:x-dup=one', '10 REQUEST_HEADERS:X-DUP=two', '11 REQUEST_HEADERS:USER-AGENT=ua', '12 REQUEST_HEADERS:\u00e9T\u00c9=e', '14 &REQUEST_HEADERS:X-Dup=2'];
  const carry = new HeaderCarry();
  const plain = await run(waf, headers);
  assert.deepEqual(seen(plain.tx), expected);
  const first = await run(waf, headers, carry);
  const second = await run(waf, headers, carry);
  assert.deepEqual(seen(first.tx), seen(plain.tx));
  assert.deepEqual(seen(second.tx), seen(plain.tx));
  assert.equal(second.tx.requestHeadersNamed('x-dup'), first.tx.requestHeadersNamed('x-dup'), 'the same headers: the index is taken over');
  // A changed header, one more, one fewer: a new index, with the new entries.
  const changed = await run(waf, headers.map((h, i): [string, string] => (i === 3 ? ['X-DUP', 'three'] : h)), carry);
  assert.deepEqual(changed.tx.requestHeadersNamed('x-dup')?.map((e) => e.value), ['one', 'three']);
  const more = await run(waf, [...headers, ['X-Dup', 'four']], carry);
  assert.deepEqual(more.tx.requestHeadersNamed('x-dup')?.map((e) => e.value), ['one', 'two', 'four']);
  const fewer = await run(waf, headers.slice(0, 2), carry);
  assert.deepEqual(fewer.tx.requestHeadersNamed('x-dup')?.map((e) => e.value), ['one']);
  assert.deepEqual(fewer.tx.requestHeadersNamed('user-agent'), []);
  // A header added after the index was made is in it.
  const late = waf.newTransaction({ carry });
  late.addRequestHeader('X-Dup', 'a');
  assert.deepEqual(late.requestHeadersNamed('x-dup')?.map((e) => e.value), ['a']);
  late.addRequestHeader('x-dup', 'b');
  assert.deepEqual(late.requestHeadersNamed('x-dup')?.map((e) => e.value), ['a', 'b']);
  // … and the next request with the same headers does not take over the index made before it came.
  const carry2 = new HeaderCarry();
  const early = waf.newTransaction({ carry: carry2 });
  early.addRequestHeader('X-Dup', 'a');
  assert.deepEqual(early.requestHeadersNamed('x-dup')?.map((e) => e.value), ['a']);
  early.addRequestHeader('x-dup', 'b');
  const next = waf.newTransaction({ carry: carry2 });
  next.addRequestHeader('X-Dup', 'a');
  next.addRequestHeader('x-dup', 'b');
  assert.deepEqual(next.requestHeadersNamed('x-dup')?.map((e) => e.value), ['a', 'b']);
  // A name whose lower case is longer (U+0130): no index; selectors compare names one by one, as before.
  const odd = waf.newTransaction();
  odd.processConnection('192.0.2.10', 40000, '127.0.0.1', 80);
  odd.processRequestLine('GET', '/', 'HTTP/1.1');
  odd.addRequestHeader('\u0130x', '1');
  odd.addRequestHeader('User-Agent', 'z');
  await odd.processRequestHeaders();
  assert.equal(odd.requestHeadersNamed('user-agent'), null);
  assert.deepEqual(seen(odd), ['11 REQUEST_HEADERS:User-Agent=z']);
});
