/**
 * @module proxy/listener
 * One listening address: a node:http (or node:https, for TLS termination) server in strict
 * parsing mode, whose events go to the proxy. Its certificate and key are read from files
 * and can be replaced without closing it (SIGHUP). In a cluster every worker opens the same
 * listeners and the primary shares the sockets.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { ListenerConfig, ProxyBehaviour, TlsConfig } from '../config/types.js';
import { ProxyError } from './errors.js';
import type { ListenerInfo } from './types.js';

/** What a listener hands its events to (the ProxyServer). */
export interface ListenerHost {
  /**
   * A new connection, before Node's server reads from it: true when the host took it
   * (a banned peer, proxy/banned.ts); otherwise Node's server gets it.
   */
  onConnection(listener: Listener, socket: Socket): boolean;
  /** `expectContinue`: the client waits for 100 Continue before it sends the body. */
  onRequest(listener: Listener, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void;
  onUpgrade(listener: Listener, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  onConnect(listener: Listener, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  onClientError(listener: Listener, err: Error, socket: Duplex): void;
}

const kListener = Symbol('warden.listener');
type Carrier = { [kListener]?: Listener };

/**
 * Reads a certificate and key and checks they make a TLS context (a wrong pair or a
 * damaged file fails here, not on the first handshake). Throws ProxyError WARDEN_TLS.
 */
export function loadTls(tls: TlsConfig, listener: string): SecureContextOptions {
  let options: SecureContextOptions;
  try {
    options = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
  } catch (err) {
    throw new ProxyError('WARDEN_TLS', `listener "${listener}": cannot read TLS files: ${(err as Error).message}`, 0, { cause: err });
  }
  try {
    createSecureContext({ ...options, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new ProxyError('WARDEN_TLS', `listener "${listener}": ${tls.cert} and ${tls.key} do not make a TLS context: ${(err as Error).message}`, 0, { cause: err });
  }
  return options;
}

export class Listener implements ListenerInfo {
  readonly name: string;
  readonly proto: 'http' | 'https';
  readonly config: ListenerConfig;
  readonly server: Server;
  readonly host: ListenerHost;

  constructor(host: ListenerHost, config: ListenerConfig, behaviour: ProxyBehaviour) {
    this.name = config.name;
    this.proto = config.tls === null ? 'http' : 'https';
    this.config = config;
    this.host = host;
    const requestTimeout = behaviour.requestTimeout;
    const options: ServerOptions = {
      maxHeaderSize: behaviour.maxHeaderSize,
      // Strict llhttp: the smuggling and malformed-request cases are refused by the parser.
      insecureHTTPParser: false,
      // Warden answers a missing Host itself, so that the refusal is logged.
      requireHostHeader: false,
      joinDuplicateHeaders: false,
      keepAliveTimeout: behaviour.keepAliveTimeout,
      requestTimeout,
      headersTimeout: requestTimeout > 0 ? Math.min(behaviour.requestHeadersTimeout, requestTimeout) : behaviour.requestHeadersTimeout,
      // Node checks these timeouts every 30 s by default; short timeouts need a finer check.
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(behaviour.requestHeadersTimeout / 4))),
      noDelay: true,
    };
    this.server =
      config.tls === null
        ? createHttpServer(options)
        : (createHttpsServer({ ...options, ...loadTls(config.tls, config.name), minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] }) as unknown as Server);
    (this.server as Carrier)[kListener] = this;
    // The host sees each connection first: Node's own 'connection' handlers (the HTTP
    // parser, or the TLS handshake) run only for connections it does not take.
    const nodeHandlers = this.server.listeners('connection') as Array<(socket: Socket) => void>;
    this.server.removeAllListeners('connection');
    const server = this.server;
    server.on('connection', (socket: Socket) => {
      if (host.onConnection(this, socket)) return;
      for (const handler of nodeHandlers) handler.call(server, socket);
    });
    this.server.on('request', onRequest);
    // Without this listener Node answers 100 Continue itself, before phase 1 has run.
    this.server.on('checkContinue', onCheckContinue);
    this.server.on('upgrade', onUpgrade);
    this.server.on('connect', onConnect);
    this.server.on('clientError', onClientError);
    // Failed handshakes (scanners, wrong protocol) are not requests; nothing to answer.
    this.server.on('tlsClientError', onTlsClientError);
  }

  /** Opens the address; resolves with where it listens (port 0 becomes the real port). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const server = this.server;
      const onError = (err: Error): void => {
        reject(new ProxyError('WARDEN_LISTEN', `listener "${this.name}" cannot listen on ${this.config.host}:${this.config.port}: ${err.message}`, 0, { cause: err }));
      };
      server.once('error', onError);
      server.listen({ host: this.config.host, port: this.config.port }, () => {
        server.removeListener('error', onError);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** Replaces certificate and key for new handshakes (open connections keep theirs). */
  setTls(options: SecureContextOptions): void {
    (this.server as unknown as { setSecureContext(o: SecureContextOptions): void }).setSecureContext({ ...options, minVersion: 'TLSv1.2' });
  }

  /** Stops accepting; resolves when the server has closed (after its connections). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}

function listenerOf(server: unknown): Listener {
  return (server as Carrier)[kListener] as Listener;
}

function onRequest(this: Server, req: IncomingMessage, res: ServerResponse): void {
  const l = listenerOf(this);
  l.host.onRequest(l, req, res, false);
}

function onCheckContinue(this: Server, req: IncomingMessage, res: ServerResponse): void {
  const l = listenerOf(this);
  l.host.onRequest(l, req, res, true);
}

function onUpgrade(this: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const l = listenerOf(this);
  l.host.onUpgrade(l, req, socket, head);
}

function onConnect(this: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const l = listenerOf(this);
  l.host.onConnect(l, req, socket, head);
}

function onClientError(this: Server, err: Error, socket: Duplex): void {
  const l = listenerOf(this);
  l.host.onClientError(l, err, socket);
}

function onTlsClientError(_err: Error, socket: Socket): void {
  socket.destroy();
}
