/**
 * @module engine/actions/flow
 * Flow actions: phase, chain, skip, skipAfter. They decide where a rule runs and which
 * rules run after it.
 */
import { ActionError, type ActionDef } from './types.js';

const PHASE_NAMES: Record<string, number> = { request: 2, response: 4, logging: 5 };

export const flowActions: ActionDef[] = [
  {
    name: 'phase',
    kind: 'flow',
    param: 'required',
    compile(param, { rule }) {
      const p = (param as string).toLowerCase();
      const phase = PHASE_NAMES[p] ?? (/^[1-5]$/.test(p) ? Number(p) : 0);
      if (phase === 0) throw new ActionError(`phase must be 1–5, request, response or logging, got "${param}"`);
      rule.phase = phase;
    },
  },
  { name: 'chain', kind: 'flow', param: 'none', compile: (_p, { rule }) => void (rule.chained = true) },
  {
    name: 'skip',
    kind: 'flow',
    param: 'required',
    compile(param, { rule }) {
      if (!/^\d+$/.test(param as string) || Number(param) < 1) throw new ActionError(`skip needs a number of rules of at least 1, got "${param}"`);
      rule.skip = Number(param);
    },
  },
  {
    name: 'skipAfter',
    kind: 'flow',
    param: 'required',
    compile(param, { rule }) {
      if (param === '') throw new ActionError('skipAfter needs a marker or rule id');
      rule.skipAfter = param;
    },
  },
];
