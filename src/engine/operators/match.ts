/**
 * @module engine/operators/match
 * `@unconditionalMatch` (always matches; what SecAction uses) and `@noMatch` (never
 * matches; a way to switch a rule off while keeping its actions visible). Any parameter
 * is ignored, as in ModSecurity.
 */
import type { Operator, OperatorFactory } from './types.js';

const always: Operator = { evaluate: () => true };
const never: Operator = { evaluate: () => false };

export const unconditionalMatch: OperatorFactory = () => always;
export const noMatch: OperatorFactory = () => never;
