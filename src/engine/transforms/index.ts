/**
 * @module engine/transforms
 * The transformation registry: every `t:` function under its SecLang name
 * (case-insensitive lookup, aliases included). `t:none` is not here: it is no function
 * but an instruction to the engine to drop the transformations before it.
 */
import type { TransformDef, TransformFn } from './types.js';
import { base64Decode, base64DecodeExt, base64Encode } from './base64.js';
import { lowercase, uppercase } from './case.js';
import { cmdLine } from './cmdline.js';
import { removeComments, removeCommentsChar, replaceComments } from './comments.js';
import { cssDecode } from './css.js';
import { escapeSeqDecode } from './escape.js';
import { md5, sha1 } from './hash.js';
import { hexDecode, hexEncode } from './hex.js';
import { htmlEntityDecode } from './html.js';
import { jsDecode } from './js.js';
import { length } from './length.js';
import { removeNulls, replaceNulls } from './nulls.js';
import { parityEven7bit, parityOdd7bit, parityZero7bit } from './parity.js';
import { normalisePath, normalisePathWin } from './path.js';
import { phpArgsNames } from './php.js';
import { sqlHexDecode } from './sql.js';
import { urlDecode, urlDecodeUni, urlEncode } from './url.js';
import { utf8toUnicode } from './utf8.js';
import { compressWhitespace, removeWhitespace, trim, trimLeft, trimRight } from './whitespace.js';

export * from './types.js';

const registry = new Map<string, TransformDef>();

function register(name: string, fn: TransformFn, ...aliases: string[]): void {
  const def: TransformDef = { name, fn };
  registry.set(name.toLowerCase(), def);
  for (const alias of aliases) registry.set(alias.toLowerCase(), def);
}

register('base64Decode', base64Decode);
register('base64DecodeExt', base64DecodeExt);
register('base64Encode', base64Encode);
register('cmdLine', cmdLine);
register('compressWhitespace', compressWhitespace);
register('cssDecode', cssDecode);
register('escapeSeqDecode', escapeSeqDecode);
register('hexDecode', hexDecode);
register('hexEncode', hexEncode);
register('htmlEntityDecode', htmlEntityDecode);
register('jsDecode', jsDecode);
register('length', length);
register('lowercase', lowercase);
register('uppercase', uppercase);
register('md5', md5);
register('sha1', sha1);
register('normalisePath', normalisePath, 'normalizePath');
register('normalisePathWin', normalisePathWin, 'normalizePathWin');
register('parityEven7bit', parityEven7bit);
register('parityOdd7bit', parityOdd7bit);
register('parityZero7bit', parityZero7bit);
register('phpArgsNames', phpArgsNames);
register('removeComments', removeComments);
register('removeCommentsChar', removeCommentsChar);
register('removeNulls', removeNulls);
register('removeWhitespace', removeWhitespace);
register('replaceComments', replaceComments);
register('replaceNulls', replaceNulls);
register('sqlHexDecode', sqlHexDecode);
register('trim', trim);
register('trimLeft', trimLeft);
register('trimRight', trimRight);
register('urlDecode', urlDecode);
register('urlDecodeUni', urlDecodeUni);
register('urlEncode', urlEncode);
register('utf8toUnicode', utf8toUnicode);

/** The transformation for a name as written after `t:` (any case), or undefined. */
export function getTransform(name: string): TransformDef | undefined {
  return registry.get(name.toLowerCase());
}

/** Every registered transformation name (and alias), lower-cased. */
export function transformNames(): string[] {
  return [...registry.keys()];
}
