/**
 * @module engine/regex/v8flags
 * Turns on, at import, the two V8 flags that make Irregexp safe for rule regexes, and
 * checks that they took effect:
 *
 * - `--enable-experimental-regexp-engine` gives RegExp the `l` flag. We only use it to
 *   ask V8, at load, whether its linear engine accepts a translated pattern.
 * - `--enable-experimental-regexp-engine-on-excessive-backtracks` makes an Irregexp
 *   search that backtracks too much (V8's default: 50,000 backtracks) restart on the
 *   linear engine, for patterns that engine accepts.
 *
 * Setting V8 flags after start-up is allowed by `v8.setFlagsFromString` and works on
 * Node 20; the checks below guard against a Node whose V8 drops or renames them. If either
 * check fails, `irregexpSafe` is false and every pattern goes to RE2 instead.
 */
import v8 from 'node:v8';

export interface V8RegexFlags {
  /** RegExp accepts the `l` flag (so we can ask which patterns the linear engine takes). */
  readonly linearFlag: boolean;
  /** Excessive backtracking falls back to the linear engine (measured, see below). */
  readonly fallback: boolean;
  /** Both hold: Irregexp may run patterns the linear engine accepts. */
  readonly irregexpSafe: boolean;
  /** What went wrong, when something did. */
  readonly problem: string | undefined;
}

/** The `l` flag, in a variable: linters rightly reject it as a literal RegExp flag. */
const LINEAR = 'l';

function acceptsLinearFlag(): boolean {
  try {
    new RegExp('a', LINEAR);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the backtrack fallback is live. `(a+)+$` against a's and "!" costs Irregexp
 * 2^n backtracks; with the fallback, every n past V8's threshold costs about the same
 * (threshold, then a linear run). So compare n = 17 with n = 21: about 1x with the
 * fallback, about 16x without. The slower case costs ~2M backtracks (milliseconds) once.
 */
function fallbackIsLive(): boolean {
  const re = new RegExp('(a+)+$');
  const time = (n: number): number => {
    const s = `${'a'.repeat(n)}!`;
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      re.exec(s);
      best = Math.min(best, Number(process.hrtime.bigint() - t0));
    }
    return best;
  };
  const small = time(17);
  const large = time(21);
  return large < small * 4;
}

function setUp(): V8RegexFlags {
  if (process.env.WARDEN_REGEX_NO_IRREGEXP === '1') {
    return { linearFlag: false, fallback: false, irregexpSafe: false, problem: 'disabled by WARDEN_REGEX_NO_IRREGEXP=1' };
  }
  try {
    v8.setFlagsFromString('--enable-experimental-regexp-engine');
    v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  } catch (err) {
    return { linearFlag: false, fallback: false, irregexpSafe: false, problem: `v8.setFlagsFromString failed: ${(err as Error).message}` };
  }
  const linearFlag = acceptsLinearFlag();
  if (!linearFlag) {
    return { linearFlag, fallback: false, irregexpSafe: false, problem: 'V8 did not accept --enable-experimental-regexp-engine (no RegExp l flag)' };
  }
  const fallback = fallbackIsLive();
  return {
    linearFlag,
    fallback,
    irregexpSafe: fallback,
    problem: fallback ? undefined : 'V8 did not fall back to its linear engine on excessive backtracking',
  };
}

/** The state of the flags, decided once at import. */
export const v8RegexFlags: V8RegexFlags = setUp();

/** True when V8's linear engine accepts the source (without flags). */
export function linearEngineAccepts(source: string): boolean {
  if (!v8RegexFlags.linearFlag) return false;
  try {
    new RegExp(source, LINEAR);
    return true;
  } catch {
    return false;
  }
}
