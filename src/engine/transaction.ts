/**
 * @module engine/transaction
 * One HTTP transaction through the rules: the request and response data rules see, the
 * variables rules write, and the five phases evaluated as ModSecurity v2 evaluates them
 * (per-target transformation and operator, non-disruptive actions on every match,
 * the disruptive action of a chain's last rule, chains, skip/skipAfter, ctl, allow).
 * A verdict leaves as a returned `Interruption`, never as an exception.
 *
 * Every Transaction is created with all its fields in one order (one V8 shape).
 */
import { Entry, KeyedCollection, PersistentCollection } from './collection.js';
import { expandMacro } from './macro.js';
import { matchMessage } from './match-message.js';
import { applyChain, applySteps } from './transform-chain.js';
import { LONG_VALUE, screenOf, type ScreenGroup } from './prescreen.js';
import { carriedOver, detached, idOf } from './no-match-memo.js';
import { fullName, isNamed, refSelects, TargetBuffer, type Selector, type TargetRef, type VariableDef } from './variables.js';
import type { MatchContext, Operator } from './operators/types.js';
import { Rule, SEVERITY_NAMES } from './rule.js';
import type { AuditEngineMode, EngineMode } from './config.js';
import type { Waf } from './waf.js';
import type { RuleFilter } from './rule-filter.js';
import { parseCookieHeader, parseQueryString, processorFor, processRequestBody } from './request-body.js';
import { percentDecodePath } from './transforms/url.js';

/** How a transaction is stopped: returned by the phase methods, and kept on the transaction. */
export interface Interruption {
  readonly action: 'deny' | 'drop' | 'redirect';
  /** The HTTP status to answer with (for drop: the status logged). */
  readonly status: number;
  /** The rule that decided (the chain's first rule). */
  readonly ruleId: number;
  readonly phase: number;
  /** The Location for a redirect. */
  readonly url: string | null;
  /** ModSecurity's message for the match that triggered it. */
  readonly message: string;
}

/** A rule match as logs, the audit log and the ban engine see it. */
export interface RuleMatch {
  readonly ruleId: number;
  readonly phase: number;
  readonly file: string;
  readonly line: number;
  /** ModSecurity's sentence, e.g. `Pattern match "…" at ARGS:q.` */
  readonly message: string;
  readonly msg: string;
  readonly data: string;
  readonly severity: number;
  readonly tags: readonly string[];
  readonly ver: string;
  readonly rev: string;
  readonly accuracy: number;
  readonly maturity: number;
  /** The variable that matched (`ARGS:q`) and its value after transformations. */
  readonly variable: string;
  readonly value: string;
  /** The disruptive action that was taken, or 'pass'. */
  readonly action: string;
  /** True when this match stopped the transaction. */
  readonly intercepted: boolean;
  readonly log: boolean;
  readonly auditlog: boolean;
}

/** One step of an explanation (`warden eval`): a rule, a value, the operator and the result. */
export interface TraceEvent {
  readonly ruleId: number;
  readonly chainLink: boolean;
  readonly variable: string;
  readonly rawValue: string;
  readonly value: string;
  readonly transforms: readonly string[];
  readonly operator: string;
  readonly matched: boolean;
}

export interface TransactionOptions {
  /** UNIQUE_ID; generated when absent. */
  readonly id?: string;
  /** Called for every evaluated target (explanations); costs time, leave unset in production. */
  readonly trace?: (e: TraceEvent) => void;
  /** The connection's carry: the previous request's header entries (see HeaderCarry). */
  readonly carry?: HeaderCarry;
}

/**
 * A request whose header values add up to more than this many characters leaves nothing
 * to carry: an idle keep-alive connection keeps at most this much (and what was worked out
 * about it) alive.
 */
const CARRY_MAX_CHARS = 8192;

/** The cookies one Cookie header gave: the first `count` of `entries` (more may follow from other headers). */
interface CarriedCookies {
  readonly entries: readonly Entry[];
  readonly count: number;
  /** REQUEST_COOKIES_NAMES entries by cookie position. */
  readonly names: readonly Entry[];
}

/**
 * What a request's transaction leaves for the next request on the same connection (HTTP
 * keep-alive): its request headers' entries and the entries of their names, and the cookies
 * of its first Cookie header. A header that arrives again at the same place with the same
 * name and value (browsers repeat nearly all of theirs: User-Agent, Accept…, Cookie) is
 * given the same Entry, and with it what the engine worked out about its value in the
 * earlier request: transformation results, screen answers, its memo id; an unchanged
 * Cookie header gives the same cookie entries without being parsed again. Those depend
 * only on the value and the Waf, so entries are carried only between transactions of one
 * Waf (a reload starts afresh). A front end keeps one per connection and passes it to every
 * transaction it begins there (see TransactionOptions).
 */
export class HeaderCarry {
  /** The Waf of the transaction that left the entries. */
  waf: Waf | null = null;
  headers: readonly Entry[] = [];
  /** REQUEST_HEADERS_NAMES entries by header position (made when first collected). */
  names: readonly Entry[] = [];
  /** The first Cookie header's entry, and the cookies (and their names' entries) parsed from it. */
  cookieHeader: Entry | null = null;
  cookies: CarriedCookies | null = null;
  /** The headers by lower-cased name (see Transaction.requestHeadersNamed), and the list it was made from. */
  index: HeaderIndex | null = null;
  indexOf: readonly Entry[] | null = null;
}

/** A request's headers by lower-cased name, each name's in arrival order. */
export type HeaderIndex = ReadonlyMap<string, readonly Entry[]>;

/** Header names and their lower case, for HeaderIndex: the same names come back request after request. */
let lowerNames = new Map<string, string>();
const LOWER_NAMES_KEPT = 1024;
const NO_ENTRIES: readonly Entry[] = [];

/** The reusable, allocation-free sink an operator reports captures through. */
const CAPTURE_KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
/** A rule looking at more values than this in one transaction does not use its no-match memo. */
const MEMO_MAX_VALUES = 64;
/**
 * A list of more values than this is kept for the other rules of the phase with the same
 * targets (Rule.targetsKey): thousands of arguments are collected once, not by each of
 * dozens of rules. Shorter lists cost less to collect again than to copy and look up,
 * unless several memo rules share them (Rule.shareTargets): then a rule whose every value
 * is known not to match it is skipped whole (measured in process against collecting and
 * asking each value's memo: benign GET 0.95, form 0.91; the same with values that never
 * repeat 0.99 and 0.98).
 */
const SHARE_MIN_VALUES = 64;
/**
 * Instead, such a rule remembers for the one evaluation the values it did not match, in a
 * table of this many slots indexed by value id (a slot holds the last id put there): an
 * argument repeated thousands of times (`a=x&a=x&…`, a form's fields cycling) is
 * transformed and tested once, and values that never repeat cost a read and a write.
 */
const RECENT_SLOTS = 64;

let counter = 0;
function uniqueId(): string {
  counter = (counter + 1) % 0x1000000;
  return `${Date.now().toString(36)}${process.pid.toString(36)}${counter.toString(36).padStart(5, '0')}`.toUpperCase();
}

export class Transaction implements MatchContext {
  readonly waf: Waf;
  /** UNIQUE_ID as given, or made the first time it is asked for (most requests never log it). */
  private givenId: string | null;
  /** Unix ms when the transaction began. */
  readonly timestamp: number;
  /** performance.now() when the transaction began (DURATION). */
  readonly startedAt: number;
  phase: number;
  interruption: Interruption | null;
  /** 'none', or how much of the transaction an `allow` let through. */
  allowed: 'none' | 'transaction' | 'request';
  /** Set by `allow:phase`: the rest of the current phase is skipped. */
  private allowedPhase: boolean;
  pause: number;
  readonly matches: RuleMatch[];
  /** Rules (chain starters) whose whole chain matched, in evaluation order. */
  readonly matchedRules: Rule[];
  /** Value ids a rule over many values did not match in its current evaluation (RECENT_SLOTS). */
  private recentNoMatch: Int32Array | null = null;
  readonly debugLines: string[];

  // Engine settings this transaction may change with ctl.
  ruleEngine: EngineMode;
  requestBodyAccess: boolean;
  requestBodyLimit: number;
  forceRequestBodyVariable: boolean;
  responseBodyAccess: boolean;
  responseBodyLimit: number;
  auditEngine: AuditEngineMode;
  auditLogParts: string;
  debugLogLevel: number;
  parseXmlIntoArgs: 'On' | 'Off' | 'OnlyArgs';
  removedRules: RuleFilter[];
  removedTargets: Array<{ readonly filter: RuleFilter; readonly refs: readonly TargetRef[] }>;
  /**
   * How many of them remove a TX target: only those can change what a rule on one TX
   * variable (a paranoia-level gate, Rule.txTarget) sees, so with none such a rule is not
   * asked which removals name it (CRS's 941010 removes REQUEST_FILENAME on every request).
   */
  private txRemovals: number;

  // Connection
  remoteAddr: Entry | null;
  remotePort: number;
  serverAddr: Entry | null;
  serverName: Entry | null;
  serverPort: number;
  remoteUser: string | null;
  authType: string | null;

  // Request
  requestLine: Entry | null;
  requestMethod: Entry | null;
  requestProtocol: Entry | null;
  requestUri: Entry | null;
  requestUriRaw: Entry | null;
  requestFilename: Entry | null;
  requestBasename: Entry | null;
  queryString: Entry | null;
  argsGet: Entry[];
  argsPost: Entry[];
  urlencodedError: boolean;
  requestHeaders: Entry[];
  requestCookies: Entry[];
  requestBodyChunks: string[];
  requestBodyLength: number;
  /** More body arrived than SecRequestBodyLimit allows. */
  requestBodyExceeded: boolean;
  requestBody: Entry | null;
  reqbodyProcessor: string | null;
  reqbodyError: boolean;
  reqbodyErrorMsg: string | null;
  inboundDataError: boolean;
  files: Entry[];
  filesSizes: Entry[];
  filesTmpNames: Entry[];
  filesTmpContent: Entry[];
  filesCombinedSize: number;
  multipartPartHeaders: Entry[];
  multipartFilename: string | null;
  multipartName: string | null;
  /** Set by the multipart parser (null before). */
  multipartFlags: Map<string, string> | null;
  xmlDocument: unknown;
  /** XPath results by compiled expression, for this transaction's XML body. */
  xmlCache: Map<object, Entry[]> | null;

  // Response
  responseStatus: number;
  responseProtocol: string | null;
  responseHeaders: Entry[];
  responseBodyChunks: string[];
  responseBodyLength: number;
  responseBodyExceeded: boolean;
  responseBody: Entry | null;
  outboundDataError: boolean;

  // Variables rules write
  readonly tx: KeyedCollection;
  /** ENV and GEO, made when first used (few rules touch them). */
  private envCollection: KeyedCollection | null = null;
  private geoCollection: KeyedCollection | null = null;
  readonly collections: Map<string, PersistentCollection>;
  private readonly pendingLoads: Array<Promise<void>>;

  // Matching state
  matchedVar: string | null;
  /** The last match's variable and entry; its name (MATCHED_VAR_NAME) is made when asked for. */
  private matchedDef: VariableDef | null;
  private matchedEntry: Entry | null;
  private matchedName: string | null;
  /** The matches of the current rule (MATCHED_VARS), as Entries only when asked for. */
  private readonly matchDefs: VariableDef[];
  private readonly matchEntries: Entry[];
  private readonly matchValues: string[];
  private matchCount: number;
  private matchedList: Entry[] | null;
  highestSeverity: number;
  capturing: boolean;
  /** The previous request's header entries on this connection (see HeaderCarry), or null. */
  private carried: readonly Entry[] | null;
  /** The cookies the previous request's first Cookie header gave (see HeaderCarry). */
  private carriedCookies: CarriedCookies | null;
  /** The connection's carry, which this transaction's headers go to (see HeaderCarry). */
  private carry: HeaderCarry | null;
  /** How many of the request's headers are the previous request's entries (see HeaderCarry). */
  private headersCarried: number;
  /** The previous request's header index, if it was made (see requestHeadersNamed). */
  private carriedIndex: HeaderIndex | null;
  /** The headers by lower-cased name: undefined until asked, null when a name does not lower-case to as many chars. */
  private headerIndex: HeaderIndex | null | undefined;
  /** Characters of the request's header values so far. */
  private headerChars: number;
  readonly namesCache: {
    argsGet: Entry[];
    argsPost: Entry[];
    requestHeaders: Entry[];
    requestCookies: Entry[];
    responseHeaders: Entry[];
    files: Entry[];
    matchedVars: Entry[];
  };
  private currentRule: Rule | null;
  private readonly targets: TargetBuffer;
  private readonly scratch: TargetBuffer;
  /** Per-phase answers of screen groups over every value their rules look at (engine/prescreen). */
  private groupAnswers: (Uint8Array | undefined)[];
  /**
   * This phase's long (SHARE_MIN_VALUES) or much shared target lists, by the set of ctl:ruleRemoveTarget*
   * removals that name their rules (bit i: removedTargets[i]; those are only appended) and
   * then by Rule.targetsKey; null while there is none. Never written once made.
   */
  private sharedTargets: Map<number, Map<string, TargetBuffer>> | null;
  /** Times a regex ran into its match limit (a "no match" then is not remembered). */
  private limitHits = 0;
  private readonly trace: ((e: TraceEvent) => void) | null;
  private capture0: string | null;
  /** The parameter of the operator in use after macro expansion (for log messages). */
  private expandedParam: string;

  constructor(waf: Waf, options: TransactionOptions = {}) {
    const c = waf.config;
    this.waf = waf;
    this.givenId = options.id ?? null;
    this.timestamp = Date.now();
    this.startedAt = performance.now();
    this.phase = 0;
    this.interruption = null;
    this.allowed = 'none';
    this.allowedPhase = false;
    this.pause = 0;
    this.matches = [];
    this.matchedRules = [];
    this.debugLines = [];

    this.ruleEngine = c.ruleEngine;
    this.requestBodyAccess = c.requestBodyAccess;
    this.requestBodyLimit = c.requestBodyLimit;
    this.forceRequestBodyVariable = false;
    this.responseBodyAccess = c.responseBodyAccess;
    this.responseBodyLimit = c.responseBodyLimit;
    this.auditEngine = c.auditEngine;
    this.auditLogParts = c.auditLogParts;
    this.debugLogLevel = c.debugLogLevel;
    this.parseXmlIntoArgs = c.parseXmlIntoArgs;
    this.removedRules = [];
    this.removedTargets = [];
    this.txRemovals = 0;

    this.remoteAddr = null;
    this.remotePort = 0;
    this.serverAddr = null;
    this.serverName = null;
    this.serverPort = 0;
    this.remoteUser = null;
    this.authType = null;

    this.requestLine = null;
    this.requestMethod = null;
    this.requestProtocol = null;
    this.requestUri = null;
    this.requestUriRaw = null;
    this.requestFilename = null;
    this.requestBasename = null;
    this.queryString = null;
    this.argsGet = [];
    this.argsPost = [];
    this.urlencodedError = false;
    this.requestHeaders = [];
    this.requestCookies = [];
    this.requestBodyChunks = [];
    this.requestBodyLength = 0;
    this.requestBodyExceeded = false;
    this.requestBody = null;
    this.reqbodyProcessor = null;
    this.reqbodyError = false;
    this.reqbodyErrorMsg = null;
    this.inboundDataError = false;
    this.files = [];
    this.filesSizes = [];
    this.filesTmpNames = [];
    this.filesTmpContent = [];
    this.filesCombinedSize = 0;
    this.multipartPartHeaders = [];
    this.multipartFilename = null;
    this.multipartName = null;
    this.multipartFlags = null;
    this.xmlDocument = null;
    this.xmlCache = null;

    this.responseStatus = 0;
    this.responseProtocol = null;
    this.responseHeaders = [];
    this.responseBodyChunks = [];
    this.responseBodyLength = 0;
    this.responseBodyExceeded = false;
    this.responseBody = null;
    this.outboundDataError = false;

    this.tx = new KeyedCollection('TX', waf.txSlots);
    this.collections = new Map();
    this.pendingLoads = [];

    this.matchedVar = null;
    this.matchedDef = null;
    this.matchedEntry = null;
    this.matchedName = null;
    this.matchDefs = [];
    this.matchEntries = [];
    this.matchValues = [];
    this.matchCount = 0;
    this.matchedList = null;
    this.highestSeverity = 255;
    this.capturing = false;
    this.namesCache = { argsGet: [], argsPost: [], requestHeaders: [], requestCookies: [], responseHeaders: [], files: [], matchedVars: [] };
    this.carried = null;
    this.carriedCookies = null;
    this.carry = options.carry ?? null;
    this.headerChars = 0;
    this.headersCarried = 0;
    this.carriedIndex = null;
    this.headerIndex = undefined;
    const carry = this.carry;
    if (carry !== null) {
      if (carry.waf === waf) {
        this.carried = carry.headers;
        if (carry.indexOf === carry.headers) this.carriedIndex = carry.index;
        // A name entry is used only where this request's header has the same name (namesOf).
        this.namesCache.requestHeaders = carry.names.slice();
        for (const e of this.namesCache.requestHeaders) if (e !== undefined) carriedOver(e);
        this.carriedCookies = carry.cookies;
      }
      carry.waf = waf;
      carry.headers = this.requestHeaders;
      carry.names = this.namesCache.requestHeaders;
    }
    this.currentRule = null;
    this.targets = new TargetBuffer();
    this.scratch = new TargetBuffer();
    this.groupAnswers = [];
    this.sharedTargets = null;
    this.trace = options.trace ?? null;
    this.capture0 = null;
    this.expandedParam = '';
  }

  // ---------------------------------------------------------------- request input

  /** The connection: client and server addresses (REMOTE_ADDR is the real client). */
  processConnection(clientAddr: string, clientPort: number, serverAddr: string, serverPort: number): void {
    this.remoteAddr = new Entry('', clientAddr);
    this.remotePort = clientPort;
    this.serverAddr = new Entry('', serverAddr);
    this.serverPort = serverPort;
  }

  /**
   * The request line, as bytes: method, request target (origin or absolute form) and
   * protocol. Sets REQUEST_LINE, REQUEST_METHOD, REQUEST_PROTOCOL, REQUEST_URI(_RAW),
   * REQUEST_FILENAME, REQUEST_BASENAME, QUERY_STRING and ARGS_GET.
   */
  processRequestLine(method: string, target: string, protocol: string): void {
    this.requestLine = new Entry('', `${method} ${target} ${protocol}`);
    this.requestMethod = new Entry('', method);
    this.requestProtocol = new Entry('', protocol);
    this.requestUriRaw = new Entry('', target);
    let rest = target;
    // The absolute form (GET http://host/path) names the path after the authority.
    const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
    if (scheme !== null) rest = rest.slice(scheme[0].length);
    const hash = rest.indexOf('#');
    if (hash >= 0) rest = rest.slice(0, hash);
    const q = rest.indexOf('?');
    // REQUEST_FILENAME is the path the server resolves: percent-decoded, as libmodsecurity and
    // Coraza give it, and as v2 sees it once Apache has decoded r->parsed_uri.path (phase 2
    // on). CRS relies on it (933151: `array_diff%20%28` in the path is `array_diff (`).
    const rawPath = q < 0 ? rest : rest.slice(0, q);
    const path = percentDecodePath(rawPath);
    this.requestFilename = new Entry('', path);
    const slash = path.lastIndexOf('/');
    this.requestBasename = new Entry('', slash < 0 ? path : path.slice(slash + 1));
    if (q >= 0) {
      const query = rest.slice(q + 1);
      this.queryString = new Entry('', query);
      this.requestUri = new Entry('', `${rawPath}?${query}`);
      parseQueryString(this, query);
    } else {
      this.queryString = new Entry('', '');
      this.requestUri = new Entry('', rawPath);
    }
  }

  /**
   * The request's headers named `lower` (a lower-cased name), in arrival order: what a
   * `REQUEST_HEADERS:Name` selector selects (CRS names headers this way some fifty times per
   * request). Null when some header's name does not lower-case to as many chars (the
   * caller then compares names one by one, as selectors do). The index is made once per
   * request; when every header is the previous request's on the connection, its index is
   * the same and is taken over (see HeaderCarry).
   */
  requestHeadersNamed(lower: string): readonly Entry[] | null {
    let index = this.headerIndex;
    if (index === undefined) index = this.headerIndex = this.makeHeaderIndex();
    return index === null ? null : (index.get(lower) ?? NO_ENTRIES);
  }

  private makeHeaderIndex(): HeaderIndex | null {
    const headers = this.requestHeaders;
    let index = this.carriedIndex;
    // Every header the previous request's entry at the same place, and no more of them: the same index.
    if (index === null || this.headersCarried !== headers.length || headers.length !== (this.carried as readonly Entry[]).length) {
      const made = new Map<string, Entry[]>();
      for (const e of headers) {
        let lower = lowerNames.get(e.key);
        if (lower === undefined) {
          // Copies of their own: a name that is a slice of a larger string would keep it alive.
          lower = detached(e.key.toLowerCase());
          if (lowerNames.size >= LOWER_NAMES_KEPT) lowerNames = new Map();
          lowerNames.set(detached(e.key), lower);
        }
        if (lower.length !== e.key.length) return null;
        const same = made.get(lower);
        if (same === undefined) made.set(lower, [e]);
        else same.push(e);
      }
      index = made;
    }
    const carry = this.carry;
    if (carry !== null && carry.headers === headers) {
      carry.index = index;
      carry.indexOf = headers;
    }
    return index;
  }

  /** Adds a request header (arrival order is kept; repeated headers stay separate). */
  addRequestHeader(name: string, value: string): void {
    const before = this.carried?.[this.requestHeaders.length];
    const same = before !== undefined && before.value === value && before.key === name;
    if (same) {
      carriedOver(before);
      this.headersCarried++;
    }
    const entry = same ? before : new Entry(name, value);
    this.requestHeaders.push(entry);
    if (this.headerIndex !== undefined) {
      // A header after the index was made: neither this request nor the next may use it.
      this.headerIndex = undefined;
      if (this.carry !== null && this.carry.indexOf === this.requestHeaders) this.carry.indexOf = null;
    }
    this.headerChars += value.length;
    if (isNamed(name, 'cookie')) {
      const carry = this.carry;
      if (carry !== null && this.requestCookies.length === 0) {
        // The cookies of the request's first Cookie header, carried with it (see HeaderCarry).
        if (same && carry.cookieHeader === entry && this.carriedCookies !== null) {
          const carried = this.carriedCookies;
          for (let i = 0; i < carried.count; i++) {
            const cookie = carried.entries[i] as Entry;
            carriedOver(cookie);
            this.requestCookies.push(cookie);
          }
          this.namesCache.requestCookies = carried.names.slice();
          for (const e of this.namesCache.requestCookies) if (e !== undefined) carriedOver(e);
        } else parseCookieHeader(this, value);
        carry.cookieHeader = entry;
        carry.cookies = { entries: this.requestCookies, count: this.requestCookies.length, names: this.namesCache.requestCookies };
      } else parseCookieHeader(this, value);
    } else if (this.serverName === null && isNamed(name, 'host')) this.serverName = new Entry('', value.replace(/:\d+$/, ''));
  }

  /**
   * Appends request body bytes (latin1 string or Buffer). Only bytes the rules may see are
   * kept, up to SecRequestBodyLimit: a body over the limit is never buffered whole. Returns
   * false once the limit is passed (with SecRequestBodyLimitAction Reject the caller stops
   * reading; phase 2 then answers 413).
   */
  appendRequestBody(chunk: string | Uint8Array): boolean {
    const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    const room = this.requestBodyLimit - this.requestBodyLength;
    if (this.requestBodyAccess && room > 0) this.requestBodyChunks.push(s.length <= room ? s : s.slice(0, room));
    this.requestBodyLength += s.length;
    if (this.requestBodyLength > this.requestBodyLimit) this.requestBodyExceeded = true;
    return !this.requestBodyExceeded;
  }

  /** Sets the response status line (phase 3 input). */
  setResponseStatus(status: number, protocol: string): void {
    this.responseStatus = status;
    this.responseProtocol = protocol;
  }

  addResponseHeader(name: string, value: string): void {
    this.responseHeaders.push(new Entry(name, value));
  }

  /**
   * Appends response body bytes. They are kept only when rules may inspect them
   * (SecResponseBodyAccess, a Content-Type listed by SecResponseBodyMimeType), up to
   * SecResponseBodyLimit. Returns false once the limit is passed.
   */
  appendResponseBody(chunk: string | Uint8Array): boolean {
    const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    const room = this.responseBodyLimit - this.responseBodyLength;
    if (room > 0 && this.responseBodyInspected()) this.responseBodyChunks.push(s.length <= room ? s : s.slice(0, room));
    this.responseBodyLength += s.length;
    if (this.responseBodyLength > this.responseBodyLimit) this.responseBodyExceeded = true;
    return !this.responseBodyExceeded;
  }

  /** Whether the response body is for the rules: access on and its type is one to inspect. */
  responseBodyInspected(): boolean {
    if (!this.responseBodyAccess) return false;
    const type = (this.responseContentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    return this.waf.config.responseBodyMimeTypes.includes(type);
  }

  // ---------------------------------------------------------------- phases

  /** Phase 1: request headers. The body processor is chosen from Content-Type first. */
  processRequestHeaders(): Promise<Interruption | null> {
    if (this.reqbodyProcessor === null) {
      this.reqbodyProcessor = processorFor(this.requestHeaders.find((h) => isNamed(h.key, 'content-type'))?.value);
    }
    return this.runPhase(1);
  }

  /** Phase 2: the request body is processed (when accessible), then phase 2 rules run. */
  async processRequestBody(): Promise<Interruption | null> {
    if (this.interruption === null && this.ruleEngine !== 'Off') processRequestBody(this);
    return this.runPhase(2);
  }

  /** Phase 3: response headers. */
  processResponseHeaders(): Promise<Interruption | null> {
    return this.runPhase(3);
  }

  /** Phase 4: the response body (when accessible and of an inspected type). */
  processResponseBody(): Promise<Interruption | null> {
    if (this.interruption === null && this.responseBodyInspected() && this.responseBody === null) {
      if (this.responseBodyExceeded) {
        this.outboundDataError = true;
        if (this.waf.config.responseBodyLimitAction === 'Reject') {
          const message = `Response body too large (over limit of ${this.responseBodyLimit}).`;
          this.interruption = { action: 'deny', status: 500, ruleId: 0, phase: 4, url: null, message };
          return Promise.resolve(this.interruption);
        }
      }
      this.responseBody = new Entry('', this.responseBodyChunks.join(''));
    }
    return this.runPhase(4);
  }

  /** Phase 5: logging rules run, then persistent collections are written back. */
  async processLogging(): Promise<void> {
    await this.runPhase(5);
    await this.persistCollections();
    const carry = this.carry;
    if (carry !== null && this.headerChars > CARRY_MAX_CHARS && carry.headers === this.requestHeaders) {
      carry.headers = [];
      carry.names = [];
      carry.cookieHeader = null;
      carry.cookies = null;
      // The header index holds the same entries.
      carry.index = null;
      carry.indexOf = null;
    }
  }

  /** Runs the rules of one phase; resolves with the interruption, if any. */
  private async runPhase(phase: number): Promise<Interruption | null> {
    // Phase 5 runs after an interruption too, as in v2 (modsecurity_process_phase skips only
    // the others): logging-phase rules such as CRS's correlation see blocked requests.
    if (this.interruption !== null && phase !== 5) return this.interruption;
    if (this.ruleEngine === 'Off') return null;
    if (phase < 5 && (this.allowed === 'transaction' || (this.allowed === 'request' && phase <= 2))) return null;
    this.phase = phase;
    if (this.groupAnswers.length > 0) this.groupAnswers = [];
    this.sharedTargets = null;
    const items = this.waf.runPhases[phase] as readonly Rule[];
    let skip = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Rule;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (this.removedRules.length > 0 && this.isRemoved(item)) continue;
      if (item.quiet && this.trace === null && (this.txRemovals === 0 || this.removalMask(item) === 0)) {
        // A paranoia-level gate (see Rule.quiet): what evaluateChain would do, without the calls.
        this.currentRule = item;
        this.capturing = false;
        const entry = this.tx.slots[item.txSlot];
        if (entry === undefined || (item.operator as Operator).evaluate(entry.value, this) === item.negated) continue;
        this.matchedVar = entry.value;
        this.matchedDef = (item.txTarget as NonNullable<Rule['txTarget']>).def;
        this.matchedEntry = entry;
        this.matchedName = null;
        this.matchedRules.push(item);
        this.matchCount = 0;
        this.matchedList = null;
        if (item.skipAfter !== null) i = item.skipAfterIndex;
        else if (item.skip > 0) skip = item.skip;
        continue;
      }
      // A run of rules skipped whole on one group's answer: none of them may match (see Rule.groupRunEnd).
      if (item.groupRunEnd > 0 && this.trace === null) {
        const group = (item.screen as NonNullable<Rule['screen']>).group;
        if (this.groupAnswer(group) === group.none) {
          i = item.groupRunEnd - 1;
          continue;
        }
      }
      const matched = this.evaluateChain(item);
      this.matchCount = 0;
      this.matchedList = null;
      if (this.pendingLoads.length > 0) await this.settleLoads();
      if (this.interruption !== null && phase !== 5) return this.interruption;
      if (this.allowedPhase) {
        this.allowedPhase = false;
        break;
      }
      if (this.allowed === 'transaction' || (this.allowed === 'request' && phase <= 2)) break;
      // ctl:ruleEngine=Off in this phase stops it.
      if ((this.ruleEngine as EngineMode) === 'Off') break;
      if (matched) {
        // skipAfter resumes after the marker (or rule) it names: its place was found at load.
        if (item.skipAfter !== null) i = item.skipAfterIndex;
        else if (item.skip > 0) skip = item.skip;
      }
    }
    return null;
  }

  /** ENV: variables rules set with setenv. */
  get env(): KeyedCollection {
    return (this.envCollection ??= new KeyedCollection('ENV'));
  }

  /** GEO: what @geoLookup found (Warden ships no database: stays empty). */
  get geo(): KeyedCollection {
    return (this.geoCollection ??= new KeyedCollection('GEO'));
  }

  /** UNIQUE_ID: the transaction's id. */
  get id(): string {
    return (this.givenId ??= uniqueId());
  }

  /** MATCHED_VAR_NAME: the name of the last value a rule matched. */
  get matchedVarName(): string | null {
    if (this.matchedName === null && this.matchedDef !== null) this.matchedName = fullName(this.matchedDef, this.matchedEntry as Entry);
    return this.matchedName;
  }

  /** MATCHED_VARS: what the current rule (chain) matched so far. */
  get matchedVars(): Entry[] {
    let list = this.matchedList;
    if (list === null) {
      list = [];
      for (let i = 0; i < this.matchCount; i++) list.push(new Entry(fullName(this.matchDefs[i] as VariableDef, this.matchEntries[i] as Entry), this.matchValues[i] as string));
      this.matchedList = list;
    }
    return list;
  }

  /** Evaluates a rule and, while it matches, the rest of its chain. */
  private evaluateChain(starter: Rule): boolean {
    // In phase 5 the interruption of an earlier phase stays set: only a new one stops the chain.
    const before = this.interruption;
    let rule: Rule | null = starter;
    while (rule !== null) {
      if (!this.evaluateRule(rule, starter)) return false;
      if (this.interruption !== before) break;
      rule = rule.chainNext;
    }
    this.matchedRules.push(starter);
    return true;
  }

  /** Evaluates one rule of a chain (or a lone rule) over all its targets. */
  private evaluateRule(rule: Rule, starter: Rule): boolean {
    this.currentRule = rule;
    if (rule.operatorName === '') {
      // SecAction: matches once, unconditionally.
      if (this.trace !== null) {
        this.trace({ ruleId: starter.id, chainLink: rule !== starter, variable: '', rawValue: '', value: '', transforms: [], operator: 'SecAction', matched: true });
      }
      this.onMatch(rule, starter, null, 'Unconditional match in SecAction.');
      return true;
    }
    const screen = rule.screen;
    // No value of the rule's can match: skip it whole (a trace shows every value, so not then).
    if (screen !== null && screen.skippable && this.trace === null && this.groupAnswer(screen.group)[screen.index] === 0) return false;
    const op = this.operatorOf(rule);
    if (op === null) return false;
    const one = rule.txTarget;
    if (one !== null && (this.txRemovals === 0 || this.removalMask(rule) === 0)) {
      // What collecting the one TX target would give: its entry, or (&TX:x) a count of 0 or 1.
      const entry = this.tx.slots[rule.txSlot];
      if (one.counting) {
        const count = countEntry(entry === undefined ? 0 : 1);
        return this.test(rule, starter, op, countingDef(one.text), count, count.value);
      }
      if (entry === undefined) return false;
      return this.test(rule, starter, op, one.def, entry, entry.value);
    }
    const buf = this.resolveTargets(rule);
    // A trace shows every value: no value is left out then. A rule looking at more values
    // than MEMO_MAX_VALUES (thousands of arguments) does without: such values rarely repeat
    // across requests and the memo would cost more than it saves; it remembers the values
    // it did not match for this evaluation only (RECENT_SLOTS).
    const memo = this.trace === null && buf.length <= MEMO_MAX_VALUES ? rule.noMatch : null;
    if (memo !== null && buf !== this.targets && buf.length > 0) {
      // A list kept for the phase: what all its values are known not to match, worked out once.
      if (buf.common === undefined) buf.common = this.waf.facts.common(buf.entries, buf.length);
      if (buf.common !== null && memo.hasAll(buf.common)) return false;
    }
    const recent = this.trace === null && buf.length > MEMO_MAX_VALUES && rule.pureVerdict ? (this.recentNoMatch ??= new Int32Array(RECENT_SLOTS)).fill(0) : null;
    // A match that interrupts ends the rule (phase 5 keeps an earlier phase's interruption).
    const interruption = this.interruption;
    let matched = false;
    for (let i = 0; i < buf.length; i++) {
      const entry = buf.entries[i] as Entry;
      const def = buf.defs[i] as VariableDef;
      if (memo !== null && memo.has(entry)) continue;
      let id = 0;
      if (recent !== null) {
        id = idOf(entry);
        if (id > 0 && recent[id & (RECENT_SLOTS - 1)] === id) continue;
      }
      const limits = this.limitHits;
      let hit = false;
      if (rule.multiMatch && rule.transforms !== null) {
        const steps = applySteps(rule.transforms, entry);
        const long = rule.negated || this.trace !== null ? null : rule.longSteps;
        let previous: string | null = null;
        for (let k = 0; k < steps.length; k++) {
          const value = steps[k] as string;
          if (value === previous) continue;
          previous = value;
          // A long value the chain's screen rules out for this rule (see engine/prescreen LongScreen).
          const place = long !== null && value.length >= LONG_VALUE ? long[k]?.get(def.name) : undefined;
          if (place !== undefined && place.screen.answerFor(value, entry, def.name)[place.index] === 0) continue;
          if (this.test(rule, starter, op, def, entry, value)) hit = true;
          if (this.interruption !== interruption) return true;
        }
      } else {
        // A value the screen rules out for this rule is not even transformed.
        if (screen !== null && !rule.negated && this.trace === null && screenOf(entry, screen.group, def.name)[screen.index] === 0) continue;
        const value = rule.transforms === null ? entry.value : applyChain(rule.transforms, entry);
        hit = this.test(rule, starter, op, def, entry, value);
        if (this.interruption !== interruption) return true;
      }
      if (hit) matched = true;
      else if (this.limitHits !== limits) continue;
      else if (memo !== null) memo.add(entry);
      else if (recent !== null && id > 0) recent[id & (RECENT_SLOTS - 1)] = id;
    }
    return matched;
  }

  /** Runs the operator on one value; on a match, records it and runs the actions. */
  private test(rule: Rule, starter: Rule, op: Operator, def: VariableDef, entry: Entry, value: string): boolean {
    this.capturing = rule.capture;
    this.capture0 = null;
    const screen = rule.screen;
    // The group's transformations are the rule's: the answer for the entry is the answer for `value`.
    const long = screen === null && value.length >= LONG_VALUE ? rule.longScreens?.get(def.name) : undefined;
    const possible =
      screen !== null
        ? (screenOf(entry, screen.group, def.name)[screen.index] as number) === 1
        : long === undefined || (long.screen.answerFor(value, entry, def.name)[long.index] as number) === 1;
    const hit = (possible && op.evaluate(value, this)) !== rule.negated;
    if (this.trace !== null) {
      this.trace({
        ruleId: starter.id,
        chainLink: rule !== starter,
        variable: fullName(def, entry),
        rawValue: entry.value,
        value,
        transforms: rule.transforms?.names() ?? [],
        operator: `${rule.negated ? '!' : ''}@${rule.operatorName} ${rule.operatorParam}`,
        matched: hit,
      });
    }
    if (!hit) return false;
    this.matchedVar = value;
    this.matchedDef = def;
    this.matchedEntry = entry;
    this.matchedName = null;
    const n = this.matchCount++;
    this.matchDefs[n] = def;
    this.matchEntries[n] = entry;
    this.matchValues[n] = value;
    this.matchedList = null;
    // The variable's name and the message go to the log only from a chain's last rule (see onMatch).
    const logs = !rule.chained && (starter.log || starter.auditlog);
    const name = logs ? fullName(def, entry) : null;
    const message = name !== null ? matchMessage(rule.operatorName, rule.dynamicOperator === null ? rule.operatorParam : this.expandedParam, rule.negated, name, value, this.capture0) : '';
    this.onMatch(rule, starter, name, message);
    return true;
  }

  /** A rule matched one value: actions, severity, and (for a chain's last rule) the verdict. */
  private onMatch(rule: Rule, starter: Rule, variable: string | null, message: string): void {
    if (!rule.chained && starter.severity >= 0 && starter.severity < this.highestSeverity) {
      this.highestSeverity = starter.severity;
    }
    const actions = rule.actions;
    for (let i = 0; i < actions.length; i++) (actions[i] as Rule['actions'][number]).execute(this, rule);
    if (!rule.chained) this.disrupt(starter, variable, message);
  }

  private disrupt(starter: Rule, variable: string | null, message: string): void {
    const action = starter.effectiveDisruptive;
    const enforce = this.ruleEngine === 'On' && this.phase !== 5;
    const stops = enforce && (action === 'deny' || action === 'drop' || action === 'redirect');
    if (starter.log || starter.auditlog) this.record(starter, variable, message, stops ? action : 'pass', stops);
    if (!enforce) return;
    if (starter.pause > this.pause) this.pause = starter.pause;
    if (action === 'allow') {
      if (starter.allowScope === 'phase') this.allowedPhase = true;
      else this.allowed = starter.allowScope;
      return;
    }
    if (!stops) return;
    let status = starter.status;
    let url: string | null = null;
    if (action === 'redirect') {
      url = starter.redirect === null ? null : expandMacro(starter.redirect, this);
      if (![301, 302, 303, 307, 308].includes(status)) status = 302;
    } else if (status === 0) status = 403;
    this.interruption = { action, status, ruleId: starter.id, phase: this.phase, url, message };
  }

  private record(starter: Rule, variable: string | null, message: string, action: string, intercepted: boolean): void {
    this.currentRule = starter;
    this.matches.push({
      ruleId: starter.id,
      phase: this.phase,
      file: starter.location.file,
      line: starter.location.line,
      message,
      msg: starter.msg === null ? '' : expandMacro(starter.msg, this),
      data: starter.logdata === null ? '' : expandMacro(starter.logdata, this),
      severity: starter.severity,
      tags: starter.tags.map((t) => expandMacro(t, this)),
      ver: starter.ver ?? '',
      rev: starter.rev ?? '',
      accuracy: starter.accuracy,
      maturity: starter.maturity,
      variable: variable ?? '',
      value: this.matchedVar ?? '',
      action,
      intercepted,
      log: starter.log,
      auditlog: starter.auditlog,
    });
  }

  /** The rule's operator; for a parameter with macros, compiled for this expansion (cached). */
  private operatorOf(rule: Rule): Operator | null {
    if (rule.operator !== null) return rule.operator;
    const dyn = rule.dynamicOperator;
    if (dyn === null) return null;
    const param = expandMacro(dyn.template, this);
    // ModSecurity logs the parameter as it was used ("Operator GE matched 5 at …").
    this.expandedParam = param;
    let op = dyn.cache.get(param);
    if (op === undefined) {
      try {
        op = this.waf.compileOperator(rule, param);
      } catch (err) {
        op = err as Error;
      }
      if (dyn.cache.size < 256) dyn.cache.set(param, op);
    }
    if (op instanceof Error) {
      this.debug(1, `Rule ${rule.starter.id}: @${rule.operatorName} "${param}": ${op.message}`);
      return null;
    }
    return op;
  }

  /** Which members of a stable screen group may match some value of this phase (engine/prescreen). */
  private groupAnswer(group: ScreenGroup): Uint8Array {
    let answer = this.groupAnswers[group.id];
    if (answer !== undefined) return answer;
    // Most values match no member and share the group's empty answer: a copy is made only
    // when some value matches one.
    let union: Uint8Array | null = null;
    const buf = this.scratch;
    for (const t of group.targets as NonNullable<ScreenGroup['targets']>) {
      buf.length = 0;
      t.def.collect(this, t.selector, buf);
      for (let i = 0; i < buf.length; i++) {
        const hits = screenOf(buf.entries[i] as Entry, group, (buf.defs[i] as VariableDef).name);
        if (hits === group.none) continue;
        if (union === null) union = hits.slice();
        else for (let k = 0; k < hits.length; k++) union[k] = (union[k] as number) | (hits[k] as number);
      }
    }
    answer = union ?? group.none;
    this.groupAnswers[group.id] = answer;
    return answer;
  }

  /** The values a rule looks at: a long list another rule of the phase collected, or its own. */
  private resolveTargets(rule: Rule): TargetBuffer {
    const key = rule.targetsKey;
    const mask = this.removedTargets.length === 0 ? 0 : this.removalMask(rule);
    if (key === null) return this.collectTargets(rule, mask);
    const shared = mask < 0 ? undefined : this.sharedTargets?.get(mask);
    const known = shared?.get(key);
    if (known !== undefined) return known;
    const buf = this.collectTargets(rule, mask);
    if ((buf.length <= SHARE_MIN_VALUES && !rule.shareTargets) || mask < 0) return buf;
    const copy = new TargetBuffer();
    copy.defs = buf.defs.slice(0, buf.length);
    copy.entries = buf.entries.slice(0, buf.length);
    copy.length = buf.length;
    this.sharedTargets ??= new Map();
    let byKey = this.sharedTargets.get(mask);
    if (byKey === undefined) {
      byKey = new Map();
      this.sharedTargets.set(mask, byKey);
    }
    byKey.set(key, copy);
    return copy;
  }

  /**
   * Which of this transaction's target removals name the rule's chain: bit i for
   * removedTargets[i]; -1 past 30 of them (some may: its values are not shared then).
   */
  private removalMask(rule: Rule): number {
    const removed = this.removedTargets;
    if (removed.length > 30) return -1;
    let mask = 0;
    for (let i = 0; i < removed.length; i++) if ((removed[i] as (typeof removed)[number]).filter.selects(rule.starter)) mask |= 1 << i;
    return mask;
  }

  /**
   * The values a rule looks at: targets minus exclusions (the rule's, and those of the
   * removals `mask` says name it: see removalMask), in the reusable buffer.
   */
  private collectTargets(rule: Rule, mask: number): TargetBuffer {
    const buf = this.targets;
    buf.length = 0;
    const targets = rule.targets;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i] as Rule['targets'][number];
      if (t.counting) {
        this.scratch.length = 0;
        t.def.collect(this, t.selector, this.scratch);
        buf.push(countingDef(t.text), countEntry(this.scratch.length));
      } else t.def.collect(this, t.selector, buf);
    }
    let exclusions: readonly TargetRef[] = rule.exclusions;
    if (mask !== 0) {
      // A new list only for a rule that a removal names (CRS's 941010 names a score of rules, not the rest).
      const removed = this.removedTargets;
      for (let i = 0; i < removed.length; i++) {
        const r = removed[i] as (typeof removed)[number];
        if (mask < 0 ? r.filter.selects(rule.starter) : (mask & (1 << i)) !== 0) exclusions = [...exclusions, ...r.refs];
      }
    }
    if (exclusions.length > 0 && buf.length > 0) {
      let w = 0;
      for (let r = 0; r < buf.length; r++) {
        const def = buf.defs[r] as VariableDef;
        const entry = buf.entries[r] as Entry;
        let excluded = false;
        for (let k = 0; k < exclusions.length; k++) {
          if (refSelects(exclusions[k] as TargetRef, def, entry.key)) {
            excluded = true;
            break;
          }
        }
        if (!excluded) {
          buf.defs[w] = def;
          buf.entries[w] = entry;
          w++;
        }
      }
      buf.length = w;
    }
    return buf;
  }

  private isRemoved(rule: Rule): boolean {
    for (let i = 0; i < this.removedRules.length; i++) if ((this.removedRules[i] as RuleFilter).selects(rule)) return true;
    return false;
  }

  // ---------------------------------------------------------------- MatchContext

  capture(index: number, value: string): void {
    // TX:0 … TX:9 are their own lower case.
    const tx = this.tx;
    if (index === 0) {
      // Only the digits that may be set (most matches capture TX:0 alone).
      for (let i = 0; tx.digits !== 0 && i < CAPTURE_KEYS.length; i++) if ((tx.digits & (1 << i)) !== 0) tx.deleteLowered(CAPTURE_KEYS[i] as string, this.waf.captureSlots[i]);
      this.capture0 = value;
    }
    if (index < 10) {
      const key = CAPTURE_KEYS[index] as string;
      tx.setLowered(key, key, value, this.waf.captureSlots[index]);
    }
  }

  matchLimitExceeded(): void {
    this.limitHits++;
    this.tx.set('MSC_PCRE_LIMITS_EXCEEDED', '1');
    this.debug(3, `Rule ${this.currentRule?.starter.id ?? 0}: regex match limit exceeded`);
  }

  // ---------------------------------------------------------------- used by actions and variables

  /** The first value of a variable (macro expansion), or null. */
  firstValue(def: VariableDef, selector: Selector | null): string | null {
    const buf = this.scratch;
    buf.length = 0;
    def.collect(this, selector, buf);
    return buf.length > 0 ? (buf.entries[0] as Entry).value : null;
  }

  /** The collection `setvar` and friends write to: TX or an opened persistent collection. */
  collectionForWrite(name: string): KeyedCollection | undefined {
    const lower = name.toLowerCase();
    if (lower === 'tx') return this.tx;
    if (lower === 'env') return this.env;
    return this.collections.get(lower);
  }

  /** Opens a persistent collection (initcol, setsid, setuid, setrsc) from the store. */
  openCollection(name: string, key: string): void {
    if (this.collections.has(name)) return;
    const storeName = this.storageName(name);
    const timeout = this.waf.config.collectionTimeout;
    const loaded = this.waf.store.loadCollection(storeName, key);
    if (loaded instanceof Promise) {
      const placeholder = new PersistentCollection(name.toUpperCase(), key, null, timeout, this.timestamp);
      this.collections.set(name, placeholder);
      this.pendingLoads.push(
        loaded.then(
          (stored) => {
            if (stored === null) return;
            // Rules after initcol (in the same rule, often) wrote to the placeholder meanwhile.
            const record = new PersistentCollection(name.toUpperCase(), key, stored, timeout, this.timestamp);
            record.replay(placeholder);
            this.collections.set(name, record);
          },
          (err: Error) => this.debug(1, `Failed to load collection ${name}=${key}: ${err.message}`),
        ),
      );
    } else {
      this.collections.set(name, new PersistentCollection(name.toUpperCase(), key, loaded, timeout, this.timestamp));
    }
  }

  private storageName(name: string): string {
    return name === 'session' || name === 'user' || name === 'resource' ? `${this.waf.config.webAppId}_${name}` : name;
  }

  private async settleLoads(): Promise<void> {
    const loads = this.pendingLoads.splice(0);
    await Promise.all(loads);
  }

  private async persistCollections(): Promise<void> {
    for (const [name, coll] of this.collections) {
      if (!coll.dirty) continue;
      try {
        await this.waf.store.saveCollection(this.storageName(name), coll.storageKey, coll.toUpdate(Date.now()));
      } catch (err) {
        this.debug(1, `Failed to store collection ${name}=${coll.storageKey}: ${(err as Error).message}`);
      }
    }
  }

  // A ctl runs once per value its rule matches: the same removal (the same compiled
  // filter and references) is kept once, or every later rule would test it again and again.
  removeRules(filter: RuleFilter): void {
    if (!this.removedRules.includes(filter)) this.removedRules.push(filter);
  }

  removeTargets(filter: RuleFilter, refs: readonly TargetRef[]): void {
    const removed = this.removedTargets;
    for (let i = 0; i < removed.length; i++) {
      const r = removed[i] as (typeof removed)[number];
      if (r.filter === filter && r.refs === refs) return;
    }
    removed.push({ filter, refs });
    if (refs.some((ref) => ref.def.name === 'TX')) this.txRemovals++;
  }

  changeAuditLogParts(spec: string): void {
    if (spec.startsWith('+')) {
      for (const p of spec.slice(1)) if (!this.auditLogParts.includes(p)) this.auditLogParts += p;
    } else if (spec.startsWith('-')) {
      for (const p of spec.slice(1)) this.auditLogParts = this.auditLogParts.replace(p, '');
    } else this.auditLogParts = spec;
  }

  /** The RULE collection: the metadata of the rule being evaluated (`%{rule.id}`). */
  ruleCollection(): KeyedCollection | undefined {
    return this.currentRule?.starter.metadataCollection();
  }

  multipartFlag(name: string): string | null {
    return this.multipartFlags?.get(name) ?? (this.reqbodyProcessor === 'MULTIPART' ? '0' : null);
  }

  fullRequest(): string {
    const lines = [this.requestLine?.value ?? ''];
    for (const h of this.requestHeaders) lines.push(`${h.key}: ${h.value}`);
    return `${lines.join('\r\n')}\r\n\r\n${this.requestBody?.value ?? ''}`;
  }

  statusLine(): string | null {
    return this.responseStatus === 0 ? null : `${this.responseProtocol ?? 'HTTP/1.1'} ${this.responseStatus}`;
  }

  get responseContentType(): string | null {
    for (const h of this.responseHeaders) if (h.key.toLowerCase() === 'content-type') return h.value;
    return null;
  }

  get responseContentLength(): string | null {
    for (const h of this.responseHeaders) if (h.key.toLowerCase() === 'content-length') return h.value;
    return null;
  }

  /** Appends a line to the debug log when its level is enabled. */
  debug(level: number, message: string): void {
    if (level <= this.debugLogLevel) this.debugLines.push(`[${this.id}][${this.phase}] ${message}`);
  }

  /** The severity name of the highest severity matched (HIGHEST_SEVERITY as text). */
  highestSeverityName(): string | null {
    return this.highestSeverity < SEVERITY_NAMES.length ? (SEVERITY_NAMES[this.highestSeverity] as string) : null;
  }
}

/** Counting targets (`&ARGS`) yield one value named as written. */
/**
 * The value of `&VAR` for small counts, one Entry per count shared by every transaction:
 * what an Entry caches (transformations, screen answers, memo id) depends on its value
 * alone, so sharing it is safe, and CRS counts a dozen variables per request.
 */
const countEntries: Entry[] = Array.from({ length: 64 }, (_, n) => new Entry('', String(n)));

function countEntry(n: number): Entry {
  return n < countEntries.length ? (countEntries[n] as Entry) : new Entry('', String(n));
}

const countingDefs = new Map<string, VariableDef>();
function countingDef(text: string): VariableDef {
  let def = countingDefs.get(text);
  if (def === undefined) {
    def = { name: text, collection: false, collect() {} };
    countingDefs.set(text, def);
  }
  return def;
}
