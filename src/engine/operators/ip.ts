/**
 * @module engine/operators/ip
 * `@ipMatch` and `@ipMatchFromFile` (alias `@ipMatchF`): is the value an address inside one
 * of the listed IPv4/IPv6 addresses or CIDR blocks? The list becomes a prefix trie at load,
 * so a lookup costs the same for ten blocks or a million.
 *
 * As in ModSecurity v2, a value holding a colon is read as IPv6 and anything else as IPv4,
 * exactly as inet_pton reads them (no surrounding spaces, no `[…]`, no zone); a value that
 * is not an address does not match. IPv4-mapped IPv6 values are looked up among the IPv6
 * blocks only.
 */
import { IPParseError, IPSet, parseIPNetwork } from '../../net/ipaddr.js';
import { OperatorParamError, type OperatorContext, type OperatorFactory } from './types.js';

/** C isspace in the C locale: the bytes v2 skips around list entries. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function trimSpaces(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isSpace(s.charCodeAt(start))) start++;
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

function addEntry(set: IPSet, entry: string, where: string): void {
  try {
    set.add(parseIPNetwork(entry));
  } catch (err) {
    if (err instanceof IPParseError) throw new OperatorParamError(`${where}invalid address or CIDR block "${entry}": ${err.message}`);
    throw err;
  }
}

function matcher(set: IPSet) {
  return {
    evaluate(input: string): boolean {
      return set.hasText(input);
    },
  };
}

/**
 * `@ipMatch 10.0.0.0/8,192.168.1.1,2001:db8::/32`: comma-separated addresses and blocks.
 * v2 refuses the whole rule when one entry is bad, and so do we (with the entry named).
 */
export const ipMatch: OperatorFactory = (param) => {
  const set = new IPSet();
  for (const raw of param.split(',')) {
    // v2 skips empty items between commas; spaces around an item are forgiven here
    // (v2 would refuse the rule), since "a, b" is an easy slip with one obvious meaning.
    const entry = trimSpaces(raw);
    if (entry !== '') addEntry(set, entry, '');
  }
  if (set.size === 0) throw new OperatorParamError('@ipMatch needs at least one address or CIDR block, comma separated');
  return matcher(set);
};

/**
 * `@ipMatchFromFile path`: one address or block per line; `#` starts a comment (whole line
 * or after the entry); blank lines are skipped. The path is relative to the rule file.
 */
export const ipMatchFromFile: OperatorFactory = (param, ctx: OperatorContext) => {
  const path = trimSpaces(param);
  if (path === '') throw new OperatorParamError('@ipMatchFromFile needs the path of a file of addresses');
  if (/^https?:\/\//i.test(path)) {
    throw new OperatorParamError(`@ipMatchFromFile reads local files only; download "${path}" and give its path`);
  }
  let text: string;
  try {
    text = ctx.readFile(path);
  } catch (err) {
    throw new OperatorParamError(`could not read address file "${path}": ${(err as Error).message}`);
  }
  const set = new IPSet();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const hash = line.indexOf('#');
    const entry = trimSpaces(hash < 0 ? line : line.slice(0, hash));
    if (entry !== '') addEntry(set, entry, `${path} line ${i + 1}: `);
  }
  // An empty list is legitimate here (a ban list that is empty today); it matches nothing.
  return matcher(set);
};
