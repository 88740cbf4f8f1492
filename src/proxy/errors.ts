/**
 * @module proxy/errors
 * The proxy's one errors module: every failure it reports carries a stable `code` (for
 * logs, metrics and tests) and, where a client gets an answer, the HTTP status. Upstream
 * failures from undici are classified here once, so the request path only asks
 * `upstreamFailure(err)`.
 */

export type ProxyErrorCode =
  /** The upstream refused or reset the connection, or answered something that is not HTTP. */
  | 'WARDEN_UPSTREAM_UNAVAILABLE'
  /** Connecting, or waiting for the response head, took longer than configured. */
  | 'WARDEN_UPSTREAM_TIMEOUT'
  /** The upstream stopped sending in the middle of a response body. */
  | 'WARDEN_UPSTREAM_BODY'
  /** The request cannot be expressed towards the upstream (undici refused it). */
  | 'WARDEN_REQUEST_UNFORWARDABLE'
  /** A listener could not be opened (address in use, permission). */
  | 'WARDEN_LISTEN'
  /** A TLS certificate or key could not be read or does not fit. */
  | 'WARDEN_TLS'
  /** The config names something that does not exist (route to an unknown upstream). */
  | 'WARDEN_PROXY_CONFIG'
  /** A worker could not load the rules or the config it was given. */
  | 'WARDEN_WORKER_LOAD';

export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  constructor(
    readonly code: ProxyErrorCode,
    message: string,
    /** The status a client receives for it, when one does. */
    readonly status: number = 502,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What a failed upstream exchange means for the client. */
export interface UpstreamFailure {
  readonly code: ProxyErrorCode;
  /** 502 (unavailable, broken) or 504 (too slow); 400 when the request itself could not be sent. */
  readonly status: number;
  /** For the log: what happened, in words. */
  readonly reason: string;
}

// undici's own codes (lib/core/errors.js) and the system errors of a failed connect.
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const UNFORWARDABLE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH']);

/**
 * Classifies an error undici reported for an upstream request.
 *
 * @example
 * upstreamFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }));
 * // { code: 'WARDEN_UPSTREAM_UNAVAILABLE', status: 502, reason: 'connect ECONNREFUSED 127.0.0.1:9' }
 */
export function upstreamFailure(err: unknown): UpstreamFailure {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const reason = code !== '' && !message.includes(code) ? `${message} (${code})` : message;
  if (TIMEOUTS.has(code)) return { code: 'WARDEN_UPSTREAM_TIMEOUT', status: 504, reason };
  if (UNFORWARDABLE.has(code)) return { code: 'WARDEN_REQUEST_UNFORWARDABLE', status: 400, reason };
  return { code: 'WARDEN_UPSTREAM_UNAVAILABLE', status: 502, reason };
}
