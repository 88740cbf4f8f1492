/**
 * @module adapters/core
 * What every middleware adapter shares: one request through the Waf as a front end that
 * does not own the server sees it. Adapters are thin; they only decide where in their
 * framework each step runs.
 *
 *   requestHeaders   the Transaction (client address from the socket, or behind trusted
 *                    proxies from X-Forwarded-For/Forwarded) and phase 1
 *   requestBody      the body read within the engine's limits (never buffered beyond them),
 *                    then phase 2; the bytes read are handed back so the app still gets
 *                    the whole body
 *   answer           an interruption answered: the error page (HTML or JSON by Accept),
 *                    a redirect, or the connection dropped
 *   guardResponse    phases 3 and 4 on a node:http ServerResponse (node:http and Express)
 *   finish           phase 5 when the response is done, then the logs
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { WafLogs, ResponseSummary } from '../audit/types.js';
import { HeaderCarry, type Interruption, type Transaction } from '../engine/transaction.js';
import type { Waf } from '../engine/waf.js';
import { canonicalAddress, clientAddress, TrustedProxies, type ForwardingHeader } from '../http/client-address.js';
import { sendInterruption, type ErrorPageOptions } from '../http/error-page.js';
import { beginTransaction, headerValues, type ClientInfo } from '../http/request-model.js';

export interface WardenMiddlewareOptions {
  /** The compiled rules (shared by every request). */
  readonly waf: Waf;
  /**
   * Proxies whose forwarding header names the real client (addresses and CIDR blocks).
   * Without them the socket peer is the client, whatever the headers say.
   */
  readonly trustedProxies?: readonly string[];
  /** Which header trusted proxies report clients in (default x-forwarded-for). */
  readonly clientAddressHeader?: ForwardingHeader;
  /** Error page templates (`{{status}}`, `{{reason}}`, `{{id}}`). */
  readonly errorPages?: ErrorPageOptions;
  /** Receives every finished transaction: Warden's logs (audit/createLogs), or your own. */
  readonly logs?: Pick<WafLogs, 'transactionDone'>;
  /** Told about failures inside Warden (the request is answered 500); default: standard error. */
  readonly onError?: (err: unknown, tx: Transaction | null) => void;
}

/** The request body as read for phase 2. */
export interface BodyRead {
  /** The bytes read, in order (all of the body when `ended`). */
  readonly chunks: readonly Buffer[];
  /** True when the whole body was read; false when reading stopped at the limit. */
  readonly ended: boolean;
  /** True when the client went away before the body was complete. */
  readonly aborted: boolean;
}

/** The shared steps, bound to one Waf and its options. */
export interface WafGuard {
  readonly options: WardenMiddlewareOptions;
  /** Builds the Transaction and runs phase 1. */
  requestHeaders(req: IncomingMessage): Promise<{ tx: Transaction; interruption: Interruption | null }>;
  /**
   * Reads the body from `source` (the request, or a stream a framework gives instead) and
   * runs phase 2. With `putBack` the bytes read are returned to `source` so the app reads
   * the body as if no one had (only for a node:http IncomingMessage).
   */
  requestBody(tx: Transaction, req: IncomingMessage, source: Readable, putBack: boolean): Promise<{ interruption: Interruption | null; body: BodyRead }>;
  /** Answers an interruption on `res`; `bodyUnread` closes the connection after it. */
  answer(tx: Transaction, req: IncomingMessage, res: ServerResponse, it: Interruption, bodyUnread: boolean): void;
  /** Phases 3 and 4 on a ServerResponse (see {@link ResponseGate}). */
  guardResponse(tx: Transaction, req: IncomingMessage, res: ServerResponse): void;
  /**
   * Phase 5 and the logs, once, when `res` closes. `sentHeaders` gives the response headers
   * when the framework wrote them past node:http's header store (Fastify).
   */
  finishOnClose(tx: Transaction, req: IncomingMessage, res: ServerResponse, sentHeaders?: () => Array<[string, string]>): void;
  /** Reports an internal failure and answers 500 when the response has not started. */
  fail(err: unknown, tx: Transaction | null, res: ServerResponse): void;
}

/** True when the request carries a body (RFC 9112 §6.3: Transfer-Encoding or a non-zero Content-Length). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/**
 * Reads the body of `source` into the transaction. Stops at the end or, when `stopAtLimit`,
 * once SecRequestBodyLimit is passed (the rest stays unread in the socket). With `putBack`
 * the bytes are unshifted back before the stream can emit 'end' (an IncomingMessage ends
 * only after its `complete` is set and its buffer drained), so the app reads all of them.
 */
export function readRequestBody(
  tx: Transaction,
  req: IncomingMessage,
  source: Readable,
  stopAtLimit: boolean,
  putBack: boolean,
): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ended: boolean, aborted: boolean): void => {
      if (settled) return;
      settled = true;
      source.off('readable', onReadable);
      source.off('end', onEnd);
      source.off('error', onAbort);
      req.off('aborted', onAbort);
      source.off('close', onClose);
      if (putBack && !aborted && chunks.length > 0) source.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      resolve({ chunks, ended, aborted });
    };
    const onReadable = (): void => {
      let chunk: Buffer | string | null;
      while ((chunk = source.read() as Buffer | string | null) !== null) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
        chunks.push(buf);
        if (!tx.appendRequestBody(buf) && stopAtLimit) return finish(false, false);
      }
      // `complete` is set just before the parser pushes the end; finishing here (same tick as
      // the last read) puts the bytes back before 'end' could be emitted.
      if (source === req ? req.complete : source.readableEnded) finish(true, false);
    };
    const onEnd = (): void => finish(true, false);
    const onAbort = (): void => finish(false, true);
    const onClose = (): void => finish(source === req ? req.complete : source.readableEnded, !(source === req ? req.complete : source.readableEnded));
    source.on('readable', onReadable);
    source.on('end', onEnd);
    source.on('error', onAbort);
    req.on('aborted', onAbort);
    source.on('close', onClose);
  });
}

const NO_BODY: BodyRead = { chunks: [], ended: true, aborted: false };

/** Header values as the engine takes them: one entry per value, names as the app wrote them. */
export function responseHeaders(res: ServerResponse): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  // getRawHeaderNames is OutgoingMessage's (node >= 15.13); @types/node lists it on ClientRequest only.
  for (const name of (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
    const v = res.getHeader(name);
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.push([name, String(item)]);
    else out.push([name, String(v)]);
  }
  return out;
}

type WriteCallback = (err?: Error | null) => void;
type Pending = { readonly chunk: Buffer | null; readonly callback: WriteCallback | undefined; readonly end: boolean };

/** How much a gate holds before telling the writer to wait for 'drain'. */
const GATE_HIGH_WATER = 64 * 1024;

/**
 * Phases 3 and 4 on a node:http ServerResponse, without the app noticing: its writeHead,
 * write, end and flushHeaders are wrapped on this one response. Headers are held until the
 * first write (as node:http itself does), phase 3 runs, and then:
 *   - body inspected (SecResponseBodyAccess, an inspected type): the body is held up to
 *     SecResponseBodyLimit, phase 4 runs, and only then does anything reach the client, so a
 *     phase 4 rule can still answer with its error page;
 *   - otherwise the body streams as written; only the final end() waits for phase 4, and a
 *     phase 4 interruption can then only cut the connection (as ModSecurity v2 does when it
 *     did not buffer the body).
 */
export class ResponseGate {
  private state: 'idle' | 'deciding' | 'buffering' | 'streaming' | 'closing' | 'done';
  private readonly pending: Pending[];
  private pendingBytes: number;
  private needDrain: boolean;
  bytesSent: number;
  private readonly writeHead: (status: number, reason?: unknown, headers?: unknown) => ServerResponse;
  private readonly write: (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;
  private readonly end: (chunk?: unknown, encoding?: unknown, cb?: unknown) => ServerResponse;
  private readonly flushHeaders: () => void;

  constructor(
    private readonly guard: WafGuard,
    private readonly tx: Transaction,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    this.state = 'idle';
    this.pending = [];
    this.pendingBytes = 0;
    this.needDrain = false;
    this.bytesSent = 0;
    const proto = Object.getPrototypeOf(res) as ServerResponse;
    this.writeHead = proto.writeHead as ResponseGate['writeHead'];
    this.write = proto.write as ResponseGate['write'];
    this.end = proto.end as ResponseGate['end'];
    this.flushHeaders = proto.flushHeaders;
    // Own properties shadow the prototype's (Express's too) for this response only. They stay
    // in place once the gate is open (state 'done' passes straight through): middleware
    // mounted later (compression) wraps them, and removing them would unwrap it too.
    Object.assign(res, {
      writeHead: (status: number, reason?: unknown, headers?: unknown): ServerResponse => this.onWriteHead(status, reason, headers),
      write: (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => this.onWrite(chunk, encoding, cb, false),
      end: (chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse => {
        this.onWrite(chunk, encoding, cb, true);
        return res;
      },
      flushHeaders: (): void => {
        if (this.state === 'idle') void this.decide();
        else if (this.state === 'streaming' || this.state === 'done') this.flushHeaders.call(res);
      },
    });
  }

  private onWriteHead(status: number, reason: unknown, headers: unknown): ServerResponse {
    // Once phase 3 has let the response go, node:http's own implicit writeHead must work.
    if (this.state === 'streaming' || this.state === 'closing' || this.state === 'done') {
      return this.writeHead.call(this.res, status, reason, headers);
    }
    // Keep what writeHead says on the response; it is sent when phase 3 allows it.
    this.res.statusCode = status;
    if (typeof reason === 'string') this.res.statusMessage = reason;
    else headers = reason;
    if (Array.isArray(headers)) {
      // Raw form: [name, value, name, value, …] or [[name, value], …].
      const flat = (headers as unknown[]).flat() as string[];
      const seen = new Map<string, string[]>();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const name = String(flat[i]);
        const list = seen.get(name.toLowerCase()) ?? [];
        list.push(String(flat[i + 1]));
        seen.set(name.toLowerCase(), list);
        this.res.setHeader(name, list.length === 1 ? (list[0] as string) : list);
      }
    } else if (headers !== null && typeof headers === 'object') {
      for (const [k, v] of Object.entries(headers as Record<string, string | number | string[]>)) if (v !== undefined) this.res.setHeader(k, v);
    }
    return this.res;
  }

  private onWrite(chunk: unknown, encoding: unknown, cb: unknown, end: boolean): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    }
    const callback = cb as WriteCallback | undefined;
    if (this.state === 'done') {
      if (chunk !== undefined && chunk !== null) this.bytesSent += byteLength(chunk, encoding);
      if (end) {
        this.end.call(this.res, chunk, encoding, callback);
        return true;
      }
      return this.write.call(this.res, chunk, encoding, callback);
    }
    const buf = chunk === undefined || chunk === null ? null : toBuffer(chunk, encoding);
    if (this.state === 'closing') {
      // Phase 4 is running on the part held so far (the limit was reached): hold the rest
      // until its verdict, and ask the writer to wait.
      this.pending.push({ chunk: buf, callback, end });
      this.pendingBytes += buf?.length ?? 0;
      this.needDrain = true;
      return false;
    }
    if (this.state === 'streaming' && !end) {
      this.bytesSent += buf?.length ?? 0;
      return this.write.call(this.res, buf ?? Buffer.alloc(0), undefined, callback);
    }
    this.pending.push({ chunk: buf, callback, end });
    this.pendingBytes += buf?.length ?? 0;
    if (this.state === 'idle') void this.decide();
    else if (this.state === 'buffering') this.inspect(buf, end);
    else if (this.state === 'streaming') void this.lastPhase(true);
    // While phase 3 is pending, a fast writer is asked to wait; an inspected body is held
    // whole up to SecResponseBodyLimit (the limit bounds it), so the writer must not wait then.
    if (this.state === 'deciding' && this.pendingBytes >= GATE_HIGH_WATER) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** Phase 3, once the app has started its response. */
  private async decide(): Promise<void> {
    this.state = 'deciding';
    const { tx, res } = this;
    try {
      tx.setResponseStatus(res.statusCode, `HTTP/${this.req.httpVersion}`);
      for (const [k, v] of responseHeaders(res)) tx.addResponseHeader(k, v);
      const it = await tx.processResponseHeaders();
      if (it !== null) return this.block(it);
      if (tx.responseBodyInspected() && this.req.method !== 'HEAD') {
        this.state = 'buffering';
        const held = this.pending.slice();
        for (let i = 0; i < held.length && this.state === 'buffering'; i++) this.inspect((held[i] as Pending).chunk, (held[i] as Pending).end);
        // A writer told to wait while phase 3 ran may go on: the body is now held to the limit.
        if (this.state === 'buffering' && this.needDrain) {
          this.needDrain = false;
          res.emit('drain');
        }
        return;
      }
      // The whole response is in hand when the app ended it at once (res.end(body), res.send):
      // phase 4 runs before anything leaves, so it can still answer with its page.
      if (this.pending.some((p) => p.end)) return void (await this.lastPhase(false));
      this.state = 'streaming';
      this.release(false);
    } catch (err) {
      this.state = 'done';
      this.guard.fail(err, tx, res);
    }
  }

  /** A chunk of an inspected body: kept for phase 4 until the end or the limit. */
  private inspect(chunk: Buffer | null, end: boolean): void {
    const within = chunk === null ? true : this.tx.appendResponseBody(chunk);
    if (end || !within) void this.lastPhase(false);
  }

  /**
   * Phase 4: at the end of a held body (or at its limit), or at the end of a streamed one
   * (`streamed`: part of it already left).
   */
  private async lastPhase(streamed: boolean): Promise<void> {
    this.state = 'closing';
    try {
      const it = await this.tx.processResponseBody();
      if (it !== null) {
        if (streamed) {
          // Bytes already left: the only answer left is to cut the response short.
          this.state = 'done';
          this.res.destroy();
          return;
        }
        return this.block(it);
      }
      this.release(true);
    } catch (err) {
      this.state = 'done';
      this.guard.fail(err, this.tx, this.res);
    }
  }

  /** Sends what was held and lets the rest through (`all`: this is the end). */
  private release(all: boolean): void {
    const { res } = this;
    const held = this.pending.splice(0);
    this.pendingBytes = 0;
    if (all) {
      this.state = 'done';
    }
    for (const p of held) {
      if (p.chunk !== null) this.bytesSent += p.chunk.length;
      if (p.end) this.end.call(res, p.chunk ?? undefined, undefined, p.callback);
      else this.write.call(res, p.chunk ?? Buffer.alloc(0), undefined, p.callback);
    }
    if (this.needDrain) {
      this.needDrain = false;
      res.emit('drain');
    }
  }

  /** The response is replaced by the interruption's answer; what the app wrote is dropped. */
  private block(it: Interruption): void {
    const { res } = this;
    this.state = 'done';
    const held = this.pending.splice(0);
    this.pendingBytes = 0;
    // The app's headers (Set-Cookie, Content-Length, …) must not leak into the error page.
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusMessage = '';
    this.guard.answer(this.tx, this.req, res, it, false);
    // Writers waiting on their callbacks learn the response is over.
    const gone = new Error('response replaced by Warden');
    for (const p of held) p.callback?.(gone);
  }
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk), (typeof encoding === 'string' ? encoding : 'utf8') as BufferEncoding);
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return Buffer.byteLength(String(chunk), (typeof encoding === 'string' ? encoding : 'utf8') as BufferEncoding);
}

/** An answer as status, headers and body, for frameworks that send it themselves. */
export interface RenderedAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number>>;
  readonly body: string;
}

/**
 * The answer http/error-page would write for `it` (not for drop, which has none), captured
 * instead of written: Fastify must send it through its reply (onSend cannot hand the raw
 * response over), and the page must stay the one every front end sends.
 *
 * @example
 * const page = renderAnswer(it, tx.id, req.headers.accept);
 * reply.code(page.status).headers(page.headers).send(page.body);
 */
export function renderAnswer(it: Interruption, transactionId: string, accept: string | undefined, pages?: ErrorPageOptions): RenderedAnswer {
  let status = it.status;
  let headers: Record<string, string | number> = {};
  let body = '';
  const capture = {
    socket: null,
    writeHead(s: number, h: Record<string, string | number>) {
      status = s;
      headers = h;
      return capture;
    },
    end(b: string) {
      body = b;
      return capture;
    },
  };
  sendInterruption(capture as unknown as ServerResponse, it, transactionId, accept, pages);
  return { status, headers, body };
}

const gates = new WeakMap<ServerResponse, ResponseGate>();
/** Responses Warden answered itself (their body is the error page). */
const answered = new WeakSet<ServerResponse>();

/**
 * The steps every adapter runs, bound to one Waf. Throws IPParseError for a bad
 * trusted-proxy entry.
 *
 * @example
 * const guard = createWafGuard({ waf, trustedProxies: ['127.0.0.1'] });
 * const { tx, interruption } = await guard.requestHeaders(req);
 */
export function createWafGuard(options: WardenMiddlewareOptions): WafGuard {
  const trusted = new TrustedProxies(options.trustedProxies ?? []);
  const header = options.clientAddressHeader ?? 'x-forwarded-for';
  const report = options.onError ?? ((err: unknown) => console.error('warden:', err));

  function clientOf(req: IncomingMessage): ClientInfo {
    const socket = req.socket;
    const peer = socket.remoteAddress ?? '0.0.0.0';
    const address = trusted.size > 0 ? clientAddress(peer, headerValues(req, header), trusted, header) : canonicalAddress(peer);
    return { address, port: socket.remotePort ?? 0, localAddress: canonicalAddress(socket.localAddress ?? '0.0.0.0'), localPort: socket.localPort ?? 0 };
  }

  // Per keep-alive connection: what a request's transaction leaves for the next (engine HeaderCarry).
  const carries = new WeakMap<object, HeaderCarry>();
  function carryOf(req: IncomingMessage): HeaderCarry {
    // A request made up without a socket (some test injectors) carries nothing.
    const socket = req.socket as IncomingMessage['socket'] | null | undefined;
    if (socket === null || socket === undefined) return new HeaderCarry();
    let carry = carries.get(socket);
    if (carry === undefined) carries.set(socket, (carry = new HeaderCarry()));
    return carry;
  }

  const guard: WafGuard = {
    options,

    async requestHeaders(req) {
      const tx = beginTransaction(options.waf, req, clientOf(req), { carry: carryOf(req) });
      return { tx, interruption: await tx.processRequestHeaders() };
    },

    async requestBody(tx, req, source, putBack) {
      let body = NO_BODY;
      // Without body access (or with the engine off) the body is the app's alone: not read.
      if (hasBody(req) && tx.requestBodyAccess && tx.ruleEngine !== 'Off') {
        // Reading stops at SecRequestBodyLimit whatever the limit action: with Reject phase 2
        // answers 413, with ProcessPartial the rest goes to the app unread by the engine.
        body = await readRequestBody(tx, req, source, true, putBack);
      }
      if (body.aborted) return { interruption: null, body };
      return { interruption: await tx.processRequestBody(), body };
    },

    answer(tx, req, res, it, bodyUnread) {
      answered.add(res);
      // A body left in the socket would be read and thrown away on a kept-alive connection;
      // closing is cheaper, and the only safe choice after a 413.
      if (bodyUnread && it.action !== 'drop') res.setHeader('connection', 'close');
      // A header set before writeHead makes node:http keep all of them for getHeaders()
      // (the logs record the answer's headers).
      res.setHeader('x-warden-transaction', tx.id);
      sendInterruption(res, it, tx.id, req.headers.accept, options.errorPages);
    },

    guardResponse(tx, req, res) {
      gates.set(res, new ResponseGate(guard, tx, req, res));
    },

    finishOnClose(tx, req, res, sentHeaders) {
      res.once('close', () => {
        const gate = gates.get(res);
        const summary: ResponseSummary = {
          status: res.statusCode,
          protocol: `HTTP/${req.httpVersion}`,
          headers: !res.headersSent ? [] : sentHeaders !== undefined ? sentHeaders() : responseHeaders(res),
          // The gate counts what passed it; an answer (or a framework's reply) says its length.
          bytesSent: gate !== undefined && !answered.has(res) ? gate.bytesSent : Number(res.getHeader('content-length') ?? 0),
          aborted: !res.writableFinished,
        };
        tx.processLogging().then(
          () => options.logs?.transactionDone(tx, summary),
          (err: unknown) => report(err, tx),
        );
      });
    },

    fail(err, tx, res) {
      report(err, tx);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end('Internal Server Error\n');
    },
  };
  return guard;
}

/**
 * Runs phases 1 and 2 for a node:http request and installs the response gate. Resolves
 * true when the app should handle the request (its body is back in `req`), false when
 * Warden answered it.
 *
 * @example
 * if (await guardRequest(guard, req, res)) app(req, res);
 */
export async function guardRequest(guard: WafGuard, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  let tx: Transaction | null = null;
  try {
    const head = await guard.requestHeaders(req);
    tx = head.tx;
    guard.finishOnClose(tx, req, res);
    if (head.interruption !== null) {
      guard.answer(tx, req, res, head.interruption, hasBody(req));
      return false;
    }
    const { interruption, body } = await guard.requestBody(tx, req, req, true);
    if (body.aborted) return false;
    if (interruption !== null) {
      guard.answer(tx, req, res, interruption, hasBody(req) && !body.ended);
      return false;
    }
    guard.guardResponse(tx, req, res);
    return true;
  } catch (err) {
    guard.fail(err, tx, res);
    return false;
  }
}
