/**
 * @module test/conformance/ftw/albedo-server
 * CRS's test backend (albedo) as a real HTTP server on loopback, for the over-HTTP mode:
 * the upstream `warden start` proxies to, answering as albedo.ts decides (an empty 200 for
 * everything, `POST /reflect` with the status, headers and body its JSON asks for).
 *
 * Go's net/http serves CONNECT and Upgrade requests like any other; Node hands them to
 * `connect` and `upgrade` listeners with the socket, so those answer the same response as
 * raw bytes and close. The parser is lenient about sizes only: what reaches this server has
 * already passed Warden's strict front end and was re-framed by it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { albedo, type BackendResponse } from './albedo.js';

export interface AlbedoServer {
  readonly port: number;
  readonly url: string;
  /** Requests answered, for a run's sanity (the markers alone are two per stage). */
  readonly requests: () => number;
  close(): Promise<void>;
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Status'}\r\n`;
}

/** A response as bytes, for the sockets Node hands over (CONNECT, Upgrade). */
function responseBytes(r: BackendResponse): string {
  let head = statusLine(r.status);
  for (const [k, v] of r.headers) head += `${k}: ${v}\r\n`;
  return `${head}Connection: close\r\n\r\n${r.body}`;
}

/** Starts the backend on 127.0.0.1 (port 0: any free port). */
export async function startAlbedo(port = 0): Promise<AlbedoServer> {
  let requests = 0;
  const server: Server = createServer({ maxHeaderSize: 256 * 1024, requireHostHeader: false, keepAliveTimeout: 30_000 }, (req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = albedo(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('latin1'));
      for (const [k, v] of out.headers) {
        try {
          res.appendHeader(k, v);
        } catch {
          // A header Node refuses to send is dropped, as albedo drops invalid ones.
        }
      }
      try {
        res.writeHead(out.status);
      } catch {
        res.writeHead(500);
      }
      res.end(req.method === 'HEAD' ? undefined : Buffer.from(out.body, 'latin1'));
    });
  });
  const raw = (req: IncomingMessage, socket: Socket): void => {
    requests++;
    socket.on('error', () => {});
    socket.end(responseBytes(albedo(req.method ?? 'GET', req.url ?? '/', '')), 'latin1');
  };
  server.on('connect', raw);
  server.on('upgrade', raw);
  server.on('clientError', (_err, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
