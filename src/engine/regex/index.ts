/**
 * @module engine/regex
 * Compiles a PCRE pattern, as SecLang rules write it, into a matcher with a linear-time
 * guarantee. (Initial version: patterns go to RE2 as they are; the PCRE translator
 * replaces this.)
 */
import RE2 from 're2';

/** A compiled rule regex. Inputs are byte strings (one char per byte). */
export interface CompiledRegex {
  /** The pattern as the rule wrote it. */
  readonly source: string;
  /** True when the pattern matches somewhere in `input`. */
  test(input: string): boolean;
  /** The first match: index 0 the whole match, then the groups ('' for a group that did not take part). */
  exec(input: string): string[] | null;
}

/** A pattern that cannot be compiled; `offset` is the position in the pattern when known. */
export class RegexSyntaxError extends Error {
  readonly code = 'WARDEN_REGEX_SYNTAX';
  constructor(message: string, readonly offset?: number) {
    super(message);
    this.name = 'RegexSyntaxError';
  }
}

export interface RegexOptions {
  /** Match case-insensitively (as PCRE_CASELESS). */
  readonly caseless?: boolean;
}

export function compileRegex(pattern: string, options: RegexOptions = {}): CompiledRegex {
  let re: RE2;
  try {
    re = new RE2(pattern, options.caseless ? 'i' : '');
  } catch (err) {
    throw new RegexSyntaxError((err as Error).message);
  }
  return {
    source: pattern,
    test: (input) => re.test(input),
    exec: (input) => {
      const m = re.exec(input);
      if (m === null) return null;
      return Array.from(m, (g) => g ?? '');
    },
  };
}
