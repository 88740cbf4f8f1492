/**
 * @module engine/operators/detect
 * `@detectSQLi` and `@detectXSS`: libinjection-compatible detection (src/detect). Any
 * parameter is ignored, as in ModSecurity. With `capture`, TX:0 is what ModSecurity v2
 * sets: the SQLi fingerprint (e.g. `s&1UE`) for `@detectSQLi`, the whole value for
 * `@detectXSS`.
 */
import { detectSqli } from '../../detect/sqli.js';
import { detectXss } from '../../detect/xss.js';
import type { Operator, OperatorFactory } from './types.js';

const sqliOperator: Operator = {
  evaluate(input, m) {
    const fingerprint = detectSqli(input);
    if (fingerprint === null) return false;
    if (m.capturing) m.capture(0, fingerprint);
    return true;
  },
};

const xssOperator: Operator = {
  evaluate(input, m) {
    if (!detectXss(input)) return false;
    if (m.capturing) m.capture(0, input);
    return true;
  },
};

export const detectSQLi: OperatorFactory = () => sqliOperator;
export const detectXSS: OperatorFactory = () => xssOperator;
