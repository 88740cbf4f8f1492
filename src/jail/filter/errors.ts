/**
 * @module jail/filter/errors
 * The errors a filter raises, one class with a stable `code` per kind of problem, each
 * carrying the file and line of the filter option that caused it when it is known, so a
 * user can go straight to the line to fix.
 */

/** Where a filter option came from: the file and the 1-based line of its first line. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

/** Stable codes, for callers that branch on the kind of problem. */
export type FilterErrorCode =
  /** A filter file could not be read or found. */
  | 'WARDEN_FILTER_NOT_FOUND'
  /** The INI text is malformed (section header, option line, duplicate option). */
  | 'WARDEN_FILTER_SYNTAX'
  /** `%(name)s` or `<tag>` interpolation failed (missing option, recursion, depth). */
  | 'WARDEN_FILTER_INTERPOLATION'
  /** A regex is not valid Python `re` syntax, or Warden cannot translate it. */
  | 'WARDEN_FILTER_REGEX'
  /** A failregex has no failure-id group (`<HOST>`, `<ADDR>`, `<F-ID>`, …). */
  | 'WARDEN_FILTER_NO_FAILURE_ID'
  /** A `datepattern` is invalid. */
  | 'WARDEN_FILTER_DATEPATTERN'
  /** Another option value is invalid (`maxlines`, `usedns`, a time zone). */
  | 'WARDEN_FILTER_OPTION'
  /** A guarded filter's worker could not be stopped (jail/filter/guard): the filter is disabled. */
  | 'WARDEN_FILTER_STUCK';

/** A filter that cannot be loaded, or a bad option given to one. */
export class FilterError extends Error {
  readonly code: FilterErrorCode;
  readonly location: SourceLocation | undefined;
  constructor(code: FilterErrorCode, message: string, location?: SourceLocation) {
    super(location === undefined ? message : `${location.file}:${location.line}: ${message}`);
    this.name = 'FilterError';
    this.code = code;
    this.location = location;
  }
}

/** A Python regex that cannot be parsed or translated; `offset` is the position in it. */
export class PyRegexError extends Error {
  readonly code = 'WARDEN_FILTER_REGEX';
  constructor(
    message: string,
    readonly pattern: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} at position ${offset}`);
    this.name = 'PyRegexError';
  }
}
