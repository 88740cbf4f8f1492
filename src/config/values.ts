/**
 * @module config/values
 * Checks for the values warden.yaml and the flags share: upstream URLs, listen addresses,
 * host names, path prefixes, trusted-proxy entries. Each returns the value as the config
 * keeps it, or `{ error }` with a reason that reads after the setting's name
 * (`upstreams[0].url` + ` must be an http:// or https:// URL`).
 *
 * Trusted proxies are checked here with src/net/ipaddr (a leaf module with no Warden
 * imports, which the DESIGN rule "config imports nothing of ours" is about protecting),
 * so a bad CIDR is reported at its line like every other mistake, not when a worker starts.
 */
import { parseIP, parseIPNetwork } from '../net/ipaddr.js';

export interface Invalid {
  readonly error: string;
}

export const invalid = (error: string): Invalid => ({ error });

export function isInvalid(v: unknown): v is Invalid {
  return typeof v === 'object' && v !== null && 'error' in v;
}

/**
 * An upstream URL as an origin (`http://127.0.0.1:3000`).
 *
 * @example
 * upstreamUrl('http://127.0.0.1:3000/');  // 'http://127.0.0.1:3000'
 * upstreamUrl('ftp://x');                 // { error: 'must be an http:// or https:// URL' }
 */
export function upstreamUrl(text: string): string | Invalid {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return invalid('must be an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return invalid('must be an http:// or https:// URL');
  if (url.username !== '' || url.password !== '') return invalid('must not carry a user or password (the upstream sees the client\'s own Authorization header)');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    return invalid(`must be an origin (scheme, host, port): requests keep their own path, so "${url.pathname}${url.search}" cannot be added`);
  }
  return url.origin;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** An address to bind: an IP address or a host name (`0.0.0.0`, `::`, `localhost`). */
export function bindHost(text: string): string | Invalid {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (parseIP(bare) !== null || HOST_NAME.test(bare)) return bare;
  return invalid('must be an IP address or a host name to listen on (0.0.0.0, ::, 127.0.0.1)');
}

/** A port; 0 asks the system for a free one. */
export function port(n: number): number | Invalid {
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : invalid('must be a port number from 0 to 65535');
}

/**
 * `HOST:PORT`, `[IPv6]:PORT` or `PORT` (host then `defaultHost`), as the --listen and --admin
 * flags take it.
 *
 * @example
 * listenAddress('127.0.0.1:8080', '0.0.0.0'); // { host: '127.0.0.1', port: 8080 }
 * listenAddress('[::]:443', '0.0.0.0');       // { host: '::', port: 443 }
 */
export function listenAddress(text: string, defaultHost: string): { host: string; port: number } | Invalid {
  const m = /^(?:(\[[^\]]*\]|[^:]*|.*:.*):)?(\d+)$/.exec(text.trim());
  const bad = invalid('must be HOST:PORT, [IPv6]:PORT or PORT (127.0.0.1:8080)');
  if (m === null) return bad;
  const p = port(Number(m[2]));
  if (isInvalid(p)) return p;
  if (m[1] === undefined || m[1] === '') return { host: defaultHost, port: p };
  if (m[1].includes(':') && !m[1].startsWith('[')) return bad;
  const host = bindHost(m[1]);
  return isInvalid(host) ? host : { host, port: p };
}

/** A route's host: exact name or `*.example.com`, lower-cased, no port. */
export function routeHost(text: string): string | Invalid {
  const t = text.toLowerCase();
  if (t.includes(':') && parseIP(t.replace(/^\[|\]$/g, '')) === null) {
    return invalid('must be a host name without port (blog.example.com or *.example.com); routes match every port of a listener');
  }
  const name = t.startsWith('*.') ? t.slice(2) : t;
  if (parseIP(t.replace(/^\[|\]$/g, '')) !== null || HOST_NAME.test(name)) return t;
  return invalid('must be a host name (blog.example.com) or a wildcard (*.example.com)');
}

/** A route's path prefix: starts with `/`, no query or fragment. */
export function pathPrefix(text: string): string | Invalid {
  if (!text.startsWith('/') || /[?#\s]/.test(text)) return invalid('must be a path starting with / (/, /api/), without ? or #');
  return text;
}

/** Names that stand for address ranges in `trustedProxies` (as Express's `trust proxy` has them). */
export const TRUSTED_PROXY_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
};

/**
 * One trusted-proxy entry as CIDR blocks TrustedProxies accepts: an address, a CIDR block or a
 * keyword (loopback, private, linklocal).
 *
 * @example
 * trustedProxy('10.0.0.0/8'); // ['10.0.0.0/8']
 * trustedProxy('loopback');   // ['127.0.0.0/8', '::1/128']
 */
export function trustedProxy(text: string): readonly string[] | Invalid {
  const t = text.trim();
  const keyword = TRUSTED_PROXY_KEYWORDS[t.toLowerCase()];
  if (keyword !== undefined) return keyword;
  const reason = `must be an IP address, a CIDR block (10.0.0.0/8) or one of ${Object.keys(TRUSTED_PROXY_KEYWORDS).join(', ')}`;
  if (t.includes('/')) {
    try {
      const net = parseIPNetwork(t);
      const [addr] = t.split('/');
      // parseIPNetwork clears host bits; a block written with them set is usually a typo.
      const written = parseIP(addr as string);
      if (written !== null && written.bytes.some((b, i) => b !== net.bytes[i])) {
        return invalid(`${reason}; "${t}" has host bits set past /${net.prefix}`);
      }
      return [t];
    } catch (err) {
      return invalid(`${reason}: ${(err as Error).message}`);
    }
  }
  return parseIP(t) === null ? invalid(reason) : [t];
}

/**
 * A Redis URL, as given (it may carry a password).
 *
 * @example
 * redisUrl('redis://10.0.0.5:6379/0');  // 'redis://10.0.0.5:6379/0'
 * redisUrl('http://x');                 // { error: 'must be a redis:// or rediss:// URL (redis://HOST:PORT/DB)' }
 */
export function redisUrl(text: string): string | Invalid {
  const reason = 'must be a redis:// or rediss:// URL (redis://HOST:PORT/DB)';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return invalid(reason);
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') return invalid(reason);
  if (!/^(\/\d*)?$/.test(url.pathname) || url.search !== '' || url.hash !== '') {
    return invalid(`${reason}: the path is the database number, "${url.pathname}${url.search}" is not one`);
  }
  return text;
}

/** True for addresses only this machine reaches (the admin listener may go without auth there). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const ip = parseIP(host);
  if (ip === null) return false;
  if (ip.family === 4) return ip.bytes[0] === 127;
  return ip.bytes.every((b, i) => (i === 15 ? b === 1 : b === 0));
}
