/**
 * @module config/resolve
 * The config while it is being put together (file, then flags and environment on top) and
 * the last step that turns it into a WardenConfig: names and routes filled in, references
 * between sections checked (a route's upstream exists, ports do not collide, the admin
 * listener is not open to the network without auth, CRS and TLS files exist). Problems name
 * the line of the file or the flag the value came from.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_DEFAULTS,
  BANS_DEFAULTS,
  DATA_DIR_DEFAULT,
  DEFAULT_WAF_JAIL,
  INCREMENT_DEFAULTS,
  JAIL_DEFAULTS,
  ERROR_LOG_DEFAULT,
  LISTENER_DEFAULTS,
  PROXY_DEFAULTS,
  STORE_DEFAULTS,
  UPSTREAM_DEFAULTS,
} from './defaults.js';
import { ConfigError } from './errors.js';
import type {
  ActionConfig,
  AdminConfig,
  BansConfig,
  JailConfig,
  ListenerConfig,
  LogsConfig,
  ProxyBehaviour,
  RouteConfig,
  RulesConfig,
  StoreConfig,
  TlsConfig,
  UpstreamConfig,
  WardenConfig,
} from './types.js';
import { absolutePath, suggest } from './yaml-reader.js';
import { isLoopbackHost } from './values.js';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface DraftListener {
  name: string | null;
  host: string;
  port: number;
  tls: TlsConfig | null;
  /** Null: not given (one route to the only upstream). */
  routes: RouteConfig[] | null;
}

export interface DraftUpstream extends Omit<Mutable<UpstreamConfig>, 'name'> {
  name: string | null;
}

/** A config being assembled: every section present, lists and names still open. */
export interface Draft {
  file: string | null;
  /** Relative paths resolve here (the config file's directory, or the working directory). */
  baseDir: string;
  listeners: DraftListener[];
  upstreams: DraftUpstream[];
  proxy: Mutable<ProxyBehaviour> & { trustedProxies: string[] };
  rules: Mutable<RulesConfig>;
  logs: Mutable<LogsConfig>;
  dataDir: string;
  workers: number;
  admin: Mutable<AdminConfig>;
  /** Null: not given in the file (the default waf jail). */
  jails: JailConfig[] | null;
  actions: ActionConfig[];
  bans: Mutable<BansConfig> & { filterDirs: string[] };
  store: Mutable<StoreConfig>;
  /** Line of each setting read from the file (path → line). */
  lines: Map<string, number>;
  /** Settings a flag or the environment set (path → `--flag`), so errors name the flag. */
  origins: Map<string, string>;
}

/** A draft with every default (no listener or upstream yet: those depend on the others). */
export function emptyDraft(baseDir: string, file: string | null = null): Draft {
  return {
    file,
    baseDir,
    listeners: [],
    upstreams: [],
    proxy: {
      trustedProxies: [],
      clientAddressHeader: PROXY_DEFAULTS.clientAddressHeader,
      forwardedHeaders: PROXY_DEFAULTS.forwardedHeaders,
      requestHeadersTimeout: PROXY_DEFAULTS.requestHeadersTimeout,
      requestTimeout: PROXY_DEFAULTS.requestTimeout,
      keepAliveTimeout: PROXY_DEFAULTS.keepAliveTimeout,
      maxHeaderSize: PROXY_DEFAULTS.maxHeaderSize,
      errorPageHtml: null,
      errorPageJson: null,
    },
    rules: { files: [], crs: null, crsSetup: null, plugins: [], before: [], baseline: true, defaults: 'auto', mode: null },
    logs: {
      error: ERROR_LOG_DEFAULT,
      audit: null,
      auditFormat: null,
      auditType: null,
      auditStorageDir: null,
      access: null,
      rotateBytes: 0,
    },
    dataDir: absolutePath(baseDir, DATA_DIR_DEFAULT),
    workers: 0,
    admin: { host: ADMIN_DEFAULTS.host, port: ADMIN_DEFAULTS.port, enabled: false, token: null, basicAuth: null, tls: null },
    jails: null,
    actions: [],
    bans: { answer: BANS_DEFAULTS.answer, filterDirs: [...BANS_DEFAULTS.filterDirs] },
    store: { type: STORE_DEFAULTS.type, url: null, password: null, username: null, tls: null, prefix: STORE_DEFAULTS.prefix },
    lines: new Map(),
    origins: new Map(),
  };
}

/** An upstream with defaults for everything but its URL. */
export function draftUpstream(url: string): DraftUpstream {
  return { name: null, url, ...UPSTREAM_DEFAULTS };
}

/** A listener on the default address with no routes yet. */
export function draftListener(): DraftListener {
  return { name: null, host: LISTENER_DEFAULTS.host, port: LISTENER_DEFAULTS.port, tls: null, routes: null };
}

/** `a.b[2].c` → `a.b[2]` → `a.b` → `a` → null. */
function parentPath(path: string): string | null {
  const m = /^(.*)(?:\.[^.[\]]+|\[\d+\])$/.exec(path);
  return m === null || m[1] === '' ? null : (m[1] as string);
}

/**
 * Reports a problem with the setting at `path`: at the flag that set it (or a parent of it),
 * else at its line in the file (or the nearest parent's line: a default has no line of its own).
 */
function problem(draft: Draft, errors: ConfigError[], path: string, reason: string): void {
  for (let p: string | null = path; p !== null; p = parentPath(p)) {
    const flag = draft.origins.get(p);
    if (flag !== undefined) {
      errors.push(new ConfigError(null, 0, flag, reason));
      return;
    }
  }
  if (draft.file === null) {
    errors.push(new ConfigError(null, 0, path, reason));
    return;
  }
  let line: number | undefined;
  for (let p: string | null = path; p !== null && line === undefined; p = parentPath(p)) line = draft.lines.get(p);
  errors.push(new ConfigError(draft.file, line ?? 1, path, reason));
}

function checkFile(draft: Draft, errors: ConfigError[], path: string, file: string, what: string): void {
  if (!existsSync(file)) problem(draft, errors, path, `names ${file}, which does not exist (${what})`);
  else if (!statSync(file).isFile()) problem(draft, errors, path, `names ${file}, which is not a file (${what})`);
}

function hasWildcard(p: string): boolean {
  return /[*?[]/.test(p);
}

function checkCrs(draft: Draft, errors: ConfigError[]): void {
  const { crs, crsSetup } = draft.rules;
  if (crs !== null) {
    if (!existsSync(crs) || !statSync(crs).isDirectory()) {
      problem(draft, errors, 'rules.crs', `must be a CRS directory (${crs} is not a directory)`);
      return;
    }
    const rulesDir = join(crs, 'rules');
    const hasRules = existsSync(rulesDir) && readdirSync(rulesDir).some((f) => f.endsWith('.conf'));
    if (!hasRules) problem(draft, errors, 'rules.crs', `must be a CRS directory with rules/*.conf in it (${crs} has none)`);
    else if (crsSetup === null && !existsSync(join(crs, 'crs-setup.conf')) && !existsSync(join(crs, 'crs-setup.conf.example'))) {
      problem(draft, errors, 'rules.crs', `has no crs-setup.conf or crs-setup.conf.example in ${crs}; set rules.crsSetup to your setup file`);
    }
  }
  if (crsSetup !== null) {
    if (crs === null) problem(draft, errors, 'rules.crsSetup', 'needs rules.crs (the CRS directory it sets up)');
    else checkFile(draft, errors, 'rules.crsSetup', crsSetup, 'the CRS setup file');
  }
  draft.rules.plugins.forEach((dir, i) => {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) problem(draft, errors, `rules.plugins[${i}]`, `must be a plugin directory (${dir} is not a directory)`);
  });
  if (draft.rules.plugins.length > 0 && crs === null) problem(draft, errors, 'rules.plugins', 'needs rules.crs (plugins load around the CRS rules)');
  for (const list of ['files', 'before'] as const) {
    draft.rules[list].forEach((f, i) => {
      if (!hasWildcard(f)) checkFile(draft, errors, `rules.${list}[${i}]`, f, 'a SecLang rule file');
    });
  }
  if (draft.rules.before.length > 0 && crs === null) problem(draft, errors, 'rules.before', 'needs rules.crs (these files load just before the CRS rules); put them in rules.files');
}

function checkTls(draft: Draft, errors: ConfigError[], path: string, tls: TlsConfig | null): void {
  if (tls === null) return;
  checkFile(draft, errors, `${path}.cert`, tls.cert, 'a PEM certificate');
  checkFile(draft, errors, `${path}.key`, tls.key, 'a PEM private key');
}

/** Two binds clash when their ports match and their hosts overlap (a wildcard overlaps all). */
function clash(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  const wild = (h: string): boolean => h === '0.0.0.0' || h === '::';
  return a.host === b.host || wild(a.host) || wild(b.host);
}

/**
 * The final config, or every problem found. Listener and upstream names default to
 * `listener<i>` and `upstream<i>`; a listener without routes sends everything to the only
 * upstream.
 *
 * @example
 * const draft = emptyDraft(process.cwd());
 * draft.upstreams.push(draftUpstream('http://127.0.0.1:3000'));
 * const r = finalizeConfig(draft); // { config } with one listener on 0.0.0.0:8080
 */
export function finalizeConfig(draft: Draft): { config: WardenConfig } | { errors: ConfigError[] } {
  const errors: ConfigError[] = [];

  const upstreams: UpstreamConfig[] = draft.upstreams.map((u, i) => ({ ...u, name: u.name ?? `upstream${i}` }));
  const upstreamNames = upstreams.map((u) => u.name);
  upstreams.forEach((u, i) => {
    if (upstreamNames.indexOf(u.name) !== i) problem(draft, errors, `upstreams[${i}].name`, `"${u.name}" is already the name of upstreams[${upstreamNames.indexOf(u.name)}]`);
  });
  if (upstreams.length === 0) {
    problem(draft, errors, 'upstreams', 'must list at least one upstream (or give --upstream URL): Warden needs to know where to send requests');
  }

  const drafts = draft.listeners.length > 0 ? draft.listeners : [draftListener()];
  const listeners: ListenerConfig[] = drafts.map((l, i) => {
    const path = `listeners[${i}]`;
    let routes = l.routes;
    if (routes === null) {
      if (upstreams.length > 1 && draft.listeners.length > 0) {
        problem(draft, errors, `${path}.routes`, `must say which upstream gets which requests: there are ${upstreams.length} upstreams (${upstreamNames.join(', ')})`);
      } else if (upstreams.length > 1) {
        problem(draft, errors, 'listeners', `must be given, with routes saying which upstream gets which requests: there are ${upstreams.length} upstreams (${upstreamNames.join(', ')})`);
      }
      routes = upstreams.length > 0 ? [{ host: null, pathPrefix: '/', upstream: (upstreams[0] as UpstreamConfig).name }] : [];
    } else {
      routes.forEach((r, j) => {
        if (!upstreamNames.includes(r.upstream)) {
          const near = suggest(r.upstream, upstreamNames);
          problem(
            draft,
            errors,
            `${path}.routes[${j}].upstream`,
            `names no upstream: "${r.upstream}"${near !== null ? ` (did you mean ${near}?)` : upstreamNames.length > 0 ? ` (upstreams: ${upstreamNames.join(', ')})` : ''}`,
          );
        }
      });
    }
    checkTls(draft, errors, `${path}.tls`, l.tls);
    return { name: l.name ?? `listener${i}`, host: l.host, port: l.port, tls: l.tls, routes };
  });
  const listenerNames = listeners.map((l) => l.name);
  listeners.forEach((l, i) => {
    const first = listenerNames.indexOf(l.name);
    if (first !== i) problem(draft, errors, `listeners[${i}].name`, `"${l.name}" is already the name of listeners[${first}]`);
    const other = listeners.findIndex((o, j) => j < i && clash(o, l));
    if (other >= 0) problem(draft, errors, `listeners[${i}].port`, `${l.port} on ${l.host} is also where listeners[${other}] listens`);
  });

  const admin = draft.admin;
  if (admin.enabled) {
    if (!isLoopbackHost(admin.host) && admin.token === null && admin.basicAuth === null) {
      problem(draft, errors, 'admin.host', `${admin.host} is reachable from other machines: set admin.token (or WARDEN_ADMIN_TOKEN) or admin.basicAuth, or listen on 127.0.0.1`);
    }
    const taken = listeners.findIndex((l) => clash(l, admin));
    if (taken >= 0) problem(draft, errors, 'admin.port', `${admin.port} on ${admin.host} is also where listeners[${taken}] listens`);
    checkTls(draft, errors, 'admin.tls', admin.tls);
  }
  checkCrs(draft, errors);
  const jails = draft.jails ?? [defaultWafJail()];
  checkJails(draft, errors, jails);
  checkStore(draft, errors);

  if (errors.length > 0) return { errors: errors.sort((a, b) => a.line - b.line) };
  return {
    config: {
      file: draft.file,
      listeners,
      upstreams,
      proxy: { ...draft.proxy, trustedProxies: [...draft.proxy.trustedProxies] },
      rules: { ...draft.rules, files: [...draft.rules.files], plugins: [...draft.rules.plugins], before: [...draft.rules.before] },
      logs: { ...draft.logs },
      dataDir: draft.dataDir,
      workers: draft.workers,
      admin: { ...admin },
      jails,
      actions: draft.actions,
      bans: { ...draft.bans, filterDirs: [...draft.bans.filterDirs] },
      store: { ...draft.store, tls: draft.store.tls === null ? null : { ...draft.store.tls } },
    },
  };
}

/** A jail with every default (source waf, no condition): the loader fills in what the file says. */
export function draftJail(name: string): Mutable<JailConfig> {
  return {
    name,
    enabled: JAIL_DEFAULTS.enabled,
    source: 'waf',
    when: {},
    files: [],
    fromStart: JAIL_DEFAULTS.fromStart,
    filter: null,
    filterOptions: {},
    journalMatch: null,
    fromJails: [],
    maxRetry: JAIL_DEFAULTS.maxRetry,
    findTime: JAIL_DEFAULTS.findTime,
    banTime: JAIL_DEFAULTS.banTime,
    banTimeIncrement: { ...INCREMENT_DEFAULTS },
    ignoreIp: [],
    ignoreSelf: JAIL_DEFAULTS.ignoreSelf,
    ipv6Prefix: JAIL_DEFAULTS.ipv6Prefix,
    actions: [],
  };
}

/** The jail Warden runs when warden.yaml names none (see defaults.DEFAULT_WAF_JAIL). */
export function defaultWafJail(): JailConfig {
  const j = draftJail(DEFAULT_WAF_JAIL.name);
  return { ...j, when: { ...DEFAULT_WAF_JAIL.when }, maxRetry: DEFAULT_WAF_JAIL.maxRetry, findTime: DEFAULT_WAF_JAIL.findTime, banTime: DEFAULT_WAF_JAIL.banTime, banTimeIncrement: { ...DEFAULT_WAF_JAIL.banTimeIncrement } };
}

/** A Redis store needs its URL; its TLS files must exist. */
function checkStore(draft: Draft, errors: ConfigError[]): void {
  const s = draft.store;
  if (s.type === 'redis' && s.url === null) problem(draft, errors, 'store.url', 'is needed by a redis store (url: redis://HOST:PORT/DB)');
  if (s.type === 'sqlite' && s.url !== null) problem(draft, errors, 'store.url', 'is for type: redis (the SQLite store lives in dataDir)');
  if (s.tls === null) return;
  for (const k of ['ca', 'cert', 'key'] as const) {
    const f = s.tls[k];
    if (f !== null) checkFile(draft, errors, `store.tls.${k}`, f, k === 'ca' ? 'a PEM CA certificate' : k === 'cert' ? 'a PEM client certificate' : 'a PEM client key');
  }
}

/** Checks across jails and actions: names used, what each source needs. */
function checkJails(draft: Draft, errors: ConfigError[], jails: readonly JailConfig[]): void {
  const actionNames = draft.actions.map((a) => a.name);
  const jailNames = jails.map((j) => j.name);
  for (const j of jails) {
    const path = `jails.${j.name}`;
    if (j.name === 'manual') problem(draft, errors, path, 'is the name of the jail for bans made by hand, which always exists: choose another name');
    j.actions.forEach((a, i) => {
      if (!actionNames.includes(a)) {
        const near = suggest(a, actionNames);
        problem(draft, errors, `${path}.actions[${i}]`, `names no action: "${a}"${near !== null ? ` (did you mean ${near}?)` : actionNames.length > 0 ? ` (actions: ${actionNames.join(', ')})` : ' (define it under actions)'}`);
      }
    });
    if (j.source === 'file' && j.files.length === 0) problem(draft, errors, `${path}.files`, 'must list the log files a file jail reads');
    if ((j.source === 'file' || j.source === 'journal') && j.filter === null) problem(draft, errors, `${path}.filter`, `must name the filter that finds failures in the ${j.source === 'file' ? 'log lines' : 'journal'} (a fail2ban filter name or file)`);
    j.fromJails.forEach((f, i) => {
      if (!jailNames.includes(f) && f !== 'manual') problem(draft, errors, `${path}.fromJails[${i}]`, `names no jail: "${f}"`);
    });
  }
  for (const a of draft.actions) {
    const path = `actions.${a.name}`;
    if (a.type === 'webhook' && a.url === null) problem(draft, errors, `${path}.url`, 'is needed by a webhook action (url: https://…)');
    if (a.type === 'command' && (a.ban === null || a.unban === null)) problem(draft, errors, path, 'needs ban and unban commands (a command action)');
    if (a.type === 'fail2ban' && a.file === null) problem(draft, errors, `${path}.file`, 'is needed by a fail2ban action (an action.d/*.conf file)');
  }
}
