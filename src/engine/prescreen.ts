/**
 * @module engine/prescreen
 * One RE2.Set pass instead of dozens of regex calls. CRS applies many `@rx` rules with the
 * same transformations to the same values (every argument, every cookie); calling each
 * regex costs a native call and a UTF-8 conversion per rule. At load, the rules whose
 * operator offers a screen (an RE2 pattern that matches whenever the operator would) are
 * grouped by transformation chain and variables, and each group of at least MIN_GROUP
 * becomes one RE2.Set. At run time the first rule of a group that looks at a value runs the set once;
 * the answer is kept on the value's Entry, and every rule of the group whose screen did not
 * match skips its operator. Rules whose screen matched run their operator as usual (for
 * captures, exact semantics and match limits), so results are the same with or without it.
 */
import RE2 from 're2';
import type { Entry } from './collection.js';
import { utf8Of } from './regex/index.js';
import type { Rule } from './rule.js';

/** Smaller groups gain nothing: one set pass costs about what three regex calls cost (measured). */
export const MIN_GROUP = 3;

export class ScreenGroup {
  constructor(
    /** Unique per Waf; the key of cached answers on entries. */
    readonly id: number,
    private readonly set: RE2Set,
    readonly size: number,
  ) {}

  /**
   * Which members may match `value` (1) and which cannot (0). If RE2 cannot answer (its
   * DFA ran out of memory on a hostile input), every member may match: the rules then run
   * their own operators, so a failing screen never hides a match.
   */
  run(value: string): Uint8Array {
    const out = new Uint8Array(this.size);
    let hits: number[];
    try {
      hits = this.set.match(utf8Of(value));
    } catch {
      out.fill(1);
      return out;
    }
    for (let i = 0; i < hits.length; i++) out[hits[i] as number] = 1;
    return out;
  }
}

type RE2Set = InstanceType<typeof RE2.Set>;

/** A rule's place in a screen group. */
export interface RuleScreen {
  readonly group: ScreenGroup;
  readonly index: number;
}

/**
 * Groups the rules that can be screened and gives each its place. Rules evaluated in ways
 * the screen does not model (multiMatch, macro-built operators) are left out.
 */
export function buildScreens(rules: readonly Rule[]): number {
  // Rules with the same transformations and the same variables look at the same values:
  // one group each, so a value never runs patterns of rules that do not look at it.
  const byChain = new Map<string, Rule[]>();
  for (const r of rules) {
    if (r.operator === null || r.multiMatch) continue;
    const screen = r.operator.screen;
    if (screen === undefined || screen === null) continue;
    const variables = [...new Set(r.targets.map((t) => t.def.name))].sort().join('|');
    const key = `${r.transforms?.id ?? 0}:${variables}`;
    let list = byChain.get(key);
    if (list === undefined) byChain.set(key, (list = []));
    list.push(r);
  }
  let groups = 0;
  let id = 0;
  for (const members of byChain.values()) {
    if (members.length < MIN_GROUP) continue;
    let set: RE2Set;
    try {
      set = new RE2.Set(members.map((r) => (r.operator as NonNullable<Rule['operator']>).screen as string));
    } catch {
      continue; // A set RE2 will not build: those rules simply run their operators.
    }
    const group = new ScreenGroup(id++, set, members.length);
    members.forEach((r, index) => void (r.screen = { group, index }));
    groups++;
  }
  return groups;
}

/** The group's answer for a value, computed once per entry and group. */
export function screenOf(entry: Entry, group: ScreenGroup, value: string): Uint8Array {
  let answers = entry.screens;
  if (answers === null) entry.screens = answers = new Map();
  let hits = answers.get(group.id);
  if (hits === undefined) {
    hits = group.run(value);
    answers.set(group.id, hits);
  }
  return hits;
}
