/**
 * @module engine/operators/verify
 * `@verifyCC @verifySSN @verifyCPF @verifySVNR`: find candidates with the rule's regex, then
 * check each with the number's own checksum (Luhn for cards, the SSA rules for US social
 * security numbers, the mod-11 digits of Brazilian CPFs and Austrian SVNRs).
 *
 * The search is ModSecurity v2's: the regex is compiled with DOTALL and MULTILINE, the
 * whole match (not a group) is checked, and when a candidate fails the search starts again
 * one byte after where that candidate began (so overlapping candidates are tried), with
 * the bytes before still visible to `^`, `\b` and the like. With `capture`, v2 sets TX:0 up
 * to TX:n (n the number of groups that took part) all to the whole match; we do the same.
 * @verifySVNR exists only in ModSecurity v3; it follows the same search here and sets TX:0.
 */
import { compileRegex, RegexSyntaxError, type CompiledRegex } from '../regex/index.js';
import { OperatorParamError, type MatchContext, type OperatorFactory } from './types.js';

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Luhn (ISO/IEC 7812) over the digits of `s`, other bytes skipped, as v2's luhn_verify:
 * no digits is invalid.
 */
export function luhnValid(s: string): boolean {
  let sum = 0;
  let digits = 0;
  // From the right: every second digit is doubled (and 9 taken off when above 9).
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) continue;
    let d = c - 0x30;
    if (digits % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    digits++;
  }
  return digits > 0 && sum % 10 === 0;
}

/**
 * A US social security number as v2's ssn_verify judges it: exactly nine digits (others
 * ignored); not all the same, not 012345678-style ascending; area not 000, 666 or 740+;
 * group not 00; serial not 0000.
 */
export function ssnValid(s: string): boolean {
  const num: number[] = [];
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) continue;
    if (digits < 9) num.push(c - 0x30);
    digits++;
  }
  if (digits !== 9) return false;
  let ascending = 0;
  let repeated = 0;
  for (let i = 0; i < 8; i++) {
    const a = num[i] as number;
    const b = num[i + 1] as number;
    if (a === b - 1) ascending++;
    if (a === b) repeated++;
  }
  if (ascending === 8 || repeated === 8) return false;
  const area = (num[0] as number) * 100 + (num[1] as number) * 10 + (num[2] as number);
  const group = (num[3] as number) * 10 + (num[4] as number);
  const serial = (num[5] as number) * 1000 + (num[6] as number) * 100 + (num[7] as number) * 10 + (num[8] as number);
  if (area === 0 || group === 0 || serial === 0) return false;
  return area < 740 && area !== 666;
}

/**
 * The first `count` digits of `s`, read as v2 reads C strings: a NUL ends the number.
 * Null when there are fewer.
 */
function leadingDigits(s: string, count: number): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < s.length && out.length < count; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) break;
    if (isDigit(c)) out.push(c - 0x30);
  }
  return out.length === count ? out : null;
}

function allSame(d: readonly number[]): boolean {
  return d.every((x) => x === d[0]);
}

function isSequence(d: readonly number[], seq: string): boolean {
  return d.every((x, i) => x === seq.charCodeAt(i) - 0x30);
}

/** The check digit of the CPF mod-11 scheme over `d[0, n)` with weights n+1 … 2. */
function cpfCheck(d: readonly number[], n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (d[i] as number) * (n + 1 - i);
  const r = sum % 11;
  return r < 2 ? 0 : 11 - r;
}

/**
 * A Brazilian CPF as v2's cpf_verify judges it: the first eleven digits (others ignored,
 * more digits allowed), not a known dummy (all one digit, 01234567890), and both mod-11
 * check digits right.
 */
export function cpfValid(s: string): boolean {
  const d = leadingDigits(s, 11);
  if (d === null || allSame(d) || isSequence(d, '01234567890')) return false;
  return cpfCheck(d, 9) === d[9] && cpfCheck(d, 10) === d[10];
}

const SVNR_WEIGHTS = [3, 7, 9, 0, 5, 8, 4, 2, 1, 6];

/**
 * An Austrian social insurance number (SVNR) as ModSecurity v3's VerifySVNR judges it: the
 * first ten digits, not a known dummy, and the fourth digit equal to the weighted sum of
 * the others mod 11 (10 counting as 0). v3 means to refuse 8888888888 and 9999999999 too
 * but its loop stops short of them; we refuse them.
 */
export function svnrValid(s: string): boolean {
  const d = leadingDigits(s, 10);
  if (d === null || allSame(d) || isSequence(d, '0123456789') || isSequence(d, '1234567890')) return false;
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += (d[i] as number) * (SVNR_WEIGHTS[i] as number);
  return sum % 11 % 10 === d[3];
}

/**
 * How much re-searching one evaluation may do, in bytes handed to the regex, before it
 * gives up as a PCRE match limit would. Every failed candidate costs a search of the rest
 * of the value (the regex API searches from the start of a string), so a value full of
 * near-miss numbers would otherwise cost time quadratic in its length.
 */
function searchBudget(length: number): number {
  return 32 * length + 65536;
}

interface CandidateSearch {
  readonly first: CompiledRegex;
  readonly next: CompiledRegex;
}

/**
 * Compiles the rule's pattern twice, wrapped so that one exec on a string gives both the
 * leftmost match and where it starts: `\A([\s\S]*?)(P)` — group 1 is everything before the
 * match, group 2 the match. `next` first consumes one byte, so run on the value from a
 * failed candidate's start it finds the leftmost match starting after it, while that byte
 * stays visible as context.
 */
function compileCandidates(name: string, param: string): CandidateSearch {
  const compile = (pattern: string): CompiledRegex => {
    try {
      return compileRegex(pattern);
    } catch (err) {
      if (err instanceof RegexSyntaxError) throw new OperatorParamError(`@${name}: invalid regular expression: ${err.message}`);
      throw err;
    }
  };
  if (param === '') throw new OperatorParamError(`@${name} needs a regular expression that finds candidate numbers`);
  // Compiled alone first, so that an error names the user's pattern, not our wrapper.
  compile(`(?sm)${param}`);
  return {
    first: compile(`\\A([\\s\\S]*?)((?sm:${param}))`),
    next: compile(`\\A[\\s\\S]([\\s\\S]*?)((?sm:${param}))`),
  };
}

type Checker = (candidate: string) => boolean;

function verifier(name: string, check: Checker, captureGroups: boolean): OperatorFactory {
  return (param) => {
    const search = compileCandidates(name, param);
    return {
      evaluate(input: string, m: MatchContext): boolean {
        const n = input.length;
        // v2 loops while the search offset is inside the value: nothing to do when empty.
        if (n === 0) return false;
        let base = 0;
        let skip = 0;
        let spent = n;
        const budget = searchBudget(n);
        let groups = search.first.exec(input);
        while (groups !== null) {
          const candidate = groups[2] ?? '';
          const start = base + skip + (groups[1] ?? '').length;
          // PCRE_NOTEMPTY: an empty match is no candidate.
          if (candidate.length > 0 && check(candidate)) {
            if (m.capturing) capture(m, groups, candidate, captureGroups);
            return true;
          }
          if (start + 1 >= n) return false;
          base = start;
          skip = 1;
          spent += n - base;
          if (spent > budget) {
            m.matchLimitExceeded();
            return false;
          }
          groups = search.next.exec(input.slice(base));
        }
        return false;
      },
    };
  };
}

function capture(m: MatchContext, groups: readonly string[], candidate: string, allGroups: boolean): void {
  if (!allGroups) {
    m.capture(0, candidate);
    return;
  }
  // PCRE's count: 1 + the highest group that took part (an empty group looks absent here).
  let count = 1;
  for (let g = groups.length - 1; g >= 3; g--) {
    if (groups[g] !== '') {
      count = g - 1;
      break;
    }
  }
  for (let i = 0; i < count && i < 10; i++) m.capture(i, candidate);
}

/** `@verifyCC regex`: a candidate that passes the Luhn check (a plausible card number). */
export const verifyCC: OperatorFactory = verifier('verifyCC', luhnValid, true);
/** `@verifySSN regex`: a candidate that is a plausible US social security number. */
export const verifySSN: OperatorFactory = verifier('verifySSN', ssnValid, true);
/** `@verifyCPF regex`: a candidate that is a valid Brazilian CPF. */
export const verifyCPF: OperatorFactory = verifier('verifyCPF', cpfValid, true);
/** `@verifySVNR regex`: a candidate that is a valid Austrian SVNR (ModSecurity v3). */
export const verifySVNR: OperatorFactory = verifier('verifySVNR', svnrValid, false);
