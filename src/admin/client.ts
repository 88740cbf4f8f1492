/**
 * @module admin/client
 * The client side of the admin API, for `warden status` and `warden munin`: one GET with
 * the credentials the listener wants, answered as JSON, and every failure said in words an
 * admin can act on (nothing listens there, credentials missing or wrong, a TLS problem).
 */
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';

/** Where the admin listener is and how to log in. */
export interface AdminTarget {
  /** `http://127.0.0.1:9180/` (ends with a slash). */
  readonly url: string;
  readonly token: string | null;
  readonly basicAuth: { readonly user: string; readonly password: string } | null;
  /** A CA (or the listener's self-signed certificate) to trust for https, PEM file. */
  readonly ca: string | null;
  /** Milliseconds per request. */
  readonly timeout: number;
}

/** The admin API could not be asked: what went wrong, for the person at the terminal. */
export class AdminClientError extends Error {
  readonly code = 'WARDEN_ADMIN_CLIENT';
  /** The HTTP status, or 0 when there was no answer. */
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AdminClientError';
    this.status = status;
  }
}

export interface AdminClient {
  get<T>(path: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * A client for one admin listener.
 *
 * @example
 * const admin = adminClient({ url: 'http://127.0.0.1:9180/', token: 't', basicAuth: null, ca: null, timeout: 5000 });
 * const status = await admin.get<{ totals: { requests: number } }>('api/status');
 */
export function adminClient(target: AdminTarget): AdminClient {
  let base: URL;
  try {
    base = new URL(target.url);
  } catch {
    throw new AdminClientError(0, `${target.url} is not a URL (like http://127.0.0.1:9180/)`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new AdminClientError(0, `${target.url}: the admin listener speaks http or https`);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  let ca: Buffer | undefined;
  if (target.ca !== null) {
    try {
      ca = readFileSync(target.ca);
    } catch (err) {
      throw new AdminClientError(0, `cannot read the CA file ${target.ca}: ${(err as Error).message}`, { cause: err });
    }
  }
  const dispatcher: Dispatcher = new Agent({ connect: { timeout: target.timeout, ...(ca !== undefined ? { ca } : {}) }, headersTimeout: target.timeout, bodyTimeout: target.timeout });
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token !== null) headers.authorization = `Bearer ${target.token}`;
  else if (target.basicAuth !== null) headers.authorization = `Basic ${Buffer.from(`${target.basicAuth.user}:${target.basicAuth.password}`).toString('base64')}`;
  const where = base.href;
  return {
    async get<T>(path: string): Promise<T> {
      const url = new URL(path, base);
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { dispatcher, headers });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (code === 'ECONNREFUSED') throw new AdminClientError(0, `nothing listens at ${where} (is warden start running, with admin: in its warden.yaml?)`, { cause: err });
        if (code.startsWith('UND_ERR_') && code.includes('TIMEOUT')) throw new AdminClientError(0, `${where} did not answer within ${target.timeout} ms`, { cause: err });
        if (/certificate|self.signed|SSL|TLS/i.test(`${code} ${(err as Error).message}`)) throw new AdminClientError(0, `${where}: TLS: ${(err as Error).message} (--ca FILE names a CA or the listener's certificate to trust)`, { cause: err });
        throw new AdminClientError(0, `${where}: ${(err as Error).message}`, { cause: err });
      }
      const text = await res.body.text();
      if (res.statusCode === 401) throw new AdminClientError(401, `${where} wants credentials${target.token !== null || target.basicAuth !== null ? ', and refused the ones given' : ''}: --token TOKEN, WARDEN_ADMIN_TOKEN or --config FILE (its admin.token or admin.basicAuth)`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new AdminClientError(res.statusCode, `${url.href} answered ${res.statusCode} with something that is not JSON: is this Warden's admin listener?`);
      }
      if (res.statusCode !== 200) {
        const reason = typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : text.trim();
        throw new AdminClientError(res.statusCode, `${url.href}: ${res.statusCode} ${reason}`);
      }
      return body as T;
    },
    close: () => dispatcher.close(),
  };
}
