/**
 * @module engine/operators
 * The operator registry: every operator under its SecLang name (case-insensitive lookup).
 */
import type { OperatorFactory } from './types.js';
import { rx, rxGlobal } from './rx.js';
import { beginsWith, contains, containsWord, endsWith, streq, strmatch, within } from './strings.js';
import { eq, ge, gt, le, lt } from './numeric.js';
import { pm, pmFromFile } from './pm.js';
import { ipMatch, ipMatchFromFile } from './ip.js';
import { validateByteRange, validateUrlEncoding, validateUtf8Encoding } from './validate.js';
import { verifyCC, verifyCPF, verifySSN, verifySVNR } from './verify.js';
import { noMatch, unconditionalMatch } from './match.js';
import { detectSQLi, detectXSS } from './detect.js';
import { fuzzyHash, geoLookup, gsbLookup, inspectFile, rbl, rsub, validateDTD, validateSchema } from './lookups.js';

export * from './types.js';

const registry = new Map<string, OperatorFactory>([
  ['rx', rx],
  ['rxglobal', rxGlobal],
  // Keys are lower case: lookup folds the name as written after `@`.
  ['streq', streq],
  ['beginswith', beginsWith],
  ['endswith', endsWith],
  ['contains', contains],
  ['containsword', containsWord],
  ['within', within],
  ['strmatch', strmatch],
  ['eq', eq],
  ['ge', ge],
  ['gt', gt],
  ['le', le],
  ['lt', lt],
  ['pm', pm],
  ['pmfromfile', pmFromFile],
  ['pmf', pmFromFile],
  ['ipmatch', ipMatch],
  ['ipmatchfromfile', ipMatchFromFile],
  ['ipmatchf', ipMatchFromFile],
  ['validatebyterange', validateByteRange],
  ['validateurlencoding', validateUrlEncoding],
  ['validateutf8encoding', validateUtf8Encoding],
  ['verifycc', verifyCC],
  ['verifyssn', verifySSN],
  ['verifycpf', verifyCPF],
  ['verifysvnr', verifySVNR],
  ['unconditionalmatch', unconditionalMatch],
  ['nomatch', noMatch],
  ['detectsqli', detectSQLi],
  ['detectxss', detectXSS],
  ['geolookup', geoLookup],
  ['rbl', rbl],
  ['gsblookup', gsbLookup],
  ['inspectfile', inspectFile],
  ['validatedtd', validateDTD],
  ['validateschema', validateSchema],
  ['fuzzyhash', fuzzyHash],
  ['rsub', rsub],
]);

/** The factory for an operator name as written after `@` (any case), or undefined. */
export function getOperator(name: string): OperatorFactory | undefined {
  return registry.get(name.toLowerCase());
}

/** Every registered operator name, lower-cased. */
export function operatorNames(): string[] {
  return [...registry.keys()];
}
