/**
 * @module config/load
 * warden.yaml → WardenConfig. The YAML keys are the field names of config/types; anything
 * left out takes its default (config/defaults). Every problem in the file is reported at
 * once, each as `warden.yaml:12: upstreams[0].url must be an http:// or https:// URL`;
 * unknown keys are errors with the nearest known key suggested.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, ConfigLoadError } from './errors.js';
import { draftJail, draftListener, draftUpstream, emptyDraft, finalizeConfig, type Draft, type DraftListener, type DraftUpstream, type Mutable } from './resolve.js';
import type { ActionConfig, BanTimeIncrementConfig, JailConfig, RouteConfig, StoreTlsConfig, TlsConfig, WafConditionConfig, WardenConfig } from './types.js';
import {
  bindHost,
  isInvalid,
  pathPrefix,
  redisUrl,
  routeHost,
  trustedProxy,
  upstreamUrl,
  type Invalid,
} from './values.js';
import {
  isNull,
  readBoolean,
  readDuration,
  readInteger,
  readList,
  readMap,
  readNamedMap,
  readNumber,
  readOneOf,
  readPath,
  readSize,
  readString,
  report,
  type Field,
  type ReadContext,
} from './yaml-reader.js';

const TOP_KEYS = ['listeners', 'upstreams', 'proxy', 'rules', 'logs', 'dataDir', 'workers', 'admin', 'jails', 'actions', 'bans', 'store'] as const;
const JAIL_KEYS = [
  'enabled', 'source', 'when', 'files', 'fromStart', 'filter', 'filterOptions', 'journalMatch', 'fromJails',
  'maxRetry', 'findTime', 'banTime', 'banTimeIncrement', 'ignoreIp', 'ignoreSelf', 'ipv6Prefix', 'actions',
] as const;
const WHEN_KEYS = ['blocked', 'ruleIds', 'tags', 'status', 'minScore', 'bodyError'] as const;
const INCREMENT_KEYS = ['enabled', 'factor', 'multipliers', 'maxTime', 'overallJails', 'rndTime'] as const;
const ACTION_KEYS = ['type', 'ports', 'verdict', 'url', 'headers', 'start', 'stop', 'ban', 'unban', 'file', 'options'] as const;
const BANS_KEYS = ['answer', 'filterDirs'] as const;
const STORE_KEYS = ['type', 'url', 'password', 'username', 'tls', 'prefix'] as const;
const STORE_TLS_KEYS = ['ca', 'cert', 'key', 'serverName'] as const;
const LISTENER_KEYS = ['name', 'host', 'port', 'tls', 'routes'] as const;
const ROUTE_KEYS = ['host', 'pathPrefix', 'upstream'] as const;
const TLS_KEYS = ['cert', 'key'] as const;
const UPSTREAM_KEYS = ['name', 'url', 'connections', 'connectTimeout', 'headersTimeout', 'bodyTimeout', 'keepAliveTimeout'] as const;
const PROXY_KEYS = [
  'trustedProxies',
  'clientAddressHeader',
  'forwardedHeaders',
  'requestHeadersTimeout',
  'requestTimeout',
  'keepAliveTimeout',
  'maxHeaderSize',
  'errorPageHtml',
  'errorPageJson',
] as const;
const RULES_KEYS = ['files', 'crs', 'crsSetup', 'plugins', 'before', 'baseline', 'defaults', 'mode'] as const;
const LOGS_KEYS = ['error', 'audit', 'auditFormat', 'auditType', 'auditStorageDir', 'access', 'rotateBytes'] as const;
const ADMIN_KEYS = ['enabled', 'host', 'port', 'token', 'basicAuth', 'tls'] as const;
const BASIC_AUTH_KEYS = ['user', 'password'] as const;

/** Applies a value check, reporting its reason at the field. */
function checked<T>(ctx: ReadContext, field: Field, value: T | Invalid | undefined): T | undefined {
  if (value === undefined) return undefined;
  if (isInvalid(value)) return report(ctx, field.line, field.path, value.error);
  return value;
}

/** Runs `read` for a key that is present and not null; `set` receives its value. */
function each<T>(fields: Map<string, Field>, key: string, read: (f: Field) => T | undefined, set: (v: T) => void): void {
  const f = fields.get(key);
  if (f === undefined || isNull(f)) return;
  const v = read(f);
  if (v !== undefined) set(v);
}

/** A setting that may be written `null`/`~` to turn it off: `set(null)` then. */
function nullable<T>(fields: Map<string, Field>, key: string, read: (f: Field) => T | undefined, set: (v: T | null) => void): void {
  const f = fields.get(key);
  if (f === undefined) return;
  if (isNull(f)) {
    set(null);
    return;
  }
  const v = read(f);
  if (v !== undefined) set(v);
}

function readTls(ctx: ReadContext, field: Field): TlsConfig | null | undefined {
  if (isNull(field)) return null;
  const m = readMap(ctx, field, TLS_KEYS);
  if (m === null) return undefined;
  const cert = m.get('cert');
  const key = m.get('key');
  if (cert === undefined || key === undefined) {
    return report(ctx, field.line, field.path, 'must give both cert and key (PEM files)');
  }
  const c = readPath(ctx, cert, 'a PEM certificate file');
  const k = readPath(ctx, key, 'a PEM private key file');
  return c === undefined || k === undefined ? undefined : { cert: c, key: k };
}

/** A string setting put through one of config/values' checks. */
function readChecked<T>(ctx: ReadContext, field: Field, what: string, check: (s: string) => T | Invalid): T | undefined {
  const s = readString(ctx, field, what);
  return s === undefined ? undefined : checked(ctx, field, check(s));
}

function readRoute(ctx: ReadContext, field: Field): RouteConfig | undefined {
  const m = readMap(ctx, field, ROUTE_KEYS);
  if (m === null) return undefined;
  const before = ctx.errors.length;
  const up = m.get('upstream');
  if (up === undefined) return report(ctx, field.line, field.path, 'must name its upstream (upstream: NAME)');
  const upstream = readString(ctx, up, 'the name of an upstream');
  let host: string | null = null;
  let prefix = '/';
  nullable(m, 'host', (f) => readChecked(ctx, f, 'a host name', routeHost), (v) => (host = v));
  each(m, 'pathPrefix', (f) => readChecked(ctx, f, 'a path starting with /', pathPrefix), (v) => (prefix = v));
  return ctx.errors.length === before && upstream !== undefined ? { host, pathPrefix: prefix, upstream } : undefined;
}

function readListener(ctx: ReadContext, field: Field): DraftListener | undefined {
  const m = readMap(ctx, field, LISTENER_KEYS);
  if (m === null) return undefined;
  const l = draftListener();
  each(m, 'name', (f) => readString(ctx, f, 'a name'), (v) => (l.name = v));
  each(m, 'host', (f) => readChecked(ctx, f, 'an address to listen on', bindHost), (v) => (l.host = v));
  each(m, 'port', (f) => readInteger(ctx, f, 0, 65535, 'a port number from 0 to 65535'), (v) => (l.port = v));
  const tls = m.get('tls');
  if (tls !== undefined) {
    const t = readTls(ctx, tls);
    if (t !== undefined) l.tls = t;
  }
  const routes = m.get('routes');
  if (routes !== undefined && !isNull(routes)) {
    const items = readList(ctx, routes, 'routes ({ host, pathPrefix, upstream })');
    if (items !== null) {
      l.routes = [];
      for (const item of items) {
        const r = readRoute(ctx, item);
        if (r !== undefined) l.routes.push(r);
      }
    }
  }
  return l;
}

function readUpstream(ctx: ReadContext, field: Field): DraftUpstream | undefined {
  const m = readMap(ctx, field, UPSTREAM_KEYS);
  if (m === null) return undefined;
  const urlField = m.get('url');
  if (urlField === undefined) return report(ctx, field.line, field.path, 'must give its url (url: http://127.0.0.1:3000)');
  const url = readChecked(ctx, urlField, 'an http:// or https:// URL', upstreamUrl);
  const u = draftUpstream(url ?? '');
  each(m, 'name', (f) => readString(ctx, f, 'a name'), (v) => (u.name = v));
  each(m, 'connections', (f) => readInteger(ctx, f, 1, 100_000), (v) => (u.connections = v));
  each(m, 'connectTimeout', (f) => readDuration(ctx, f), (v) => (u.connectTimeout = v));
  each(m, 'headersTimeout', (f) => readDuration(ctx, f), (v) => (u.headersTimeout = v));
  each(m, 'bodyTimeout', (f) => readDuration(ctx, f), (v) => (u.bodyTimeout = v));
  each(m, 'keepAliveTimeout', (f) => readDuration(ctx, f), (v) => (u.keepAliveTimeout = v));
  return u;
}

function readTemplate(ctx: ReadContext, field: Field): string | undefined {
  const path = readPath(ctx, field, 'a template file');
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message;
    return report(ctx, field.line, field.path, `names ${path}, which cannot be read (${why})`);
  }
}

function readProxy(ctx: ReadContext, field: Field, d: Draft): void {
  const m = readMap(ctx, field, PROXY_KEYS);
  if (m === null) return;
  const tp = m.get('trustedProxies');
  if (tp !== undefined) {
    const items = readList(ctx, tp, 'addresses and CIDR blocks') ?? [];
    d.proxy.trustedProxies = [];
    for (const item of items) {
      const v = readChecked(ctx, item, 'an IP address or CIDR block', trustedProxy);
      if (v !== undefined) d.proxy.trustedProxies.push(...v);
    }
  }
  each(m, 'clientAddressHeader', (f) => readOneOf(ctx, f, ['x-forwarded-for', 'forwarded'] as const), (v) => (d.proxy.clientAddressHeader = v));
  each(m, 'forwardedHeaders', (f) => readOneOf(ctx, f, ['x-forwarded', 'forwarded', 'both'] as const), (v) => (d.proxy.forwardedHeaders = v));
  each(m, 'requestHeadersTimeout', (f) => readDuration(ctx, f), (v) => (d.proxy.requestHeadersTimeout = v));
  each(m, 'requestTimeout', (f) => readDuration(ctx, f), (v) => (d.proxy.requestTimeout = v));
  each(m, 'keepAliveTimeout', (f) => readDuration(ctx, f), (v) => (d.proxy.keepAliveTimeout = v));
  each(m, 'maxHeaderSize', (f) => {
    const n = readSize(ctx, f);
    return n !== undefined && (n < 1024 || n > 1024 * 1024) ? report(ctx, f.line, f.path, 'must be from 1KiB to 1MiB') : n;
  }, (v) => (d.proxy.maxHeaderSize = v));
  nullable(m, 'errorPageHtml', (f) => readTemplate(ctx, f), (v) => (d.proxy.errorPageHtml = v));
  nullable(m, 'errorPageJson', (f) => readTemplate(ctx, f), (v) => (d.proxy.errorPageJson = v));
}

function readPaths(ctx: ReadContext, field: Field, what: string): string[] | undefined {
  const items = readList(ctx, field, what);
  if (items === null) return undefined;
  const out: string[] = [];
  for (const item of items) {
    const p = readPath(ctx, item, 'a file path');
    if (p !== undefined) out.push(p);
  }
  return out;
}

/** rules.defaults: true, false or auto. */
function readDefaults(ctx: ReadContext, field: Field): boolean | 'auto' | undefined {
  const v = field.node !== null && 'value' in field.node ? field.node.value : undefined;
  if (typeof v === 'boolean' || v === 'auto') return v;
  return report(ctx, field.line, field.path, 'must be auto (Warden\'s default rules only when no crs and no files are configured), true or false');
}

function readRules(ctx: ReadContext, field: Field, d: Draft): void {
  const m = readMap(ctx, field, RULES_KEYS);
  if (m === null) return;
  each(m, 'files', (f) => readPaths(ctx, f, 'SecLang files (globs allowed)'), (v) => (d.rules.files = v));
  each(m, 'before', (f) => readPaths(ctx, f, 'SecLang files (globs allowed)'), (v) => (d.rules.before = v));
  each(m, 'plugins', (f) => readPaths(ctx, f, 'CRS plugin directories'), (v) => (d.rules.plugins = v));
  nullable(m, 'crs', (f) => readPath(ctx, f, 'the path of a CRS directory'), (v) => (d.rules.crs = v));
  nullable(m, 'crsSetup', (f) => readPath(ctx, f, 'the path of a CRS setup file'), (v) => (d.rules.crsSetup = v));
  each(m, 'baseline', (f) => readBoolean(ctx, f), (v) => (d.rules.baseline = v));
  each(m, 'defaults', (f) => readDefaults(ctx, f), (v) => (d.rules.defaults = v));
  nullable(m, 'mode', (f) => readOneOf(ctx, f, ['on', 'detection', 'off'] as const), (v) => (d.rules.mode = v));
}

function readLogs(ctx: ReadContext, field: Field, d: Draft): void {
  const m = readMap(ctx, field, LOGS_KEYS);
  if (m === null) return;
  const path = (f: Field): string | undefined => readPath(ctx, f, 'a file path, - for the standard stream, or null for none');
  nullable(m, 'error', path, (v) => (d.logs.error = v));
  nullable(m, 'audit', path, (v) => (d.logs.audit = v));
  nullable(m, 'access', path, (v) => (d.logs.access = v));
  nullable(m, 'auditStorageDir', (f) => readPath(ctx, f, 'a directory path'), (v) => (d.logs.auditStorageDir = v));
  nullable(m, 'auditFormat', (f) => readOneOf(ctx, f, ['native', 'json'] as const), (v) => (d.logs.auditFormat = v));
  nullable(m, 'auditType', (f) => readOneOf(ctx, f, ['serial', 'concurrent'] as const), (v) => (d.logs.auditType = v));
  each(m, 'rotateBytes', (f) => readSize(ctx, f), (v) => (d.logs.rotateBytes = v));
}

function readAdmin(ctx: ReadContext, field: Field, d: Draft): void {
  // `admin: null` (or no admin key) keeps it off; a map turns it on unless `enabled: false`.
  if (isNull(field)) return;
  const m = readMap(ctx, field, ADMIN_KEYS);
  if (m === null) return;
  d.admin.enabled = true;
  each(m, 'enabled', (f) => readBoolean(ctx, f), (v) => (d.admin.enabled = v));
  each(m, 'host', (f) => readChecked(ctx, f, 'an address to listen on', bindHost), (v) => (d.admin.host = v));
  each(m, 'port', (f) => readInteger(ctx, f, 0, 65535, 'a port number from 0 to 65535'), (v) => (d.admin.port = v));
  nullable(m, 'token', (f) => {
    const t = readString(ctx, f, 'a string (quote it)');
    return t !== undefined && t.length < 16 ? report(ctx, f.line, f.path, 'must be at least 16 characters (a long random string: openssl rand -hex 24)') : t;
  }, (v) => (d.admin.token = v));
  nullable(m, 'basicAuth', (f) => {
    const b = readMap(ctx, f, BASIC_AUTH_KEYS);
    if (b === null) return undefined;
    const user = b.get('user');
    const password = b.get('password');
    if (user === undefined || password === undefined) return report(ctx, f.line, f.path, 'must give both user and password');
    const u = readString(ctx, user, 'a user name');
    const p = readString(ctx, password, 'a password (quote it)');
    if (u !== undefined && u.includes(':')) return report(ctx, user.line, user.path, 'must not contain ":" (HTTP Basic authentication splits on it)');
    return u === undefined || p === undefined ? undefined : { user: u, password: p };
  }, (v) => (d.admin.basicAuth = v));
  const tls = m.get('tls');
  if (tls !== undefined) {
    const t = readTls(ctx, tls);
    if (t !== undefined) d.admin.tls = t;
  }
}

/** A list of strings (a single string counts). */
function readStrings(ctx: ReadContext, field: Field, what: string): string[] | undefined {
  const items = readList(ctx, field, what);
  if (items === null) return undefined;
  const out: string[] = [];
  for (const item of items) {
    const v = readString(ctx, item, what);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** A list of whole numbers within bounds. */
function readIntegers(ctx: ReadContext, field: Field, min: number, max: number, what: string): number[] | undefined {
  const items = readList(ctx, field, what);
  if (items === null) return undefined;
  const out: number[] = [];
  for (const item of items) {
    const v = readInteger(ctx, item, min, max, what);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** Name → text pairs (filter options, webhook headers, action tag values). */
function readStringMap(ctx: ReadContext, field: Field, what: string): Record<string, string> | undefined {
  const m = readNamedMap(ctx, field, what);
  if (m === null) return undefined;
  const out: Record<string, string> = {};
  for (const [k, f] of m) {
    const v = f.node !== null && 'value' in f.node && (typeof f.node.value === 'number' || typeof f.node.value === 'boolean') ? String(f.node.value) : readString(ctx, f, 'a value');
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A ban time: a duration (10m, 1h, 1d, 1w), or -1 / forever for bans that never end. */
function readBanTime(ctx: ReadContext, field: Field): number | undefined {
  const v = field.node !== null && 'value' in field.node ? field.node.value : undefined;
  if (v === -1 || v === '-1' || v === 'forever') return -1;
  const ms = readDuration(ctx, field);
  return ms === undefined ? undefined : ms === 0 ? report(ctx, field.line, field.path, 'must be longer than 0 (use -1 or forever for bans that never end)') : ms;
}

function readWhen(ctx: ReadContext, field: Field): WafConditionConfig | undefined {
  const m = readMap(ctx, field, WHEN_KEYS);
  if (m === null) return undefined;
  const w: { -readonly [K in keyof WafConditionConfig]: WafConditionConfig[K] } = {};
  each(m, 'blocked', (f) => readBoolean(ctx, f), (v) => (w.blocked = v));
  each(m, 'bodyError', (f) => readBoolean(ctx, f), (v) => (w.bodyError = v));
  each(m, 'ruleIds', (f) => readIntegers(ctx, f, 1, 4294967295, 'rule ids'), (v) => (w.ruleIds = v));
  each(m, 'status', (f) => readIntegers(ctx, f, 100, 599, 'HTTP status codes'), (v) => (w.status = v));
  each(m, 'tags', (f) => readStrings(ctx, f, 'rule tags (attack-* matches a prefix)'), (v) => (w.tags = v));
  each(m, 'minScore', (f) => readInteger(ctx, f, 0, 100000, 'an anomaly score'), (v) => (w.minScore = v));
  return w;
}

function readIncrement(ctx: ReadContext, field: Field, base: BanTimeIncrementConfig): BanTimeIncrementConfig | undefined {
  const m = readMap(ctx, field, INCREMENT_KEYS);
  if (m === null) return undefined;
  // Writing the section turns increments on unless it says enabled: false.
  const inc: Mutable<BanTimeIncrementConfig> = { ...base, enabled: true };
  each(m, 'enabled', (f) => readBoolean(ctx, f), (v) => (inc.enabled = v));
  each(m, 'factor', (f) => readNumber(ctx, f, 0.001, 1000, 'a number (the formula is banTime × 2^count × factor)'), (v) => (inc.factor = v));
  nullable(m, 'multipliers', (f) => {
    const items = readList(ctx, f, 'numbers (banTime × multipliers[count])');
    if (items === null) return undefined;
    const out: number[] = [];
    for (const item of items) {
      const n = readNumber(ctx, item, 0.001, 1e9, 'a positive number');
      if (n !== undefined) out.push(n);
    }
    return out.length > 0 ? out : report(ctx, f.line, f.path, 'must list at least one multiplier');
  }, (v) => (inc.multipliers = v));
  each(m, 'maxTime', (f) => readDuration(ctx, f), (v) => (inc.maxTime = v));
  each(m, 'overallJails', (f) => readBoolean(ctx, f), (v) => (inc.overallJails = v));
  each(m, 'rndTime', (f) => readDuration(ctx, f), (v) => (inc.rndTime = v));
  return inc;
}

function readJail(ctx: ReadContext, name: string, field: Field): JailConfig | undefined {
  const m = readMap(ctx, field, JAIL_KEYS);
  if (m === null) return undefined;
  const before = ctx.errors.length;
  const j = draftJail(name);
  each(m, 'enabled', (f) => readBoolean(ctx, f), (v) => (j.enabled = v));
  each(m, 'source', (f) => readOneOf(ctx, f, ['waf', 'file', 'journal', 'bans'] as const), (v) => (j.source = v));
  each(m, 'when', (f) => readWhen(ctx, f), (v) => (j.when = v));
  each(m, 'files', (f) => readPaths(ctx, f, 'log files (globs allowed)'), (v) => (j.files = v));
  each(m, 'fromStart', (f) => readBoolean(ctx, f), (v) => (j.fromStart = v));
  nullable(m, 'filter', (f) => readString(ctx, f, 'a filter name (sshd, warden-squid) or a filter file'), (v) => (j.filter = v));
  each(m, 'filterOptions', (f) => readStringMap(ctx, f, 'filter parameters (mode: aggressive)'), (v) => (j.filterOptions = v));
  nullable(m, 'journalMatch', (f) => readString(ctx, f, 'journal matches (_SYSTEMD_UNIT=ssh.service)'), (v) => (j.journalMatch = v));
  each(m, 'fromJails', (f) => readStrings(ctx, f, 'jail names'), (v) => (j.fromJails = v));
  each(m, 'maxRetry', (f) => readInteger(ctx, f, 1, 1_000_000, 'a number of failures of at least 1'), (v) => (j.maxRetry = v));
  each(m, 'findTime', (f) => readDuration(ctx, f), (v) => (j.findTime = v));
  each(m, 'banTime', (f) => readBanTime(ctx, f), (v) => (j.banTime = v));
  each(m, 'banTimeIncrement', (f) => readIncrement(ctx, f, j.banTimeIncrement), (v) => (j.banTimeIncrement = v));
  each(m, 'ignoreIp', (f) => readStrings(ctx, f, 'addresses, CIDR blocks or host names'), (v) => (j.ignoreIp = v));
  each(m, 'ignoreSelf', (f) => readBoolean(ctx, f), (v) => (j.ignoreSelf = v));
  each(m, 'ipv6Prefix', (f) => readInteger(ctx, f, 1, 128, 'a prefix length from 1 to 128'), (v) => (j.ipv6Prefix = v));
  each(m, 'actions', (f) => readStrings(ctx, f, 'action names'), (v) => (j.actions = v));
  if (j.findTime === 0) report(ctx, field.line, `${field.path}.findTime`, 'must be longer than 0');
  return ctx.errors.length === before ? j : undefined;
}

function readJails(ctx: ReadContext, field: Field): JailConfig[] {
  const m = readNamedMap(ctx, field, 'jails (name: settings)');
  const out: JailConfig[] = [];
  for (const [name, f] of m ?? []) {
    const j = readJail(ctx, name, f);
    if (j !== undefined) out.push(j);
  }
  return out;
}

function readActions(ctx: ReadContext, field: Field): ActionConfig[] | undefined {
  const m = readNamedMap(ctx, field, 'actions (name: settings)');
  if (m === null) return undefined;
  const out: ActionConfig[] = [];
  for (const [name, f] of m) {
    const a = readMap(ctx, f, ACTION_KEYS);
    if (a === null) continue;
    const typeField = a.get('type');
    if (typeField === undefined) {
      report(ctx, f.line, f.path, 'must say its type (nftables, ipset, webhook, command or fail2ban)');
      continue;
    }
    const type = readOneOf(ctx, typeField, ['nftables', 'ipset', 'webhook', 'command', 'fail2ban'] as const);
    if (type === undefined) continue;
    const action: Mutable<ActionConfig> = { name, type, ports: [], verdict: 'drop', url: null, headers: {}, start: null, stop: null, ban: null, unban: null, file: null, options: {} };
    each(a, 'ports', (p) => readIntegers(ctx, p, 1, 65535, 'port numbers'), (v) => (action.ports = v));
    each(a, 'verdict', (p) => readOneOf(ctx, p, ['drop', 'reject'] as const), (v) => (action.verdict = v));
    nullable(a, 'url', (p) => {
      const u = readString(ctx, p, 'an http:// or https:// URL');
      return u !== undefined && !/^https?:\/\/[^/]/.test(u) ? report(ctx, p.line, p.path, 'must be an http:// or https:// URL') : u;
    }, (v) => (action.url = v));
    each(a, 'headers', (p) => readStringMap(ctx, p, 'HTTP headers (authorization: …)'), (v) => (action.headers = v));
    for (const key of ['start', 'stop', 'ban', 'unban'] as const) nullable(a, key, (p) => readString(ctx, p, 'a shell command'), (v) => (action[key] = v));
    nullable(a, 'file', (p) => readPath(ctx, p, 'an action.d/*.conf file'), (v) => (action.file = v));
    each(a, 'options', (p) => readStringMap(ctx, p, 'values for the action\'s tags (port: http)'), (v) => (action.options = v));
    out.push(action);
  }
  return out;
}

function readBans(ctx: ReadContext, field: Field, d: Draft): void {
  const m = readMap(ctx, field, BANS_KEYS);
  if (m === null) return;
  each(m, 'answer', (f) => readOneOf(ctx, f, ['forbidden', 'close'] as const), (v) => (d.bans.answer = v));
  each(m, 'filterDirs', (f) => readPaths(ctx, f, 'directories of fail2ban filters'), (v) => (d.bans.filterDirs = v));
}

/** store.tls: true (the system's CAs), false/null (none), or { ca, cert, key, serverName }. */
function readStoreTls(ctx: ReadContext, field: Field): StoreTlsConfig | null | undefined {
  const v = field.node !== null && 'value' in field.node ? field.node.value : undefined;
  if (v === true) return { ca: null, cert: null, key: null, serverName: null };
  if (v === false) return null;
  const m = readMap(ctx, field, STORE_TLS_KEYS);
  if (m === null) return undefined;
  const tls: Mutable<StoreTlsConfig> = { ca: null, cert: null, key: null, serverName: null };
  nullable(m, 'ca', (f) => readPath(ctx, f, 'a PEM CA certificate file'), (p) => (tls.ca = p));
  nullable(m, 'cert', (f) => readPath(ctx, f, 'a PEM client certificate file'), (p) => (tls.cert = p));
  nullable(m, 'key', (f) => readPath(ctx, f, 'a PEM client key file'), (p) => (tls.key = p));
  nullable(m, 'serverName', (f) => readString(ctx, f, 'a host name'), (s) => (tls.serverName = s));
  if ((tls.cert === null) !== (tls.key === null)) return report(ctx, field.line, field.path, 'must give both cert and key (a client certificate), or neither');
  return tls;
}

function readStore(ctx: ReadContext, field: Field, d: Draft): void {
  const m = readMap(ctx, field, STORE_KEYS);
  if (m === null) return;
  each(m, 'type', (f) => readOneOf(ctx, f, ['sqlite', 'redis'] as const), (v) => (d.store.type = v));
  nullable(m, 'url', (f) => readChecked(ctx, f, 'a redis:// or rediss:// URL', redisUrl), (v) => (d.store.url = v));
  nullable(m, 'password', (f) => readString(ctx, f, 'a password (quote it)'), (v) => (d.store.password = v));
  nullable(m, 'username', (f) => readString(ctx, f, 'a Redis user name'), (v) => (d.store.username = v));
  const tls = m.get('tls');
  if (tls !== undefined) {
    const t = isNull(tls) ? null : readStoreTls(ctx, tls);
    if (t !== undefined) d.store.tls = t;
  }
  each(m, 'prefix', (f) => readString(ctx, f, 'a key prefix (warden:)'), (v) => (d.store.prefix = v));
}

/**
 * Reads warden.yaml text into a draft (defaults where the file says nothing). `file` is how
 * errors name the file; relative paths resolve against `baseDir`.
 */
export function readConfigText(text: string, file: string, baseDir: string): { draft: Draft; errors: ConfigError[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const draft = emptyDraft(baseDir, file);
  const ctx: ReadContext = { file, doc, lineCounter, baseDir, errors: [], lines: draft.lines };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const line = lineCounter.linePos(e.pos[0]).line;
      // yaml's messages end with "at line N, column M" only when prettyErrors is on.
      ctx.errors.push(new ConfigError(file, line, '', `YAML syntax: ${e.message}`));
    }
    return { draft, errors: ctx.errors };
  }
  const top = readMap(ctx, { node: doc.contents, line: 1, path: '' }, TOP_KEYS);
  if (top === null) return { draft, errors: ctx.errors };

  const listeners = top.get('listeners');
  if (listeners !== undefined) {
    for (const item of readList(ctx, listeners, 'listeners ({ host, port, tls, routes })') ?? []) {
      const l = readListener(ctx, item);
      if (l !== undefined) draft.listeners.push(l);
    }
  }
  const upstreams = top.get('upstreams');
  if (upstreams !== undefined) {
    for (const item of readList(ctx, upstreams, 'upstreams ({ name, url })') ?? []) {
      const u = readUpstream(ctx, item);
      if (u !== undefined) draft.upstreams.push(u);
    }
  }
  const section = (key: string): Field => top.get(key) ?? { node: null, line: 1, path: key };
  readProxy(ctx, section('proxy'), draft);
  readRules(ctx, section('rules'), draft);
  readLogs(ctx, section('logs'), draft);
  readAdmin(ctx, section('admin'), draft);
  each(top, 'dataDir', (f) => readPath(ctx, f, 'a directory path'), (v) => (draft.dataDir = v));
  const jails = top.get('jails');
  if (jails !== undefined) draft.jails = readJails(ctx, jails);
  each(top, 'actions', (f) => readActions(ctx, f), (v) => (draft.actions = v));
  readBans(ctx, section('bans'), draft);
  readStore(ctx, section('store'), draft);
  each(top, 'workers', (f) => {
    if (f.node !== null && 'value' in f.node && f.node.value === 'auto') return 0;
    return readInteger(ctx, f, 0, 1024, 'a number of worker processes from 0 to 1024, or auto (one per core)');
  }, (v) => (draft.workers = v));
  // Sections are read in a fixed order; a user reads the file top to bottom (sort is stable).
  return { draft, errors: ctx.errors.sort((a, b) => a.line - b.line) };
}

/**
 * Reads a config file into a draft; a file that cannot be read is one error naming it.
 * `shownAs` is how errors name the file (the path as the user wrote it).
 */
export function readConfigFile(path: string, shownAs = path, cwd = process.cwd()): { draft: Draft; errors: ConfigError[] } {
  const abs = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    return { draft: emptyDraft(dirname(abs), shownAs), errors: [new ConfigError(null, 0, '', `cannot read config file ${shownAs}: ${why}`)] };
  }
  return readConfigText(text, shownAs, dirname(abs));
}

/**
 * Loads warden.yaml with no flags on top. Throws ConfigLoadError listing every problem.
 *
 * @example
 * const config = loadConfigFile('/etc/warden/warden.yaml');
 * config.upstreams[0].url; // 'http://127.0.0.1:3000'
 */
export function loadConfigFile(path: string): WardenConfig {
  const { draft, errors } = readConfigFile(path);
  if (errors.length > 0) throw new ConfigLoadError(errors);
  const r = finalizeConfig(draft);
  if ('errors' in r) throw new ConfigLoadError(r.errors);
  return r.config;
}
