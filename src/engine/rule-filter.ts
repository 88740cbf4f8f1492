/**
 * @module engine/rule-filter
 * Which rules a run-time exclusion (ctl:ruleRemoveById/ByTag/ByMsg and the
 * ruleRemoveTarget* forms) names. A filter is made once, when its rule is loaded, and
 * whether it names a given rule never changes (ids, tags and messages as written are
 * fixed), so each answer is worked out once and kept: CRS removes targets by tag on
 * nearly every request (941010), and testing every later rule's tags against the
 * filter's regex each time cost more than the rules it spared. The answers are kept by
 * the rule's place in its Waf (Rule.index), read on every rule of a request that has a
 * removal: an array read, where a Map keyed by the rule cost a hash lookup each.
 */
import type { CompiledRegex } from './regex/index.js';
import type { Rule } from './rule.js';

export class RuleFilter {
  /** By Rule.index: 0 not yet known, 1 named, 2 not named. */
  private known = new Uint8Array(0);

  private constructor(private readonly test: (rule: Rule) => boolean) {}

  /** Rules whose id falls in one of the ranges (inclusive). */
  static byId(ranges: ReadonlyArray<readonly [number, number]>): RuleFilter {
    return new RuleFilter((rule) => ranges.some(([lo, hi]) => rule.id >= lo && rule.id <= hi));
  }

  /** Rules with a tag (as written) that the regex matches. */
  static byTag(re: CompiledRegex): RuleFilter {
    return new RuleFilter((rule) => rule.tags.some((t) => re.test(t.source)));
  }

  /** Rules whose msg (as written) the regex matches. */
  static byMsg(re: CompiledRegex): RuleFilter {
    return new RuleFilter((rule) => rule.msg !== null && re.test(rule.msg.source));
  }

  /** True when the filter names this rule (a chain is named by its first rule). */
  selects(rule: Rule): boolean {
    const at = rule.index;
    if (at < 0) return this.test(rule); // a rule of no Waf (yet): nothing to keep it by
    const known = at < this.known.length ? (this.known[at] as number) : 0;
    if (known !== 0) return known === 1;
    const answer = this.test(rule);
    if (at >= this.known.length) {
      const grown = new Uint8Array(Math.max(at + 1, this.known.length * 2, 64));
      grown.set(this.known);
      this.known = grown;
    }
    this.known[at] = answer ? 1 : 2;
    return answer;
  }
}
