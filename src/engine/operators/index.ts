/**
 * @module engine/operators
 * The operator registry: every operator under its SecLang name (case-insensitive lookup).
 */
import type { OperatorFactory } from './types.js';
import { rx } from './rx.js';

export * from './types.js';

const registry = new Map<string, OperatorFactory>([
  ['rx', rx],
]);

/** The factory for an operator name as written after `@` (any case), or undefined. */
export function getOperator(name: string): OperatorFactory | undefined {
  return registry.get(name.toLowerCase());
}

/** Every registered operator name, lower-cased. */
export function operatorNames(): string[] {
  return [...registry.keys()];
}
