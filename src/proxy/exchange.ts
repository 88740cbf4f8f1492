/**
 * @module proxy/exchange
 * One request through the proxy, from Node's parsed head to the last byte of the response:
 *
 * 1. admission (`handleRequest`): the real client address (trusted proxies), the ban list,
 *    then the checks Node leaves to the application (front-end.ts: version, Host, fragment,
 *    framing, target form) — a request refused there still runs phases 1, 2 and 5;
 * 2. phase 1 on the head;
 * 3. the request body, when the rules may read it, is held (and handed to the engine) until
 *    it ends or passes SecRequestBodyLimit — never more than the limit plus the one socket
 *    read that crossed it — and nothing is sent upstream before phase 2 decided. Past the
 *    limit with ProcessPartial (or DetectionOnly) the rest then streams through uninspected;
 * 4. phase 2, then the upstream request (undici Pool, keep-alive), body re-framed by the
 *    proxy (Content-Length when known, chunked otherwise), never the client's bytes verbatim;
 * 5. phase 3 on the response head; then, for a body the rules inspect (SecResponseBodyAccess
 *    and a SecResponseBodyMimeType type), the response is held until it ends or passes
 *    SecResponseBodyLimit, phase 4 decides, and only then the head and the held bytes go to
 *    the client, the rest streaming after — as ModSecurity buffers the inspected part, so a
 *    phase-4 deny can still replace the response. A body the rules do not inspect is never
 *    held: phase 4 runs right after phase 3 (it has no body to see) and the body streams;
 * 6. phase 5 and the log record once the client has the response (or went away).
 *
 * Backpressure is end to end: a slow client pauses the upstream response, a slow upstream
 * pauses the client's upload. Listeners are module functions finding their exchange
 * through a symbol, so a request allocates no closures beyond its promises.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ResponseSummary } from '../audit/types.js';
import type { Interruption, Transaction } from '../engine/transaction.js';
import { sendInterruption } from '../http/error-page.js';
import { beginTransaction } from '../http/request-model.js';
import { connectionOf, forgetExchange, peerTrusted, realClient, trackExchange, type Connection } from './connection.js';
import { upstreamFailure, type UpstreamFailure } from './errors.js';
import { admit, logRefused } from './front-end.js';
import type { Generation } from './generation.js';
import { clientResponseHeaders, upstreamRequestHeaders, type Hop } from './headers.js';
import { hostName, matchRoute, type Route } from './routes.js';
import { inTurn } from './turn.js';
import type { ExchangeHost, FinishedExchange, ListenerInfo } from './types.js';
import type { Upstream } from './upstream.js';

const kExchange = Symbol('warden.exchange');
type Carrier = { [kExchange]?: Exchange };

/**
 * After an early answer (deny in phase 1 or 2, 413) the rest of the request body is read
 * and discarded up to this many bytes, so the connection can stay open and the client is
 * not reset before it reads the answer; past it the connection is closed.
 */
const DISCARD_LIMIT = 4 * 1024 * 1024;

const enum State {
  /** Phases 1–2, reading the body. */
  Request,
  /** Sent upstream, waiting for the response head. */
  Forwarding,
  /** Phase 3 or 4 running; the upstream is paused. */
  Deciding,
  /** Collecting the response body for phase 4. */
  Holding,
  /** Head sent; the body streams to the client. */
  Streaming,
  /** Answered, failed or abandoned; nothing more goes to the client from here. */
  Done,
}

const VALID_REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The whole head as received, for a rejected request's log record. */
function headOf(req: IncomingMessage): string {
  let head = `${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i] as string}: ${raw[i + 1] as string}\r\n`;
  return `${head}\r\n`;
}

/**
 * Answers a request Warden refuses before it may reach an upstream. A refusal of the
 * front end (`admit`) still runs phases 1, 2 (without a body) and 5 and is logged as a
 * transaction (front-end.ts); a banned client is refused at the cost of a `rejected` record.
 */
function reject(host: ExchangeHost, gen: Generation, req: IncomingMessage, res: ServerResponse, client: string, status: number, reason: string, inspect: boolean): void {
  host.stats.rejected++;
  const body = `${status} ${reason}\n`;
  const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store'];
  // The connection is kept only for a banned client's request without a body: nothing is
  // left unread on it, and its next retry costs one lookup instead of a new connection.
  // Everything else refused closes (what follows on the connection cannot be trusted).
  if (inspect || req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') res.shouldKeepAlive = false;
  res.writeHead(status, headers);
  res.end(body);
  const c = connectionOf(req.socket);
  if (inspect) {
    const tx = beginTransaction(gen.waf, req, { address: client, port: c.peerPort, localAddress: c.local, localPort: c.localPort });
    const sent: Array<readonly [string, string]> = [];
    for (let i = 0; i + 1 < headers.length; i += 2) sent.push([headers[i] as string, headers[i + 1] as string]);
    sent.push(['Connection', 'close']);
    logRefused(host, gen, tx, { status, protocol: `HTTP/${req.httpVersion}`, headers: sent, bytesSent: Buffer.byteLength(body), aborted: false });
    return;
  }
  // A banned client retrying costs a lookup and a 403; the record is built only if a log takes it.
  if (!gen.logs.takesRejected()) return;
  gen.logs.rejected({
    clientAddress: client,
    clientPort: c.peerPort,
    localAddress: c.local,
    localPort: c.localPort,
    rawHead: headOf(req),
    status,
    reason,
    timestamp: Date.now(),
  });
}

/**
 * The `request` handler of a listener: admits the request and runs its exchange.
 * `gen` is the generation current when the request arrived.
 */
export function handleRequest(host: ExchangeHost, gen: Generation, listener: ListenerInfo, req: IncomingMessage, res: ServerResponse, expectContinue = false): void {
  const conn = connectionOf(req.socket);
  const client = realClient(gen, req, conn);
  if (host.bans !== null && host.bans.has(client)) {
    if (host.bans.answer === 'close') {
      // Refused before its body is read, at the cost of nothing but the close.
      host.stats.rejected++;
      host.observer?.refused(listener.name, 0, true, client);
      req.socket.destroy();
      return;
    }
    host.observer?.refused(listener.name, 403, true, client);
    return reject(host, gen, req, res, client, 403, 'client address is banned', false);
  }
  const where = admit(req);
  if ('status' in where) {
    host.observer?.refused(listener.name, where.status, false, client);
    return reject(host, gen, req, res, client, where.status, where.reason, true);
  }
  const ex = new Exchange(host, gen, listener, req, res, client, conn, where.path, where.host, expectContinue);
  // The rules run at the end of the turn, with the other requests read in it (proxy/turn).
  inTurn(() => void ex.run());
}

export class Exchange implements Dispatcher.DispatchHandler, FinishedExchange {
  readonly host: ExchangeHost;
  readonly gen: Generation;
  readonly listener: ListenerInfo;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly tx: Transaction;
  readonly hop: Hop;
  /** Origin-form target sent upstream. */
  readonly path: string;
  readonly route: Route<Upstream> | null;
  readonly hasBody: boolean;
  /** The client sent `Expect: 100-continue` and waits for our 100 before sending the body. */
  continueOwed: boolean;
  state: State;
  /** Body bytes held back (request while phase 2 decides, then response while phase 4 does). */
  held: Buffer[];
  heldBytes: number;
  /** The whole request body is in `held`. */
  bodyComplete: boolean;
  bodyWaiter: (() => void) | null;
  discarded: number;
  controller: Dispatcher.DispatchController | null;
  upstreamAborted: boolean;
  upstreamEnded: boolean;
  status: number;
  statusMessage: string;
  /** Response headers for the client, flat. */
  headers: string[] | null;
  waitingDrain: boolean;
  bytesSent: number;
  failure: UpstreamFailure | null;
  /** The client got an answer of Warden's own (verdict, 404, 502/504), not the upstream's. */
  ownAnswer: boolean;
  finished: boolean;
  private readonly conn: Connection;
  // For metrics (FinishedExchange): one performance.now() on each side of a phase.
  phase1Ms: number;
  phase2Ms: number;
  phase3Ms: number;
  phase4Ms: number;
  phase5Ms: number;
  forwarded: boolean;
  /** performance.now() when the request went upstream. */
  upstreamAt: number;
  upstreamMs: number;
  sentStatus: number;

  constructor(
    host: ExchangeHost,
    gen: Generation,
    listener: ListenerInfo,
    req: IncomingMessage,
    res: ServerResponse,
    client: string,
    conn: Connection,
    path: string,
    hostHeader: string,
    expectContinue: boolean,
  ) {
    this.host = host;
    this.gen = gen;
    this.listener = listener;
    this.req = req;
    this.res = res;
    this.tx = beginTransaction(gen.waf, req, { address: client, port: conn.peerPort, localAddress: conn.local, localPort: conn.localPort }, { carry: conn.carry });
    this.hop = { peer: conn.peer, trusted: peerTrusted(conn, gen.trusted), proto: listener.proto, httpVersion: req.httpVersion, mode: gen.forwarded };
    this.path = path;
    this.route = matchRoute(gen.routes.get(listener.name) ?? [], hostName(hostHeader), path);
    const cl = req.headers['content-length'];
    this.hasBody = req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
    this.continueOwed = expectContinue;
    this.state = State.Request;
    this.held = [];
    this.heldBytes = 0;
    this.bodyComplete = false;
    this.bodyWaiter = null;
    this.discarded = 0;
    this.controller = null;
    this.upstreamAborted = false;
    this.upstreamEnded = false;
    this.status = 0;
    this.statusMessage = '';
    this.headers = null;
    this.waitingDrain = false;
    this.bytesSent = 0;
    this.failure = null;
    this.ownAnswer = false;
    this.finished = false;
    this.phase1Ms = -1;
    this.phase2Ms = -1;
    this.phase3Ms = -1;
    this.phase4Ms = -1;
    this.phase5Ms = -1;
    this.forwarded = false;
    this.upstreamAt = 0;
    this.upstreamMs = -1;
    this.sentStatus = 0;
    (req as Carrier)[kExchange] = this;
    (res as Carrier)[kExchange] = this;
    res.on('close', onResClose);
    res.on('drain', onResDrain);
    this.conn = conn;
    trackExchange(req.socket, conn, this);
    host.stats.requests++;
    host.stats.active++;
    gen.acquire();
  }

  get routeName(): string | null {
    return this.route?.name ?? null;
  }

  get upstreamName(): string | null {
    return this.route?.upstream.name ?? null;
  }

  // ------------------------------------------------------------------ request side

  async run(): Promise<void> {
    try {
      // The client may have gone while the exchange waited for its turn.
      if (this.isDone()) return;
      const tx = this.tx;
      let t = performance.now();
      let it = await tx.processRequestHeaders();
      this.phase1Ms = performance.now() - t;
      if (this.isDone()) return;
      if (it === null && this.hasBody && tx.requestBodyAccess && tx.ruleEngine !== 'Off' && tx.allowed === 'none') {
        await this.readBody();
        if (this.isDone()) return;
      }
      if (it === null) {
        t = performance.now();
        it = await tx.processRequestBody();
        this.phase2Ms = performance.now() - t;
      }
      if (this.isDone()) return;
      if (it !== null) return this.interrupt(it);
      if (this.route === null) return this.answer(404, 'no route for this host and path');
      this.forward(this.route.upstream);
    } catch (err) {
      this.fail(err);
    }
  }

  /** State is read again after each await: the client may have gone meanwhile. */
  private isDone(): boolean {
    return this.state === State.Done;
  }

  /** Holds the body until it ends or passes SecRequestBodyLimit (resolves either way). */
  private readBody(): Promise<void> {
    this.sendContinue();
    return new Promise((resolve) => {
      this.bodyWaiter = resolve;
      this.req.on('data', onReqData);
      this.req.on('end', onReqEnd);
    });
  }

  bodyRead(complete: boolean): void {
    const req = this.req;
    req.removeListener('data', onReqData);
    req.removeListener('end', onReqEnd);
    this.bodyComplete = complete;
    const stats = this.host.stats;
    if (this.heldBytes > stats.requestBodyHeldMax) stats.requestBodyHeldMax = this.heldBytes;
    const waiter = this.bodyWaiter;
    this.bodyWaiter = null;
    waiter?.();
  }

  private forward(upstream: Upstream): void {
    const req = this.req;
    const headers = upstreamRequestHeaders(req.rawHeaders, this.hop, false);
    let body: Buffer | Readable | null = null;
    if (this.hasBody) {
      if (this.bodyComplete) {
        headers.push('content-length', String(this.heldBytes));
        // undici sends any iterable of Buffers; the held chunks go out without a copy.
        if (this.heldBytes > 0) body = this.held.length === 1 ? (this.held[0] as Buffer) : (this.held as unknown as Readable);
      } else {
        // Not read (no inspection) or read up to the limit: what was held goes back in
        // front of the unread rest, and the request itself becomes the upstream body.
        for (let i = this.held.length - 1; i >= 0; i--) req.unshift(this.held[i] as Buffer);
        this.sendContinue();
        const cl = req.headers['content-length'];
        if (cl !== undefined) headers.push('content-length', cl);
        body = req;
      }
      this.held = [];
      this.heldBytes = 0;
    }
    this.state = State.Forwarding;
    this.forwarded = true;
    this.upstreamAt = performance.now();
    upstream.pool.dispatch(
      { method: req.method ?? 'GET', path: this.path, headers, body, headersTimeout: upstream.headersTimeout, bodyTimeout: upstream.bodyTimeout },
      this,
    );
  }

  /**
   * 100 Continue, once phase 1 let the request through and its body is wanted (as Apache
   * sends it when ModSecurity starts reading the body): a request refused on its head is
   * refused before the client sends the body.
   */
  private sendContinue(): void {
    if (this.continueOwed) {
      this.continueOwed = false;
      this.res.writeContinue();
    }
  }

  /**
   * After an early answer, the unread rest of the request body is discarded (bounded), so
   * the client is not reset before it reads the answer.
   */
  private discardRequestBody(): void {
    const req = this.req;
    req.removeListener('data', onReqData);
    req.removeListener('end', onReqEnd);
    if (!this.hasBody || req.complete) return;
    req.on('data', onDiscardData);
    req.resume();
  }

  // ------------------------------------------------------------------ answers

  /** Answers with a rule's verdict (deny/drop/redirect) if the client can still get one. */
  private interrupt(it: Interruption): void {
    this.host.stats.interrupted++;
    this.abortUpstream();
    if (this.state === State.Done) return;
    this.state = State.Done;
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    this.discardRequestBody();
    if (this.host.draining) this.res.shouldKeepAlive = false;
    this.ownAnswer = true;
    sendInterruption(this.res, it, this.tx.id, this.req.headers.accept, this.gen.errorPages);
  }

  /** A status Warden answers itself (404 no route, 502/504 upstream, 500 internal). */
  private answer(status: number, message: string, pages = this.gen.errorPages): void {
    if (this.state === State.Done) return;
    this.state = State.Done;
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    this.discardRequestBody();
    if (this.host.draining) this.res.shouldKeepAlive = false;
    this.ownAnswer = true;
    sendInterruption(this.res, { action: 'deny', status, ruleId: 0, phase: this.tx.phase, url: null, message }, this.tx.id, this.req.headers.accept, pages);
  }

  private fail(err: unknown): void {
    this.host.log('error', `[client ${this.tx.remoteAddr?.value ?? ''}] internal error in request ${this.tx.id}: ${(err as Error)?.stack ?? String(err)}`);
    this.abortUpstream();
    this.answer(500, 'internal error');
  }

  private abortUpstream(): void {
    if (this.controller !== null && !this.upstreamEnded && !this.upstreamAborted) {
      this.upstreamAborted = true;
      this.controller.abort(new Error('request answered by Warden'));
    }
  }

  // ------------------------------------------------------------------ undici handler

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.state === State.Done) this.abortUpstream();
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    if (this.state !== State.Forwarding) return;
    // 1xx (100 Continue, 103 Early Hints) are informational; the final answer follows.
    if (statusCode < 200) return;
    this.upstreamMs = performance.now() - this.upstreamAt;
    controller.pause();
    this.state = State.Deciding;
    this.status = statusCode;
    this.statusMessage = statusMessage ?? '';
    const raw = controller.rawHeaders;
    this.headers = clientResponseHeaders(Array.isArray(raw) ? raw : flatten(headers));
    inTurn(() => void this.decideHead());
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.state) {
      case State.Holding:
        this.held.push(chunk);
        this.heldBytes += chunk.length;
        if (!this.tx.appendResponseBody(chunk)) {
          controller.pause();
          this.state = State.Deciding;
          void this.decideBody();
        }
        return;
      case State.Streaming:
        this.bytesSent += chunk.length;
        if (!this.res.write(chunk)) {
          controller.pause();
          this.waitingDrain = true;
        }
        return;
      case State.Deciding:
        // Paused, but a chunk already parsed may still arrive: keep it in order.
        this.held.push(chunk);
        this.heldBytes += chunk.length;
        return;
      default:
        return;
    }
  }

  onResponseEnd(): void {
    this.upstreamEnded = true;
    if (this.state === State.Holding) {
      this.state = State.Deciding;
      void this.decideBody();
    } else if (this.state === State.Streaming) {
      this.res.end();
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.upstreamEnded = true;
    if (this.upstreamAborted || this.state === State.Done) return;
    const socket = this.req.socket;
    if (socket.destroyed || this.host.rejectedSockets.has(socket)) {
      // The client went away (or sent a broken body): the upstream request was aborted
      // because of it, not the upstream's fault.
      this.state = State.Done;
      return;
    }
    const failure = upstreamFailure(err);
    this.failure = failure;
    this.host.stats.upstreamErrors++;
    const up = this.route?.upstream;
    this.host.log(
      'error',
      `[client ${this.tx.remoteAddr?.value ?? ''}] upstream "${up?.name ?? '?'}" (${up?.origin.origin ?? '?'}) failed for ${this.req.method} ${this.path}: ${failure.reason} → ${this.res.headersSent ? 'response cut short' : failure.status} [id "${this.tx.id}"]`,
    );
    if (this.res.headersSent) {
      // The client has a head already: the only honest signal left is a cut connection.
      this.state = State.Done;
      this.res.destroy();
      return;
    }
    this.answer(failure.status, failure.reason, this.gen.gatewayPages);
  }

  // ------------------------------------------------------------------ response side

  private async decideHead(): Promise<void> {
    try {
      // The client may have gone while the response waited for its turn.
      if (this.state !== State.Deciding) return;
      const tx = this.tx;
      tx.setResponseStatus(this.status, 'HTTP/1.1');
      const h = this.headers as string[];
      for (let i = 0; i + 1 < h.length; i += 2) tx.addResponseHeader(h[i] as string, h[i + 1] as string);
      let t = performance.now();
      let it = await tx.processResponseHeaders();
      this.phase3Ms = performance.now() - t;
      if (this.state !== State.Deciding) return;
      if (it === null) {
        if (tx.responseBodyInspected()) {
          this.state = State.Holding;
          if (this.heldBytes > 0) {
            // Chunks that slipped in while phase 3 ran are the body's first bytes.
            const early = this.held;
            this.held = [];
            this.heldBytes = 0;
            for (const c of early) {
              this.held.push(c);
              this.heldBytes += c.length;
              if (!tx.appendResponseBody(c)) break;
            }
            if (tx.responseBodyExceeded) {
              this.state = State.Deciding;
              return this.decideBody();
            }
          }
          if (this.upstreamEnded) {
            this.state = State.Deciding;
            return this.decideBody();
          }
          this.controller?.resume();
          return;
        }
        // Nothing for phase 4 to read: it runs now, while the response can still be replaced.
        t = performance.now();
        it = await tx.processResponseBody();
        this.phase4Ms = performance.now() - t;
        if (this.state !== State.Deciding) return;
        if (it === null) return this.release();
      }
      this.interrupt(it);
    } catch (err) {
      this.fail(err);
    }
  }

  private async decideBody(): Promise<void> {
    try {
      const stats = this.host.stats;
      if (this.heldBytes > stats.responseBodyHeldMax) stats.responseBodyHeldMax = this.heldBytes;
      const t = performance.now();
      const it = await this.tx.processResponseBody();
      this.phase4Ms = performance.now() - t;
      if (this.state !== State.Deciding) return;
      if (it !== null) return this.interrupt(it);
      this.release();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Phase 4 passed: the head and the held bytes go to the client, the rest streams. */
  private release(): void {
    const res = this.res;
    if (this.host.draining) res.shouldKeepAlive = false;
    try {
      res.writeHead(this.status, VALID_REASON.test(this.statusMessage) && this.statusMessage !== '' ? this.statusMessage : undefined, this.headers as string[]);
    } catch (err) {
      // A head Node will not send (a status or header it considers invalid): the upstream's fault.
      this.host.stats.upstreamErrors++;
      this.host.log('error', `[client ${this.tx.remoteAddr?.value ?? ''}] upstream "${this.route?.upstream.name ?? '?'}" answered a head that cannot be forwarded: ${(err as Error).message} → 502 [id "${this.tx.id}"]`);
      this.abortUpstream();
      this.answer(502, 'invalid response head from the upstream', this.gen.gatewayPages);
      return;
    }
    let writable = true;
    for (const c of this.held) {
      this.bytesSent += c.length;
      writable = res.write(c);
    }
    this.held = [];
    this.heldBytes = 0;
    this.state = State.Streaming;
    if (this.upstreamEnded) res.end();
    else if (writable) this.controller?.resume();
    else this.waitingDrain = true;
  }

  onDrain(): void {
    if (this.waitingDrain) {
      this.waitingDrain = false;
      this.controller?.resume();
    }
  }

  // ------------------------------------------------------------------ the end

  /** The response is complete or the client went away: phase 5 and the log record. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    forgetExchange(this.conn, this);
    const aborted = !this.res.writableFinished;
    if (this.state !== State.Done || aborted) this.abortUpstream();
    this.state = State.Done;
    this.held = [];
    const waiter = this.bodyWaiter;
    this.bodyWaiter = null;
    waiter?.();
    this.host.stats.active--;
    inTurn(() => void this.log(aborted));
  }

  private async log(aborted: boolean): Promise<void> {
    try {
      const t = performance.now();
      await this.tx.processLogging();
      this.phase5Ms = performance.now() - t;
      // A connection clientError answered (a framing error in the body) was logged there.
      if (this.host.rejectedSockets.has(this.req.socket)) return;
      const summary = this.summary(aborted);
      this.gen.logs.transactionDone(this.tx, summary);
      this.sentStatus = summary.aborted ? 0 : summary.status;
      this.host.observer?.exchangeDone(this);
    } catch (err) {
      this.host.log('error', `logging request ${this.tx.id} failed: ${(err as Error)?.stack ?? String(err)}`);
    } finally {
      this.gen.release();
    }
  }

  private summary(aborted: boolean): ResponseSummary {
    const res = this.res;
    const it = this.tx.interruption;
    if (it !== null && it.action === 'drop') return { status: it.status, protocol: 'HTTP/1.1', headers: [], bytesSent: 0, aborted: true };
    if (!res.headersSent) return { status: 0, protocol: 'HTTP/1.1', headers: [], bytesSent: 0, aborted: true };
    const headers: Array<readonly [string, string]> = [];
    let bytesSent = this.bytesSent;
    if (!this.ownAnswer && this.headers !== null) {
      for (let i = 0; i + 1 < this.headers.length; i += 2) headers.push([this.headers[i] as string, this.headers[i + 1] as string]);
    } else {
      // An answer of Warden's own, written by writeHead with an object: Node keeps the head
      // it sent only as text.
      const head = (res as unknown as { _header?: string | null })._header ?? '';
      for (const line of head.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
      }
      const cl = headers.find(([k]) => k.toLowerCase() === 'content-length');
      bytesSent = cl === undefined ? 0 : Number(cl[1]);
    }
    return { status: res.statusCode, protocol: `HTTP/${this.req.httpVersion}`, headers, bytesSent, aborted };
  }
}

function flatten(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else if (v !== undefined) out.push(k, v);
  }
  return out;
}

function exchangeOf(emitter: unknown): Exchange {
  return (emitter as Carrier)[kExchange] as Exchange;
}

function onReqData(this: IncomingMessage, chunk: Buffer): void {
  const ex = exchangeOf(this);
  ex.held.push(chunk);
  ex.heldBytes += chunk.length;
  if (!ex.tx.appendRequestBody(chunk)) {
    this.pause();
    ex.bodyRead(false);
  }
}

function onReqEnd(this: IncomingMessage): void {
  exchangeOf(this).bodyRead(true);
}

function onDiscardData(this: IncomingMessage, chunk: Buffer): void {
  const ex = exchangeOf(this);
  ex.discarded += chunk.length;
  if (ex.discarded > DISCARD_LIMIT) this.socket.destroy();
}

function onResClose(this: ServerResponse): void {
  exchangeOf(this).finish();
}

function onResDrain(this: ServerResponse): void {
  exchangeOf(this).onDrain();
}
