/**
 * @module engine/variables
 * Every SecLang variable and how a transaction yields its values. Selectors (`ARGS:name`,
 * `ARGS:/regex/`, `XML:/xpath`) are compiled once at rule load; at run time a variable
 * appends its (variable, entry) pairs to the transaction's reusable target buffer, so
 * resolving a rule's targets allocates nothing for request data.
 */
import { compileXPath, type CompiledXPath } from '../bodies/xpath.js';
import { compileRegex, type CompiledRegex } from './regex/index.js';
import { Entry, type KeyedCollection, type SlotMemo } from './collection.js';
import { isAsciiBytes } from './transforms/bytes.js';
import type { Transaction } from './transaction.js';
import { xmlValues } from './request-body.js';

/** How a target narrows a collection. */
export type Selector =
  | ({
      readonly kind: 'key';
      readonly key: string;
      readonly lower: string;
    } & SlotMemo)
  | {
      readonly kind: 'regex';
      readonly source: string;
      readonly re: CompiledRegex;
      /** For a pattern that is a plain word (`/^header_name_/`, `/__utm/`): the word, lower-cased (see literalSelects). */
      readonly literal: { readonly lower: string; readonly anchored: boolean } | null;
    }
  | { readonly kind: 'xpath'; readonly source: string; readonly xpath: CompiledXPath };

export interface VariableDef {
  /** The canonical (upper-case) name. */
  readonly name: string;
  /** Collections take selectors and `&` counting; scalars neither. */
  readonly collection: boolean;
  /** Appends the values selected by `sel` (always null for scalars). */
  collect(tx: Transaction, sel: Selector | null, out: TargetBuffer): void;
}

/** The reusable list of (variable, entry) pairs a rule's targets resolve to. */
export class TargetBuffer {
  defs: VariableDef[];
  entries: Entry[];
  length: number;
  /**
   * For a list kept for the phase: the facts every one of its values has (engine/no-match-memo
   * FactTable.common), worked out when a rule first asks; undefined until then.
   */
  common: number[] | null | undefined;

  constructor() {
    this.defs = [];
    this.entries = [];
    this.length = 0;
    this.common = undefined;
  }

  push(def: VariableDef, entry: Entry): void {
    this.defs[this.length] = def;
    this.entries[this.length] = entry;
    this.length++;
  }
}

/** The name ModSecurity shows for a value: `ARGS:foo`, `REQUEST_URI`, `TX:anomaly_score`. */
export function fullName(def: VariableDef, entry: Entry): string {
  return def.collection ? `${def.name}:${entry.key}` : def.name;
}

/** True when `key` (as the request sent it) is selected by `sel`. */
export function selects(sel: Selector | null, key: string): boolean {
  if (sel === null) return true;
  if (sel.kind === 'key') return isNamed(key, sel.lower);
  if (sel.kind === 'regex') return sel.literal === null ? sel.re.test(key) : literalSelects(sel.literal, sel.re, key);
  return false;
}

/**
 * `key.toLowerCase() === lower` for a name as long as `lower` (names are byte strings, whose
 * lower case is as long), without making the lower-cased string (CRS names headers by
 * selector a hundred times per request, `User-Agent` among them): ASCII letters are folded
 * here; a key with a byte past ASCII is lower-cased whole.
 */
export function isNamed(key: string, lower: string): boolean {
  if (key.length !== lower.length) return false;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c >= 0x80) return key.toLowerCase() === lower;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * A selector regex that is a plain word, anchored or not (`/^header_name_920450_/`,
 * `/^MSC_/`, `/__utm/`: CRS tests them against every TX variable or cookie many times
 * per request), compared without the regex engine: ASCII letters fold as `(?i)` folds
 * them, and no character below U+0100 folds to or from ASCII. Past that, RE2 folds as
 * Unicode does (ſ is an s, K is a k): a name with such a character where the word is
 * compared goes to the regex.
 */
function literalSelects(literal: { readonly lower: string; readonly anchored: boolean }, re: CompiledRegex, key: string): boolean {
  const word = literal.lower;
  const last = literal.anchored ? 0 : key.length - word.length;
  for (let at = 0; at <= last; at++) {
    let j = 0;
    for (; j < word.length; j++) {
      let c = key.charCodeAt(at + j);
      if (c >= 0x100) return re.test(key);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== word.charCodeAt(j)) break;
    }
    if (j === word.length) return true;
  }
  return false;
}

/**
 * The word of a selector regex that is one (letters, digits, `_` and `-`, maybe after `^`),
 * else null. A trailing `.*` or `c*` (CRS's TX selectors `paramcounter_.*` and
 * `MULTIPART_HEADERS_CONTENT_TYPES_*`) may match nothing and nothing follows it, so the
 * pattern selects what the word before it selects.
 */
function literalOf(source: string): { lower: string; anchored: boolean } | null {
  const m = /^(\^?)([A-Za-z0-9_-]+?)(?:\.\*|[A-Za-z0-9_-]\*)?$/.exec(source);
  return m === null ? null : { lower: (m[2] as string).toLowerCase(), anchored: m[1] === '^' };
}

function fromList(list: (tx: Transaction) => readonly Entry[]): VariableDef['collect'] {
  return function collect(this: VariableDef, tx, sel, out) {
    const entries = list(tx);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Entry;
      if (selects(sel, e.key)) out.push(this, e);
    }
  };
}

/** Names of a list: each entry's value is its own name. */
function namesOf(list: (tx: Transaction) => readonly Entry[], names: (tx: Transaction) => Entry[]): VariableDef['collect'] {
  return function collect(this: VariableDef, tx, sel, out) {
    const entries = list(tx);
    const cache = names(tx);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Entry;
      if (!selects(sel, e.key)) continue;
      let n = cache[i];
      if (n === undefined || n.key !== e.key) {
        n = new Entry(e.key, e.key);
        cache[i] = n;
      }
      out.push(this, n);
    }
  };
}

/** Per slot map (one per Waf), per selector: the slots whose variables it may select. */
const slotsSelectable = new WeakMap<ReadonlyMap<string, number>, Map<Selector | null, readonly number[]>>();

/**
 * The slots a selector may select, worked out once from their names (lower-cased). A
 * variable written as `tx.Name` differs from its slot's name in ASCII case only, which no
 * selector minds; a name with other bytes is always kept, and a collection holding a
 * variable whose own name has such bytes (KeyedCollection.oddSlotNames) has every slot
 * looked at. The caller tests each variable's name anyway.
 */
function selectableSlots(slotMap: ReadonlyMap<string, number>, sel: Selector | null): readonly number[] {
  let bySelector = slotsSelectable.get(slotMap);
  if (bySelector === undefined) slotsSelectable.set(slotMap, (bySelector = new Map()));
  let slots = bySelector.get(sel);
  if (slots === undefined) {
    slots = [...slotMap].filter(([name]) => !isAsciiBytes(name) || selects(sel, name)).map(([, slot]) => slot);
    bySelector.set(sel, slots);
  }
  return slots;
}

/** Every slot of a slot map, in order (see selectableSlots). */
function allSlots(slotMap: ReadonlyMap<string, number>): readonly number[] {
  return selectableSlots(slotMap, null);
}

function fromKeyed(coll: (tx: Transaction) => KeyedCollection | undefined): VariableDef['collect'] {
  return function collect(this: VariableDef, tx, sel, out) {
    const c = coll(tx);
    if (c === undefined) return;
    if (sel !== null && sel.kind === 'key') {
      // A name read by macros (%{tx.x}) as well as by rules: its slot is looked up once.
      const e = c.getLowered(sel.lower, c.slotFor(sel, sel.lower));
      if (e !== undefined) out.push(this, e);
      return;
    }
    const slotMap = c.slotMap;
    // Variables with a slot are not in `entries`: those selected join them in the order
    // they were first written.
    let slotted: Entry[] | null = null;
    if (slotMap !== null) {
      for (const s of c.oddSlotNames ? allSlots(slotMap) : selectableSlots(slotMap, sel)) {
        const e = c.slots[s];
        if (e !== undefined && selects(sel, e.key)) (slotted ??= []).push(e);
      }
    }
    if (slotted === null) {
      for (const e of c.entries.values()) if (selects(sel, e.key)) out.push(this, e);
      return;
    }
    slotted.sort((a, b) => a.order - b.order);
    let k = 0;
    for (const e of c.entries.values()) {
      if (!selects(sel, e.key)) continue;
      while (k < slotted.length && (slotted[k] as Entry).order < e.order) out.push(this, slotted[k++] as Entry);
      out.push(this, e);
    }
    while (k < slotted.length) out.push(this, slotted[k++] as Entry);
  };
}

function scalar(get: (tx: Transaction) => Entry | null): VariableDef['collect'] {
  return function collect(this: VariableDef, tx, _sel, out) {
    const e = get(tx);
    if (e !== null) out.push(this, e);
  };
}

/** A scalar computed on demand (time, sizes, severities). */
function computed(get: (tx: Transaction) => string | null): VariableDef['collect'] {
  return function collect(this: VariableDef, tx, _sel, out) {
    const v = get(tx);
    if (v !== null) out.push(this, new Entry('', v));
  };
}

const table = new Map<string, VariableDef>();

function define(name: string, collection: boolean, collect: VariableDef['collect']): void {
  table.set(name, { name, collection, collect });
}

const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

// Request line and URI
define('REQUEST_LINE', false, scalar((tx) => tx.requestLine));
define('REQUEST_METHOD', false, scalar((tx) => tx.requestMethod));
define('REQUEST_PROTOCOL', false, scalar((tx) => tx.requestProtocol));
define('REQUEST_URI', false, scalar((tx) => tx.requestUri));
define('REQUEST_URI_RAW', false, scalar((tx) => tx.requestUriRaw));
define('REQUEST_FILENAME', false, scalar((tx) => tx.requestFilename));
define('REQUEST_BASENAME', false, scalar((tx) => tx.requestBasename));
define('QUERY_STRING', false, scalar((tx) => tx.queryString));
define('PATH_INFO', false, scalar(() => null));
// Arguments
define('ARGS', true, function collect(this: VariableDef, tx, sel, out) {
  const get = tx.argsGet;
  for (let i = 0; i < get.length; i++) if (selects(sel, (get[i] as Entry).key)) out.push(this, get[i] as Entry);
  const post = tx.argsPost;
  for (let i = 0; i < post.length; i++) if (selects(sel, (post[i] as Entry).key)) out.push(this, post[i] as Entry);
});
define('ARGS_GET', true, fromList((tx) => tx.argsGet));
define('ARGS_POST', true, fromList((tx) => tx.argsPost));
const argsGetNames = namesOf((tx) => tx.argsGet, (tx) => tx.namesCache.argsGet);
const argsPostNames = namesOf((tx) => tx.argsPost, (tx) => tx.namesCache.argsPost);
define('ARGS_NAMES', true, function collect(this: VariableDef, tx, sel, out) {
  argsGetNames.call(this, tx, sel, out);
  argsPostNames.call(this, tx, sel, out);
});
define('ARGS_GET_NAMES', true, argsGetNames);
define('ARGS_POST_NAMES', true, argsPostNames);
define('ARGS_COMBINED_SIZE', false, computed((tx) => {
  let n = 0;
  for (const e of tx.argsGet) n += e.key.length + e.value.length;
  for (const e of tx.argsPost) n += e.key.length + e.value.length;
  return String(n);
}));
define('URLENCODED_ERROR', false, computed((tx) => (tx.urlencodedError ? '1' : '0')));
// Headers and cookies
const requestHeaders = fromList((tx) => tx.requestHeaders);
define('REQUEST_HEADERS', true, function collect(this: VariableDef, tx, sel, out) {
  // A header by name: from the request's index of names, not by comparing every name.
  const named = sel !== null && sel.kind === 'key' ? tx.requestHeadersNamed(sel.lower) : null;
  if (named === null) {
    requestHeaders.call(this, tx, sel, out);
    return;
  }
  for (let i = 0; i < named.length; i++) out.push(this, named[i] as Entry);
});
define('REQUEST_HEADERS_NAMES', true, namesOf((tx) => tx.requestHeaders, (tx) => tx.namesCache.requestHeaders));
define('REQUEST_COOKIES', true, fromList((tx) => tx.requestCookies));
define('REQUEST_COOKIES_NAMES', true, namesOf((tx) => tx.requestCookies, (tx) => tx.namesCache.requestCookies));
// Body
define('REQUEST_BODY', false, scalar((tx) => tx.requestBody));
define('REQUEST_BODY_LENGTH', false, computed((tx) => String(tx.requestBodyLength)));
define('FULL_REQUEST', false, computed((tx) => tx.fullRequest()));
define('FULL_REQUEST_LENGTH', false, computed((tx) => String(tx.fullRequest().length)));
// v2 always has these (empty when there is no processor or no error): CRS's 901340 forces
// REQUEST_BODY with `REQBODY_PROCESSOR "!@rx (?:URLENCODED|…)"`, which must match the empty value.
define('REQBODY_PROCESSOR', false, computed((tx) => tx.reqbodyProcessor ?? ''));
define('REQBODY_ERROR', false, computed((tx) => (tx.reqbodyError ? '1' : '0')));
define('REQBODY_ERROR_MSG', false, computed((tx) => tx.reqbodyErrorMsg ?? ''));
define('REQBODY_PROCESSOR_ERROR', false, computed((tx) => (tx.reqbodyError ? '1' : '0')));
define('REQBODY_PROCESSOR_ERROR_MSG', false, computed((tx) => tx.reqbodyErrorMsg ?? ''));
define('INBOUND_DATA_ERROR', false, computed((tx) => (tx.inboundDataError ? '1' : '0')));
define('OUTBOUND_DATA_ERROR', false, computed((tx) => (tx.outboundDataError ? '1' : '0')));
define('XML', true, function collect(this: VariableDef, tx, sel, out) {
  const values = xmlValues(tx, sel !== null && sel.kind === 'xpath' ? sel.xpath : null);
  for (let i = 0; i < values.length; i++) out.push(this, values[i] as Entry);
});
// Multipart and files
define('FILES', true, fromList((tx) => tx.files));
define('FILES_NAMES', true, namesOf((tx) => tx.files, (tx) => tx.namesCache.files));
define('FILES_SIZES', true, fromList((tx) => tx.filesSizes));
define('FILES_TMPNAMES', true, fromList((tx) => tx.filesTmpNames));
define('FILES_TMP_CONTENT', true, fromList((tx) => tx.filesTmpContent));
define('FILES_COMBINED_SIZE', false, computed((tx) => String(tx.filesCombinedSize)));
define('MULTIPART_PART_HEADERS', true, fromList((tx) => tx.multipartPartHeaders));
define('MULTIPART_FILENAME', false, computed((tx) => tx.multipartFilename));
define('MULTIPART_NAME', false, computed((tx) => tx.multipartName));
for (const flag of [
  'MULTIPART_BOUNDARY_QUOTED', 'MULTIPART_BOUNDARY_WHITESPACE', 'MULTIPART_DATA_AFTER', 'MULTIPART_DATA_BEFORE',
  'MULTIPART_HEADER_FOLDING', 'MULTIPART_CRLF_LINE', 'MULTIPART_CRLF_LF_LINES', 'MULTIPART_LF_LINE',
  'MULTIPART_MISSING_SEMICOLON', 'MULTIPART_INVALID_PART', 'MULTIPART_INVALID_QUOTING',
  'MULTIPART_INVALID_HEADER_FOLDING', 'MULTIPART_FILE_LIMIT_EXCEEDED', 'MULTIPART_STRICT_ERROR',
  'MULTIPART_UNMATCHED_BOUNDARY',
]) {
  define(flag, false, computed((tx) => tx.multipartFlag(flag)));
}
// Connection and server
define('REMOTE_ADDR', false, scalar((tx) => tx.remoteAddr));
define('USERAGENT_IP', false, scalar((tx) => tx.remoteAddr));
define('REMOTE_HOST', false, scalar((tx) => tx.remoteAddr));
define('REMOTE_PORT', false, computed((tx) => String(tx.remotePort)));
define('REMOTE_USER', false, computed((tx) => tx.remoteUser));
define('AUTH_TYPE', false, computed((tx) => tx.authType));
define('SERVER_ADDR', false, scalar((tx) => tx.serverAddr));
define('SERVER_NAME', false, scalar((tx) => tx.serverName));
define('SERVER_PORT', false, computed((tx) => String(tx.serverPort)));
// Response
define('RESPONSE_STATUS', false, computed((tx) => (tx.responseStatus === 0 ? null : String(tx.responseStatus))));
define('STATUS_LINE', false, computed((tx) => tx.statusLine()));
define('RESPONSE_PROTOCOL', false, computed((tx) => tx.responseProtocol));
define('RESPONSE_HEADERS', true, fromList((tx) => tx.responseHeaders));
define('RESPONSE_HEADERS_NAMES', true, namesOf((tx) => tx.responseHeaders, (tx) => tx.namesCache.responseHeaders));
define('RESPONSE_BODY', false, scalar((tx) => tx.responseBody));
define('RESPONSE_CONTENT_TYPE', false, computed((tx) => tx.responseContentType));
define('RESPONSE_CONTENT_LENGTH', false, computed((tx) => tx.responseContentLength));
// Matching state
define('MATCHED_VAR', false, computed((tx) => tx.matchedVar));
define('MATCHED_VAR_NAME', false, computed((tx) => tx.matchedVarName));
define('MATCHED_VARS', true, fromList((tx) => tx.matchedVars));
define('MATCHED_VARS_NAMES', true, namesOf((tx) => tx.matchedVars, (tx) => tx.namesCache.matchedVars));
define('HIGHEST_SEVERITY', false, computed((tx) => String(tx.highestSeverity)));
// Collections
define('TX', true, fromKeyed((tx) => tx.tx));
define('ENV', true, fromKeyed((tx) => tx.env));
define('GEO', true, fromKeyed((tx) => tx.geo));
define('RULE', true, fromKeyed((tx) => tx.ruleCollection()));
for (const name of ['IP', 'GLOBAL', 'SESSION', 'USER', 'RESOURCE']) {
  define(name, true, fromKeyed((tx) => tx.collections.get(name.toLowerCase())));
}
define('SESSIONID', false, computed((tx) => tx.collections.get('session')?.get('KEY')?.value ?? null));
define('USERID', false, computed((tx) => tx.collections.get('user')?.get('KEY')?.value ?? null));
define('WEBAPPID', false, computed((tx) => tx.waf.config.webAppId));
// Identity and time
define('UNIQUE_ID', false, computed((tx) => tx.id));
define('MODSEC_BUILD', false, computed(() => '020907100'));
define('DURATION', false, computed((tx) => String(Math.round((performance.now() - tx.startedAt) * 1000))));
define('TIME', false, computed((tx) => {
  const d = new Date(tx.timestamp);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}));
define('TIME_EPOCH', false, computed((tx) => String(Math.floor(tx.timestamp / 1000))));
define('TIME_YEAR', false, computed((tx) => String(new Date(tx.timestamp).getFullYear())));
define('TIME_MON', false, computed((tx) => String(new Date(tx.timestamp).getMonth())));
define('TIME_DAY', false, computed((tx) => String(new Date(tx.timestamp).getDate())));
define('TIME_HOUR', false, computed((tx) => String(new Date(tx.timestamp).getHours())));
define('TIME_MIN', false, computed((tx) => String(new Date(tx.timestamp).getMinutes())));
define('TIME_SEC', false, computed((tx) => String(new Date(tx.timestamp).getSeconds())));
define('TIME_WDAY', false, computed((tx) => String(new Date(tx.timestamp).getDay())));
define('WEBSERVER_ERROR_LOG', true, fromList(() => []));

/** Variables ModSecurity has that make no sense in front of Node (CGI script details, sdbm). */
const unsupported = new Map<string, string>([
  ['SCRIPT_GID', 'there is no CGI script in front of which Warden runs'],
  ['SCRIPT_UID', 'there is no CGI script in front of which Warden runs'],
  ['SCRIPT_BASENAME', 'there is no CGI script in front of which Warden runs'],
  ['SCRIPT_FILENAME', 'there is no CGI script in front of which Warden runs'],
  ['SCRIPT_GROUPNAME', 'there is no CGI script in front of which Warden runs'],
  ['SCRIPT_USERNAME', 'there is no CGI script in front of which Warden runs'],
  ['SCRIPT_MODE', 'there is no CGI script in front of which Warden runs'],
  ['STREAM_INPUT_BODY', 'stream body inspection is not provided'],
  ['STREAM_OUTPUT_BODY', 'stream body inspection is not provided'],
  ['SDBM_DELETE_ERROR', 'Warden does not use sdbm files'],
]);

/** The variable of a name as written (any case), or undefined. `HTTP_X` means REQUEST_HEADERS:X. */
export function getVariable(name: string): VariableDef | undefined {
  return table.get(name.toUpperCase());
}

/** Why a known ModSecurity variable is not provided, or undefined. */
export function unsupportedVariable(name: string): string | undefined {
  return unsupported.get(name.toUpperCase());
}

/** Every variable name, for suggestions. */
export function variableNames(): string[] {
  return [...table.keys()];
}

/**
 * Compiles a selector as ModSecurity v2 reads it: `/…/` is a regex matched against the
 * names case-insensitively; anything else is a name compared case-insensitively.
 */
export function compileSelector(def: VariableDef, text: string, namespaces: ReadonlyMap<string, string> | null = null): Selector {
  if (def.name === 'XML') return { kind: 'xpath', source: text, xpath: sharedXPath(text, namespaces) };
  if (text.length >= 2 && text.startsWith('/') && text.endsWith('/')) {
    const source = text.slice(1, -1);
    return { kind: 'regex', source, re: compileRegex(`(?is)${source}`), literal: literalOf(source) };
  }
  return { kind: 'key', key: text, lower: text.toLowerCase(), slotMap: undefined, slot: -1 };
}

/**
 * One compiled XPath per expression and namespace prefixes, shared by every rule that
 * names it: a transaction caches the values of an XPath by its compiled object (XML:/* in
 * forty CRS rules is evaluated once, and its values keep their transformation cache and
 * screen answers from rule to rule).
 */
const xpaths = new Map<string, CompiledXPath>();

function sharedXPath(text: string, namespaces: ReadonlyMap<string, string> | null): CompiledXPath {
  const ns = namespaces === null ? [] : [...namespaces].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const key = JSON.stringify([text, ns]);
  let xpath = xpaths.get(key);
  if (xpath === undefined) {
    xpath = compileXPath(text, Object.fromEntries(ns));
    xpaths.set(key, xpath);
  }
  return xpath;
}

/** A selector that does not compile (a bad `/regex/` or XPath). */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

/** A target reference as ctl and SecRuleUpdateTarget* name it: a variable and a selector. */
export interface TargetRef {
  readonly def: VariableDef;
  readonly selector: Selector | null;
  readonly counting: boolean;
  readonly text: string;
}

/**
 * Resolves a target as written (`ARGS:foo`, `REQUEST_HEADERS:/^x-/`, `HTTP_Host`);
 * throws an Error with the reason when the variable is unknown or misused.
 */
export function resolveTarget(
  name: string,
  selector: string | null,
  counting: boolean,
  namespaces: ReadonlyMap<string, string> | null = null,
): TargetRef {
  let varName = name;
  let sel = selector;
  if (varName.length > 5 && varName.toUpperCase().startsWith('HTTP_')) {
    sel = varName.slice(5);
    varName = 'REQUEST_HEADERS';
  }
  const def = getVariable(varName);
  if (def === undefined) {
    const why = unsupportedVariable(varName);
    throw new Error(why ? `variable ${varName.toUpperCase()} is not supported: ${why}` : `unknown variable "${name}"`);
  }
  if (sel !== null && !def.collection) throw new Error(`variable ${def.name} does not take a selector (":${sel}")`);
  if (counting && !def.collection) throw new Error(`"&" counts the values of a collection; ${def.name} is a single value`);
  const text = `${counting ? '&' : ''}${def.name}${sel !== null ? `:${sel}` : ''}`;
  let compiled: Selector | null = null;
  if (sel !== null && sel !== '') {
    try {
      compiled = compileSelector(def, sel, namespaces);
    } catch (err) {
      const what = def.name === 'XML' ? 'XPath expression' : 'selector';
      throw new SelectorError(`invalid ${what} "${sel}" for ${def.name}: ${(err as Error).message}`);
    }
  }
  return { def, selector: compiled, counting, text };
}

/** True when a target reference selects the value `key` of variable `def`. */
export function refSelects(ref: TargetRef, def: VariableDef, key: string): boolean {
  return ref.def === def && selects(ref.selector, key);
}
