/**
 * @module adapters
 * Warden as middleware inside a Node application: node:http, Express (and Connect-style
 * stacks), Fastify. All three run the same steps (adapters/core); see each module for what
 * its framework lets the response phases see.
 *
 * @example
 * import { wardenExpress, optionsFromConfig } from 'warden/dist/adapters/index.js';
 * app.use(wardenExpress({ waf }));
 */
export { createWafGuard, guardRequest, hasBody, renderAnswer, ResponseGate, type WardenMiddlewareOptions, type WafGuard, type BodyRead } from './core.js';
export { withWarden, type RequestListener } from './node-http.js';
export { wardenExpress, type Middleware } from './express.js';
export { wardenFastify } from './fastify.js';
export { optionsFromConfig } from './options.js';
