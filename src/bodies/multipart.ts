/**
 * @module bodies/multipart
 * `multipart/form-data` request bodies, parsed as strictly as ModSecurity v2's
 * apache2/msc_multipart.c, with every flag the CRS and ModSecurity's recommended rules read
 * (MULTIPART_STRICT_ERROR and its parts, MULTIPART_UNMATCHED_BOUNDARY, the CRLF/LF flags),
 * the parts (ARGS_POST for fields; FILES, FILES_NAMES, FILES_SIZES, FILES_COMBINED_SIZE
 * for files), MULTIPART_PART_HEADERS, MULTIPART_NAME / MULTIPART_FILENAME, and
 * REQBODY_ERROR_MSG worded as v2 words it.
 *
 * v2 reads the body through a 4096-byte line buffer, and what it flags depends on where
 * that buffer is cut (a line longer than 4096 bytes is several "lines"; a header line
 * that long is an error; a `\r` is never the last byte of a full buffer). This parser
 * walks the same cuts over the whole body, by index: part values and file contents are
 * slices of the body, nothing is copied, and the work is linear in the body size (the
 * search for a stray boundary inside data is one forward `indexOf`, not a scan per line).
 *
 * Differences from v2, on purpose:
 * - the whole body is one chunk: data after the final boundary sets MULTIPART_DATA_AFTER
 *   (v2 sets MULTIPART_DATA_BEFORE instead when that data arrives in a later network
 *   chunk, a bug);
 * - SecUploadFileLimit counts files: the file that would go over the limit, and those after
 *   it, are not extracted and raise MULTIPART_FILE_LIMIT_EXCEEDED. v2 also raises it, and
 *   stops writing, on the *second data line* of the file that reached the limit
 *   (`nfiles >= limit` tested on every write), which flags a legitimate upload;
 * - messages carry no trailing debug-log noise; their text is v2's.
 */
import { ARGUMENTS_LIMIT_MESSAGE, type ArgumentSink } from './types.js';

/** v2's line buffer size (MULTIPART_BUF_SIZE): part header lines must be shorter. */
export const MULTIPART_LINE_LIMIT = 4096;

/** What the engine passes from its configuration. */
export interface MultipartOptions {
  /** SecUploadFileLimit: how many files may be extracted; 100 by default (v2's default). */
  readonly fileLimit?: number;
  /**
   * Whether files are extracted at all. v2 extracts them (and so counts them against
   * SecUploadFileLimit) only with SecUploadKeepFiles or a rule using @inspectFile; pass
   * false otherwise to match it. True by default.
   */
  readonly extractFiles?: boolean;
  /** SecArgumentsLimit minus the arguments already collected; unlimited by default. */
  readonly argumentsLimit?: number;
}

/** One part that had a name: a form field or a file. */
export interface MultipartPart {
  /** The `name` parameter of Content-Disposition. */
  readonly name: string;
  /** The `filename` parameter (FILES); undefined for a form field. */
  readonly filename: string | undefined;
  /** The field value (ARGS_POST) or the file content (FILES_TMP_CONTENT), as bytes. */
  readonly value: string;
  /** The part's header lines as `Name: value`, folded lines joined (MULTIPART_PART_HEADERS). */
  readonly headers: readonly string[];
  /** For a file: it is within SecUploadFileLimit (v2 writes it out: FILES_TMPNAMES). */
  readonly extracted: boolean;
}

/** The MULTIPART_* flags, named as the variables are (true = the variable is 1). */
export interface MultipartFlags {
  /** MULTIPART_STRICT_ERROR: any of the flags below except the three line-ending and unmatched-boundary ones, or a parse error. */
  strictError: boolean;
  /** A parse error stopped the parser (REQBODY_ERROR is set too). */
  error: boolean;
  boundaryQuoted: boolean;
  boundaryWhitespace: boolean;
  dataBefore: boolean;
  dataAfter: boolean;
  headerFolding: boolean;
  /** MULTIPART_LF_LINE: some line ended with a bare LF. */
  lfLine: boolean;
  /** MULTIPART_CRLF_LINE: some line ended with CRLF. */
  crlfLine: boolean;
  /** MULTIPART_CRLF_LF_LINES: both of the above. */
  crlfLfLines: boolean;
  missingSemicolon: boolean;
  invalidQuoting: boolean;
  invalidPart: boolean;
  invalidHeaderFolding: boolean;
  fileLimitExceeded: boolean;
  unmatchedBoundary: boolean;
}

/** Everything the rules can see of a multipart body. */
export interface MultipartResult {
  /** REQBODY_ERROR_MSG when parsing failed (REQBODY_ERROR = 1), else null. */
  readonly error: string | null;
  readonly flags: MultipartFlags;
  /**
   * Parts with a name, in body order; on error, those completed before it (v2 keeps them
   * for FILES* and MULTIPART_PART_HEADERS). Fields reached the sink only when `error` is
   * null (or is the arguments-limit error).
   */
  readonly parts: readonly MultipartPart[];
  /** MULTIPART_NAME: the last `name` parameter seen, or null. */
  readonly name: string | null;
  /** MULTIPART_FILENAME: the last `filename` parameter seen, or null. */
  readonly filename: string | null;
  /** FILES_COMBINED_SIZE. */
  readonly filesCombinedSize: number;
  /** Bytes of part headers and field values, for SecRequestBodyNoFilesLimit. */
  readonly noFilesLength: number;
}

/**
 * Parses a `multipart/form-data` body. Form fields go to `sink` (ARGS_POST) once the body
 * parsed without error, as v2 adds them at the end; files and flags are in the result.
 *
 * @param body the request body, as bytes
 * @param contentType the request's Content-Type header value (the boundary comes from it)
 * @param sink receives each form field's name and value
 * @param options SecUploadFileLimit, file extraction, SecArgumentsLimit
 * @returns flags, parts and the error message; never throws
 *
 * @example
 * const fields = collectArguments();
 * const r = parseMultipart(
 *   '--XyZ\r\nContent-Disposition: form-data; name="comment"\r\n\r\nhello\r\n' +
 *   '--XyZ\r\nContent-Disposition: form-data; name="up"; filename="a.txt"\r\n' +
 *   'Content-Type: text/plain\r\n\r\nfile body\r\n--XyZ--\r\n',
 *   'multipart/form-data; boundary=XyZ', fields);
 * // fields.names → ['comment'];  r.parts[1].filename → 'a.txt';  r.flags.strictError → false
 */
export function parseMultipart(
  body: string,
  contentType: string,
  sink: ArgumentSink,
  options: MultipartOptions = {},
): MultipartResult {
  const state = newState(body, options);
  const initError = readBoundary(state, trimTrailingSpace(contentType));
  if (initError !== null) {
    // v2 keeps the init message as REQBODY_ERROR_MSG without the "Multipart parsing error" prefix.
    state.flags.error = true;
    return finish(state, initError, sink);
  }
  let error = processBody(state);
  if (error === null) error = complete(state);
  if (error !== null) {
    state.flags.error = true;
    return finish(state, 'Multipart parsing error: ' + error, sink);
  }
  return finish(state, null, sink);
}

/** A part being built. */
interface PartBuilder {
  /** Part header values by lower-cased name (v2's header table is case-insensitive). */
  readonly headerValues: Map<string, string>;
  readonly headerLines: string[];
  lastHeaderName: string | null;
  lastHeaderKey: string | null;
  lastHeaderLine: string | null;
  name: string | null;
  filename: string | null;
  isFile: boolean;
  /** Where the value starts in the body, -1 before any data. */
  valueStart: number;
  valueEnd: number;
  extracted: boolean;
}

interface ParserState {
  readonly body: string;
  readonly fileLimit: number;
  readonly extractFiles: boolean;
  readonly argumentsLimit: number;
  readonly flags: MultipartFlags;
  readonly parts: MultipartPart[];
  boundary: string;
  /** `--` + boundary, for the stray-boundary search. */
  delimiter: string;
  // Forward searches, each cached so that the whole body is scanned once per kind:
  // a search from every line start to the end would be quadratic.
  readonly newlines: ForwardSearch;
  readonly nuls: ForwardSearch;
  delimiters: ForwardSearch;
  part: PartBuilder | null;
  /** 0: reading part headers, 1: reading part data. */
  partState: 0 | 1;
  partDataRead: boolean;
  boundaryCount: number;
  isComplete: boolean;
  /** The previous line ended with `\n` (v2's buf_contains_line). */
  atLineStart: boolean;
  /** 0 none, 1 after CR, 2 after a bare LF, 3 after CRLF (v2's crlf_state). */
  crlfState: number;
  crlfStateAtLineEnd: number;
  /** The line ending held back from the previous data line (it may belong to the boundary). */
  reserve: number;
  /** Start of the unprocessed tail once the body is walked (v2's leftover buffer). */
  tailStart: number;
  filesExtracted: number;
  multipartName: string | null;
  multipartFilename: string | null;
  noFilesLength: number;
}

function newState(body: string, options: MultipartOptions): ParserState {
  return {
    body,
    fileLimit: options.fileLimit ?? 100,
    extractFiles: options.extractFiles ?? true,
    argumentsLimit: options.argumentsLimit ?? Infinity,
    flags: {
      strictError: false,
      error: false,
      boundaryQuoted: false,
      boundaryWhitespace: false,
      dataBefore: false,
      dataAfter: false,
      headerFolding: false,
      lfLine: false,
      crlfLine: false,
      crlfLfLines: false,
      missingSemicolon: false,
      invalidQuoting: false,
      invalidPart: false,
      invalidHeaderFolding: false,
      fileLimitExceeded: false,
      unmatchedBoundary: false,
    },
    parts: [],
    boundary: '',
    delimiter: '',
    newlines: forwardSearch(body, '\n'),
    nuls: forwardSearch(body, '\0'),
    delimiters: forwardSearch(body, ''),
    part: null,
    partState: 0,
    partDataRead: false,
    boundaryCount: 0,
    isComplete: false,
    atLineStart: true,
    crlfState: 0,
    crlfStateAtLineEnd: 0,
    reserve: 0,
    tailStart: body.length,
    filesExtracted: 0,
    multipartName: null,
    multipartFilename: null,
    noFilesLength: 0,
  };
}

function finish(state: ParserState, error: string | null, sink: ArgumentSink): MultipartResult {
  const f = state.flags;
  f.crlfLfLines = f.crlfLine && f.lfLine;
  f.strictError =
    f.error || f.boundaryQuoted || f.boundaryWhitespace || f.dataBefore || f.dataAfter || f.headerFolding ||
    f.lfLine || f.missingSemicolon || f.invalidQuoting || f.invalidPart || f.invalidHeaderFolding ||
    f.fileLimitExceeded;
  let filesCombinedSize = 0;
  let added = 0;
  let limitHit = false;
  for (const part of state.parts) {
    if (part.filename !== undefined) {
      filesCombinedSize += part.value.length;
    } else if (error === null) {
      if (added < state.argumentsLimit) {
        sink.add(part.name, part.value);
        added++;
      } else {
        limitHit = true;
      }
    }
  }
  return {
    error: error ?? (limitHit ? ARGUMENTS_LIMIT_MESSAGE : null),
    flags: f,
    parts: state.parts,
    name: state.multipartName,
    filename: state.multipartFilename,
    filesCombinedSize,
    noFilesLength: state.noFilesLength,
  };
}

// ---------------------------------------------------------------------------------------
// The boundary, from the Content-Type header (v2's multipart_init)

/** Returns v2's init error message, or null when the boundary is usable. */
function readBoundary(state: ParserState, ct: string): string | null {
  if (ct.length > 1024) return 'Multipart: Invalid boundary in C-T (length).';
  if (ct.length < 19 || ct.slice(0, 19).toLowerCase() !== 'multipart/form-data') {
    return 'Multipart: Invalid MIME type.';
  }
  if (countBoundaryParams(ct) > 1) return 'Multipart: Multiple boundary parameters in C-T.';

  // The parameter name must be exactly "boundary", in lower case.
  const at = ct.indexOf('boundary');
  if (at === -1) {
    if (countBoundaryParams(ct) > 0) return 'Multipart: Invalid boundary in C-T (case sensitivity).';
    return 'Multipart: Boundary not found in C-T.';
  }
  let seenSemicolon = false;
  for (let p = 19; p < at; p++) {
    const c = ct.charCodeAt(p);
    if (isSpace(c)) continue;
    if (!seenSemicolon && c === 0x3b) seenSemicolon = true;
    else return 'Multipart: Invalid boundary in C-T (malformed).';
  }
  if (!seenSemicolon) state.flags.missingSemicolon = true;

  const eq = ct.indexOf('=', at + 8);
  if (eq === -1) return 'Multipart: Invalid boundary in C-T (malformed).';
  for (let p = at + 8; p < eq; p++) {
    if (isSpace(ct.charCodeAt(p))) state.flags.boundaryWhitespace = true;
    else return 'Multipart: Invalid boundary in C-T (parameter name).';
  }
  const raw = ct.slice(eq + 1);
  if (raw.length > 0 && isSpace(raw.charCodeAt(0))) state.flags.boundaryWhitespace = true;

  let boundary: string;
  if (raw.length >= 2 && raw.charCodeAt(0) === 0x22 && raw.charCodeAt(raw.length - 1) === 0x22) {
    boundary = raw.slice(1, -1);
    state.flags.boundaryQuoted = true;
  } else {
    if ((raw.length > 0 && raw.charCodeAt(0) === 0x22) || (raw.length >= 2 && raw.charCodeAt(raw.length - 1) === 0x22)) {
      return 'Multipart: Invalid boundary in C-T (quote).';
    }
    boundary = raw;
  }
  if (countBoundaryParams(boundary) !== 0) return 'Multipart: Invalid boundary in C-T (content).';
  if (!boundaryCharactersValid(boundary)) return 'Multipart: Invalid boundary in C-T (characters).';
  if (boundary.length === 0) return 'Multipart: Invalid boundary in C-T (empty).';
  state.boundary = boundary;
  state.delimiter = '--' + boundary;
  state.delimiters = forwardSearch(state.body, state.delimiter);
  return null;
}

/** How many times "boundary" (any case) appears with an `=` somewhere after it. */
function countBoundaryParams(value: string): number {
  const lower = value.toLowerCase();
  const lastEquals = lower.lastIndexOf('=');
  let count = 0;
  let from = 0;
  for (;;) {
    const at = lower.indexOf('boundary', from);
    if (at === -1) return count;
    from = at + 8;
    if (lastEquals >= from) count++;
  }
}

/** RFC 2046's boundary characters; a space is allowed but not as the last one. */
function boundaryCharactersValid(b: string): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      (c === 0x20 && i + 1 < b.length) ||
      c === 0x27 || c === 0x28 || c === 0x29 || c === 0x2b || c === 0x5f || c === 0x2c ||
      c === 0x2d || c === 0x2e || c === 0x2f || c === 0x3a || c === 0x3d || c === 0x3f;
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// The body, line by line (v2's multipart_process_chunk)

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

/** Walks the body in v2's buffer cuts; returns the error message (without prefix) or null. */
function processBody(state: ParserState): string | null {
  const body = state.body;
  const n = body.length;
  let s = 0;
  while (s < n) {
    // The next "line": up to and including `\n`, or 4096 bytes, or 4095 when the 4096th
    // would be `\r` (v2 never ends a full buffer on `\r`, that byte starts the next one).
    const windowEnd = Math.min(s + MULTIPART_LINE_LIMIT, n);
    const nl = state.newlines.find(s);
    let e: number;
    let last: number; // v2's `c`: the byte that ended the buffer
    let cutBySize = false;
    let heldBackCR = false;
    if (nl !== -1 && nl < windowEnd) {
      e = nl + 1;
      last = LF;
    } else if (windowEnd - s === MULTIPART_LINE_LIMIT) {
      cutBySize = true;
      if (body.charCodeAt(s + MULTIPART_LINE_LIMIT - 1) === CR) {
        e = s + MULTIPART_LINE_LIMIT - 1;
        last = CR;
        heldBackCR = true;
      } else {
        e = s + MULTIPART_LINE_LIMIT;
        last = body.charCodeAt(e - 1);
      }
    } else {
      // Not a full line yet: v2 keeps it in its buffer until the end of the body.
      state.tailStart = s;
      return null;
    }

    const error = processLine(state, s, e, cutBySize || e - s === MULTIPART_LINE_LIMIT);
    if (error !== null) return error;

    // v2 tracks line endings byte by byte (crlf_state); what it records at the end of a
    // buffer depends only on the byte before the one that ended it.
    let before: number;
    if (heldBackCR) before = body.charCodeAt(e - 1) === CR ? 1 : 0;
    else if (e - s >= 2) before = body.charCodeAt(e - 2) === CR ? 1 : 0;
    else before = state.crlfState;
    if (last === LF) {
      state.crlfState = before === 1 ? 3 : 2;
      state.crlfStateAtLineEnd = state.crlfState;
    } else {
      state.crlfStateAtLineEnd = before;
      state.crlfState = last === CR ? 1 : 0;
    }
    state.atLineStart = last === LF;

    s = e;
    if (state.isComplete && s < n) {
      state.flags.dataAfter = true;
      return null;
    }
  }
  state.tailStart = n;
  return null;
}

/** C's strlen on the line: where the first NUL is, or the line's end. */
function cLength(state: ParserState, s: number, e: number): number {
  const nul = state.nuls.find(s);
  return nul === -1 || nul >= e ? e - s : nul - s;
}

/** A cached forward `indexOf`: asking from positions that only grow costs one pass in all. */
interface ForwardSearch {
  find(from: number): number;
}

function forwardSearch(text: string, what: string): ForwardSearch {
  let found = -1;
  let exhausted = what.length === 0;
  return {
    find(from: number): number {
      if (exhausted) return -1;
      if (found < from) {
        found = text.indexOf(what, from);
        if (found === -1) exhausted = true;
      }
      return found;
    },
  };
}

function matchesAt(body: string, at: number, end: number, what: string): boolean {
  return at + what.length <= end && body.startsWith(what, at);
}

/** One buffer's worth; `full` means v2's buffer filled up (a header line there is too long). */
function processLine(state: ParserState, s: number, e: number, full: boolean): string | null {
  const body = state.body;
  const boundary = state.boundary;
  const flags = state.flags;
  let processedAsBoundary = false;

  if (state.atLineStart && body.charCodeAt(s) === DASH && body.charCodeAt(s + 1) === DASH && cLength(state, s, e) > 3) {
    const len = cLength(state, s, e);
    if (len >= boundary.length + 2 && body.startsWith(boundary, s + 2)) {
      if (state.crlfStateAtLineEnd === 2) flags.lfLine = true;
      if (!state.partDataRead && state.boundaryCount > 0) {
        // The boundary where part data should begin: v2 treats the line as part content.
        flags.invalidPart = true;
      } else {
        let end = s + 2 + boundary.length;
        let isFinal = false;
        if (body.charCodeAt(end) === DASH && body.charCodeAt(end + 1) === DASH && end + 1 < e) {
          isFinal = true;
          end += 2;
          if (state.isComplete) return 'Multipart: Invalid boundary (final duplicate).';
        }
        if (end + 2 === e && body.charCodeAt(end) === CR && body.charCodeAt(end + 1) === LF) {
          flags.crlfLine = true;
        } else if (end + 1 === e && body.charCodeAt(end) === LF) {
          flags.lfLine = true;
        } else {
          return 'Multipart: Invalid boundary: ' + escapeForLog(body.slice(s, s + len));
        }
        processBoundary(state, isFinal);
        if (isFinal) state.isComplete = true;
        processedAsBoundary = true;
        state.boundaryCount++;
      }
    } else {
      if (flags.boundaryQuoted && len >= boundary.length + 3 && body.charCodeAt(s + 2) === 0x22 &&
          matchesAt(body, s + 3, s + len, boundary)) {
        return 'Multipart: Invalid boundary (quotes).';
      }
      let p = s + 2;
      while (p < s + len && isSpace(body.charCodeAt(p))) p++;
      if (p !== s + 2 && matchesAt(body, p, s + len, boundary)) return 'Multipart: Invalid boundary (whitespace).';
      flags.unmatchedBoundary = true;
    }
  } else if (state.atLineStart && containsDelimiter(state, s, e)) {
    flags.unmatchedBoundary = true;
  }

  if (processedAsBoundary) return null;
  if (state.part === null) {
    flags.dataBefore = true;
    return null;
  }
  if (state.partState === 0) {
    if (full) return `Multipart: Part header line over ${MULTIPART_LINE_LIMIT} bytes long`;
    return processPartHeader(state, state.part, s, e);
  }
  processPartData(state, state.part, s, e);
  return null;
}

/** Whether `--boundary` occurs wholly inside the line. */
function containsDelimiter(state: ParserState, s: number, e: number): boolean {
  const at = state.delimiters.find(s);
  return at !== -1 && at + state.delimiter.length <= e;
}

function newPart(): PartBuilder {
  return {
    headerValues: new Map(),
    headerLines: [],
    lastHeaderName: null,
    lastHeaderKey: null,
    lastHeaderLine: null,
    name: null,
    filename: null,
    isFile: false,
    valueStart: -1,
    valueEnd: -1,
    extracted: false,
  };
}

/** A boundary ends the part being built (keeping it if it has a name) and maybe starts one. */
function processBoundary(state: ParserState, isFinal: boolean): void {
  const part = state.part;
  if (part !== null) {
    if (part.name !== null) {
      const value = part.valueStart === -1 ? '' : state.body.slice(part.valueStart, part.valueEnd);
      state.parts.push({
        name: part.name,
        filename: part.isFile ? (part.filename ?? '') : undefined,
        value,
        headers: part.headerLines,
        extracted: part.extracted,
      });
    } else {
      state.flags.invalidPart = true;
    }
    state.part = null;
  }
  if (!isFinal) {
    state.part = newPart();
    state.partState = 0;
    state.partDataRead = false;
    state.reserve = 0;
  }
}

function processPartHeader(state: ParserState, part: PartBuilder, s: number, e: number): string | null {
  const body = state.body;
  const flags = state.flags;
  const nul = state.nuls.find(s);
  if (nul !== -1 && nul < e) return 'Multipart: Nul byte in part headers.';
  state.noFilesLength += e - s;
  const len = e - s;
  if (len > 1 && body.charCodeAt(e - 2) === CR) flags.crlfLine = true;
  else flags.lfLine = true;

  const first = body.charCodeAt(s);
  if ((len === 2 && first === CR && body.charCodeAt(s + 1) === LF) || (len === 1 && first === LF)) {
    return endOfPartHeaders(state, part);
  }
  const line = body.slice(s, e);
  if (isSpace(first)) {
    // Folding: the line continues the previous header's value.
    flags.headerFolding = true;
    if (first !== 0x09 && first !== 0x20) flags.invalidHeaderFolding = true;
    if (part.lastHeaderKey === null || part.lastHeaderName === null) {
      return 'Multipart: Invalid part header (folding error).';
    }
    let d = 0;
    while (d < line.length && isSpace(line.charCodeAt(d))) {
      const c = line.charCodeAt(d);
      if (c !== 0x09 && c !== 0x20) flags.invalidHeaderFolding = true;
      d++;
    }
    const value = (part.headerValues.get(part.lastHeaderKey) ?? '') + ' ' + stripLineEnd(line.slice(d));
    part.headerValues.set(part.lastHeaderKey, value);
    if (value.length > MULTIPART_LINE_LIMIT) return 'Multipart: Part header too long.';
    if (part.lastHeaderLine !== null) part.lastHeaderLine = part.lastHeaderName + ': ' + value;
    return null;
  }

  if (part.lastHeaderLine !== null) part.headerLines.push(part.lastHeaderLine);
  part.lastHeaderLine = stripLineEnd(line);
  const colon = line.indexOf(':');
  if (colon === -1) return 'Multipart: Invalid part header (colon missing): ' + escapeForLog(line) + '.';
  if (colon === 0) return 'Multipart: Invalid part header (header name missing).';
  for (let i = 0; i < colon; i++) {
    const c = line.charCodeAt(i);
    if (c < 33 || c > 126) return 'Multipart: Invalid part header (contains invalid character).';
  }
  const name = line.slice(0, colon);
  let v = colon + 1;
  while (v < line.length && (line.charCodeAt(v) === 0x20 || line.charCodeAt(v) === 0x09)) v++;
  const key = name.toLowerCase();
  if (part.headerValues.has(key)) return 'Multipart: Duplicate part header: ' + escapeForLog(name) + '.';
  part.headerValues.set(key, stripLineEnd(line.slice(v)));
  part.lastHeaderName = name;
  part.lastHeaderKey = key;
  return null;
}

/** The empty line after the part headers: Content-Disposition decides what the part is. */
function endOfPartHeaders(state: ParserState, part: PartBuilder): string | null {
  const disposition = part.headerValues.get('content-disposition');
  if (disposition === undefined) return 'Multipart: Part missing Content-Disposition header.';
  const rc = parseContentDisposition(state, part, disposition);
  if (rc < 0) {
    return `Multipart: Invalid Content-Disposition header (${rc}): ${escapeForLog(disposition)}.`;
  }
  if (part.name === null) return 'Multipart: Content-Disposition header missing name field.';
  if (part.filename !== null) {
    // Crude parsers look for `filename=` literally; refuse what they would not see.
    if (disposition.indexOf('filename=') === -1) return 'Multipart: Invalid Content-Disposition header (filename).';
    part.isFile = true;
  }
  state.partState = 1;
  state.partDataRead = false;
  part.lastHeaderName = null;
  part.lastHeaderKey = null;
  if (part.lastHeaderLine !== null) part.headerLines.push(part.lastHeaderLine);
  return null;
}

function processPartData(state: ParserState, part: PartBuilder, s: number, e: number): void {
  const body = state.body;
  state.partDataRead = true;
  // Hold back the line ending: if a boundary follows, it belongs to the delimiter.
  let reserved = 0;
  if (e - s >= 1 && body.charCodeAt(e - 1) === LF) reserved = e - s >= 2 && body.charCodeAt(e - 2) === CR ? 2 : 1;
  const dataStart = s - state.reserve; // the previous line's held-back ending comes first
  const dataEnd = e - reserved;
  const firstData = part.valueStart === -1;
  if (firstData) part.valueStart = dataStart;
  part.valueEnd = dataEnd;
  if (part.isFile) {
    // A file is extracted (and counted) when its first data arrives, as v2 creates its temp file.
    if (firstData && state.extractFiles) {
      if (state.filesExtracted >= state.fileLimit) {
        state.flags.fileLimitExceeded = true;
      } else {
        state.filesExtracted++;
        part.extracted = true;
      }
    }
  } else {
    state.noFilesLength += dataEnd - dataStart;
  }
  state.reserve = reserved;
}

// ---------------------------------------------------------------------------------------
// Content-Disposition (v2's multipart_parse_content_disposition; negative codes are v2's)

function parseContentDisposition(state: ParserState, part: PartBuilder, cd: string): number {
  if (!cd.startsWith('form-data')) return -1;
  const n = cd.length;
  let p = 9;
  while (p < n && isBlank(cd.charCodeAt(p))) p++;
  if (p === n) return 1;
  if (cd.charCodeAt(p) !== 0x3b) return -2;
  p++;
  while (p < n) {
    while (p < n && isBlank(cd.charCodeAt(p))) p++;
    if (p === n) return -3;
    const nameStart = p;
    while (p < n && cd.charCodeAt(p) !== 0x3d && !isBlank(cd.charCodeAt(p))) p++;
    if (p === n) return -4;
    const paramName = cd.slice(nameStart, p);
    while (p < n && isBlank(cd.charCodeAt(p))) p++;
    if (p === n) return -5;
    if (cd.charCodeAt(p) !== 0x3d) return -13;
    p++;
    while (p < n && isBlank(cd.charCodeAt(p))) p++;
    if (p === n) return -6;

    let quote = 0;
    let value: string;
    const open = cd.charCodeAt(p);
    if (open === 0x22 || open === 0x27) {
      // Both quotes are accepted as some backends accept them, but `'` is flagged.
      quote = open;
      if (quote === 0x27) state.flags.invalidQuoting = true;
      p++;
      if (p === n) return -7;
      let out = '';
      let runStart = p;
      let closed = false;
      while (p < n) {
        const c = cd.charCodeAt(p);
        if (c === 0x5c) {
          if (p + 1 === n) return -8;
          const next = cd.charCodeAt(p + 1);
          // Only the quote and `\` can be escaped; any other `\` stays (IE sends those).
          if (next === quote || next === 0x5c) {
            out += cd.slice(runStart, p);
            runStart = p + 1;
            p += 2;
            continue;
          }
        } else if (c === quote) {
          closed = true;
          break;
        }
        p++;
      }
      if (!closed) return -10;
      value = out + cd.slice(runStart, p);
      p++; // over the closing quote
    } else {
      const valueStart = p;
      while (p < n && isTokenChar(cd.charCodeAt(p))) p++;
      value = cd.slice(valueStart, p);
    }

    if (paramName === 'name') {
      flagSingleQuotes(state, value, quote);
      state.multipartName = value;
      if (part.name !== null) return -14;
      part.name = value;
    } else if (paramName === 'filename') {
      flagSingleQuotes(state, value, quote);
      state.multipartFilename = value;
      if (part.filename !== null) return -15;
      part.filename = value;
    } else {
      return -11;
    }

    if (p < n) {
      while (p < n && isBlank(cd.charCodeAt(p))) p++;
      if (p === n) return 1;
      if (cd.charCodeAt(p) !== 0x3b) {
        const before = cd.charCodeAt(p - 1);
        if (before === 0x27 || before === 0x22) state.flags.invalidQuoting = true;
        return -12;
      }
      p++;
    }
  }
  return 1;
}

/** A `'` inside a value that was not in double quotes is suspicious quoting (v2's validate_quotes). */
function flagSingleQuotes(state: ParserState, value: string, quote: number): void {
  if (quote !== 0x22 && value.indexOf("'") !== -1) state.flags.invalidQuoting = true;
}

/** RFC 2616 token characters (v2's is_token_char). */
function isTokenChar(c: number): boolean {
  if (c <= 32 || c >= 127) return false;
  switch (c) {
    case 0x28: case 0x29: case 0x3c: case 0x3e: case 0x40: case 0x2c: case 0x3b: case 0x3a:
    case 0x5c: case 0x22: case 0x2f: case 0x5b: case 0x5d: case 0x3f: case 0x3d:
      return false;
    default:
      return true;
  }
}

// ---------------------------------------------------------------------------------------
// End of body (v2's multipart_complete)

function complete(state: ParserState): string | null {
  if (state.body.length === 0 || state.isComplete) return null; // v2: no data, no verdict
  if (state.boundaryCount === 0) return 'Multipart: No boundaries found in payload.';
  // The final boundary without a line ending is still in v2's buffer: accept it there.
  const tail = state.tailStart;
  const b = state.boundary;
  const body = state.body;
  if (state.atLineStart && body.length - tail === b.length + 4 && body.startsWith('--', tail) &&
      body.startsWith(b, tail + 2) && body.startsWith('--', tail + 2 + b.length)) {
    if (state.crlfStateAtLineEnd === 2) state.flags.lfLine = true;
    if (!state.partDataRead) state.flags.invalidPart = true;
    processBoundary(state, true);
    state.isComplete = true;
    return null;
  }
  return 'Multipart: Final boundary missing.';
}

// ---------------------------------------------------------------------------------------
// Small helpers

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function trimTrailingSpace(s: string): string {
  // The web server hands v2 header values without trailing whitespace; do the same.
  let e = s.length;
  while (e > 0 && isBlank(s.charCodeAt(e - 1))) e--;
  return e === s.length ? s : s.slice(0, e);
}

/** Drops one trailing LF or CRLF (v2's remove_lf_crlf_inplace). */
function stripLineEnd(s: string): string {
  const n = s.length;
  if (n > 0 && s.charCodeAt(n - 1) === LF) return s.slice(0, n > 1 && s.charCodeAt(n - 2) === CR ? n - 2 : n - 1);
  return s;
}

/** v2's log_escape_nq: C escapes for control characters, `\xNN` for other non-printables. */
export function escapeForLog(s: string): string {
  let out = '';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    switch (c) {
      case 0x08: esc = '\\b'; break;
      case 0x0a: esc = '\\n'; break;
      case 0x0d: esc = '\\r'; break;
      case 0x09: esc = '\\t'; break;
      case 0x0b: esc = '\\v'; break;
      case 0x5c: esc = '\\\\'; break;
      default:
        if (c <= 0x1f || c >= 0x7f) esc = '\\x' + (c & 0xff).toString(16).padStart(2, '0');
    }
    if (esc !== null) {
      out += s.slice(run, i) + esc;
      run = i + 1;
    }
  }
  return run === 0 ? s : out + s.slice(run);
}
