/**
 * The one place that lists SecRules language test cases Warden deliberately does not run,
 * each with its reason. Anything not listed here that fails is a failure.
 */
export const unsupportedOperators: ReadonlyMap<string, string> = new Map([
  ['geolookup', 'needs a MaxMind/GeoIP database; Warden ships none and does not look up locations'],
]);

export const unsupportedTransforms: ReadonlyMap<string, string> = new Map([]);
