/**
 * @module http/client-address
 * The real client address behind trusted proxies. When the peer is a trusted proxy, the
 * client is the rightmost hop of X-Forwarded-For (or Forwarded) that is not itself trusted;
 * otherwise the peer is the client, whatever the headers say. That address is REMOTE_ADDR
 * for rules, the key for bans and IP collections, and what every log line shows.
 */
import { IPParseError, IPSet, parseIP, parseIPNetwork, formatIP, unmapIPv4, type IPAddress } from '../net/ipaddr.js';

/** Which header carries the hops a trusted proxy reports. */
export type ForwardingHeader = 'x-forwarded-for' | 'forwarded';

export class TrustedProxies {
  private readonly set: IPSet;

  /**
   * @param entries addresses and CIDR blocks (`127.0.0.1`, `10.0.0.0/8`, `::1`);
   *   throws IPParseError naming a bad entry.
   * @example
   * const trusted = new TrustedProxies(['127.0.0.1', '10.0.0.0/8']);
   * trusted.has('10.1.2.3'); // true
   */
  constructor(readonly entries: readonly string[]) {
    this.set = new IPSet();
    for (const e of entries) {
      try {
        this.set.add(parseIPNetwork(e.includes('/') ? e : `${e}/${e.includes(':') ? 128 : 32}`));
      } catch (err) {
        throw new IPParseError(`trusted proxy "${e}": ${(err as Error).message}`, e);
      }
    }
  }

  get size(): number {
    return this.set.size;
  }

  has(address: string): boolean {
    const ip = normalize(address);
    return ip !== null && this.set.has(ip);
  }
}

/** An address as text, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`, as Node reports dual-stack peers) made IPv4. */
function normalize(text: string): IPAddress | null {
  const ip = parseIP(text);
  if (ip === null) return null;
  return unmapIPv4(ip) ?? ip;
}

/** The canonical text of an address (`::ffff:1.2.3.4` → `1.2.3.4`), or the text itself if it is not one. */
export function canonicalAddress(text: string): string {
  const ip = normalize(text);
  return ip === null ? text : formatIP(ip);
}

/** One hop as a header writes it: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `"[::1]"`. */
function hopAddress(raw: string): string | null {
  let h = raw.trim();
  if (h.startsWith('"') && h.endsWith('"') && h.length >= 2) h = h.slice(1, -1);
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    if (close < 0) return null;
    h = h.slice(1, close);
  } else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(h)) {
    h = h.slice(0, h.lastIndexOf(':'));
  }
  const ip = normalize(h);
  return ip === null ? null : formatIP(ip);
}

/** The hops of X-Forwarded-For headers, left (first) to right (nearest), in header order. */
function xffHops(values: readonly string[]): string[] {
  const hops: string[] = [];
  for (const v of values) for (const part of v.split(',')) if (part.trim() !== '') hops.push(part);
  return hops;
}

/** The `for=` hops of Forwarded headers (RFC 7239), left to right. */
function forwardedHops(values: readonly string[]): string[] {
  const hops: string[] = [];
  for (const v of values) {
    for (const element of v.split(',')) {
      const m = /(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]+)/i.exec(element);
      hops.push(m === null ? '' : (m[1] as string));
    }
  }
  return hops;
}

/**
 * The client address for a request that arrived from `peer`.
 *
 * @param headerValues every value of the forwarding header, in arrival order
 * @example
 * const trusted = new TrustedProxies(['127.0.0.1']);
 * clientAddress('127.0.0.1', ['203.0.113.9, 127.0.0.1'], trusted); // '203.0.113.9'
 * clientAddress('198.51.100.7', ['1.2.3.4'], trusted);             // '198.51.100.7' (untrusted peer)
 */
export function clientAddress(
  peer: string,
  headerValues: readonly string[],
  trusted: TrustedProxies,
  header: ForwardingHeader = 'x-forwarded-for',
): string {
  const self = canonicalAddress(peer);
  if (trusted.size === 0 || headerValues.length === 0 || !trusted.has(self)) return self;
  const hops = header === 'forwarded' ? forwardedHops(headerValues) : xffHops(headerValues);
  let client = self;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hopAddress(hops[i] as string);
    // An entry that is not an address (garbage, "unknown", an obfuscated name) ends the walk:
    // the last proxy we trust is the best we know.
    if (hop === null) break;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}
