/**
 * @module jail/filter
 * fail2ban-compatible filters for Warden's ban engine: fail2ban's `filter.d/*.conf` files
 * read as they are (and Warden's own in filters/), their Python regexes run with Python's
 * semantics on V8, fail2ban's date detection, and fail2ban's rules for what a line yields
 * (failure id, time, user, multi-line failures). What the rest of the ban engine uses:
 *
 * - {@link loadFilter}`(nameOrPath, options)` → {@link Filter};
 *   `filter.match(line)` → {@link FilterMatch} | null (streaming: `matchLines`,
 *   `matchStream`; the filter keeps the `maxlines` buffer between lines);
 * - {@link GuardedFilter}: the same in a worker thread with a time limit per line, for
 *   logs an attacker writes into;
 * - {@link detectDate}`(line)` → `{ time, matchedText }` | null, and {@link DateDetector};
 * - {@link logLines}: a log file's lines, decoded as fail2ban decodes them.
 *
 * @example
 * import { loadFilter, logLines } from './jail/filter/index.js';
 *
 * const sshd = loadFilter('sshd[mode=aggressive]');       // fail2ban's filter.d, or Warden's filters/
 * for await (const line of logLines('/var/log/auth.log')) {
 *   const failure = sshd.match(line);
 *   if (failure) console.log(failure.id, failure.time, failure.user);
 * }
 */
export { loadFilter, createFilter, locateFilter, Filter, wardenFilterDir, defaultFail2banFilterDir } from './filter.js';
export type { FilterMatch, FilterOptions, FailureEntry, FailData, FilterStats } from './filter.js';
export { GuardedFilter, abandonedWorkers } from './guard.js';
export type { GuardOptions, GuardTimeout, GuardedFilterOptions } from './guard.js';
export { detectDate, DateDetector } from './date.js';
export type { DateMatch, DateDetectorOptions } from './date.js';
export { logLines, readLogLines, splitLogBytes } from './logfile.js';
export type { LogEncoding, LogLinesOptions } from './logfile.js';
export { readFilterDefinition, splitFilterSpec } from './reader.js';
export type { FilterDefinition } from './reader.js';
export { FilterError, PyRegexError } from './errors.js';
export type { FilterErrorCode, SourceLocation } from './errors.js';
export { compilePyRegex, PyRegex } from './pyregex.js';
export type { PyMatch, PyRegexOptions } from './pyregex.js';
export type { FailureId } from './failure-id.js';
export type { UseDns, TupleLine } from './failregex.js';
export { timeZoneNamed, fixedTimeZone, localTimeZone } from './timezone.js';
export type { TimeZone } from './timezone.js';
