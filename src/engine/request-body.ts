/**
 * @module engine/request-body
 * Puts request data where rules read it, with the pure parsers of src/bodies and
 * src/http/cookies: query-string arguments (ARGS_GET), cookies, and the request body through
 * the processor chosen by Content-Type or `ctl:requestBodyProcessor` (URLENCODED, MULTIPART,
 * JSON, XML), with ModSecurity's limits (SecRequestBodyLimit, SecRequestBodyNoFilesLimit,
 * SecArgumentsLimit, SecRequestBodyLimitAction) and error variables (REQBODY_ERROR …).
 */
import { parseJson } from '../bodies/json.js';
import { parseMultipart, type MultipartFlags } from '../bodies/multipart.js';
import type { ArgumentSink } from '../bodies/types.js';
import { parseUrlencoded } from '../bodies/urlencoded.js';
import { parseXml } from '../bodies/xml.js';
import { compileXPath, evaluateXPath, type CompiledXPath } from '../bodies/xpath.js';
import { parseCookies } from '../http/cookies.js';
import { Entry } from './collection.js';
import type { Transaction } from './transaction.js';

/**
 * A sink that appends arguments to a list of entries. A class, not a closure made per
 * call: run through tsx (`npm start`), every closure made gets its name set by a helper
 * call, which showed in the benign GET's profile.
 */
class ListSink implements ArgumentSink {
  constructor(private readonly list: Entry[]) {}

  add(name: string, value: string): void {
    this.list.push(new Entry(name, value));
  }
}

function into(list: Entry[]): ArgumentSink {
  return new ListSink(list);
}

function argumentsLeft(tx: Transaction): number {
  return Math.max(0, tx.waf.config.argumentsLimit - tx.argsGet.length - tx.argsPost.length);
}

/** ARGS_GET from the query string. */
export function parseQueryString(tx: Transaction, query: string): void {
  const r = parseUrlencoded(query, into(tx.argsGet), tx.waf.config.argumentSeparator, argumentsLeft(tx));
  if (r.invalidEncodings > 0) tx.urlencodedError = true;
}

/** REQUEST_COOKIES from one Cookie header (SecCookieFormat, SecCookiev0Separator). */
export function parseCookieHeader(tx: Transaction, header: string): void {
  const c = tx.waf.config;
  parseCookies(header, into(tx.requestCookies), c.cookieFormat, c.cookieV0Separator ?? undefined);
}

/** The processor ModSecurity picks from Content-Type before phase 1 (rules may change it). */
export function processorFor(contentType: string | undefined): string | null {
  const ct = (contentType ?? '').trim().toLowerCase();
  if (ct.startsWith('application/x-www-form-urlencoded')) return 'URLENCODED';
  if (ct.startsWith('multipart/form-data')) return 'MULTIPART';
  return null;
}

const FLAG_NAMES: ReadonlyArray<readonly [keyof MultipartFlags, string]> = [
  ['strictError', 'MULTIPART_STRICT_ERROR'],
  ['boundaryQuoted', 'MULTIPART_BOUNDARY_QUOTED'],
  ['boundaryWhitespace', 'MULTIPART_BOUNDARY_WHITESPACE'],
  ['dataBefore', 'MULTIPART_DATA_BEFORE'],
  ['dataAfter', 'MULTIPART_DATA_AFTER'],
  ['headerFolding', 'MULTIPART_HEADER_FOLDING'],
  ['lfLine', 'MULTIPART_LF_LINE'],
  ['crlfLine', 'MULTIPART_CRLF_LINE'],
  ['crlfLfLines', 'MULTIPART_CRLF_LF_LINES'],
  ['missingSemicolon', 'MULTIPART_MISSING_SEMICOLON'],
  ['invalidQuoting', 'MULTIPART_INVALID_QUOTING'],
  ['invalidPart', 'MULTIPART_INVALID_PART'],
  ['invalidHeaderFolding', 'MULTIPART_INVALID_HEADER_FOLDING'],
  ['fileLimitExceeded', 'MULTIPART_FILE_LIMIT_EXCEEDED'],
  ['unmatchedBoundary', 'MULTIPART_UNMATCHED_BOUNDARY'],
];

function reject(tx: Transaction, message: string): void {
  tx.inboundDataError = true;
  tx.interruption = { action: 'deny', status: 413, ruleId: 0, phase: 2, url: null, message };
}

function bodyError(tx: Transaction, message: string): void {
  tx.reqbodyError = true;
  tx.reqbodyErrorMsg = message;
}

/**
 * Runs the request body processor (phase 2 input). A body over SecRequestBodyLimit is
 * refused with 413 (Reject, engine On) or inspected up to the limit (ProcessPartial, or
 * DetectionOnly).
 */
export function processRequestBody(tx: Transaction): void {
  if (!tx.requestBodyAccess) return;
  const config = tx.waf.config;
  let body = tx.requestBodyChunks.join('');
  // Only an engine that is On refuses (v2 checks is_enabled == MODSEC_ENABLED before
  // answering 413); in DetectionOnly an over-limit body is inspected up to the limit.
  const partial = config.requestBodyLimitAction === 'ProcessPartial' || tx.ruleEngine === 'DetectionOnly';
  if (tx.requestBodyExceeded) {
    if (!partial) {
      reject(tx, `Request body (Content-Length) is larger than the configured limit (${tx.requestBodyLimit}).`);
      return;
    }
    tx.inboundDataError = true;
  }
  const processor = tx.reqbodyProcessor;
  if (processor !== 'MULTIPART' && body.length > config.requestBodyNoFilesLimit) {
    if (!partial) {
      reject(tx, `Request body no files data length is larger than the configured limit (${config.requestBodyNoFilesLimit}).`);
      return;
    }
    tx.inboundDataError = true;
    body = body.slice(0, config.requestBodyNoFilesLimit);
  }
  switch (processor) {
    case 'URLENCODED': {
      const r = parseUrlencoded(body, into(tx.argsPost), config.argumentSeparator, argumentsLeft(tx));
      if (r.invalidEncodings > 0) tx.urlencodedError = true;
      if (r.error !== null) bodyError(tx, r.error);
      tx.requestBody = new Entry('', body);
      return;
    }
    case 'MULTIPART': {
      const contentType = tx.requestHeaders.find((h) => h.key.toLowerCase() === 'content-type')?.value ?? '';
      const r = parseMultipart(body, contentType, into(tx.argsPost), {
        fileLimit: config.uploadFileLimit,
        extractFiles: config.uploadKeepFiles !== 'Off' || config.tmpSaveUploadedFiles,
        argumentsLimit: argumentsLeft(tx),
      });
      if (r.noFilesLength > config.requestBodyNoFilesLimit && !partial) {
        reject(tx, `Request body no files data length is larger than the configured limit (${config.requestBodyNoFilesLimit}).`);
        return;
      }
      const flags = (tx.multipartFlags ??= new Map());
      for (const [key, name] of FLAG_NAMES) flags.set(name, r.flags[key] ? '1' : '0');
      for (const part of r.parts) {
        for (const h of part.headers) tx.multipartPartHeaders.push(new Entry(part.name, h));
        if (part.filename === undefined) continue;
        tx.files.push(new Entry(part.name, part.filename));
        tx.filesSizes.push(new Entry(part.name, String(part.value.length)));
        tx.filesTmpContent.push(new Entry(part.name, part.value));
      }
      tx.filesCombinedSize = r.filesCombinedSize;
      tx.multipartName = r.name;
      tx.multipartFilename = r.filename;
      if (r.error !== null) bodyError(tx, r.error);
      return;
    }
    case 'JSON': {
      const r = parseJson(body, into(tx.argsPost), {
        depthLimit: config.requestBodyJsonDepthLimit,
        argumentsLimit: config.argumentsLimit,
        argumentsCount: tx.argsGet.length,
      });
      if (r.error !== null) bodyError(tx, r.error);
      // Arguments are named as v3 names them, so REQUEST_BODY holds the body as in v3: with
      // `array_N` names a key whose value is an array no longer ends its argument name, and
      // CRS rules anchored there (934210's `__contained_by$`) read the raw body instead.
      tx.requestBody = new Entry('', body);
      return;
    }
    case 'XML': {
      const r = parseXml(body);
      tx.xmlDocument = r.document;
      if (r.error !== null) {
        bodyError(tx, r.error);
        if (r.detail !== null) tx.debug(4, `XML parser error: ${r.detail}`);
      }
      return;
    }
    default:
      // Without a processor the body is visible only when a rule forces REQUEST_BODY
      // (ctl:forceRequestBodyVariable, as CRS does for text bodies); as in ModSecurity v2.
      if (tx.forceRequestBodyVariable) tx.requestBody = new Entry('', body);
  }
}

/** The values an XPath selects in the request's XML body (cached per transaction). */
export function xmlValues(tx: Transaction, xpath: CompiledXPath | null): readonly Entry[] {
  const doc = tx.xmlDocument as Parameters<typeof evaluateXPath>[0] | null;
  if (doc === null) return NO_VALUES;
  const key = xpath ?? ALL;
  const cache = (tx.xmlCache ??= new Map());
  let cached = cache.get(key);
  if (cached === undefined) {
    const source = xpath?.source ?? '/*';
    cached = evaluateXPath(doc, xpath ?? allNodes()).map((v) => new Entry(source, v));
    cache.set(key, cached);
  }
  return cached;
}

const ALL = {};
/** What XML gives while there is no document (most requests): shared, never written. */
const NO_VALUES: readonly Entry[] = [];
let all: CompiledXPath | null = null;
function allNodes(): CompiledXPath {
  all ??= compileXPath('/*');
  return all;
}
