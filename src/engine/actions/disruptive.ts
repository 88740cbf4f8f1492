/**
 * @module engine/actions/disruptive
 * Disruptive actions (deny, drop, block, pass, allow, redirect, proxy) and the two that
 * shape them (status, pause). A rule has at most one disruptive action: the last one
 * written wins, which is also how a rule overrides its SecDefaultAction.
 */
import { compileMacro, MacroError } from '../macro.js';
import { ActionError, type ActionDef } from './types.js';
import type { DisruptiveKind } from '../rule.js';

function disruptive(name: DisruptiveKind): ActionDef {
  return { name, kind: 'disruptive', param: 'none', compile: (_p, { rule }) => void (rule.disruptive = name) };
}

export const disruptiveActions: ActionDef[] = [
  disruptive('deny'),
  disruptive('drop'),
  disruptive('block'),
  disruptive('pass'),
  {
    name: 'allow',
    kind: 'disruptive',
    param: 'optional',
    compile(param, { rule }) {
      rule.disruptive = 'allow';
      const p = (param ?? '').toLowerCase();
      if (p === '') rule.allowScope = 'transaction';
      else if (p === 'phase') rule.allowScope = 'phase';
      else if (p === 'request') rule.allowScope = 'request';
      else throw new ActionError(`allow takes no parameter, "phase" or "request", got "${param}"`);
    },
  },
  {
    name: 'redirect',
    kind: 'disruptive',
    param: 'required',
    compile(param, { rule }) {
      rule.disruptive = 'redirect';
      try {
        rule.redirect = compileMacro(param as string);
      } catch (err) {
        if (err instanceof MacroError) throw new ActionError(err.message);
        throw err;
      }
    },
  },
  {
    name: 'proxy',
    kind: 'disruptive',
    param: 'required',
    compile() {
      throw new ActionError('proxy is not supported: route requests to other upstreams in warden.yaml');
    },
  },
  {
    name: 'status',
    kind: 'nondisruptive',
    param: 'required',
    compile(param, { rule }) {
      if (!/^\d{3}$/.test(param as string) || Number(param) < 100) throw new ActionError(`status must be an HTTP status code, got "${param}"`);
      rule.status = Number(param);
    },
  },
  {
    name: 'pause',
    kind: 'nondisruptive',
    param: 'required',
    compile(param, { rule }) {
      if (!/^\d+$/.test(param as string)) throw new ActionError(`pause needs milliseconds, got "${param}"`);
      rule.pause = Number(param);
    },
  },
];
