// Table-driven tests of the Cookie header parser against ModSecurity v2's parse_cookies_v0/v1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { collectArguments } from '../../src/bodies/types.js';
import { parseCookies, type CookieFormat } from '../../src/http/cookies.js';

type Pairs = [string, string][];

function parse(header: string, format: CookieFormat = 0, separator?: string): { pairs: Pairs; count: number } {
  const cookies = collectArguments();
  const count = parseCookies(header, cookies, format, separator);
  return { pairs: cookies.names.map((n, i) => [n, cookies.values[i] ?? '']), count };
}

const v0: { name: string; header: string; separator?: string; pairs: Pairs }[] = [
  { name: 'WordPress login cookies', header: 'wordpress_test_cookie=WP%20Cookie%20check; wp-settings-time-1=1690000000; wordpress_logged_in_abc=admin%7C1690%7Ctoken',
    pairs: [['wordpress_test_cookie', 'WP%20Cookie%20check'], ['wp-settings-time-1', '1690000000'], ['wordpress_logged_in_abc', 'admin%7C1690%7Ctoken']] },
  { name: 'values are not URL-decoded', header: 'a=%27', pairs: [['a', '%27']] },
  { name: 'leading spaces skipped, trailing kept', header: ' a=1 ;  b = 2 ', pairs: [['a', '1 '], ['b ', ' 2 ']] },
  { name: 'quotes stay in v0', header: 'a="x;y"', pairs: [['a', '"x'], ['y"', '']] },
  { name: 'name without =', header: 'flag; b=1', pairs: [['flag', ''], ['b', '1']] },
  { name: 'empty value', header: 'a=; b=', pairs: [['a', ''], ['b', '']] },
  { name: 'empty name is dropped', header: '=x; ; b=1', pairs: [['b', '1']] },
  { name: 'runs of separators are skipped', header: ';;a=1;;;b=2;', pairs: [['a', '1'], ['b', '2']] },
  { name: 'value keeps later =', header: 'token=abc==; x=a=b', pairs: [['token', 'abc=='], ['x', 'a=b']] },
  { name: 'comma-space separates when there is no semicolon', header: 'a=1, b=2', pairs: [['a', '1'], ['b', '2']] },
  { name: 'comma without a space is data', header: 'a=1,b=2', pairs: [['a', '1,b=2']] },
  { name: 'a semicolon makes commas data', header: 'a=1, b=2; c=3', pairs: [['a', '1, b=2'], ['c', '3']] },
  { name: 'SecCookieV0Separator', header: 'a=1|b=2; c', separator: '|', pairs: [['a', '1'], ['b', '2; c']] },
  { name: 'names with spaces', header: 'my cookie=v', pairs: [['my cookie', 'v']] },
  { name: 'injection in a cookie value', header: "session=1' UNION SELECT password FROM users--", pairs: [['session', "1' UNION SELECT password FROM users--"]] },
  { name: 'empty header', header: '', pairs: [] },
];

for (const c of v0) {
  test(`cookies v0: ${c.name}`, () => {
    const { pairs, count } = parse(c.header, 0, c.separator);
    assert.deepEqual(pairs, c.pairs);
    assert.equal(count, c.pairs.length);
  });
}

const v1: { name: string; header: string; pairs: Pairs }[] = [
  { name: 'RFC 2109 cookie with attributes', header: '$Version="1"; Customer="WILE_E_COYOTE"; $Path="/acme"; Part_Number="Rocket_Launcher_0001"; $Path="/acme"',
    pairs: [['$Version', '1'], ['Customer', 'WILE_E_COYOTE'], ['$Customer_Path', '/acme'], ['Part_Number', 'Rocket_Launcher_0001'], ['$Part_Number_Path', '/acme']] },
  { name: 'quoted value keeps separators', header: 'a="x; y, z"; b=2', pairs: [['a', 'x; y, z'], ['b', '2']] },
  { name: 'comma separates too', header: 'a=1, b=2', pairs: [['a', '1'], ['b', '2']] },
  { name: 'whitespace trimmed around names and values', header: '  a  =  1  ;b= 2', pairs: [['a', '1'], ['b', '2']] },
  { name: 'name only', header: 'flag; x', pairs: [['flag', ''], ['x', '']] },
  { name: 'unterminated quote runs to the end', header: 'a="abc', pairs: [['a', 'abc']] },
  { name: 'text after the closing quote becomes a name', header: 'a="x"y; b=1', pairs: [['a', 'x'], ['y', ''], ['b', '1']] },
  { name: 'empty quoted value', header: 'a=""; b', pairs: [['a', ''], ['b', '']] },
  { name: 'lone quote', header: 'a="', pairs: [['a', '']] },
  { name: 'empty names dropped with their value', header: '=1; ;, b=2', pairs: [['b', '2']] },
];

for (const c of v1) {
  test(`cookies v1: ${c.name}`, () => {
    const { pairs, count } = parse(c.header, 1);
    assert.deepEqual(pairs, c.pairs);
    assert.equal(count, c.pairs.length);
  });
}

const byte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
const header = fc.array(fc.oneof(byte, fc.constantFrom(';', ',', '=', '"', ' ', '$')), { maxLength: 60 }).map((a) => a.join(''));

test('cookies property: any header parses without throwing, every cookie has a name', () => {
  fc.assert(fc.property(header, fc.constantFrom<CookieFormat>(0, 1), (h, format) => {
    const { pairs, count } = parse(h, format);
    assert.equal(pairs.length, count);
    for (const [name] of pairs) assert.ok(name.length > 0);
  }));
});
