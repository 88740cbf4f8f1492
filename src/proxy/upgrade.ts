/**
 * @module proxy/upgrade
 * WebSocket (and any other `Upgrade:`) passthrough. The upgrade request is admitted like any
 * other (client address, framing checks, bans), phases 1 and 2 run on its head, and only
 * then a connection to the upstream is opened, the request head written to it (forwarding
 * headers set, hop-by-hop ones removed, Upgrade kept) and the two sockets joined. The
 * upstream's answer (101 or a refusal) reaches the client verbatim; after it the frames are
 * not inspected. The log record is written when the tunnel closes. CONNECT goes the same way
 * (`handleConnect`). Refusals of the front end still run the rules (front-end.ts).
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Interruption, Transaction } from '../engine/transaction.js';
import { sendInterruption } from '../http/error-page.js';
import { beginTransaction } from '../http/request-model.js';
import { upstreamFailure } from './errors.js';
import { connectionOf, peerTrusted, realClient, type Connection } from './connection.js';
import { admit, logRefused, type Refusal } from './front-end.js';
import type { Generation } from './generation.js';
import { upstreamRequestHeaders, type Hop } from './headers.js';
import { hostName, matchRoute } from './routes.js';
import type { ExchangeHost, ListenerInfo } from './types.js';
import type { Upstream } from './upstream.js';

/** Tunnels open in this process, so a shutdown can close them after the grace period. */
export const openTunnels = new Set<Tunnel>();

/** A response written on a socket that left Node's HTTP handling (upgrade). */
function socketResponse(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.on('finish', onSocketResponseFinish);
  return res;
}

function onSocketResponseFinish(this: ServerResponse): void {
  const socket = this.socket;
  if (socket !== null) {
    this.detachSocket(socket);
    socket.destroySoon();
  }
}

/** The response still being sent on a connection, if any (Node's own bookkeeping). */
function inFlight(socket: Duplex): ServerResponse | null {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
}

/** Runs `then` once no earlier response of the connection is being sent any more. */
function whenAnswered(socket: Duplex, then: () => void): void {
  const res = inFlight(socket);
  if (res === null || socket.destroyed) return then();
  const next = (): void => {
    res.removeListener('finish', next);
    res.removeListener('close', next);
    // Node assigns the socket to the next queued response on 'finish': look again after it.
    setImmediate(() => whenAnswered(socket, then));
  };
  res.once('finish', next);
  res.once('close', next);
}

const PIPELINED: Refusal = { status: 400, reason: 'upgrade or CONNECT pipelined behind a request still being answered' };

/**
 * An upgrade or CONNECT request that arrived pipelined behind requests whose answers are
 * still being sent: its answer (or a tunnel's) would be written into theirs. It is refused
 * with 400 once they are answered, and the connection closed. True when that is the case.
 */
function refusedAsPipelined(host: ExchangeHost, gen: Generation, req: IncomingMessage, socket: Duplex, client: string, conn: Connection): boolean {
  if (inFlight(socket) === null) return false;
  whenAnswered(socket, () => refuse(host, gen, req, socket, client, conn, PIPELINED, true));
  return true;
}

/** The `upgrade` handler of a listener. */
export function handleUpgrade(host: ExchangeHost, gen: Generation, listener: ListenerInfo, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', ignore);
  const conn = connectionOf(req.socket);
  const client = realClient(gen, req, conn);
  if (refusedAsPipelined(host, gen, req, socket, client, conn)) return;
  if (host.bans !== null && host.bans.has(client)) return refuse(host, gen, req, socket, client, conn, { status: 403, reason: 'client address is banned' }, false);
  const where = admit(req);
  if ('status' in where) return refuse(host, gen, req, socket, client, conn, where, true);
  if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') {
    return refuse(host, gen, req, socket, client, conn, { status: 400, reason: 'upgrade request with a body' }, true);
  }
  const route = matchRoute(gen.routes.get(listener.name) ?? [], hostName(where.host), where.path);
  const tunnel = new Tunnel(host, gen, listener, req, socket, head, client, conn, where.path, route?.upstream ?? null);
  void tunnel.run();
}

/**
 * Answers an upgrade or CONNECT request Warden refuses, on its socket. A refusal of the
 * front end still runs phases 1, 2 (without a body) and 5 (front-end.ts); a ban is
 * refused at the cost of a `rejected` record.
 */
function refuse(host: ExchangeHost, gen: Generation, req: IncomingMessage, socket: Duplex, client: string, conn: Connection, refusal: Refusal, inspect: boolean): void {
  host.stats.rejected++;
  const body = `${refusal.status} ${refusal.reason}\n`;
  // A connection closed after an earlier answer (a refusal with Connection: close) is gone,
  // and the earlier response may still own it: nothing can be written, only recorded.
  const gone = socket.destroyed || inFlight(socket) !== null;
  if (gone) {
    socket.destroy();
  } else {
    const res = socketResponse(req, socket);
    res.writeHead(refusal.status, ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Connection', 'close']);
    res.end(body);
  }
  if (inspect) {
    const tx = beginTransaction(gen.waf, req, { address: client, port: conn.peerPort, localAddress: conn.local, localPort: conn.localPort });
    const headers: Array<readonly [string, string]> = [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(Buffer.byteLength(body))],
      ['Connection', 'close'],
    ];
    logRefused(host, gen, tx, { status: refusal.status, protocol: `HTTP/${req.httpVersion}`, headers, bytesSent: gone ? 0 : Buffer.byteLength(body), aborted: gone });
    return;
  }
  if (!gen.logs.takesRejected()) return;
  gen.logs.rejected({
    clientAddress: client,
    clientPort: conn.peerPort,
    localAddress: conn.local,
    localPort: conn.localPort,
    rawHead: `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`,
    status: refusal.status,
    reason: refusal.reason,
    timestamp: Date.now(),
  });
}

function ignore(): void {}

export class Tunnel {
  readonly host: ExchangeHost;
  readonly gen: Generation;
  readonly req: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly tx: Transaction;
  readonly hop: Hop;
  /** The target sent upstream: origin-form, or the authority of a CONNECT. */
  readonly path: string;
  readonly upstream: Upstream | null;
  upstreamSocket: Socket | null;
  status: number;
  answered: boolean;
  finished: boolean;

  constructor(host: ExchangeHost, gen: Generation, listener: ListenerInfo, req: IncomingMessage, socket: Duplex, head: Buffer, client: string, conn: Connection, path: string, upstream: Upstream | null) {
    this.host = host;
    this.gen = gen;
    this.req = req;
    this.socket = socket;
    this.head = head;
    this.tx = beginTransaction(gen.waf, req, { address: client, port: conn.peerPort, localAddress: conn.local, localPort: conn.localPort });
    this.hop = { peer: conn.peer, trusted: peerTrusted(conn, gen.trusted), proto: listener.proto, httpVersion: req.httpVersion, mode: gen.forwarded };
    this.path = path;
    this.upstream = upstream;
    this.upstreamSocket = null;
    this.status = 0;
    this.answered = false;
    this.finished = false;
    host.stats.requests++;
    host.stats.active++;
    gen.acquire();
    openTunnels.add(this);
    socket.on('close', () => this.finish());
  }

  async run(): Promise<void> {
    try {
      let it = await this.tx.processRequestHeaders();
      if (it === null) it = await this.tx.processRequestBody();
      if (this.finished) return;
      if (it !== null) {
        this.host.stats.interrupted++;
        return this.answer(it);
      }
      if (this.upstream === null) return this.answer({ action: 'deny', status: 404, ruleId: 0, phase: 2, url: null, message: 'no route for this host and path' });
      this.open(this.upstream);
    } catch (err) {
      this.host.log('error', `internal error in upgrade ${this.tx.id}: ${(err as Error)?.stack ?? String(err)}`);
      this.answer({ action: 'deny', status: 500, ruleId: 0, phase: this.tx.phase, url: null, message: 'internal error' });
    }
  }

  private answer(it: Interruption, gateway = false): void {
    if (this.answered || this.finished) return;
    this.answered = true;
    this.status = it.status;
    const res = socketResponse(this.req, this.socket);
    sendInterruption(res, it, this.tx.id, this.req.headers.accept, gateway ? this.gen.gatewayPages : this.gen.errorPages);
  }

  private open(upstream: Upstream): void {
    const origin = upstream.origin;
    const options = { host: origin.hostname.replace(/^\[|\]$/g, ''), port: upstream.port };
    const up = origin.protocol === 'https:' ? tlsConnect({ ...options, servername: options.host }) : netConnect(options);
    this.upstreamSocket = up;
    up.setTimeout(upstream.connectTimeout);
    up.once('timeout', () => up.destroy(Object.assign(new Error(`connect to ${origin.host} timed out`), { code: 'UND_ERR_CONNECT_TIMEOUT' })));
    up.once(origin.protocol === 'https:' ? 'secureConnect' : 'connect', () => this.connected(up));
    up.on('error', (err) => this.upstreamError(err));
    up.on('close', () => {
      if (this.status !== 0 || this.answered) this.socket.destroy();
    });
  }

  private connected(up: Socket): void {
    up.setTimeout(0);
    if (this.finished) {
      up.destroy();
      return;
    }
    const h = upstreamRequestHeaders(this.req.rawHeaders, this.hop, true);
    let text = `${this.req.method} ${this.path} HTTP/1.1\r\n`;
    for (let i = 0; i + 1 < h.length; i += 2) text += `${h[i] as string}: ${h[i + 1] as string}\r\n`;
    up.write(`${text}\r\n`, 'latin1');
    if (this.head.length > 0) up.write(this.head);
    if (this.req.method !== 'CONNECT') this.host.stats.websockets++;
    up.once('data', (chunk: Buffer) => {
      // The status of the upstream's answer, for the log: "HTTP/1.1 101 …".
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.subarray(0, 16).toString('latin1'));
      this.status = m === null ? 0 : Number(m[1]);
      this.tx.setResponseStatus(this.status, 'HTTP/1.1');
    });
    if (this.socket instanceof Object && 'setTimeout' in this.socket) (this.socket as Socket).setTimeout(0);
    up.pipe(this.socket);
    this.socket.pipe(up);
  }

  private upstreamError(err: Error): void {
    if (this.status !== 0 || this.answered) {
      this.socket.destroy();
      return;
    }
    const failure = upstreamFailure(err);
    this.host.stats.upstreamErrors++;
    this.host.log('error', `[client ${this.tx.remoteAddr?.value ?? ''}] upstream "${this.upstream?.name ?? '?'}" failed for upgrade ${this.path}: ${failure.reason} → ${failure.status} [id "${this.tx.id}"]`);
    this.answer({ action: 'deny', status: failure.status, ruleId: 0, phase: 2, url: null, message: failure.reason }, true);
  }

  /** Closes both sides (shutdown after the grace period). */
  close(): void {
    this.upstreamSocket?.destroy();
    this.socket.destroy();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    openTunnels.delete(this);
    this.upstreamSocket?.destroy();
    this.host.stats.active--;
    void this.log();
  }

  private async log(): Promise<void> {
    try {
      await this.tx.processLogging();
      const bytesSent = (this.socket as Socket).bytesWritten ?? 0;
      this.gen.logs.transactionDone(this.tx, { status: this.status, protocol: `HTTP/${this.req.httpVersion}`, headers: [], bytesSent, aborted: this.status === 0 });
    } catch (err) {
      this.host.log('error', `logging upgrade ${this.tx.id} failed: ${(err as Error)?.stack ?? String(err)}`);
    } finally {
      this.gen.release();
    }
  }
}

/**
 * The `connect` handler. Warden opens no tunnels of its own: a CONNECT request is admitted
 * like any other (its target must be `host:port`), phases 1 and 2 run on its head, and it
 * is then passed to the upstream of the route for its Host, as a reverse proxy passes every
 * method; the upstream answers it (an origin server refuses it; a 2xx would make the
 * connection a tunnel to that upstream, not to the host the client named).
 */
export function handleConnect(host: ExchangeHost, gen: Generation, listener: ListenerInfo, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', ignore);
  const conn = connectionOf(req.socket);
  const client = realClient(gen, req, conn);
  if (refusedAsPipelined(host, gen, req, socket, client, conn)) return;
  if (host.bans !== null && host.bans.has(client)) return refuse(host, gen, req, socket, client, conn, { status: 403, reason: 'client address is banned' }, false);
  const where = admit(req);
  if ('status' in where) return refuse(host, gen, req, socket, client, conn, where, true);
  const route = matchRoute(gen.routes.get(listener.name) ?? [], hostName(where.host), where.path);
  const tunnel = new Tunnel(host, gen, listener, req, socket, head, client, conn, req.url ?? '', route?.upstream ?? null);
  void tunnel.run();
}
