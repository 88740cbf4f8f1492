/**
 * @module engine/regex/errors
 * The one error a rule regex raises at load: a pattern Warden cannot compile.
 */

/** A pattern that cannot be compiled; `offset` is the position in the pattern when known. */
export class RegexSyntaxError extends Error {
  readonly code = 'WARDEN_REGEX_SYNTAX';
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'RegexSyntaxError';
  }
}
