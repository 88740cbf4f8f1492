/**
 * @module engine/actions/flags
 * Actions that set how a rule evaluates and logs: t (transformations), capture, multiMatch,
 * log/nolog/auditlog/noauditlog, the sanitise family (masking in the audit log) and xmlns.
 */
import { getTransform, transformNames } from '../transforms/index.js';
import { extendChain } from '../transform-chain.js';
import { ActionError, type ActionDef } from './types.js';
import type { Rule } from '../rule.js';

function sanitise(rule: Rule): NonNullable<Rule['sanitise']> {
  rule.sanitise ??= { args: [], requestHeaders: [], responseHeaders: [], matched: false, matchedBytes: null };
  return rule.sanitise;
}

function flag(name: string, apply: (rule: Rule) => void): ActionDef {
  return { name, kind: 'nondisruptive', param: 'none', compile: (_p, { rule }) => apply(rule) };
}

function sanitiseList(name: string, pick: (s: NonNullable<Rule['sanitise']>) => string[]): ActionDef {
  return { name, kind: 'nondisruptive', param: 'required', compile: (param, { rule }) => void pick(sanitise(rule)).push((param as string).toLowerCase()) };
}

export const flagActions: ActionDef[] = [
  {
    name: 't',
    kind: 'nondisruptive',
    param: 'required',
    compile(param, { rule }) {
      const name = param as string;
      if (name.toLowerCase() === 'none') {
        rule.transforms = null;
        return;
      }
      const def = getTransform(name);
      if (def === undefined) {
        const known = transformNames().filter((n) => n !== 'none');
        throw new ActionError(`unknown transformation "${name}"${known.length ? '' : ''}`);
      }
      rule.transforms = extendChain(rule.transforms, def);
    },
  },
  flag('capture', (r) => void (r.capture = true)),
  flag('multiMatch', (r) => void (r.multiMatch = true)),
  flag('log', (r) => void (r.log = true)),
  flag('nolog', (r) => {
    // nolog implies noauditlog unless auditlog comes later (ModSecurity v2).
    r.log = false;
    r.auditlog = false;
  }),
  flag('auditlog', (r) => void (r.auditlog = true)),
  flag('noauditlog', (r) => void (r.auditlog = false)),
  sanitiseList('sanitiseArg', (s) => s.args),
  sanitiseList('sanitizeArg', (s) => s.args),
  sanitiseList('sanitiseRequestHeader', (s) => s.requestHeaders),
  sanitiseList('sanitizeRequestHeader', (s) => s.requestHeaders),
  sanitiseList('sanitiseResponseHeader', (s) => s.responseHeaders),
  sanitiseList('sanitizeResponseHeader', (s) => s.responseHeaders),
  flag('sanitiseMatched', (r) => void (sanitise(r).matched = true)),
  flag('sanitizeMatched', (r) => void (sanitise(r).matched = true)),
  ...['sanitiseMatchedBytes', 'sanitizeMatchedBytes'].map(
    (name): ActionDef => ({
      name,
      kind: 'nondisruptive',
      param: 'optional',
      compile(param, { rule }) {
        if (param !== null && param !== '' && !/^\d+\/\d+$/.test(param)) throw new ActionError(`${name} takes "N/M" (bytes kept at start/end), got "${param}"`);
        sanitise(rule).matchedBytes = param ?? '';
      },
    }),
  ),
  {
    name: 'xmlns',
    kind: 'nondisruptive',
    param: 'required',
    compile(param, { rule }) {
      const eq = (param as string).indexOf('=');
      if (eq <= 0) throw new ActionError(`xmlns needs prefix=URI, got "${param}"`);
      rule.xmlns ??= new Map();
      rule.xmlns.set((param as string).slice(0, eq), (param as string).slice(eq + 1).replace(/^'|'$/g, ''));
    },
  },
  {
    name: 'exec',
    kind: 'nondisruptive',
    param: 'required',
    compile() {
      throw new ActionError('exec is not supported: Warden does not run external programs from rules (use a jail action instead)');
    },
  },
  ...['prepend', 'append'].map(
    (name): ActionDef => ({
      name,
      kind: 'nondisruptive',
      param: 'required',
      compile: (_p, ctx) => ctx.warn(`${name} has no effect in Warden: content injection is not provided`),
    }),
  ),
];
