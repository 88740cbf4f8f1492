/**
 * @module seclang
 * SecLang text → directives. Pure parsing: knows nothing of the engine.
 */
export * from './errors.js';
export * from './parser.js';
export type { ListItem, TargetSyntax, OperatorSyntax, Locator } from './rule-syntax.js';
export { parseList, parseTargets, parseOperator, parseActions } from './rule-syntax.js';
export { directiveSpec, directiveNames, type DirectiveSpec } from './directives.js';
