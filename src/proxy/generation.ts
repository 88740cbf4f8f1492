/**
 * @module proxy/generation
 * Everything a request needs from the config and the rules, built together and swapped as
 * one value: the Waf, the routes of each listener, the upstream pools, the trusted proxies,
 * the error pages and the logs. A request takes the generation current when it arrives
 * and keeps it to the end, so a reload never changes the rules or the upstream under a
 * request in flight; an old generation's pools and logs are closed when its last request
 * is done.
 */
import type { WardenConfig } from '../config/types.js';
import type { WafLogs } from '../audit/types.js';
import type { Waf } from '../engine/waf.js';
import { TrustedProxies, type ForwardingHeader } from '../http/client-address.js';
import type { ErrorPageOptions } from '../http/error-page.js';
import type { ForwardedHeaders } from './headers.js';
import { compileRoutes, type Route } from './routes.js';
import { Upstream } from './upstream.js';

/** The page for 502/504 when the config has no template of its own. */
export const GATEWAY_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>{{status}} {{reason}}</title></head>
<body><h1>{{status}} {{reason}}</h1>
<p>The site's server did not answer properly. Please try again in a moment.</p>
<p>Reference: <code>{{id}}</code></p></body></html>
`;

export class Generation {
  readonly waf: Waf;
  readonly config: WardenConfig;
  /** Routes by listener name. */
  readonly routes: ReadonlyMap<string, readonly Route<Upstream>[]>;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly trusted: TrustedProxies;
  readonly clientHeader: ForwardingHeader;
  readonly forwarded: ForwardedHeaders;
  readonly errorPages: ErrorPageOptions;
  readonly gatewayPages: ErrorPageOptions;
  readonly logs: WafLogs;
  /** Requests (and tunnels) using this generation. */
  private active: number;
  private onIdle: (() => void) | null;

  /**
   * Builds a generation; upstreams whose settings did not change are taken over from
   * `previous` (keeping their connections). Throws ProxyError for a bad upstream or route
   * and IPParseError for a bad trusted-proxy entry, before anything is swapped.
   */
  constructor(config: WardenConfig, waf: Waf, logs: WafLogs, previous: Generation | null = null) {
    const upstreams = new Map<string, Upstream>();
    for (const u of config.upstreams) {
      const old = previous?.upstreams.get(u.name);
      upstreams.set(u.name, old !== undefined && old.fingerprint === JSON.stringify(u) ? old : new Upstream(u));
    }
    const routes = new Map<string, readonly Route<Upstream>[]>();
    try {
      for (const l of config.listeners) routes.set(l.name, compileRoutes(l.routes, upstreams));
      this.trusted = new TrustedProxies(config.proxy.trustedProxies);
    } catch (err) {
      for (const [name, up] of upstreams) if (previous?.upstreams.get(name) !== up) void up.close();
      throw err;
    }
    this.waf = waf;
    this.config = config;
    this.routes = routes;
    this.upstreams = upstreams;
    this.clientHeader = config.proxy.clientAddressHeader;
    this.forwarded = config.proxy.forwardedHeaders;
    const html = config.proxy.errorPageHtml ?? undefined;
    const json = config.proxy.errorPageJson ?? undefined;
    this.errorPages = { html, json };
    this.gatewayPages = { html: html ?? GATEWAY_HTML, json };
    this.logs = logs;
    this.active = 0;
    this.onIdle = null;
  }

  acquire(): void {
    this.active++;
  }

  release(): void {
    if (--this.active === 0 && this.onIdle !== null) {
      const idle = this.onIdle;
      this.onIdle = null;
      idle();
    }
  }

  get inFlight(): number {
    return this.active;
  }

  /**
   * Called when `next` replaced this generation: once no request uses it, closes the
   * upstream pools and the logs `next` did not take over.
   */
  retire(next: Generation | null): Promise<void> {
    return new Promise((resolve) => {
      const close = (): void => {
        const closing: Promise<void>[] = [];
        for (const [name, up] of this.upstreams) if (next?.upstreams.get(name) !== up) closing.push(up.close());
        if (next?.logs !== this.logs) closing.push(this.logs.close());
        void Promise.allSettled(closing).then(() => resolve());
      };
      if (this.active === 0) close();
      else this.onIdle = close;
    });
  }
}
