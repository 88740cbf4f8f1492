/**
 * @module engine/rule-filter
 * Which rules a run-time exclusion (ctl:ruleRemoveById/ByTag/ByMsg and the
 * ruleRemoveTarget* forms) names. A filter is made once, when its rule is loaded, and
 * whether it names a given rule never changes (ids, tags and messages as written are
 * fixed), so each answer is worked out once and kept: CRS removes targets by tag on
 * nearly every request (941010), and testing every later rule's tags against the
 * filter's regex each time cost more than the rules it spared.
 */
import type { CompiledRegex } from './regex/index.js';
import type { Rule } from './rule.js';

export class RuleFilter {
  private readonly known = new Map<Rule, boolean>();

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
    let answer = this.known.get(rule);
    if (answer === undefined) {
      answer = this.test(rule);
      this.known.set(rule, answer);
    }
    return answer;
  }
}
