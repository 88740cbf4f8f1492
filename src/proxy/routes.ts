/**
 * @module proxy/routes
 * Which upstream a request goes to: each listener has its routes, tried in order, the first
 * whose host and path prefix fit wins. Host patterns are an exact name, `*.example.com`
 * (any name ending in `.example.com`, not `example.com` itself) or any host. Patterns are
 * lowered once when the config loads; a request costs one lowercase of its Host.
 */
import type { RouteConfig } from '../config/types.js';
import { ProxyError } from './errors.js';

/** A route ready for matching, with its target resolved. */
export interface Route<U> {
  /** How metrics name it: the host pattern as configured (`*` for any) and the prefix. */
  readonly name: string;
  /** Lowercased exact host, or null. */
  readonly host: string | null;
  /** Lowercased `.example.com` for `*.example.com`, or null. */
  readonly suffix: string | null;
  readonly pathPrefix: string;
  readonly upstream: U;
}

/**
 * Resolves route configs against the upstreams by name; throws ProxyError
 * (WARDEN_PROXY_CONFIG) for a route naming an unknown upstream.
 *
 * @example
 * const routes = compileRoutes([{ host: '*.example.com', pathPrefix: '/api/', upstream: 'api' }], new Map([['api', pool]]));
 * matchRoute(routes, 'www.example.com:8080', '/api/v1')?.upstream; // pool
 */
export function compileRoutes<U>(configs: readonly RouteConfig[], upstreams: ReadonlyMap<string, U>): Route<U>[] {
  return configs.map((r) => {
    const upstream = upstreams.get(r.upstream);
    if (upstream === undefined) throw new ProxyError('WARDEN_PROXY_CONFIG', `route ${r.host ?? '*'}${r.pathPrefix} names unknown upstream "${r.upstream}"`);
    const host = r.host === null || r.host === '*' ? null : r.host.toLowerCase();
    const wildcard = host !== null && host.startsWith('*.');
    return { name: `${r.host ?? '*'}${r.pathPrefix}`, host: wildcard ? null : host, suffix: wildcard ? (host as string).slice(1) : null, pathPrefix: r.pathPrefix, upstream };
  });
}

/**
 * The host name of a Host header (or absolute-form authority): port removed, lowercased,
 * a trailing dot dropped; IPv6 literals keep their brackets.
 */
export function hostName(host: string): string {
  let end = host.length;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    end = close < 0 ? host.length : close + 1;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) end = colon;
  }
  if (end > 0 && host.charCodeAt(end - 1) === 0x2e /* . */) end--;
  return host.slice(0, end).toLowerCase();
}

/** The first route for `host` (already a hostName) and `path`, or null. */
export function matchRoute<U>(routes: readonly Route<U>[], host: string, path: string): Route<U> | null {
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i] as Route<U>;
    if (r.host !== null && r.host !== host) continue;
    if (r.suffix !== null && !(host.endsWith(r.suffix) && host.length > r.suffix.length)) continue;
    if (path.startsWith(r.pathPrefix)) return r;
  }
  return null;
}
