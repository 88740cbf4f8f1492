/**
 * @module config/rules
 * Which SecLang files a config loads, in the order the OWASP CRS documents (INSTALL, and
 * plugins/README.md of the plugin registry):
 *
 *   1. Warden's engine baseline, rules/baseline.conf (unless `rules.baseline: false`)
 *   1b. Warden's default rule set, rules/default/ (`rules.defaults`: with `auto`, only
 *       when neither CRS nor rule files are configured — the set is what protects a site
 *       nobody wrote rules for, and steps aside for CRS, which covers the same ground with
 *       its own scoring; the baseline stays, CRS expects it)
 *   2. the CRS setup: rules.crsSetup, else <crs>/crs-setup.conf, else crs-setup.conf.example
 *   3. plugins' *-config.conf   (<crs>/plugins, then rules.plugins directories)
 *   4. plugins' *-before.conf
 *   5. rules.before             (runtime exclusions, where REQUEST-900 sits)
 *   6. <crs>/rules/*.conf
 *   7. plugins' *-after.conf
 *   8. rules.files              (the user's own rules and configuration-time exclusions)
 *
 * Plugin files from several directories are merged and sorted by file name, as if they
 * were all in one plugins/ folder (the order CRS's `Include plugins/*-before.conf` gives).
 * `rules.mode` then overrides SecRuleEngine: `rulesTextFor` ends with that directive.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineModeSetting, WardenConfig } from './types.js';

/**
 * Warden's engine baseline. src/config and dist/config both sit two levels below the
 * package root, where rules/ lives.
 */
export const BASELINE_RULES = fileURLToPath(new URL('../../rules/baseline.conf', import.meta.url));

/**
 * Warden's default rule set, in load order (each file documents its id range): protocol
 * sanity 1001000–1001999, XML-RPC abuse 1002000–1002999, scanners 1003000–1003999,
 * SQLi/XSS in arguments 1004000–1004999.
 */
export const DEFAULT_RULES: readonly string[] = ['protocol.conf', 'xmlrpc.conf', 'scanners.conf', 'injection.conf'].map((f) =>
  fileURLToPath(new URL(`../../rules/default/${f}`, import.meta.url)),
);

/** Whether a config loads {@link DEFAULT_RULES}. */
export function loadsDefaultRules(rules: Pick<WardenConfig['rules'], 'defaults' | 'crs' | 'files'>): boolean {
  return rules.defaults === 'auto' ? rules.crs === null && rules.files.length === 0 : rules.defaults;
}

/** SecRuleEngine values for the config's mode. */
const ENGINE_MODES: Readonly<Record<EngineModeSetting, string>> = { on: 'On', detection: 'DetectionOnly', off: 'Off' };

function confFiles(dir: string, suffix: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

function pluginFiles(dirs: readonly string[], suffix: string): string[] {
  const all = dirs.flatMap((d) => confFiles(d, suffix));
  return all.sort((a, b) => (basename(a) < basename(b) ? -1 : basename(a) > basename(b) ? 1 : 0));
}

function crsSetupFile(crs: string, crsSetup: string | null): string {
  if (crsSetup !== null) return crsSetup;
  const own = join(crs, 'crs-setup.conf');
  return existsSync(own) ? own : join(crs, 'crs-setup.conf.example');
}

/**
 * The rule files to load, in order. CRS and plugin files are listed one by one; entries of
 * rules.before and rules.files are kept as written (absolute; globs expand when loaded).
 *
 * @example
 * ruleFilesFor(config);
 * // ['/…/rules/baseline.conf', '/crs/crs-setup.conf', '/crs/plugins/wp-config.conf', …,
 * //  '/crs/rules/REQUEST-901-INITIALIZATION.conf', …, '/etc/warden/local.conf']
 */
export function ruleFilesFor(config: Pick<WardenConfig, 'rules'>): string[] {
  const r = config.rules;
  const files: string[] = [];
  if (r.baseline) files.push(BASELINE_RULES);
  // With CRS too (defaults: true) the set goes after it, beside the user's own files.
  const defaults = loadsDefaultRules(r);
  if (defaults && r.crs === null) files.push(...DEFAULT_RULES);
  if (r.crs !== null) {
    const pluginDirs = [join(r.crs, 'plugins'), ...r.plugins];
    files.push(crsSetupFile(r.crs, r.crsSetup));
    files.push(...pluginFiles(pluginDirs, '-config.conf'));
    files.push(...pluginFiles(pluginDirs, '-before.conf'));
    files.push(...r.before);
    files.push(...confFiles(join(r.crs, 'rules'), '.conf'));
    files.push(...pluginFiles(pluginDirs, '-after.conf'));
    if (defaults) files.push(...DEFAULT_RULES);
  }
  files.push(...r.files);
  return files;
}

/** A SecLang argument in double quotes (the parser unescapes only `\"` and `\\`). */
function quoted(path: string): string {
  return `"${path.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The whole ruleset as SecLang text: an Include per file of {@link ruleFilesFor}, then
 * `SecRuleEngine` when the config sets a mode (so it wins over every file). Load it with
 * `Waf.fromText(text, { file: RULES_TEXT_NAME })`; errors inside the files keep their own
 * file:line.
 *
 * @example
 * const waf = Waf.fromText(rulesTextFor(config), { file: RULES_TEXT_NAME });
 */
export function rulesTextFor(config: Pick<WardenConfig, 'rules'>): string {
  const lines = ['# Generated from the Warden configuration: the rule files in load order.'];
  for (const f of ruleFilesFor(config)) lines.push(`Include ${quoted(f)}`);
  if (config.rules.mode !== null) lines.push(`SecRuleEngine ${ENGINE_MODES[config.rules.mode]}`);
  return `${lines.join('\n')}\n`;
}

/** How errors name the generated text (an Include of a missing file is reported there). */
export const RULES_TEXT_NAME = '<warden.yaml rules>';

/** The SecRuleEngine value a config forces, or null when the rule files decide. */
export function engineModeFor(config: Pick<WardenConfig, 'rules'>): 'On' | 'DetectionOnly' | 'Off' | null {
  return config.rules.mode === null ? null : (ENGINE_MODES[config.rules.mode] as 'On' | 'DetectionOnly' | 'Off');
}
