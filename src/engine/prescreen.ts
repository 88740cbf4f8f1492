/**
 * @module engine/prescreen
 * One RE2.Set pass instead of dozens of regex calls, and whole rules skipped without
 * looking at their values. CRS applies many `@rx` rules with the same transformations to
 * the same values (every argument, every cookie); calling each regex costs a native call
 * and a UTF-8 conversion per rule and value. At load, the rules whose operator offers a
 * screen (an RE2 pattern that matches whenever the operator would) are grouped by
 * transformation chain, and each group of at least MIN_GROUP becomes one RE2.Set.
 *
 * At run time there are two levels:
 * - per value: the first rule of a group that looks at a value runs the set once; the
 *   answer is kept on the value's Entry, and every rule of the group whose screen did not
 *   match skips its operator for that value;
 * - per rule: when a group's rules only look at request data that cannot change while a
 *   phase runs (arguments, headers, cookies, the URI, bodies — not TX or MATCHED_VARS),
 *   the transaction runs the set once per phase over every value any member looks at, and
 *   a member whose screen matched none of them is not evaluated at all: its targets are
 *   not even collected. Its values are a subset of that union (exclusions only remove), so
 *   no value it would have looked at could have matched.
 * Rules whose screen matched run their operator as usual (for captures, exact semantics
 * and match limits), so results are the same with or without screening.
 *
 * Requests repeat themselves: the same User-Agent, Accept and cookie names arrive again
 * and again. Each group also remembers the answers for recent raw values (before its
 * transformations, which are pure functions of the value), so a value seen before costs
 * an array read: neither its transformations nor the set run again. The answers are kept
 * with the rest of what the Waf knows about a value (engine/no-match-memo FactTable,
 * bounded, starting over when full), from the value's second sighting on.
 */
import RE2 from 're2';
import type { Entry } from './collection.js';
import type { FactTable } from './no-match-memo.js';
import { utf8Of } from './regex/index.js';
import type { CompiledTarget, Rule } from './rule.js';
import { applyChain, type TransformChain } from './transform-chain.js';

/** Smaller groups gain nothing: one set pass costs about what two regex calls cost (measured). */
export const MIN_GROUP = 3;

/**
 * Variables whose values stay the same from the first rule of a phase to the last: the
 * request and response as received. Rules write TX, ENV and the persistent collections,
 * and MATCHED_VAR(S) change with every match, so rules looking at those are screened per
 * value only.
 */
const STABLE = new Set([
  'REQUEST_LINE', 'REQUEST_METHOD', 'REQUEST_PROTOCOL', 'REQUEST_URI', 'REQUEST_URI_RAW', 'REQUEST_FILENAME',
  'REQUEST_BASENAME', 'QUERY_STRING', 'ARGS', 'ARGS_GET', 'ARGS_POST', 'ARGS_NAMES', 'ARGS_GET_NAMES',
  'ARGS_POST_NAMES', 'REQUEST_HEADERS', 'REQUEST_HEADERS_NAMES', 'REQUEST_COOKIES', 'REQUEST_COOKIES_NAMES',
  'REQUEST_BODY', 'XML', 'FILES', 'FILES_NAMES', 'MULTIPART_PART_HEADERS', 'RESPONSE_HEADERS',
  'RESPONSE_HEADERS_NAMES', 'RESPONSE_BODY', 'REMOTE_ADDR', 'SERVER_NAME',
]);

export class ScreenGroup {
  /** The answer "no member can match", shared by every value that matches none (never written to). */
  readonly none: Uint8Array;
  /** The fact "no member may match" about a value (the usual answer): one bit, no array. */
  readonly noneBit: number;

  constructor(
    /** Unique per Waf; the key of cached answers on entries and in transactions. */
    readonly id: number,
    private readonly set: RE2Set,
    readonly size: number,
    /** The transformations every member applies before its operator. */
    readonly chain: TransformChain | null,
    /**
     * Every target a member looks at (each once), when they are all stable within a
     * phase; null when the group is screened per value only.
     */
    readonly targets: readonly CompiledTarget[] | null,
    /** The Waf's facts about values, which keep answers across transactions. */
    readonly facts: FactTable,
  ) {
    this.none = new Uint8Array(size);
    this.noneBit = facts.newBit();
  }

  /**
   * Which members may match `value` (1) and which cannot (0). If RE2 cannot answer (its
   * DFA ran out of memory on a hostile input), every member may match: the rules then run
   * their own operators, so a failing screen never hides a match.
   */
  run(value: string): Uint8Array {
    let hits: number[];
    try {
      hits = this.set.match(utf8Of(value));
    } catch {
      return new Uint8Array(this.size).fill(1);
    }
    // Most values match no member: they share one answer (read only, like every answer).
    if (hits.length === 0) return this.none;
    const out = new Uint8Array(this.size);
    for (let i = 0; i < hits.length; i++) out[hits[i] as number] = 1;
    return out;
  }
}

type RE2Set = InstanceType<typeof RE2.Set>;

/** A rule's place in a screen group. */
export interface RuleScreen {
  readonly group: ScreenGroup;
  readonly index: number;
  /** True when the rule can be skipped whole on the group's per-phase answer. */
  readonly skippable: boolean;
}

/**
 * Groups the rules that can be screened and gives each its place. Rules evaluated in ways
 * the screen does not model (multiMatch, macro-built operators) are left out.
 */
export function buildScreens(rules: readonly Rule[], facts: FactTable): number {
  // Rules with the same transformations look at the same transformed values: one group
  // per chain (and per kind of variables), so a value is transformed and scanned once.
  const byChain = new Map<string, Rule[]>();
  for (const r of rules) {
    if (r.operator === null || r.multiMatch) continue;
    const screen = r.operator.screen;
    if (screen === undefined || screen === null) continue;
    const variables = [...new Set(r.targets.map((t) => t.def.name))].sort().join('|');
    const key = `${r.transforms?.id ?? 0}:${variables}:${stableTargets(r) ? 'stable' : 'other'}`;
    let list = byChain.get(key);
    if (list === undefined) byChain.set(key, (list = []));
    list.push(r);
  }
  let groups = 0;
  let id = 0;
  for (const [key, members] of byChain) {
    if (members.length < MIN_GROUP) continue;
    let set: RE2Set;
    try {
      set = new RE2.Set(members.map((r) => (r.operator as NonNullable<Rule['operator']>).screen as string));
    } catch {
      continue; // A set RE2 will not build: those rules simply run their operators.
    }
    const stable = key.endsWith(':stable');
    const group = new ScreenGroup(id++, set, members.length, members[0]?.transforms ?? null, stable ? unionOfTargets(members) : null, facts);
    members.forEach((r, index) => void (r.screen = { group, index, skippable: stable && !r.negated }));
    groups++;
  }
  return groups;
}

/**
 * The key under which a rule's values can be shared with other rules within a phase: its
 * targets and exclusions as written, when every target is stable within a phase and none
 * counts (`&ARGS`); null otherwise. Set on each rule once the rules are final.
 */
export function sharedTargetsKey(rule: Rule): string | null {
  if (!stableTargets(rule)) return null;
  // XPath selectors (XML:/a:b) are compiled with the rule's own namespace prefixes.
  const xmlns = rule.xmlns === null ? '' : [...rule.xmlns].map(([k, v]) => `${k}=${v}`).join(' ');
  return `${rule.targets.map((t) => t.text).join('|')}\u0000${rule.exclusions.map((t) => t.text).join('|')}\u0000${xmlns}`;
}

/** True when every target of the rule is stable within a phase (and none counts). */
function stableTargets(rule: Rule): boolean {
  return rule.targets.length > 0 && rule.targets.every((t) => !t.counting && STABLE.has(t.def.name));
}

function unionOfTargets(members: readonly Rule[]): CompiledTarget[] {
  const seen = new Map<string, CompiledTarget>();
  for (const r of members) for (const t of r.targets) if (!seen.has(t.text)) seen.set(t.text, t);
  return [...seen.values()];
}

/**
 * The group's answer for a value (before the group's transformations), worked out once
 * per value and group: for a value with a lasting id the Waf's facts keep it across
 * transactions (engine/no-match-memo FactTable); a value seen for the first time keeps it
 * on its Entry for the transaction.
 */
export function screenOf(entry: Entry, group: ScreenGroup): Uint8Array {
  const known = group.facts.of(entry, false);
  if (known !== null) {
    if (known.has(group.noneBit)) return group.none;
    const hits = known.hits?.[group.id];
    if (hits !== undefined) return hits;
  } else {
    const hits = entry.screens?.[group.id];
    if (hits !== undefined) return hits;
  }
  const answer = group.run(group.chain === null ? entry.value : applyChain(group.chain, entry));
  const facts = known ?? group.facts.of(entry, true);
  if (facts === null) (entry.screens ??= [])[group.id] = answer;
  else if (answer === group.none) facts.set(group.noneBit);
  else (facts.hits ??= [])[group.id] = answer;
  return answer;
}
