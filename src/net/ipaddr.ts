/**
 * @module net/ipaddr
 * IP address text → bytes, CIDR networks and a prefix set, with no dependency on the rest
 * of Warden (so trusted-proxy and ban-list code can share it). Address text is read the
 * way glibc's inet_pton(3) reads it, because that is what ModSecurity v2 matched against:
 * strict dotted quads (no leading zeros, no short forms) and RFC 4291 IPv6 text with one
 * `::` and an optional dotted IPv4 tail.
 *
 * @example
 * const net = parseIPNetwork('2001:db8::/32');
 * networkContains(net, parseIP('2001:db8::1')!); // true
 * const set = new IPSet();
 * set.add(parseIPNetwork('10.0.0.0/8'));
 * set.hasText('10.1.2.3'); // true
 */

export type IPFamily = 4 | 6;

/** An address: 4 bytes (IPv4) or 16 bytes (IPv6), network byte order. */
export interface IPAddress {
  readonly family: IPFamily;
  readonly bytes: Uint8Array;
}

/** A CIDR block: the network address (host bits cleared) and its prefix length. */
export interface IPNetwork {
  readonly family: IPFamily;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** Text that is not an address or CIDR block; `input` is the text, `message` says why. */
export class IPParseError extends Error {
  readonly code = 'WARDEN_IP_PARSE';
  constructor(message: string, readonly input: string) {
    super(message);
    this.name = 'IPParseError';
  }
}

const COLON = 0x3a;
const DOT = 0x2e;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Reads `text[start, end)` as a dotted quad into `out[offset…offset+3]`. Exactly four
 * decimal parts 0–255; a part may not have a leading zero ("01" is refused, as glibc does,
 * because other parsers read it as octal). `out` is unspecified when this returns false.
 */
export function parseIPv4Into(text: string, start: number, end: number, out: Uint8Array, offset = 0): boolean {
  let octets = 0;
  let sawDigit = false;
  let part = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (sawDigit && part === 0) return false;
      part = part * 10 + (c - 0x30);
      if (part > 255) return false;
      if (!sawDigit) {
        if (++octets > 4) return false;
        sawDigit = true;
      }
    } else if (c === DOT && sawDigit) {
      if (octets === 4) return false;
      out[offset + octets - 1] = part;
      part = 0;
      sawDigit = false;
    } else {
      return false;
    }
  }
  if (octets < 4 || !sawDigit) return false;
  out[offset + 3] = part;
  return true;
}

/**
 * Reads `text[start, end)` as IPv6 text into the 16 bytes at `out[offset]`: up to eight
 * groups of one to four hex digits, at most one `::` standing for one or more zero
 * groups, and optionally a dotted IPv4 address as the last 32 bits. No zone (`%eth0`),
 * no brackets. `out` is unspecified when this returns false.
 */
export function parseIPv6Into(text: string, start: number, end: number, out: Uint8Array, offset = 0): boolean {
  if (start >= end) return false;
  let i = start;
  // A leading colon is only allowed as the first half of "::".
  if (text.charCodeAt(i) === COLON) {
    i++;
    if (i >= end || text.charCodeAt(i) !== COLON) return false;
  }
  let written = 0; // bytes written so far
  let gap = -1; // byte position of "::", if seen
  let tokenStart = i;
  let digits = 0;
  let value = 0;
  while (i < end) {
    const c = text.charCodeAt(i++);
    const h = hexValue(c);
    if (h >= 0) {
      if (digits === 4) return false;
      value = (value << 4) | h;
      digits++;
      continue;
    }
    if (c === COLON) {
      tokenStart = i;
      if (digits === 0) {
        if (gap >= 0) return false;
        gap = written;
        continue;
      }
      if (i >= end) return false; // a single trailing colon
      if (written + 2 > 16) return false;
      out[offset + written++] = value >> 8;
      out[offset + written++] = value & 0xff;
      digits = 0;
      value = 0;
      continue;
    }
    // The hex digits read so far in this token were really the first IPv4 part.
    if (c === DOT && written + 4 <= 16 && parseIPv4Into(text, tokenStart, end, out, offset + written)) {
      written += 4;
      digits = 0;
      break;
    }
    return false;
  }
  if (digits > 0) {
    if (written + 2 > 16) return false;
    out[offset + written++] = value >> 8;
    out[offset + written++] = value & 0xff;
  }
  if (gap >= 0) {
    // "::" must stand for at least one group.
    if (written === 16) return false;
    const tail = written - gap;
    // Move the groups after "::" to the end (right to left: the ranges may overlap).
    for (let k = 1; k <= tail; k++) out[offset + 16 - k] = out[offset + gap + tail - k] as number;
    for (let k = gap; k < 16 - tail; k++) out[offset + k] = 0;
    written = 16;
  }
  return written === 16;
}

/** The family ModSecurity assumes for a text: IPv6 when it holds a colon. */
export function familyOf(text: string): IPFamily {
  return text.indexOf(':') >= 0 ? 6 : 4;
}

/** An address from its text, or null when the text is not exactly one address. */
export function parseIP(text: string): IPAddress | null {
  if (familyOf(text) === 6) {
    const bytes = new Uint8Array(16);
    return parseIPv6Into(text, 0, text.length, bytes) ? { family: 6, bytes } : null;
  }
  const bytes = new Uint8Array(4);
  return parseIPv4Into(text, 0, text.length, bytes) ? { family: 4, bytes } : null;
}

/**
 * A CIDR block from `address` or `address/prefix`. The prefix is decimal, 0–32 for IPv4 and
 * 0–128 for IPv6; without one the block is the single address. Host bits set below the
 * prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`), as ModSecurity does.
 * Throws `IPParseError` saying what is wrong.
 */
export function parseIPNetwork(text: string): IPNetwork {
  const slash = text.indexOf('/');
  const addrEnd = slash < 0 ? text.length : slash;
  const family: IPFamily = text.lastIndexOf(':', addrEnd - 1) >= 0 ? 6 : 4;
  const width = family === 4 ? 32 : 128;
  const bytes = new Uint8Array(width / 8);
  const ok = family === 4 ? parseIPv4Into(text, 0, addrEnd, bytes) : parseIPv6Into(text, 0, addrEnd, bytes);
  if (!ok) {
    const what = family === 4 ? 'IPv4 address (four decimal parts 0-255)' : 'IPv6 address';
    throw new IPParseError(`"${text.slice(0, addrEnd)}" is not a valid ${what}`, text);
  }
  let prefix = width;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(digits) || Number(digits) > width) {
      throw new IPParseError(`prefix length "/${digits}" must be a number from 0 to ${width}`, text);
    }
    prefix = Number(digits);
  }
  maskInPlace(bytes, prefix);
  return { family, bytes, prefix };
}

function maskInPlace(bytes: Uint8Array, prefix: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = prefix - i * 8;
    if (keep >= 8) continue;
    bytes[i] = keep <= 0 ? 0 : (bytes[i] as number) & (0xff << (8 - keep));
  }
}

/** True when `address` lies inside `network` (families must agree: no IPv4-mapped magic). */
export function networkContains(network: IPNetwork, address: IPAddress): boolean {
  if (network.family !== address.family) return false;
  return prefixMatches(network.bytes, address.bytes, 0, network.prefix);
}

function prefixMatches(net: Uint8Array, addr: Uint8Array, addrOffset: number, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (net[i] !== addr[addrOffset + i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (((addr[addrOffset + whole] as number) ^ (net[whole] as number)) & mask) === 0;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else null. */
export function unmapIPv4(address: IPAddress): IPAddress | null {
  if (address.family !== 6) return null;
  const b = address.bytes;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return null;
  if (b[10] !== 0xff || b[11] !== 0xff) return null;
  return { family: 4, bytes: b.slice(12, 16) };
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIP(address: IPAddress): string {
  const b = address.bytes;
  if (address.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] as number) << 8) | (b[i + 1] as number));
  const mapped = unmapIPv4(address);
  if (mapped !== null) return `::ffff:${formatIP(mapped)}`;
  // Longest run of two or more zero groups; the first one on a tie (RFC 5952 4.2.3).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number): string => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  const head = groups.slice(0, bestStart).map(hex).join(':');
  const tail = groups.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

/** `address/prefix` in canonical form. */
export function formatIPNetwork(network: IPNetwork): string {
  return `${formatIP(network)}/${network.prefix}`;
}

/**
 * A binary trie of prefixes for one family: a lookup walks at most 32 or 128 bits,
 * whatever the number of blocks. Nodes live in typed arrays (index 0 is the root; a child
 * index of 0 means "no child", since the root is nobody's child).
 */
class PrefixTrie {
  private zero = new Int32Array(64);
  private one = new Int32Array(64);
  private terminal = new Uint8Array(64);
  private nodes = 1;
  count = 0;

  constructor(readonly width: number) {}

  insert(bytes: Uint8Array, prefix: number): void {
    this.count++;
    let node = 0;
    for (let bit = 0; bit < prefix; bit++) {
      // A shorter block already covers this one.
      if (this.terminal[node] === 1) return;
      const side = ((bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1;
      const children = side === 1 ? this.one : this.zero;
      let child = children[node] as number;
      if (child === 0) {
        child = this.newNode();
        // newNode may have grown (replaced) the arrays.
        (side === 1 ? this.one : this.zero)[node] = child;
      }
      node = child;
    }
    this.terminal[node] = 1;
    // Everything below is now covered: drop it so lookups stop here.
    this.zero[node] = 0;
    this.one[node] = 0;
  }

  has(bytes: Uint8Array, offset: number): boolean {
    const terminal = this.terminal;
    const zero = this.zero;
    const one = this.one;
    let node = 0;
    for (let bit = 0; bit < this.width; bit++) {
      if (terminal[node] === 1) return true;
      const side = ((bytes[offset + (bit >> 3)] as number) >> (7 - (bit & 7))) & 1;
      node = (side === 1 ? one[node] : zero[node]) as number;
      if (node === 0) return false;
    }
    return terminal[node] === 1;
  }

  private newNode(): number {
    if (this.nodes === this.zero.length) {
      const size = this.nodes * 2;
      const zero = new Int32Array(size);
      const one = new Int32Array(size);
      const terminal = new Uint8Array(size);
      zero.set(this.zero);
      one.set(this.one);
      terminal.set(this.terminal);
      this.zero = zero;
      this.one = one;
      this.terminal = terminal;
    }
    return this.nodes++;
  }
}

/** Scratch space for lookups by text, so a lookup allocates nothing (JS runs one at a time). */
const scratch = new Uint8Array(16);

/**
 * A set of CIDR blocks of both families. Lookups cost at most 32 (IPv4) or 128 (IPv6)
 * steps whatever the size of the set, and allocate nothing. IPv4 and IPv6 are separate:
 * `::ffff:1.2.3.4` is not in a set holding `1.2.3.4` (use `unmapIPv4` first if you want that).
 */
export class IPSet {
  private readonly v4 = new PrefixTrie(32);
  private readonly v6 = new PrefixTrie(128);

  /** Number of blocks added (including ones covered by others). */
  get size(): number {
    return this.v4.count + this.v6.count;
  }

  add(network: IPNetwork): this {
    (network.family === 4 ? this.v4 : this.v6).insert(network.bytes, network.prefix);
    return this;
  }

  has(address: IPAddress): boolean {
    return (address.family === 4 ? this.v4 : this.v6).has(address.bytes, 0);
  }

  /**
   * True when `text` is an address (IPv6 when it holds a colon, as ModSecurity decides)
   * inside one of the blocks; false for text that is not an address.
   */
  hasText(text: string): boolean {
    if (text.indexOf(':') >= 0) {
      return parseIPv6Into(text, 0, text.length, scratch) && this.v6.has(scratch, 0);
    }
    return parseIPv4Into(text, 0, text.length, scratch) && this.v4.has(scratch, 0);
  }
}
