/**
 * @module seclang/errors
 * Errors of rule loading. Every problem carries the file, line and column a user must look
 * at; a load collects all problems of all files before it fails, so one run shows them all.
 */

/** A place in a rule file (line and column are 1-based). */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

/** One problem in a rule file: where it is and why it is wrong. */
export class RuleParseError extends Error {
  readonly code = 'WARDEN_RULE_PARSE';
  constructor(
    readonly location: SourceLocation,
    readonly reason: string,
  ) {
    super(`${formatLocation(location)}: ${reason}`);
    this.name = 'RuleParseError';
  }
}

/** Loading failed: every problem found, in file order. */
export class RuleLoadError extends Error {
  readonly code = 'WARDEN_RULE_LOAD';
  constructor(readonly errors: readonly RuleParseError[]) {
    super(
      errors.length === 1
        ? (errors[0] as RuleParseError).message
        : `${errors.length} errors in rules:\n${errors.map((e) => `  ${e.message}`).join('\n')}`,
    );
    this.name = 'RuleLoadError';
  }
}

/** A problem that does not stop loading but that a user should know about. */
export interface RuleWarning {
  readonly location: SourceLocation;
  readonly message: string;
}
