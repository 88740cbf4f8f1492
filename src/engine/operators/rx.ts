/**
 * @module engine/operators/rx
 * `@rx` and `@rxGlobal`: regular expression match (PCRE syntax, bytes, never stalled by
 * the input; see engine/regex), with captures into TX:0–TX:9.
 *
 * Both compile the pattern as ModSecurity v2 compiles `@rx`: PCRE_DOTALL |
 * PCRE_DOLLAR_ENDONLY (`.` matches a newline, `$` is the very end unless (?m)).
 * - `@rx` takes the first match; with `capture`, TX:0 is the match and TX:n group n, for
 *   n up to the highest group that took part (PCRE's return count), '' for a group in
 *   between that did not take part — as ModSecurity v2.
 * - `@rxGlobal` (ModSecurity v3) takes every match, searching on from the end of the
 *   previous one (after an empty match, first a non-empty match at the same place, else one
 *   byte on), and numbers the captures of all matches in one sequence: the groups of the
 *   second match follow those of the first. Groups that did not take part are skipped.
 *   Only TX:0–TX:9 are filled.
 * A spent match limit (SecPcreMatchLimit) counts as no match and is reported through
 * `matchLimitExceeded()` (TX:MSC_PCRE_LIMITS_EXCEEDED).
 */
import {
  compileRegex,
  DEFAULT_MATCH_LIMIT,
  MODSECURITY_RX_FLAGS,
  RegexSyntaxError,
  type CompiledRegex,
  type RegexMatch,
} from '../regex/index.js';
import { OperatorParamError, type MatchContext, type OperatorContext, type OperatorFactory } from './types.js';

/** ModSecurity passes PCRE an ovector of 30 ints: ten offset pairs, TX:0–TX:9. */
const MAX_CAPTURES = 10;

function compile(name: string, param: string, ctx: OperatorContext): CompiledRegex {
  const limit = ctx.pcreMatchLimit;
  let re: CompiledRegex;
  try {
    re = compileRegex(param, { ...MODSECURITY_RX_FLAGS, matchLimit: limit !== undefined && limit > 0 ? limit : DEFAULT_MATCH_LIMIT });
  } catch (err) {
    if (err instanceof RegexSyntaxError) throw new OperatorParamError(`invalid regular expression: ${err.message}`);
    throw err;
  }
  // Patterns no linear-time engine can run are said at load, not discovered in production.
  if (re.warning !== undefined && re.warning !== null) ctx.warn?.(`@${name}: ${re.warning}`);
  return re;
}

/** PCRE's return count: one more than the highest group that took part. */
function returnCount(m: RegexMatch): number {
  let rc = m.groups.length;
  while (rc > 1 && m.groups[rc - 1] === undefined) rc--;
  return rc;
}

/**
 * Patterns that match every input whole under PCRE_DOTALL | PCRE_DOLLAR_ENDONLY (CRS's
 * 920450 runs `^.*$` with capture on every header name only to copy it into TX:0).
 */
const WHOLE_INPUT = new Set(['^.*$', '^.*', '.*', '^(.*)$', '(.*)']);

export const rx: OperatorFactory = (param, ctx) => {
  const re = compile('rx', param, ctx);
  if (WHOLE_INPUT.has(param)) {
    const group = param.includes('(');
    return {
      screen: re.screenSource,
      matchesAll: true,
      evaluate(input: string, m: MatchContext): boolean {
        if (m.capturing) {
          m.capture(0, input);
          if (group) m.capture(1, input);
        }
        return true;
      },
    };
  }
  return {
    screen: re.screenSource,
    longScreen: re.longScreenSource,
    evaluate(input: string, m: MatchContext): boolean {
      if (!m.capturing) {
        const status = re.check(input);
        if (status === 'limit') m.matchLimitExceeded();
        return status === 'match';
      }
      const r = re.match(input);
      if (r === 'limit') {
        m.matchLimitExceeded();
        return false;
      }
      if (r === 'nomatch') return false;
      const rc = Math.min(returnCount(r), MAX_CAPTURES);
      for (let i = 0; i < rc; i++) m.capture(i, r.groups[i] ?? '');
      return true;
    },
  };
};

export const rxGlobal: OperatorFactory = (param, ctx) => {
  const re = compile('rxGlobal', param, ctx);
  const empty = param.length === 0;
  return {
    evaluate(input: string, m: MatchContext): boolean {
      if (empty) return true;
      // ModSecurity v3's Regex::searchGlobal, step by step.
      let count = 0;
      let offset = 0;
      let prevEmpty = false;
      const n = input.length;
      while (offset <= n) {
        const r = re.match(input, offset, prevEmpty ? { anchored: true, notEmptyAtStart: true } : undefined);
        if (r === 'limit') {
          m.matchLimitExceeded();
          return false;
        }
        if (r === 'nomatch') {
          if (!prevEmpty) break;
          // The empty match had no non-empty sibling: move one byte on.
          offset++;
          prevEmpty = false;
          continue;
        }
        const base = count;
        const rc = returnCount(r);
        for (let i = 0; i < rc; i++) {
          const g = r.groups[i];
          if (g === undefined) continue;
          count++;
          if (m.capturing && base + i < MAX_CAPTURES) m.capture(base + i, g);
        }
        if (r.end > r.index) {
          offset = r.end;
          prevEmpty = false;
        } else if (offset === n) {
          offset++;
        } else {
          // v3 retries at the search's start offset, not at the empty match's position.
          prevEmpty = true;
        }
      }
      return count > 0;
    },
  };
};
