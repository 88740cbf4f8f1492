/**
 * @module engine/operators/lookups
 * Operators that need an outside service ModSecurity users may not have: @geoLookup
 * (a GeoIP database), @rbl (DNS block lists), @gsbLookup (Google Safe Browsing). Warden
 * loads rules that use them (CRS 3.3's IP reputation rules do) and says at load that they
 * never match; they have no data source. @inspectFile runs an external program per uploaded
 * file, so it is refused unless the Waf is created with `allowInspectFile`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { OperatorParamError, type OperatorFactory } from './types.js';

function neverMatches(name: string, why: string): OperatorFactory {
  return (_param, ctx) => {
    ctx.warn?.(`@${name} never matches: ${why}`);
    return { evaluate: () => false };
  };
}

export const geoLookup = neverMatches('geoLookup', 'Warden has no GeoIP database (GEO stays empty)');
export const rbl = neverMatches('rbl', 'Warden does not query DNS block lists; use a jail or @ipMatchFromFile with a list instead');
export const gsbLookup = neverMatches('gsbLookup', 'Google Safe Browsing lookups are not provided');

/** @inspectFile /path/to/script: the script gets the file's path; output starting with "1" is a match. */
export const inspectFile: OperatorFactory = (param, ctx) => {
  if (ctx.allowInspectFile !== true) {
    throw new OperatorParamError('@inspectFile is disabled: it runs an external program per uploaded file (enable allowInspectFile to use it)');
  }
  const script = isAbsolute(param) ? param : resolve(ctx.baseDir, param);
  if (!existsSync(script)) throw new OperatorParamError(`@inspectFile: no such program ${script}`);
  return {
    evaluate(input) {
      const r = spawnSync(script, [input], { encoding: 'latin1', timeout: 10_000 });
      return r.status === 0 && typeof r.stdout === 'string' && r.stdout.startsWith('1');
    },
  };
};

function unsupported(name: string, why: string): OperatorFactory {
  return () => {
    throw new OperatorParamError(`@${name} is not supported: ${why}`);
  };
}

export const validateDTD = unsupported('validateDTD', 'Warden validates XML well-formedness, not DTDs');
export const validateSchema = unsupported('validateSchema', 'Warden validates XML well-formedness, not XML Schemas');
export const fuzzyHash = unsupported('fuzzyHash', 'ssdeep fuzzy hashing is not provided');
export const rsub = unsupported('rsub', 'it edits STREAM_*_BODY, which Warden does not provide');
