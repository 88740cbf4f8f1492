/**
 * @module admin/server
 * The admin listener of the primary process: the dashboard (`/`, static assets served by
 * Warden itself, uPlot from node_modules — no CDN, works offline), Prometheus metrics
 * (`/metrics`) and a JSON API:
 *
 *   GET    /api/status                     version, uptime, workers, rules, totals since start,
 *                                          the store's health (null: SQLite in the data directory)
 *   GET    /api/jails                      each jail: failures, bans, lines read and matched
 *   GET    /api/bans                       bans in force
 *   POST   /api/bans                       {address, jail?, seconds?, reason?}: ban by hand
 *   DELETE /api/bans/ADDRESS[?jail=J]      lift a ban (in every jail, or in J)
 *   GET    /api/events[?limit=N&all=1]     recent blocks, newest first (all=1: also matches
 *                                          that did not block, as in DetectionOnly)
 *   GET    /api/transactions/ID            a recent transaction explained rule by rule
 *   GET    /api/series?range=hour|day|week the graphs: counts per bucket
 *   GET    /api/top?range=…&limit=N        top rules, clients and paths
 *
 * Every path needs credentials (admin/auth). Changes (POST, DELETE) also need a request a
 * browser does not send across sites on its own: POST only with a JSON body, and an Origin,
 * when sent, naming this listener — so a page elsewhere cannot lift a ban through the
 * admin's logged-in browser.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/types.js';
import type { BanManager } from '../jail/ban-manager.js';
import type { BanRecord } from '../jail/types.js';
import { adminAuth, type AuthMode } from './auth.js';
import type { RecentEvents } from './events.js';
import { RANGES, type History, type RangeName } from './history.js';
import type { AdminMetrics, SourceCounts } from './metrics.js';

/** A request the API cannot answer as asked: its status and the reason, for the JSON answer. */
export class AdminError extends Error {
  readonly code = 'WARDEN_ADMIN';
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AdminError';
    this.status = status;
  }
}

/** What the admin listener reads; cli wires it (the ban engine, the metrics, the workers). */
export interface AdminContext {
  readonly manager: BanManager;
  readonly metrics: AdminMetrics;
  readonly history: History;
  readonly events: RecentEvents;
  /** Lines read and matched per jail source. */
  readonly sources?: () => readonly SourceCounts[];
  /** Facts about the running Warden (version, workers, rules, listeners …). */
  readonly status: () => Record<string, unknown>;
  /** A recent transaction explained (asked of the workers), or null when none keeps it. */
  readonly explain: (id: string) => Promise<unknown | null>;
}

export interface AdminServer {
  /** `http://127.0.0.1:9180/` */
  readonly url: string;
  readonly auth: AuthMode;
  close(): Promise<void>;
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  /** The body gzipped once at start (uPlot: 51 KB, 22 KB gzipped). */
  readonly gzipped: Buffer;
}

const require = createRequire(import.meta.url);
/** The dashboard's files: the same place from src/admin and dist/admin. */
const DASHBOARD = new URL('../../src/admin/dashboard/', import.meta.url);

function loadAssets(): Map<string, Asset> {
  const file = (type: string, url: URL | string): Asset => {
    const body = readFileSync(url);
    return { type, body, gzipped: gzipSync(body, { level: 9 }) };
  };
  const html = file('text/html; charset=utf-8', new URL('index.html', DASHBOARD));
  return new Map<string, Asset>([
    ['/', html],
    ['/index.html', html],
    ['/assets/dashboard.js', file('text/javascript; charset=utf-8', new URL('dashboard.js', DASHBOARD))],
    ['/assets/dashboard.css', file('text/css; charset=utf-8', new URL('dashboard.css', DASHBOARD))],
    ['/assets/uplot.js', file('text/javascript; charset=utf-8', require.resolve('uplot/dist/uPlot.iife.min.js'))],
    ['/assets/uplot.css', file('text/css; charset=utf-8', require.resolve('uplot/dist/uPlot.min.css'))],
  ]);
}

/** True when the request accepts gzip (q=0 refuses it). */
function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

const COMMON_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

// uPlot sets styles through the CSSOM, which style-src does not restrict; nothing is inline.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...extra });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}

function banView(b: BanRecord): Record<string, unknown> {
  return {
    jail: b.jail,
    address: b.key,
    since: new Date(b.since).toISOString(),
    until: b.until === 0 ? null : new Date(b.until).toISOString(),
    sinceMs: b.since,
    untilMs: b.until === 0 ? null : b.until,
    count: b.count,
    reason: b.reason,
  };
}

function rangeOf(url: URL): RangeName {
  const r = url.searchParams.get('range') ?? 'hour';
  if (!(r in RANGES)) throw new AdminError(400, `range must be one of ${Object.keys(RANGES).join(', ')}`);
  return r as RangeName;
}

function limitOf(url: URL, fallback: number, max: number): number {
  const text = url.searchParams.get('limit');
  if (text === null) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new AdminError(400, 'limit must be a positive integer');
  return Math.min(n, max);
}

/** Reads a small JSON body (16 KiB at most). */
async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  // A JSON content type is not one a cross-site form can send: this is part of the CSRF defence.
  if (type !== 'application/json') throw new AdminError(415, 'send a JSON body (Content-Type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 16 * 1024) throw new AdminError(413, 'request body too large');
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new AdminError(400, `the body is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AdminError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

function jailsView(ctx: AdminContext): unknown[] {
  const lines = new Map((ctx.sources?.() ?? []).map((s) => [s.jail, s]));
  return ctx.manager.status().map((s) => {
    const src = lines.get(s.name);
    return {
      jail: s.name,
      enabled: s.settings.enabled,
      source: src?.source ?? null,
      failures: s.failures,
      watched: s.watched,
      banned: s.banned,
      maxRetry: s.settings.maxRetry,
      findTimeSeconds: s.settings.findTime / 1000,
      banTimeSeconds: s.settings.banTime < 0 ? null : s.settings.banTime / 1000,
      linesRead: src?.read ?? null,
      linesMatched: src?.matched ?? null,
    };
  });
}

async function ban(ctx: AdminContext, body: Record<string, unknown>): Promise<unknown> {
  const { address, jail, seconds, reason } = body;
  if (typeof address !== 'string' || address === '') throw new AdminError(400, 'address (a string) is required');
  if (jail !== undefined && typeof jail !== 'string') throw new AdminError(400, 'jail must be a string');
  if (seconds !== undefined && (typeof seconds !== 'number' || !Number.isFinite(seconds))) throw new AdminError(400, 'seconds must be a number (negative: for ever)');
  if (reason !== undefined && typeof reason !== 'string') throw new AdminError(400, 'reason must be a string');
  const options: { jail?: string; duration?: number; reason?: string } = { reason: reason ?? 'banned from the admin API' };
  if (jail !== undefined) options.jail = jail;
  if (seconds !== undefined) options.duration = seconds < 0 ? -1 : seconds * 1000;
  try {
    return banView(await ctx.manager.ban(address, options));
  } catch (err) {
    // The ban manager refuses an unknown jail or a value that is not an address (JailError).
    throw new AdminError(400, (err as Error).message, { cause: err });
  }
}

async function unban(ctx: AdminContext, key: string, jail: string | null): Promise<unknown> {
  const jails = jail !== null ? [jail] : ctx.manager.status().map((s) => s.name);
  let n = 0;
  for (const j of jails) {
    try {
      if (await ctx.manager.unban(j, key)) n++;
    } catch (err) {
      throw new AdminError(400, (err as Error).message, { cause: err });
    }
  }
  if (n === 0) throw new AdminError(404, `${key} is not banned${jail !== null ? ` in ${jail}` : ''}`);
  return { unbanned: n };
}

/** Refuses a change whose Origin is another site (a browser sends Origin on cross-site POST and DELETE). */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new AdminError(403, `Origin ${origin} is not this listener`);
  }
  if (host !== req.headers.host) throw new AdminError(403, `Origin ${origin} is not this listener`);
}

async function api(req: IncomingMessage, res: ServerResponse, url: URL, ctx: AdminContext): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  if (path.startsWith('/api/bans/') && method === 'DELETE') {
    checkOrigin(req);
    return json(res, 200, await unban(ctx, decodeURIComponent(path.slice('/api/bans/'.length)), url.searchParams.get('jail')));
  }
  if (path === '/api/bans' && method === 'POST') {
    checkOrigin(req);
    return json(res, 201, await ban(ctx, await jsonBody(req)));
  }
  if (method !== 'GET' && method !== 'HEAD') throw new AdminError(405, `${method} ${path} is not an admin request`);
  switch (path) {
    case '/api/status':
      return json(res, 200, { ...ctx.status(), totals: ctx.metrics.totals, bansActive: ctx.manager.activeBans().length, events: ctx.events.total, store: ctx.manager.storeHealth() });
    case '/api/jails':
      return json(res, 200, jailsView(ctx));
    case '/api/bans':
      return json(res, 200, ctx.manager.activeBans().map(banView));
    case '/api/events':
      return json(res, 200, ctx.events.list(limitOf(url, 100, 500), url.searchParams.get('all') === '1'));
    case '/api/series':
      return json(res, 200, await ctx.history.series(rangeOf(url)));
    case '/api/top':
      return json(res, 200, await ctx.history.top(rangeOf(url), limitOf(url, 10, 100)));
  }
  if (path.startsWith('/api/transactions/')) {
    const id = decodeURIComponent(path.slice('/api/transactions/'.length));
    if (!/^[A-Za-z0-9@_-]{1,64}$/.test(id)) throw new AdminError(400, 'not a transaction id');
    const found = await ctx.explain(id);
    if (found === null) throw new AdminError(404, `transaction ${id} is not among the recent ones any worker keeps`);
    if (typeof found === 'object' && 'error' in found) throw new AdminError(500, `explaining ${id} failed: ${String(found.error)}`);
    return json(res, 200, found);
  }
  throw new AdminError(404, `no admin resource ${path}`);
}

/**
 * Starts the admin listener; resolves once it listens. Throws AdminError when the TLS files
 * cannot be read or the address cannot be bound.
 *
 * @example
 * const admin = await startAdminServer(config.admin, { manager, metrics, history, events, status, explain });
 * console.log(`dashboard on ${admin.url}`);
 */
export async function startAdminServer(config: AdminConfig, ctx: AdminContext): Promise<AdminServer> {
  const auth = adminAuth(config);
  const assets = loadAssets();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const verdict = auth.check(req);
    if (!verdict.ok) {
      const extra: Record<string, string> = verdict.status === 401 ? { 'WWW-Authenticate': 'Basic realm="Warden admin", charset="UTF-8"' } : {};
      send(res, verdict.status, 'application/json; charset=utf-8', `${JSON.stringify({ error: verdict.reason })}\n`, extra);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const asset = assets.get(url.pathname);
    if (asset !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
      const extra: Record<string, string> = { Vary: 'Accept-Encoding', ...(asset.type.startsWith('text/html') ? { 'Content-Security-Policy': CSP } : {}) };
      if (acceptsGzip(req)) send(res, 200, asset.type, asset.gzipped, { ...extra, 'Content-Encoding': 'gzip' });
      else send(res, 200, asset.type, asset.body, extra);
      return;
    }
    if (url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      ctx.metrics.text().then(
        (text) => send(res, 200, ctx.metrics.contentType, text),
        (err: unknown) => json(res, 500, { error: `metrics: ${(err as Error).message}` }),
      );
      return;
    }
    api(req, res, url, ctx).catch((err: unknown) => {
      const status = err instanceof AdminError ? err.status : 500;
      if (!res.headersSent) json(res, status, { error: (err as Error).message });
      else res.destroy();
    });
  };
  let server: Server;
  if (config.tls !== null) {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(config.tls.cert);
      key = readFileSync(config.tls.key);
    } catch (err) {
      throw new AdminError(0, `admin.tls: cannot read the TLS files: ${(err as Error).message}`, { cause: err });
    }
    try {
      server = createHttpsServer({ cert, key, minVersion: 'TLSv1.2' }, handler);
    } catch (err) {
      throw new AdminError(0, `admin.tls: ${config.tls.cert} and ${config.tls.key} do not make a TLS context: ${(err as Error).message}`, { cause: err });
    }
  } else server = createHttpServer(handler);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new AdminError(0, `admin listener ${config.host}:${config.port}: ${err.code === 'EADDRINUSE' ? 'the address is in use' : err.message}`, { cause: err })));
    server.listen(config.port, config.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const host = a.address.includes(':') ? `[${a.address}]` : a.address;
  return {
    url: `${config.tls !== null ? 'https' : 'http'}://${host}:${a.port}/`,
    auth: auth.mode,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
