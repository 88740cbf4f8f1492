/**
 * @module config/types
 * The shape of warden.yaml once loaded: every setting present (defaults filled in), paths
 * absolute. The loader (config/load) validates the file against it and reports problems
 * as `warden.yaml:12: upstreams[0].url must be an http:// or https:// URL`. The YAML keys are
 * these field names; config/defaults lists every default. Imports nothing of Warden.
 */

/** An upstream server: where a route sends requests. */
export interface UpstreamConfig {
  readonly name: string;
  /** http:// or https:// origin (path ignored). */
  readonly url: string;
  /** Most connections kept open to it (per worker). */
  readonly connections: number;
  /** Milliseconds. */
  readonly connectTimeout: number;
  /** Time until the upstream's response headers arrive (504 after). */
  readonly headersTimeout: number;
  /** Longest silence while the body streams. */
  readonly bodyTimeout: number;
  readonly keepAliveTimeout: number;
}

/** A route: requests whose Host and path match go to `upstream`. First match wins. */
export interface RouteConfig {
  /** Exact host name, `*.example.com`, or null for any. Compared without port, case-insensitively. */
  readonly host: string | null;
  /** Path prefix (`/`, `/api/`). */
  readonly pathPrefix: string;
  /** An upstream name. */
  readonly upstream: string;
}

export interface TlsConfig {
  readonly cert: string;
  readonly key: string;
}

export interface ListenerConfig {
  readonly name: string;
  /** Address to bind. */
  readonly host: string;
  readonly port: number;
  /** TLS termination (files reloaded on SIGHUP), or null for plain HTTP. */
  readonly tls: TlsConfig | null;
  readonly routes: readonly RouteConfig[];
}

export type EngineModeSetting = 'on' | 'detection' | 'off';

export interface RulesConfig {
  /** SecLang files (globs allowed), loaded in order after the baseline and CRS. */
  readonly files: readonly string[];
  /** A CRS checkout or release directory, or null. */
  readonly crs: string | null;
  /**
   * The CRS setup file, or null for `<crs>/crs-setup.conf` (`crs-setup.conf.example` when
   * that is missing). Set it for layouts that keep it elsewhere (Debian: /etc/modsecurity/crs/).
   */
  readonly crsSetup: string | null;
  /** More CRS plugin directories, beside `<crs>/plugins` (their *-config, *-before, *-after files). */
  readonly plugins: readonly string[];
  /**
   * SecLang files loaded just before CRS's rules (where REQUEST-900-EXCLUSION-RULES-BEFORE-CRS
   * goes): runtime exclusions with `ctl:` must run before the rules they change.
   */
  readonly before: readonly string[];
  /** Warden's engine baseline (body access, processors by Content-Type, 400 on body errors). */
  readonly baseline: boolean;
  /**
   * Warden's default rule set (rules/default: protocol sanity, XML-RPC abuse, scanners,
   * SQLi/XSS in arguments). `auto`: loaded when neither `crs` nor `files` is set, so
   * configuring rules of your own replaces it; true or false: always or never.
   */
  readonly defaults: boolean | 'auto';
  /** Overrides SecRuleEngine from the rule files when set. */
  readonly mode: EngineModeSetting | null;
}

export interface LogsConfig {
  /** ModSecurity-format error log (path or `-` for stderr), or null. */
  readonly error: string | null;
  /** Audit log file (Serial) or index file (Concurrent), or null to follow SecAuditLog. */
  readonly audit: string | null;
  readonly auditFormat: 'native' | 'json' | null;
  readonly auditType: 'serial' | 'concurrent' | null;
  readonly auditStorageDir: string | null;
  /** Access log in combined format, or null. */
  readonly access: string | null;
  /** Rotate a log when it grows past this many bytes (0: never; SIGUSR1 always reopens). */
  readonly rotateBytes: number;
}

export interface AdminConfig {
  /** Address to bind (used when `enabled`). */
  readonly host: string;
  readonly port: number;
  readonly enabled: boolean;
  readonly token: string | null;
  readonly basicAuth: { readonly user: string; readonly password: string } | null;
  readonly tls: TlsConfig | null;
}

export interface ProxyBehaviour {
  /** Addresses and CIDRs whose forwarding headers are believed. */
  readonly trustedProxies: readonly string[];
  /** Which header trusted proxies report clients in. */
  readonly clientAddressHeader: 'x-forwarded-for' | 'forwarded';
  /** Which forwarding headers Warden sets towards the upstream. */
  readonly forwardedHeaders: 'x-forwarded' | 'forwarded' | 'both';
  /** Milliseconds. */
  readonly requestHeadersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  /** Largest request head Node's parser accepts (bytes). */
  readonly maxHeaderSize: number;
  /**
   * Error page templates (`{{status}}`, `{{reason}}`, `{{id}}`), or null for Warden's own.
   * In warden.yaml these name files; the loaded config holds their text.
   */
  readonly errorPageHtml: string | null;
  readonly errorPageJson: string | null;
}

export interface WardenConfig {
  /** The file it came from, or null for defaults and flags only. */
  readonly file: string | null;
  readonly listeners: readonly ListenerConfig[];
  readonly upstreams: readonly UpstreamConfig[];
  readonly proxy: ProxyBehaviour;
  readonly rules: RulesConfig;
  readonly logs: LogsConfig;
  /** Where state lives (SQLite database, audit storage, …). */
  readonly dataDir: string;
  /** Worker processes (0: one per core). */
  readonly workers: number;
  readonly admin: AdminConfig;
  /** The ban engine's jails (absent in the file: the default `waf` jail; `{}`: none). */
  readonly jails: readonly JailConfig[];
  readonly actions: readonly ActionConfig[];
  readonly bans: BansConfig;
  /** Where bans, ban history and persistent collections live. */
  readonly store: StoreConfig;
}

/** The store: SQLite in the data directory for one node, or one Redis a fleet of nodes shares. */
export interface StoreConfig {
  readonly type: 'sqlite' | 'redis';
  /** redis: `redis://[user:password@]host[:port][/db]`, or `rediss://…` for TLS. */
  readonly url: string | null;
  /** Redis AUTH password (instead of one in the URL; also WARDEN_REDIS_PASSWORD). */
  readonly password: string | null;
  /** Redis ACL user (Redis 6+), or null for the default user. */
  readonly username: string | null;
  /** TLS towards Redis, or null (a rediss:// URL still uses TLS, with the system's CAs). */
  readonly tls: StoreTlsConfig | null;
  /** Start of every key and of the channel: fleets sharing one Redis use different prefixes. */
  readonly prefix: string;
}

export interface StoreTlsConfig {
  /** PEM file of the CA that signed Redis's certificate, or null for the system's CAs. */
  readonly ca: string | null;
  /** PEM client certificate and key, for a Redis that asks for them (tls-auth-clients). */
  readonly cert: string | null;
  readonly key: string | null;
  /** The name Redis's certificate must carry, when not the URL's host. */
  readonly serverName: string | null;
}

/** When a WAF event counts as a failure (jail source `waf`). Every field given must hold. */
export interface WafConditionConfig {
  readonly blocked?: boolean;
  readonly ruleIds?: readonly number[];
  readonly tags?: readonly string[];
  readonly status?: readonly number[];
  readonly minScore?: number;
  readonly bodyError?: boolean;
}

/** Ban-time growth for repeat offenders (fail2ban's bantime.increment). Times in ms. */
export interface BanTimeIncrementConfig {
  readonly enabled: boolean;
  readonly factor: number;
  readonly multipliers: readonly number[] | null;
  readonly maxTime: number;
  readonly overallJails: boolean;
  readonly rndTime: number;
}

/** A jail: where failures come from, how many earn a ban, for how long, and who enforces it. */
export interface JailConfig {
  readonly name: string;
  readonly enabled: boolean;
  /** waf: Warden's own verdicts; file: log files; journal: the systemd journal; bans: other jails' bans (recidive). */
  readonly source: 'waf' | 'file' | 'journal' | 'bans';
  readonly when: WafConditionConfig;
  /** Log files (globs) for the file source. */
  readonly files: readonly string[];
  /** Read what the files already hold (default: start at their end, as fail2ban). */
  readonly fromStart: boolean;
  /** A filter name (Warden's filters/, then bans.filterDirs) or a path, for file and journal sources. */
  readonly filter: string | null;
  /** Filter parameters, as fail2ban's `filter = sshd[mode=aggressive]`. */
  readonly filterOptions: Readonly<Record<string, string>>;
  /** journalmatch (default: the filter's own). */
  readonly journalMatch: string | null;
  /** For the bans source: the jails whose bans count (all others when empty). */
  readonly fromJails: readonly string[];
  readonly maxRetry: number;
  /** Milliseconds. */
  readonly findTime: number;
  /** Milliseconds; -1 for ever. */
  readonly banTime: number;
  readonly banTimeIncrement: BanTimeIncrementConfig;
  readonly ignoreIp: readonly string[];
  readonly ignoreSelf: boolean;
  readonly ipv6Prefix: number;
  /** Names of `actions`; the proxy refuses banned clients in any case. */
  readonly actions: readonly string[];
}

/** A ban action beyond the proxy's own ban set. */
export interface ActionConfig {
  readonly name: string;
  readonly type: 'nftables' | 'ipset' | 'webhook' | 'command' | 'fail2ban';
  /** nftables, ipset: only these TCP ports (all traffic when empty). */
  readonly ports: readonly number[];
  /** nftables, ipset: drop or reject. */
  readonly verdict: 'drop' | 'reject';
  /** webhook. */
  readonly url: string | null;
  readonly headers: Readonly<Record<string, string>>;
  /** command: shell templates with fail2ban's <ip> <bantime> … tags. */
  readonly start: string | null;
  readonly stop: string | null;
  readonly ban: string | null;
  readonly unban: string | null;
  /** fail2ban: an action.d/*.conf file, and values for its [Init] tags. */
  readonly file: string | null;
  readonly options: Readonly<Record<string, string>>;
}

export interface BansConfig {
  /** How the proxy refuses a banned client: 403 with the error page, or closing the connection. */
  readonly answer: 'forbidden' | 'close';
  /** Where fail2ban filters named by jails are looked up after Warden's own filters/. */
  readonly filterDirs: readonly string[];
}
