/**
 * @module engine/match-message
 * The sentence ModSecurity writes for a match ("Pattern match "…" at ARGS:q."), per
 * operator, so Warden's logs read like ModSecurity's and tools that parse them keep working.
 */

/** Parameters longer than this are cut with " ..." (ModSecurity cuts at 252). */
const MAX_PARAM = 252;

function cut(param: string): string {
  return param.length > MAX_PARAM ? `${param.slice(0, MAX_PARAM)} ...` : param;
}

/**
 * The message for a match of `@op param` on `variable` (`value` is what the operator saw,
 * `capture0` TX:0 when the rule captured). `negated` rules describe the required match.
 */
export function matchMessage(
  op: string,
  param: string,
  negated: boolean,
  variable: string,
  value: string,
  capture0: string | null,
): string {
  if (negated) return `Match of "${op} ${cut(param)}" against "${variable}" required.`;
  switch (op.toLowerCase()) {
    case 'rx':
    case 'rxglobal':
      return `Pattern match "${cut(param)}" at ${variable}.`;
    case 'pm':
    case 'pmf':
    case 'pmfromfile':
      return capture0 !== null ? `Matched phrase "${capture0}" at ${variable}.` : `Matched phrase at ${variable}.`;
    case 'streq':
    case 'contains':
    case 'containsword':
    case 'beginswith':
    case 'endswith':
    case 'strmatch':
      return `String match "${cut(param)}" at ${variable}.`;
    case 'within':
      return `String match within "${cut(param)}" at ${variable}.`;
    case 'eq':
    case 'ge':
    case 'gt':
    case 'le':
    case 'lt':
      return `Operator ${op.toUpperCase()} matched ${cut(param)} at ${variable}.`;
    case 'ipmatch':
    case 'ipmatchf':
    case 'ipmatchfromfile':
      return `IPmatch: "${value}" matched at ${variable}.`;
    case 'detectsqli':
      return capture0 !== null
        ? `detected SQLi using libinjection with fingerprint '${capture0}' at ${variable}.`
        : `detected SQLi using libinjection at ${variable}.`;
    case 'detectxss':
      return `detected XSS using libinjection at ${variable}.`;
    case 'validatebyterange':
      return `Found byte(s) in ${variable} outside range: ${cut(param)}.`;
    case 'validateurlencoding':
      return `Invalid URL Encoding at ${variable}.`;
    case 'validateutf8encoding':
      return `Invalid UTF-8 encoding at ${variable}.`;
    case 'unconditionalmatch':
      return `Unconditional match in SecAction.`;
    case 'verifycc':
      return `CC# match "${cut(param)}" at ${variable}.`;
    case 'verifyssn':
      return `SSN match "${cut(param)}" at ${variable}.`;
    case 'verifycpf':
      return `CPF# match "${cut(param)}" at ${variable}.`;
    default:
      return `Operator ${op} matched at ${variable}.`;
  }
}
