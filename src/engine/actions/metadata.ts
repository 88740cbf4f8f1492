/**
 * @module engine/actions/metadata
 * Metadata actions: id, msg, logdata, tag, severity, ver, rev, accuracy, maturity. They
 * describe a rule for logs and exclusions; msg, logdata and tag may hold macros, expanded
 * when a match is logged.
 */
import { compileMacro, MacroError } from '../macro.js';
import { SEVERITY_NAMES } from '../rule.js';
import { ActionError, type ActionDef } from './types.js';

function macro(param: string): ReturnType<typeof compileMacro> {
  try {
    return compileMacro(param);
  } catch (err) {
    if (err instanceof MacroError) throw new ActionError(err.message);
    throw err;
  }
}

function level(name: string, param: string): number {
  if (!/^[1-9]$/.test(param)) throw new ActionError(`${name} must be a number from 1 to 9, got "${param}"`);
  return Number(param);
}

export const metadataActions: ActionDef[] = [
  {
    name: 'id',
    kind: 'metadata',
    param: 'required',
    compile(param, { rule }) {
      const p = param as string;
      if (!/^\d+$/.test(p) || Number(p) <= 0 || Number(p) > 0xffffffff) {
        throw new ActionError(`id must be a whole number from 1 to 4294967295, got "${p}"`);
      }
      rule.id = Number(p);
    },
  },
  { name: 'msg', kind: 'metadata', param: 'required', compile: (param, { rule }) => void (rule.msg = macro(param as string)) },
  { name: 'logdata', kind: 'metadata', param: 'required', compile: (param, { rule }) => void (rule.logdata = macro(param as string)) },
  { name: 'tag', kind: 'metadata', param: 'required', compile: (param, { rule }) => void rule.tags.push(macro(param as string)) },
  {
    name: 'severity',
    kind: 'metadata',
    param: 'required',
    compile(param, { rule }) {
      const p = (param as string).toUpperCase();
      const byName = SEVERITY_NAMES.indexOf(p as (typeof SEVERITY_NAMES)[number]);
      if (byName >= 0) rule.severity = byName;
      else if (/^[0-7]$/.test(p)) rule.severity = Number(p);
      else throw new ActionError(`severity must be 0–7 or one of ${SEVERITY_NAMES.join(', ')}, got "${param}"`);
    },
  },
  { name: 'ver', kind: 'metadata', param: 'required', compile: (param, { rule }) => void (rule.ver = param) },
  { name: 'rev', kind: 'metadata', param: 'required', compile: (param, { rule }) => void (rule.rev = param) },
  { name: 'accuracy', kind: 'metadata', param: 'required', compile: (param, { rule }) => void (rule.accuracy = level('accuracy', param as string)) },
  { name: 'maturity', kind: 'metadata', param: 'required', compile: (param, { rule }) => void (rule.maturity = level('maturity', param as string)) },
];
