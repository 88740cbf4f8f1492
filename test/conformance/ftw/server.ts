/**
 * @module test/conformance/ftw/server
 * Warden in process, as the CRS test setup runs ModSecurity in front of albedo: a real
 * node:http server on loopback whose handler builds the transaction from the request
 * (src/http/request-model, the client address being the socket peer), runs phases 1 and 2,
 * answers an interruption with Warden's error page, and otherwise plays the backend itself
 * so that phases 3 and 4 run on its response; phase 5 runs after the response is sent.
 * What the front end refuses is decided by the proxy's own code (src/proxy/front-end and
 * client-error): the same refusals, with the same statuses, after phases 1, 2 and 5 have
 * seen what can be read of the request. The error-log lines of each finished transaction
 * are appended to `errorLog`, where the runner reads them as go-ftw reads Apache's log.
 *
 * The in-process mode, for development: the over-HTTP mode (../crs-http.ts) runs the same
 * suite through `warden start` itself.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Interruption, Transaction, Waf } from '../../../src/engine/index.js';
import { canonicalAddress } from '../../../src/http/client-address.js';
import { sendInterruption } from '../../../src/http/error-page.js';
import { beginTransaction, type ClientInfo } from '../../../src/http/request-model.js';
import { albedo, type BackendResponse } from './albedo.js';
import { errorLogLines } from './error-log.js';
import { clientErrorAnswer, clientErrorResponse, type ParserError } from '../../../src/proxy/client-error.js';
import { admit, inspectRefused, readHead, refusedTransaction, type Refusal, type RequestHead } from '../../../src/proxy/front-end.js';

export interface InProcessServer {
  readonly port: number;
  /** Error-log lines, in the order transactions finished. */
  readonly errorLog: string[];
  /** Harness faults (a handler that threw): each is a bug to fix, never a test result. */
  readonly faults: string[];
  /** Resolves when no request is being handled and every connection is closed. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

function clientOf(socket: Socket): ClientInfo {
  return {
    address: canonicalAddress(socket.remoteAddress ?? ''),
    port: socket.remotePort ?? 0,
    localAddress: canonicalAddress(socket.localAddress ?? ''),
    localPort: socket.localPort ?? 0,
  };
}

/** Reads the whole request body; a client that goes away ends it where it stopped. */
async function readBody(req: IncomingMessage, onChunk: (chunk: Buffer) => void): Promise<void> {
  try {
    for await (const chunk of req) onChunk(chunk as Buffer);
  } catch {
    // Aborted: the rules see what arrived, as v2 in DetectionOnly goes on after a read error.
  }
}

/** The proxy's answer to a request its front end refuses (src/proxy/exchange `reject`). */
function refusalBytes(r: Refusal): string {
  const body = `${r.status} ${r.reason}\n`;
  return `HTTP/1.1 ${r.status} Refused\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
}

/** The raw bytes of a response, for CONNECT, where Node leaves the socket to the handler. */
function responseBytes(r: BackendResponse): string {
  let head = `HTTP/1.1 ${r.status} ${r.status === 200 ? 'OK' : 'Status'}\r\n`;
  for (const [k, v] of r.headers) head += `${k}: ${v}\r\n`;
  return `${head}Connection: close\r\n\r\n${r.body}`;
}

/** How long `settle` waits for the last request and connection to finish. */
const SETTLE_LIMIT_MS = 10_000;

/** Starts the server on 127.0.0.1, port 0. */
export async function startServer(waf: Waf): Promise<InProcessServer> {
  const errorLog: string[] = [];
  const faults: string[] = [];
  let active = 0;
  let sockets = 0;
  let waiters: Array<() => void> = [];
  const wake = (): void => {
    if (active > 0 || sockets > 0) return;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  /** The response in progress on each socket, so that an error on a later request waits for it. */
  const inFlight = new WeakMap<Socket, Promise<void>>();

  const track = (what: string, work: () => Promise<void>): Promise<void> => {
    active++;
    return work()
      .catch((err: Error) => void faults.push(`${what}: ${err.stack ?? err.message}`))
      .finally(() => {
        active--;
        wake();
      });
  };

  async function finish(tx: Transaction): Promise<void> {
    await tx.processLogging();
    errorLog.push(...errorLogLines(tx));
  }

  /** Phases 1 and 2 (without a body) and 5 for a request the front end refuses. */
  async function inspect(tx: Transaction): Promise<void> {
    await inspectRefused(tx);
    errorLog.push(...errorLogLines(tx));
  }

  /** Phases 1–4 around the backend; resolves with what to send (an interruption or the backend's answer). */
  async function exchange(tx: Transaction, req: IncomingMessage): Promise<Interruption | BackendResponse> {
    let it = await tx.processRequestHeaders();
    if (it !== null) {
      req.resume();
      return it;
    }
    const body: Buffer[] = [];
    await readBody(req, (chunk) => {
      body.push(chunk);
      tx.appendRequestBody(chunk);
    });
    it = await tx.processRequestBody();
    if (it !== null) return it;
    const backend = albedo(req.method ?? 'GET', req.url ?? '/', Buffer.concat(body).toString('latin1'));
    tx.setResponseStatus(backend.status, `HTTP/${req.httpVersion}`);
    for (const [k, v] of backend.headers) tx.addResponseHeader(k, v);
    it = await tx.processResponseHeaders();
    if (it !== null) return it;
    tx.appendResponseBody(backend.body);
    it = await tx.processResponseBody();
    return it ?? backend;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tx = beginTransaction(waf, req, clientOf(req.socket));
    const where = admit(req);
    if ('status' in where) {
      const body = `${where.status} ${where.reason}\n`;
      res.shouldKeepAlive = false;
      res.writeHead(where.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, Connection: 'close' });
      res.end(body);
      req.resume();
      await inspect(tx);
      return;
    }
    const out = await exchange(tx, req);
    if ('action' in out) sendInterruption(res, out, tx.id, req.headers.accept);
    else {
      for (const [k, v] of out.headers) {
        try {
          res.appendHeader(k, v);
        } catch {
          // A header Node refuses to send is dropped, as albedo drops invalid ones.
        }
      }
      res.writeHead(out.status);
      res.end(Buffer.from(out.body, 'latin1'));
    }
    await finish(tx);
  }

  /** CONNECT: Node hands over the socket; the backend answers it like any request. */
  async function handleConnect(req: IncomingMessage, socket: Socket): Promise<void> {
    const tx = beginTransaction(waf, req, clientOf(socket));
    const where = admit(req);
    if ('status' in where) {
      socket.end(refusalBytes(where), 'latin1');
      await inspect(tx);
      return;
    }
    const out = await exchange(tx, req);
    if ('action' in out) socket.end(`HTTP/1.1 ${out.status} Blocked\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    else socket.end(responseBytes(out), 'latin1');
    await finish(tx);
  }

  /** Node's parser refused the request: the proxy's answer, after the rules have seen what can be read. */
  async function handleClientError(err: ParserError, socket: Socket): Promise<void> {
    const answer = clientErrorAnswer(err) ?? { status: 400, reason: err.message };
    const previous = inFlight.get(socket);
    if (previous !== undefined) {
      // A request came before this one on the connection (pipelined, or a body its length
      // did not cover): it is answered first, then what followed is refused. Where the
      // refused request starts in the packet is unknown, so no transaction is made of it.
      await previous;
      if (socket.writable) socket.end(clientErrorResponse(answer).bytes);
      return;
    }
    const raw = err.rawPacket;
    const head: RequestHead | null = raw !== undefined && socket.bytesRead === raw.length ? readHead(raw.toString('latin1')) : null;
    if (socket.writable) socket.end(clientErrorResponse(answer, head?.protocol === 'HTTP/0.9').bytes);
    else socket.destroy();
    if (head === null) return;
    await inspect(refusedTransaction(waf, head, clientOf(socket)));
  }

  const server: Server = createServer((req, res) => {
    const done = track(`${req.method ?? ''} ${req.url ?? ''}`, async () => {
      try {
        await handle(req, res);
      } finally {
        if (!res.headersSent) res.writeHead(500).end();
      }
    });
    inFlight.set(req.socket, done);
  });
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => {});
    void track(`CONNECT ${req.url ?? ''}`, () => handleConnect(req, socket));
  });
  server.on('connection', (socket: Socket) => {
    sockets++;
    socket.on('close', () => {
      sockets--;
      wake();
    });
  });
  server.on('clientError', (err: ParserError, socket: Socket) => {
    void track(`clientError ${err.code ?? ''}`, () => handleClientError(err, socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    errorLog,
    faults,
    settle: () =>
      new Promise<void>((resolve) => {
        // A connection that never closes is a harness bug: report it and go on, never hang.
        const timer = setTimeout(() => {
          faults.push(`still busy after ${SETTLE_LIMIT_MS} ms (${active} requests, ${sockets} connections)`);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }, SETTLE_LIMIT_MS);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push(done);
        wake();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
