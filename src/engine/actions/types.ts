/**
 * @module engine/actions/types
 * The contract of a SecLang action at load time: it either sets a field of the rule being
 * compiled (metadata, flow, disruptive, flags) or appends a RuleAction that runs per match.
 */
import type { SourceLocation } from '../../seclang/errors.js';
import type { Rule } from '../rule.js';

/** What an action sees while its rule is compiled. */
export interface ActionContext {
  readonly rule: Rule;
  /** True for the second and later rules of a chain. */
  readonly chainLink: boolean;
  /** True while the phase's SecDefaultAction is being applied to the rule. */
  readonly fromDefault: boolean;
  /** Where the action's value starts. */
  readonly location: SourceLocation;
  /** Reports something that does not stop loading. */
  warn(message: string): void;
}

/** What kind of action it is: decides where it may appear (ModSecurity v2's action types). */
export type ActionKind = 'metadata' | 'flow' | 'disruptive' | 'nondisruptive' | 'data';

export interface ActionDef {
  /** The canonical spelling. */
  readonly name: string;
  readonly kind: ActionKind;
  /** 'required', 'optional' or 'none'. */
  readonly param: 'required' | 'optional' | 'none';
  /** Applies the action to the rule; throws ActionError with a reason for a bad parameter. */
  compile(param: string | null, ctx: ActionContext): void;
}

/** A bad action parameter; the compiler adds file, line and column. */
export class ActionError extends Error {
  readonly code = 'WARDEN_ACTION';
  constructor(message: string) {
    super(message);
    this.name = 'ActionError';
  }
}
