/**
 * @module bodies/json
 * JSON request bodies into arguments (ARGS_POST), named as ModSecurity v3 names them
 * (src/request_body_processor/json.cc), which is what the CRS is tested with:
 *
 * - `{"a":{"b":1}}` → `json.a.b = 1`; a top-level scalar is `json`;
 * - array elements are `json.a.array_0`, `json.a.array_1`… (nested: `json.a.array_0.array_1`,
 *   objects in arrays: `json.a.array_0.b`); an empty key is `empty-key`;
 * - with `arrayNames: 'coraza'`, elements are `json.a.0`, `json.a.1`… and each non-empty
 *   array also yields `json.a = <element count>`, as Coraza does;
 * - strings are their bytes with escapes decoded (`\uXXXX` becomes UTF-8 bytes, as yajl
 *   does, lone high surrogates as `?`); numbers are their text, booleans `true`/`false`,
 *   null the empty string.
 *
 * The lexer accepts and rejects what yajl (ModSecurity's JSON library) does, with its
 * error texts: UTF-8 is checked inside strings, no comments, one top-level value, and
 * `\v`/`\f` count as whitespace. REQBODY_ERROR_MSG is worded as v2 words it: "JSON parsing
 * error: …" for what is wrong inside the body, "JSON parser error: …" for what only the
 * end of the body shows (truncation); an empty body is not an error, as in v2.
 *
 * Iterative (an explicit container stack, no recursion), linear in the body, limits enforced
 * as it goes: SecRequestBodyJsonDepthLimit (v3 counts every object and array, the top one
 * too), SecArgumentsLimit ("More than N JSON keys", v2's words). Warden adds one limit v2
 * and v3 lack: argument names repeat their whole path, so deep nesting can make the names
 * quadratically larger than the body; their total size is capped at 64 × the body + 64 KiB.
 */
import type { ArgumentSink } from './types.js';

/** What the engine passes from its configuration. */
export interface JsonOptions {
  /** SecRequestBodyJsonDepthLimit; 10000 by default (v2 and v3's default). */
  readonly depthLimit?: number;
  /** SecArgumentsLimit as configured (for the message); unlimited by default. */
  readonly argumentsLimit?: number;
  /** Arguments already collected for this transaction (the query string's). */
  readonly argumentsCount?: number;
  /** Array element naming: ModSecurity v3's `array_N` (default) or Coraza's `N`. */
  readonly arrayNames?: 'modsecurity' | 'coraza';
}

/** The outcome of {@link parseJson}; the arguments went to the sink. */
export interface JsonResult {
  /** REQBODY_ERROR_MSG when the body is not acceptable JSON or a limit was hit, else null. */
  readonly error: string | null;
  /** Arguments given to the sink (also those before an error: rules still inspect them). */
  readonly count: number;
}

/**
 * Parses a JSON body, handing every scalar to `sink` under its path name.
 *
 * @param body the request body, as bytes (UTF-8 JSON)
 * @param sink receives each argument in document order
 * @param options depth and argument limits, array naming
 * @returns the error message (or null) and the argument count; never throws
 *
 * @example
 * const args = collectArguments();
 * parseJson('{"user":{"name":"ann","tags":["a","b"]},"ok":true}', args);
 * // args.names  → ['json.user.name', 'json.user.tags.array_0', 'json.user.tags.array_1', 'json.ok']
 * // args.values → ['ann', 'a', 'b', 'true']
 */
export function parseJson(body: string, sink: ArgumentSink, options: JsonOptions = {}): JsonResult {
  const p = new JsonParser(body, sink, options);
  const error = p.run();
  return { error, count: p.count };
}

// Parser states, after yajl's.
const VALUE = 0; // a value is expected (document start, after `:`, after `,` in an array)
const ARRAY_START = 1; // just after `[`: a value or `]`
const MAP_START = 2; // just after `{`: a key or `}`
const MAP_NEED_KEY = 3; // after `,` in an object
const MAP_SEP = 4; // after a key
const MAP_GOT_VAL = 5; // after a value in an object
const ARRAY_GOT_VAL = 6; // after a value in an array
const DONE = 7; // the top-level value is complete

const EOF = -1;

/** One open object or array. */
interface Container {
  readonly isArray: boolean;
  /** The container's own name; children are named from it. */
  readonly name: string;
  /** Elements so far (arrays). */
  counter: number;
  /** State to return to in the parent once this container closes. */
  readonly parentState: number;
}

/** Thrown internally to unwind to `run`; never escapes this module. */
class JsonStop {
  constructor(readonly message: string) {}
}

// A class because the parser has real state (position, stack, counters) shared by its
// small methods; one instance per body.
class JsonParser {
  count = 0;
  private readonly n: number;
  private pos = 0;
  private state = VALUE;
  private readonly stack: Container[] = [];
  private key = '';
  private readonly depthLimit: number;
  private readonly argumentsLimit: number;
  private readonly room: number;
  private readonly coraza: boolean;
  private nameBudget: number;
  /** Set when an error needed the end of the body to show (v2 reports it at completion). */
  private atEnd = false;

  constructor(
    private readonly body: string,
    private readonly sink: ArgumentSink,
    options: JsonOptions,
  ) {
    this.n = body.length;
    this.depthLimit = options.depthLimit ?? 10000;
    this.argumentsLimit = options.argumentsLimit ?? Infinity;
    this.room = this.argumentsLimit - (options.argumentsCount ?? 0);
    this.coraza = options.arrayNames === 'coraza';
    this.nameBudget = 64 * body.length + 65536;
  }

  run(): string | null {
    if (this.n === 0) return null; // v2 only complains about a non-empty body
    try {
      this.parse();
      return null;
    } catch (e) {
      if (!(e instanceof JsonStop)) throw e;
      return (this.atEnd ? 'JSON parser error: ' : 'JSON parsing error: ') + e.message;
    }
  }

  /** The byte at `i`; one virtual space after the body (yajl finishes by parsing " "), then EOF. */
  private code(i: number): number {
    if (i < this.n) return this.body.charCodeAt(i);
    return i === this.n ? 0x20 : EOF;
  }

  private lexicalError(at: number, message: string): JsonStop {
    if (at >= this.n) this.atEnd = true;
    return new JsonStop('lexical error: ' + message);
  }

  private parseError(message: string): JsonStop {
    return new JsonStop('parse error: ' + message);
  }

  private parse(): void {
    for (;;) {
      let c = this.code(this.pos);
      // yajl's whitespace includes \v and \f
      while (c === 0x20 || (c >= 0x09 && c <= 0x0d)) c = this.code(++this.pos);
      if (c === EOF) {
        if (this.state === DONE) return;
        this.atEnd = true;
        throw this.parseError('premature EOF');
      }
      switch (this.state) {
        case DONE:
          throw this.parseError('trailing garbage');
        case VALUE:
        case ARRAY_START:
          if (c === 0x5d /* ] */ && this.state === ARRAY_START) {
            this.pos++;
            this.closeContainer();
          } else {
            this.value(c);
          }
          break;
        case MAP_START:
        case MAP_NEED_KEY:
          if (c === 0x22) {
            this.key = this.string();
            this.state = MAP_SEP;
          } else if (c === 0x7d /* } */ && this.state === MAP_START) {
            this.pos++;
            this.closeContainer();
          } else {
            this.checkLexable(c);
            throw this.parseError('invalid object key (must be a string)');
          }
          break;
        case MAP_SEP:
          if (c !== 0x3a) {
            this.checkLexable(c);
            throw this.parseError("object key and value must be separated by a colon (':')");
          }
          this.pos++;
          this.state = VALUE;
          break;
        case MAP_GOT_VAL:
          if (c === 0x7d) {
            this.pos++;
            this.closeContainer();
          } else if (c === 0x2c) {
            this.pos++;
            this.state = MAP_NEED_KEY;
          } else {
            this.checkLexable(c);
            throw this.parseError("after key and value, inside map, I expect ',' or '}'");
          }
          break;
        case ARRAY_GOT_VAL:
          if (c === 0x5d) {
            this.pos++;
            this.closeContainer();
          } else if (c === 0x2c) {
            this.pos++;
            this.state = VALUE;
          } else {
            this.checkLexable(c);
            throw this.parseError("after array element, I expect ',' or ']'");
          }
          break;
      }
    }
  }

  /** The state once a value is complete in the current container. */
  private afterValue(): number {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) return DONE;
    return top.isArray ? ARRAY_GOT_VAL : MAP_GOT_VAL;
  }

  /** A value starts at `c`: a scalar becomes an argument, `{`/`[` open a container. */
  private value(c: number): void {
    switch (c) {
      case 0x7b: // {
      case 0x5b: { // [
        this.pos++;
        const isArray = c === 0x5b;
        const name = this.childName();
        this.stack.push({ isArray, name, counter: 0, parentState: this.afterValue() });
        if (this.stack.length > this.depthLimit) throw new JsonStop('JSON depth limit exceeded');
        this.state = isArray ? ARRAY_START : MAP_START;
        return;
      }
      case 0x22:
        this.emit(this.string());
        return;
      case 0x74: // t
        this.literal('true');
        this.emit('true');
        return;
      case 0x66: // f
        this.literal('false');
        this.emit('false');
        return;
      case 0x6e: // n
        this.literal('null');
        this.emit('');
        return;
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          const start = this.pos;
          this.number();
          this.emit(this.body.slice(start, this.pos));
          return;
        }
        this.checkLexable(c);
        throw this.parseError('unallowed token at this point in JSON text');
    }
  }

  /** Punctuation is a token (a parse error follows); anything else is a lexical error first. */
  private checkLexable(c: number): void {
    switch (c) {
      case 0x7b: case 0x7d: case 0x5b: case 0x5d: case 0x2c: case 0x3a:
        return;
      case 0x22:
        this.string();
        return;
      case 0x74:
        this.literal('true');
        return;
      case 0x66:
        this.literal('false');
        return;
      case 0x6e:
        this.literal('null');
        return;
      case 0x2f:
        throw this.lexicalError(this.pos, 'probable comment found in input text, comments are not enabled.');
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          this.number();
          return;
        }
        throw this.lexicalError(this.pos, 'invalid char in json text.');
    }
  }

  private literal(word: string): void {
    for (let k = 1; k < word.length; k++) {
      const at = this.pos + k;
      const c = this.code(at);
      if (c === EOF) {
        this.atEnd = true;
        throw this.parseError('premature EOF');
      }
      if (c !== word.charCodeAt(k)) throw this.lexicalError(at, 'invalid string in json text.');
    }
    this.pos += word.length;
  }

  private number(): void {
    let i = this.pos;
    let c = this.code(i);
    if (c === 0x2d) c = this.code(++i);
    if (c === 0x30) {
      c = this.code(++i);
    } else if (c >= 0x31 && c <= 0x39) {
      do c = this.code(++i); while (c >= 0x30 && c <= 0x39);
    } else {
      throw this.lexicalError(i, 'malformed number, a digit is required after the minus sign.');
    }
    if (c === 0x2e) {
      c = this.code(++i);
      if (!(c >= 0x30 && c <= 0x39)) {
        throw this.lexicalError(i, 'malformed number, a digit is required after the decimal point.');
      }
      do c = this.code(++i); while (c >= 0x30 && c <= 0x39);
    }
    if (c === 0x65 || c === 0x45) {
      c = this.code(++i);
      if (c === 0x2b || c === 0x2d) c = this.code(++i);
      if (!(c >= 0x30 && c <= 0x39)) {
        throw this.lexicalError(i, 'malformed number, a digit is required after the exponent.');
      }
      do c = this.code(++i); while (c >= 0x30 && c <= 0x39);
    }
    this.pos = i;
  }

  /** Lexes a string at `pos` (on its opening quote); returns its bytes, escapes decoded. */
  private string(): string {
    const body = this.body;
    const start = this.pos + 1;
    let i = start;
    let hasEscapes = false;
    for (;;) {
      const c = this.code(i);
      if (c === EOF) {
        this.atEnd = true;
        throw this.parseError('premature EOF');
      }
      if (c === 0x22) break;
      if (c === 0x5c) {
        hasEscapes = true;
        const e = this.code(i + 1);
        if (e === EOF) {
          this.atEnd = true;
          throw this.parseError('premature EOF');
        }
        if (e === 0x75 /* u */) {
          for (let k = 2; k < 6; k++) {
            const h = this.code(i + k);
            if (h === EOF) {
              this.atEnd = true;
              throw this.parseError('premature EOF');
            }
            if (hexValue(h) < 0) {
              throw this.lexicalError(i + k, "invalid (non-hex) character occurs after '\\u' inside string.");
            }
          }
          i += 6;
        } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          i += 2;
        } else {
          throw this.lexicalError(i + 1, "inside a string, '\\' occurs before a character which it may not.");
        }
      } else if (c < 0x20) {
        throw this.lexicalError(i, 'invalid character inside string.');
      } else if (c >= 0x80) {
        i = this.utf8(i, c);
      } else {
        i++;
      }
    }
    this.pos = i + 1;
    return hasEscapes ? unescape(body, start, i) : body.slice(start, i);
  }

  /** Checks one UTF-8 sequence as yajl does (lead byte and continuation bytes only). */
  private utf8(i: number, lead: number): number {
    let extra: number;
    if (lead >> 5 === 0x6) extra = 1;
    else if (lead >> 4 === 0xe) extra = 2;
    else if (lead >> 3 === 0x1e) extra = 3;
    else throw this.lexicalError(i, 'invalid bytes in UTF8 string.');
    for (let k = 1; k <= extra; k++) {
      const c = this.code(i + k);
      if (c === EOF) {
        this.atEnd = true;
        throw this.parseError('premature EOF');
      }
      if (c >> 6 !== 0x2) throw this.lexicalError(i + k, 'invalid bytes in UTF8 string.');
    }
    return i + extra + 1;
  }

  /** v3's name for the next child of the current container. */
  private childName(): string {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) return 'json';
    if (top.isArray) return top.name + (this.coraza ? '.' : '.array_') + top.counter;
    const key = this.key === '' && !this.coraza ? 'empty-key' : this.key;
    return top.name + '.' + key;
  }

  private emit(value: string): void {
    const top = this.stack[this.stack.length - 1];
    this.add(this.childName(), value);
    if (top !== undefined && top.isArray) top.counter++;
    this.state = this.afterValue();
  }

  private add(name: string, value: string): void {
    if (this.count >= this.room) throw new JsonStop(`More than ${this.argumentsLimit} JSON keys`);
    this.nameBudget -= name.length;
    if (this.nameBudget < 0) throw new JsonStop('JSON argument names exceed 64 times the body size');
    this.sink.add(name, value);
    this.count++;
  }

  private closeContainer(): void {
    const closed = this.stack.pop();
    if (closed === undefined) return; // unreachable: states that close need an open container
    if (this.coraza && closed.isArray && closed.counter > 0) this.add(closed.name, String(closed.counter));
    const parent = this.stack[this.stack.length - 1];
    if (parent !== undefined && parent.isArray) parent.counter++;
    this.state = closed.parentState;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

function hex4(s: string, at: number): number {
  return (hexValue(s.charCodeAt(at)) << 12) | (hexValue(s.charCodeAt(at + 1)) << 8) |
    (hexValue(s.charCodeAt(at + 2)) << 4) | hexValue(s.charCodeAt(at + 3));
}

/** The UTF-8 bytes of a code point, as a latin1 string. */
function utf8Bytes(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp);
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return String.fromCharCode(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

/** Decodes the escapes of an already validated string body [start, end), as yajl_string_decode. */
function unescape(s: string, start: number, end: number): string {
  const parts: string[] = [];
  let run = start;
  let i = start;
  while (i < end) {
    if (s.charCodeAt(i) !== 0x5c) {
      i++;
      continue;
    }
    parts.push(s.slice(run, i));
    const e = s.charCodeAt(i + 1);
    i += 2;
    switch (e) {
      case 0x62: parts.push('\b'); break;
      case 0x66: parts.push('\f'); break;
      case 0x6e: parts.push('\n'); break;
      case 0x72: parts.push('\r'); break;
      case 0x74: parts.push('\t'); break;
      case 0x75: {
        let cp = hex4(s, i);
        i += 4;
        if ((cp & 0xfc00) === 0xd800) {
          if (i + 1 < end && s.charCodeAt(i) === 0x5c && s.charCodeAt(i + 1) === 0x75) {
            const low = hex4(s, i + 2);
            cp = ((cp & 0x3f) << 10) | ((((cp >> 6) & 0xf) + 1) << 16) | (low & 0x3ff);
            i += 6;
          } else {
            // yajl writes `?` for a lone high surrogate and skips the byte after it.
            parts.push('?');
            i++;
            run = Math.min(i, end);
            continue;
          }
        }
        parts.push(utf8Bytes(cp));
        break;
      }
      default: // " \ /
        parts.push(String.fromCharCode(e));
    }
    run = i;
  }
  parts.push(s.slice(run, end));
  return parts.join('');
}
