/**
 * The real client address: trusted proxies, X-Forwarded-For and Forwarded, spoofing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddress, canonicalAddress, TrustedProxies } from '../../src/http/client-address.js';

const trusted = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', '::1', '2001:db8:ffff::/48']);
const none = new TrustedProxies([]);

const cases: Array<[string, string, string[], string, ('x-forwarded-for' | 'forwarded')?]> = [
  ['untrusted peer: headers are ignored (spoofing changes nothing)', '198.51.100.7', ['1.2.3.4'], '198.51.100.7'],
  ['trusted peer, one hop', '127.0.0.1', ['203.0.113.9'], '203.0.113.9'],
  ['a client that spoofs XFF behind a trusted proxy: the proxy appended the real address', '127.0.0.1', ['6.6.6.6, 203.0.113.9'], '203.0.113.9'],
  ['chain of trusted proxies is skipped from the right', '127.0.0.1', ['203.0.113.9, 10.1.1.1, 10.2.2.2'], '203.0.113.9'],
  ['repeated XFF headers are read in arrival order', '127.0.0.1', ['203.0.113.9', '10.1.1.1'], '203.0.113.9'],
  ['all hops trusted: the leftmost', '127.0.0.1', ['10.3.3.3, 10.1.1.1'], '10.3.3.3'],
  ['garbage stops the walk at the last trusted hop', '127.0.0.1', ['203.0.113.9, not-an-ip, 10.1.1.1'], '10.1.1.1'],
  ['IPv4 with a port', '127.0.0.1', ['203.0.113.9:4711'], '203.0.113.9'],
  ['IPv6 peer and hop', '::1', ['2001:db8::17'], '2001:db8::17'],
  ['IPv4-mapped peer as Node reports it', '::ffff:127.0.0.1', ['203.0.113.9'], '203.0.113.9'],
  ['Forwarded header with quoted IPv6 and port', '127.0.0.1', ['for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"'], '2001:db8:cafe::17', 'forwarded'],
  ['Forwarded: an obfuscated identifier is not an address', '127.0.0.1', ['for=_hidden'], '127.0.0.1', 'forwarded'],
  ['no header from a trusted peer: the peer', '10.9.9.9', [], '10.9.9.9'],
];

for (const [name, peer, values, expected, header] of cases) {
  test(`client address: ${name}`, () => {
    assert.equal(clientAddress(peer, values, trusted, header), expected);
  });
}

test('without trusted proxies the peer is always the client', () => {
  assert.equal(clientAddress('127.0.0.1', ['203.0.113.9'], none), '127.0.0.1');
});

test('canonical text for addresses', () => {
  assert.equal(canonicalAddress('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(canonicalAddress('2001:DB8::0:1'), '2001:db8::1');
});

test('a bad trusted-proxy entry is refused with the entry named', () => {
  assert.throws(() => new TrustedProxies(['10.0.0.0/33']), /10\.0\.0\.0\/33/);
});
