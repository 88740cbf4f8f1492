/**
 * @module engine/actions/ctl
 * `ctl:option=value`: changes to the engine's behaviour for the rest of one transaction
 * (rule engine mode, body processing, audit logging) and run-time rule exclusions
 * (ruleRemoveById/ByTag/ByMsg, ruleRemoveTargetById/ByTag/ByMsg), as CRS exclusion rules use.
 */
import { parseTargets } from '../../seclang/rule-syntax.js';
import { compileRegex } from '../regex/index.js';
import { RuleFilter } from '../rule-filter.js';
import { resolveTarget, type TargetRef } from '../variables.js';
import { ActionError, type ActionDef } from './types.js';
import type { RuleAction } from '../rule.js';
import type { Transaction } from '../transaction.js';

function onOff(option: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new ActionError(`ctl:${option} takes On or Off, got "${value}"`);
}

function oneOf<T extends string>(option: string, value: string, values: readonly T[]): T {
  const found = values.find((v) => v.toLowerCase() === value.toLowerCase());
  if (found === undefined) throw new ActionError(`ctl:${option} takes one of ${values.join(', ')}, got "${value}"`);
  return found;
}

function count(option: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new ActionError(`ctl:${option} takes a whole number, got "${value}"`);
  return Number(value);
}

/** An id, a range `a-b`, or a list of them separated by spaces or commas. */
export function parseIdRanges(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new ActionError(`expected a rule id or a range like 900000-900999, got "${part}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new ActionError(`range ${part} ends before it starts`);
    out.push([lo, hi]);
  }
  if (out.length === 0) throw new ActionError('expected a rule id or a range');
  return out;
}

/** `ARGS:foo|REQUEST_HEADERS:x` as written in a ctl or SecRuleUpdateTarget* argument. */
function targetRefs(text: string): TargetRef[] {
  const parsed = parseTargets(text, () => ({ file: '', line: 0, column: 0 }));
  if (parsed.errors.length > 0) throw new ActionError((parsed.errors[0] as Error).message.replace(/^:0:0: /, ''));
  return parsed.targets.map((t) => {
    try {
      return resolveTarget(t.name, t.selector, t.counting);
    } catch (err) {
      throw new ActionError((err as Error).message);
    }
  });
}

function split(option: string, value: string): [string, string] {
  const semi = value.indexOf(';');
  if (semi <= 0 || semi === value.length - 1) throw new ActionError(`ctl:${option} takes RULE;TARGET (e.g. 942100;ARGS:password), got "${value}"`);
  return [value.slice(0, semi), value.slice(semi + 1)];
}

function regex(option: string, source: string) {
  try {
    return compileRegex(source);
  } catch (err) {
    throw new ActionError(`ctl:${option}: invalid regular expression: ${(err as Error).message}`);
  }
}

type Apply = (tx: Transaction) => void;

const options: Record<string, (value: string) => Apply> = {
  ruleengine: (v) => {
    const mode = oneOf('ruleEngine', v, ['On', 'Off', 'DetectionOnly'] as const);
    return (tx) => void (tx.ruleEngine = mode);
  },
  requestbodyaccess: (v) => {
    const on = onOff('requestBodyAccess', v);
    return (tx) => void (tx.requestBodyAccess = on);
  },
  requestbodylimit: (v) => {
    const n = count('requestBodyLimit', v);
    return (tx) => void (tx.requestBodyLimit = n);
  },
  requestbodyprocessor: (v) => {
    const p = oneOf('requestBodyProcessor', v, ['URLENCODED', 'MULTIPART', 'XML', 'JSON'] as const);
    return (tx) => void (tx.reqbodyProcessor = p);
  },
  forcerequestbodyvariable: (v) => {
    const on = onOff('forceRequestBodyVariable', v);
    return (tx) => void (tx.forceRequestBodyVariable = on);
  },
  responsebodyaccess: (v) => {
    const on = onOff('responseBodyAccess', v);
    return (tx) => void (tx.responseBodyAccess = on);
  },
  responsebodylimit: (v) => {
    const n = count('responseBodyLimit', v);
    return (tx) => void (tx.responseBodyLimit = n);
  },
  auditengine: (v) => {
    const mode = oneOf('auditEngine', v, ['On', 'Off', 'RelevantOnly'] as const);
    return (tx) => void (tx.auditEngine = mode);
  },
  auditlogparts: (v) => {
    if (!/^[+-]?[A-KZ]+$/.test(v)) throw new ActionError(`ctl:auditLogParts takes audit log part letters A–K and Z, optionally with + or -, got "${v}"`);
    return (tx) => tx.changeAuditLogParts(v);
  },
  debugloglevel: (v) => {
    const n = count('debugLogLevel', v);
    return (tx) => void (tx.debugLogLevel = n);
  },
  parsexmlintoargs: (v) => {
    const mode = oneOf('parseXmlIntoArgs', v, ['On', 'Off', 'OnlyArgs'] as const);
    return (tx) => void (tx.parseXmlIntoArgs = mode);
  },
  ruleremovebyid: (v) => {
    const filter = RuleFilter.byId(parseIdRanges(v));
    return (tx) => tx.removeRules(filter);
  },
  ruleremovebytag: (v) => {
    const filter = RuleFilter.byTag(regex('ruleRemoveByTag', v));
    return (tx) => tx.removeRules(filter);
  },
  ruleremovebymsg: (v) => {
    const filter = RuleFilter.byMsg(regex('ruleRemoveByMsg', v));
    return (tx) => tx.removeRules(filter);
  },
  ruleremovetargetbyid: (v) => {
    const [rule, targets] = split('ruleRemoveTargetById', v);
    const filter = RuleFilter.byId(parseIdRanges(rule));
    const refs = targetRefs(targets);
    return (tx) => tx.removeTargets(filter, refs);
  },
  ruleremovetargetbytag: (v) => {
    const [tag, targets] = split('ruleRemoveTargetByTag', v);
    const filter = RuleFilter.byTag(regex('ruleRemoveTargetByTag', tag));
    const refs = targetRefs(targets);
    return (tx) => tx.removeTargets(filter, refs);
  },
  ruleremovetargetbymsg: (v) => {
    const [msg, targets] = split('ruleRemoveTargetByMsg', v);
    const filter = RuleFilter.byMsg(regex('ruleRemoveTargetByMsg', msg));
    const refs = targetRefs(targets);
    return (tx) => tx.removeTargets(filter, refs);
  },
};

export const ctlAction: ActionDef = {
  name: 'ctl',
  kind: 'nondisruptive',
  param: 'required',
  compile(param, ctx) {
    const p = param as string;
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ActionError(`ctl needs option=value, got "${p}"`);
    const option = p.slice(0, eq);
    const build = options[option.toLowerCase()];
    if (build === undefined) {
      if (/^hash(engine|enforcement)$/i.test(option)) {
        ctx.warn(`ctl:${option} has no effect: HMAC token signing is not provided`);
        return;
      }
      throw new ActionError(`unknown ctl option "${option}"`);
    }
    const apply = build(p.slice(eq + 1));
    const action: RuleAction = { name: 'ctl', param: p, execute: (tx) => apply(tx) };
    ctx.rule.actions.push(action);
  },
};

export { targetRefs };
