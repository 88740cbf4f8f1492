/**
 * @module engine
 * The SecLang engine: a compiled, shared Waf and per-request Transactions.
 */
export { Waf, type WafOptions, type RulesetSummary } from './waf.js';
export { Transaction, HeaderCarry, type Interruption, type RuleMatch, type TraceEvent, type TransactionOptions } from './transaction.js';
export type { WafConfig, EngineMode } from './config.js';
export { Rule, Marker, SEVERITY_NAMES } from './rule.js';
