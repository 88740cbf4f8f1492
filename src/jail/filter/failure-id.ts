/**
 * @module jail/filter/failure-id
 * The identity of a failure as fail2ban's IPAddr gives it: an address (normalised text,
 * IPv4-mapped IPv6 read as IPv4, a `<CIDR>` group masking it to a subnet), or, when the
 * text is not an address (a host name, an `<F-ID>` value), the text unchanged.
 */
import { formatIP, parseIP, unmapIPv4, type IPAddress } from '../../net/ipaddr.js';

/** A failure id: what a jail counts failures by and bans. */
export interface FailureId {
  /** Normalised address ("192.0.2.1", "2001:db8::1", "192.0.2.0/24"), or the raw text. */
  readonly text: string;
  /** The address, when `text` is one (or a subnet's network address). */
  readonly address: IPAddress | undefined;
  /** Prefix length of a subnet id; undefined for a single address or raw text. */
  readonly prefix: number | undefined;
}

/** How to read the id text: as one family, any family (with an optional prefix), or raw. */
export type IdReading = { readonly family: 4 | 6 } | { readonly cidr: number | undefined } | 'raw';

function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = prefix - i * 8;
    if (keep >= 8) continue;
    out[i] = keep <= 0 ? 0 : (out[i] as number) & (0xff << (8 - keep));
  }
  return out;
}

/** fail2ban's IPAddr(text, cidr) → id. */
export function failureId(text: string, reading: IdReading): FailureId {
  if (reading === 'raw') return { text, address: undefined, prefix: undefined };
  let parsed = parseIP(text);
  if (parsed !== null && 'family' in reading && parsed.family !== reading.family) parsed = null;
  if (parsed === null) return { text, address: undefined, prefix: undefined };
  const cidr = 'cidr' in reading ? reading.cidr : undefined;
  if (cidr !== undefined && cidr >= 0) {
    const width = parsed.family === 4 ? 32 : 128;
    const prefix = Math.min(cidr, width);
    const address = { family: parsed.family, bytes: mask(parsed.bytes, prefix) };
    const suffix = prefix > 0 && prefix < width ? `/${prefix}` : '';
    return { text: formatIP(address) + suffix, address, prefix: suffix === '' ? undefined : prefix };
  }
  const address = unmapIPv4(parsed) ?? parsed;
  return { text: formatIP(address), address, prefix: undefined };
}

/** Whether two ids are the same failure id (fail2ban's IPAddr equality). */
export function sameFailureId(a: FailureId, b: string): boolean {
  if (a.address === undefined) return a.text === b;
  // The other side is read as IPAddr(text) reads it: [brackets] dropped, "/prefix" applied.
  let text = b.length > 2 && b.startsWith('[') && b.endsWith(']') ? b.slice(1, -1) : b;
  let cidr: number | undefined;
  const slash = text.indexOf('/');
  if (slash >= 0 && /^\d+$/u.test(text.slice(slash + 1))) {
    cidr = Number(text.slice(slash + 1));
    text = text.slice(0, slash);
  }
  return failureId(text, { cidr }).text === a.text;
}
