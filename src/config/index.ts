/**
 * @module config
 * warden.yaml and the `warden start` flags → WardenConfig, and the rule files it loads.
 *
 * @example
 * const r = resolveStartConfig(process.argv.slice(3), process.env);
 * if ('errors' in r) { r.errors.forEach((e) => console.error(e)); process.exit(1); }
 * const waf = Waf.fromText(rulesTextFor(r.config), { file: RULES_TEXT_NAME });
 */
export type * from './types.js';
export { ConfigError, ConfigLoadError } from './errors.js';
export { loadConfigFile, readConfigFile, readConfigText } from './load.js';
export { resolveStartConfig, START_OPTIONS, type StartConfigResult } from './flags.js';
export { finalizeConfig, emptyDraft, type Draft } from './resolve.js';
export { ruleFilesFor, rulesTextFor, engineModeFor, loadsDefaultRules, BASELINE_RULES, DEFAULT_RULES, RULES_TEXT_NAME } from './rules.js';
export { TRUSTED_PROXY_KEYWORDS } from './values.js';
export * as defaults from './defaults.js';
