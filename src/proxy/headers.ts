/**
 * @module proxy/headers
 * The headers a reverse proxy must change. Towards the upstream: hop-by-hop headers and
 * those the client's Connection header lists are removed (RFC 9110 §7.6.1), so are
 * `Expect` (Warden answers 100-continue itself), `Proxy` (httpoxy) and
 * `Proxy-Authorization` (credentials for a proxy, not for the site); Via is extended, and
 * X-Forwarded-For/-Proto/-Host or Forwarded (RFC 7239) are set as configured. Forwarding
 * headers from a peer that is not a trusted proxy are dropped, never extended: a client
 * cannot make the upstream believe a spoofed address. Towards the client: hop-by-hop
 * headers of the upstream's response are removed and Via is extended.
 *
 * Framing (Content-Length, Transfer-Encoding) is never copied: the proxy sets it from the
 * body it actually sends, so the upstream cannot read the message differently from Warden.
 * Header names and values stay bytes (latin1 strings), in arrival order.
 */

/** Which forwarding headers go to the upstream. */
export type ForwardedHeaders = 'x-forwarded' | 'forwarded' | 'both';

/** What the proxy knows about the hop a request arrived on. */
export interface Hop {
  /** The socket peer, canonical (`::ffff:1.2.3.4` → `1.2.3.4`). */
  readonly peer: string;
  /** Whether the peer's forwarding headers are believed (and extended). */
  readonly trusted: boolean;
  readonly proto: 'http' | 'https';
  /** Protocol version the client spoke (`1.1`), for Via. */
  readonly httpVersion: string;
  readonly mode: ForwardedHeaders;
}

/** Warden's name in Via (RFC 9110 §7.6.3 pseudonym). */
export const VIA_NAME = 'warden';

const enum Kind {
  Copy = 0,
  /** Removed always. */
  Drop = 1,
  Connection = 2,
  Upgrade = 3,
  Host = 4,
  Via = 5,
  Xff = 6,
  Xfp = 7,
  Xfh = 8,
  Forwarded = 9,
  /** Other client-address headers: kept from a trusted peer only. */
  AddressHint = 10,
}

const REQUEST_KINDS = new Map<string, Kind>([
  ['connection', Kind.Connection],
  ['keep-alive', Kind.Drop],
  ['proxy-connection', Kind.Drop],
  ['te', Kind.Drop],
  ['trailer', Kind.Drop],
  ['transfer-encoding', Kind.Drop],
  ['content-length', Kind.Drop],
  ['upgrade', Kind.Upgrade],
  ['expect', Kind.Drop],
  ['proxy', Kind.Drop],
  ['proxy-authorization', Kind.Drop],
  ['host', Kind.Host],
  ['via', Kind.Via],
  ['x-forwarded-for', Kind.Xff],
  ['x-forwarded-proto', Kind.Xfp],
  ['x-forwarded-host', Kind.Xfh],
  ['forwarded', Kind.Forwarded],
  ['x-real-ip', Kind.AddressHint],
  ['x-forwarded-port', Kind.AddressHint],
  ['x-forwarded-server', Kind.AddressHint],
]);

/** Names a Connection header may not remove: without them the request means something else. */
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding']);

function connectionTokens(value: string, into: Set<string>): void {
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '' && !PROTECTED.has(t)) into.add(t);
  }
}

/** RFC 7239 node: IPv4 bare, IPv6 bracketed and quoted. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The request headers for the upstream, as a flat `[name, value, …]` list in arrival order,
 * from Node's `rawHeaders`. With `upgrade`, Upgrade is kept and `Connection: upgrade` set
 * (the WebSocket tunnel writes them itself); otherwise both are removed.
 *
 * @example
 * upstreamRequestHeaders(['Host', 'blog', 'X-Forwarded-For', '6.6.6.6'], { peer: '203.0.113.9', trusted: false, proto: 'http', httpVersion: '1.1', mode: 'x-forwarded' }, false);
 * // ['Host', 'blog', 'via', '1.1 warden', 'x-forwarded-for', '203.0.113.9', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'blog']
 */
export function upstreamRequestHeaders(raw: readonly string[], hop: Hop, upgrade: boolean): string[] {
  let listed: Set<string> | null = null;
  let host: string | null = null;
  let via = '';
  let xff = '';
  let xfp: string | null = null;
  let xfh: string | null = null;
  let forwarded = '';
  // First pass: what the Connection header lists and what earlier hops reported.
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const kind = REQUEST_KINDS.get((raw[i] as string).toLowerCase());
    if (kind === undefined) continue;
    const value = raw[i + 1] as string;
    switch (kind) {
      case Kind.Connection:
        connectionTokens(value, (listed ??= new Set()));
        break;
      case Kind.Host:
        host ??= value;
        break;
      case Kind.Via:
        via = via === '' ? value : `${via}, ${value}`;
        break;
      case Kind.Xff:
        xff = xff === '' ? value : `${xff}, ${value}`;
        break;
      case Kind.Xfp:
        xfp ??= value;
        break;
      case Kind.Xfh:
        xfh ??= value;
        break;
      case Kind.Forwarded:
        forwarded = forwarded === '' ? value : `${forwarded}, ${value}`;
        break;
      default:
        break;
    }
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    const kind = REQUEST_KINDS.get(lower) ?? Kind.Copy;
    if (kind === Kind.Copy || kind === Kind.Host || (kind === Kind.AddressHint && hop.trusted) || (kind === Kind.Upgrade && upgrade)) {
      // Upgrade is always Connection-listed; for a tunnel it is what we forward.
      if (listed !== null && kind === Kind.Copy && listed.has(lower)) continue;
      out.push(name, raw[i + 1] as string);
    }
  }
  if (upgrade) out.push('connection', 'upgrade');
  const self = `${hop.httpVersion} ${VIA_NAME}`;
  out.push('via', via === '' ? self : `${via}, ${self}`);
  if (hop.mode !== 'forwarded') {
    out.push('x-forwarded-for', hop.trusted && xff !== '' ? `${xff}, ${hop.peer}` : hop.peer);
    out.push('x-forwarded-proto', hop.trusted && xfp !== null ? xfp : hop.proto);
    const h = hop.trusted && xfh !== null ? xfh : host;
    if (h !== null) out.push('x-forwarded-host', h);
  }
  if (hop.mode !== 'x-forwarded') {
    let element = `for=${forwardedNode(hop.peer)}`;
    if (host !== null) element += `;host=${quoted(host)}`;
    element += `;proto=${hop.proto}`;
    out.push('forwarded', hop.trusted && forwarded !== '' ? `${forwarded}, ${element}` : element);
  }
  return out;
}

const RESPONSE_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * The upstream's response headers (undici's raw Buffers) as a flat latin1 list for the
 * client, hop-by-hop ones removed and Via extended. Content-Length is kept: Node then sends
 * the body as is; without it Node chunks (HTTP/1.1) or closes (HTTP/1.0).
 */
export function clientResponseHeaders(raw: readonly (Buffer | string)[]): string[] {
  let listed: Set<string> | null = null;
  let via = '';
  const names: string[] = new Array(raw.length >> 1);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as Buffer | string;
    const lower = (typeof name === 'string' ? name : name.toString('latin1')).toLowerCase();
    names[i >> 1] = lower;
    if (lower === 'connection') connectionTokens(latin1(raw[i + 1] as Buffer | string), (listed ??= new Set()));
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = names[i >> 1] as string;
    if (RESPONSE_HOP.has(lower) || (listed !== null && listed.has(lower))) continue;
    const value = latin1(raw[i + 1] as Buffer | string);
    if (lower === 'via') {
      via = via === '' ? value : `${via}, ${value}`;
      continue;
    }
    out.push(latin1(raw[i] as Buffer | string), value);
  }
  out.push('via', via === '' ? `1.1 ${VIA_NAME}` : `${via}, 1.1 ${VIA_NAME}`);
  return out;
}

function latin1(b: Buffer | string): string {
  return typeof b === 'string' ? b : b.toString('latin1');
}
