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
}

export class ClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientError';
  }
}

/** go-ftw's default read timeout. */
export const READ_TIMEOUT_MS = 1000;

/** Parses a status line as Go's http.ReadResponse accepts it: `HTTP/x.y NNN reason`. */
function statusOf(head: string): number {
  const line = head.slice(0, head.indexOf('\r\n') >= 0 ? head.indexOf('\r\n') : head.indexOf('\n'));
  const m = /^HTTP\/\d+\.\d+ (\d{3})(?: |$)/.exec(line);
  if (m === null) throw new ClientError(`malformed HTTP response "${line}"`);
  return Number(m[1]);
}

/**
 * Sends `bytes` to host:port and resolves with the response head, or rejects with a
 * ClientError (connection refused or reset, closed early, timed out).
 */
export function sendRaw(host: string, port: number, bytes: string, timeoutMs = READ_TIMEOUT_MS): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
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
    const timer = setTimeout(() => finish(new ClientError(`read timeout after ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => {
      socket.write(Buffer.from(bytes, 'latin1'));
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      try {
        finish({ status: statusOf(received), raw: received });
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.on('error', (err) => {
      if (!settled) finish(new ClientError(err.message));
    });
    socket.on('close', () => {
      if (!settled) finish(new ClientError(received === '' ? 'EOF: connection closed without a response' : 'unexpected EOF in response head'));
    });
  });
}
