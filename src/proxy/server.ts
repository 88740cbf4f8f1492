/**
 * @module proxy/server
 * The reverse proxy of one process: its listeners, the current generation (rules, routes,
 * upstreams, logs), reload and drain. In a cluster each worker runs one ProxyServer; tests
 * and embedders can run one directly.
 *
 * Reload is atomic: the new TLS files are read and checked and the new generation built
 * first; only if all of that succeeds are the certificates replaced and the generation
 * swapped. Requests in flight finish on the generation they started with; its pools and
 * logs are closed after them. No listener is closed, so no connection is dropped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import type { WafLogs } from '../audit/types.js';
import type { ListenerConfig, WardenConfig } from '../config/types.js';
import type { Waf } from '../engine/waf.js';
import { canonicalAddress, clientAddress } from '../http/client-address.js';
import { refuseBannedConnection } from './banned.js';
import { clientErrorAnswer, clientErrorResponse, rawHeaderValues, receivedHead, type ParserError } from './client-error.js';
import { connectionOf, peerTrusted } from './connection.js';
import { handleRequest } from './exchange.js';
import { logRefused, readHead, refusedTransaction } from './front-end.js';
import { Generation } from './generation.js';
import { Listener, loadTls, type ListenerHost } from './listener.js';
import { handleConnect, handleUpgrade, openTunnels } from './upgrade.js';
import { newStats, type BanList, type ExchangeHost, type ProxyLog, type ProxyObserver, type ProxyStats } from './types.js';

export interface ProxyServerOptions {
  /** Where transactions and refusals are logged. */
  readonly logs: WafLogs;
  /** The ban engine's in-memory set, asked before a request reaches the engine. */
  readonly bans?: BanList | null;
  /** Operational messages; stderr when absent. */
  readonly log?: ProxyLog;
  /** Where finished and refused requests are reported for metrics. */
  readonly observer?: ProxyObserver | null;
}

/** Where a listener ended up listening. */
export interface ListeningAddress {
  readonly name: string;
  readonly proto: 'http' | 'https';
  readonly address: string;
  readonly port: number;
}

/** `http://127.0.0.1:8080`, `https://[::1]:8443`. */
export function listeningUrl(a: Pick<ListeningAddress, 'proto' | 'address' | 'port'>): string {
  return `${a.proto}://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
}

/** What a reload changed, and what it could not change without a restart. */
export interface ReloadReport {
  readonly rules: number;
  readonly upstreamsKept: number;
  readonly upstreamsNew: number;
  readonly tlsReloaded: readonly string[];
  /** Settings that take effect only on restart (listener addresses, TLS on/off, workers, limits of the parser). */
  readonly needsRestart: readonly string[];
}

/** A reload checked and built, not yet in effect. */
export interface PreparedReload {
  readonly generation: Generation;
  readonly tls: ReadonlyArray<readonly [Listener, SecureContextOptions]>;
  readonly needsRestart: readonly string[];
}

/** After a refused request, how long the connection may stay half-open for the client to read the answer. */
const LINGER_MS = 2000;

function defaultLog(level: string, message: string): void {
  process.stderr.write(`[${new Date().toISOString()}] [proxy:${level}] [pid ${process.pid}] ${message}\n`);
}

function listenerKey(l: ListenerConfig): string {
  return `${l.host}:${l.port}:${l.tls === null ? 'http' : 'https'}`;
}

export class ProxyServer implements ExchangeHost, ListenerHost {
  readonly stats: ProxyStats;
  draining: boolean;
  bans: BanList | null;
  readonly log: ProxyLog;
  readonly observer: ProxyObserver | null;
  readonly rejectedSockets: WeakSet<Socket>;
  /** Connections whose refusal waits for the answer to an earlier request (`refuseAfter`). */
  private readonly refusedAfter: WeakSet<Socket>;
  readonly listeners: readonly Listener[];
  /** Connections of banned peers answered without Node's server (proxy/banned.ts). */
  readonly bannedSockets: Set<Socket>;
  private current: Generation;

  /**
   * Builds the listeners and the first generation; nothing listens until `listen()`.
   * Throws ProxyError for a bad upstream, route or TLS file.
   *
   * @example
   * const proxy = new ProxyServer(config, Waf.fromFiles(['rules.conf']), { logs });
   * const addresses = await proxy.listen();
   * // …
   * await proxy.close(10_000);
   */
  constructor(config: WardenConfig, waf: Waf, options: ProxyServerOptions) {
    this.stats = newStats();
    this.draining = false;
    this.bans = options.bans ?? null;
    this.log = options.log ?? defaultLog;
    this.observer = options.observer ?? null;
    this.rejectedSockets = new WeakSet();
    this.refusedAfter = new WeakSet();
    this.bannedSockets = new Set();
    this.current = new Generation(config, waf, options.logs);
    this.listeners = config.listeners.map((l) => new Listener(this, l, config.proxy));
  }

  /** The generation new requests get. */
  get generation(): Generation {
    return this.current;
  }

  async listen(): Promise<ListeningAddress[]> {
    const out: ListeningAddress[] = [];
    for (const l of this.listeners) {
      const a = await l.listen();
      out.push({ name: l.name, proto: l.proto, address: a.address, port: a.port });
    }
    return out;
  }

  /**
   * Checks and builds everything a new config and ruleset need (TLS files read and tried,
   * upstream pools, routes, trusted proxies) without changing what runs. Throws, changing
   * nothing, when any of it is bad. Then `commit` (or `discard`).
   */
  prepare(config: WardenConfig, waf: Waf, logs: WafLogs): PreparedReload {
    const old = this.current;
    const needsRestart: string[] = [];
    const byName = new Map(config.listeners.map((l) => [l.name, l]));
    const tls: Array<[Listener, SecureContextOptions]> = [];
    for (const l of this.listeners) {
      const next = byName.get(l.name);
      if (next === undefined) {
        needsRestart.push(`listener "${l.name}" was removed (it keeps running until restart, with no routes)`);
        continue;
      }
      if (listenerKey(next) !== listenerKey(l.config)) needsRestart.push(`listener "${l.name}" address or TLS on/off changed`);
      if (next.tls !== null && l.proto === 'https') tls.push([l, loadTls(next.tls, l.name)]);
    }
    for (const name of byName.keys()) if (!this.listeners.some((l) => l.name === name)) needsRestart.push(`listener "${name}" is new`);
    const p = old.config.proxy;
    const q = config.proxy;
    if (p.maxHeaderSize !== q.maxHeaderSize || p.requestTimeout !== q.requestTimeout || p.requestHeadersTimeout !== q.requestHeadersTimeout || p.keepAliveTimeout !== q.keepAliveTimeout) {
      needsRestart.push('proxy timeouts and maxHeaderSize');
    }
    if (old.config.workers !== config.workers) needsRestart.push('workers');
    return { generation: new Generation(config, waf, logs, old), tls, needsRestart };
  }

  /** Makes a prepared reload current: certificates replaced, generation swapped. Cannot fail. */
  commit(prepared: PreparedReload): ReloadReport {
    const old = this.current;
    const next = prepared.generation;
    for (const [l, options] of prepared.tls) l.setTls(options);
    this.current = next;
    void old.retire(next);
    let kept = 0;
    for (const [name, up] of next.upstreams) if (old.upstreams.get(name) === up) kept++;
    return {
      rules: next.waf.rules.length,
      upstreamsKept: kept,
      upstreamsNew: next.upstreams.size - kept,
      tlsReloaded: prepared.tls.map(([l]) => l.name),
      needsRestart: prepared.needsRestart,
    };
  }

  /** Drops a prepared reload that will not be committed (closes what it opened). */
  discard(prepared: PreparedReload): void {
    void prepared.generation.retire(this.current);
  }

  /** `prepare` then `commit`. */
  reload(config: WardenConfig, waf: Waf, logs: WafLogs): ReloadReport {
    return this.commit(this.prepare(config, waf, logs));
  }

  /**
   * Stops accepting, lets requests in flight finish (responses then say Connection: close),
   * and after `graceMs` closes what is left; then closes pools and logs.
   */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = Promise.all(this.listeners.map((l) => l.close()));
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (this.stats.active > 0 || openTunnels.size > 0)) {
      for (const l of this.listeners) l.server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 25));
    }
    for (const t of [...openTunnels]) t.close();
    for (const l of this.listeners) l.server.closeAllConnections();
    for (const s of [...this.bannedSockets]) s.destroy();
    await closed;
    await this.current.retire(null);
  }

  // ------------------------------------------------------------------ listener events

  /**
   * A banned peer that is its own client (not a trusted proxy) is refused here, before
   * Node's server reads from the connection: with `bans.answer: close` by closing it (on
   * any listener), with 403 answers (plain HTTP only; proxy/banned.ts). Everything else,
   * and a ban that comes later, is checked per request.
   */
  onConnection(listener: Listener, socket: Socket): boolean {
    const bans = this.bans;
    if (bans === null) return false;
    const conn = connectionOf(socket);
    if (peerTrusted(conn, this.current.trusted) || !bans.has(conn.peer)) return false;
    if (bans.answer === 'close') {
      this.stats.rejected++;
      this.observer?.refused(listener.name, 0, true, conn.peer);
      socket.destroy();
      return true;
    }
    if (listener.proto !== 'http') return false;
    refuseBannedConnection(this, listener, socket, conn);
    return true;
  }

  onRequest(listener: Listener, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    handleRequest(this, this.current, listener, req, res, expectContinue);
  }

  onUpgrade(listener: Listener, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    handleUpgrade(this, this.current, listener, req, socket, head);
  }

  onConnect(listener: Listener, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    handleConnect(this, this.current, listener, req, socket, head);
  }

  /**
   * Node's parser refused the bytes on a connection (or the connection failed): a defined
   * answer, `Connection: close`; the connection is not used again. When the refused bytes
   * are the connection's first and hold a readable head, the request still runs phases 1,
   * 2 (without a body) and 5 and is logged as a transaction (front-end.ts); otherwise a
   * `rejected` record is written.
   */
  onClientError(listener: Listener, err: Error, duplex: Duplex): void {
    const socket = duplex as Socket;
    // Already answered (or to be answered); later parser errors are echoes.
    if (this.rejectedSockets.has(socket) || this.refusedAfter.has(socket)) return;
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    const idle = inFlight === undefined || inFlight === null;
    if (!idle && inFlight.req.complete) {
      this.refuseAfter(listener, err as ParserError, socket, inFlight);
      return;
    }
    const answer = clientErrorAnswer(err as ParserError);
    if (answer === null) {
      socket.destroy();
      return;
    }
    this.rejectedSockets.add(socket);
    this.stats.rejected++;
    const raw = (err as ParserError).rawPacket;
    // Where the refused request starts is known only when the packet is all the connection
    // has sent: after an earlier request, or a head that came in several reads, it is not,
    // and no transaction is made of bytes that may not be the refused request's.
    const head = idle && raw !== undefined && socket.bytesRead === raw.length ? readHead(raw.toString('latin1')) : null;
    const response = clientErrorResponse(answer, head?.protocol === 'HTTP/0.9');
    if (socket.writable && (idle || !(inFlight as ServerResponse).headersSent)) {
      socket.end(response.bytes);
      // Keep reading (and dropping) what the client still sends for a moment, so that it is
      // not reset before it has read the answer.
      socket.resume();
      socket.setTimeout(LINGER_MS, destroySocket);
    } else {
      socket.destroy();
    }
    const received = receivedHead(raw);
    const gen = this.current;
    const peer = socket.remoteAddress ?? '';
    const client = gen.trusted.size === 0 ? canonicalAddress(peer) : clientAddress(peer, rawHeaderValues(received, gen.clientHeader), gen.trusted, gen.clientHeader);
    const where = { address: client, port: socket.remotePort ?? 0, localAddress: canonicalAddress(socket.localAddress ?? ''), localPort: socket.localPort ?? 0 };
    this.observer?.refused(listener.name, answer.status, false, client);
    if (head !== null) {
      const tx = refusedTransaction(gen.waf, head, where);
      logRefused(this, gen, tx, { status: answer.status, protocol: head.protocol, headers: response.headers, bytesSent: response.bodyLength, aborted: false });
      return;
    }
    this.logRejected(gen, where, received, answer);
  }

  /**
   * The refused bytes follow a request that arrived whole and is still being answered
   * (pipelined, or a body longer than its Content-Length): that request, and any read after
   * it, is answered and logged as usual, then the refusal is sent and the connection
   * closed, so each answer goes to the request it is for. Where the refused request starts in the packet is
   * unknown: the answer is judged from where the parser stopped, and no transaction is
   * made of it (a `rejected` record).
   */
  private refuseAfter(listener: Listener, err: ParserError, socket: Socket, inFlight: ServerResponse): void {
    const raw = err.rawPacket;
    const rest = raw?.subarray(Math.min(err.bytesParsed ?? 0, raw.length));
    const answer = clientErrorAnswer(Object.assign(new Error(err.message), { code: err.code, reason: err.reason, rawPacket: rest }));
    if (answer === null) {
      socket.destroy();
      return;
    }
    this.refusedAfter.add(socket);
    this.stats.rejected++;
    const response = clientErrorResponse(answer);
    let sent = false;
    const send = (): void => {
      if (sent) return;
      sent = true;
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(response.bytes);
      socket.resume();
      socket.setTimeout(LINGER_MS, destroySocket);
    };
    // After each answer Node hands the socket to the next pipelined request's response, if
    // one was read before the bad bytes; the refusal waits for the last of them.
    const after = (res: ServerResponse): void => {
      let called = false;
      const next = (): void => {
        if (called) return;
        called = true;
        const following = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
        if (following !== undefined && following !== null && following !== res && !following.writableFinished) after(following);
        else send();
      };
      res.once('finish', next);
      res.once('close', next);
    };
    after(inFlight);
    const gen = this.current;
    const client = canonicalAddress(socket.remoteAddress ?? '');
    const where = { address: client, port: socket.remotePort ?? 0, localAddress: canonicalAddress(socket.localAddress ?? ''), localPort: socket.localPort ?? 0 };
    this.observer?.refused(listener.name, answer.status, false, client);
    this.logRejected(gen, where, receivedHead(rest), answer);
  }

  /** A `rejected` record of a refused request, when a log of the generation takes one. */
  logRejected(gen: Generation, where: { address: string; port: number; localAddress: string; localPort: number }, rawHead: string, answer: { status: number; reason: string }): void {
    if (!gen.logs.takesRejected()) return;
    gen.logs.rejected({
      clientAddress: where.address,
      clientPort: where.port,
      localAddress: where.localAddress,
      localPort: where.localPort,
      rawHead,
      status: answer.status,
      reason: answer.reason,
      timestamp: Date.now(),
    });
  }
}

function destroySocket(this: Socket): void {
  this.destroy();
}

