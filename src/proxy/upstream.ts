/**
 * @module proxy/upstream
 * An upstream server and its connection pool (undici Pool, keep-alive, per worker). A
 * reload that leaves an upstream's settings unchanged keeps its Upstream and so its open
 * connections; a changed one gets a new Upstream and the old pool is closed once the
 * requests still using it are done.
 */
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/types.js';
import { ProxyError } from './errors.js';

export class Upstream {
  readonly name: string;
  readonly origin: URL;
  readonly pool: Pool;
  readonly connectTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  /** The settings it was built from, to tell on reload whether it can be kept. */
  readonly fingerprint: string;

  /**
   * @example
   * const up = new Upstream({ name: 'app', url: 'http://127.0.0.1:3000', connections: 64,
   *   connectTimeout: 5000, headersTimeout: 60000, bodyTimeout: 60000, keepAliveTimeout: 4000 });
   */
  constructor(config: UpstreamConfig) {
    let origin: URL;
    try {
      origin = new URL(config.url);
    } catch {
      throw new ProxyError('WARDEN_PROXY_CONFIG', `upstream "${config.name}": "${config.url}" is not a URL`);
    }
    if (origin.protocol !== 'http:' && origin.protocol !== 'https:') {
      throw new ProxyError('WARDEN_PROXY_CONFIG', `upstream "${config.name}": only http:// and https:// upstreams are supported, not ${origin.protocol}`);
    }
    this.name = config.name;
    this.origin = origin;
    this.connectTimeout = config.connectTimeout;
    this.headersTimeout = config.headersTimeout;
    this.bodyTimeout = config.bodyTimeout;
    this.fingerprint = JSON.stringify(config);
    this.pool = new Pool(origin.origin, {
      connections: config.connections > 0 ? config.connections : null,
      // One request at a time per connection: pipelining would let one slow response hold
      // up the others behind it, and a stream body cannot be pipelined anyway.
      pipelining: 1,
      keepAliveTimeout: config.keepAliveTimeout,
      // Never keep a connection longer than we were told, whatever the upstream's
      // Keep-Alive header says.
      keepAliveMaxTimeout: config.keepAliveTimeout,
      headersTimeout: config.headersTimeout,
      bodyTimeout: config.bodyTimeout,
      connect: { timeout: config.connectTimeout },
      // Large upstream heads are the upstream's business; Node limits the client side.
      maxHeaderSize: 64 * 1024,
    });
  }

  /** host:port for a raw connection (WebSocket tunnels). */
  get port(): number {
    return this.origin.port === '' ? (this.origin.protocol === 'https:' ? 443 : 80) : Number(this.origin.port);
  }

  /** Closes the pool once the requests it is serving are done. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
