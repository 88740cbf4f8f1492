/**
 * @module test/proxy/support
 * What the proxy tests share: a config builder, logs kept in memory, a real upstream on
 * loopback (counting its connections), a proxy started in-process, and a raw TCP client
 * that sends exact bytes and returns exactly what came back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { RejectedRequest, ResponseSummary, WafLogs } from '../../src/audit/types.js';
import type { ListenerConfig, ProxyBehaviour, RouteConfig, RulesConfig, UpstreamConfig, WardenConfig } from '../../src/config/types.js';
import type { Transaction } from '../../src/engine/transaction.js';
import { Agent, request, type Dispatcher } from 'undici';
import { Waf } from '../../src/engine/waf.js';
import { ProxyServer } from '../../src/proxy/server.js';
import type { BanList } from '../../src/proxy/types.js';

export interface DoneRecord {
  readonly tx: Transaction;
  readonly response: ResponseSummary;
}

/** WafLogs that keep everything in arrays, with a way to wait for records. */
export class MemoryLogs implements WafLogs {
  readonly done: DoneRecord[] = [];
  readonly refused: RejectedRequest[] = [];
  readonly writeErrors = 0;
  closed = false;
  private waiters: Array<() => void> = [];

  transactionDone(tx: Transaction, response: ResponseSummary): void {
    this.done.push({ tx, response });
    this.wake();
  }

  rejected(request: RejectedRequest): void {
    this.refused.push(request);
    this.wake();
  }

  takesRejected(): boolean {
    return true;
  }

  async reopen(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `test()` holds (checked after every record), or rejects after 5 s. */
  async until(test: () => boolean, what = 'log records'): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

export function upstreamConfig(name: string, url: string, over: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return { name, url, connections: 16, connectTimeout: 2000, headersTimeout: 10000, bodyTimeout: 10000, keepAliveTimeout: 4000, ...over };
}

export function proxyBehaviour(over: Partial<ProxyBehaviour> = {}): ProxyBehaviour {
  return {
    trustedProxies: [],
    clientAddressHeader: 'x-forwarded-for',
    forwardedHeaders: 'x-forwarded',
    requestHeadersTimeout: 10000,
    requestTimeout: 30000,
    keepAliveTimeout: 5000,
    maxHeaderSize: 16384,
    errorPageHtml: null,
    errorPageJson: null,
    ...over,
  };
}

export function makeConfig(options: {
  upstreams: UpstreamConfig[];
  routes?: RouteConfig[];
  listeners?: ListenerConfig[];
  proxy?: Partial<ProxyBehaviour>;
}): WardenConfig {
  const routes = options.routes ?? [{ host: null, pathPrefix: '/', upstream: (options.upstreams[0] as UpstreamConfig).name }];
  return {
    file: null,
    listeners: options.listeners ?? [{ name: 'main', host: '127.0.0.1', port: 0, tls: null, routes }],
    upstreams: options.upstreams,
    proxy: proxyBehaviour(options.proxy),
    // crsSetup/plugins/before arrive with config/load; the assertion accepts either shape.
    rules: { files: [], crs: null, crsSetup: null, plugins: [], before: [], baseline: false, defaults: false, mode: null } as RulesConfig,
    logs: { error: null, audit: null, auditFormat: null, auditType: null, auditStorageDir: null, access: null, rotateBytes: 0 },
    dataDir: '/tmp',
    workers: 1,
    admin: { host: '127.0.0.1', port: 0, enabled: false, token: null, basicAuth: null, tls: null },
    jails: [],
    actions: [],
    bans: { answer: 'forbidden', filterDirs: [] },
    store: { type: 'sqlite', url: null, password: null, username: null, tls: null, prefix: 'warden:' },
  };
}

/** A real upstream on loopback; counts the TCP connections it accepted. */
export interface Upstream {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  connections: number;
  close(): Promise<void>;
}

export async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const server = createServer(handler);
  const up = { server, port: 0, url: '', connections: 0, close: () => closeServer(server) };
  server.on('connection', () => up.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.port = (server.address() as AddressInfo).port;
  up.url = `http://127.0.0.1:${up.port}`;
  return up;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** An upstream that answers with what it received, as JSON. */
export function echoHandler(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const text = JSON.stringify({ method: req.method, url: req.url, headers: req.rawHeaders, body: body.toString('latin1'), length: body.length });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}

export interface RunningProxy {
  readonly proxy: ProxyServer;
  readonly logs: MemoryLogs;
  readonly port: number;
  readonly url: string;
  readonly messages: string[];
  close(): Promise<void>;
}

export async function startProxy(config: WardenConfig, rules: string, options: { bans?: BanList } = {}): Promise<RunningProxy> {
  const logs = new MemoryLogs();
  const messages: string[] = [];
  const proxy = new ProxyServer(config, Waf.fromText(rules), { logs, bans: options.bans ?? null, log: (level, m) => messages.push(`${level}: ${m}`) });
  const [a] = await proxy.listen();
  const port = (a as { port: number }).port;
  return { proxy, logs, port, url: `http://127.0.0.1:${port}`, messages, close: () => proxy.close(1000) };
}

export interface RawResponse {
  /** Everything received, latin1. */
  readonly raw: string;
  readonly status: number;
  /** Headers of the first response, lowercased names. */
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** Sends exact bytes over TCP (or TLS) and collects everything until the server closes (or `idleMs` of silence). */
export function rawExchange(port: number, bytes: string | Buffer, options: { tls?: boolean; idleMs?: number; host?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const host = options.host ?? '127.0.0.1';
    const socket: Socket = options.tls === true ? tlsConnect({ host, port, rejectUnauthorized: false }) : connect(port, host);
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    socket.once(options.tls === true ? 'secureConnect' : 'connect', () => socket.write(data));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.setTimeout(options.idleMs ?? 3000, () => socket.destroy());
    socket.on('error', (err) => (chunks.length > 0 ? undefined : reject(err)));
    socket.on('close', () => resolve(parseRaw(Buffer.concat(chunks).toString('latin1'))));
  });
}

export function parseRaw(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c > 0) headers.set(line.slice(0, c).toLowerCase(), line.slice(c + 1).trim());
  }
  return { raw, status, headers, body: end < 0 ? '' : raw.slice(end + 4) };
}

export interface SimpleResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request through undici (a fresh connection unless `dispatcher` is given); body read as latin1. */
export async function send(
  url: string,
  options: { method?: string; headers?: Record<string, string> | string[]; body?: string | Buffer | AsyncIterable<Buffer> | null; dispatcher?: Dispatcher } = {},
): Promise<SimpleResponse> {
  const dispatcher = options.dispatcher ?? new Agent({ connections: 1, pipelining: 0 });
  try {
    const r = await request(url, {
      method: (options.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: options.headers,
      body: options.body as never,
      dispatcher,
    });
    const chunks: Buffer[] = [];
    for await (const c of r.body) chunks.push(c as Buffer);
    return { status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks).toString('latin1') };
  } finally {
    if (options.dispatcher === undefined) await dispatcher.close();
  }
}
