/**
 * @module adapters/node-http
 * Warden in front of a plain node:http request listener. The listener runs only for
 * requests the rules let through, with the request body intact; its response goes through
 * phases 3 and 4 (see adapters/core's ResponseGate); phase 5 runs when the response closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createWafGuard, guardRequest, type WardenMiddlewareOptions } from './core.js';

/** A node:http request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Wraps a request listener with the WAF.
 *
 * @example
 * const waf = Waf.fromFiles(['crs-setup.conf', 'rules/*.conf']);
 * http.createServer(withWarden({ waf }, (req, res) => res.end('hello'))).listen(8080);
 */
export function withWarden(options: WardenMiddlewareOptions, listener: RequestListener): RequestListener {
  const guard = createWafGuard(options);
  return (req, res) => {
    void guardRequest(guard, req, res).then((pass) => {
      if (pass) listener(req, res);
    });
  };
}
