/**
 * @module test/conformance/ftw/server
 * Warden in process, as the CRS test setup runs ModSecurity in front of albedo: a real
 * node:http server on loopback whose handler builds the transaction from the request
 * (src/http/request-model), runs phases 1 and 2, answers an interruption with Warden's
 * error page, and otherwise plays the backend itself so that phases 3 and 4 run on its
 * response; phase 5 runs after the response is sent. The error-log lines of each finished
 * transaction are appended to `errorLog`, where the runner reads them as go-ftw reads
 * Apache's error log.
 *
 * A temporary harness for the in-process mode; the proxy (src/proxy) replaces it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Interruption, Waf } from '../../../src/engine/index.js';
import { canonicalAddress } from '../../../src/http/client-address.js';
import { sendInterruption } from '../../../src/http/error-page.js';
import { beginTransaction, type ClientInfo } from '../../../src/http/request-model.js';
import { albedo } from './albedo.js';
import { errorLogLines } from './error-log.js';

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

function send(res: ServerResponse, status: number, headers: ReadonlyArray<readonly [string, string]>, body: string): void {
  for (const [k, v] of headers) {
    try {
      res.appendHeader(k, v);
    } catch {
      // A header Node refuses to send is dropped, as albedo drops invalid ones.
    }
  }
  res.writeHead(status);
  res.end(Buffer.from(body, 'latin1'));
}

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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = clientOf(req.socket);
    const tx = beginTransaction(waf, req, client);
    const accept = req.headers.accept;
    let it: Interruption | null = await tx.processRequestHeaders();
    const body: Buffer[] = [];
    if (it === null) {
      await readBody(req, (chunk) => {
        body.push(chunk);
        tx.appendRequestBody(chunk);
      });
      it = await tx.processRequestBody();
    } else req.resume();
    if (it !== null) sendInterruption(res, it, tx.id, accept);
    else {
      const backend = albedo(req.method ?? 'GET', req.url ?? '/', Buffer.concat(body).toString('latin1'));
      tx.setResponseStatus(backend.status, `HTTP/${req.httpVersion}`);
      for (const [k, v] of backend.headers) tx.addResponseHeader(k, v);
      it = await tx.processResponseHeaders();
      if (it === null) {
        tx.appendResponseBody(backend.body);
        it = await tx.processResponseBody();
      }
      if (it !== null) sendInterruption(res, it, tx.id, accept);
      else send(res, backend.status, backend.headers, backend.body);
    }
    await tx.processLogging();
    errorLog.push(...errorLogLines(tx, `${client.address}:${client.port}`));
  }

  const server: Server = createServer((req, res) => {
    active++;
    handle(req, res)
      .catch((err: Error) => {
        faults.push(`${req.method ?? ''} ${req.url ?? ''}: ${err.stack ?? err.message}`);
        if (!res.headersSent) res.writeHead(500).end();
      })
      .finally(() => {
        active--;
        wake();
      });
  });
  server.on('connection', (socket: Socket) => {
    sockets++;
    socket.on('close', () => {
      sockets--;
      wake();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Node's parser refused the request: it never becomes a transaction.
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
    void err;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    errorLog,
    faults,
    settle: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        wake();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
