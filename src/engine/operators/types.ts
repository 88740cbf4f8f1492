/**
 * @module engine/operators/types
 * The contract every operator (`@name param`) follows. Operators are factories: the
 * parameter is parsed and compiled once when rules load, and `evaluate` runs per value.
 * Negation (`!@op`) and macro expansion of the parameter are the engine's job, not the
 * operator's.
 */

/** Where an operator compiled at load time can find files named by its parameter. */
export interface OperatorContext {
  /** Directory of the rule file that holds the rule, for relative paths (@pmFromFile …). */
  readonly baseDir: string;
  /** Reads a file as bytes (latin1 string). Relative paths resolve against `baseDir`. */
  readFile(path: string): string;
  /** Reports something about the parameter that does not stop loading. */
  warn?(message: string): void;
  /** Whether @inspectFile may run external programs (off unless the Waf enables it). */
  readonly allowInspectFile?: boolean;
  /** SecPcreMatchLimit in force where the rule stands (the default when absent). */
  readonly pcreMatchLimit?: number;
}

/**
 * What an operator may tell the transaction while it evaluates. The Transaction itself
 * implements this (no allocation per evaluation).
 */
export interface MatchContext {
  /** True when the rule has the `capture` action: report captures through `capture()`. */
  readonly capturing: boolean;
  /** Index 0 is the whole match, 1–9 the groups (ModSecurity's TX:0 … TX:9). */
  capture(index: number, value: string): void;
  /** A regex hit its match limit (SecPcreMatchLimit); the rule counts as not matched. */
  matchLimitExceeded(): void;
}

/** A compiled operator. */
export interface Operator {
  evaluate(input: string, m: MatchContext): boolean;
  /**
   * An RE2 pattern that matches whenever `evaluate` would return true (optional). The
   * engine runs the screens of many rules on a value in one RE2.Set pass and skips the
   * rules whose screen did not match.
   */
  readonly screen?: string | null;
  /** A looser screen for long values (engine/prescreen LongScreen); `screen` when absent. */
  readonly longScreen?: string | null;
  /** True when `evaluate` returns true for every value (`@rx ^.*$`): no "no match" to remember. */
  readonly matchesAll?: boolean;
}

/** Compiles a parameter; throws `OperatorParamError` for a parameter it cannot use. */
export type OperatorFactory = (param: string, ctx: OperatorContext) => Operator;

/** A parameter the operator cannot use; the rule loader adds file and line. */
export class OperatorParamError extends Error {
  readonly code = 'WARDEN_OPERATOR_PARAM';
  constructor(message: string) {
    super(message);
    this.name = 'OperatorParamError';
  }
}
