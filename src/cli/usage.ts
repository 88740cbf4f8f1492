/**
 * @module cli/usage
 * The usage texts of the commands, in a module of their own: `warden --help` and a mistyped
 * command print them all, and should not load every command's modules to do so (the proxy,
 * the engine, the stores: 0.56 s and 99 MB on a 2.1 GHz Xeon, for text). Each command
 * prints its own from here too.
 */
import { ADMIN_DEFAULTS, DATA_DIR_DEFAULT, HAR_CLIENT_ADDRESS, QUICKSTART_PORTS } from '../config/defaults.js';

/** One line per flag, for usage texts. */
export const START_USAGE = `  --config FILE            warden.yaml to read (or WARDEN_CONFIG)
  --listen [HOST:]PORT     where to listen (default 0.0.0.0:8080)
  --upstream URL           where to send requests (http:// or https:// origin)
  --rules FILE             SecLang rule file, glob allowed (repeatable; replaces rules.files)
  --crs DIR                OWASP CRS directory (crs-setup.conf, rules/, plugins/)
  --mode on|detection|off  rule engine mode (overrides SecRuleEngine)
  --trusted-proxy CIDR     proxy whose X-Forwarded-For is believed (repeatable)
  --error-log PATH|-|off   ModSecurity-style error log (default: standard error)
  --audit-log PATH|off     audit log
  --access-log PATH|-|off  access log (combined format)
  --workers N|auto         worker processes (default auto: one per core)
  --data-dir DIR           where state lives (default ./warden-data)
  --admin HOST:PORT        admin API, metrics and dashboard (token: WARDEN_ADMIN_TOKEN)
  --store sqlite|URL       where bans and collections live: sqlite (default, in the data
                           directory) or redis://HOST:PORT/DB shared by a fleet
                           (rediss:// for TLS; password: WARDEN_REDIS_PASSWORD)`;

export const QUICKSTART_USAGE = `  warden quickstart [start flags]      (npm start; npm start -- --upstream URL)
      warden start on its defaults, on 127.0.0.1 (proxy :${QUICKSTART_PORTS.proxy}, dashboard :${QUICKSTART_PORTS.admin}), logs and
      state in ./warden-data, with a banner of curl lines to try; in front of a built-in
      demo blog unless --upstream URL (or --config FILE) names a site`;

export const RELOAD_USAGE = `  warden reload [--config FILE | --data-dir DIR]
      tell the running Warden (found through DIR/warden.sock; DIR is the config's dataDir,
      default ./${DATA_DIR_DEFAULT}) to reload its config and rules, and print the outcome`;

export const REPLAY_USAGE = `  warden replay FILE [--config FILE] [--rules FILE]... [--crs DIR] [--mode on|detection|off]
                [--remote-addr ADDR] [--list N|all] [--json]
      send the requests recorded in FILE (a HAR file, or Warden's JSON audit log) through
      the rules warden start would load, offline, and report what would pass and what would
      be refused, by rule; evaluated with SecRuleEngine On unless --mode says otherwise.
      --remote-addr: the client of HAR requests (default ${HAR_CLIENT_ADDRESS}; audit logs have their own)
      --list: how many refused requests to list (default 50)`;

export const IMPORT_JAILS_USAGE = `  warden import-jails FILE... [--all] [--no-waf]
      print the warden.yaml jails: and actions: sections equivalent to fail2ban's jails
      (FILE: jail.conf or jail.local, read with jail.d/ and the .local files as fail2ban
      does; or other jail files, read in order); --all: disabled jails too;
      --no-waf: leave out Warden's own waf jail (a jails: section replaces the default one)`;

export const STATUS_USAGE = `  warden status [--url URL | --config FILE] [--token TOKEN] [--range hour|day|week] [--json]
      the running Warden's requests, blocks, bans, top rules and store, from its admin API
      (URL: WARDEN_ADMIN_URL, else the admin: section of FILE, else http://${ADMIN_DEFAULTS.host}:${ADMIN_DEFAULTS.port}/;
      token: WARDEN_ADMIN_TOKEN, else FILE's admin.token or admin.basicAuth, or --user USER with
      WARDEN_ADMIN_PASSWORD; --ca FILE: a CA or certificate to trust for https; --timeout SECONDS)`;

export const MUNIN_USAGE = `  warden munin [requests|blocks|bans] [config|autoconf|suggest] [--url URL | --config FILE] [--token TOKEN]
      a munin plugin: link the warden command as /etc/munin/plugins/warden_munin (all graphs,
      multigraph) or warden_requests, warden_blocks, warden_bans; WARDEN_CONFIG or
      WARDEN_ADMIN_URL and WARDEN_ADMIN_TOKEN (env. lines in plugin-conf.d) find the Warden`;
