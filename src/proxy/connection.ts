/**
 * @module proxy/connection
 * What the proxy knows about a client connection, worked out once per connection rather
 * than once per request: the peer and local addresses in canonical form, and whether the
 * peer is a trusted proxy (remembered per set of trusted proxies, so a reload that changes
 * the set is honoured on the next request). The real client address of each request is
 * then the peer, or — for a trusted peer only — what its forwarding header reports.
 */
import type { IncomingMessage } from 'node:http';
import { HeaderCarry } from '../engine/index.js';
import type { Socket } from 'node:net';
import { canonicalAddress, clientAddress, type TrustedProxies } from '../http/client-address.js';
import { headerValues } from '../http/request-model.js';
import type { Generation } from './generation.js';

export interface Connection {
  /** The socket peer, canonical (`::ffff:1.2.3.4` → `1.2.3.4`). */
  readonly peer: string;
  readonly peerPort: number;
  readonly local: string;
  readonly localPort: number;
  /** The trusted-proxy set `trusted` was computed for. */
  trustedBy: TrustedProxies | null;
  trusted: boolean;
  /** Exchanges of this connection not finished yet (see trackExchange); null before the first. */
  pending: Set<Finishable> | null;
  /** What each request's transaction leaves for the next one here (engine HeaderCarry). */
  readonly carry: HeaderCarry;
}

/** What a connection finishes when its socket closes under it. */
export interface Finishable {
  finish(): void;
}

const kConnection = Symbol('warden.connection');
type Carrier = { [kConnection]?: Connection };

/** The connection facts of a socket (computed on its first request). */
export function connectionOf(socket: Socket): Connection {
  let c = (socket as Carrier)[kConnection];
  if (c === undefined) {
    c = {
      peer: canonicalAddress(socket.remoteAddress ?? ''),
      peerPort: socket.remotePort ?? 0,
      local: canonicalAddress(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
      trustedBy: null,
      trusted: false,
      pending: null,
      carry: new HeaderCarry(),
    };
    (socket as Carrier)[kConnection] = c;
  }
  return c;
}

/**
 * Keeps `ex` until it finishes (forgetExchange); if the socket closes first, it is finished
 * then. A response normally closes with its socket, but not one Node never gave the socket:
 * a request pipelined behind a response that closed the connection, or left behind when the
 * connection went to an upgrade handler.
 */
export function trackExchange(socket: Socket, c: Connection, ex: Finishable): void {
  if (c.pending === null) {
    const all = new Set<Finishable>();
    c.pending = all;
    socket.once('close', () => {
      for (const e of all) e.finish();
    });
  }
  c.pending.add(ex);
}

export function forgetExchange(c: Connection, ex: Finishable): void {
  c.pending?.delete(ex);
}

/** Whether the connection's peer is one of `trusted`. */
export function peerTrusted(c: Connection, trusted: TrustedProxies): boolean {
  if (c.trustedBy !== trusted) {
    c.trustedBy = trusted;
    c.trusted = trusted.size > 0 && trusted.has(c.peer);
  }
  return c.trusted;
}

/** The real client address of `req` under the generation's trusted proxies. */
export function realClient(gen: Generation, req: IncomingMessage, c: Connection): string {
  if (!peerTrusted(c, gen.trusted)) return c.peer;
  return clientAddress(c.peer, headerValues(req, gen.clientHeader), gen.trusted, gen.clientHeader);
}
