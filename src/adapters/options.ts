/**
 * @module adapters/options
 * Middleware options from a warden.yaml config, for an app that keeps its WAF settings in
 * the same file `warden start` reads.
 */
import type { WardenConfig } from '../config/types.js';
import type { Waf } from '../engine/waf.js';
import type { WardenMiddlewareOptions } from './core.js';

/**
 * The trusted proxies, client-address header and error pages of `config`, for `waf`.
 *
 * @example
 * const config = loadConfigFile('warden.yaml');
 * const waf = Waf.fromText(rulesTextFor(config), { file: RULES_TEXT_NAME });
 * app.use(wardenExpress(optionsFromConfig(config, waf)));
 */
export function optionsFromConfig(config: WardenConfig, waf: Waf, extra: Partial<WardenMiddlewareOptions> = {}): WardenMiddlewareOptions {
  const p = config.proxy;
  return {
    waf,
    trustedProxies: p.trustedProxies,
    clientAddressHeader: p.clientAddressHeader,
    errorPages: { ...(p.errorPageHtml !== null ? { html: p.errorPageHtml } : {}), ...(p.errorPageJson !== null ? { json: p.errorPageJson } : {}) },
    ...extra,
  };
}
