/**
 * @module adapters/fastify
 * Warden as a Fastify plugin, on Fastify's own hooks:
 *   onRequest   the Transaction and phase 1
 *   preParsing  the body read within the engine's limits and phase 2; Fastify's parsers
 *               then read a stream replaying those bytes (and the unread rest)
 *   onSend      phases 3 and 4 on the serialized payload: string and Buffer payloads are
 *               inspected whole and can be replaced by the error page; stream payloads of
 *               an inspected type are held up to SecResponseBodyLimit first; streams not
 *               inspected flow as sent and phase 4 runs at their end (an interruption then
 *               can only cut the response short)
 *   close       phase 5 and the logs when the raw response closes
 * Replies the app hijacks (`reply.hijack()`) or writes on `reply.raw` skip onSend, so
 * phases 3 and 4 do not see them; phase 5 still runs.
 *
 * Registered with Fastify's skip-override marker (what fastify-plugin sets), so the hooks
 * apply to every route of the instance, not only inside the plugin's own context.
 */
import { Readable, Transform } from 'node:stream';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { Interruption, Transaction } from '../engine/transaction.js';
import { createWafGuard, hasBody, renderAnswer, type BodyRead, type WafGuard, type WardenMiddlewareOptions } from './core.js';

interface FastifyState {
  readonly tx: Transaction;
  /** Warden answered this request itself (its own page must pass onSend untouched). */
  answered: boolean;
  /** The headers Fastify was given, for the logs (Fastify writes them past node:http's store). */
  headers: Array<[string, string]>;
}

const states = new WeakMap<FastifyRequest, FastifyState>();

function replyHeaders(reply: FastifyReply): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(reply.getHeaders())) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.push([k, String(item)]);
    else out.push([k, String(v)]);
  }
  return out;
}

/** Answers through the reply (deny, redirect) or drops the connection. */
function answer(request: FastifyRequest, reply: FastifyReply, state: FastifyState, it: Interruption, guard: WafGuard, closeAfter: boolean): void {
  state.answered = true;
  if (it.action === 'drop') {
    reply.hijack();
    reply.raw.socket?.destroy();
    return;
  }
  const page = renderAnswer(it, state.tx.id, request.headers.accept, guard.options.errorPages);
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  reply.code(page.status).headers(page.headers);
  if (closeAfter) reply.header('connection', 'close');
  void reply.send(page.body);
}

/** The bytes read for phase 2 followed by whatever the engine left unread. */
function replay(body: BodyRead, rest: Readable): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield* body.chunks;
    if (!body.ended) for await (const chunk of rest) yield chunk as Buffer;
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** Holds a response stream up to the engine's limit (feeding phase 4), then replays it. */
function holdStream(tx: Transaction, source: Readable): Promise<{ held: Buffer[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const held: Buffer[] = [];
    const stop = (ended: boolean): void => {
      source.off('readable', onReadable);
      source.off('end', onEnd);
      source.off('error', reject);
      resolve({ held, ended });
    };
    const onReadable = (): void => {
      let chunk: Buffer | string | null;
      while ((chunk = source.read() as Buffer | string | null) !== null) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        held.push(buf);
        if (!tx.appendResponseBody(buf)) return stop(false);
      }
    };
    const onEnd = (): void => stop(true);
    source.on('readable', onReadable);
    source.on('end', onEnd);
    source.on('error', reject);
  });
}

/** Passes a stream through and runs phase 4 before its end; an interruption errors the stream. */
function phase4AtEnd(tx: Transaction, source: Readable): Readable {
  const through = new Transform({
    transform(chunk, _encoding, cb) {
      cb(null, chunk);
    },
    flush(cb) {
      tx.processResponseBody().then(
        (it) => cb(it === null ? null : new Error(`Warden: rule ${it.ruleId} interrupted the response in phase 4`)),
        (err: Error) => cb(err),
      );
    },
  });
  source.on('error', (err) => through.destroy(err));
  return source.pipe(through);
}

type Payload = string | Buffer | Readable | null | undefined;

async function inspectResponse(request: FastifyRequest, reply: FastifyReply, state: FastifyState, payload: Payload, guard: WafGuard): Promise<Payload> {
  const { tx } = state;
  state.headers = replyHeaders(reply);
  tx.setResponseStatus(reply.statusCode, `HTTP/${request.raw.httpVersion}`);
  for (const [k, v] of state.headers) tx.addResponseHeader(k, v);
  let it = await tx.processResponseHeaders();
  if (it !== null) return replaced(request, reply, state, it, guard);
  const inspected = tx.responseBodyInspected() && request.method !== 'HEAD';
  if (payload instanceof Readable) {
    if (!inspected) return phase4AtEnd(tx, payload);
    const { held, ended } = await holdStream(tx, payload);
    it = await tx.processResponseBody();
    if (it !== null) {
      payload.destroy();
      return replaced(request, reply, state, it, guard);
    }
    return replay({ chunks: held, ended, aborted: false }, payload);
  }
  if (inspected && payload !== null && payload !== undefined) tx.appendResponseBody(typeof payload === 'string' ? Buffer.from(payload) : payload);
  it = await tx.processResponseBody();
  if (it !== null) return replaced(request, reply, state, it, guard);
  return payload;
}

/** The page that replaces the app's response (onSend's payload), or nothing for drop. */
function replaced(request: FastifyRequest, reply: FastifyReply, state: FastifyState, it: Interruption, guard: WafGuard): Payload {
  state.answered = true;
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  if (it.action === 'drop') {
    reply.raw.socket?.destroy();
    return null;
  }
  const page = renderAnswer(it, state.tx.id, request.headers.accept, guard.options.errorPages);
  reply.code(page.status).headers(page.headers);
  state.headers = replyHeaders(reply);
  return page.body;
}

/**
 * The Fastify plugin.
 *
 * @example
 * const app = Fastify();
 * await app.register(wardenFastify, { waf, trustedProxies: ['10.0.0.0/8'] });
 * app.post('/comments', async (request) => save(request.body));
 */
export const wardenFastify: FastifyPluginCallback<WardenMiddlewareOptions> = (fastify, options, done) => {
  const guard = createWafGuard(options);

  fastify.addHook('onRequest', (request, reply, next) => {
    guard.requestHeaders(request.raw).then(({ tx, interruption }) => {
      const state: FastifyState = { tx, answered: false, headers: [] };
      states.set(request, state);
      guard.finishOnClose(tx, request.raw, reply.raw, () => state.headers);
      if (interruption !== null) answer(request, reply, state, interruption, guard, hasBody(request.raw));
      else next();
    }, next);
  });

  fastify.addHook('preParsing', (request, reply, payload, next) => {
    const state = states.get(request);
    if (state === undefined) return next(null, payload);
    guard.requestBody(state.tx, request.raw, payload, false).then(({ interruption, body }) => {
      if (body.aborted) return; // the client is gone; Fastify sees the closed request itself
      if (interruption !== null) return answer(request, reply, state, interruption, guard, hasBody(request.raw) && !body.ended);
      next(null, body.chunks.length === 0 ? payload : replay(body, payload));
    }, next);
  });

  fastify.addHook('onSend', (request, reply, payload: Payload, next) => {
    const state = states.get(request);
    if (state === undefined || state.answered) {
      if (state !== undefined) state.headers = replyHeaders(reply);
      return next(null, payload);
    }
    inspectResponse(request, reply, state, payload, guard).then((p) => next(null, p), next);
  });

  done();
};

// What fastify-plugin sets: the hooks belong to the instance that registers the plugin.
Object.assign(wardenFastify, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'warden' });
