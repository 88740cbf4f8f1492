/**
 * @module engine/transforms
 * The transformation registry: every `t:` function under its SecLang name
 * (case-insensitive lookup, aliases included).
 */
import type { TransformDef, TransformFn } from './types.js';

export * from './types.js';

const registry = new Map<string, TransformDef>();

function register(name: string, fn: TransformFn, ...aliases: string[]): void {
  const def: TransformDef = { name, fn };
  registry.set(name.toLowerCase(), def);
  for (const alias of aliases) registry.set(alias.toLowerCase(), def);
}

register('lowercase', (s) => s.toLowerCase());

/** The transformation for a name as written after `t:` (any case), or undefined. */
export function getTransform(name: string): TransformDef | undefined {
  return registry.get(name.toLowerCase());
}

/** Every registered transformation name (and alias), lower-cased. */
export function transformNames(): string[] {
  return [...registry.keys()];
}
