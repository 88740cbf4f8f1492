/**
 * @module adapters/express
 * Warden as Express middleware (Express 4 and 5; anything with the `(req, res, next)`
 * contract, such as Connect). Mount it first: later middleware and routes see only the
 * requests the rules let through, with the body still unread (body-parser works as usual).
 * Responses, however the app sends them (res.send, res.json, streams, res.sendFile), go
 * through phases 3 and 4. Express itself is not imported: the middleware is typed on
 * node:http's request and response, which Express's extend.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createWafGuard, guardRequest, type WardenMiddlewareOptions } from './core.js';

/** Express's middleware shape, on the node:http types it extends. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Express middleware running the WAF.
 *
 * @example
 * const app = express();
 * app.use(wardenExpress({ waf, trustedProxies: ['127.0.0.1'] }));
 * app.use(express.json());
 */
export function wardenExpress(options: WardenMiddlewareOptions): Middleware {
  const guard = createWafGuard(options);
  return (req, res, next) => {
    void guardRequest(guard, req, res).then((pass) => {
      if (pass) next();
    });
  };
}
