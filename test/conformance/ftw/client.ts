/**
 * @module test/conformance/ftw/client
 * go-ftw's HTTP client (ftwhttp.Connection): a new TCP connection per request, the bytes
 * written as they are, then Go's http.ReadResponse on what comes back — the status line
 * and headers must arrive within the read timeout, the body is not waited for. A
 * connection closed or timed out before a whole response head is an error, which a test
 * may expect (`expect_error`).
 */
import { connect } from 'node:net';

export interface ClientResponse {
  readonly status: number;
  /** The bytes received (latin1): the head and whatever body came with it. */
  readonly raw: string;
  /** The connection's local port: the `[client 127.0.0.1:PORT]` of the WAF's log lines for it. */
  readonly localPort: number;
}

export class ClientError extends Error {
  constructor(
    message: string,
    /** The connection's local port, 0 when it never connected. */
    readonly localPort = 0,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/**
 * The read timeout of `go-ftw run` (its --read-timeout default, 10 s; the library's own
 * default is 1 s). No test of the suite waits for a timeout, so this only bounds a hang,
 * and a loaded machine does not turn a slow answer into a failure.
 */
export const READ_TIMEOUT_MS = 10_000;

/** Parses a status line as Go's http.ReadResponse accepts it: `HTTP/x.y NNN reason`. */
function statusOf(head: string, localPort: number): number {
  const line = head.slice(0, head.indexOf('\r\n') >= 0 ? head.indexOf('\r\n') : head.indexOf('\n'));
  const m = /^HTTP\/\d+\.\d+ (\d{3})(?: |$)/.exec(line);
  if (m === null) throw new ClientError(`malformed HTTP response "${line}"`, localPort);
  return Number(m[1]);
}

/**
 * Sends `bytes` to host:port and resolves with the response head, or rejects with a
 * ClientError (connection refused or reset, closed early, timed out).
 */
export function sendRaw(host: string, port: number, bytes: string, timeoutMs = READ_TIMEOUT_MS): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let localPort = 0;
    let received = '';
    let settled = false;
    const finish = (result: ClientResponse | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(new ClientError(`read timeout after ${timeoutMs} ms`, localPort)), timeoutMs);
    socket.on('connect', () => {
      localPort = socket.localPort ?? 0;
      socket.write(Buffer.from(bytes, 'latin1'));
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      try {
        finish({ status: statusOf(received, localPort), raw: received, localPort });
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.on('error', (err) => {
      if (!settled) finish(new ClientError(err.message, localPort));
    });
    socket.on('close', () => {
      if (!settled) finish(new ClientError(received === '' ? 'EOF: connection closed without a response' : 'unexpected EOF in response head', localPort));
    });
  });
}
