/**
 * @module audit
 * Warden's logs: ModSecurity-format error log, ModSecurity audit log (native serial or
 * concurrent, JSON) and the combined access log, behind `createLogs`.
 */
export { createLogs, auditWanted, type LogsOptions, type Logs } from './logs.js';
export type { WafLogs, ResponseSummary, RejectedRequest } from './types.js';
