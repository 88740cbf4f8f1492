/**
 * @module detect
 * SQL injection and XSS detectors compatible with libinjection (the engines behind
 * `@detectSQLi` and `@detectXSS`). Inputs are byte strings, one char per byte. Imports
 * nothing else of Warden.
 *
 * @example
 * import { detectSqli, detectXss } from './detect/index.js';
 * detectSqli("1' or '1'='1"); // 's&sos'
 * detectXss('<script>alert(1)</script>'); // true
 */
export { detectSqli, isSqli } from './sqli.js';
export { detectXss } from './xss.js';
