/**
 * The one place that lists SecRules language test cases Warden does not run, each with its
 * reason. Every other case runs, and any that fails is a failure.
 */

/** Resources some cases declare (`"resource"`); the reference runner skips a case whose resource is absent. */
export const missingResources: ReadonlyMap<string, string> = new Map([
  ['geoip', 'needs a GeoIP database; Warden ships none, so @geoLookup never matches and GEO stays empty'],
]);

/**
 * Single cases where Warden keeps ModSecurity v2's behaviour and the case disagrees because
 * of how it was converted to JSON (keyed `folder/file.json#index`).
 */
export const caseDeviations: ReadonlyMap<string, string> = new Map([
  [
    'operators/containsWord.json#10',
    "the Perl→JSON conversion turned v2's NUL byte (\"abc\\0def ghi\" in tests/op/containsWord.t) into a backslash and the digit 0; " +
      'with a digit before "def", ModSecurity v2\'s word rule (letters, digits, underscore) says no match, which Warden keeps',
  ],
]);
