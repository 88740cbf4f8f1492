/**
 * @module config/flags
 * The configuration `warden start` runs with: defaults, then warden.yaml (--config or
 * WARDEN_CONFIG), then the environment (WARDEN_ADMIN_TOKEN), then the flags. A flag
 * replaces what the file says; a repeatable flag (--rules, --trusted-proxy) replaces the
 * file's whole list. --listen and --upstream change the one listener or upstream a simple
 * setup has; with several in the file they are refused rather than guessed at.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './errors.js';
import { readConfigFile } from './load.js';
import { draftListener, draftUpstream, emptyDraft, finalizeConfig, type Draft } from './resolve.js';
import type { WardenConfig } from './types.js';
import { isInvalid, listenAddress, redisUrl, trustedProxy, upstreamUrl, type Invalid } from './values.js';
import { absolutePath, suggest } from './yaml-reader.js';
import { ADMIN_DEFAULTS, LISTENER_DEFAULTS } from './defaults.js';

/** The flags `warden start` and `warden check-config` take, as node:util parseArgs reads them (their help: cli/usage START_USAGE). */
export const START_OPTIONS = {
  config: { type: 'string' },
  listen: { type: 'string' },
  upstream: { type: 'string' },
  rules: { type: 'string', multiple: true },
  crs: { type: 'string' },
  mode: { type: 'string' },
  'trusted-proxy': { type: 'string', multiple: true },
  'error-log': { type: 'string' },
  'audit-log': { type: 'string' },
  'access-log': { type: 'string' },
  workers: { type: 'string' },
  'data-dir': { type: 'string' },
  admin: { type: 'string' },
  store: { type: 'string' },
} as const;

export type StartConfigResult =
  | { readonly config: WardenConfig }
  | { readonly errors: readonly string[]; readonly problems: readonly ConfigError[] };

function flagError(errors: ConfigError[], flag: string, reason: string): void {
  errors.push(new ConfigError(null, 0, flag, reason));
}

/** Records that a flag set `path`, so later checks on it name the flag. */
function setBy(d: Draft, path: string, flag: string): void {
  d.origins.set(path, flag);
}

function logFlag(value: string, cwd: string): string | null {
  return value === 'off' ? null : absolutePath(cwd, value);
}

function applyFlags(d: Draft, v: Record<string, string | string[] | undefined>, env: NodeJS.ProcessEnv, cwd: string, errors: ConfigError[]): void {
  const str = (k: keyof typeof START_OPTIONS): string | undefined => v[k] as string | undefined;
  const list = (k: keyof typeof START_OPTIONS): string[] | undefined => v[k] as string[] | undefined;
  const check = <T>(flag: string, value: T | Invalid): T | undefined => {
    if (!isInvalid(value)) return value;
    flagError(errors, flag, value.error);
    return undefined;
  };

  const listen = str('listen');
  if (listen !== undefined) {
    const a = check('--listen', listenAddress(listen, LISTENER_DEFAULTS.host));
    if (a !== undefined) {
      if (d.listeners.length > 1) {
        flagError(errors, '--listen', `cannot choose among the ${d.listeners.length} listeners of ${d.file}: change them there`);
      } else {
        const l = d.listeners[0] ?? draftListener();
        l.host = a.host;
        l.port = a.port;
        d.listeners = [l];
        setBy(d, 'listeners[0].host', '--listen');
        setBy(d, 'listeners[0].port', '--listen');
      }
    }
  }

  const upstream = str('upstream');
  if (upstream !== undefined) {
    const url = check('--upstream', upstreamUrl(upstream));
    if (url !== undefined) {
      if (d.upstreams.length > 1) {
        flagError(errors, '--upstream', `cannot choose among the ${d.upstreams.length} upstreams of ${d.file}: change them there`);
      } else {
        const u = d.upstreams[0] ?? draftUpstream(url);
        u.url = url;
        d.upstreams = [u];
        setBy(d, 'upstreams[0].url', '--upstream');
      }
    }
  }

  const rules = list('rules');
  if (rules !== undefined) {
    d.rules.files = rules.map((f) => absolutePath(cwd, f));
    rules.forEach((_, i) => setBy(d, `rules.files[${i}]`, '--rules'));
  }
  const crs = str('crs');
  if (crs !== undefined) {
    d.rules.crs = absolutePath(cwd, crs);
    setBy(d, 'rules.crs', '--crs');
  }
  const mode = str('mode');
  if (mode !== undefined) {
    const m = mode.toLowerCase();
    if (m === 'on' || m === 'detection' || m === 'off') d.rules.mode = m;
    else flagError(errors, '--mode', `must be one of on, detection, off${suggest(m, ['on', 'detection', 'off']) === 'detection' ? ' (did you mean detection?)' : ''}`);
  }
  const proxies = list('trusted-proxy');
  if (proxies !== undefined) {
    d.proxy.trustedProxies = [];
    for (const p of proxies) {
      const cidrs = check('--trusted-proxy', trustedProxy(p));
      if (cidrs !== undefined) d.proxy.trustedProxies.push(...cidrs);
    }
  }
  const errorLog = str('error-log');
  if (errorLog !== undefined) d.logs.error = logFlag(errorLog, cwd);
  const auditLog = str('audit-log');
  if (auditLog !== undefined) {
    if (auditLog === '-') flagError(errors, '--audit-log', 'must be a file path or off (audit records do not go to a terminal)');
    else d.logs.audit = logFlag(auditLog, cwd);
  }
  const accessLog = str('access-log');
  if (accessLog !== undefined) d.logs.access = logFlag(accessLog, cwd);
  const workers = str('workers');
  if (workers !== undefined) {
    const n = workers === 'auto' ? 0 : /^\d+$/.test(workers) ? Number(workers) : -1;
    if (n < 0 || n > 1024) flagError(errors, '--workers', 'must be a number of worker processes from 0 to 1024, or auto (one per core)');
    else d.workers = n;
  }
  const dataDir = str('data-dir');
  if (dataDir !== undefined) d.dataDir = absolutePath(cwd, dataDir);

  const token = env.WARDEN_ADMIN_TOKEN;
  if (token !== undefined && token !== '') {
    if (token.length < 16) flagError(errors, 'WARDEN_ADMIN_TOKEN', 'must be at least 16 characters (a long random string: openssl rand -hex 24)');
    else d.admin.token = token;
  }
  const store = str('store');
  if (store !== undefined) {
    if (store === 'sqlite') {
      d.store.type = 'sqlite';
      d.store.url = null;
    } else {
      const url = redisUrl(store);
      if (isInvalid(url)) flagError(errors, '--store', 'must be sqlite or a redis:// or rediss:// URL (redis://HOST:PORT/DB)');
      else {
        d.store.type = 'redis';
        d.store.url = url;
      }
    }
    setBy(d, 'store.type', '--store');
    setBy(d, 'store.url', '--store');
  }
  // The password stays out of warden.yaml and the process list this way.
  const redisPassword = env.WARDEN_REDIS_PASSWORD;
  if (redisPassword !== undefined && redisPassword !== '') d.store.password = redisPassword;
  const admin = str('admin');
  if (admin !== undefined) {
    const a = check('--admin', listenAddress(admin, ADMIN_DEFAULTS.host));
    if (a !== undefined) {
      d.admin.enabled = true;
      d.admin.host = a.host;
      d.admin.port = a.port;
      setBy(d, 'admin.host', '--admin');
      setBy(d, 'admin.port', '--admin');
    }
  }
}

/**
 * Resolves the configuration for `warden start` from its arguments (without the command
 * name) and the environment. `cwd` resolves relative paths given as flags.
 *
 * @example
 * const r = resolveStartConfig(['--upstream', 'http://127.0.0.1:3000'], process.env);
 * if ('errors' in r) { for (const e of r.errors) console.error(e); process.exit(1); }
 * r.config.listeners[0]; // { name: 'listener0', host: '0.0.0.0', port: 8080, … }
 */
export function resolveStartConfig(argv: readonly string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): StartConfigResult {
  const errors: ConfigError[] = [];
  let values: Record<string, string | string[] | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: START_OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // parseArgs names the option in quotes: "Option '--upstream <value>' argument missing".
    const m = /'(-[^' ]*)/.exec(e.message);
    const flag = m?.[1] ?? '';
    let reason = e.message;
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const near = suggest(flag.replace(/^-+/, '').split('=')[0] as string, Object.keys(START_OPTIONS));
      reason = `is not an option${near !== null ? ` (did you mean --${near}?)` : ''}`;
    } else if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      reason = 'needs a value';
    } else if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      reason = 'is not an option (every setting is given as --name VALUE)';
    }
    const problem = new ConfigError(null, 0, flag === '' ? (/'([^']*)'/.exec(e.message)?.[1] ?? '') : flag, reason);
    return { errors: [problem.message], problems: [problem] };
  }

  const configPath = (values.config as string | undefined) ?? (env.WARDEN_CONFIG !== undefined && env.WARDEN_CONFIG !== '' ? env.WARDEN_CONFIG : undefined);
  let draft: Draft;
  if (configPath !== undefined) {
    const r = readConfigFile(configPath, configPath, cwd);
    draft = r.draft;
    errors.push(...r.errors);
  } else {
    draft = emptyDraft(cwd);
  }
  applyFlags(draft, values, env, cwd, errors);
  if (errors.length === 0) {
    const r = finalizeConfig(draft);
    if ('config' in r) return r;
    errors.push(...r.errors);
  }
  return { errors: errors.map((e) => e.message), problems: errors };
}
