/**
 * @module proxy/banned
 * A connection from a banned address, answered without Node's HTTP server.
 *
 * When the peer of a new plain-HTTP connection is itself the client (not a trusted proxy)
 * and is banned, nothing it sends can reach an upstream or the rules: every request gets
 * the same 403. Such clients retry in a loop (the pingback bots this project started from
 * retried every few minutes from many addresses), so their answer should cost as little as
 * possible. This reader only finds where each request head ends (CRLF CRLF) and answers it
 * from a prepared response; it never parses further than it must to decide whether the
 * connection can stay open:
 *
 * - kept open (as Node's server keeps it for the same request) only for an HTTP/1.1
 *   request without a body, `Connection: close` or `Upgrade`: nothing is left unread;
 * - anything else (a body, HTTP/1.0, a head over maxHeaderSize, bytes that are not a
 *   request line) is answered, then the connection is closed;
 * - when the ban was lifted since the connection opened, the connection is closed without
 *   an answer: the client retries on a new connection, which goes the usual way.
 *
 * Each answer is counted and logged as the per-request path logs a banned client (a
 * `rejected` record when a log takes it). TLS listeners and trusted proxies (whose
 * requests each name their own client) go through Node's server as before.
 */
import type { Socket } from 'node:net';
import type { Connection } from './connection.js';
import type { Generation } from './generation.js';
import type { ExchangeHost, ListenerInfo } from './types.js';

/** What the answering needs from the proxy (ProxyServer). */
export interface BannedHost extends ExchangeHost {
  /** The generation current now (its logs and limits). */
  readonly generation: Generation;
  /** Open connections answered here, so that closing the proxy can close them. */
  readonly bannedSockets: Set<Socket>;
  logRejected(gen: Generation, where: { address: string; port: number; localAddress: string; localPort: number }, rawHead: string, answer: { status: number; reason: string }): void;
}

const REASON = 'client address is banned';
const BODY = `403 ${REASON}\n`;
/** After the last answer, how long a closing connection may stay half-open for the client to read it. */
const LINGER_MS = 2000;

/** A request line of HTTP/1.1 (the only version whose connections stay open here). */
const HTTP11 = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \r\n]+ HTTP\/1\.1\r\n/;
/** Header fields after which the connection does not stay open: a body, a close, an upgrade. */
const ENDS_CONNECTION = /\r\n(?:transfer-encoding[ \t]*:|upgrade[ \t]*:|content-length[ \t]*:(?![ \t]*0*[ \t]*\r\n)|connection[ \t]*:[^\r\n]*\bclose\b)/i;

let dateSecond = -1;
let dateText = '';

/** The Date header's value, made once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

function answer(keepAlive: boolean, keepAliveSeconds: number): string {
  return (
    'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${BODY.length}\r\nCache-Control: no-store\r\nDate: ${httpDate()}\r\n` +
    (keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}\r\n\r\n` : 'Connection: close\r\n\r\n') +
    BODY
  );
}

/** The keep-alive answer as bytes, made again when its Date second or timeout changes. */
let kept: { second: number; seconds: number; bytes: Buffer } | null = null;

function keepAliveAnswer(keepAliveSeconds: number): Buffer {
  httpDate();
  if (kept === null || kept.second !== dateSecond || kept.seconds !== keepAliveSeconds) {
    kept = { second: dateSecond, seconds: keepAliveSeconds, bytes: Buffer.from(answer(true, keepAliveSeconds), 'latin1') };
  }
  return kept.bytes;
}

/**
 * Takes over `socket`, whose peer `conn.peer` is banned (the caller checked), and answers
 * each request on it with 403 until the client or a timeout closes it.
 */
export function refuseBannedConnection(host: BannedHost, listener: ListenerInfo, socket: Socket, conn: Connection): void {
  const behaviour = host.generation.config.proxy;
  const maxHead = behaviour.maxHeaderSize;
  const keepAliveSeconds = Math.max(1, Math.floor(behaviour.keepAliveTimeout / 1000));
  host.bannedSockets.add(socket);
  let pending = '';
  /** When the first byte of the head not yet complete arrived (a head has requestHeadersTimeout in all, as in Node's server). */
  let headStarted = 0;
  let closing = false;
  const close = (): void => {
    closing = true;
    socket.removeListener('data', onData);
    // Keep reading (and dropping) for a moment, so the client is not reset before it has read the answer.
    socket.resume();
    socket.setTimeout(LINGER_MS);
    socket.end();
  };
  // The last head answered with the connection kept open: a client that sends the same
  // request again (a bot's retry loop) is answered without looking at its head again.
  let lastKept = '';
  const onData = (chunk: Buffer): void => {
    if (pending === '') headStarted = Date.now();
    else if (Date.now() - headStarted > behaviour.requestHeadersTimeout) {
      socket.destroy();
      return;
    }
    pending += chunk.toString('latin1');
    // Answers to requests that keep the connection open (all the same bytes), then at most
    // one that closes it.
    let keptAnswers = 0;
    let last = '';
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) {
        if (pending.length > maxHead) {
          last = answer(false, keepAliveSeconds);
          record(host, listener, conn, pending.slice(0, maxHead));
          pending = '';
          closing = true;
        }
        break;
      }
      if (host.draining || host.bans === null || !host.bans.has(conn.peer)) {
        // Unbanned (or shutting down) since the connection opened: this request is not refused;
        // the client sends it again on a new connection.
        pending = '';
        closing = true;
        break;
      }
      const head = pending.slice(0, end + 4);
      pending = pending.slice(end + 4);
      headStarted = Date.now();
      const keep = head === lastKept || (HTTP11.test(head) && !ENDS_CONNECTION.test(head));
      record(host, listener, conn, head);
      if (!keep) {
        last = answer(false, keepAliveSeconds);
        closing = true;
        break;
      }
      lastKept = head;
      keptAnswers++;
    }
    if (keptAnswers > 0) {
      const bytes = keepAliveAnswer(keepAliveSeconds);
      socket.write(keptAnswers === 1 ? bytes : Buffer.concat(new Array<Buffer>(keptAnswers).fill(bytes)));
    }
    if (last !== '') socket.write(last, 'latin1');
    if (closing) close();
  };
  socket.setNoDelay(true);
  socket.setTimeout(Math.max(behaviour.keepAliveTimeout, behaviour.requestHeadersTimeout));
  socket.on('timeout', () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', () => host.bannedSockets.delete(socket));
  socket.on('data', onData);
  if (host.draining) close();
}

const ANSWER = { status: 403, reason: REASON };

function record(host: BannedHost, listener: ListenerInfo, conn: Connection, rawHead: string): void {
  host.stats.rejected++;
  host.observer?.refused(listener.name, 403, true, conn.peer);
  const gen = host.generation;
  if (!gen.logs.takesRejected()) return;
  host.logRejected(gen, { address: conn.peer, port: conn.peerPort, localAddress: conn.local, localPort: conn.localPort }, rawHead, ANSWER);
}
