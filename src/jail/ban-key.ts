/**
 * @module jail/ban-key
 * What a ban is keyed on: an IPv4 address as it is, an IPv6 address by its prefix (/64 by
 * default), since attackers rotate addresses inside the prefix their provider gives them.
 * Failures are counted per key too, so rotating inside a /64 does not reset the count.
 */
import { formatIP, parseIP, unmapIPv4 } from '../net/ipaddr.js';

/**
 * The key for `address` (null when it is not an IP address).
 *
 * @example
 * banKey('203.0.113.9');                 // '203.0.113.9'
 * banKey('2001:db8:1:2:aaaa::1');        // '2001:db8:1:2::/64'
 * banKey('2001:db8:1:2:aaaa::1', 128);   // '2001:db8:1:2:aaaa::1'
 */
export function banKey(address: string, ipv6Prefix = 64): string | null {
  const parsed = parseIP(address.trim());
  if (parsed === null) return null;
  const ip = unmapIPv4(parsed) ?? parsed;
  if (ip.family === 4 || ipv6Prefix >= 128) return formatIP(ip);
  const bytes = new Uint8Array(ip.bytes);
  for (let bit = Math.max(0, ipv6Prefix); bit < 128; bit++) bytes[bit >> 3] = (bytes[bit >> 3] as number) & ~(0x80 >> (bit & 7));
  return `${formatIP({ family: 6, bytes })}/${ipv6Prefix}`;
}
