/**
 * @module bodies/types
 * What the request body processors share: the sink they hand arguments to, and a
 * collecting sink for callers (and tests) that just want the pairs.
 *
 * Every processor is a pure function over a byte string (one char per byte, latin1):
 * it never throws, reports problems in its result, and hands each argument to an
 * {@link ArgumentSink} as it finds it, so the engine can put them straight into its
 * ARGS / ARGS_GET / ARGS_POST / REQUEST_COOKIES collections without an intermediate copy.
 */

/**
 * Receives name/value pairs in the order a processor finds them. Repeated names are
 * handed over repeatedly (collections are ordered multimaps). Names and values are bytes.
 *
 * @example
 * const args: [string, string][] = [];
 * const sink: ArgumentSink = { add: (name, value) => { args.push([name, value]); } };
 */
export interface ArgumentSink {
  add(name: string, value: string): void;
}

/** An {@link ArgumentSink} that keeps what it receives, in order, as two parallel arrays. */
export interface CollectedArguments extends ArgumentSink {
  readonly names: string[];
  readonly values: string[];
}

/**
 * A sink that collects the pairs it receives.
 *
 * @example
 * const args = collectArguments();
 * parseUrlencoded('a=1&b=2', args);
 * args.names;  // ['a', 'b']
 * args.values; // ['1', '2']
 */
export function collectArguments(): CollectedArguments {
  const names: string[] = [];
  const values: string[] = [];
  return {
    names,
    values,
    add(name: string, value: string): void {
      names.push(name);
      values.push(value);
    },
  };
}

/**
 * REQBODY_ERROR_MSG when SecArgumentsLimit drops arguments (ModSecurity v2's words);
 * the urlencoded and multipart processors report it.
 */
export const ARGUMENTS_LIMIT_MESSAGE = 'SecArgumentsLimit exceeded';
