/**
 * @module test/support/recorded-client
 * Sends a recorded request (http/recorded: a HAR entry or an audit record) over a real
 * connection, bytes as recorded, from a chosen loopback source address — how the story and
 * replay tests play a corpus through squid and Warden. A body can be sent as chunks
 * (Transfer-Encoding: chunked), the way the pingback bots send theirs.
 */
import { request as httpRequest } from 'node:http';
import type { RecordedRequest } from '../../src/http/recorded.js';

export interface SentResponse {
  readonly status: number;
  readonly body: string;
}

/** Headers a client library sets itself (framing, connection), left to node:http. */
const FRAMING = new Set(['connection', 'keep-alive', 'content-length', 'transfer-encoding', 'proxy-connection']);

export interface SendOptions {
  /** Source address (127.0.0.0/8 on loopback). */
  readonly localAddress?: string;
  /** Extra headers, after the recorded ones. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** Send the body chunked, in these pieces (the recorded body is ignored). */
  readonly chunks?: readonly string[];
  /** Give up after this many ms (resolves with status 0). */
  readonly timeoutMs?: number;
}

/**
 * @example
 * const r = await sendRecorded(squidPort, entry, { localAddress: '127.0.2.7' });
 * r.status; // 200
 */
export function sendRecorded(port: number, req: RecordedRequest, options: SendOptions = {}): Promise<SentResponse> {
  const headers: Record<string, string | string[]> = {};
  const add = (k: string, v: string): void => {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  };
  for (const [k, v] of req.headers) if (!FRAMING.has(k.toLowerCase())) add(k, v);
  for (const [k, v] of options.headers ?? []) add(k, v);
  const chunked = options.chunks !== undefined || req.headers.some(([k]) => k.toLowerCase() === 'transfer-encoding');
  if (chunked) headers['Transfer-Encoding'] = 'chunked';
  else if (req.body !== '' || req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') headers['Content-Length'] = String(req.body.length);
  headers.Connection = 'close';
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: '127.0.0.1', port, method: req.method, path: req.target, headers, setHost: false, localAddress: options.localAddress, timeout: options.timeoutMs ?? 20_000 },
      (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => {
      r.destroy();
      resolve({ status: 0, body: '' });
    });
    r.on('error', reject);
    if (options.chunks !== undefined) for (const c of options.chunks) r.write(Buffer.from(c, 'latin1'));
    else if (req.body !== '') r.write(Buffer.from(req.body, 'latin1'));
    r.end();
  });
}
