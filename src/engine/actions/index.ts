/**
 * @module engine/actions
 * The action registry: every SecLang action under its name (case-insensitive lookup).
 */
import { ctlAction } from './ctl.js';
import { dataActions } from './data.js';
import { disruptiveActions } from './disruptive.js';
import { flagActions } from './flags.js';
import { flowActions } from './flow.js';
import { metadataActions } from './metadata.js';
import type { ActionDef } from './types.js';

export * from './types.js';
export { parseIdRanges, targetRefs } from './ctl.js';

const registry = new Map<string, ActionDef>();
for (const def of [...metadataActions, ...flowActions, ...disruptiveActions, ...flagActions, ...dataActions, ctlAction]) {
  registry.set(def.name.toLowerCase(), def);
}

/** The action of a name as written (any case), or undefined. */
export function getAction(name: string): ActionDef | undefined {
  return registry.get(name.toLowerCase());
}

export function actionNames(): string[] {
  return [...registry.values()].map((d) => d.name);
}
