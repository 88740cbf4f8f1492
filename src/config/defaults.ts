/**
 * @module config/defaults
 * Every setting's default, in one place: what Warden does when warden.yaml (or the whole
 * file) leaves a setting out. `warden start --upstream http://127.0.0.1:3000` runs on these
 * alone. Times are milliseconds, sizes bytes; relative paths resolve against the config
 * file's directory (the working directory when there is no file).
 */

/** Listener defaults (a config without `listeners` gets one listener with these). */
export const LISTENER_DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
} as const;

/** Upstream defaults: undici's connect timeout, nginx's read timeout for headers and body. */
export const UPSTREAM_DEFAULTS = {
  connections: 64,
  connectTimeout: 10_000,
  headersTimeout: 60_000,
  bodyTimeout: 60_000,
  keepAliveTimeout: 4_000,
} as const;

/** Front-end behaviour; the timeouts and header size are node:http's own defaults. */
export const PROXY_DEFAULTS = {
  clientAddressHeader: 'x-forwarded-for',
  forwardedHeaders: 'x-forwarded',
  requestHeadersTimeout: 60_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 5_000,
  maxHeaderSize: 16_384,
} as const;

export const ADMIN_DEFAULTS = {
  host: '127.0.0.1',
  port: 9180,
} as const;

/** Where state lives when `dataDir` is not set (relative: see the module note). */
export const DATA_DIR_DEFAULT = 'warden-data';

/** Error log default: standard error, where a foreground process is watched. */
export const ERROR_LOG_DEFAULT = '-';

const MINUTE = 60_000;

/** A jail's settings when not given: fail2ban's (maxretry 5, findtime 10 min, bantime 10 min). */
export const JAIL_DEFAULTS = {
  enabled: true,
  fromStart: false,
  maxRetry: 5,
  findTime: 10 * MINUTE,
  banTime: 10 * MINUTE,
  ignoreSelf: true,
  ipv6Prefix: 64,
} as const;

export const INCREMENT_DEFAULTS = {
  enabled: false,
  factor: 1,
  multipliers: null,
  maxTime: 0,
  overallJails: false,
  rndTime: 0,
} as const;

/**
 * The jail Warden runs when the file names none: an address Warden refused 5 times within
 * 10 minutes is banned for an hour, doubling for each repeat up to a week.
 */
export const DEFAULT_WAF_JAIL = {
  name: 'waf',
  when: { blocked: true },
  maxRetry: 5,
  findTime: 10 * MINUTE,
  banTime: 60 * MINUTE,
  banTimeIncrement: { ...INCREMENT_DEFAULTS, enabled: true, maxTime: 7 * 24 * 60 * MINUTE },
} as const;

/** SQLite in the data directory: one node needs nothing else. */
export const STORE_DEFAULTS = {
  type: 'sqlite',
  prefix: 'warden:',
} as const;

export const BANS_DEFAULTS = {
  answer: 'forbidden',
  filterDirs: ['/etc/fail2ban/filter.d'],
} as const;

/** Where the quickstart listens when the ports are free (else the system picks free ones). */
export const QUICKSTART_PORTS = { proxy: 8080, admin: 9180 } as const;

/** HAR files do not say who sent a request; this documentation address (RFC 5737) stands in. */
export const HAR_CLIENT_ADDRESS = '192.0.2.1';
